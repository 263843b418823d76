"""The nn family beyond the op table: composites, argument rules, errors, and
agreement with TensorFlow itself (the `compat` tests, skipped without tensorflow).

The per-op forward and gradient checks are Cases in cases_nn.py.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import raygraph as tf


def run(fetches, feed_dict=None):
    with tf.Session("local") as sess:
        return sess.run(fetches, feed_dict)


# -- composites ------------------------------------------------------------------------------


def test_moments():
    x = np.random.default_rng(0).normal(size=(4, 3, 5)).astype(np.float32)
    mean, var = tf.nn.moments(tf.constant(x), axes=[0, 2])
    kmean, kvar = tf.nn.moments(tf.constant(x), [1], keep_dims=True)
    assert mean.shape.as_list() == [3] and kvar.shape.as_list() == [4, 1, 5]
    m, v, km, kv = run([mean, var, kmean, kvar])
    np.testing.assert_allclose(m, x.mean(axis=(0, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v, x.var(axis=(0, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(km, x.mean(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(kv, x.var(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)


def test_batch_normalization():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    mean, var = x.mean(0), x.var(0)
    offset, scale = rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32)
    y = tf.nn.batch_normalization(tf.constant(x), mean, var, offset, scale, 1e-3)
    plain = tf.nn.batch_normalization(tf.constant(x), mean, var, None, None, 1e-3)
    got, got_plain = run([y, plain])
    np.testing.assert_allclose(got, (x - mean) / np.sqrt(var + 1e-3) * scale + offset, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_plain, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-5)


def test_l2_normalize_and_crelu():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    rows, cols = run([tf.nn.l2_normalize(tf.constant(x), axis=1), tf.nn.l2_normalize(x, dim=0)])
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(cols, [[1.0, 1.0], [0.0, 0.0]], rtol=1e-6)
    c = tf.nn.crelu(tf.constant([[1.0, -2.0]]))
    assert c.shape.as_list() == [1, 4]
    np.testing.assert_array_equal(run(c), [[1.0, 0.0, 0.0, 2.0]])


def test_sigmoid_cross_entropy_is_stable_and_differentiable():
    logits = tf.constant([-1000.0, -20.0, 0.0, 20.0, 1000.0])
    labels = tf.constant([0.0, 1.0, 0.5, 0.0, 1.0])
    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    grad = tf.gradients(tf.reduce_sum(loss), logits)[0]
    value, g = run([loss, grad])
    np.testing.assert_allclose(value, [0.0, 20.0, np.log(2.0), 20.0, 0.0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g, [0.0, -1.0, 0.0, 1.0, 0.0], atol=1e-6)


# -- argument rules and errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        tf.nn.softmax_cross_entropy_with_logits,
        tf.nn.sparse_softmax_cross_entropy_with_logits,
        tf.nn.sigmoid_cross_entropy_with_logits,
    ],
)
def test_tf1_losses_take_labels_and_logits_by_name(fn):
    with pytest.raises(ValueError, match="named arguments"):
        fn(tf.zeros([2, 3]), tf.zeros([2, 3]))
    with pytest.raises(ValueError, match="Both labels and logits"):
        fn(labels=tf.zeros([2, 3]))


def test_sparse_label_out_of_range_is_a_run_time_error_naming_it():
    logits = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label value of 5 .*\[0, 3\)"):
        run(loss, {logits: np.zeros((2, 3), np.float32), labels: [0, 5]})


def test_loss_shapes_are_checked_when_built():
    with pytest.raises(ValueError, match="same shape"):
        tf.nn.softmax_cross_entropy_with_logits_v2(labels=tf.zeros([2, 3]), logits=tf.zeros([2, 4]))
    with pytest.raises(ValueError, match="without its last dimension"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.zeros([2, 3], tf.int32), logits=tf.zeros([2, 3])
        )
    with pytest.raises(TypeError, match="labels"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.zeros([2]), logits=tf.zeros([2, 3]))


def test_softmax_axis_and_dim():
    with pytest.raises(ValueError, match="both 'axis' and 'dim'"):
        tf.nn.softmax(tf.zeros([2, 3]), axis=0, dim=0)
    with pytest.raises(ValueError, match="out of range"):
        tf.nn.log_softmax(tf.zeros([2, 3]), axis=2)


def test_conv2d_static_shapes():
    x = tf.placeholder(tf.float32, [None, 28, 28, 1])
    w = tf.zeros([5, 5, 1, 32])
    assert tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME").shape.as_list() == [None, 28, 28, 32]
    assert tf.nn.conv2d(x, w, [1, 2, 2, 1], "VALID").shape.as_list() == [None, 12, 12, 32]
    assert tf.nn.conv2d(x, w, 1, "VALID", dilations=2).shape.as_list() == [None, 20, 20, 32]
    nchw = tf.placeholder(tf.float32, [8, 1, 28, 28])
    assert tf.nn.conv2d(nchw, w, [1, 1, 2, 2], "SAME", data_format="NCHW").shape.as_list() == [8, 32, 14, 14]
    pool = tf.nn.max_pool(x, [1, 3, 3, 1], [1, 2, 2, 1], "SAME")
    assert pool.shape.as_list() == [None, 14, 14, 1]
    assert tf.nn.avg_pool(x, 2, 2, "VALID").shape.as_list() == [None, 14, 14, 1]
    assert tf.nn.conv2d(tf.placeholder(tf.float32), w, 1, "SAME").shape.ndims is None


def test_conv2d_errors_when_built():
    x = tf.placeholder(tf.float32, [None, 4, 4, 3])
    with pytest.raises(ValueError, match="Depth of input"):
        tf.nn.conv2d(x, tf.zeros([3, 3, 2, 8]), 1, "SAME")
    with pytest.raises(ValueError, match="output size would be negative"):
        tf.nn.conv2d(x, tf.zeros([5, 5, 3, 8]), 1, "VALID")
    with pytest.raises(ValueError, match="padding"):
        tf.nn.conv2d(x, tf.zeros([3, 3, 3, 8]), 1, "FULL")
    with pytest.raises(ValueError, match="batch and depth"):
        tf.nn.conv2d(x, tf.zeros([3, 3, 3, 8]), [2, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="4-D"):
        tf.nn.max_pool(tf.zeros([4, 4]), 2, 2, "SAME")


def test_conv2d_transpose_shapes():
    x = tf.placeholder(tf.float32, [None, 4, 4, 8])
    w = tf.zeros([3, 3, 2, 8])
    assert tf.nn.conv2d_transpose(x, w, [5, 8, 8, 2], [1, 2, 2, 1]).shape.as_list() == [5, 8, 8, 2]
    dynamic = tf.nn.conv2d_transpose(x, w, tf.stack([tf.shape(x)[0], 8, 8, 2]), [1, 2, 2, 1])
    assert dynamic.shape.as_list() == [None, 8, 8, 2]
    assert run(dynamic, {x: np.ones((3, 4, 4, 8), np.float32)}).shape == (3, 8, 8, 2)
    with pytest.raises(ValueError, match="Depth of input_sizes"):
        tf.nn.conv2d_transpose(x, w, [5, 8, 8, 3], [1, 2, 2, 1])


def test_conv2d_depth_is_checked_at_run_time():
    x = tf.placeholder(tf.float32, [None, None, None, None])
    y = tf.nn.conv2d(x, tf.zeros([3, 3, 2, 4]), 1, "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Depth of input"):
        run(y, {x: np.zeros((1, 4, 4, 3), np.float32)})


def test_conv2d_second_derivative():
    """d/dx of sum((d conv / dw) * v): Conv2DBackpropFilter's gradient, through a session."""
    rng = np.random.default_rng(2)
    xv = rng.normal(size=(2, 5, 5, 2))
    wv = rng.normal(size=(3, 3, 2, 3))
    x, w = tf.constant(xv), tf.constant(wv)
    y = tf.nn.conv2d(x, w, [1, 2, 2, 1], "SAME")
    gw = tf.gradients(tf.reduce_sum(y * y), w)[0]
    ggx = tf.gradients(tf.reduce_sum(gw), x)[0]
    eps = 1e-6

    def total(xa):
        """sum(d sum(y * y) / dw) for input xa, by a first-order gradient only."""
        with tf.Graph().as_default():
            wc = tf.constant(wv)
            yy = tf.nn.conv2d(tf.constant(xa), wc, [1, 2, 2, 1], "SAME")
            return run(tf.reduce_sum(tf.gradients(tf.reduce_sum(yy * yy), wc)[0]))

    analytic = run(ggx)
    for index in [(0, 0, 0, 0), (1, 2, 3, 1), (0, 4, 4, 1)]:
        plus, minus = xv.copy(), xv.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric = (total(plus) - total(minus)) / (2 * eps)
        assert abs(analytic[index] - numeric) < 1e-4 * max(1.0, abs(numeric))


