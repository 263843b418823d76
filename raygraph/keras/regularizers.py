"""`tf.keras.regularizers`: L1/L2 weight penalties, and `get`.

    tf.keras.layers.Dense(10, kernel_regularizer=tf.keras.regularizers.l2(1e-4))

A regularizer is called on a weight and returns a scalar tensor; the layer adds it to
tf.GraphKeys.REGULARIZATION_LOSSES and `Model.compile` adds the model's to its loss.
"""

from __future__ import annotations

from ops import api


class Regularizer:
    """Base class: `__call__(x)` returns a scalar penalty."""

    def __call__(self, x):
        return api.constant(0.0)

    def get_config(self) -> dict:
        return {}


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x ** 2)."""

    def __init__(self, l1=0.0, l2=0.0):  # noqa: E741
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        penalty = api.constant(0.0, dtype=x.dtype)
        if self.l1:
            penalty = penalty + api.constant(self.l1, dtype=x.dtype) * api.reduce_sum(api.abs(x))
        if self.l2:
            penalty = penalty + api.constant(self.l2, dtype=x.dtype) * api.reduce_sum(api.square(x))
        return penalty

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


def l1(l=0.01):  # noqa: E741 - Keras's argument name
    """A penalty l * sum(|x|)."""
    return L1L2(l1=l)


def l2(l=0.01):  # noqa: E741
    """A penalty l * sum(x ** 2)."""
    return L1L2(l2=l)


def l1_l2(l1=0.01, l2=0.01):  # noqa: F811
    """A penalty l1 * sum(|x|) + l2 * sum(x ** 2)."""
    return L1L2(l1=l1, l2=l2)


L1, L2 = l1, l2


def get(identifier):
    """A regularizer for a name ("l1", "l2", "l1_l2"), a callable or None."""
    if identifier is None or callable(identifier):
        return identifier
    if identifier in ("l1", "l2", "l1_l2"):
        return globals()[identifier]()
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}")
