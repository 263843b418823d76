"""raygraph.onnx.export: ONNX Runtime computes what Session.run computes (MLP, digits CNN)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import raygraph as tf  # noqa: E402
import raygraph.onnx  # noqa: E402


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32)[..., None], d.target.astype(np.int32)


def _run_onnx(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


def _train(sess, train_op, feeds, steps=20):
    for _ in range(steps):
        sess.run(train_op, feeds)


def test_mlp_matches_session_run(tmp_path):
    rng = np.random.default_rng(0)
    x_val = rng.standard_normal((16, 5)).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 5], name="x")
        labels = tf.placeholder(tf.int32, [None], name="labels")
        h = tf.layers.dense(x, 8, activation=tf.nn.relu)
        h = tf.layers.dense(h, 8, activation=tf.nn.tanh)
        logits = tf.layers.dense(h, 3)
        probs = tf.nn.softmax(logits)
        classes = tf.argmax(logits, 1, output_type=tf.int32)
        mean = tf.reduce_mean(tf.square(logits - 1.0), axis=1)
        loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            _train(sess, train, {x: x_val, labels: rng.integers(0, 3, 16).astype(np.int32)})
            ref = sess.run({"probs": probs, "classes": classes, "mean": mean}, {x: x_val})
            path = tmp_path / "mlp.onnx"
            model = raygraph.onnx.export(
                sess, path, {"x": x}, {"probs": probs, "classes": classes, "mean": mean}
            )
    onnx.checker.check_model(model)
    assert {i.name for i in model.graph.initializer} and not [n for n in model.graph.node if "Adam" in n.name]
    got = _run_onnx(path, {"x": x_val})
    np.testing.assert_allclose(got["probs"], ref["probs"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["mean"], ref["mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["classes"], ref["classes"])
    assert got["classes"].dtype == np.int32


def _digits_cnn():
    images = tf.placeholder(tf.float32, [None, 8, 8, 1], name="images")
    labels = tf.placeholder(tf.int32, [None], name="labels")
    net = tf.layers.conv2d(images, 8, 3, padding="same", activation=tf.nn.relu)
    net = tf.layers.max_pooling2d(net, 2, 2)
    net = tf.layers.conv2d(net, 16, 3, padding="valid", activation=tf.nn.relu)
    net = tf.layers.average_pooling2d(net, 2, 1, padding="same")
    net = tf.layers.flatten(net)
    net = tf.layers.dense(net, 32, activation=tf.nn.relu)
    net = tf.layers.dropout(net, rate=0.25, training=False)
    logits = tf.layers.dense(net, 10)
    loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    train = tf.train.AdamOptimizer(3e-3).minimize(loss)
    return images, labels, tf.nn.softmax(logits, name="probs"), train


def test_digits_cnn_matches_session_run_and_a_saved_model_exports_too(tmp_path):
    x_all, y_all = _digits()
    g = tf.Graph()
    with g.as_default():
        images, labels, probs, train = _digits_cnn()
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            _train(sess, train, {images: x_all[:256], labels: y_all[:256]}, steps=10)
            ref = sess.run(probs, {images: x_all[:300]})
            raygraph.onnx.export(sess, tmp_path / "cnn.onnx", {"images": images}, {"probs": probs})
            tf.saved_model.simple_save(sess, str(tmp_path / "export"), {"images": images}, {"probs": probs})
    got = _run_onnx(tmp_path / "cnn.onnx", {"images": x_all[:300]})["probs"]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6)
    raygraph.onnx.export(str(tmp_path / "export"), tmp_path / "from_dir.onnx")  # the serving signature
    got = _run_onnx(tmp_path / "from_dir.onnx", {"images": x_all[:300]})["probs"]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6)


def test_op_without_mapping_is_named(tmp_path):
    g = tf.Graph()
    with g.as_default(), tf.Session("local") as sess:
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        y = tf.cumsum(x, axis=1, name="running")
        with pytest.raises(NotImplementedError, match="Cumsum 'running'.*no ONNX mapping"):
            raygraph.onnx.export(sess, tmp_path / "bad.onnx", [x], [y])


def test_output_needing_an_unlisted_placeholder_is_refused(tmp_path):
    g = tf.Graph()
    with g.as_default(), tf.Session("local") as sess:
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        z = tf.placeholder(tf.float32, [None, 4], name="z")
        with pytest.raises(ValueError, match="placeholder 'z:0'"):
            raygraph.onnx.export(sess, tmp_path / "bad.onnx", [x], [x * z])
