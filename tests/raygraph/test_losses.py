"""tf.losses against numpy: every loss, weights of every shape, every reduction, collections."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf

# One session serves the parametrized cases; its graph grows between runs on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:The graph grew:RuntimeWarning")

R = tf.losses.Reduction
REDUCTIONS = [R.NONE, R.SUM, R.MEAN, R.SUM_OVER_BATCH_SIZE, R.SUM_BY_NONZERO_WEIGHTS]

rng = np.random.default_rng(0)
N, C = 4, 3
LABELS = rng.uniform(0, 1, (N, C)).astype(np.float32)
PREDICTIONS = rng.uniform(0, 1, (N, C)).astype(np.float32)
BINARY = (rng.uniform(0, 1, (N, C)) > 0.5).astype(np.float32)
LOGITS = rng.normal(0, 2, (N, C)).astype(np.float32)
CLASSES = np.array([0, 2, 1, 2], np.int32)
ONEHOT = np.eye(C, dtype=np.float32)[CLASSES]

# weights for element-wise losses [N, C] and for per-example losses [N]
WEIGHTS = {
    "scalar": 0.5,
    "per_example": np.array([[1.0], [0.0], [2.0], [0.5]], np.float32),
    "full": np.array([[1, 0, 2], [0, 0, 0], [1, 1, 1], [3, 0, 0.5]], np.float32),
    "zeros": np.zeros((N, C), np.float32),
}
EXAMPLE_WEIGHTS = {
    "scalar": 2.0,
    "per_example": np.array([1.0, 0.0, 2.0, 0.5], np.float32),
    "zeros": np.zeros(N, np.float32),
}


def reduce_like_tf(losses, weights, reduction):
    """The reference: TensorFlow's compute_weighted_loss in numpy."""
    w = np.broadcast_to(np.asarray(weights, np.float32), losses.shape)
    weighted = losses * w
    total = weighted.sum(dtype=np.float64)
    denominator = {
        R.SUM: 1.0,
        R.MEAN: w.sum(dtype=np.float64),
        R.SUM_OVER_BATCH_SIZE: losses.size,
        R.SUM_BY_NONZERO_WEIGHTS: np.count_nonzero(w),
    }
    if reduction == R.NONE:
        return weighted
    d = denominator[reduction]
    return np.float32(total / d if d else 0.0)


def log_softmax(x):
    z = x - x.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def sigmoid_xent(labels, logits):
    return np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))


def huber(labels, predictions, delta=1.0):
    e = np.abs(predictions - labels)
    q = np.minimum(e, delta)
    return 0.5 * q * q + delta * (e - q)


ELEMENTWISE = {
    "mean_squared_error": (
        lambda w, r: tf.losses.mean_squared_error(LABELS, PREDICTIONS, w, reduction=r),
        (PREDICTIONS - LABELS) ** 2,
    ),
    "absolute_difference": (
        lambda w, r: tf.losses.absolute_difference(LABELS, PREDICTIONS, w, reduction=r),
        np.abs(PREDICTIONS - LABELS),
    ),
    "huber_loss": (
        lambda w, r: tf.losses.huber_loss(LABELS, 3 * PREDICTIONS, w, reduction=r),
        huber(LABELS, 3 * PREDICTIONS),
    ),
    "log_loss": (
        lambda w, r: tf.losses.log_loss(BINARY, PREDICTIONS, w, reduction=r),
        -BINARY * np.log(PREDICTIONS + 1e-7) - (1 - BINARY) * np.log(1 - PREDICTIONS + 1e-7),
    ),
    "hinge_loss": (
        lambda w, r: tf.losses.hinge_loss(BINARY, LOGITS, w, reduction=r),
        np.maximum(0, 1 - (2 * BINARY - 1) * LOGITS),
    ),
    "sigmoid_cross_entropy": (
        lambda w, r: tf.losses.sigmoid_cross_entropy(BINARY, LOGITS, w, reduction=r),
        sigmoid_xent(BINARY, LOGITS),
    ),
}
REDUCED_AXIS = {  # losses of shape [N, 1]: weights scalar or [N, 1]
    "cosine_distance": (
        lambda w, r: tf.losses.cosine_distance(LABELS, PREDICTIONS, axis=1, weights=w, reduction=r),
        1 - (LABELS * PREDICTIONS).sum(1, keepdims=True),
    ),
}
PER_EXAMPLE = {
    "softmax_cross_entropy": (
        lambda w, r: tf.losses.softmax_cross_entropy(ONEHOT, LOGITS, w, reduction=r),
        -(ONEHOT * log_softmax(LOGITS)).sum(-1),
    ),
    "sparse_softmax_cross_entropy": (
        lambda w, r: tf.losses.sparse_softmax_cross_entropy(CLASSES, LOGITS, w, reduction=r),
        -log_softmax(LOGITS)[np.arange(N), CLASSES],
    ),
}


def _cases(table, weights):
    for loss in table:
        for w in weights:
            for r in REDUCTIONS:
                yield pytest.param(table, loss, weights[w], r, id=f"{loss}-{w}-{r}")


@pytest.fixture(scope="module")
def session():
    sess = tf.Session("local", graph=tf.Graph())  # not `with`: that would keep its graph the default
    yield sess
    sess.close()


def _value(sess, build):
    """Builds a loss in the session's graph and runs it."""
    with sess.graph.as_default():
        loss = build()
    return loss, sess.run(loss)


