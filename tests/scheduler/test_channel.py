"""The driver-to-actor channels: runs, detached steps, shared-memory feeds, frames read in place,
and what an attacker on the same machine may try against them (one section each)."""

from __future__ import annotations

import errno
import os
import pickle
import resource
import socket
import struct
import threading
import tracemalloc
from multiprocessing import AuthenticationError
from multiprocessing.connection import CHALLENGE, WELCOME, Connection, answer_challenge
from types import SimpleNamespace

import numpy as np
import pytest
import ray

import raygraph as tf
from scheduler.engine.device import BlasThreads
from scheduler.shell import channel, runtime, shm, transport
from scheduler.shell.transport import Packed
from tests.scheduler.test_failures import kill_actor
from tests.scheduler.test_multi_device import TWO_CPUS

pytestmark = pytest.mark.usefixtures("ray_cluster")


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
    assert chan.conn.closed  # closed with the session


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
    t = shm.ShmTensor("/dev/shm/nowhere", 0, 0, 10, False)
    assert len(pickle.dumps(t)) < 200


class CountFloatingPointWarnings(tf.Op):
    """log(x) / x, returning how many numpy warnings the kernel raised (test op)."""

    inputs = ("x",)
    api = "_test_count_fp_warnings"

    def infer(x):
        return tf.int32, tf.TensorShape([])

    def kernel(xp, x):
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            xp.log(x) / x
        return np.int32(len(caught))


@pytest.mark.parametrize("target", ["", "local"])
def test_kernels_stay_quiet_on_floating_point_errors(target):
    x = tf.placeholder(tf.float32, [2])
    y = tf.log(x) / x
    with tf.Session(target) as sess:
        out, warned = sess.run([y, tf._test_count_fp_warnings(x)], {x: [0.0, 1.0]})
    assert np.isneginf(out[0]) and out[1] == 0.0
    assert warned == 0  # numpy's divide-by-zero and invalid warnings are off in kernels, as in TF


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
    path = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
    ).stdout.strip()
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


# -- frames: pickle 5 over multiprocessing.connection, buffers read in place --------------


def _pair() -> tuple[Connection, Connection]:
    left, right = socket.socketpair()
    return Connection(left.detach()), Connection(right.detach())


def _no_copy(*_):
    raise AssertionError("the Arrow metadata and body were not back to back: copied")


def _received(conn: Connection) -> dict:
    """Reads one frame on a thread (the sender may block until it is read); .join() then ["value"]."""
    out: dict = {}
    out["thread"] = threading.Thread(target=lambda: out.update(value=channel.recv_frame(conn)))
    out["thread"].start()
    return out


def test_frames_carry_large_buffers_and_nested_objects_read_in_place(monkeypatch):
    monkeypatch.setattr(transport, "_joined", _no_copy)
    left, right = _pair()
    big = np.arange(3 * 1024 * 1024, dtype=np.float32)  # 12 MB: more than a socket buffer
    fortran = np.asfortranarray(np.random.default_rng(0).random((300, 200)))
    received = _received(right)
    channel.send_frame(
        left, ("run", [Packed(big), Packed(fortran), Packed(np.array([True, False]))], {"k": 1})
    )
    received["thread"].join()
    kind, (a, f, b), extra = received["value"]
    np.testing.assert_array_equal(a, big)
    np.testing.assert_array_equal(f, fortran)
    np.testing.assert_array_equal(b, [True, False])
    assert kind == "run" and extra == {"k": 1}
    assert a.flags.writeable and f.flags.writeable and b.flags.writeable  # the receiver's own
    assert a.ctypes.data % channel.ALIGN == 0
    left.close()
    with pytest.raises(EOFError):
        channel.recv_frame(right)
    right.close()


def test_frames_with_thousands_of_small_arrays():
    """A 2000-op plan carries 2000 constants: they ride in the frame's head."""
    left, right = _pair()
    small = [np.full(8, i, np.float32) for i in range(3000)]
    big = [np.full(100_000, i, np.float32) for i in range(300)]
    received = _received(right)
    channel.send_frame(left, (small, [Packed(b) for b in big]))
    received["thread"].join()
    got_small, got_big = received["value"]
    assert all(np.array_equal(a, b) for a, b in zip(got_small, small))
    assert all(np.array_equal(a, b) for a, b in zip(got_big, big))
    left.close()
    right.close()


