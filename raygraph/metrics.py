"""`tf.metrics`: streaming metrics, accumulated in local variables across runs (TF1).

Each metric returns `(value, update_op)`. Running `update_op` adds a batch to the
metric's accumulators and returns the updated value; `value` reads the value so
far without changing it. The accumulators are local variables (collections
LOCAL_VARIABLES and METRIC_VARIABLES) under the metric's variable scope, named
as TensorFlow names them (`accuracy/total`, `accuracy/count`,
`auc/true_positives`...), so `tf.local_variables_initializer()` resets them:

    acc, acc_update = tf.metrics.accuracy(labels, tf.argmax(logits, 1))
    sess.run(tf.local_variables_initializer())
    for batch in batches:
        sess.run(acc_update, feed_dict=batch)
    print(sess.run(acc))

`weights` (broadcastable to the values) weights each value; a weight of 0 drops it.
"""

from __future__ import annotations

import numpy as np

import ops as _ops
from ops import api
from raygraph import dtypes
from raygraph.graph import GraphKeys, add_to_collections, control_dependencies, convert_to_tensor
from raygraph.variable_scope import variable_scope
from raygraph.variables import Variable

METRIC_VARIABLES = GraphKeys.METRIC_VARIABLES

_ops.load_all()  # imported alone (`tf.metrics` before any op): the ops must exist

__all__ = [
    "accuracy",
    "auc",
    "false_negatives",
    "false_positives",
    "mean",
    "mean_absolute_error",
    "mean_iou",
    "mean_squared_error",
    "metric_variable",
    "precision",
    "recall",
    "root_mean_squared_error",
    "true_negatives",
    "true_positives",
]


def metric_variable(shape, dtype, validate_shape=True, name=None) -> Variable:
    """A zero-initialized local variable in LOCAL_VARIABLES and METRIC_VARIABLES."""
    dtype = dtypes.as_dtype(dtype)
    return Variable(
        lambda: api.zeros(shape, dtype),
        trainable=False,
        collections=[GraphKeys.LOCAL_VARIABLES, METRIC_VARIABLES],
        validate_shape=validate_shape,
        name=name,
    )


def _collect(value, update_op, metrics_collections, updates_collections):
    if metrics_collections:
        add_to_collections(metrics_collections, value)
    if updates_collections:
        add_to_collections(updates_collections, update_op)
    return value, update_op


def _squeeze_last(a, b):
    """Drops a trailing 1 from whichever of `a` and `b` has one dimension more (static ranks)."""
    ra, rb = a.shape.ndims, b.shape.ndims
    if ra is not None and rb is not None:
        if ra == rb + 1 and a.shape.dims[-1] in (1, None):
            a = api.squeeze(a, [-1])
        elif rb == ra + 1 and b.shape.dims[-1] in (1, None):
            b = api.squeeze(b, [-1])
    return a, b


def _prepare(predictions, labels, weights):
    predictions = convert_to_tensor(predictions)
    labels = convert_to_tensor(labels)
    labels, predictions = _squeeze_last(labels, predictions)
    if weights is not None:
        weights = convert_to_tensor(weights)
        if weights.shape.ndims is not None and weights.shape.ndims > 0:
            _, weights = _squeeze_last(predictions, weights)
    if not predictions.shape.is_compatible_with(labels.shape):
        raise ValueError(
            f"Shapes {predictions.shape} and {labels.shape} are incompatible (predictions, labels)"
        )
    return predictions, labels, weights


def _broadcast_weights(weights, values):
    """`weights` as float32, broadcast to the shape of `values`."""
    return api.multiply(api.cast(weights, dtypes.float32), api.ones_like(values, dtype=dtypes.float32))


