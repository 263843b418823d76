"""Device actors SIGKILLed at random moments while plain Session runs go on, on two devices.

A thread runs a model split over CPU:0 and CPU:1 (tensors both ways, fed and
fetched, a slow kernel on a random device now and then) again and again; the test
kills one device's actor process (SIGKILL of the pid its `ping` reports) at a random
moment. Every run gives numpy's answer or an UnavailableError naming the killed
device; none hangs (each run has a deadline, and a run past it fails the test).
After each kill the next run works, in any thread (a new actor: the failure is
raised once, by the run that met it), and the other device's actor is the same
process as before.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import ray

import raygraph as tf
from scheduler.shell import runtime
from tests.chaos.chaos import typed
from tests.scheduler.test_multi_device import nap
from tests.waiting import wait_until

pytestmark = [pytest.mark.chaos, pytest.mark.usefixtures("ray_cluster")]

DEVICES = [f"/job:worker/replica:0/task:0/device:CPU:{i}" for i in range(2)]
DEADLINE = tf.RunOptions(timeout_in_ms=60_000)
RNG = np.random.default_rng(6)
W0 = RNG.normal(size=(64, 128)).astype(np.float32)
W1 = RNG.normal(size=(128, 64)).astype(np.float32)


def build():
    x = tf.placeholder(tf.float32, [None, 64], name="x")
    outs = []
    for slow in (None, 0, 1):  # a slow kernel on one device, so that kills land inside runs
        with tf.device("/cpu:0"):
            h = tf.tanh(tf.matmul(nap(x, 0.05) if slow == 0 else x, W0))
        with tf.device("/cpu:1"):
            z = tf.matmul(nap(h, 0.05) if slow == 1 else h, W1)
        with tf.device("/cpu:0"):
            outs.append(tf.reduce_sum(z, axis=1) * 2.0)
    return x, outs


def expected(xv):
    return (np.tanh(xv @ W0) @ W1).sum(axis=1) * 2.0


def pid_of(device: str) -> int:
    actor = runtime.existing_actor(device)
    assert actor is not None, f"no actor for {device}"
    return ray.get(actor.ping.remote(), timeout=60)["pid"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(1800)
def test_actor_kills_during_runs_on_two_devices(chaos):
    kills = chaos.rounds(3, 40)
    x, outs = build()
    out = outs[0]
    problems = []
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        xv = RNG.normal(size=(32, 64)).astype(np.float32)
        np.testing.assert_allclose(sess.run(out, {x: xv}, options=DEADLINE), expected(xv), rtol=1e-4)
        for _ in range(kills):
            victim = chaos.rng.randrange(2)
            pids = [pid_of(d) for d in DEVICES]
            stop = threading.Event()
            seen = {"right": 0, "unavailable": 0}

            def runs(victim=victim, stop=stop, seen=seen):
                while not stop.is_set():
                    xv = RNG.normal(size=(int(RNG.integers(1, 64)), 64)).astype(np.float32)
                    start = time.monotonic()
                    try:
                        got = sess.run(chaos.rng.choice(outs), {x: xv}, options=DEADLINE)
                    except Exception as e:  # noqa: BLE001 - each failure is checked here
                        wrong = typed(e, DEVICES[victim])
                        if wrong or not isinstance(e, tf.errors.UnavailableError):
                            problems.append(wrong or f"{type(e).__name__}: {e}")
                        seen["unavailable"] += 1
                        return
                    if not np.allclose(got, expected(xv), rtol=1e-4, atol=1e-4):
                        problems.append(f"a wrong result after {time.monotonic() - start:.2f} s")
                    seen["right"] += 1

            worker = threading.Thread(target=runs)
            worker.start()
            time.sleep(chaos.rng.uniform(0.1, 1.0))
            dead = pids[victim]
            os.kill(dead, signal.SIGKILL)
            wait_until(lambda dead=dead: not alive(dead), timeout=30, what="the killed actor's exit")
            chaos.tally["kills"] += 1
            time.sleep(chaos.rng.uniform(0.0, 0.2))  # runs after the kill, before the driver knows
            stop.set()
            worker.join(timeout=120)
            assert not worker.is_alive(), "a run did not end within its deadline"
            assert not problems, problems
            chaos.tally["runs_right"] += seen["right"]
            chaos.tally["runs_unavailable"] += seen["unavailable"]
            xv = RNG.normal(size=(16, 64)).astype(np.float32)
            if not seen["unavailable"]:  # the kill came after the thread's last run: met now, once
                with pytest.raises(tf.errors.UnavailableError, match=DEVICES[victim]):
                    sess.run(out, {x: xv}, options=DEADLINE)
                chaos.tally["runs_unavailable"] += 1
            got = sess.run(out, {x: xv}, options=DEADLINE)  # the next run works, in any thread
            np.testing.assert_allclose(got, expected(xv), rtol=1e-4)
            chaos.tally["failures_survived"] += 1
            survivor = DEVICES[1 - victim]
            assert pid_of(survivor) == pids[1 - victim], f"{survivor}'s actor was restarted too"
            assert pid_of(DEVICES[victim]) != pids[victim]
