"""`tf.strings`: split, join, substr, strip, lower/upper, regex_replace, to_number... (from the op registry)."""

import ops as _ops
from ops import registry as _registry

_ops.load_all()

__getattr__ = _registry.namespace(globals(), "strings.")
