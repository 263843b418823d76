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
    return api.sigmoid(x)


def tanh(x):
    return api.tanh(x)


def elu(x, alpha=1.0):
    from raygraph.keras import backend

    return backend.elu(x, alpha)


def selu(x):
    return api.nn.selu(x)


def softplus(x):
    return api.nn.softplus(x)


def softsign(x):
    return api.nn.softsign(x)


def exponential(x):
    return api.exp(x)


def hard_sigmoid(x):
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
    return activation.__name__
