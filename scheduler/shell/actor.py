"""The device actor: a Ray actor holding one device's `DeviceRunner`.

The actor is a thin shell around scheduler.engine.device: it answers the
sessions' requests that come through their channels (scheduler.shell.channel:
one authenticated connection per session, served on a thread of its own; the
driver gets the listener's address and secret with `open_channel`, through
Ray), and moves tensors between devices.

A request frame is (Request, peers): `peers` ({device name: actor handle})
travels whenever the driver has handles this actor does not know yet (its
first run of a plan that sends to other devices, or after a peer restarted).
The Reply's fetches travel as `Packed` (Arrow IPC messages, read in place).

Transfers go actor to actor, never through the driver: when a unit that
produces a tensor for another device ends, the runner calls `_send`, which
makes one `peer.receive.remote(run_id, items)` call per destination, fire and
forget. A tensor of 64 KB or more for an actor on this node is written into a
shared-memory ring (scheduler.shell.peer_shm) and the receiver reads it there
without a copy; to another node, or when the ring has no free slot, Ray puts
it in the object store once (the Arrow IPC message of `Packed`) and the
receiver reads it there, also without a copy; small ones travel inside the
call. `receive` and `abort` run in their own concurrency group, so transfers
are never starved by runs waiting for them. The driver sends each peer's
handle with its node (`peers`: {device name: (handle, node id)}).
"""

from __future__ import annotations

import os
import sys
import threading
import traceback

import numpy as np
import ray

from scheduler.engine.device import DeviceRunner, array_module, keep_freed_memory, kernel_thread
from scheduler.engine.protocol import Reply, Request
from scheduler.shell import channel, peer_shm, shm
from scheduler.shell.transport import Packed


class DeviceActor:
    """One device's runner inside a Ray actor; see the module docstring."""

    def __init__(self, device: str, array_module_name: str = "numpy"):
        import ops

        kernel_thread()
        keep_freed_memory()
        ops.load_all()
        self.device = device
        self.runner = DeviceRunner(device, array_module(array_module_name), self._send)
        self.peers: dict[str, object] = {}
        self.node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
        self._rings: dict[str, peer_shm.PeerRing] = {}  # peers on this node, by device name
        self._lock = threading.Lock()
        self._server = None  # the channel listener, started by the first open_channel

    def ping(self) -> dict:
        return {
            "device": self.device,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            "array_module": self.runner.xp.__name__,
            "sessions": len(self.runner.sessions),
            "blas_threads": self.runner._blas.threads() if self.runner._blas else 0,
            "shared_memory_peers": sorted(self._rings),  # peers sent to through scheduler.shell.peer_shm
            "raygraph_modules": sorted(m for m in sys.modules if m.split(".")[0] == "raygraph"),
            **_memory(),
        }

    def open_channel(self) -> tuple:
        """(host, port, secret, node id) of this actor's channel listener (scheduler.shell.channel).

        The secret travels only this way, through Ray, never over a channel.
        """
        with self._lock:
            if self._server is None:
                host = ray.util.get_node_ip_address() if ray.is_initialized() else "127.0.0.1"
                self._server = channel.Server(self._serve, host)
            return self._server.address

    def _serve(self, frame) -> Reply:
        """One request frame from a session's channel: (Request, peers or None). Never raises."""
        try:
            request, peers = frame
            if not isinstance(request, Request):
                raise TypeError(f"not a request: {type(request).__name__}")
            if peers:
                self._meet(peers)
            request.feeds = [_read_only(f) for f in request.feeds]
            reply = self.runner.run(request)
            reply.fetches = [Packed(f) for f in reply.fetches]
            return reply
        except Exception as e:  # noqa: BLE001 - answered, never a dropped session
            message = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
            return Reply("error", error_class="InternalError", message=message, has_plan=False)

    def _meet(self, peers: dict) -> None:
        """Records peers' handles, with a ring for each on this node.

        A peer told again with the same actor (another driver's session) keeps its
        ring, whose slots may hold tensors in flight; a restarted peer (a new
        actor) gets a new one.
        """
        with self._lock:
            for name, (handle, node_id) in peers.items():
                known = self.peers.get(name)
                self.peers[name] = handle
                if known is not None and _actor_id(known) == _actor_id(handle) and name in self._rings:
                    continue
                old = self._rings.pop(name, None)
                if old is not None:
                    old.close()
                if node_id is not None and node_id == self.node_id and shm.enabled():
                    self._rings[name] = peer_shm.PeerRing()

    def _send(self, destination: str, run_id, items: list) -> None:
        ring = self._rings.get(destination)
        packed = []
        for key, value, *rest in items:
            if value is not None:
                value = (ring.pack(value) if ring is not None else None) or Packed(value)
            packed.append((key, value, *rest))
        self.peers[destination].receive.remote(run_id, packed)

    # -- transfers (their own concurrency group) --
    @ray.method(concurrency_group="transfer")
    def receive(self, run_id, items: list) -> None:
        """Tensors (and control tokens) for a run on this device, from another device."""
        self.runner.deliver(run_id, items)

    @ray.method(concurrency_group="transfer")
    def abort(self, run_id, reason: str = "aborted") -> None:
        """Ends a run here (another device failed): it stops waiting and returns."""
        self.runner.abort(run_id, reason)

    def close_session(self, session_id: str) -> None:
        self.runner.close_session(session_id)


def _actor_id(handle):
    """The identity of the actor a handle names (handles are new objects each time they arrive)."""
    return getattr(handle, "_actor_id", handle)


def _memory() -> dict:
    """This process's resident memory now and at its peak, in bytes (Linux; 0 elsewhere)."""
    out = {"rss_bytes": 0, "peak_rss_bytes": 0}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key = "rss_bytes" if line.startswith("VmRSS") else "peak_rss_bytes"
                    out[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def _read_only(value):
    """Fed values are read-only for the runner (copied on assignment), as in scheduler.engine.local.

    A feed read from the channel is a writable array over the frame's block
    (scheduler.shell.channel); a read-only view of it costs no copy.
    """
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value = value.view()
        value.flags.writeable = False
    return value


RemoteDeviceActor = ray.remote(concurrency_groups={"transfer": 4})(DeviceActor)
