"""Several steps per request: RunOptions(steps_per_run=K) on Session("local").

K steps in one request must leave the same state as K runs of one step, return
the last step's fetches, stop at an error naming its step, and keep transfers
of a plan over two devices apart step by step.
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf

RNG = np.random.default_rng(0)
XS = RNG.normal(size=(64, 8)).astype(np.float32)
YS = RNG.normal(size=(64, 1)).astype(np.float32)
W0 = RNG.normal(size=(8, 1)).astype(np.float32)


@pytest.fixture(autouse=True)
def _graph():
    with tf.Graph().as_default() as g:
        yield g


def _regression(data_device=None, model_device=None, batch=8):
    """A linear regression trained by SGD on batches of a dataset; (loss, train op, w)."""
    with tf.device(data_device):
        ds = tf.data.Dataset.from_tensor_slices((XS, YS)).batch(batch, drop_remainder=True)
        x, y = ds.make_one_shot_iterator().get_next()
    with tf.device(model_device):
        w = tf.Variable(W0, name="w")
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return loss, train, w


def _train(steps_per_run, runs, config=None, **devices):
    loss, train, w = _regression(**devices)
    options = tf.RunOptions(steps_per_run=steps_per_run)
    with tf.Session("local", config=config) as sess:
        sess.run(tf.global_variables_initializer())
        losses = [sess.run([loss, train], options=options)[0] for _ in range(runs)]
        return losses, sess.run(w)


def test_k_steps_leave_the_state_of_k_single_steps_and_return_the_last_fetches():
    single_losses, single_w = _train(1, 8)
    losses, w = _train(4, 2)
    np.testing.assert_allclose(w, single_w, rtol=1e-6)
    np.testing.assert_allclose(losses, [single_losses[3], single_losses[7]], rtol=1e-6)


def test_k_steps_over_two_devices_keep_each_steps_transfers_apart():
    two = tf.ConfigProto(device_count={"CPU": 2})
    single_losses, single_w = _train(1, 8)
    losses, w = _train(4, 2, config=two, data_device="/cpu:0", model_device="/cpu:1")
    np.testing.assert_allclose(w, single_w, rtol=1e-6)
    np.testing.assert_allclose(losses, [single_losses[3], single_losses[7]], rtol=1e-6)


def test_the_end_of_the_data_names_its_step_and_keeps_the_steps_before():
    ds = tf.data.Dataset.range(10)
    x = ds.make_one_shot_iterator().get_next()
    total = tf.Variable(np.int64(0))
    add = tf.assign_add(total, x)
    options = tf.RunOptions(steps_per_run=4)
    with tf.Session("local") as sess:
        sess.run(total.initializer)
        assert sess.run(add, options=options) == 0 + 1 + 2 + 3
        assert sess.run(add, options=options) == sum(range(8))
        with pytest.raises(tf.errors.OutOfRangeError, match="in step 3 of the 4 steps"):
            sess.run(add, options=options)
        assert sess.run(total) == sum(range(10))


def test_a_train_step_without_fetches_returns_early_and_its_error_comes_next():
    loss, train, w = _regression()
    options = tf.RunOptions(steps_per_run=3)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(train, options=options) is None
        sess.run(train, options=options)  # 6 of the 8 batches
        sess.run(train, options=options)  # ends at step 3: raised by the next run
        with pytest.raises(
            tf.errors.OutOfRangeError, match="step 3 of the 3 steps.*returned without waiting"
        ):
            sess.run(w)
        assert np.isfinite(sess.run(w)).all()


def test_a_feed_is_fed_to_every_step():
    x = tf.placeholder(tf.float32, [])
    total = tf.Variable(0.0)
    add = tf.assign_add(total, x)
    with tf.Session("local") as sess:
        sess.run(total.initializer)
        assert sess.run(add, {x: 2.0}, options=tf.RunOptions(steps_per_run=5)) == 10.0


def test_an_error_on_one_device_ends_the_run_on_both():
    two = tf.ConfigProto(device_count={"CPU": 2})
    with tf.device("/cpu:0"):
        x = tf.data.Dataset.range(10).make_one_shot_iterator().get_next()
    with tf.device("/cpu:1"):
        checked = tf.debugging.assert_less(x, np.int64(5), message="x too large")
        with tf.control_dependencies([checked]):
            total = tf.Variable(np.int64(0))
            add = tf.assign_add(total, x)
    with tf.Session("local", config=two) as sess:
        sess.run(total.initializer)
        with pytest.raises(tf.errors.InvalidArgumentError, match="x too large.*step 6 of the 8 steps"):
            sess.run(add, options=tf.RunOptions(steps_per_run=8))
        assert sess.run(total) == sum(range(5))
        # The session goes on. CPU:0 waits for nothing from CPU:1, so its
        # iterator may have run ahead, up to the run's last step, before the abort.
        with pytest.raises(tf.errors.InvalidArgumentError, match="x too large"):
            sess.run(add)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_steps_per_run_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="steps_per_run"):
        tf.RunOptions(steps_per_run=bad)
