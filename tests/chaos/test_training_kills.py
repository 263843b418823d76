"""Device actors SIGKILLed at random moments while a MonitoredTrainingSession trains.

The program trains on two device actors (the variables on one, the model's first
layer on the other); its batch is a function of the global step, so a step replayed
after a restore sees the same data. A killer thread SIGKILLs one of the two actors
(chosen at random) after random runs of the loop, between runs or in the middle of one. Each
time, the monitored session makes a new session (a new actor), restores the latest
checkpoint (saved every 3 steps) and carries on: the loop sees no exception, and the
final weights and global step equal those of a run with no kill, bit for bit.

CI runs a short version (two seeds, three kills each); `pytest -m chaos tests/chaos`
the long one (RAYGRAPH_CHAOS_ROUNDS seeds, default 10).

A node lost: on a two-node `ray.cluster_utils.Cluster` (in a subprocess: a driver
joins one Ray at a time), the variables live on the second node, which is removed
mid-training; the new session places them on the surviving node and the training
ends as an uninterrupted run does.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time

import numpy as np
import pytest
import ray

import raygraph as tf
from scheduler.shell import runtime
from tests.clusters import run_cluster_script
from tests.waiting import wait_until

pytestmark = [pytest.mark.usefixtures("ray_cluster"), pytest.mark.slow]

DEVICES = [f"/job:worker/replica:0/task:0/device:CPU:{i}" for i in range(2)]
LAST_STEP = 30
TWO_CPUS = tf.ConfigProto(device_count={"CPU": 2})


def _program():
    step = tf.train.get_or_create_global_step()
    rng = np.random.RandomState(0)
    xs = tf.constant(rng.randn(5, 32, 16).astype(np.float32))
    ys = tf.constant(rng.randint(0, 4, size=(5, 32)).astype(np.int64))
    with tf.device("/cpu:1"):
        w1 = tf.get_variable("w1", [16, 32], initializer=tf.glorot_uniform_initializer(seed=1))
        b1 = tf.get_variable("b1", [32], initializer=tf.zeros_initializer())
        w2 = tf.get_variable("w2", [32, 4], initializer=tf.glorot_uniform_initializer(seed=2))
    index = tf.mod(step, 5)
    with tf.device("/cpu:0"):
        hidden = tf.nn.relu(tf.matmul(tf.gather(xs, index), w1) + b1)
    logits = tf.matmul(hidden, w2)
    loss = tf.losses.sparse_softmax_cross_entropy(tf.gather(ys, index), logits)
    train_op = tf.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
    return train_op, [w1, b1, w2]


def _pid(device: str) -> int | None:
    actor = runtime.existing_actor(device)
    if actor is None:
        return None
    try:
        return ray.get(actor.ping.remote(), timeout=10)["pid"]
    except Exception:  # noqa: BLE001 - dead or restarting: nothing to kill right now
        return None


def _sigkill(device: str) -> bool:
    pid = _pid(device)
    if pid is None:
        return False
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), timeout=30, what=f"the death of {device}'s actor")
    return True


class _Recoveries(logging.Handler):
    """Counts the monitored session's recoveries (one warning each)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += "MonitoredSession: a run failed" in record.getMessage()


def _train(ckpt: str, kills: int = 0, seed: int = 0):
    """(final weights, global step, kills done): trains to LAST_STEP, SIGKILLing `kills` times.

    The kills are due after randomly chosen runs of the loop (in its first half or so);
    each lands 0-15 ms after its run returned: between two runs or inside the next. A kill
    waits for the session to have recovered from the one before (a due kill moves to a
    later run): kills in a burst would be failures in a row, which the session counts
    towards giving up (`max_failures_in_a_row`), and that is not what this test is about.
    """
    rng = random.Random(seed)
    targets = set(rng.sample(range(2, 12), kills))
    due, idle, done = threading.Semaphore(0), threading.Event(), []
    idle.set()

    def killer():
        for _ in range(kills):
            if not due.acquire(timeout=120):
                return
            time.sleep(rng.uniform(0, 0.015))
            for _ in range(200):  # a device being restarted has no actor to kill: another try
                if _sigkill(rng.choice(DEVICES)):
                    done.append(True)
                    break
                time.sleep(0.02)
            idle.set()

    recoveries = _Recoveries()
    tf.get_logger().addHandler(recoveries)
    try:
        with tf.Graph().as_default():
            train_op, weights = _program()
            thread = threading.Thread(target=killer, daemon=True)
            with tf.train.MonitoredTrainingSession(
                checkpoint_dir=ckpt,
                save_checkpoint_steps=3,
                save_summaries_steps=0,
                log_step_count_steps=0,
                hooks=[tf.train.StopAtStepHook(last_step=LAST_STEP)],
                config=TWO_CPUS,
            ) as sess:
                thread.start()
                runs, owed = 0, 0
                while not sess.should_stop():
                    sess.run(train_op)
                    runs += 1
                    owed += runs in targets
                    if owed and idle.is_set() and recoveries.count >= len(done):
                        owed -= 1
                        idle.clear()
                        due.release()
                thread.join(timeout=120)
                final = sess.run(weights + [tf.train.get_global_step()])
    finally:
        tf.get_logger().removeHandler(recoveries)
    return final[:-1], int(final[-1]), len(done)


