"""Persistent channels between the driver and the device actors: one connection per session.

Why not classic actor calls, nor Ray Compiled Graphs (measured on the 2-core
development machine, BENCHMARKS.md "Channels"):
- a classic actor call costs ~1 ms round trip, more than a whole small step;
- a Compiled Graph execution costs ~0.09 ms, but its reader busy-waits: an idle
  actor in a compiled graph burns a full core forever, and the driver burns
  another while it waits for a reply, so a device's BLAS threads lose a core
  (the MLP step ran 30x slower with two BLAS threads);
- a TCP connection to the actor costs ~0.05 ms round trip for a small message
  and ~0.2 ms with an 800 KB feed, and both ends sleep in the kernel while they
  wait. That is the channel.

Protocol. `DeviceActor.open_channel` (a classic Ray call, made once per actor
instance and driver process) starts the actor's `Server` and returns (host,
port, secret, node id). The secret is 32 random bytes made by that actor; it
travels through Ray only, never over a channel. A session opens its own
connection to each device it runs on, and then:

1. Handshake: multiprocessing.connection's HMAC challenge (HMAC-MD5 of 20
   random bytes on CPython 3.11; 3.12 moved it to SHA-256), once each way. The
   actor challenges first (`deliver_challenge`, then `answer_challenge`), the
   driver answers first (as multiprocessing's Listener and Client with an
   authkey do), then the actor says READY. Until then each end has read only
   byte strings of at most 256 bytes, and neither has sent the secret.
2. Frames, each way: a request is the argument of the actor's handler, a reply
   its result. Frames on one connection are served in order, so a session's
   runs never overtake each other; sessions run side by side, each connection
   on a thread of its own in the actor.

       frame   = head, then one message per large buffer
       head    = u32 count | count x u64 buffer sizes | u64 pickle length |
                 pickle of the object | the small buffers, one after another
       message = multiprocessing.connection's: i32 big-endian length
                 (-1 then u64 beyond 2 GiB) | that many bytes

   The pickle is cloudpickle's, protocol 5, as Ray's own (a user-declared op's
   kernel travels by value with the plan), with every pickle-5 buffer out of
   band (the Arrow messages of `transport.Packed`, numpy arrays). A buffer of
   OUT_OF_BAND_BYTES or more is a message of its own, sent from its own memory;
   smaller ones ride in the head, so a small run is one message each way. The
   receiver puts all the buffers of a frame in one fresh block, back to back,
   each at a 64-byte aligned offset: a Packed's padded metadata and body are
   then one Arrow message read in place, and the arrays it gives are the
   receiver's own, writable (a frame's arrays share its block, which lives as
   long as one of them does). The head is read with
   `Connection.recv_bytes(MAX_HEAD_BYTES)`; large buffers with `os.readv`
   straight into the block, because `Connection.recv_bytes_into` reads a
   message into an io.BytesIO first and copies it out (measured, CPython 3.11:
   a 32 MB buffer cost 32 MB more).

Threat model. Any process on a node may connect to an actor's port, and may
listen on the port a dead actor left, where a driver may still come with the
address it cached. Neither may run code in the driver or an actor, nor learn a
secret: nothing is unpickled before both ends proved they hold the secret, and
the secret never crosses a socket (only HMACs of fresh random challenges).
Each actor has its own secret, so what a driver answers to a fake listener on a
dead actor's port opens no other actor. Whoever holds a secret (the driver,
through Ray) can already run code in the actor through Ray: frames after the
handshake are trusted pickles, bounded against mistakes, not against malice.
Out of scope: reading the traffic (channels are not encrypted; neither are Ray's
own transfers).

Bounds (the actor keeps serving its sessions whatever a peer does):
- At most MAX_PENDING_HANDSHAKES handshakes under way per actor: a connection
  beyond that is closed at once. Each handshake has HANDSHAKE_TIMEOUT_S in all,
  on both ends, then its socket is shut down.
- A failed accept() (EMFILE: out of file descriptors) is logged and waited out
  for ACCEPT_RETRY_S; the listener goes on.
- A frame's head is at most MAX_HEAD_BYTES, its buffers together at most
  MAX_FRAME_BYTES; a longer length, a buffer whose length is not the one its
  head announced, or a truncated frame drops that connection, and only that one.
- `connect` retries refused, reset, closed or stalled connections with backoff
  until CONNECT_TIMEOUT_S, asking Ray between tries whether the actor lives. A
  driver out of file descriptors (EMFILE, ENFILE) fails at once: retrying would
  only hold the run for CONNECT_TIMEOUT_S.
  Only Ray says that an actor died (RayActorError), never a socket that refused;
  a peer that fails the handshake is an AuthenticationError.
- Waits use poll (`multiprocessing.connection.wait`, `select.poll`), never
  select(): file descriptors above 1024 work.

Driver state (under `_lock`): `_addresses` ((device name, actor generation) ->
(host, port, secret, node id)). A Channel is owned by one session's scheduler,
which uses it from one thread at a time. A broken connection means the actor is
gone: the scheduler reports the device unavailable and the next run connects to
the new actor.
"""

