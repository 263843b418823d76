"""`tf.linalg`: matrix ops under their `tf.linalg.*` names (from the op registry)."""

from ops import registry as _registry

__getattr__ = _registry.namespace(globals(), "linalg.")