def _head(sizes: list[int], payload: bytes = b"") -> bytes:
    """A frame's head as channel.send_frame writes it (small buffers not included)."""
    return struct.pack(f"<I{len(sizes)}QQ", len(sizes), *sizes, len(payload)) + payload


def _message_prefix(n: int) -> bytes:
    return struct.pack("!i", n) if n < 2**31 else struct.pack("!iQ", -1, n)


BAD_FRAMES = {
    "a huge length prefix": (_message_prefix(1 << 62), OSError, "bad message length"),
    "a head with buffers beyond the bound": (
        _message_prefix(20) + _head([channel.MAX_FRAME_BYTES + 1]),
        channel.FrameError,
        "at most",
    ),
    "a buffer of another length than its head's": (
        _message_prefix(20) + _head([1 << 20]) + _message_prefix(2 << 20),
        channel.FrameError,
        "announced",
    ),
    "a truncated head": (_message_prefix(1000) + b"x" * 10, OSError, "end of file"),
    "a truncated buffer": (
        _message_prefix(20) + _head([1 << 20]) + _message_prefix(1 << 20) + b"x" * 1000,
        channel.FrameError,
        "middle of a frame",
    ),
}


@pytest.mark.parametrize("bad", BAD_FRAMES)
def test_a_frame_that_breaks_the_protocol_is_refused(bad):
    data, error, match = BAD_FRAMES[bad]
    left, right = _pair()
    os.write(left.fileno(), data)
    left.close()  # a truncated frame ends here
    with pytest.raises(error, match=match):
        channel.recv_frame(right)
    right.close()


# -- the listener and the driver's connect: bounds and deadlines --------------------------


def _fake_actor(address: tuple):
    """Stands for a device actor's handle: `open_channel.remote()` gives `address` through Ray."""
    return SimpleNamespace(open_channel=SimpleNamespace(remote=lambda: ray.put(address)))


def _echo(request):
    return ("echo", request)


def test_the_listener_survives_a_failed_accept(monkeypatch):
    failures = []
    accept = channel._accept

    def out_of_files_once(listener):
        if not failures:
            failures.append(errno.EMFILE)
            raise OSError(errno.EMFILE, "Too many open files")
        return accept(listener)

    monkeypatch.setattr(channel, "_accept", out_of_files_once)
    server = channel.Server(_echo, "127.0.0.1")
    try:
        chan = channel.Channel(server.address)
        chan.send("ping", 1)
        assert chan.read_for(1) == ("echo", "ping")
        chan.close()
    finally:
        server.close()
    assert failures == [errno.EMFILE]


def test_handshakes_beyond_the_cap_are_closed_at_once_and_a_driver_gets_in_when_one_ends(monkeypatch):
    monkeypatch.setattr(channel, "MAX_PENDING_HANDSHAKES", 2)
    monkeypatch.setattr(channel, "HANDSHAKE_TIMEOUT_S", 600.0)  # the idle ones stay pending
    server = channel.Server(_echo, "127.0.0.1")
    host, port = server.address[:2]
    idle = [Connection(socket.create_connection((host, port)).detach()) for _ in range(2)]
    try:
        for conn in idle:
            assert conn.recv_bytes(256).startswith(CHALLENGE)  # a handshake under way
        with socket.create_connection((host, port)) as third:
            assert third.recv(256) == b""  # over the cap: closed before a byte
        for conn in idle:
            conn.close()
        chan = channel.connect("capped", _fake_actor(server.address), 0)  # retries until a slot is free
        chan.send("ping", 1)
        assert chan.read_for(1) == ("echo", "ping")
        chan.close()
    finally:
        channel.forget("capped", 0)
        server.close()


@pytest.mark.timeout(120)
def test_the_actor_hangs_up_on_a_silent_peer(monkeypatch):
    monkeypatch.setattr(channel, "HANDSHAKE_TIMEOUT_S", 0.2)
    server = channel.Server(_echo, "127.0.0.1")
    try:
        with socket.create_connection(server.address[:2]) as silent:
            silent.settimeout(60)  # a hang guard: the actor hangs up long before
            heard = b""
            while chunk := silent.recv(256):
                heard += chunk
        assert CHALLENGE in heard  # then end of file: the actor hung up
    finally:
        server.close()