from __future__ import annotations

import errno
import logging
import os
import pickle
import secrets
import select
import socket
import struct
import threading
import time
from collections import deque
from multiprocessing import AuthenticationError
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from multiprocessing.connection import wait as _wait

import numpy as np
import ray
from ray import cloudpickle

from scheduler.shell import shm
from scheduler.shell.transport import Packed

SECRET_BYTES = 32
READY = b"raygraph channel 1"
CONNECT_TIMEOUT_S = 30.0
HANDSHAKE_TIMEOUT_S = 5.0
RETRY_FIRST_S, RETRY_MAX_S = 0.02, 1.0
MAX_PENDING_HANDSHAKES = 64
ACCEPT_RETRY_S = 0.1
LISTEN_BACKLOG = 512
OUT_OF_BAND_BYTES = 16 * 1024  # smaller buffers ride in the frame's head
MAX_HEAD_BYTES = 1 << 30
MAX_FRAME_BYTES = 1 << 36
ALIGN = 64
SPIN_S = float(os.environ.get("RAYGRAPH_SPIN_S", "0.0003"))

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_addresses: dict[tuple[str, int], tuple] = {}  # -> (host, port, secret, node id)
_COUNT = struct.Struct("<I")
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE)  # no retry: they free no descriptor


class FrameError(ConnectionError):
    """A frame that breaks the protocol: its connection is dropped."""


# -- the driver side -------------------------------------------------------------------


class Channel:
    """One session's connection to one device actor: requests out, replies back in order.

    `outstanding` lists the run ids of requests whose replies are unread. A run
    given up on (aborted, its device too slow to answer) leaves its reply
    unread; `read_for` skips such stale replies before the one it wants.

    >>> chan = Channel(ray.get(actor.open_channel.remote()))  # one try; see connect()
    """

    def __init__(self, address: tuple, deadline: float | None = None):
        host, port, secret, node_id = address
        self.conn = _open(host, port, secret, deadline or time.monotonic() + HANDSHAKE_TIMEOUT_S)
        self._poll = _poller(self.conn)
        self.outstanding: deque = deque()
        local = ray.is_initialized() and node_id == ray.get_runtime_context().get_node_id()
        self.arena = shm.FeedArena() if local and shm.enabled() else None

    def pack_feeds(self, arrays: list) -> list:
        """The run's feeds as they travel: large ones through shared memory when local."""
        if self.arena is None or len(self.outstanding) >= shm.SLOTS - 1:
            return [Packed(a) for a in arrays]
        self.arena.begin(arrays)
        out = []
        for a in arrays:
            packed = self.arena.pack(a)
            out.append(packed if packed is not None else Packed(a))
        return out

    def send(self, request: tuple, run_id, by_value: bool = True) -> None:
        """Sends one request (see send_frame for `by_value`); ConnectionError if the actor is gone."""
        try:
            send_frame(self.conn, request, by_value)
        except OSError as e:
            raise ConnectionError(str(e)) from e
        self.outstanding.append(run_id)

    def read_for(self, run_id):
        """The reply to run `run_id` (earlier, abandoned replies are dropped); None if, once
        they are, nothing more is there to read yet (the caller waits again, with its deadline)."""
        while self.outstanding:
            if len(self.outstanding) == 1:  # else the actor has the next request: no hurry
                _spin_until_readable(self._poll)
            try:
                reply = recv_frame(self.conn)
            except (EOFError, OSError) as e:
                raise ConnectionError(str(e) or type(e).__name__) from e
            if self.outstanding.popleft() == run_id:
                return reply
            if not self._poll.poll(0):  # an abandoned run's reply: the wanted one is not here yet
                return None
        raise RuntimeError(f"no request of run {run_id} is waiting for a reply")

    def fileno(self) -> int:
        return self.conn.fileno()

    def closed(self) -> bool:
        """Whether the actor's end is closed (its process died): a peek, nothing is read."""
        try:
            with socket.socket(fileno=os.dup(self.conn.fileno())) as sock:
                return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def close(self) -> None:
        self.conn.close()
        if self.arena is not None:
            self.arena.close()


