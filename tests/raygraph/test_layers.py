"""tf.layers: TF1 names, shapes, reuse, and outputs against numpy from the layer's own variables."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf

rng = np.random.default_rng(0)


def _run(fetches, feed=None):
    """Initializes the variables and runs `fetches` once in a new session."""
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def _names(variables):
    return [v.name for v in variables]


# -- numpy references -------------------------------------------------------------------------


def conv2d_nhwc(x, k, stride=(1, 1), padding="VALID", dilation=(1, 1)):
    """Direct 2-D convolution (cross-correlation, as TensorFlow) of NHWC x by HWIO k."""
    kh, kw = (k.shape[0] - 1) * dilation[0] + 1, (k.shape[1] - 1) * dilation[1] + 1
    if padding == "SAME":
        oh, ow = -(-x.shape[1] // stride[0]), -(-x.shape[2] // stride[1])
        ph = max((oh - 1) * stride[0] + kh - x.shape[1], 0)
        pw = max((ow - 1) * stride[1] + kw - x.shape[2], 0)
        x = np.pad(x, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)])
    oh = (x.shape[1] - kh) // stride[0] + 1
    ow = (x.shape[2] - kw) // stride[1] + 1
    out = np.zeros((x.shape[0], oh, ow, k.shape[3]), np.float64)
    for i in range(k.shape[0]):
        for j in range(k.shape[1]):
            di, dj = i * dilation[0], j * dilation[1]
            patch = x[
                :,
                di : di + (oh - 1) * stride[0] + 1 : stride[0],
                dj : dj + (ow - 1) * stride[1] + 1 : stride[1],
            ]
            out += patch @ k[i, j]
    return out


def pool_nhwc(x, size, stride, reduce):
    oh, ow = (x.shape[1] - size) // stride + 1, (x.shape[2] - size) // stride + 1
    out = np.empty((x.shape[0], oh, ow, x.shape[3]), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = reduce(
                x[:, i * stride : i * stride + size, j * stride : j * stride + size], axis=(1, 2)
            )
    return out


def relu(x):
    return np.maximum(x, 0)


# -- dense ---------------------------------------------------------------------------------------


def test_dense_names_shapes_and_values():
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    h = tf.layers.dense(x, 3, activation=tf.nn.relu)
    y = tf.layers.dense(h, 2, use_bias=False)
    assert _names(tf.global_variables()) == ["dense/kernel:0", "dense/bias:0", "dense_1/kernel:0"]
    assert _names(tf.trainable_variables()) == _names(tf.global_variables())
    assert h.name == "dense/Relu:0" and y.name == "dense_1/MatMul:0"
    assert h.shape.as_list() == [None, 3] and y.shape.as_list() == [None, 2]
    xv = rng.normal(size=(5, 4)).astype(np.float32)
    k0, b0, k1, hv, yv = _run(tf.global_variables() + [h, y], {x: xv})
    assert k0.shape == (4, 3) and np.all(b0 == 0)
    np.testing.assert_allclose(hv, relu(xv @ k0 + b0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(yv, hv @ k1, rtol=1e-5, atol=1e-6)


def test_dense_over_the_last_axis_of_a_rank_3_input():
    x = tf.placeholder(tf.float32, [None, 5, 4])
    y = tf.layers.dense(x, 3, bias_initializer=tf.constant_initializer(0.5))
    assert y.shape.as_list() == [None, 5, 3]
    xv = rng.normal(size=(2, 5, 4)).astype(np.float32)
    kernel, yv = _run([tf.global_variables()[0], y], {x: xv})
    np.testing.assert_allclose(yv, xv @ kernel + 0.5, rtol=1e-5, atol=1e-6)


def test_dense_initializers_regularizers_and_trainable():
    x = tf.constant(rng.normal(size=(4, 3)).astype(np.float32))
    y = tf.layers.dense(
        x,
        2,
        kernel_initializer=tf.ones_initializer(),
        kernel_regularizer=lambda w: tf.reduce_sum(w),
        bias_regularizer=lambda b: 2 * tf.reduce_sum(b),
        activity_regularizer=lambda a: tf.reduce_sum(tf.abs(a)),
        trainable=False,
    )
    assert tf.trainable_variables() == []
    losses = tf.losses.get_regularization_losses()
    assert [t.name.split("/")[:2] for t in losses] == [
        ["dense", "kernel"],
        ["dense", "bias"],
        ["dense", "ActivityRegularizer"],
    ]
    xv, yv, lv = _run([x, y, losses])
    np.testing.assert_allclose(yv, xv.sum(1, keepdims=True) * np.ones((1, 2)), rtol=1e-5)
    np.testing.assert_allclose(lv, [6.0, 0.0, np.abs(yv).sum() / 4], rtol=1e-5)


def test_dense_named_layers_and_reuse():
    x = tf.placeholder(tf.float32, [None, 4])
    y1 = tf.layers.dense(x, 3, name="fc")
    with pytest.raises(ValueError, match="Variable fc/kernel already exists, disallowed"):
        tf.layers.dense(x, 3, name="fc")
    y2 = tf.layers.dense(x, 3, name="fc", reuse=True)
    y3 = tf.layers.dense(x, 3, name="fc", reuse=tf.AUTO_REUSE)
    assert _names(tf.global_variables()) == ["fc/kernel:0", "fc/bias:0"]
    assert y1.name == "fc/BiasAdd:0" and y2.name.startswith("fc_") and y3.name.startswith("fc_")
    xv = rng.normal(size=(2, 4)).astype(np.float32)
    a, b, c = _run([y1, y2, y3], {x: xv})
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_dense_shares_variables_through_variable_scopes():
    x = tf.placeholder(tf.float32, [None, 4])
    with tf.variable_scope("model"):
        first = tf.layers.dense(x, 2)
    with tf.variable_scope("model", reuse=True):
        second = tf.layers.dense(x, 2)
    assert _names(tf.global_variables()) == ["model/dense/kernel:0", "model/dense/bias:0"]
    assert first.name == "model/dense/BiasAdd:0" and second.name == "model_1/dense/BiasAdd:0"


def test_layer_objects_are_called_many_times():
    layer = tf.layers.Dense(3, name="shared")
    other = tf.layers.Dense(3, name="shared")
    x1, x2 = tf.placeholder(tf.float32, [None, 4]), tf.placeholder(tf.float32, [None, 4])
    y1, y2 = layer(x1), layer(x2)
    other(x1)
    assert _names(layer.variables) == ["shared/kernel:0", "shared/bias:0"]
    assert _names(other.variables) == ["shared_1/kernel:0", "shared_1/bias:0"]  # class form: made unique
    assert layer.trainable_variables == layer.variables and layer.non_trainable_variables == []
    assert y2.name == "shared/BiasAdd_1:0"
    xv = rng.normal(size=(2, 4)).astype(np.float32)
    a, b = _run([y1, y2], {x1: xv, x2: xv})
    np.testing.assert_array_equal(a, b)


def test_dense_input_errors_name_the_layer():
    with pytest.raises(ValueError, match="last dimension of the inputs to a Dense layer should be defined"):
        tf.layers.dense(tf.placeholder(tf.float32, [None, None]), 3)
    layer = tf.layers.Dense(3)
    layer(tf.placeholder(tf.float32, [None, 4]))
    with pytest.raises(
        ValueError, match='layer "dense_1" is incompatible .* expected axis -1 of input shape to have value 4'
    ):
        layer(tf.placeholder(tf.float32, [None, 5]))
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        tf.layers.dense(tf.placeholder(tf.float32, [4]), 3)


def test_layers_take_the_input_dtype():
    y = tf.layers.dense(tf.placeholder(tf.float64, [None, 4]), 2)
    assert y.dtype == tf.float64 and tf.global_variables()[0].dtype == tf.float64


# -- convolution, pooling, flatten -------------------------------------------------------------------


@pytest.mark.parametrize(
    "padding,strides,dilation", [("valid", 1, 1), ("same", 1, 1), ("same", 2, 1), ("valid", 1, 2)]
)
def test_conv2d_matches_numpy(padding, strides, dilation):
    x = tf.placeholder(tf.float32, [None, 7, 7, 2])
    y = tf.layers.conv2d(
        x,
        3,
        3,
        strides=strides,
        padding=padding,
        dilation_rate=dilation,
        activation=tf.nn.relu,
        bias_initializer=tf.constant_initializer(0.1),
    )
    assert _names(tf.global_variables()) == ["conv2d/kernel:0", "conv2d/bias:0"]
    assert y.name == "conv2d/Relu:0"
    xv = rng.normal(size=(2, 7, 7, 2)).astype(np.float32)
    kernel, bias, yv = _run(tf.global_variables() + [y], {x: xv})
    assert kernel.shape == (3, 3, 2, 3)
    expected = relu(conv2d_nhwc(xv, kernel, (strides, strides), padding.upper(), (dilation, dilation)) + bias)
    assert y.shape.as_list()[1:] == list(expected.shape[1:])
    np.testing.assert_allclose(yv, expected, rtol=1e-5, atol=1e-5)


def test_conv2d_channels_first():
    x = tf.placeholder(tf.float32, [None, 2, 6, 6])
    y = tf.layers.conv2d(x, 4, (3, 2), data_format="channels_first", bias_initializer=tf.ones_initializer())
    assert y.shape.as_list() == [None, 4, 4, 5]
    xv = rng.normal(size=(1, 2, 6, 6)).astype(np.float32)
    kernel, yv = _run([tf.global_variables()[0], y], {x: xv})
    expected = conv2d_nhwc(xv.transpose(0, 2, 3, 1), kernel).transpose(0, 3, 1, 2) + 1.0
    np.testing.assert_allclose(yv, expected, rtol=1e-5, atol=1e-5)


def test_conv2d_input_checks():
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=2"):
        tf.layers.conv2d(tf.placeholder(tf.float32, [None, 4]), 2, 3)
    with pytest.raises(ValueError, match="channel dimension .* should be defined"):
        tf.layers.conv2d(tf.placeholder(tf.float32, [None, 4, 4, None]), 2, 3)
    with pytest.raises(ValueError, match='`padding` argument must be one of "valid", "same"'):
        tf.layers.conv2d(tf.placeholder(tf.float32, [None, 4, 4, 1]), 2, 3, padding="full")


def test_pooling_and_flatten():
    x = tf.placeholder(tf.float32, [None, 6, 6, 3])
    mp = tf.layers.max_pooling2d(x, 2, 2)
    ap = tf.layers.average_pooling2d(x, 3, 1)
    same = tf.layers.max_pooling2d(x, 4, 4, padding="same")
    flat = tf.layers.flatten(mp)
    assert [t.name for t in (mp, ap, flat)] == [
        "max_pooling2d/MaxPool:0",
        "average_pooling2d/AvgPool:0",
        "flatten/Reshape:0",
    ]
    assert same.shape.as_list() == [None, 2, 2, 3] and flat.shape.as_list() == [None, 27]
    xv = rng.normal(size=(2, 6, 6, 3)).astype(np.float32)
    mv, av, fv = _run([mp, ap, flat], {x: xv})
    np.testing.assert_array_equal(mv, pool_nhwc(xv, 2, 2, np.max))
    np.testing.assert_allclose(av, pool_nhwc(xv, 3, 1, np.mean), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fv, mv.reshape(2, -1))


def test_flatten_shapes():
    known_batch = tf.layers.flatten(tf.placeholder(tf.float32, [3, None, 2]))
    unknown = tf.placeholder(tf.float32, [None, None, 4])
    dynamic = tf.layers.flatten(unknown)
    vector = tf.layers.flatten(tf.placeholder(tf.float32, [5]))
    first = tf.placeholder(tf.float32, [None, 2, 3, 4])
    channels_first = tf.layers.flatten(first, data_format="channels_first")
    assert known_batch.shape.as_list() == [3, None]
    assert dynamic.shape.as_list() == [None, None]
    assert vector.shape.as_list() == [5, 1]
    assert channels_first.shape.as_list() == [None, 24]
    xv = rng.normal(size=(2, 2, 3, 4)).astype(np.float32)
    dv, cv = _run([dynamic, channels_first], {unknown: xv[:, 0], first: xv})
    np.testing.assert_array_equal(dv, xv[:, 0].reshape(2, -1))
    np.testing.assert_array_equal(cv, xv.transpose(0, 2, 3, 1).reshape(2, -1))


# -- dropout -------------------------------------------------------------------------------------


def test_dropout_by_python_flag():
    x = tf.constant(np.ones((200, 50), np.float32))
    off = tf.layers.dropout(x, 0.3)
    on = tf.layers.dropout(x, 0.3, training=True, seed=1)
    assert off.name == "dropout/Identity:0" and on.name.startswith("dropout_1/")
    ov, nv = _run([off, on])
    np.testing.assert_array_equal(ov, np.ones((200, 50)))
    assert set(np.unique(nv)) <= {0.0, np.float32(1 / 0.7)}
    assert (nv == 0).mean() == pytest.approx(0.3, abs=0.02)


def test_dropout_by_tensor_flag_and_noise_shape():
    x = tf.constant(np.ones((100, 40), np.float32))
    training = tf.placeholder(tf.bool, [])
    y = tf.layers.dropout(x, 0.5, noise_shape=[100, 1], training=training)
    with tf.Session("local") as sess:
        off = sess.run(y, {training: False})
        on = sess.run(y, {training: True})
    np.testing.assert_array_equal(off, np.ones((100, 40)))
    assert set(np.unique(on)) == {0.0, 2.0}
    assert np.all(on == on[:, :1])  # one decision per row
    with pytest.raises(TypeError, match="`training` must be a Python bool or a scalar bool tensor"):
        tf.layers.dropout(x, training=tf.constant(1))


def test_dropout_class_seeded():
    x = tf.constant(np.ones((10, 10), np.float32))
    layer = tf.layers.Dropout(0.5, seed=3)
    y = layer(x, training=True)
    with tf.Session("local") as sess:
        first = sess.run(y)
    with tf.Session("local") as sess:
        again = sess.run(y)
    np.testing.assert_array_equal(first, again)


# -- batch normalization ------------------------------------------------------------------------------


def _bn_reference(x, mean, var, gamma, beta, eps=1e-3):
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def test_batch_normalization_variables():
    x = tf.placeholder(tf.float32, [None, 4])
    tf.layers.batch_normalization(x)
    tf.layers.batch_normalization(x, center=False, name="bn")
    assert _names(tf.global_variables()) == [
        "batch_normalization/gamma:0",
        "batch_normalization/beta:0",
        "batch_normalization/moving_mean:0",
        "batch_normalization/moving_variance:0",
        "bn/gamma:0",
        "bn/moving_mean:0",
        "bn/moving_variance:0",
    ]
    assert _names(tf.trainable_variables()) == [
        "batch_normalization/gamma:0",
        "batch_normalization/beta:0",
        "bn/gamma:0",
    ]
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []  # training=False: nothing to update


def test_batch_normalization_inference_uses_moving_statistics():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.layers.batch_normalization(
        x,
        moving_mean_initializer=tf.constant_initializer([1.0, 2.0, 3.0]),
        moving_variance_initializer=tf.constant_initializer(4.0),
        gamma_initializer=tf.constant_initializer(2.0),
        beta_initializer=tf.constant_initializer(-1.0),
    )
    xv = rng.normal(size=(5, 3)).astype(np.float32)
    (yv,) = _run([y], {x: xv})
    np.testing.assert_allclose(yv, _bn_reference(xv, [1.0, 2.0, 3.0], 4.0, 2.0, -1.0), rtol=1e-5, atol=1e-6)


def test_batch_normalization_training_and_update_ops():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.layers.batch_normalization(x, training=True, momentum=0.9)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2 and all(op.type == "AssignSub" for op in updates)
    assert all(op.name.startswith("batch_normalization/AssignMovingAvg") for op in updates)
    _, _, mean_var, variance_var = tf.global_variables()
    xv = rng.normal(2.0, 3.0, size=(8, 3)).astype(np.float32)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        yv = sess.run(y, {x: xv})
        np.testing.assert_allclose(sess.run([mean_var, variance_var]), [np.zeros(3), np.ones(3)])
        sess.run(updates, {x: xv})
        mv, vv = sess.run([mean_var, variance_var])
    np.testing.assert_allclose(yv, _bn_reference(xv, xv.mean(0), xv.var(0), 1.0, 0.0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mv, 0.1 * xv.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vv, 0.9 + 0.1 * xv.var(0), rtol=1e-5)  # rank 2: biased variance


def test_batch_normalization_4d_updates_with_the_unbiased_variance():
    x = tf.placeholder(tf.float32, [None, 3, 3, 2])
    tf.layers.batch_normalization(x, training=True, momentum=0.5)
    dynamic = tf.placeholder(tf.float32, [None, None, None, 2])
    tf.layers.batch_normalization(dynamic, training=True, momentum=0.5)
    variances = [v for v in tf.global_variables() if "moving_variance" in v.name]
    xv = rng.normal(size=(2, 3, 3, 2)).astype(np.float32)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.get_collection(tf.GraphKeys.UPDATE_OPS), {x: xv, dynamic: xv})
        static_v, dynamic_v = sess.run(variances)
    unbiased = xv.reshape(-1, 2).var(0, ddof=1)
    np.testing.assert_allclose(static_v, 0.5 + 0.5 * unbiased, rtol=1e-5)
    np.testing.assert_allclose(dynamic_v, 0.5 + 0.5 * unbiased, rtol=1e-5)


def test_batch_normalization_with_a_training_tensor():
    x = tf.placeholder(tf.float32, [None, 2])
    training = tf.placeholder(tf.bool, [])
    y = tf.layers.batch_normalization(x, training=training, momentum=0.0)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    _, _, mean_var, variance_var = tf.global_variables()
    xv = rng.normal(1.0, 2.0, size=(6, 2)).astype(np.float32)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        inference, _ = sess.run([y, updates], {x: xv, training: False})
        unchanged = sess.run([mean_var, variance_var])
        trained, _ = sess.run([y, updates], {x: xv, training: True})
        moved = sess.run([mean_var, variance_var])
    np.testing.assert_allclose(inference, _bn_reference(xv, 0.0, 1.0, 1.0, 0.0), rtol=1e-5)
    np.testing.assert_array_equal(unchanged, [np.zeros(2), np.ones(2)])
    np.testing.assert_allclose(
        trained, _bn_reference(xv, xv.mean(0), xv.var(0), 1.0, 0.0), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(moved, [xv.mean(0), xv.var(0)], rtol=1e-5)  # momentum 0: the batch values


def test_batch_normalization_channels_first_axis():
    x = tf.placeholder(tf.float32, [None, 2, 3, 3])
    y = tf.layers.batch_normalization(
        x, axis=1, training=True, beta_initializer=tf.constant_initializer([1.0, -1.0])
    )
    assert tf.global_variables()[0].shape.as_list() == [2]
    xv = rng.normal(size=(4, 2, 3, 3)).astype(np.float32)
    (yv,) = _run([y], {x: xv})
    mean = xv.mean((0, 2, 3), keepdims=True)
    var = xv.var((0, 2, 3), keepdims=True)
    beta = np.array([1.0, -1.0]).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(yv, _bn_reference(xv, mean, var, 1.0, beta), rtol=1e-4, atol=1e-5)


def test_batch_normalization_unsupported_options():
    with pytest.raises(NotImplementedError, match="renorm"):
        tf.layers.batch_normalization(tf.placeholder(tf.float32, [None, 2]), renorm=True)


def test_a_small_model_trains_with_its_update_ops():
    x = tf.placeholder(tf.float32, [None, 4])
    labels = tf.placeholder(tf.int32, [None])
    training = tf.placeholder_with_default(False, [])
    h = tf.layers.dense(x, 8, activation=tf.nn.relu)
    h = tf.layers.batch_normalization(h, training=training)
    h = tf.layers.dropout(h, 0.1, training=training)
    logits = tf.layers.dense(h, 3)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    grads = tf.gradients(loss, tf.trainable_variables())
    assert all(g is not None for g in grads)
    xv = rng.normal(size=(16, 4)).astype(np.float32)
    yv = rng.integers(0, 3, 16).astype(np.int32)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            step = tf.group(*[v.assign_sub(0.1 * g) for v, g in zip(tf.trainable_variables(), grads)])
        before = sess.run(loss, {x: xv, labels: yv})
        for _ in range(20):
            sess.run(step, {x: xv, labels: yv, training: True})
        after = sess.run(loss, {x: xv, labels: yv})
    assert after < before
