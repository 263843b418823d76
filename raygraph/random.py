"""`tf.random`: random tensors and seeds (random.normal, random.uniform, random.shuffle, ...).

The functions come from the op registry (`ops/random.py` registers them under
"random.<name>"); names registered later by user code resolve through __getattr__.
"""

from ops import registry as _registry

globals().update(_registry.api_functions("random."))


def __getattr__(name: str):
    fn = _registry._API.get("random." + name)
    if fn is None:
        raise AttributeError(f"module 'raygraph.random' has no attribute {name!r}")
    return fn
