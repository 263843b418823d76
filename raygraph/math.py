"""`tf.math`: the math ops under their `tf.math.*` names (from the op registry)."""

from ops import registry as _registry

__getattr__ = _registry.namespace(globals(), "math.")
