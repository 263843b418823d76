"""Drivers with a Ray of their own, each a seeded loop of runs under one kind of pressure.

    python -m tests.chaos.ray_driver {shm,fds,store} SEED ROUNDS

Each starts a small local Ray (its own: a driver joins one Ray at a time, and the
test process may have one), runs ROUNDS rounds, and reports every run as an EVENT
line (tests/chaos/chaos.py): "right" (numpy's answer), "typed" (a tf.errors class,
with its message) or "wrong" (anything else: an untyped error, a wrong value). A
run that hangs dumps every thread's stack and ends the process (faulthandler), so
the test fails naming where it hung. The tests (test_pressure.py) check the events.

- shm: run inside a private mount namespace whose /dev/shm is a small tmpfs
  (`unshare -m`); each round fills it to a random level, then feeds tensors of
  random sizes, some larger than what is free, to two devices.
- fds: each round uses up the process's file descriptors (a lowered
  RLIMIT_NOFILE, then files opened until EMFILE, a few given back at random),
  then runs sessions, opens new ones and saves a checkpoint; then gives them back
  and checks that the next run works on the same actors.
- store: Ray's object store is 80 MB; each round fills a random part of it with
  objects of its own, then moves tensors of random sizes between two devices.
"""

from __future__ import annotations

import faulthandler
import os
import random
import resource
import shutil
import sys
import tempfile
import time

import numpy as np
import ray

import raygraph as tf
from tests.chaos.chaos import emit

MB = 1 << 20
RUN_DEADLINE_S = 60  # a run past it (and a little more) is a hang: stacks dumped, process ended
TWO = tf.ConfigProto(device_count={"CPU": 2})
DEVICES = [f"/job:worker/replica:0/task:0/device:CPU:{i}" for i in range(2)]


def start_ray() -> None:
    ray.init(
        address="local",
        num_cpus=2,
        object_store_memory=80 * MB,
        include_dashboard=False,
        logging_level="ERROR",
    )


def two_device_graph():
    """x (fed) on cpu:0 -> 3x+1 on cpu:1 -> back to cpu:0: fetches (sum, the first row, the whole)."""
    x = tf.placeholder(tf.float32, [None, 256], name="x")
    with tf.device("/cpu:0"):
        a = x * 3.0
    with tf.device("/cpu:1"):
        b = a + 1.0
    with tf.device("/cpu:0"):
        total = tf.reduce_sum(b, name="total")
        first = b[0] * 1.0
    return x, [total, first, b]


def check(sess, x, fetches, rows: int, rng: random.Random, what: str, names=DEVICES) -> str:
    """One run with a feed of `rows` x 256 float32; emits and returns its outcome."""
    xv = np.full((rows, 256), rng.randint(-3, 3), np.float32)
    xv[0] = np.arange(256, dtype=np.float32)
    faulthandler.dump_traceback_later(RUN_DEADLINE_S + 30, exit=True)
    start = time.monotonic()
    try:
        total, first, whole = sess.run(
            fetches, {x: xv}, options=tf.RunOptions(timeout_in_ms=RUN_DEADLINE_S * 1000)
        )
    except tf.errors.OpError as e:
        named = any(n in str(e) for n in names)
        seconds = round(time.monotonic() - start, 2)
        outcome = "typed" if named else "wrong"
        emit(kind=what, outcome=outcome, error=type(e).__name__, message=str(e)[:400], seconds=seconds)
        return "typed"
    except Exception as e:  # noqa: BLE001 - an untyped error is what this loop looks for
        emit(kind=what, outcome="wrong", error=type(e).__name__, message=str(e)[:400])
        return "wrong"
    finally:
        faulthandler.cancel_dump_traceback_later()
    want = xv * 3.0 + 1.0
    right = (
        np.array_equal(whole, want)
        and np.array_equal(first, want[0])
        and np.isclose(total, want.sum(), rtol=1e-5)
    )
    emit(kind=what, outcome="right" if right else "wrong", mb=round(xv.nbytes / MB, 2))
    return "right" if right else "wrong"


def actor_pids() -> list[int]:
    from scheduler.shell import runtime

    return [ray.get(runtime.existing_actor(d).ping.remote(), timeout=60)["pid"] for d in DEVICES]


# -- /dev/shm full -----------------------------------------------------------------------


