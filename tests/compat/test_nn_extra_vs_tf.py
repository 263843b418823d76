"""tf.nn's embedding, top_k, sampled-loss, normalization and extra convolution ops against TensorFlow.

Each program is a function of a module (`raygraph` or `tensorflow.compat.v1`)
and its input tensors; it is built once with each, fed the same arrays, and the
outputs and the gradients of a random weighting of the float outputs with
respect to the float inputs must agree. The sampled losses are fed their
`sampled_values`, since the two libraries' samplers draw differently.
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1
RTOL, ATOL = 2e-5, 2e-5


def _build(tf, program, arrays):
    inputs = [tf.placeholder(tf.as_dtype(a.dtype), a.shape, name=f"in{i}") for i, a in enumerate(arrays)]
    outputs = program(tf, *inputs)
    outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
    rng = np.random.default_rng(7)
    floats = [y for y in outputs if y.dtype.is_floating]
    loss = None
    for y in floats:
        w = rng.uniform(-1, 1, [d if d is not None else 1 for d in y.shape.as_list()]).astype(
            y.dtype.as_numpy_dtype
        )
        term = tf.reduce_sum(y * w)
        loss = term if loss is None else loss + term
    wrt = [x for x in inputs if x.dtype.is_floating]
    grads = tf.gradients(loss, wrt) if loss is not None and wrt else []
    grads = [
        None if g is None else tf.convert_to_tensor(g) for g in grads
    ]  # TensorFlow's IndexedSlices, dense
    return inputs, outputs, grads


def _run(tf, session, program, arrays):
    inputs, outputs, grads = _build(tf, program, arrays)
    with session() as sess:
        return sess.run([outputs, [g for g in grads if g is not None]], dict(zip(inputs, arrays))), [
            g is None for g in grads
        ]


def compare(program, *arrays, rtol=RTOL, atol=ATOL):
    """Builds `program` with TensorFlow and raygraph on `arrays`; outputs and gradients must match."""
    with v1.Graph().as_default():
        (theirs, their_grads), their_missing = _run(v1, v1.Session, program, arrays)
    with raygraph.Graph().as_default():
        (ours, our_grads), our_missing = _run(raygraph, lambda: raygraph.Session("local"), program, arrays)
    assert our_missing == their_missing, (
        f"gradients missing: ours {our_missing}, TensorFlow's {their_missing}"
    )
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, f"output {k}: shape {a.shape} vs TensorFlow's {b.shape}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"output {k}")
    for k, (a, b) in enumerate(zip(our_grads, their_grads, strict=True)):
        np.testing.assert_allclose(
            np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, err_msg=f"gradient {k}"
        )
    return ours


def _rand(*shape, seed=0, low=-1.0, high=1.0, dtype=np.float32):
    return np.random.default_rng(seed + len(shape)).uniform(low, high, shape).astype(dtype)


# -- top_k --------------------------------------------------------------------------------------


def test_top_k_values_indices_and_gradient():
    x = np.random.default_rng(0).permutation(60).reshape(3, 4, 5).astype(np.float32) / 7
    compare(lambda tf, x: tf.nn.top_k(x, k=3), x)
    compare(lambda tf, x: tf.nn.top_k(x, k=5, sorted=True), x)


def test_top_k_ties_take_the_lower_index_first():
    x = np.array([[1, 3, 3, 2, 3], [0, 0, 0, 0, 0]], np.float32)
    compare(lambda tf, x: list(tf.nn.top_k(x, 4)), x)


def test_top_k_static_shape():
    x = raygraph.placeholder(raygraph.float32, [None, 7])
    values, indices = raygraph.nn.top_k(x, 2)
    assert values.shape.as_list() == [None, 2] and indices.dtype == raygraph.int32
    with pytest.raises(ValueError, match="at least k=9"):
        raygraph.nn.top_k(x, 9)


# -- embedding_lookup ----------------------------------------------------------------------------


def test_embedding_lookup_one_table():
    params, ids = _rand(10, 4), np.array([[1, 9, 1], [0, 3, 3]], np.int64)
    compare(lambda tf, p, i: tf.nn.embedding_lookup(p, i), params, ids)


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_embedding_lookup_partitioned(strategy):
    parts = [_rand(4, 3, seed=1), _rand(3, 3, seed=2), _rand(3, 3, seed=3)]
    ids = np.array([[0, 1, 2, 3], [9, 8, 7, 4], [5, 6, 5, 0]], np.int32)
    compare(
        lambda tf, a, b, c, i: tf.nn.embedding_lookup([a, b, c], i, partition_strategy=strategy), *parts, ids
    )


def test_embedding_lookup_max_norm():
    params = _rand(6, 4, low=-3, high=3)
    params[2] = 0  # a zero row keeps a zero gradient, not NaN
    ids = np.array([0, 2, 5, 5, 1], np.int32)
    compare(lambda tf, p, i: tf.nn.embedding_lookup(p, i, max_norm=1.5), params, ids)


def test_embedding_lookup_trains_a_variable():
    table = _rand(8, 3)
    ids = np.array([1, 1, 7], np.int32)

    def train(tf, session):
        with tf.Graph().as_default():
            w = tf.Variable(table, name="embeddings")
            loss = tf.reduce_sum(tf.square(tf.nn.embedding_lookup(w, ids)))
            step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
            with session() as sess:
                sess.run(tf.global_variables_initializer())
                sess.run(step)
                return sess.run(w)

    np.testing.assert_allclose(
        train(raygraph, lambda: raygraph.Session("local")), train(v1, v1.Session), rtol=RTOL, atol=ATOL
    )


# -- sampled losses ---------------------------------------------------------------------------------

SAMPLED = np.array([3, 0, 7, 5, 9], np.int64)  # class 3 and 5 are also true labels: accidental hits


def _sampled_values(tf):
    true_count = tf.constant(np.array([[0.3], [0.2], [0.5], [0.25]], np.float32).repeat(2, 1))
    sampled_count = tf.constant(np.array([0.2, 0.9, 0.4, 0.3, 0.1], np.float32))
    return tf.constant(SAMPLED), true_count, sampled_count


@pytest.mark.parametrize("loss", ["nce_loss", "sampled_softmax_loss"])
@pytest.mark.parametrize("remove_hits", [False, True])
def test_sampled_losses_with_fed_samples(loss, remove_hits):
    weights, biases, inputs = _rand(10, 6, seed=1), _rand(10, seed=2), _rand(4, 6, seed=3)
    labels = np.array([[3, 1], [5, 5], [2, 8], [9, 4]], np.int64)

    def program(tf, w, b, x):
        true_count = tf.constant(np.array([[0.3, 0.1], [0.2, 0.2], [0.5, 0.4], [0.25, 0.6]], np.float32))
        sampled = (tf.constant(SAMPLED), true_count, _sampled_values(tf)[2])
        return getattr(tf.nn, loss)(
            w, b, labels, x, num_sampled=5, num_classes=10, num_true=2,
            sampled_values=sampled, remove_accidental_hits=remove_hits,
        )  # fmt: skip

    compare(program, weights, biases, inputs)


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_nce_loss_partitioned_weights(strategy):
    w0, w1, w2 = _rand(4, 5, seed=4), _rand(3, 5, seed=5), _rand(3, 5, seed=6)
    biases, inputs = _rand(10, seed=7), _rand(3, 5, seed=8)
    labels = np.array([[1], [6], [9]], np.int32)

    def program(tf, a, b, c, bias, x):
        sampled = (
            tf.constant(SAMPLED),
            tf.constant(np.full([3, 1], 0.4, np.float32)),
            _sampled_values(tf)[2],
        )
        return tf.nn.nce_loss(
            [a, b, c], bias, labels, x, num_sampled=5, num_classes=10, sampled_values=sampled,
            partition_strategy=strategy, remove_accidental_hits=True,
        )  # fmt: skip

    compare(program, w0, w1, w2, biases, inputs)


def test_compute_accidental_hits():
    true = np.array([[3, 1], [5, 5], [2, 8]], np.int64)

    def hits(tf, session):
        with tf.Graph().as_default():
            out = tf.nn.compute_accidental_hits(tf.constant(true), tf.constant(SAMPLED), num_true=2)
            with session() as sess:
                return sess.run(list(out))

    ours = hits(raygraph, lambda: raygraph.Session("local"))
    theirs = hits(v1, v1.Session)
    assert sorted(zip(ours[0], ours[1])) == sorted(zip(theirs[0], theirs[1]))
    np.testing.assert_array_equal(ours[2], theirs[2])
    assert ours[0].dtype == theirs[0].dtype and ours[1].dtype == theirs[1].dtype


def test_log_uniform_expected_counts_without_unique_match():
    true = np.array([[0], [4], [99]], np.int64)

    def counts(tf, session):
        _, true_count, sampled_count = tf.nn.log_uniform_candidate_sampler(true, 1, 6, False, 100, seed=3)
        with session() as sess:
            return sess.run(true_count)

    with v1.Graph().as_default():
        theirs = counts(v1, v1.Session)
    with raygraph.Graph().as_default():
        ours = counts(raygraph, lambda: raygraph.Session("local"))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


# -- normalization and small composites ------------------------------------------------------------------


def test_lrn_forward_and_gradient():
    x = _rand(2, 3, 3, 8, low=-2, high=2)
    compare(lambda tf, x: tf.nn.lrn(x, depth_radius=2, bias=1.5, alpha=0.3, beta=0.75), x)
    compare(lambda tf, x: tf.nn.local_response_normalization(x), x)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_fused_batch_norm_training(data_format):
    x = _rand(4, 3, 5, 2, low=-2, high=3) if data_format == "NHWC" else _rand(4, 2, 3, 5, low=-2, high=3)
    scale, offset = _rand(2, seed=1) + 2, _rand(2, seed=2)
    if data_format == "NCHW":

        def program(tf, x, s, o):  # TensorFlow's CPU kernel takes NCHW only by transposing
            y, m, v = tf.nn.fused_batch_norm(tf.transpose(x, [0, 2, 3, 1]), s, o, epsilon=1e-3)
            return tf.transpose(y, [0, 3, 1, 2]), m, v

        theirs = compare(program, x, scale, offset)
        with raygraph.Graph().as_default():
            y, m, v = raygraph.nn.fused_batch_norm(x, scale, offset, epsilon=1e-3, data_format="NCHW")
            with raygraph.Session("local") as sess:
                ours = sess.run([y, m, v])
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
        return
    compare(lambda tf, x, s, o: tf.nn.fused_batch_norm(x, s, o, epsilon=1e-3), x, scale, offset)


def test_fused_batch_norm_inference_and_running_average():
    x, scale, offset = _rand(3, 2, 2, 3), _rand(3, seed=1), _rand(3, seed=2)
    mean, var = _rand(3, seed=3), _rand(3, seed=4, low=0.5, high=2)
    compare(
        lambda tf, x, s, o, m, v: tf.nn.fused_batch_norm(x, s, o, m, v, is_training=False),
        x,
        scale,
        offset,
        mean,
        var,
    )
    compare(
        lambda tf, x, s, o, m, v: tf.nn.fused_batch_norm(x, s, o, m, v, exponential_avg_factor=0.3),
        x, scale, offset, mean, var,
    )  # fmt: skip


def test_small_composites():
    x = _rand(3, 4, low=-2, high=2)
    x[0, :2] = 0
    compare(lambda tf, x: tf.nn.zero_fraction(x), x)
    compare(lambda tf, x: tf.nn.swish(x), x)
    targets = np.array([[0, 0.5, 1, 3], [2, 7, 0.2, 1.5], [4, 1, 0, 9]], np.float32)
    compare(lambda tf, x: tf.nn.log_poisson_loss(targets, x, compute_full_loss=True), x)
    compare(lambda tf, x: tf.nn.log_poisson_loss(targets, x), x)


def test_batch_norm_with_global_normalization_and_moments_helpers():
    t, m, v, beta, gamma = (
        _rand(2, 3, 4),
        _rand(4, seed=1),
        _rand(4, seed=2, low=0.5),
        _rand(4, seed=3),
        _rand(4, seed=4),
    )
    for scale in (True, False):
        compare(
            lambda tf, t, m, v, b, g, scale=scale: tf.nn.batch_norm_with_global_normalization(t, m, v, b, g, 1e-3, scale),
            t, m, v, beta, gamma,
        )  # fmt: skip

    def stats(tf, x):
        counts, mean_ss, var_ss, _ = tf.nn.sufficient_statistics(x, [0, 1])
        return tf.nn.normalize_moments(counts, mean_ss, var_ss, None)

    compare(stats, t)
    w = _rand(2, 3, 1, seed=9, low=0.1, high=1)
    compare(lambda tf, x, w: tf.nn.weighted_moments(x, [0, 1], w), t, w)


# -- convolutions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stride,padding,dilation", [(1, "SAME", 1), (2, "VALID", 1), (1, "SAME", 2), (2, "SAME", 1)]
)
def test_conv1d(stride, padding, dilation):
    x, w = _rand(2, 9, 3), _rand(3, 3, 4, seed=1)
    compare(lambda tf, x, w: tf.nn.conv1d(x, w, stride, padding, dilations=dilation), x, w)


def test_conv1d_transpose_and_pool1d():
    x, w = _rand(2, 5, 4), _rand(3, 2, 4, seed=1)
    compare(lambda tf, x, w: tf.nn.conv1d_transpose(x, w, [2, 10, 2], 2, "SAME"), x, w)
    y = _rand(2, 9, 3, seed=2)
    compare(lambda tf, y: tf.nn.max_pool1d(y, 3, 2, "VALID"), y)
    compare(lambda tf, y: tf.nn.avg_pool1d(y, 2, 2, "SAME"), y)
    compare(lambda tf, y: tf.nn.pool(y, [3], "MAX", "SAME", strides=[2]), y)
    compare(lambda tf, y: tf.nn.convolution(y, tf.constant(_rand(2, 3, 2, seed=4)), "VALID"), y)


def test_atrous_conv2d_and_transpose():
    x, w = _rand(2, 7, 7, 3), _rand(3, 3, 3, 2, seed=1)
    compare(lambda tf, x, w: tf.nn.atrous_conv2d(x, w, 2, "SAME"), x, w)
    compare(lambda tf, x, w: tf.nn.atrous_conv2d(x, w, 3, "VALID"), x, w)
    y = _rand(2, 7, 7, 2, seed=2)
    compare(lambda tf, y, w: tf.nn.atrous_conv2d_transpose(y, w, [2, 7, 7, 3], 2, "SAME"), y, w)


@pytest.mark.parametrize(
    "strides,padding,rate", [(1, "SAME", 1), (2, "VALID", 1), (2, "SAME", 1), (1, "SAME", 2)]
)
def test_depthwise_conv2d(strides, padding, rate):
    x, w = _rand(2, 7, 6, 3), _rand(3, 2, 3, 2, seed=1)
    s = [1, strides, strides, 1]
    compare(lambda tf, x, w: tf.nn.depthwise_conv2d(x, w, s, padding, rate=[rate, rate]), x, w)


def test_depthwise_native_and_its_gradients_ops():
    x, w = _rand(2, 6, 6, 3), _rand(3, 3, 3, 2, seed=1)
    dy = _rand(2, 3, 3, 6, seed=2)
    s = [1, 2, 2, 1]
    compare(lambda tf, x, w: tf.nn.depthwise_conv2d_native(x, w, s, "SAME"), x, w)
    compare(
        lambda tf, w, dy: tf.nn.depthwise_conv2d_native_backprop_input([2, 6, 6, 3], w, dy, s, "SAME"), w, dy
    )
    compare(
        lambda tf, x, dy: tf.nn.depthwise_conv2d_native_backprop_filter(x, [3, 3, 3, 2], dy, s, "SAME"), x, dy
    )


def test_separable_conv2d():
    x, dw, pw = _rand(2, 6, 6, 3), _rand(3, 3, 3, 2, seed=1), _rand(1, 1, 6, 4, seed=2)
    compare(lambda tf, x, a, b: tf.nn.separable_conv2d(x, a, b, [1, 1, 1, 1], "SAME"), x, dw, pw)
    compare(lambda tf, x, a, b: tf.nn.separable_conv2d(x, a, b, [1, 2, 2, 1], "VALID"), x, dw, pw)


# -- tf.layers: Conv1D, Conv2DTranspose, separable convolutions, 1-D pooling -----------------------------


@pytest.fixture(scope="module")
def tf_layers():
    """tf.compat.v1.layers, which TensorFlow 2 ships in the tf_keras package."""
    return pytest.importorskip("tf_keras.api._v1.keras.__internal__.legacy.layers")


SEQ = _rand(3, 10, 4, seed=11)
IMG = _rand(2, 5, 6, 3, seed=12)


def conv_layers(tf, layers, initial):
    """Each layer once (named or not, NHWC and NCHW), and a class layer called twice."""
    with tf.Graph().as_default():
        seq = tf.placeholder(tf.float32, [None, 10, 4])
        img = tf.placeholder(tf.float32, [None, 5, 6, 3])
        outputs = [
            layers.conv1d(seq, 5, 3, strides=2, padding="same", activation=tf.nn.relu),
            layers.conv1d(seq, 2, 3, dilation_rate=2, name="dilated"),
            layers.max_pooling1d(seq, 3, 2),
            layers.average_pooling1d(seq, 2, 2, padding="same"),
            layers.separable_conv1d(seq, 3, 3, depth_multiplier=2, padding="same"),
            layers.conv2d_transpose(img, 4, 3, strides=2, padding="same"),
            layers.conv2d_transpose(img, 2, (3, 2), strides=(2, 3), padding="valid", name="up"),
            layers.separable_conv2d(img, 5, 3, depth_multiplier=2, strides=2, padding="same"),
            layers.separable_conv2d(img, 4, 2, dilation_rate=2, use_bias=False),
        ]
        shared = layers.Conv2DTranspose(3, 2, strides=2)
        outputs += [shared(img), shared(img * 2.0)]
        variables = tf.global_variables()
        loss = tf.add_n([tf.reduce_sum(y * y) for y in outputs])
        grads = tf.gradients(loss, [seq, img] + variables)
        with tf.Session() if tf is v1 else tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            if initial is None:
                initial = {v.name: sess.run(v) for v in variables}
            else:
                for v in variables:
                    v.load(initial[v.name], sess)
            values = sess.run([outputs, grads], {seq: SEQ, img: IMG})
        return {
            "initial": initial,
            "values": values,
            "names": [v.name for v in variables],
            "shapes": [y.shape.as_list() for y in outputs],
        }


def test_conv_layers_match_tensorflow(tf_layers):
    theirs = conv_layers(v1, tf_layers, None)
    ours = conv_layers(raygraph, raygraph.layers, theirs["initial"])
    assert ours["names"] == theirs["names"]
    assert ours["shapes"] == theirs["shapes"]
    for k, (a, b) in enumerate(
        zip(ours["values"][0] + ours["values"][1], theirs["values"][0] + theirs["values"][1])
    ):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=f"value {k}")


def test_silu_and_weighted_cross_entropy():
    x, labels = _rand(3, 4, low=-4, high=4), _rand(3, 4, seed=5, low=0, high=1)
    compare(lambda tf, x: tf.nn.silu(x), x)
    compare(
        lambda tf, x, z: tf.nn.weighted_cross_entropy_with_logits(labels=z, logits=x, pos_weight=2.5),
        x,
        labels,
    )
