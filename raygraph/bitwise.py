"""`tf.bitwise`: bitwise_and, bitwise_or, bitwise_xor, invert, left_shift, right_shift (from the op registry)."""

import ops as _ops
from ops import registry as _registry

_ops.load_all()

__getattr__ = _registry.namespace(globals(), "bitwise.")
