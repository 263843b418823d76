"""`tf.losses`: TensorFlow 1.x loss functions, weights and reductions.

    loss = tf.losses.softmax_cross_entropy(onehot_labels=y, logits=logits)
    total = tf.losses.get_total_loss()          # every loss + regularization losses

Each loss computes per-element losses, then `compute_weighted_loss` multiplies them
by `weights` (a scalar, or a tensor broadcastable to the losses: same rank, each
dim 1 or equal) and reduces them by `reduction`:

    NONE                     the weighted losses, unreduced
    SUM                      their sum
    MEAN                     sum / sum(weights broadcast to the losses)
    SUM_OVER_BATCH_SIZE      sum / number of loss elements
    SUM_BY_NONZERO_WEIGHTS   sum / number of non-zero weights (the default)

Divisions by zero give 0 (div_no_nan), as in TensorFlow. Losses are computed in
float32 and cast back to the input's dtype; the result is added to the
`loss_collection` (tf.GraphKeys.LOSSES) unless that is None.
"""

from __future__ import annotations

from ops import api
from raygraph import dtypes
from raygraph.graph import GraphKeys, add_to_collection, convert_to_tensor, get_collection, name_scope

__all__ = [
    "Reduction",
    "absolute_difference",
    "add_loss",
    "compute_weighted_loss",
    "cosine_distance",
    "get_losses",
    "get_regularization_loss",
    "get_regularization_losses",
    "get_total_loss",
    "hinge_loss",
    "huber_loss",
    "log_loss",
    "mean_squared_error",
    "sigmoid_cross_entropy",
    "softmax_cross_entropy",
    "sparse_softmax_cross_entropy",
]


class Reduction:
    """How `compute_weighted_loss` reduces weighted losses to the returned loss.

    >>> tf.losses.mean_squared_error(y, p, reduction=tf.losses.Reduction.SUM)
    """

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return (
            cls.NONE,
            cls.SUM,
            cls.MEAN,
            cls.SUM_OVER_BATCH_SIZE,
            cls.SUM_OVER_NONZERO_WEIGHTS,
            cls.SUM_BY_NONZERO_WEIGHTS,
        )

    @classmethod
    def validate(cls, key) -> None:
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}. Expected one of {sorted(set(cls.all()))}.")


# -- collections ------------------------------------------------------------------


def add_loss(loss, loss_collection=GraphKeys.LOSSES) -> None:
    """Adds `loss` to `loss_collection` (nothing when it is None), for `get_total_loss`.

    >>> tf.losses.add_loss(tf.reduce_mean(tf.abs(w)) * 1e-3)
    """
    if loss_collection:
        add_to_collection(loss_collection, loss)


def get_losses(scope=None, loss_collection=GraphKeys.LOSSES) -> list:
    """The losses in `loss_collection`, filtered by a name `scope` (a regex) if given.

    >>> tf.losses.get_losses(scope="tower_0")
    """
    return get_collection(loss_collection, scope)


def get_regularization_losses(scope=None) -> list:
    """The REGULARIZATION_LOSSES collection (from `regularizer=` arguments).

    >>> penalties = tf.losses.get_regularization_losses()
    """
    return get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    """The sum of the regularization losses, or 0.0 when there are none.

    >>> loss = data_loss + tf.losses.get_regularization_loss()
    """
    losses = get_regularization_losses(scope)
    if losses:
        return api.add_n(losses, name=name)
    return api.constant(0.0)


def get_total_loss(add_regularization_losses=True, name="total_loss", scope=None):
    """The sum of every loss in LOSSES, plus the regularization losses by default.

    >>> train_op = optimizer.minimize(tf.losses.get_total_loss())
    """
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope=scope)
    if not losses:
        raise ValueError("No losses found: add some with tf.losses.* or tf.losses.add_loss first.")
    return api.add_n(losses, name=name)


# -- weighting and reduction --------------------------------------------------------


