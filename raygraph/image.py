"""`tf.image`: resizing, flips, crops, color and dtype conversions, PNG/JPEG coding (from the op registry)."""

import ops as _ops
from ops import registry as _registry

_ops.load_all()

from ops.image import ResizeMethod  # noqa: E402, F401 - tf.image.ResizeMethod

__getattr__ = _registry.namespace(globals(), "image.")