def wait_readable(channels: list[Channel], timeout_s: float | None) -> list[Channel]:
    """The channels with a reply to read, waiting up to `timeout_s` (None: until one has)."""
    return _wait(channels, timeout_s)


def connect(device_name: str, actor, generation: int, timeout_s: float = CONNECT_TIMEOUT_S) -> Channel:
    """A new, authenticated connection to this actor instance.

    Raises RayActorError when Ray says the actor died, ConnectionError when no
    connection was made within `timeout_s` (the actor alive but not accepting),
    AuthenticationError when the actor's own address answers without its secret.
    A cached address that fails the handshake is asked of the actor again: it
    may be a dead actor's port, now someone else's.
    """
    key = (device_name, generation)
    deadline = time.monotonic() + timeout_s
    with _lock:
        address = _addresses.get(key)
    fresh, delay = False, RETRY_FIRST_S
    while True:
        if address is None:
            address, fresh = _ask_actor(actor, deadline), True
            with _lock:
                _addresses[key] = address
        try:
            return Channel(address, deadline)
        except AuthenticationError:
            forget(device_name, generation)
            if fresh:
                raise
        except (OSError, EOFError) as e:
            if getattr(e, "errno", None) in _OUT_OF_DESCRIPTORS:  # no retry frees a descriptor
                raise ConnectionError(f"this process has no file descriptor left ({e})") from None
            if time.monotonic() + delay >= deadline:
                raise ConnectionError(
                    f"no connection within {timeout_s:g} s ({type(e).__name__}: {e})"
                ) from None
            time.sleep(delay)
            delay = min(2 * delay, RETRY_MAX_S)
        address = None  # ask the actor again: Ray knows whether it lives


def forget(device_name: str, generation: int) -> None:
    """Forgets a dead actor instance's address."""
    with _lock:
        _addresses.pop((device_name, generation), None)


def _ask_actor(actor, deadline: float) -> tuple:
    """The actor's channel address, through Ray (RayActorError if it died)."""
    return tuple(ray.get(actor.open_channel.remote(), timeout=max(1.0, deadline - time.monotonic())))


