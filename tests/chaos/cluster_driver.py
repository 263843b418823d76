"""A node of a `ray.cluster_utils.Cluster` removed in the middle of runs, again and again.

    python -m tests.chaos.cluster_driver SEED ROUNDS

A head node (the driver's, task 0) and one worker node (task 1), 1 CPU and an
80 MB object store each. Each round opens a session whose graph goes task 0 ->
task 1 -> task 0, runs it on a thread again and again, and removes the worker
node at a random moment (its raylet and the device actor on it die). Every run
gives numpy's answer or an UnavailableError naming task 1's device. Once Ray
lists the node as dead: the same session still runs a graph on task 0; a run
that needs task 1 again is a typed error, not a hang; a new session works on
what is left. A new worker node joins for the next round, and the next round's
session finds its "task:1" there (not the dead node's actor). Events as in
ray_driver.py.
"""

from __future__ import annotations

import faulthandler
import random
import sys
import threading
import time

import numpy as np
import ray
from ray.cluster_utils import Cluster

import raygraph as tf
from tests.chaos.chaos import emit

MB = 1 << 20
T0 = "/job:worker/replica:0/task:0/device:CPU:0"
T1 = "/job:worker/replica:0/task:1/device:CPU:0"
DEADLINE = tf.RunOptions(timeout_in_ms=60_000)


def outcome(fn, *names) -> tuple[str, str]:
    start = time.monotonic()
    try:
        fn()
        return "right", ""
    except tf.errors.OpError as e:
        named = not names or any(n in str(e) for n in names)
        return (
            "typed" if named else "wrong"
        ), f"{type(e).__name__}: {str(e)[:300]} ({time.monotonic() - start:.1f} s)"
    except Exception as e:  # noqa: BLE001 - untyped: what this loop looks for
        return "wrong", f"{type(e).__name__}: {str(e)[:300]}"


def one_round(cluster: Cluster, node, rng: random.Random) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 64], name="x")
        with tf.device("/job:worker/task:0/cpu:0"):
            a = x * 3.0
            local = tf.reduce_sum(x * 2.0)
        with tf.device("/job:worker/task:1/cpu:0"):
            b = a + 1.0
        with tf.device("/job:worker/task:0/cpu:0"):
            total = tf.reduce_sum(b)
    xv = np.ones((256, 64), np.float32)
    want = float((xv * 3 + 1).sum())
    stop = threading.Event()
    seen = []

    def runs():
        while not stop.is_set():
            kind, text = outcome(lambda: check(sess.run(total, {x: xv}, options=DEADLINE)), T1)
            seen.append((kind, text))
            if kind != "right":
                return

    def check(got):
        assert abs(float(got) - want) <= 1e-3 * want, f"{got} != {want}"

    with tf.Session(graph=g) as sess:
        devices = [d.name for d in sess.list_devices()]
        check(sess.run(total, {x: xv}, options=DEADLINE))
        worker = threading.Thread(target=runs)
        worker.start()
        time.sleep(rng.uniform(0.0, 1.5))
        cluster.remove_node(node, allow_graceful=False)
        removed = time.monotonic()
        while worker.is_alive() and time.monotonic() < removed + 10:  # runs go on until one meets the loss
            time.sleep(0.05)
        stop.set()
        worker.join(timeout=120)
        emit(kind="removal", devices=devices, hung=worker.is_alive())
        for kind, text in seen:
            emit(kind="node_run", outcome=kind, error=text)
        wait_for_ray_to_see_the_node_gone(node)
        kind, text = outcome(lambda: sess.run(local, {x: xv}, options=DEADLINE))
        emit(kind="same_session_task0", outcome=kind, error=text)
        start = time.monotonic()
        kind, text = outcome(lambda: check(sess.run(total, {x: xv}, options=DEADLINE)), T1)
        emit(kind="same_session_task1", outcome=kind, error=text, seconds=round(time.monotonic() - start, 1))
    g2 = tf.Graph()
    with g2.as_default():
        y = tf.placeholder(tf.float32, [None, 64])
        out = tf.reduce_sum(y * 3.0 + 1.0)
    with tf.Session(graph=g2) as sess:
        kind, text = outcome(lambda: check(sess.run(out, {y: xv}, options=DEADLINE)))
        emit(kind="new_session", outcome=kind, error=text, devices=[d.name for d in sess.list_devices()])


def wait_for_ray_to_see_the_node_gone(node, timeout: float = 120.0) -> None:
    """Ray's control store marks a removed node dead after its heartbeats stop (seconds)."""
    deadline = time.monotonic() + timeout
    while any(n["NodeID"] == node.node_id and n["Alive"] for n in ray.nodes()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Ray still lists node {node.node_id} as alive after {timeout} s")
        time.sleep(0.2)


def main(seed: int, rounds: int) -> None:
    rng = random.Random(seed)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 80 * MB, "include_dashboard": False},
    )
    try:
        node = cluster.add_node(num_cpus=1, object_store_memory=80 * MB)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level="ERROR")
        for _ in range(rounds):
            faulthandler.dump_traceback_later(400, exit=True)
            one_round(cluster, node, rng)
            node = cluster.add_node(num_cpus=1, object_store_memory=80 * MB)
            cluster.wait_for_nodes()
            faulthandler.cancel_dump_traceback_later()
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
