"""`tf.nn`: neural-network ops (activations, losses, convolutions, pooling).

The functions come from the op registry (`ops/nn.py` declares them under
"nn.<name>"); names registered later by user code resolve through __getattr__.
"""

import ops as _ops
from ops import registry as _registry

_ops.load_all()

__getattr__ = _registry.namespace(globals(), "nn.")
