"""`tf.linalg`: matrix ops under their `tf.linalg.*` names (from the op registry)."""

from ops import registry as _registry

globals().update(_registry.api_functions("linalg."))


def __getattr__(name: str):
    fn = _registry._API.get("linalg." + name)
    if fn is None:
        raise AttributeError(f"module 'raygraph.linalg' has no attribute {name!r}")
    return fn
