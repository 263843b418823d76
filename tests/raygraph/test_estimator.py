"""tf.estimator: EstimatorSpec, RunConfig, Estimator train/evaluate/predict, numpy_input_fn,
train_and_evaluate, on the "local" target."""

from __future__ import annotations

import os

import numpy as np
import pytest

import raygraph as tf

RNG = np.random.default_rng(0)
X = RNG.normal(size=(10, 3)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.int64)


def model_fn(features, labels, mode, params):
    w = tf.get_variable("w", [3, 2], initializer=tf.constant_initializer(0.1))
    logits = tf.matmul(features["x"], w)
    classes = tf.argmax(logits, 1)
    if mode == tf.estimator.ModeKeys.PREDICT:
        return tf.estimator.EstimatorSpec(mode, predictions={"class": classes, "logits": logits})
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = tf.train.GradientDescentOptimizer(params["lr"]).minimize(loss, tf.train.get_global_step())
    metrics = {"acc": tf.metrics.accuracy(labels, classes)}
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops=metrics)


def make(tmp_path, **config):
    config = tf.estimator.RunConfig(master="local", **config)
    return tf.estimator.Estimator(model_fn, str(tmp_path / "model"), config, params={"lr": 0.5})


def numpy_fn(batch_size=4, num_epochs=1, shuffle=False, labels=True):
    return tf.estimator.inputs.numpy_input_fn(
        {"x": X}, Y if labels else None, batch_size=batch_size, num_epochs=num_epochs, shuffle=shuffle
    )


def reference(steps, batch_size=4, lr=0.5):
    """Full-numpy SGD on the same model: the losses of each step and the final weights."""
    w = np.full([3, 2], 0.1, np.float64)
    order = np.tile(np.arange(len(X)), 10)
    losses = []
    for i in range(steps):
        idx = order[i * batch_size : (i + 1) * batch_size]
        x, y = X[idx].astype(np.float64), Y[idx]
        z = x @ w
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        losses.append(-np.log(p[np.arange(len(y)), y]).mean())
        p[np.arange(len(y)), y] -= 1
        w -= lr * x.T @ p / len(y)
    return losses, w


def test_train_until_input_ends_then_evaluate(tmp_path):
    est = make(tmp_path, save_checkpoints_steps=2)
    est.train(numpy_fn(num_epochs=2))  # 20 examples in batches of 4: 5 steps
    assert est.get_variable_value("global_step") == 5
    _, w = reference(5)
    np.testing.assert_allclose(est.get_variable_value("w"), w, rtol=1e-5)
    files = os.listdir(est.model_dir)
    assert "model.ckpt-5.safetensors" in files and "model.ckpt-4.safetensors" in files
    result = est.evaluate(numpy_fn(batch_size=3))
    assert set(result) == {"acc", "loss", "global_step"} and result["global_step"] == 5
    z = X @ w
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    per_example = -np.log(p[np.arange(len(Y)), Y])
    batches = [per_example[i : i + 3].mean() for i in range(0, 10, 3)]
    np.testing.assert_allclose(result["loss"], np.mean(batches), rtol=1e-5)  # mean of batch losses
    np.testing.assert_allclose(result["acc"], np.mean(z.argmax(1) == Y))
    assert os.path.isdir(est.eval_dir())


def test_steps_and_max_steps(tmp_path):
    est = make(tmp_path)
    est.train(numpy_fn(num_epochs=None), steps=3)
    assert est.get_variable_value("global_step") == 3
    est.train(numpy_fn(num_epochs=None), max_steps=5)
    assert est.get_variable_value("global_step") == 5
    est.train(numpy_fn(num_epochs=None), max_steps=4)  # already past: skipped
    assert est.get_variable_value("global_step") == 5
    with pytest.raises(ValueError, match="both steps and max_steps"):
        est.train(numpy_fn(), steps=1, max_steps=1)
    assert est.evaluate(numpy_fn(num_epochs=None), steps=2, name="two")["global_step"] == 5
    assert os.path.isdir(os.path.join(est.model_dir, "eval_two"))


def test_predict(tmp_path):
    est = make(tmp_path)
    est.train(numpy_fn(num_epochs=None), steps=2)
    _, w = reference(2)
    preds = list(est.predict(numpy_fn(labels=False)))
    assert len(preds) == 10
    np.testing.assert_allclose(np.stack([p["logits"] for p in preds]), X @ w, rtol=1e-5)
    classes = list(est.predict(numpy_fn(labels=False), predict_keys="class"))
    assert set(classes[0]) == {"class"}
    batches = list(est.predict(numpy_fn(labels=False, batch_size=4), yield_single_examples=False))
    assert [len(b["class"]) for b in batches] == [4, 4, 2]
    with pytest.raises(ValueError, match="at least one output"):
        list(est.predict(numpy_fn(labels=False), predict_keys=["nope"]))


def test_input_fn_returning_tensors_and_hooks(tmp_path):
    def input_fn():
        return {"x": tf.constant(X[:4])}, tf.constant(Y[:4])

    class Count(tf.train.SessionRunHook):
        runs = 0

        def after_run(self, run_context, run_values):
            Count.runs += 1

    est = make(tmp_path)
    est.train(input_fn, steps=3, hooks=[Count()])
    assert Count.runs == 3
    assert est.evaluate(input_fn, steps=1)["global_step"] == 3


def test_dataset_like_input(tmp_path):
    class FakeDataset:
        def make_one_shot_iterator(self):
            return self

        def get_next(self):
            return {"x": tf.constant(X)}, tf.constant(Y)

    est = make(tmp_path)
    est.train(lambda: FakeDataset(), steps=1)
    assert est.get_variable_value("global_step") == 1


