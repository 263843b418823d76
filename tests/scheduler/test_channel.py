"""The driver-to-actor channels: sockets with token auth, detached train steps, shared-memory feeds."""

from __future__ import annotations

import os
import pickle
import socket
import threading
import time

import numpy as np
import pytest
import ray

import raygraph as tf
from scheduler.engine.device import BlasThreads
from scheduler.shell import channel, runtime, shm, wire
from scheduler.shell.transport import Packed


def _actor_of(sess):
    (device,) = [d for d in sess._devices if d.name in sess._scheduler.links] or sess._devices[:1]
    return device, runtime.existing_actor(device.name)


def test_runs_go_through_the_sessions_channel():
    x = tf.placeholder(tf.float32, [3])
    y = x * 2.0
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [1, 2, 3]}), [2, 4, 6])
        (link,) = sess._scheduler.links.values()
        chan = link.channel
        assert isinstance(chan, channel.Channel) and not chan.outstanding
    assert chan.sock.fileno() == -1  # closed with the session


def test_train_steps_return_before_they_end_and_keep_their_order():
    v = tf.Variable(0.0)
    x = tf.placeholder(tf.float32, [])
    step = v.assign_add(x).op
    with tf.Session() as sess:
        sess.run(v.initializer)
        for i in range(1, 21):
            assert sess.run(step, {x: float(i)}) is None
        assert sess.run(v) == sum(range(1, 21))  # every detached step ran, in order


def test_a_detached_steps_error_surfaces_at_the_next_run():
    x = tf.placeholder(tf.float32, [None])
    v = tf.Variable(np.zeros(4, np.float32))
    step = v.assign_add(tf.reshape(x, [4])).op  # a fed size of 5 fails in the kernel
    with tf.Session() as sess:
        sess.run(v.initializer)
        sess.run(step, {x: np.ones(5)})  # returns before the error happens
        with pytest.raises(tf.errors.InvalidArgumentError, match="earlier run"):
            sess.run(v)
        np.testing.assert_allclose(sess.run(v), np.zeros(4))  # the session is usable


def test_large_feeds_travel_through_shared_memory_without_mixing_runs():
    n = 64 * 1024  # 256 KB float32 feeds: above shm.MIN_BYTES
    x = tf.placeholder(tf.float32, [n])
    total = tf.Variable(0.0, dtype=tf.float64)
    step = total.assign_add(tf.cast(tf.reduce_sum(x), tf.float64)).op
    rng = np.random.default_rng(0)
    feeds = [rng.random(n, dtype=np.float32) for _ in range(3 * shm.SLOTS)]
    with tf.Session() as sess:
        sess.run(total.initializer)
        for f in feeds:  # more detached runs than slots: slots are reused
            sess.run(step, {x: f})
        expected = sum(float(f.astype(np.float64).sum()) for f in feeds)
        assert sess.run(total) == pytest.approx(expected, rel=1e-6)
        (link,) = sess._scheduler.links.values()
        chan = link.channel
        assert chan.arena is not None and any(s.path for s in chan.arena.slots)
        paths = [s.path for s in chan.arena.slots if s.path]
    assert not any(os.path.exists(p) for p in paths)  # unlinked when the session closed


def test_a_peer_without_the_token_is_dropped_before_any_frame_is_read(tmp_path):
    x = tf.placeholder(tf.float32, [1])
    with tf.Session() as sess:
        sess.run(x + 1.0, {x: [1.0]})
        device, actor = _actor_of(sess)
        host, port, _, _ = ray.get(actor.open_channel.remote())
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with socket.create_connection((host, port)) as sock:
        sock.sendall(b"x" * channel.TOKEN_BYTES)
        try:
            wire.send(sock, Payload())
            sock.settimeout(5)
            assert sock.recv(1) == b""  # closed without an answer
        except (BrokenPipeError, ConnectionResetError):
            pass
    time.sleep(0.2)
    assert not marker.exists()


def test_frames_carry_large_buffers_and_nested_objects():
    left, right = socket.socketpair()
    big = np.arange(3 * 1024 * 1024, dtype=np.float32)  # 12 MB: more than one sendmsg
    received = {}
    reader = threading.Thread(target=lambda: received.update(value=wire.recv(right)))
    reader.start()
    wire.send(left, ("run", [Packed(big), Packed(np.array([True, False]))], {"k": 1}))
    reader.join(timeout=30)
    kind, (a, b), extra = received["value"]
    np.testing.assert_array_equal(a, big)
    np.testing.assert_array_equal(b, [True, False])
    assert kind == "run" and extra == {"k": 1}
    left.close()
    with pytest.raises(EOFError):
        wire.recv(right)
    right.close()