# -- agreement with TensorFlow ---------------------------------------------------------------------

API_NAMES = [
    "relu",
    "relu6",
    "elu",
    "selu",
    "leaky_relu",
    "softplus",
    "softsign",
    "crelu",
    "softmax",
    "log_softmax",
    "bias_add",
    "l2_loss",
    "l2_normalize",
    "moments",
    "batch_normalization",
    "in_top_k",
    "softmax_cross_entropy_with_logits_v2",
    "conv2d",
    "conv2d_backprop_input",
    "conv2d_backprop_filter",
    "max_pool",
    "avg_pool",
    "max_pool2d",
    "dropout",
    "conv2d_transpose",
    "xw_plus_b",
    "relu_layer",
]
TOP_LEVEL = [
    "random_normal",
    "truncated_normal",
    "random_uniform",
    "random_shuffle",
    "multinomial",
    "set_random_seed",
]


def _tf1():
    tensorflow = pytest.importorskip("tensorflow")
    return tensorflow.compat.v1


@pytest.mark.compat
def test_argument_names_match_tensorflow():
    v1 = _tf1()
    mine_and_theirs = [(getattr(tf.nn, n), getattr(v1.nn, n)) for n in API_NAMES]
    mine_and_theirs += [(getattr(tf, n), getattr(v1, n)) for n in TOP_LEVEL]
    for name in ("normal", "uniform", "truncated_normal", "shuffle", "categorical"):
        mine_and_theirs.append((getattr(tf.random, name), getattr(v1.random, name)))
    for mine, theirs in mine_and_theirs:
        ours = list(inspect.signature(mine).parameters)
        expected = list(inspect.signature(theirs).parameters)
        assert ours == expected, f"{mine.__name__}: {ours} vs TensorFlow's {expected}"