def shm_pressure(rng: random.Random, rounds: int) -> None:
    stat = os.statvfs("/dev/shm")
    size = stat.f_blocks * stat.f_frsize
    emit(kind="setup", shm_bytes=size)
    x, fetches = two_device_graph()
    filler = "/dev/shm/chaos-filler"
    with tf.Session(config=TWO) as sess:
        check(sess, x, fetches, 4, rng, "warmup")
        pids = actor_pids()
        for _ in range(rounds):
            with open(filler, "wb") as f:  # a random part of /dev/shm taken by someone else
                taken = int(size * rng.uniform(0.0, 1.0)) // MB * MB
                if taken:
                    try:
                        os.posix_fallocate(f.fileno(), 0, taken)
                    except OSError:
                        pass
            free = os.statvfs("/dev/shm").f_bavail * stat.f_frsize
            for _ in range(3):
                rows = rng.choice([16, 1024, 4096, 16384, 32768])  # 16 KB .. 32 MB
                outcome = check(sess, x, fetches, rows, rng, "shm")
                emit(kind="shm_feed", larger_than_free=rows * 256 * 4 > free, outcome=outcome)
        os.remove(filler)
        assert actor_pids() == pids, "a device actor was restarted"
    left = [n for n in os.listdir("/dev/shm") if n.startswith("raygraph-")]
    emit(kind="shm_left", files=left)


# -- file descriptors exhausted ----------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def fd_pressure(rng: random.Random, rounds: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    x, fetches = two_device_graph()
    directory = tempfile.mkdtemp(prefix="rgchaos-fds")
    with tf.Session(config=TWO) as sess:
        check(sess, x, fetches, 4, rng, "warmup")
        pids = actor_pids()
        saver_graph = tf.Graph()
        with saver_graph.as_default():
            v = tf.Variable(np.arange(1000, dtype=np.float32), name="v")
            saver = tf.train.Saver()
        for _ in range(rounds):
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_fds() + 64, hard))
            held = []
            try:
                while True:
                    held.append(os.open("/dev/null", os.O_RDONLY))
            except OSError:
                pass
            free = rng.randint(0, 4)
            for _ in range(free):  # a few descriptors free again, at random
                os.close(held.pop())
            emit(kind="fds_exhausted", free=free)
            for _ in range(rng.randint(1, 3)):
                action = rng.choice(["run", "run_large", "new_session", "save"])
                if action == "run":
                    check(sess, x, fetches, 8, rng, "fds_run")
                elif action == "run_large":
                    check(sess, x, fetches, 4096, rng, "fds_run")  # 4 MB: through /dev/shm
                elif action == "new_session":
                    with tf.Session(config=TWO) as other:
                        check(other, x, fetches, 8, rng, "fds_new_session")
                else:
                    start = time.monotonic()
                    try:
                        with tf.Session(graph=saver_graph, config=TWO) as s:
                            s.run(v.initializer)
                            saver.save(s, os.path.join(directory, "model.ckpt"))
                        emit(kind="fds_save", outcome="right")
                    except tf.errors.OpError as e:
                        seconds = round(time.monotonic() - start, 2)
                        message = str(e)[:400]
                        emit(
                            kind="fds_save",
                            outcome="typed",
                            error=type(e).__name__,
                            message=message,
                            seconds=seconds,
                        )
                    except Exception as e:  # noqa: BLE001
                        emit(kind="fds_save", outcome="wrong", error=type(e).__name__, message=str(e)[:400])
            for fd in held:
                os.close(fd)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            check(sess, x, fetches, 8, rng, "fds_after")  # descriptors back: the same session works
        assert actor_pids() == pids, "a device actor was restarted"
    shutil.rmtree(directory)
    emit(kind="fds_done")


# -- the object store near full ----------------------------------------------------------


def store_pressure(rng: random.Random, rounds: int) -> None:
    x, fetches = two_device_graph()
    with tf.Session(config=TWO) as sess:
        check(sess, x, fetches, 4, rng, "warmup")
        pids = actor_pids()
        for _ in range(rounds):
            filled = rng.randint(40, 76)  # MB of the 80 MB store taken by objects the driver holds
            held = [ray.put(np.ones(MB // 8, np.float64)) for _ in range(filled)]
            for _ in range(3):
                rows = rng.choice([1024, 8192, 16384, 32768, 65536])  # 1 .. 64 MB between the devices
                check(sess, x, fetches, rows, rng, "store")
            del held
        if actor_pids() != pids:
            emit(kind="store_restart", outcome="wrong")


if __name__ == "__main__":
    mode, seed, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    start_ray()
    try:
        {"shm": shm_pressure, "fds": fd_pressure, "store": store_pressure}[mode](random.Random(seed), rounds)
    finally:
        ray.shutdown()