def test_frames_with_thousands_of_small_arrays():
    """A 2000-op plan carries 2000 constants: more buffers than one sendmsg takes."""
    left, right = socket.socketpair()
    small = [np.full(8, i, np.float32) for i in range(3000)]
    big = [np.full(100_000, i, np.float32) for i in range(300)]  # more large ones than MAX_BUFFERS
    received = {}
    reader = threading.Thread(target=lambda: received.update(value=wire.recv(right)))
    reader.start()
    wire.send(left, (small, [Packed(b) for b in big]))
    reader.join(timeout=60)
    got_small, got_big = received["value"]
    assert all(np.array_equal(a, b) for a, b in zip(got_small, small))
    assert all(np.array_equal(a, b) for a, b in zip(got_big, big))
    left.close()
    right.close()


def test_a_frame_header_too_large_is_refused():
    left, right = socket.socketpair()
    left.sendall((wire.MAX_HEADER + 1).to_bytes(4, "little"))
    with pytest.raises(ConnectionError, match="not a raygraph peer"):
        wire.recv(right)
    left.close()
    right.close()


def test_default_blas_threads_leave_a_core_to_the_driver_on_its_node():
    blas = BlasThreads()
    blas.default = 8
    limits = []
    blas.controller.limit = lambda limits_=None, **kw: limits.append(kw.get("limits", limits_))
    blas.apply(0, reserved=1, share=1)  # the driver's node, one device: 8 - 1
    blas.apply(0, reserved=0, share=2)  # another node, two devices: 8 // 2
    blas.apply(0, reserved=1, share=8)  # never below one
    blas.apply(3)  # an explicit intra_op_parallelism_threads
    assert limits == [7, 4, 1, 3]


def test_device_actors_run_at_normal_priority():
    x = tf.placeholder(tf.float32, [1])
    with tf.Session() as sess:
        sess.run(x * 1.0, {x: [1.0]})
        _, actor = _actor_of(sess)
        pid = ray.get(actor.ping.remote())["pid"]
    if os.getpriority(os.PRIO_PROCESS, os.getpid()) != 0 or os.geteuid() != 0:
        pytest.skip("lowering a process's niceness needs root")
    assert os.getpriority(os.PRIO_PROCESS, pid) == 0


def test_fed_values_are_read_only_views_the_actor_does_not_keep():
    n = 32 * 1024
    x = tf.placeholder(tf.float32, [n])
    v = tf.Variable(np.zeros(n, np.float32))
    keep = v.assign(x)  # the variable must own a copy, not a view of the feed's slot
    with tf.Session() as sess:
        sess.run(keep, {x: np.ones(n, np.float32)})
        for _ in range(2 * shm.SLOTS):  # overwrite every slot with other feeds
            sess.run(x * 2.0, {x: np.full(n, 7.0, np.float32)})
        np.testing.assert_array_equal(sess.run(v), np.ones(n))


def test_pickle_of_shm_tensor_is_only_a_reference():
    t = shm.ShmTensor("/dev/shm/nowhere", 0, 10, False)
    assert len(pickle.dumps(t)) < 200


def test_kernels_stay_quiet_on_floating_point_errors(capfd):
    x = tf.placeholder(tf.float32, [2])
    y = tf.log(x) / x
    with tf.Session() as sess:
        out = sess.run(y, {x: [0.0, 1.0]})
    assert np.isneginf(out[0]) and out[1] == 0.0
    time.sleep(0.5)  # actor output reaches the driver's stderr asynchronously
    assert "RuntimeWarning" not in capfd.readouterr().err


def test_shared_memory_files_go_away_when_the_process_exits(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "leak.py"
    script.write_text(
        "import numpy as np\n"
        "from scheduler.shell import shm\n"
        "arena = shm.FeedArena()\n"
        "arena.begin([np.zeros(1 << 17, np.float32)])\n"
        "print(arena.pack(np.zeros(1 << 17, np.float32)).path)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                          cwd=root, env={**os.environ, "PYTHONPATH": root}).stdout.strip()
    assert path.startswith("/dev/shm/raygraph-") and not os.path.exists(path)


def test_one_session_used_from_many_threads():
    x = tf.placeholder(tf.float32, [None])
    total = tf.Variable(0.0)
    add = total.assign_add(tf.reduce_sum(x)).op
    doubled = x * 2.0
    errors = []

    def worker(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(30):
                v = rng.random(int(rng.integers(1, 50_000))).astype(np.float32)
                np.testing.assert_allclose(sess.run(doubled, {x: v}), v * 2)
                sess.run(add, {x: np.ones(3, np.float32)})
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    with tf.Session() as sess:
        sess.run(total.initializer)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert sess.run(total) == 4 * 30 * 3