def _check(tmp_path, seeds, kills):
    want, want_step, _ = _train(str(tmp_path / "clean"))
    assert want_step == LAST_STEP
    for seed in seeds:
        got, step, done = _train(str(tmp_path / f"killed-{seed}"), kills=kills, seed=seed)
        assert done == kills, f"seed {seed}: the training ended after {done} of {kills} kills"
        assert step == LAST_STEP
        for a, b in zip(want, got):
            np.testing.assert_array_equal(b, a, err_msg=f"seed {seed}")


def test_actors_killed_at_random_moments_change_nothing_in_the_result(tmp_path):
    _check(tmp_path, seeds=[1, 2], kills=3)


@pytest.mark.chaos
@pytest.mark.timeout(1800)
def test_actors_killed_at_random_moments_long(tmp_path, request):
    if (
        "chaos" not in (request.config.getoption("markexpr") or "")
        and "RAYGRAPH_CHAOS_ROUNDS" not in os.environ
    ):
        pytest.skip("the long chaos run: `-m chaos` or RAYGRAPH_CHAOS_ROUNDS=N")
    rounds = int(os.environ.get("RAYGRAPH_CHAOS_ROUNDS", "10"))
    _check(tmp_path, seeds=range(100, 100 + rounds), kills=5)


NODE_LOSS_SCRIPT = r"""
import json, os, sys
import numpy as np
import ray
from ray.cluster_utils import Cluster

sys.path.insert(0, ".")
LAST = 24

def program(tf):
    step = tf.train.get_or_create_global_step()
    rng = np.random.RandomState(0)
    xs = tf.constant(rng.randn(5, 32, 16).astype(np.float32))
    ys = tf.constant(rng.randint(0, 4, size=(5, 32)).astype(np.int64))
    with tf.device("/job:worker/task:1/cpu:0"):
        w1 = tf.get_variable("w1", [16, 32], initializer=tf.glorot_uniform_initializer(seed=1))
        w2 = tf.get_variable("w2", [32, 4], initializer=tf.glorot_uniform_initializer(seed=2))
        index = tf.mod(step, 5)
        hidden = tf.nn.relu(tf.matmul(tf.gather(xs, index), w1))
    logits = tf.matmul(hidden, w2)
    loss = tf.losses.sparse_softmax_cross_entropy(tf.gather(ys, index), logits)
    return tf.train.AdamOptimizer(0.01).minimize(loss, global_step=step), [w1, w2]

def train(tf, ckpt, on_step=None):
    with tf.Graph().as_default():
        train_op, weights = program(tf)
        with tf.train.MonitoredTrainingSession(checkpoint_dir=ckpt, save_checkpoint_steps=3,
                save_summaries_steps=0, log_step_count_steps=0,
                hooks=[tf.train.StopAtStepHook(last_step=LAST)]) as sess:
            n = 0
            while not sess.should_stop():
                sess.run(train_op)
                n += 1
                if on_step: on_step(n)
            final = sess.run(weights + [tf.train.get_global_step()])
            devices = [d.name for d in sess._tf_sess.list_devices()]
    return [v.tolist() for v in final[:-1]], int(final[-1]), devices

small = 80 * 1024 * 1024
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": small, "include_dashboard": False})
out = {}
try:
    worker = cluster.add_node(num_cpus=1, object_store_memory=small)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="ERROR")
    import raygraph as tf
    out["clean"] = train(tf, os.path.join(sys.argv[1], "clean"))
    def lose(n):
        if n == 10:
            cluster.remove_node(worker)
            out["removed_at"] = n
    out["lost"] = train(tf, os.path.join(sys.argv[1], "lost"), lose)
finally:
    ray.shutdown()
    cluster.shutdown()
print("RESULT " + json.dumps(out))
"""


@pytest.mark.cluster
@pytest.mark.timeout(300)
def test_a_node_lost_mid_training_is_replaced_by_a_surviving_one(tmp_path):
    out, stderr = run_cluster_script(NODE_LOSS_SCRIPT, str(tmp_path))
    (want, want_step, two), (got, step, one) = out["clean"], out["lost"]
    assert two == ["/job:worker/replica:0/task:0/device:CPU:0", "/job:worker/replica:0/task:1/device:CPU:0"]
    assert one == two[:1] and out["removed_at"] == 10
    assert want_step == step == 24
    for a, b in zip(want, got):
        np.testing.assert_array_equal(np.array(b), np.array(a))
    assert "task:1/device:CPU:0 is unavailable" in stderr  # the log line of the recovery
