"""`tf.sysconfig`: where TensorFlow's headers and library are, for building custom C++ ops.

raygraph has no C++ library and no headers: its ops are Python (a kernel against
numpy or cupy, declared with `tf.Op`, gradients with `tf.RegisterGradient`). So

- `get_lib()` is the directory of the raygraph package (where a TF build script
  looks for the framework library; there is none to link);
- `get_include()`, `get_compile_flags()` and `get_link_flags()` raise
  `UnimplementedError` saying so, rather than return flags that would fail later
  in the C++ compiler with a less helpful message.

    >>> tf.sysconfig.get_lib()
    '/.../site-packages/raygraph'
"""

from __future__ import annotations

import os

from raygraph import errors

__all__ = [
    "CXX11_ABI_FLAG",
    "MONOLITHIC_BUILD",
    "get_compile_flags",
    "get_include",
    "get_lib",
    "get_link_flags",
]

CXX11_ABI_FLAG = 0
MONOLITHIC_BUILD = 0

_NO_CPP = (
    "raygraph has no C++ headers or library, so {what} has nothing to give. Custom ops in "
    "raygraph are Python: declare one with tf.Op (a kernel against numpy/cupy) and its "
    "gradient with tf.RegisterGradient."
)


def get_lib() -> str:
    """The raygraph package's directory."""
    return os.path.dirname(os.path.abspath(__file__))


def get_include() -> str:
    """Raises UnimplementedError: raygraph has no C++ headers."""
    raise errors.UnimplementedError(None, None, _NO_CPP.format(what="tf.sysconfig.get_include()"))


def get_compile_flags() -> list[str]:
    """Raises UnimplementedError: there are no C++ headers to compile against."""
    raise errors.UnimplementedError(None, None, _NO_CPP.format(what="tf.sysconfig.get_compile_flags()"))


def get_link_flags() -> list[str]:
    """Raises UnimplementedError: there is no framework library to link."""
    raise errors.UnimplementedError(None, None, _NO_CPP.format(what="tf.sysconfig.get_link_flags()"))
