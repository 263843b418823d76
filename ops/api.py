"""The registry's public functions, spelled as users spell them: `api.matmul`, `api.nn.relu`.

Gradient functions and hand-written wrappers build graph ops through this module,
so they read like the TensorFlow code they mirror. Names resolve at call time, so
a family module may use ops declared in a family imported after it.
"""

from __future__ import annotations

from ops import registry


class _Namespace:
    def __init__(self, prefix: str):
        self._prefix = prefix

    def __getattr__(self, name: str):
        try:
            return registry._API[self._prefix + name]
        except KeyError:
            raise AttributeError(f"No op function {self._prefix + name!r} is registered") from None


nn = _Namespace("nn.")
math = _Namespace("math.")
image = _Namespace("image.")
_root = _Namespace("")


def __getattr__(name: str):
    return getattr(_root, name)