@pytest.mark.timeout(120)
def test_the_driver_gives_up_on_a_silent_listener(monkeypatch):
    monkeypatch.setattr(channel, "HANDSHAKE_TIMEOUT_S", 0.2)
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts in the kernel, never speaks
        address = ("127.0.0.1", listener.getsockname()[1], os.urandom(channel.SECRET_BYTES), None)
        with pytest.raises(TimeoutError):
            channel.Channel(address)
        with pytest.raises(ConnectionError, match="no connection within"):
            channel.connect("silent", _fake_actor(address), 0, timeout_s=1.0)
    channel.forget("silent", 0)


# -- attacks from the same machine ---------------------------------------------------------


def _message(data: bytes) -> bytes:
    return _message_prefix(len(data)) + data


def _evil_pickle(marker) -> bytes:
    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    return pickle.dumps(Payload())


def _scripts(marker) -> dict[str, bytes]:
    """What a fake listener says, all at once, to whoever connects."""
    evil = _evil_pickle(marker)
    return {
        "a pickle at once": _message(evil) + _message(_head([], evil)),
        "a mimicked challenge": _message(CHALLENGE + os.urandom(20))
        + _message(WELCOME)
        + _message(os.urandom(16))  # its answer to the driver's challenge: a guess
        + _message(_head([], evil)),
    }


class _FakeListener:
    """Listens on (host, port), says `script` to each connection and keeps what it hears."""

    def __init__(self, script: bytes, host: str = "127.0.0.1", port: int = 0):
        self.listener = socket.create_server((host, port))
        self.address = self.listener.getsockname()
        self.script = script
        self.heard = bytearray()
        self.connections = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                sock, _ = self.listener.accept()
                self.connections += 1
                with sock:
                    sock.settimeout(60)  # a hang guard: the driver hangs up long before
                    sock.sendall(self.script)
                    while chunk := sock.recv(65536):
                        self.heard += chunk
        except OSError:
            return

    def close(self):
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join()


@pytest.mark.parametrize("script", ["a pickle at once", "a mimicked challenge"])
def test_the_driver_authenticates_the_listener_before_reading_anything(script, tmp_path):
    marker = tmp_path / "pwned"
    secret = os.urandom(channel.SECRET_BYTES)
    fake = _FakeListener(_scripts(marker)[script])
    try:
        with pytest.raises(AuthenticationError):
            channel.Channel((*fake.address, secret, None))
    finally:
        fake.close()
    assert fake.connections == 1 and secret not in fake.heard
    assert not marker.exists()


def test_a_listener_on_a_dead_actors_port_learns_no_secret_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    x = tf.placeholder(tf.float32, [1])
    y = x + 1.0
    with tf.Session() as sess:
        sess.run(y, {x: [1.0]})
        device, _ = _actor_of(sess)
    generation = runtime._actors[device.name][1]
    host, port, secret, _ = channel._addresses[(device.name, generation)]
    kill_actor(device.name)  # the driver has not noticed: the address stays cached
    fake = _FakeListener(_scripts(marker)["a mimicked challenge"], host, port)
    try:
        with tf.Session() as sess:
            with pytest.raises(tf.errors.UnavailableError, match=device.name):
                sess.run(y, {x: [1.0]})  # Ray says the actor died
            np.testing.assert_allclose(sess.run(y, {x: [1.0]}), [2.0])  # on a new actor
    finally:
        fake.close()
    assert fake.connections == 1 and fake.heard  # the driver answered the challenge...
    assert secret not in fake.heard  # ...with an HMAC, not the secret
    assert not marker.exists()


def _half_close(conn: Connection) -> None:
    with socket.socket(fileno=os.dup(conn.fileno())) as sock:
        sock.shutdown(socket.SHUT_WR)


def _authenticated(host: str, port: int, secret: bytes) -> Connection:
    return channel._handshake(socket.create_connection((host, port)), secret, server=False, timeout_s=30)


def _wrong_secret(host, port, secret) -> Connection:
    conn = Connection(socket.create_connection((host, port)).detach())
    with pytest.raises(AuthenticationError):
        answer_challenge(conn, bytes(reversed(secret)))
    return conn


def _bad_frame(data: bytes):
    def attack(host, port, secret) -> Connection:
        conn = _authenticated(host, port, secret)
        os.write(conn.fileno(), data)
        _half_close(conn)
        return conn

    return attack