def mean(values, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """The (weighted) mean of `values` over every batch so far: `total / count`.

    >>> m, update = tf.metrics.mean(loss)
    """
    with variable_scope(name, "mean", (values, weights)):
        values = api.cast(values, dtypes.float32)
        total = metric_variable([], dtypes.float32, name="total")
        count = metric_variable([], dtypes.float32, name="count")
        if weights is None:
            num_values = api.cast(api.size(values), dtypes.float32)
        else:
            weights = _broadcast_weights(weights, values)
            values = api.multiply(values, weights)
            num_values = api.reduce_sum(weights)
        update_total = total.assign_add(api.reduce_sum(values))
        with control_dependencies([values]):
            update_count = count.assign_add(num_values)
        value = api.div_no_nan(total.value(), api.maximum(count.value(), 0.0), name="value")
        update_op = api.div_no_nan(update_total, api.maximum(update_count, 0.0), name="update_op")
        return _collect(value, update_op, metrics_collections, updates_collections)


def accuracy(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """How often `predictions` equals `labels` (weighted): `tf.metrics.accuracy(y, tf.argmax(logits, 1))`."""
    predictions, labels, weights = _prepare(predictions, labels, weights)
    if labels.dtype != predictions.dtype:
        predictions = api.cast(predictions, labels.dtype)
    is_correct = api.cast(api.equal(predictions, labels), dtypes.float32)
    return mean(is_correct, weights, metrics_collections, updates_collections, name or "accuracy")


def mean_squared_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """The (weighted) mean of (predictions - labels)^2 over every batch so far."""
    predictions, labels, weights = _prepare(predictions, labels, weights)
    squared = api.squared_difference(api.cast(predictions, dtypes.float32), api.cast(labels, dtypes.float32))
    return mean(squared, weights, metrics_collections, updates_collections, name or "mean_squared_error")


def mean_absolute_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """The (weighted) mean of |predictions - labels| over every batch so far."""
    predictions, labels, weights = _prepare(predictions, labels, weights)
    errors = api.abs(api.subtract(api.cast(predictions, dtypes.float32), api.cast(labels, dtypes.float32)))
    return mean(errors, weights, metrics_collections, updates_collections, name or "mean_absolute_error")


def root_mean_squared_error(
    labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
):
    """The square root of mean_squared_error, over every batch so far."""
    predictions, labels, weights = _prepare(predictions, labels, weights)
    mse, update_mse = mean_squared_error(
        labels, predictions, weights, None, None, name or "root_mean_squared_error"
    )
    return _collect(api.sqrt(mse), api.sqrt(update_mse), metrics_collections, updates_collections)


def _count_condition(condition, weights, metrics_collections, updates_collections):
    """Sums the (weighted) true entries of `condition` into a `count` variable."""
    count = metric_variable([], dtypes.float32, name="count")
    values = api.cast(condition, dtypes.float32)
    if weights is not None:
        values = api.multiply(values, _broadcast_weights(weights, values))
    value = api.identity(count.value())
    update_op = count.assign_add(api.reduce_sum(values))
    return _collect(value, update_op, metrics_collections, updates_collections)


def _counter(default: str, label_value: bool, prediction_value: bool):
    def count(
        labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
    ):
        with variable_scope(name, default, (predictions, labels, weights)):
            predictions, labels, weights = _prepare(predictions, labels, weights)
            labels = api.cast(labels, dtypes.bool)
            predictions = api.cast(predictions, dtypes.bool)
            condition = api.logical_and(
                labels if label_value else api.logical_not(labels),
                predictions if prediction_value else api.logical_not(predictions),
            )
            return _count_condition(condition, weights, metrics_collections, updates_collections)

    count.__name__ = default
    count.__doc__ = f"""The (weighted) number of {default.replace("_", " ")} over every batch so far."""
    return count


true_positives = _counter("true_positives", True, True)
false_positives = _counter("false_positives", False, True)
false_negatives = _counter("false_negatives", True, False)
true_negatives = _counter("true_negatives", False, False)


def _ratio(default: str, other):
    def metric(
        labels, predictions, weights=None, metrics_collections=None, updates_collections=None, name=None
    ):
        with variable_scope(name, default, (predictions, labels, weights)):
            predictions, labels, weights = _prepare(predictions, labels, weights)
            tp, tp_update = true_positives(labels, predictions, weights)
            wrong, wrong_update = other(labels, predictions, weights)

            def ratio(t, w, name):
                total = api.add(t, w)
                return api.where(api.greater(total, 0.0), api.div_no_nan(t, total), 0.0 * t, name=name)

            value = ratio(tp, wrong, "value")
            update_op = ratio(tp_update, wrong_update, "update_op")
            return _collect(value, update_op, metrics_collections, updates_collections)

    metric.__name__ = default
    return metric


precision = _ratio("precision", false_positives)
precision.__doc__ = """true_positives / (true_positives + false_positives) over every batch so far."""
recall = _ratio("recall", false_negatives)
recall.__doc__ = """true_positives / (true_positives + false_negatives) over every batch so far."""


def _thresholds(num_thresholds: int) -> list[float]:
    """TensorFlow's AUC thresholds: evenly spaced in (0, 1), plus -eps and 1 + eps at the ends."""
    epsilon = 1e-7
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return [0.0 - epsilon] + inner + [1.0 + epsilon]


def _confusion_at_thresholds(labels, predictions, thresholds, weights):
    """Variables tp, fn, tn, fp (one entry per threshold) and their update ops."""
    n = len(thresholds)
    predictions_2d = api.reshape(api.cast(predictions, dtypes.float32), [-1, 1])
    labels_2d = api.reshape(api.cast(labels, dtypes.bool), [1, -1])
    num_predictions = api.shape(predictions_2d)[0]
    thresholds_tiled = api.tile(
        api.expand_dims(api.constant(np.array(thresholds, np.float32)), 1), api.stack([1, num_predictions])
    )
    predictions_tiled = api.tile(api.transpose(predictions_2d), [n, 1])
    pred_is_pos = api.greater(predictions_tiled, thresholds_tiled)
    pred_is_neg = api.logical_not(pred_is_pos)
    label_is_pos = api.tile(labels_2d, [n, 1])
    label_is_neg = api.logical_not(label_is_pos)
    weights_tiled = None
    if weights is not None:
        weights = _broadcast_weights(weights, api.cast(predictions, dtypes.float32))
        weights_tiled = api.tile(api.reshape(weights, [1, -1]), [n, 1])
    values, updates = {}, {}
    for key, name, label, pred in (
        ("tp", "true_positives", label_is_pos, pred_is_pos),
        ("fn", "false_negatives", label_is_pos, pred_is_neg),
        ("tn", "true_negatives", label_is_neg, pred_is_neg),
        ("fp", "false_positives", label_is_neg, pred_is_pos),
    ):
        variable = metric_variable([n], dtypes.float32, name=name)
        hits = api.cast(api.logical_and(label, pred), dtypes.float32)
        if weights_tiled is not None:
            hits = api.multiply(hits, weights_tiled)
        values[key] = variable.value()
        updates[key] = variable.assign_add(api.reduce_sum(hits, 1))
    return values, updates


def auc(
    labels,
    predictions,
    weights=None,
    num_thresholds=200,
    metrics_collections=None,
    updates_collections=None,
    curve="ROC",
    name=None,
    summation_method="trapezoidal",
    thresholds=None,
):
    """The area under the ROC (or PR) curve, by a Riemann sum over `num_thresholds` thresholds.

    Predictions must lie in [0, 1]; `summation_method` is "trapezoidal", "minoring" or "majoring".

    >>> auc, update = tf.metrics.auc(labels, tf.sigmoid(logits))
    """
    if curve not in ("ROC", "PR"):
        raise ValueError(f"curve must be either ROC or PR, {curve} unknown")
    if summation_method not in ("trapezoidal", "minoring", "majoring"):
        raise ValueError(
            f"Invalid summation_method: {summation_method} (careful_interpolation is not supported)"
        )
    with variable_scope(name, "auc", (labels, predictions, weights)):
        predictions, labels, weights = _prepare(predictions, labels, weights)
        if thresholds is not None:
            thresholds = [0.0 - 1e-7] + list(thresholds) + [1.0 + 1e-7]
        else:
            thresholds = _thresholds(num_thresholds)
        n = len(thresholds)
        predictions = api.cast(predictions, dtypes.float32)
        from ops import checks

        with control_dependencies(
            [
                checks.assert_greater_equal(predictions, 0.0, message="predictions must be in [0, 1]"),
                checks.assert_less_equal(predictions, 1.0, message="predictions must be in [0, 1]"),
            ]
        ):
            predictions = api.identity(predictions)
        values, updates = _confusion_at_thresholds(labels, predictions, thresholds, weights)

        def area(tp, fn, tn, fp, name):
            epsilon = 1.0e-6
            rec = api.divide(tp + epsilon, tp + fn + epsilon)
            if curve == "ROC":
                x, y = api.divide(fp, fp + tn + epsilon), rec
            else:
                x, y = rec, api.divide(tp + epsilon, tp + fp + epsilon)
            dx = x[: n - 1] - x[1:]
            if summation_method == "trapezoidal":
                heights = (y[: n - 1] + y[1:]) / 2.0
            elif summation_method == "minoring":
                heights = api.minimum(y[: n - 1], y[1:])
            else:
                heights = api.maximum(y[: n - 1], y[1:])
            return api.reduce_sum(api.multiply(dx, heights), name=name)

        value = area(values["tp"], values["fn"], values["tn"], values["fp"], "value")
        update_op = area(updates["tp"], updates["fn"], updates["tn"], updates["fp"], "update_op")
        return _collect(value, update_op, metrics_collections, updates_collections)


def mean_iou(
    labels,
    predictions,
    num_classes,
    weights=None,
    metrics_collections=None,
    updates_collections=None,
    name=None,
):
    """The mean over classes of intersection / union, from a confusion matrix accumulated across batches.

    `update_op` returns the updated confusion matrix (float64), as in TensorFlow.
    """
    with variable_scope(name, "mean_iou", (predictions, labels, weights)):
        predictions, labels, weights = _prepare(predictions, labels, weights)
        total_cm = metric_variable([num_classes, num_classes], dtypes.float64, name="total_confusion_matrix")
        labels_1h = api.one_hot(
            api.reshape(api.cast(labels, dtypes.int32), [-1]), num_classes, dtype=dtypes.float64
        )
        preds_1h = api.one_hot(
            api.reshape(api.cast(predictions, dtypes.int32), [-1]), num_classes, dtype=dtypes.float64
        )
        if weights is not None:
            w = api.reshape(_broadcast_weights(weights, api.cast(labels, dtypes.float32)), [-1, 1])
            labels_1h = api.multiply(labels_1h, api.cast(w, dtypes.float64))
        current_cm = api.matmul(labels_1h, preds_1h, transpose_a=True)
        update_op = total_cm.assign_add(current_cm)
        cm = total_cm.value()
        sum_over_row = api.reduce_sum(cm, 0)
        sum_over_col = api.reduce_sum(cm, 1)
        diagonal = api.reduce_sum(api.multiply(cm, api.constant(np.eye(num_classes))), 1)
        denominator = sum_over_row + sum_over_col - diagonal
        num_valid = api.reduce_sum(api.cast(api.not_equal(denominator, 0.0), dtypes.float64))
        denominator = api.where(api.greater(denominator, 0.0), denominator, api.ones_like(denominator))
        iou = api.divide(diagonal, denominator)
        value = api.where(
            api.greater(num_valid, 0.0),
            api.div_no_nan(api.reduce_sum(iou), num_valid),
            0.0 * num_valid,
            name="mean_iou",
        )
        return _collect(value, update_op, metrics_collections, updates_collections)
