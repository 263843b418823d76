"""raygraph: TensorFlow 1.x dataflow graphs, run by Ray actors.

    import raygraph as tf

    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(tf.ones([3, 1]))
    y = tf.matmul(x, w)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        print(sess.run(y, {x: [[1, 2, 3]]}))

Layers, each importing only from the ones above it in this list:

    graph core   raygraph.graph, dtypes, shapes, errors, device: the graph as data
    ops/         the op registry: each op's shape function, kernel and gradient
    scheduler/   engine/ (plans, devices, runs; no Ray) and shell/ (the Ray actors)
    user API     raygraph.session, variables, gradients, train, layers, losses, io, ...

Importing this package loads none of them. The public names (`tf.matmul`,
`tf.Session`, ...) are assembled by `raygraph._namespace` on the first attribute
looked up, so the graph core and the op registry import on their own (a device
actor imports no user API).
"""

from __future__ import annotations

import functools
import importlib

__version__ = "0.1.0"
from raygraph.version import COMPILER_VERSION as __compiler_version__  # noqa: E402, F401 - imports only platform
from raygraph.version import GIT_VERSION as __git_version__  # noqa: E402, F401

_loading = False
_namespace = None  # raygraph._namespace, once loaded


def _load():
    """Imports the public namespace and copies it into this package (once)."""
    global _loading, _namespace
    if _namespace is not None:
        return _namespace
    if _loading:
        return None  # a submodule is being imported by the namespace itself
    _loading = True
    try:
        namespace = importlib.import_module("raygraph._namespace")
    finally:
        _loading = False
    names = {k: v for k, v in vars(namespace).items() if not k.startswith("__") and k != "annotations"}
    globals().update(names)
    globals()["__all__"] = sorted(k for k in names if not k.startswith("_"))
    _namespace = namespace
    return namespace


@functools.cache
def _submodules() -> frozenset:
    import pkgutil

    return frozenset(m.name for m in pkgutil.iter_modules(__path__))


# Public names that are not their same-named submodule: tf.device is a function, not
# raygraph/device.py; tf.gradients and tf.variable_scope likewise.
_SHADOWED = frozenset({"device", "gradients", "variable_scope"})


def __getattr__(name: str):
    if name in _submodules() and name not in _SHADOWED:  # `from raygraph import graph`, `tf.nn`
        return importlib.import_module(f"raygraph.{name}")
    namespace = _load()
    if namespace is None:
        raise AttributeError(f"module 'raygraph' has no attribute {name!r} (yet)")
    if name in globals():
        return globals()[name]
    return namespace.__getattr__(name)  # user ops registered after the namespace loaded


_LAZY = frozenset({"estimator", "feature_column", "keras", "saved_model"})  # submodules the namespace skips


def __dir__():
    _load()
    return sorted(set(globals()) | _LAZY)