def _open(host: str, port: int, secret: bytes, deadline: float) -> Connection:
    """One try at a connection, handshake included, before `deadline`."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the deadline passed")
    sock = socket.create_connection((host, port), timeout=remaining)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return _handshake(sock, secret, server=False, timeout_s=min(HANDSHAKE_TIMEOUT_S, remaining))


# -- the actor side --------------------------------------------------------------------


class Server:
    """The actor side: accepts connections, authenticates them, serves each on its own thread.

    >>> server = Server(lambda request: ("echo", request), "127.0.0.1")
    >>> server.address  # (host, port, secret, node id): give it to drivers through Ray only
    """

    def __init__(self, handle, host: str):
        self.handle = handle  # handle(request) -> reply, which never raises
        self.secret = secrets.token_bytes(SECRET_BYTES)
        self.listener = socket.create_server((host, 0), backlog=LISTEN_BACKLOG)
        self._pending = threading.BoundedSemaphore(MAX_PENDING_HANDSHAKES)
        self._closed = False
        node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
        self.address = (host, self.listener.getsockname()[1], self.secret, node_id)
        threading.Thread(target=self._accept_loop, name="raygraph-channel-accept", daemon=True).start()

    def close(self) -> None:
        """Stops listening (connections being served go on until their peers leave)."""
        self._closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                sock, _ = _accept(self.listener)
            except OSError as e:
                if self._closed:
                    return
                _log.warning("channel listener: accept failed (%s); listening on", e)
                time.sleep(ACCEPT_RETRY_S)
                continue
            if not self._pending.acquire(blocking=False):
                sock.close()  # too many handshakes under way: this one waits for nobody
                continue
            try:
                threading.Thread(
                    target=self._serve, args=(sock,), name="raygraph-channel", daemon=True
                ).start()
            except RuntimeError:  # no thread to be had
                self._pending.release()
                sock.close()

    def _serve(self, sock: socket.socket) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _handshake(sock, self.secret, server=True, timeout_s=HANDSHAKE_TIMEOUT_S)
        except (OSError, EOFError, AuthenticationError) as e:
            _log.debug("channel: a connection failed the handshake: %s", e)
            return  # dropped before a single frame was read
        finally:
            self._pending.release()
        with conn:
            try:
                self._serve_frames(conn)
            finally:
                shm.release_thread_maps()  # this connection's shared-memory feeds

    def _serve_frames(self, conn: Connection) -> None:
        from scheduler.engine.device import kernel_thread

        kernel_thread()
        poll = _poller(conn)
        while True:
            _spin_until_readable(poll)
            try:
                request = recv_frame(conn)
            except EOFError:
                return  # the session ended
            except Exception as e:  # noqa: BLE001 - a frame that cannot be read: say why, drop it
                _log.warning("channel: dropped a session's connection: %s: %s", type(e).__name__, e)
                return
            reply = self.handle(request)  # answers its own errors: a raise here is a bug, and loud
            try:
                send_frame(conn, reply, by_value=False)
            except OSError:
                return


def _accept(listener: socket.socket):
    return listener.accept()


# -- the handshake ---------------------------------------------------------------------


def _handshake(sock: socket.socket, secret: bytes, *, server: bool, timeout_s: float) -> Connection:
    """Both ends prove they hold `secret` within `timeout_s`; the Connection, ready for frames.

    AuthenticationError: the peer does not hold the secret (or is no raygraph
    channel). EOFError, ConnectionError, TimeoutError: the connection closed,
    was reset, or the peer was silent too long (worth another try).
    """
    with sock:  # the Connection gets its own descriptor; `sock` is there to be shut down
        sock.setblocking(True)
        conn = Connection(os.dup(sock.fileno()))
        try:
            with _Deadline(sock, timeout_s):
                _prove(conn, secret, server)
            if server:
                conn.send_bytes(READY)  # only now: a handshake past its deadline never said it
        except BaseException:
            conn.close()
            raise
    return conn


def _prove(conn: Connection, secret: bytes, server: bool) -> None:
    try:
        if server:
            deliver_challenge(conn, secret)
            answer_challenge(conn, secret)
        else:
            answer_challenge(conn, secret)
            deliver_challenge(conn, secret)
            if conn.recv_bytes(len(READY)) != READY:
                raise AuthenticationError("the actor did not say READY")
    except (EOFError, ConnectionError, AuthenticationError):
        raise
    except (AssertionError, OSError) as e:  # a malformed challenge, an over-long message
        raise AuthenticationError(f"not a raygraph channel ({type(e).__name__}: {e})") from None


class _Deadline:
    """Shuts `sock` down when the block has not ended within `timeout_s`: TimeoutError then."""

    def __init__(self, sock: socket.socket, timeout_s: float):
        self.sock = sock
        self.expired = threading.Event()
        self.timer = threading.Timer(timeout_s, self._expire)
        self.timer.daemon = True

    def _expire(self) -> None:
        self.expired.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # a blocked read returns: end of file
        except OSError:
            pass

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, kind, value, tb):
        self.timer.cancel()
        self.timer.join()  # from here on nothing touches the socket
        if self.expired.is_set():
            raise TimeoutError("the handshake did not end in time")
        return False


# -- frames ----------------------------------------------------------------------------


def send_frame(conn: Connection, obj, by_value: bool = True) -> None:
    """Writes one frame holding `obj`: the head, then each large buffer from its own memory.

    `by_value` pickles with cloudpickle (functions declared in the user's script, a
    user op's kernel, travel by value); without it, with the standard pickle, which
    is several times faster for a run's small request or reply.
    """
    buffers: list[memoryview] = []
    dumps = cloudpickle.dumps if by_value else pickle.dumps
    payload = dumps(obj, protocol=5, buffer_callback=lambda b: buffers.append(b.raw()))
    sizes = [b.nbytes for b in buffers]
    small = [b for b in buffers if b.nbytes < OUT_OF_BAND_BYTES]
    conn.send_bytes(
        b"".join([struct.pack(f"<I{len(sizes)}QQ", len(sizes), *sizes, len(payload)), payload, *small])
    )
    for buffer in buffers:
        if buffer.nbytes >= OUT_OF_BAND_BYTES:
            conn.send_bytes(buffer)


def recv_frame(conn: Connection):
    """Reads one frame and returns its object; EOFError when the peer closed between frames."""
    head = conn.recv_bytes(MAX_HEAD_BYTES)  # OSError beyond MAX_HEAD_BYTES
    sizes, payload, small = _parse_head(head)
    return pickle.loads(payload, buffers=_recv_buffers(conn, sizes, small))


def _parse_head(head: bytes) -> tuple[list[int], memoryview, memoryview]:
    """(buffer sizes, pickle, the small buffers one after another) of a frame's head."""
    if len(head) < _COUNT.size:
        raise FrameError(f"a frame head of {len(head)} bytes")
    (count,) = _COUNT.unpack_from(head)
    start = _COUNT.size + 8 * count + 8
    if start > len(head):
        raise FrameError(f"a frame head of {len(head)} bytes announces {count} buffers")
    *sizes, length = struct.unpack_from(f"<{count}QQ", head, _COUNT.size)
    inline = sum(n for n in sizes if n < OUT_OF_BAND_BYTES)
    if start + length + inline != len(head):
        raise FrameError(f"a frame head of {len(head)} bytes announces {start + length + inline}")
    if sum(sizes) > MAX_FRAME_BYTES:
        raise FrameError(f"a frame of {sum(sizes)} bytes (at most {MAX_FRAME_BYTES})")
    view = memoryview(head)
    return sizes, view[start : start + length], view[start + length :]


def _recv_buffers(conn: Connection, sizes: list[int], small: memoryview) -> list[memoryview]:
    """The frame's buffers in one fresh block, back to back, each at a 64-byte aligned offset.

    Small ones are copied from the head; each large one is read straight into its place.
    """
    if not sizes:
        return []
    offsets = [0]
    for size in sizes:
        offsets.append(_aligned(offsets[-1] + size))
    block = np.empty(offsets[-1] + ALIGN, np.uint8)
    block = block[-block.ctypes.data % ALIGN :]
    fd, at, views = conn.fileno(), 0, []
    for offset, size in zip(offsets, sizes):
        view = memoryview(block[offset : offset + size])
        if size < OUT_OF_BAND_BYTES:
            view[:] = small[at : at + size]
            at += size
        else:
            _recv_message_into(fd, view)
        views.append(view)
    return views


def _recv_message_into(fd: int, view: memoryview) -> None:
    """Reads one Connection message, which must be `view`'s size, straight into `view`."""
    (size,) = struct.unpack("!i", _read(fd, 4))
    if size == -1:
        (size,) = struct.unpack("!Q", _read(fd, 8))
    if size != view.nbytes:
        raise FrameError(f"a buffer of {size} bytes where the frame's head announced {view.nbytes}")
    _fill(fd, view)


def _read(fd: int, n: int) -> bytearray:
    data = bytearray(n)
    _fill(fd, memoryview(data))
    return data


def _fill(fd: int, view: memoryview) -> None:
    got = 0
    while got < view.nbytes:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise FrameError("the peer closed the connection in the middle of a frame")
        got += n


def _aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# -- waiting ---------------------------------------------------------------------------


def _poller(conn: Connection):
    poll = select.poll()
    poll.register(conn.fileno(), select.POLLIN)
    return poll


def _spin_until_readable(poll) -> None:
    """Polls for up to SPIN_S before the caller blocks on the connection.

    A thread that blocks lets its core go idle, and on virtual machines a core
    woken from idle takes long to answer; a step's reply or the next request
    usually comes within a few milliseconds, so both ends poll that long first.
    The driver polls only for the reply to its last request: while the actor
    holds another one, a late read costs nothing, and polling would take a
    core from the actor's kernels (train steps that return without waiting).
    """
    deadline = time.perf_counter() + SPIN_S
    while time.perf_counter() < deadline:
        if poll.poll(0):
            return
