"""`tf.sparse`: SparseTensor and the functions on it (from ops.sparse)."""

import ops as _ops
from ops import registry as _registry

_ops.load_all()

__getattr__ = _registry.namespace(globals(), "sparse.")
