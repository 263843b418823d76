"""`tf.random`: random tensors and seeds (random.normal, random.uniform, random.shuffle, ...).

The functions come from the op registry (`ops/random.py` registers them under
"random.<name>"); names registered later by user code resolve through __getattr__.
"""

import ops as _ops
from ops import registry as _registry

_ops.load_all()

__getattr__ = _registry.namespace(globals(), "random.")
