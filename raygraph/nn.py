"""`tf.nn`: neural-network ops (activations, losses, convolutions, pooling).

The functions come from the op registry (`ops/nn.py` declares them under
"nn.<name>"); names registered later by user code resolve through __getattr__.
"""

from ops import registry as _registry

globals().update(_registry.api_functions("nn."))


def __getattr__(name: str):
    fn = _registry._API.get("nn." + name)
    if fn is None:
        raise AttributeError(f"module 'raygraph.nn' has no attribute {name!r}")
    return fn
