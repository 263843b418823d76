"""`tf.nn`: neural-network ops (activations, losses, convolutions, pooling).

The functions come from the op registry (`ops/nn.py` declares them under
"nn.<name>"); names registered later by user code resolve through __getattr__.
"""

from ops import registry as _registry

__getattr__ = _registry.namespace(globals(), "nn.")
