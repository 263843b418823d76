"""Failures across devices: kernel errors, dead actors, deadlines. None may hang.

A run that hung would fail by the test timeout (pyproject.toml); what ends a run is
shown without clocks: a node held at a Gate (tests/scheduler/rendezvous.py) never
ends on its own, so a run that returns while its gate is shut was ended by the failure.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import ray

import raygraph as tf
from scheduler.shell import runtime
from tests.scheduler.rendezvous import Gate
from tests.scheduler.test_multi_device import TWO_CPUS, nap
from tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("ray_cluster")

CPU = "/job:worker/replica:0/task:0/device:CPU:{}"


def kill_actor(device: str, wait: bool = True) -> None:
    """Kills the device's actor; with `wait`, returns once its process is gone.

    ray.kill is asynchronous: until the process exits it may still answer on a
    session's channel, and that run would (rightly) succeed.
    """
    actor = runtime.existing_actor(device)
    assert actor is not None, f"no actor for {device}"
    pid = ray.get(actor.ping.remote())["pid"] if wait else None
    ray.kill(actor, no_restart=True)
    if wait:
        wait_until(lambda: not _alive(pid), timeout=30, what=f"the exit of {device}'s actor")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_kernel_error_names_the_node_its_line_and_device_and_aborts_the_others():
    x = tf.placeholder(tf.float32, [None, None], name="x")
    y = tf.placeholder(tf.float32, [None, None], name="y")
    with tf.device("/cpu:0"):
        product = tf.matmul(x, y, name="product")
    with tf.device("/cpu:1"):
        busy = nap(tf.constant(1.0), 0.1, name="busy")  # other work on the waiting device
        total = tf.reduce_sum(product) + busy  # waits for a tensor that never comes
    good = {x: np.ones((2, 3)), y: np.ones((3, 2))}
    bad = {x: np.ones((2, 3)), y: np.ones((2, 3))}
    with tf.Session(config=TWO_CPUS) as sess:
        assert sess.run(total, good) == 13.0
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            sess.run(total, bad)  # cpu:1 is told to abort: the error comes back, no hang
        text = str(info.value)
        assert "MatMul 'product'" in text and "test_failures.py:" in text and CPU.format(0) in text
        assert info.value.op is not None and info.value.op.name == "product"
        assert sess.run(total, good) == 13.0  # the session is still usable, on both devices


def test_an_actor_killed_between_runs_is_unavailable_then_restarted_without_its_variables():
    with tf.device("/cpu:1"):
        v = tf.Variable(np.arange(3, dtype=np.float32), name="kept")
        doubled = v * 2.0
    with tf.device("/cpu:0"):
        out = doubled + 1.0
    with tf.Session(config=TWO_CPUS) as sess:
        sess.run(v.initializer)
        np.testing.assert_allclose(sess.run(out), [1, 3, 5])
        kill_actor(CPU.format(1))
        with pytest.raises(tf.errors.UnavailableError, match="device:CPU:1"):
            sess.run(out)
        with pytest.raises(tf.errors.FailedPreconditionError, match="kept"):
            sess.run(out)  # a new actor: the variable is gone
        sess.run(v.initializer)
        np.testing.assert_allclose(sess.run(out), [1, 3, 5])


def test_a_device_lost_in_one_thread_is_not_raised_again_in_another():
    with tf.device("/cpu:1"):
        doubled = tf.constant([1.0, 2.0]) * 2.0
    with tf.device("/cpu:0"):
        out = doubled + 1.0
    with tf.Session(config=TWO_CPUS) as sess, ThreadPoolExecutor(1) as pool:
        np.testing.assert_allclose(sess.run(out), [3, 5])  # this thread's links to both actors
        kill_actor(CPU.format(1))
        with pytest.raises(tf.errors.UnavailableError, match="device:CPU:1"):
            pool.submit(sess.run, out).result(timeout=60)  # another thread meets the failure
        np.testing.assert_allclose(sess.run(out), [3, 5])  # and this one uses the new actor


def test_an_actor_killed_during_a_run_does_not_hang_the_others(tmp_path):
    gate = Gate(tmp_path)
    with tf.device("/cpu:0"):
        slow = gate.node(tf.constant(2.0), "slow")
    with tf.device("/cpu:1"):
        waiting = slow * 3.0  # waits for cpu:0
    with tf.Session(config=TWO_CPUS) as sess, ThreadPoolExecutor(1) as pool:
        run = pool.submit(sess.run, waiting)
        gate.wait_started("slow")
        kill_actor(CPU.format(0), wait=False)
        with pytest.raises(tf.errors.UnavailableError, match="device:CPU:0"):
            run.result(timeout=60)  # while the gate is shut: "slow" never ended
        gate.open("slow")
        assert sess.run(waiting) == 6.0  # cpu:0 restarted, cpu:1 was not left waiting


def test_a_deadline_aborts_the_run_and_keeps_the_session(tmp_path):
    gate = Gate(tmp_path)
    with tf.device("/cpu:0"):
        slow = gate.node(tf.constant(2.0), "slow")  # shut until the deadline has passed
    with tf.device("/cpu:1"):
        waiting = slow * 3.0
        quick = tf.constant(4.0) * 2.0
    with tf.Session(config=TWO_CPUS) as sess:
        try:
            with pytest.raises(tf.errors.DeadlineExceededError):
                sess.run(waiting, options=tf.RunOptions(timeout_in_ms=200))
            assert sess.run(quick) == 8.0
        finally:
            gate.open("slow")  # lets cpu:0's kernel end


def test_close_lets_runs_that_returned_without_waiting_finish(tmp_path):
    """Closing a session ends this thread's detached train steps first: none is lost."""
    path = str(tmp_path / "steps.txt")

    def record(x):
        import time

        time.sleep(0.05)  # slow steps: most are still in flight when the loop ends
        with open(path, "a") as f:
            f.write("step\n")
        return x

    with tf.Graph().as_default():
        x = tf.constant(1.0)
        step = tf.group(tf.py_func(record, [x], tf.float32))
        with tf.Session() as sess:
            for _ in range(20):
                sess.run(step)
    with open(path) as f:
        assert f.read().count("step") == 20