def _digits_cnn(lib, x, labels, weights):
    """The digits CNN: conv 3x3x1x16 SAME + relu, pool, conv 3x3x16x32 + relu, pool, dense 128, 10."""
    w1, b1, w2, b2, w3, b3, w4, b4 = [lib.constant(w) for w in weights]
    h = lib.nn.relu(lib.nn.bias_add(lib.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME"), b1))
    h = lib.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    h = lib.nn.relu(lib.nn.bias_add(lib.nn.conv2d(h, w2, [1, 1, 1, 1], "SAME"), b2))
    h = lib.nn.avg_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    h = lib.nn.elu(lib.matmul(lib.reshape(h, [-1, 2 * 2 * 32]), w3) + b3)
    logits = lib.matmul(h, w4) + b4
    loss = lib.reduce_mean(lib.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    return [loss, *lib.gradients(loss, [x, w1, w2, w3])]


@pytest.mark.compat
def test_digits_cnn_matches_tensorflow():
    v1 = _tf1()
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 1, (16, 8, 8, 1)).astype(np.float32)
    labels = rng.integers(0, 10, 16).astype(np.int32)
    shapes = [(3, 3, 1, 16), (16,), (3, 3, 16, 32), (32,), (128, 128), (128,), (128, 10), (10,)]
    weights = [rng.normal(0, 0.3, s).astype(np.float32) for s in shapes]
    x = tf.placeholder(tf.float32, [None, 8, 8, 1])
    ours = run(_digits_cnn(tf, x, tf.constant(labels), weights), {x: images})
    with v1.Graph().as_default():
        tx = v1.placeholder(v1.float32, [None, 8, 8, 1])
        with v1.Session() as sess:
            theirs = sess.run(_digits_cnn(v1, tx, v1.constant(labels), weights), {tx: images})
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.compat
def test_conv_and_pool_variants_match_tensorflow():
    v1 = _tf1()
    rng = np.random.default_rng(4)
    xv = rng.normal(size=(2, 7, 6, 3)).astype(np.float32)
    wv = rng.normal(size=(3, 2, 3, 4)).astype(np.float32)
    dense = rng.normal(size=(7 * 6 * 3, 4)).astype(np.float32)

    def build(lib, x):
        w = lib.constant(wv)
        outs = [
            lib.nn.conv2d(x, w, [1, 2, 3, 1], "SAME"),
            lib.nn.conv2d(x, w, [1, 1, 1, 1], "VALID", dilations=[1, 2, 1, 1]),
            lib.nn.max_pool(x, [1, 3, 2, 1], [1, 2, 2, 1], "SAME"),
            lib.nn.avg_pool(x, [1, 3, 3, 1], [1, 2, 1, 1], "SAME"),
            lib.nn.conv2d_transpose(x, lib.constant(wv[..., :2, :3]), [2, 14, 12, 2], [1, 2, 2, 1]),
            lib.nn.conv2d_transpose(x, lib.constant(wv[..., :3]), [2, 9, 7, 3], [1, 1, 1, 1], "VALID"),
            lib.nn.relu_layer(lib.reshape(x, [2, -1]), lib.constant(dense), lib.constant(wv[0, 0, 0])),
        ]
        total = lib.add_n([lib.reduce_sum(o * o) for o in outs])
        return outs + lib.gradients(total, [x])

    x = tf.placeholder(tf.float32, xv.shape)
    ours = run(build(tf, x), {x: xv})
    with v1.Graph().as_default():
        tx = v1.placeholder(v1.float32, xv.shape)
        with v1.Session() as sess:
            theirs = sess.run(build(v1, tx), {tx: xv})
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
