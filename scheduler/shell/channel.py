"""Persistent channels between the driver and the device actors: one socket per session.

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

Protocol. The actor listens on its node's address (`DeviceActor.open_channel`,
a classic call made once per actor and process, which returns host, port and a
random token). A session opens its own connection to each device it runs on
and sends the token first; the actor checks it before reading anything else,
then serves the connection on a thread of its own: each frame (scheduler.wire)
is the arguments of `DeviceActor.run`, each reply is `run`'s reply. Frames on
one connection are served in order, so a session's runs never overtake each
other, while sessions run side by side as with classic calls.

Driver state (under `_lock`): `_addresses` ((device name, actor generation) ->
(host, port, token)). A Channel is owned by one session's scheduler, which
uses it from one thread at a time. A broken connection means the actor is gone: the
scheduler reports the device unavailable and the next run connects to the new
actor. `RAYGRAPH_CHANNELS=0` turns channels off (every run a classic call).
"""

from __future__ import annotations

import os
import secrets
import select
import socket
import threading
import time
import traceback
from collections import deque

import ray

from scheduler.shell import shm, wire
from scheduler.shell.transport import Packed

_lock = threading.Lock()
_addresses: dict[tuple[str, int], tuple] = {}  # -> (host, port, token, node id)
TOKEN_BYTES = 32


def shm_enabled() -> bool:
    return os.environ.get("RAYGRAPH_SHM", "1") != "0" and os.path.isdir("/dev/shm")


class Channel:
    """One session's connection to one device actor: requests out, replies back in order.

    `outstanding` lists the run ids of requests whose replies are unread. A run
    given up on (aborted, its device too slow to answer) leaves its reply
    unread; `read_for` skips such stale replies before the one it wants.
    """

    def __init__(self, address: tuple):
        host, port, token, node_id = address
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(token)
        self.outstanding: deque = deque()
        local = ray.is_initialized() and node_id == ray.get_runtime_context().get_node_id()
        self.arena = shm.FeedArena() if local and shm_enabled() else None

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

    def send(self, request: tuple, run_id) -> None:
        """Sends one request; ConnectionError if the actor is gone."""
        try:
            wire.send(self.sock, request)
        except OSError as e:
            raise ConnectionError(str(e)) from e
        self.outstanding.append(run_id)

    def read_for(self, run_id):
        """The reply to run `run_id` (earlier, abandoned replies are dropped)."""
        while self.outstanding:
            _spin_until_readable(self.sock)
            try:
                reply = wire.recv(self.sock)
            except (EOFError, OSError) as e:
                raise ConnectionError(str(e)) from e
            if self.outstanding.popleft() == run_id:
                return reply
        raise RuntimeError(f"no request of run {run_id} is waiting for a reply")

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        if self.arena is not None:
            self.arena.close()


def wait_readable(channels: list[Channel], timeout_s: float | None) -> list[Channel]:
    """The channels with a reply to read, waiting up to `timeout_s` (None: until one has)."""
    ready, _, _ = select.select(channels, [], [], timeout_s)
    return ready


def connect(device_name: str, actor, generation: int) -> Channel:
    """A new connection to this actor instance; OSError or RayError when it cannot be made."""
    key = (device_name, generation)
    with _lock:
        address = _addresses.get(key)
    if address is None:
        address = tuple(ray.get(actor.open_channel.remote()))
        with _lock:
            _addresses[key] = address
    return Channel(address)


def forget(device_name: str, generation: int) -> None:
    """Forgets a dead actor instance's address."""
    with _lock:
        _addresses.pop((device_name, generation), None)


class Server:
    """The actor side: accepts connections and serves each on its own thread."""

    def __init__(self, handle, host: str):
        self.handle = handle  # handle(request tuple) -> reply
        self.token = secrets.token_bytes(TOKEN_BYTES)
        self.listener = socket.create_server((host, 0))
        node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
        self.address = (host, self.listener.getsockname()[1], self.token, node_id)
        threading.Thread(target=self._accept, name="raygraph-channel-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="raygraph-channel", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        from scheduler.engine.device import kernel_thread

        kernel_thread()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(10)
            try:
                if not secrets.compare_digest(_read_token(conn), self.token):
                    return  # not our driver: drop it before reading a single frame
                conn.settimeout(None)
                while True:
                    _spin_until_readable(conn)
                    request = wire.recv(conn)
                    try:
                        reply = self.handle(request)
                    except Exception as e:  # noqa: BLE001 - answer, never drop the session
                        reply = ("error", "InternalError", None, f"{type(e).__name__}: {e}\n{traceback.format_exc()}", None)
                    wire.send(conn, reply)
            except (EOFError, OSError):
                return
            except Exception:  # noqa: BLE001 - a frame that cannot be read: say why, close
                traceback.print_exc()
                return


SPIN_S = float(os.environ.get("RAYGRAPH_SPIN_S", "0.0003"))


def _spin_until_readable(sock: socket.socket) -> None:
    """Polls `sock` for up to SPIN_S before the caller blocks on it.

    A thread that blocks lets its core go idle, and on virtual machines a core
    woken from idle takes long to answer; a step's reply or the next request
    usually comes within a few milliseconds, so both ends poll that long first.
    """
    deadline = time.perf_counter() + SPIN_S
    while time.perf_counter() < deadline:
        if select.select([sock], [], [], 0)[0]:
            return


def _read_token(conn: socket.socket) -> bytes:
    data = b""
    deadline = time.monotonic() + 10
    while len(data) < TOKEN_BYTES and time.monotonic() < deadline:
        chunk = conn.recv(TOKEN_BYTES - len(data))
        if not chunk:
            break
        data += chunk
    return data
