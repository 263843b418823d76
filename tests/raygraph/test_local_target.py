"""Session(target="local"): the same plans, kernels and errors as Ray actors, in this process."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import raygraph as tf


def _train(target: str, steps: int = 20) -> tuple[list[float], dict[str, np.ndarray]]:
    """A two-layer model trained with Adam; returns the losses and the final variables."""
    tf.reset_default_graph()
    tf.set_random_seed(7)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(32, 5)).astype(np.float32)
    ys = (xs @ rng.normal(size=(5, 1))).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 5])
    y = tf.placeholder(tf.float32, [None, 1])
    h = tf.layers.dense(x, 8, activation=tf.nn.tanh, name="h")
    out = tf.layers.dense(h, 1, name="out")
    loss = tf.reduce_mean(tf.square(out - y))
    step = tf.train.AdamOptimizer(0.05).minimize(loss)
    losses = []
    with tf.Session(target) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            _, value = sess.run([step, loss], {x: xs, y: ys})
            losses.append(float(value))
        variables = {v.op.name: sess.run(v) for v in tf.global_variables()}
    return losses, variables


@pytest.mark.usefixtures("ray_cluster")
def test_training_gives_the_same_values_on_the_local_target_as_on_ray():
    local_losses, local_vars = _train("local")
    ray_losses, ray_vars = _train("")
    np.testing.assert_allclose(local_losses, ray_losses, rtol=1e-6)
    assert local_losses[-1] < local_losses[0] / 2
    assert local_vars.keys() == ray_vars.keys()
    for name in local_vars:
        np.testing.assert_allclose(local_vars[name], ray_vars[name], rtol=1e-6, err_msg=name)


def test_a_kernel_error_names_the_op_and_the_local_device():
    x = tf.placeholder(tf.float32, [None])
    y = tf.reshape(x, [5], name="bad_reshape")
    with tf.Session("local") as sess, pytest.raises(tf.errors.InvalidArgumentError) as info:
        sess.run(y, {x: np.ones(6)})
    assert "bad_reshape" in str(info.value) and "/job:localhost/replica:0/task:0/device:CPU:0" in str(
        info.value
    )
    assert info.value.op is y.op


def test_an_uninitialized_variable_is_named():
    v = tf.Variable(1.0, name="never_initialized")
    with (
        tf.Session("local") as sess,
        pytest.raises(tf.errors.FailedPreconditionError, match="never_initialized"),
    ):
        sess.run(v)


def test_single_device_runs_happen_on_the_callers_thread():
    """So a breakpoint in a kernel stops in the user's own thread (pdb works as usual)."""
    seen = []

    class RecordThread(tf.Op):
        """Identity that records the thread its kernel runs on."""

        inputs = ("x",)
        api = "_test_record_thread"

        def infer(x):
            return x.dtype, x.shape

        def kernel(xp, x):
            seen.append(threading.get_ident())
            return x

    x = tf.placeholder(tf.float32, [2])
    y = tf._test_record_thread(x)
    with tf.Session("local") as sess:
        sess.run(y, {x: [1, 2]})
    assert seen == [threading.get_ident()]


def test_two_local_devices_exchange_tensors_and_control_tokens():
    config = tf.ConfigProto(device_count={"CPU": 2})
    x = tf.placeholder(tf.float32, [3])
    with tf.device("/cpu:0"):
        v = tf.Variable(tf.zeros([3]), name="v")
        a = x * 2.0
    with tf.device("/cpu:1"):
        assign = v.assign(a)  # colocated with v: runs on /cpu:0
        b = a + 1.0
        with tf.control_dependencies([assign]):
            c = tf.identity(b)
    with tf.Session("local", config=config) as sess:
        sess.run(v.initializer)
        names = [d.name for d in sess.list_devices()]
        assert names == [f"/job:localhost/replica:0/task:0/device:CPU:{i}" for i in range(2)]
        np.testing.assert_allclose(sess.run(c, {x: [1, 2, 3]}), [3, 5, 7])
        np.testing.assert_allclose(sess.run(v), [2, 4, 6])


def test_a_failure_on_one_local_device_aborts_the_other():
    config = tf.ConfigProto(device_count={"CPU": 2})
    x = tf.placeholder(tf.float32, [None])
    with tf.device("/cpu:0"):
        bad = tf.reshape(x, [4])
    with tf.device("/cpu:1"):
        waits = tf.identity(x) + tf.reduce_sum(bad)
    with tf.Session("local", config=config) as sess:
        with pytest.raises(tf.errors.InvalidArgumentError):
            sess.run(waits, {x: np.ones(3)})
        np.testing.assert_allclose(sess.run(waits, {x: np.ones(4)}), [5, 5, 5, 5])  # still usable


def test_fetched_values_do_not_alias_variables():
    v = tf.Variable([1.0, 2.0])
    bump = v.assign_add([1.0, 1.0])
    with tf.Session("local") as sess:
        sess.run(v.initializer)
        first = sess.run(v)
        first[0] = 100.0  # the user's own copy
        sess.run(bump)
        np.testing.assert_allclose(sess.run(v), [2.0, 3.0])


def test_an_unknown_target_is_a_clear_error():
    # ("grpc://..." is TF's distributed target: the Ray cluster, see tf.train.Server)
    with pytest.raises(ValueError, match="'local'"):
        tf.Session("tcp://nowhere:2222")


def test_a_run_past_its_deadline_fails_and_leaves_no_thread_that_blocks_exit():
    gate = threading.Event()

    class WaitAtGate(tf.Op):
        """Identity that waits until the test opens the gate."""

        inputs = ("x",)
        api = "_test_wait_at_gate"

        def infer(x):
            return x.dtype, x.shape

        def kernel(xp, x):
            gate.wait(60)
            return x

    x = tf.placeholder(tf.float32, [2])
    with tf.device("/cpu:0"):
        held = tf._test_wait_at_gate(x)
    with tf.device("/cpu:1"):
        y = held + 1.0
    config = tf.ConfigProto(device_count={"CPU": 2})
    try:
        with tf.Session("local", config=config) as sess, pytest.raises(tf.errors.DeadlineExceededError):
            sess.run(y, {x: [1, 2]}, options=tf.RunOptions(timeout_in_ms=100))
        workers = [t for t in threading.enumerate() if t.name.startswith("raygraph-local")]
        assert workers and all(t.daemon for t in workers)
    finally:
        gate.set()


def test_fetching_the_global_step_of_a_two_device_train_step_shows_the_increment():
    """The fetched step waits for its increment, which waits for updates on both devices
    (control tokens between them): the plan's units stay in order, nothing deadlocks."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        with tf.device("/cpu:0"):
            h = tf.layers.dense(x, 8)
        with tf.device("/cpu:1"):
            y = tf.layers.dense(h, 1)
        step = tf.train.get_or_create_global_step()
        train = tf.train.AdamOptimizer(0.01).minimize(tf.reduce_mean(y * y), global_step=step)
        with tf.Session("local", config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
            sess.run(tf.global_variables_initializer())
            steps = [int(sess.run([train, step], {x: np.ones((2, 4))})[1]) for _ in range(3)]
    assert steps == [1, 2, 3]