def compute_weighted_loss(
    losses,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """Multiplies `losses` by `weights` and reduces them by `reduction` (see the module doc).

    >>> per_example = tf.square(y - p)
    >>> loss = tf.losses.compute_weighted_loss(per_example, weights=mask)
    """
    Reduction.validate(reduction)
    with name_scope(scope, "weighted_loss", (losses, weights)):
        losses = convert_to_tensor(losses)
        input_dtype = losses.dtype
        losses = api.cast(losses, dtypes.float32)
        weights = api.cast(weights, dtypes.float32)
        _check_broadcastable(weights, losses)
        weighted = api.multiply(losses, weights)
        loss = weighted if reduction == Reduction.NONE else _reduce(weighted, losses, weights, reduction)
        loss = api.cast(loss, input_dtype)
        add_loss(loss, loss_collection)
        return loss


def _reduce(weighted, losses, weights, reduction):
    total = api.reduce_sum(weighted)
    if reduction == Reduction.MEAN:
        return api.div_no_nan(total, api.reduce_sum(api.ones_like(losses) * weights), name="value")
    if reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
        return api.div_no_nan(total, _num_present(losses, weights), name="value")
    if reduction == Reduction.SUM_OVER_BATCH_SIZE:
        return api.div_no_nan(total, _num_elements(losses), name="value")
    return total


def _num_present(losses, weights):
    """How many loss elements have a non-zero weight (weights broadcast to the losses)."""
    with name_scope(None, "num_present", (losses, weights)) as scope:
        present = api.cast(api.not_equal(weights, 0.0), dtypes.float32)
        present = api.multiply(present, api.ones_like(losses))
        return api.reduce_sum(present, name=scope)


def _num_elements(losses):
    with name_scope(None, "num_elements", (losses,)) as scope:
        if losses.shape.is_fully_defined():
            return api.constant(float(losses.shape.num_elements()), dtype=losses.dtype, name=scope)
        return api.reduce_sum(api.ones_like(losses), name=scope)


def _check_broadcastable(weights, losses) -> None:
    """TensorFlow's rule, checked on static shapes: weights scalar, or same rank with dims 1 or equal."""
    w_shape = weights.shape
    if w_shape.dims is None or losses.shape.dims is None or w_shape.ndims == 0:
        return
    prefix = "weights can not be broadcast to values."
    if w_shape.ndims != losses.shape.ndims:
        raise ValueError(
            f"{prefix} values.rank={losses.shape.ndims}. weights.rank={w_shape.ndims}. "
            f"values.shape={losses.shape}. weights.shape={w_shape}."
        )
    for i, (w, v) in enumerate(zip(w_shape.dims, losses.shape.dims)):
        if w is not None and v is not None and w not in (1, v):
            raise ValueError(
                f"{prefix} Mismatch at dim {i}. values.shape={losses.shape}, weights.shape={w_shape}."
            )


def _as_float_pair(labels, predictions, what="predictions"):
    if labels is None:
        raise ValueError("Argument `labels` must not be None.")
    if predictions is None:
        raise ValueError(f"Argument `{what}` must not be None.")
    predictions = api.cast(predictions, dtypes.float32)
    labels = api.cast(labels, dtypes.float32)
    _check_same_shape(labels, predictions, what)
    return labels, predictions


def _check_same_shape(labels, predictions, what) -> None:
    if not predictions.shape.is_compatible_with(labels.shape):
        raise ValueError(f"Shapes of {what} {predictions.shape} and labels {labels.shape} are incompatible.")


# -- the losses -----------------------------------------------------------------------


def absolute_difference(
    labels,
    predictions,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """Weighted |predictions - labels|.

    >>> tf.losses.absolute_difference(labels=y, predictions=p)
    """
    with name_scope(scope, "absolute_difference", (predictions, labels, weights)) as scope:
        labels, predictions = _as_float_pair(labels, predictions)
        losses = api.abs(api.subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def mean_squared_error(
    labels,
    predictions,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """Weighted (predictions - labels) ** 2, reduced (by default, the mean over non-zero weights).

    >>> loss = tf.losses.mean_squared_error(labels=y, predictions=model(x))
    """
    with name_scope(scope, "mean_squared_error", (predictions, labels, weights)) as scope:
        labels, predictions = _as_float_pair(labels, predictions)
        losses = api.squared_difference(predictions, labels)
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def huber_loss(
    labels,
    predictions,
    weights=1.0,
    delta=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """0.5 * e ** 2 where |e| <= delta, else delta * (|e| - 0.5 * delta); e = predictions - labels.

    >>> tf.losses.huber_loss(labels=y, predictions=p, delta=2.0)
    """
    with name_scope(scope, "huber_loss", (predictions, labels, weights)) as scope:
        labels, predictions = _as_float_pair(labels, predictions)
        abs_error = api.abs(api.subtract(predictions, labels))
        quadratic = api.minimum(abs_error, delta)
        linear = api.subtract(abs_error, quadratic)  # its gradient is 0 at |e| == delta, as in TF
        losses = api.add(
            api.multiply(api.constant(0.5, dtype=quadratic.dtype), api.multiply(quadratic, quadratic)),
            api.multiply(delta, linear),
        )
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def log_loss(
    labels,
    predictions,
    weights=1.0,
    epsilon=1e-7,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """-labels * log(p + eps) - (1 - labels) * log(1 - p + eps), for probabilities p.

    >>> tf.losses.log_loss(labels=y, predictions=tf.sigmoid(logits))
    """
    with name_scope(scope, "log_loss", (predictions, labels, weights)) as scope:
        labels, predictions = _as_float_pair(labels, predictions)
        positive = api.multiply(labels, api.log(predictions + epsilon))
        negative = api.multiply(1 - labels, api.log(1 - predictions + epsilon))
        losses = api.negative(positive) - negative
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def cosine_distance(
    labels,
    predictions,
    axis=None,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
    dim=None,
):
    """1 - sum(labels * predictions, axis), for unit-normalized labels and predictions.

    >>> tf.losses.cosine_distance(tf.nn.l2_normalize(y, 1), tf.nn.l2_normalize(p, 1), axis=1)
    """
    axis = axis if axis is not None else dim
    if axis is None:
        raise ValueError("You must specify argument `axis`.")
    with name_scope(scope, "cosine_distance_loss", (predictions, labels, weights)) as scope:
        labels, predictions = _as_float_pair(labels, predictions)
        radial = api.multiply(predictions, labels)
        losses = 1 - api.reduce_sum(radial, axis=(axis,), keepdims=True)
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def hinge_loss(
    labels,
    logits,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """max(0, 1 - (2 * labels - 1) * logits) for labels in {0, 1}.

    >>> tf.losses.hinge_loss(labels=y, logits=scores)
    """
    with name_scope(scope, "hinge_loss", (logits, labels, weights)) as scope:
        labels, logits = _as_float_pair(labels, logits, "logits")
        all_ones = api.ones_like(labels)
        signs = api.subtract(2 * labels, all_ones)
        losses = api.nn.relu(api.subtract(all_ones, api.multiply(signs, logits)))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def sigmoid_cross_entropy(
    multi_class_labels,
    logits,
    weights=1.0,
    label_smoothing=0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """Logistic loss of independent binary labels; smoothing moves labels toward 0.5.

    >>> tf.losses.sigmoid_cross_entropy(multi_class_labels=tags, logits=scores)
    """
    if multi_class_labels is None:
        raise ValueError("Argument `multi_class_labels` must not be None.")
    if logits is None:
        raise ValueError("Argument `logits` must not be None.")
    with name_scope(scope, "sigmoid_cross_entropy_loss", (logits, multi_class_labels, weights)) as scope:
        logits = convert_to_tensor(logits)
        labels = api.cast(multi_class_labels, logits.dtype)
        _check_same_shape(labels, logits, "logits")
        if label_smoothing > 0:
            labels = labels * (1 - label_smoothing) + 0.5 * label_smoothing
        losses = api.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def softmax_cross_entropy(
    onehot_labels,
    logits,
    weights=1.0,
    label_smoothing=0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """Softmax cross-entropy of one-hot labels, weighted per example.

    With label_smoothing s, the labels become labels * (1 - s) + s / num_classes.

    >>> loss = tf.losses.softmax_cross_entropy(onehot_labels=tf.one_hot(y, 10), logits=logits)
    """
    if onehot_labels is None:
        raise ValueError("Argument `onehot_labels` must not be None.")
    if logits is None:
        raise ValueError("Argument `logits` must not be None.")
    with name_scope(scope, "softmax_cross_entropy_loss", (logits, onehot_labels, weights)) as scope:
        logits = convert_to_tensor(logits)
        labels = api.cast(onehot_labels, logits.dtype)
        _check_same_shape(labels, logits, "logits")
        if label_smoothing > 0:
            num_classes = api.cast(_last_dim(labels), logits.dtype)
            labels = labels * (1.0 - label_smoothing) + label_smoothing / num_classes
        labels = api.stop_gradient(labels, name="labels_stop_gradient")
        losses = api.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def _last_dim(x):
    """The size of x's last dimension, as a constant when the graph knows it."""
    if x.shape.dims and x.shape.dims[-1] is not None:
        return api.constant(x.shape.dims[-1])
    return api.shape(x)[-1]


def sparse_softmax_cross_entropy(
    labels,
    logits,
    weights=1.0,
    scope=None,
    loss_collection=GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """Softmax cross-entropy of integer class labels (labels of shape [N] or [N, 1]).

    >>> loss = tf.losses.sparse_softmax_cross_entropy(labels=digits, logits=logits)
    """
    if labels is None:
        raise ValueError("Argument `labels` must not be None.")
    if logits is None:
        raise ValueError("Argument `logits` must not be None.")
    with name_scope(scope, "sparse_softmax_cross_entropy_loss", (logits, labels, weights)) as scope:
        labels, logits, weights = _remove_squeezable_dimensions(labels, logits, weights)
        losses = api.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits, name="xentropy"
        )
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def _remove_squeezable_dimensions(labels, logits, weights):
    """Squeezes a trailing size-1 dim off labels [N, 1] (and off weights of rank labels + 1)."""
    labels, logits = convert_to_tensor(labels), convert_to_tensor(logits)
    labels_rank, logits_rank = labels.shape.ndims, logits.shape.ndims
    if labels_rank is not None and logits_rank is not None:
        diff = logits_rank - labels_rank
        if diff == 0 and labels.shape.dims[-1] in (1, None):
            labels = api.squeeze(labels, [-1])
        elif diff == 2 and logits.shape.dims[-1] in (1, None):
            logits = api.squeeze(logits, [-1])
    if isinstance(weights, int | float):
        return labels, logits, weights
    weights = convert_to_tensor(weights)
    if labels.shape.ndims is not None and weights.shape.ndims == labels.shape.ndims + 1:
        weights = api.squeeze(weights, [-1])
    return labels, logits, weights
