"""`tf.keras.losses`: per-sample loss functions `fn(y_true, y_pred)`, loss classes, and `get`.

    model.compile("sgd", loss="categorical_crossentropy")
    per_sample = tf.keras.losses.mean_squared_error(y_true, y_pred)    # [batch]

Functions return one value per sample (the mean over the last axis where Keras takes
it); `Model.compile` averages them over the batch. The classes
(`CategoricalCrossentropy(from_logits=True)`, ...) return that batch mean directly.
"""

from __future__ import annotations

from ops import api
from raygraph.graph import convert_to_tensor
from raygraph.keras import backend


def _pair(y_true, y_pred):
    y_pred = convert_to_tensor(y_pred)
    y_true = api.cast(convert_to_tensor(y_true), y_pred.dtype)
    return y_true, y_pred


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0):
    """-sum(y_true * log(y_pred)) per sample; y_true one-hot."""
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        classes = api.cast(api.shape(y_true)[-1], y_pred.dtype)
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    return backend.categorical_crossentropy(y_true, y_pred, from_logits=from_logits)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """categorical_crossentropy with integer class labels."""
    return backend.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0):
    """The mean over the last axis of the elementwise binary crossentropy."""
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return api.reduce_mean(backend.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=-1)


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true) ** 2) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return api.reduce_mean(api.squared_difference(y_pred, y_true), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return api.reduce_mean(api.abs(y_pred - y_true), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / |y_true|) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    eps = api.constant(backend.epsilon(), dtype=y_pred.dtype)
    diff = api.abs((y_true - y_pred) / api.maximum(api.abs(y_true), eps))
    return 100.0 * api.reduce_mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(y_pred + 1) - log(y_true + 1)) ** 2) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    eps = api.constant(backend.epsilon(), dtype=y_pred.dtype)
    first = api.log(api.maximum(y_pred, eps) + 1.0)
    second = api.log(api.maximum(y_true, eps) + 1.0)
    return api.reduce_mean(api.squared_difference(first, second), axis=-1)


def hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0)) over the last axis (labels -1 or 1)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return api.reduce_mean(api.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0) ** 2) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return api.reduce_mean(api.square(api.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


def kullback_leibler_divergence(y_true, y_pred):
    """sum(y_true * log(y_true / y_pred)) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    eps = api.constant(backend.epsilon(), dtype=y_pred.dtype)
    y_true = api.clip_by_value(y_true, eps, 1.0)
    y_pred = api.clip_by_value(y_pred, eps, 1.0)
    return api.reduce_sum(y_true * api.log(y_true / y_pred), axis=-1)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred)) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    eps = api.constant(backend.epsilon(), dtype=y_pred.dtype)
    return api.reduce_mean(y_pred - y_true * api.log(y_pred + eps), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence


class Loss:
    """A loss object: `loss(y_true, y_pred)` is the mean of the per-sample losses."""

    _fn = None

    def __init__(self, reduction="auto", name=None, **kwargs):
        self.reduction = reduction
        self.name = name
        self._kwargs = kwargs

    def call(self, y_true, y_pred):
        return type(self)._fn(y_true, y_pred, **self._kwargs)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError("Keras loss objects: sample_weight is not supported by raygraph")
        losses = self.call(y_true, y_pred)
        if self.reduction == "none":
            return losses
        total = api.reduce_sum(losses)
        if self.reduction == "sum":
            return total
        return total / api.cast(api.size(losses), losses.dtype)


def _loss_class(fn, doc, **defaults):
    def __init__(self, reduction="auto", name=None, **kwargs):  # noqa: N807
        Loss.__init__(self, reduction, name or fn.__name__, **{**defaults, **kwargs})

    name = "".join(part.capitalize() for part in fn.__name__.split("_"))
    return type(name, (Loss,), {"__init__": __init__, "_fn": staticmethod(fn), "__doc__": doc})


CategoricalCrossentropy = _loss_class(
    categorical_crossentropy, "`CategoricalCrossentropy(from_logits=False)`."
)
SparseCategoricalCrossentropy = _loss_class(
    sparse_categorical_crossentropy, "`SparseCategoricalCrossentropy()`."
)
BinaryCrossentropy = _loss_class(binary_crossentropy, "`BinaryCrossentropy(from_logits=False)`.")
MeanSquaredError = _loss_class(mean_squared_error, "`MeanSquaredError()`.")
MeanAbsoluteError = _loss_class(mean_absolute_error, "`MeanAbsoluteError()`.")
Hinge = _loss_class(hinge, "`Hinge()`.")

_BY_NAME = {
    name: fn
    for name, fn in globals().items()
    if callable(fn)
    and not name.startswith("_")
    and not isinstance(fn, type)
    and getattr(fn, "__module__", None) == __name__
}


def get(identifier):
    """A loss function for a name ("mse", "categorical_crossentropy"), a function or a Loss."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(f"Unknown loss function: {identifier!r}; known: {sorted(_BY_NAME)}")


def _is(fn, name: str) -> bool:
    """Whether loss `fn` is the Keras loss `name` (function or Loss object)."""
    target = _BY_NAME[name]
    return fn is target or getattr(type(fn), "_fn", None) is target
