"""`tf.keras.activations`: activation functions by name, and `get` to resolve a name.

tf.keras.activations.get("relu")          # -> the relu function
tf.keras.layers.Dense(10, activation="softmax")
"""

from __future__ import annotations

from ops import api


def linear(x):
    """The identity: `activation=None` or "linear"."""
    return x


def relu(x, alpha=0.0, max_value=None, threshold=0):
    """max(x, 0) (leaky by `alpha`, capped at `max_value`)."""
    from raygraph.keras import backend

    return backend.relu(x, alpha=alpha, max_value=max_value, threshold=threshold)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) over `axis` (a Softmax op, so crossentropy losses use its logits)."""
    return api.nn.softmax(x, axis=axis)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return api.sigmoid(x)


def tanh(x):
    """The hyperbolic tangent."""
    return api.tanh(x)


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    from raygraph.keras import backend

    return backend.elu(x, alpha)


def selu(x):
    """The scaled exponential linear unit."""
    return api.nn.selu(x)


def softplus(x):
    """log(1 + exp(x))."""
    return api.nn.softplus(x)


def softsign(x):
    """x / (1 + |x|)."""
    return api.nn.softsign(x)


def exponential(x):
    """exp(x)."""
    return api.exp(x)


def hard_sigmoid(x):
    """clip(0.2 * x + 0.5, 0, 1)."""
    return api.clip_by_value(0.2 * x + 0.5, 0.0, 1.0)


_BY_NAME = {
    f.__name__: f
    for f in (linear, relu, softmax, sigmoid, tanh, elu, selu, softplus, softsign, exponential, hard_sigmoid)
}


def get(identifier):
    """The activation function for a name, a callable, or None (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(f"Unknown activation function: {identifier!r}; known: {sorted(_BY_NAME)}")


def serialize(activation) -> str:
    """The activation's name."""
    return activation.__name__
