"""`tf.keras.metrics`: per-sample metric functions `fn(y_true, y_pred)`.

    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])

"accuracy"/"acc" resolve, as in TF 1.x's Keras, to binary_accuracy when the output has
one unit or the loss is binary_crossentropy, to sparse_categorical_accuracy with the
sparse loss, else to categorical_accuracy. The loss functions are metrics too.
"""

from __future__ import annotations

from ops import api
from raygraph import dtypes
from raygraph.graph import convert_to_tensor
from raygraph.keras import losses
from raygraph.keras.losses import (  # noqa: F401 - Keras exposes the losses as metrics
    MAE,
    MAPE,
    MSE,
    MSLE,
    binary_crossentropy,
    categorical_crossentropy,
    hinge,
    kld,
    kullback_leibler_divergence,
    mae,
    mape,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)


def _float(x, like):
    return api.cast(x, like.dtype)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """mean(y_true == (y_pred > threshold)) over the last axis."""
    y_pred = convert_to_tensor(y_pred)
    y_true = api.cast(convert_to_tensor(y_true), y_pred.dtype)
    predicted = _float(y_pred > api.constant(threshold, dtype=y_pred.dtype), y_pred)
    return api.reduce_mean(_float(api.equal(y_true, predicted), y_pred), axis=-1)


def categorical_accuracy(y_true, y_pred):
    """1 where argmax(y_true) == argmax(y_pred), else 0, per sample."""
    y_pred = convert_to_tensor(y_pred)
    same = api.equal(api.argmax(y_true, -1), api.argmax(y_pred, -1))
    return _float(same, y_pred)


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where the integer label equals argmax(y_pred), else 0, per sample."""
    y_pred = convert_to_tensor(y_pred)
    labels = api.cast(api.reshape(y_true, [-1]), dtypes.int64)
    predicted = api.reshape(api.argmax(y_pred, -1), [-1])
    return _float(api.equal(labels, predicted), y_pred)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the one-hot label is among the k largest predictions."""
    y_pred = convert_to_tensor(y_pred)
    hit = api.nn.in_top_k(y_pred, api.cast(api.argmax(y_true, -1), dtypes.int32), k)
    return _float(hit, y_pred)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the integer label is among the k largest predictions."""
    y_pred = convert_to_tensor(y_pred)
    hit = api.nn.in_top_k(y_pred, api.cast(api.reshape(y_true, [-1]), dtypes.int32), k)
    return _float(hit, y_pred)


def resolve(metric, loss_fn, output) -> tuple[str, object]:
    """(history name, function) for a metric given to compile."""
    if metric in ("accuracy", "acc"):
        units = output.shape.dims[-1] if output.shape.dims else None
        if losses._is(loss_fn, "binary_crossentropy") or units == 1:
            return metric, binary_accuracy
        if losses._is(loss_fn, "sparse_categorical_crossentropy"):
            return metric, sparse_categorical_accuracy
        return metric, categorical_accuracy
    if isinstance(metric, str):
        fn = globals().get(metric)
        if fn is None or not callable(fn):
            raise ValueError(f"Unknown metric function: {metric!r}")
        return metric, fn
    if callable(metric):
        return getattr(metric, "name", None) or getattr(metric, "__name__", "metric"), metric
    raise ValueError(f"Could not interpret metric identifier: {metric!r}")


def get(identifier):
    """A metric function for a name or a function."""
    if callable(identifier):
        return identifier
    return resolve(identifier, None, None)[1]
