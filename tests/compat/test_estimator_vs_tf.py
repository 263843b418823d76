"""Monitored training loops vs tf.compat.v1.

TensorFlow 2.21 no longer ships tf.compat.v1.estimator, so the Estimator
itself cannot be compared; these tests run the loop it is built on, the same
TF1 program with MonitoredTrainingSession, hooks (StopAtStepHook, FeedFnHook,
FinalOpsHook, a custom SessionRunHook), checkpoints and tf.metrics, on
TensorFlow and on raygraph ("local"), and compare losses, weights, metric
values and hook call sequences.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1
RTOL, ATOL = 2e-5, 2e-6

RNG = np.random.default_rng(1)
X = RNG.normal(size=(12, 3)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.int64)


def model(tf, x, y):
    w = tf.get_variable(
        "w", [3, 2], initializer=tf.constant_initializer([[0.1, -0.2], [0.3, 0.0], [-0.1, 0.2]])
    )
    b = tf.get_variable("b", [2], initializer=tf.zeros_initializer())
    logits = tf.matmul(x, w) + b
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    return w, b, logits, loss


def batches(batch_size, epochs):
    order = np.tile(np.arange(len(X)), epochs)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def feeder(tf, errors, x, y, batch_size, epochs):
    pending = iter(batches(batch_size, epochs))

    def feed():
        try:
            idx = next(pending)
        except StopIteration:
            raise errors.OutOfRangeError(None, None, "input exhausted") from None
        return {x: X[idx], y: Y[idx]}

    return tf.train.FeedFnHook(feed)


@contextlib.contextmanager
def ref_variables(tf):
    """TF1's reference variables on TensorFlow's side (TF 2's compat.v1 makes resource
    variables): a fetched global step then shows the run's increment, deterministically,
    as on raygraph; with resource variables TensorFlow's read races the increment."""
    if not hasattr(tf, "disable_resource_variables"):
        yield
        return
    tf.disable_resource_variables()
    try:
        yield
    finally:
        tf.enable_resource_variables()


def run_training(tf, errors, master, ckpt_dir, last_step=None, epochs=2):
    """Trains with hooks; returns the hook trace, the losses and the final weights."""
    graph = tf.Graph()
    with graph.as_default(), ref_variables(tf):
        step = tf.train.get_or_create_global_step()
        x = tf.placeholder(tf.float32, [None, 3])
        y = tf.placeholder(tf.int64, [None])
        w, b, logits, loss = model(tf, x, y)
        train_op = tf.train.MomentumOptimizer(0.3, 0.9).minimize(loss, global_step=step)
        trace = []

        class Trace(tf.train.SessionRunHook):
            def after_create_session(self, session, coord):
                trace.append(("created", int(session.run(step))))

            def before_run(self, run_context):
                return tf.train.SessionRunArgs({"step": step, "loss": loss})

            def after_run(self, run_context, run_values):
                trace.append(("run", int(run_values.results["step"]), float(run_values.results["loss"])))

            def end(self, session):
                trace.append(("end", int(session.run(step))))

        hooks = [feeder(tf, errors, x, y, 5, epochs), Trace()]
        if last_step is not None:
            hooks.append(tf.train.StopAtStepHook(last_step=last_step))
        losses = []
        with tf.train.MonitoredTrainingSession(
            master=master,
            checkpoint_dir=ckpt_dir,
            hooks=hooks,
            save_checkpoint_steps=2,
            save_summaries_steps=None,
        ) as sess:
            while not sess.should_stop():
                losses.append(sess.run([train_op, loss])[1])
        with tf.train.SingularMonitoredSession(master=master, checkpoint_dir=ckpt_dir) as sess:
            weights = sess.run([w, b, step])
    return trace, losses, weights


def run_eval(tf, errors, master, ckpt_dir):
    """Evaluates metrics over the whole input (OutOfRange ends it); returns the FinalOpsHook values."""
    graph = tf.Graph()
    with graph.as_default():
        step = tf.train.get_or_create_global_step()
        x = tf.placeholder(tf.float32, [None, 3])
        y = tf.placeholder(tf.int64, [None])
        _, _, logits, loss = model(tf, x, y)
        acc, acc_update = tf.metrics.accuracy(y, tf.argmax(logits, 1))
        mean_loss, loss_update = tf.metrics.mean(loss)
        final = tf.train.FinalOpsHook({"acc": acc, "loss": mean_loss, "global_step": step})
        creator = tf.train.ChiefSessionCreator(
            master=master, checkpoint_filename_with_path=tf.train.latest_checkpoint(ckpt_dir)
        )
        with tf.train.MonitoredSession(creator, hooks=[feeder(tf, errors, x, y, 5, 1), final]) as sess:
            while not sess.should_stop():
                sess.run([acc_update, loss_update])
    return final.final_ops_values


def both(fn, tmp_path, **kwargs):
    ours = fn(raygraph, raygraph.errors, "local", str(tmp_path / "ours"), **kwargs)
    theirs = fn(v1, tf1.errors, "", str(tmp_path / "theirs"), **kwargs)
    return ours, theirs


def test_training_loop_until_input_ends_matches(tmp_path):
    (trace, losses, weights), (trace_tf, losses_tf, weights_tf) = both(run_training, tmp_path)
    assert len(losses) == len(losses_tf) == 5  # 24 examples in batches of 5, the last one short
    np.testing.assert_allclose(losses, losses_tf, rtol=RTOL, atol=ATOL)
    assert [t[:2] for t in trace] == [t[:2] for t in trace_tf]
    np.testing.assert_allclose(
        [t[2] for t in trace if t[0] == "run"], [t[2] for t in trace_tf if t[0] == "run"], rtol=RTOL
    )
    for ours, theirs in zip(weights, weights_tf):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)
    assert weights[2] == 5


def test_stop_at_step_and_resume_match(tmp_path):
    (trace, losses, _), (trace_tf, losses_tf, _) = both(run_training, tmp_path, last_step=3)
    assert len(losses) == len(losses_tf) == 3
    np.testing.assert_allclose(losses, losses_tf, rtol=RTOL, atol=ATOL)
    (trace, losses, weights), (trace_tf, losses_tf, weights_tf) = both(run_training, tmp_path, last_step=4)
    assert trace[0] == trace_tf[0] == ("created", 3)  # restored from the checkpoint of step 3
    assert [t[:2] for t in trace] == [t[:2] for t in trace_tf]
    np.testing.assert_allclose(losses, losses_tf, rtol=RTOL, atol=ATOL)
    for ours, theirs in zip(weights, weights_tf):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


def test_evaluation_with_metrics_matches(tmp_path):
    both(run_training, tmp_path)
    ours, theirs = both(run_eval, tmp_path)
    assert set(ours) == set(theirs)
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=RTOL, atol=ATOL)