ATTACKS = {"a wrong secret": _wrong_secret} | {
    bad: _bad_frame(data) for bad, (data, *_) in BAD_FRAMES.items()
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("attack", ATTACKS)
def test_the_actor_drops_a_bad_peer_and_serves_its_sessions_on(attack):
    x = tf.placeholder(tf.float32, [2])
    y = x * 3.0
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [1, 2]}), [3, 6])
        _, actor = _actor_of(sess)
        pid = ray.get(actor.ping.remote())["pid"]
        host, port, secret, _ = ray.get(actor.open_channel.remote())
        conn = ATTACKS[attack](host, port, secret)
        with pytest.raises(EOFError):
            conn.recv_bytes()  # the actor hung up
        conn.close()
        np.testing.assert_allclose(sess.run(y, {x: [4, 5]}), [12, 15])  # the live session
        assert ray.get(actor.ping.remote())["pid"] == pid


# -- many file descriptors, a flood of connections ------------------------------------------


def _room_for_files(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            pytest.skip(f"RLIMIT_NOFILE's hard limit ({hard}) is under {n}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


@pytest.fixture
def thousands_of_open_files():
    _room_for_files(4096)
    fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(2000)]
    yield fds
    for fd in fds:
        os.close(fd)


def test_a_driver_with_thousands_of_open_files_runs_sessions(thousands_of_open_files):
    assert max(thousands_of_open_files) > 1024  # beyond select()'s reach
    x = tf.placeholder(tf.float32, [2])
    with tf.device("/cpu:0"):
        a = x * 2.0
    with tf.device("/cpu:1"):
        b = x + 1.0
    with tf.Session(config=TWO_CPUS) as sess:
        np.testing.assert_allclose(sess.run(a, {x: [1, 2]}), [2, 4])  # one device: read directly
        np.testing.assert_allclose(sess.run([a, b], {x: [1, 2]}), [[2, 4], [2, 3]])  # waits on both
        assert all(link.channel.fileno() > 1024 for link in sess._scheduler.links.values())


def _connecting(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.connect_ex((host, port))
    return sock


def _wait_for_one_closed_before_a_byte(socks: list[socket.socket]) -> None:
    """Waits until the listener closes one of `socks` without a byte (some may never be accepted)."""
    from multiprocessing.connection import wait

    pending = set(socks)
    while True:
        for sock in wait(list(pending)):
            pending.discard(sock)
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    return
            except ConnectionError:
                return


@pytest.mark.timeout(300)
def test_a_flood_of_idle_connections_neither_kills_nor_stalls_the_actor():
    _room_for_files(4096)
    x = tf.placeholder(tf.float32, [2])
    y = x * 3.0
    with tf.Session() as sess:
        sess.run(y, {x: [1, 2]})
        device, actor = _actor_of(sess)
    before = runtime._actors[device.name]
    pid = ray.get(actor.ping.remote())["pid"]
    host, port, _, _ = ray.get(actor.open_channel.remote())
    flood = [_connecting(host, port) for _ in range(2000)]
    try:
        with tf.Session() as sess:  # its connection queues behind the flood's
            np.testing.assert_allclose(sess.run(y, {x: [1, 2]}), [3, 6])
        _wait_for_one_closed_before_a_byte(flood)  # beyond the cap: no thread, no handshake
    finally:
        for sock in flood:
            sock.close()
    assert ray.get(actor.ping.remote())["pid"] == pid
    assert runtime._actors[device.name] == before  # the same actor, never declared dead


# -- fetched tensors: read in place, handed over as they are ---------------------------------


def test_a_fetched_tensor_is_read_in_place_and_handed_over_without_a_copy(monkeypatch):
    n = 8 * 1024 * 1024  # 32 MB of float32
    big = tf.fill([n], 2.0)
    with tf.Session() as sess:
        sess.run(big)  # the plan travels once
        monkeypatch.setattr(transport, "_joined", _no_copy)
        tracemalloc.start()
        try:
            value = sess.run(big)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert value.nbytes == 4 * n and value[0] == value[-1] == 2.0
    assert value.flags.writeable  # the user's own
    assert peak < 1.5 * value.nbytes  # one block read from the socket, no copy after
