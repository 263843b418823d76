"""`tf.math`: the math ops under their `tf.math.*` names (from the op registry)."""

import ops as _ops
from ops import registry as _registry

_ops.load_all()

__getattr__ = _registry.namespace(globals(), "math.")