@pytest.mark.parametrize(
    "table,loss,weights,reduction",
    list(_cases(ELEMENTWISE, WEIGHTS))
    + list(_cases(PER_EXAMPLE, EXAMPLE_WEIGHTS))
    + list(_cases(REDUCED_AXIS, {k: WEIGHTS[k] for k in ("scalar", "per_example")})),
)
def test_loss_matches_numpy(session, table, loss, weights, reduction):
    build, per_element = table[loss]
    tensor, got = _value(session, lambda: build(weights, reduction))
    expected = reduce_like_tf(per_element.astype(np.float32), weights, reduction)
    assert tensor.dtype == tf.float32
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6)


def test_label_smoothing(session):
    def build():
        return (
            tf.losses.softmax_cross_entropy(ONEHOT, LOGITS, label_smoothing=0.2),
            tf.losses.sigmoid_cross_entropy(BINARY, LOGITS, label_smoothing=0.2),
        )

    _, (softmax, sigmoid) = _value(session, build)
    smooth = ONEHOT * 0.8 + 0.2 / C
    np.testing.assert_allclose(softmax, -(smooth * log_softmax(LOGITS)).sum(-1).mean(), rtol=2e-6)
    np.testing.assert_allclose(sigmoid, sigmoid_xent(BINARY * 0.8 + 0.1, LOGITS).mean(), rtol=2e-6)


def test_sparse_labels_and_weights_of_shape_n_by_1_are_squeezed(session):
    weights = np.array([[1.0], [0.0], [2.0], [1.0]], np.float32)

    def build():
        return tf.losses.sparse_softmax_cross_entropy(CLASSES[:, None], LOGITS, weights)

    _, got = _value(session, build)
    per_example = -log_softmax(LOGITS)[np.arange(N), CLASSES]
    np.testing.assert_allclose(got, (per_example * weights[:, 0]).sum() / 3, rtol=2e-6)


def test_compute_weighted_loss_keeps_the_input_dtype(session):
    losses = np.array([[1.0, 2.0], [3.0, 4.0]])  # float64

    def build():
        return tf.losses.compute_weighted_loss(losses, weights=[[1.0], [0.0]])

    tensor, got = _value(session, build)
    assert tensor.dtype == tf.float64
    assert got == pytest.approx(1.5)


def test_names_and_collections():
    loss = tf.losses.mean_squared_error(LABELS, PREDICTIONS)
    xent = tf.losses.softmax_cross_entropy(ONEHOT, LOGITS, loss_collection=None)
    assert loss.name == "mean_squared_error/value:0"
    assert xent.name == "softmax_cross_entropy_loss/value:0"
    assert tf.losses.get_losses() == [loss]
    assert tf.get_collection(tf.GraphKeys.LOSSES) == [loss]
    extra = tf.constant(10.0)
    tf.losses.add_loss(extra)
    assert tf.losses.get_losses() == [loss, extra]
    assert tf.losses.get_losses(scope="mean_squared") == [loss]


def test_total_and_regularization_losses():
    empty = tf.losses.get_regularization_loss()
    tf.get_variable(
        "w", [2], initializer=tf.constant_initializer(3.0), regularizer=lambda w: tf.reduce_sum(w * w)
    )
    assert len(tf.losses.get_regularization_losses()) == 1
    regularization = tf.losses.get_regularization_loss()
    data = tf.losses.absolute_difference([1.0, 2.0], [2.0, 4.0])  # 1.5
    total = tf.losses.get_total_loss()
    data_only = tf.losses.get_total_loss(add_regularization_losses=False)
    assert total.name == "total_loss:0" and regularization.name == "total_regularization_loss:0"
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        values = sess.run([empty, regularization, data, total, data_only])
    np.testing.assert_allclose(values, [0.0, 18.0, 1.5, 19.5, 1.5], rtol=1e-6)


def test_get_total_loss_without_losses():
    with pytest.raises(ValueError, match="No losses found"):
        tf.losses.get_total_loss()


def test_errors():
    with pytest.raises(ValueError, match="Invalid Reduction Key mean"):
        tf.losses.mean_squared_error(LABELS, PREDICTIONS, reduction="mean")
    with pytest.raises(
        ValueError, match=r"weights can not be broadcast to values. values.rank=2. weights.rank=1"
    ):
        tf.losses.mean_squared_error(LABELS, PREDICTIONS, weights=np.ones(C, np.float32))
    with pytest.raises(ValueError, match="Mismatch at dim 0"):
        tf.losses.mean_squared_error(LABELS, PREDICTIONS, weights=np.ones((2, 1), np.float32))
    with pytest.raises(ValueError, match="incompatible"):
        tf.losses.mean_squared_error(LABELS, PREDICTIONS[:, :2])
    with pytest.raises(ValueError, match="`labels` must not be None"):
        tf.losses.mean_squared_error(None, PREDICTIONS)


def test_gradients_flow_to_logits_not_labels():
    logits = tf.constant(LOGITS)
    labels = tf.constant(ONEHOT)
    loss = tf.losses.softmax_cross_entropy(labels, logits)
    d_logits, d_labels = tf.gradients(loss, [logits, labels])
    assert d_labels is None
    with tf.Session("local") as sess:
        got = sess.run(d_logits)
    softmax = np.exp(log_softmax(LOGITS))
    np.testing.assert_allclose(got, (softmax - ONEHOT) / N, rtol=1e-5, atol=1e-7)