def test_train_and_evaluate(tmp_path):
    est = make(tmp_path, save_checkpoints_steps=2)
    train_spec = tf.estimator.TrainSpec(numpy_fn(num_epochs=None), max_steps=4)
    eval_spec = tf.estimator.EvalSpec(numpy_fn(), steps=None, throttle_secs=0)
    result, exports = tf.estimator.train_and_evaluate(est, train_spec, eval_spec)
    assert result["global_step"] == 4 and exports == []


def test_numpy_input_fn_batches_and_errors():
    with tf.Graph().as_default():
        tf.train.get_or_create_global_step()
        features, labels = numpy_fn(batch_size=4, num_epochs=2)()
        assert features["x"].shape.as_list() == [None, 3]
        seen = []
        with tf.train.MonitoredSession(tf.train.ChiefSessionCreator(master="local")) as sess:
            while not sess.should_stop():
                seen.append(sess.run(labels))
        assert [len(b) for b in seen] == [4, 4, 4, 4, 4]
        np.testing.assert_array_equal(np.concatenate(seen), np.tile(Y, 2))
    with pytest.raises(ValueError, match="shuffle must be provided"):
        tf.estimator.inputs.numpy_input_fn({"x": X}, Y)
    with pytest.raises(ValueError, match="mismatched"):
        tf.estimator.inputs.numpy_input_fn({"x": X}, Y[:3], shuffle=False)
    with pytest.raises(ValueError, match="duplicate keys"):
        tf.estimator.inputs.numpy_input_fn({"x": X}, {"x": Y}, shuffle=False)


def test_numpy_input_fn_shuffle_covers_every_example():
    with tf.Graph().as_default():
        tf.train.get_or_create_global_step()
        _, labels = tf.estimator.inputs.numpy_input_fn({"x": X}, np.arange(10), batch_size=3, shuffle=True)()
        seen = []
        with tf.train.MonitoredSession(tf.train.ChiefSessionCreator(master="local")) as sess:
            while not sess.should_stop():
                seen.append(sess.run(labels))
    assert sorted(np.concatenate(seen)) == list(range(10))


def test_estimator_spec_checks():
    with tf.Graph().as_default():
        loss = tf.constant(1.0)
        train_op = tf.no_op()
        with pytest.raises(ValueError, match="Missing train_op"):
            tf.estimator.EstimatorSpec(tf.estimator.ModeKeys.TRAIN, loss=loss)
        with pytest.raises(ValueError, match="Missing loss"):
            tf.estimator.EstimatorSpec(tf.estimator.ModeKeys.EVAL)
        with pytest.raises(ValueError, match="Missing predictions"):
            tf.estimator.EstimatorSpec(tf.estimator.ModeKeys.PREDICT)
        with pytest.raises(ValueError, match="Loss must be scalar"):
            tf.estimator.EstimatorSpec("train", loss=tf.constant([1.0, 2.0]), train_op=train_op)
        with pytest.raises(TypeError, match="eval_metric_ops"):
            tf.estimator.EstimatorSpec("eval", loss=loss, eval_metric_ops={"a": loss})
        with pytest.raises(TypeError, match="SessionRunHook"):
            tf.estimator.EstimatorSpec("train", loss=loss, train_op=train_op, training_hooks=[object()])
        spec = tf.estimator.EstimatorSpec("train", loss=tf.constant([1.0]), train_op=train_op)
        assert spec.loss.shape.ndims == 0 and isinstance(spec.scaffold, tf.train.Scaffold)
        pred = tf.estimator.EstimatorSpec("infer", predictions={"y": loss})
        assert isinstance(pred.export_outputs["serving_default"], tf.estimator.export.PredictOutput)
        x = tf.placeholder(tf.float32, [None, 2])
        receiver = tf.estimator.export.ServingInputReceiver(x, {"x": x})
        assert receiver.features == {"feature": x}
        with pytest.raises(ValueError, match="float32"):
            tf.estimator.export.RegressionOutput(tf.constant(1))
        with pytest.raises(ValueError, match="At least one"):
            tf.estimator.export.ClassificationOutput()


def test_estimator_and_run_config_checks(tmp_path):
    config = tf.estimator.RunConfig(save_checkpoints_steps=10, tf_random_seed=1)
    assert config.save_checkpoints_secs is None and config.tf_random_seed == 1
    assert tf.estimator.RunConfig().save_checkpoints_secs == 600
    assert config.replace(model_dir="m").model_dir == "m"
    with pytest.raises(ValueError, match="both save_checkpoints_steps"):
        tf.estimator.RunConfig(save_checkpoints_steps=1, save_checkpoints_secs=1)
    with pytest.raises(ValueError, match="must include features"):
        tf.estimator.Estimator(lambda x: None)
    with pytest.raises(ValueError, match="does not include params"):
        tf.estimator.Estimator(lambda features, labels, mode: None, params={"a": 1})
    with pytest.raises(ValueError, match="different values"):
        tf.estimator.Estimator(model_fn, "a", tf.estimator.RunConfig(model_dir="b"))
    est = make(tmp_path)
    with pytest.raises(NotImplementedError, match="SavedModel"):
        est.export_saved_model("out", lambda: None)

    def no_labels(features, mode):
        return None

    est = tf.estimator.Estimator(no_labels, str(tmp_path / "n"), tf.estimator.RunConfig(master="local"))
    with pytest.raises(ValueError, match="does not take labels"):
        est.train(numpy_fn(), steps=1)
