"""`tf.linalg`: matrix ops under their `tf.linalg.*` names (from the op registry)."""

import ops as _ops
from ops import registry as _registry

_ops.load_all()

__getattr__ = _registry.namespace(globals(), "linalg.")
