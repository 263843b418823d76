"""`tf.math`: the math ops under their `tf.math.*` names (from the op registry)."""

from ops import registry as _registry

globals().update(_registry.api_functions("math."))


def __getattr__(name: str):
    fn = _registry._API.get("math." + name)
    if fn is None:
        raise AttributeError(f"module 'raygraph.math' has no attribute {name!r}")
    return fn
