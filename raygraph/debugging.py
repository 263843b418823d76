"""`tf.debugging`: assertions, printing and numeric checks (the functions of ops.checks)."""

import ops as _ops
from ops import registry as _registry

_ops.load_all()

__getattr__ = _registry.namespace(globals(), "debugging.")
