"""The device actor: one Ray actor per device, holding its sessions' state.

The actor is thin. It keeps, per session, a `SessionState` (variables, random
generators) and the compiled `Program` of every plan partition it was sent, and
answers one request per run from the driver:

    run(session_id, plan_id, run_id, feeds, setup=None, options=(0, 0, False))
        -> ("ok", fetches, trace) | ("error", class, node, message, variable) | ("aborted",)

Requests come through the sessions' channels (scheduler.channel: a socket per
session, served on a thread of its own, opened with `open_channel`), or as
classic Ray calls of `run` where channels are off.
`setup` = (partition, peers) travels with the first run of a plan on this actor
(the partition is compiled then) and whenever the driver has new peer handles;
later runs send only ids and feeds. `options` = (intra_op threads, inter_op
threads, trace). A kernel error is returned as data, never raised, so a user
mistake cannot kill the actor and the driver can name the op and its line.

Transfers go actor to actor, never through the driver: when a unit that
produces a tensor for another device ends, this actor calls
`peer.receive.remote(run_id, [(key, Packed(value), nbytes, sent_ns), ...])`,
one call per destination per unit, fire and forget. Ray puts an argument over
100 KB in the object store once (the Arrow IPC message of `Packed`) and the
receiver reads it there without a copy; small ones travel inside the call.
(Measured against `ray.put` + a reference in a batched message: the same
bandwidth for 64 MB, one Ray operation fewer per transfer; see BENCHMARKS.md.)
`receive` and `abort` run in their own concurrency group, so transfers are
never starved by runs waiting for them.

State for runs in flight, under `_lock`: `_runs` (run id -> Run), `_early`
(items received before their run's call arrived: a producer can be faster than
the driver's call to the consumer) and `_ended` (recently ended or aborted run
ids, whose late items are dropped). Run ids are unique per session and run, so
runs never mix.

Threads: BLAS threads follow the running session's intra_op_parallelism_threads
(threadpoolctl, applied per run when it differs from the current setting: an
actor is shared by the sessions of a process, and the last applied setting
holds, so two sessions with different settings running at the same instant on
one device share the later one's). The inter-op pool (inter_op - 1 threads
beside the run thread) is kept per size and shared by sessions.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import ray

from scheduler import channel, dataflow
from scheduler.executor import NodeError, Program, SessionState
from scheduler.plan import TOKEN
from scheduler.transport import Packed

_ENDED_KEPT = 4096  # run ids remembered as ended, to drop their late transfers


def array_module(name: str):
    """The array module kernels run with: "numpy", "cupy", or "auto".

    "auto" (GPU devices) takes cupy when it imports and sees a CUDA device, and
    numpy otherwise, so fake GPUs declared to Ray run the same kernels on the CPU.
    """
    if name == "numpy":
        return np
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:  # noqa: BLE001 - no cupy, no driver, or no device
        if name == "cupy":
            raise
    return np


class DeviceActor:
    """Runs plan partitions for one device; see the module docstring."""

    def __init__(self, device: str, array_module_name: str = "numpy"):
        import ops

        kernel_thread()
        ops.load_all()
        self.device = device
        self.xp = array_module(array_module_name)
        on_gpu = self.xp is not np
        self._to_device = self.xp.asarray if on_gpu else None
        self._to_host = self.xp.asnumpy if on_gpu else None
        self.sessions: dict[str, SessionState] = {}
        self.peers: dict[str, object] = {}
        self._lock = threading.Lock()
        self._runs: dict = {}
        self._early: dict = {}
        self._ended = _Recent(_ENDED_KEPT)
        self._blas = _BlasThreads()
        self._pools: dict[int, ThreadPoolExecutor] = {}
        self._server = None  # the channel listener, started by the first open_channel

    def ping(self) -> dict:
        return {
            "device": self.device,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
            "array_module": self.xp.__name__,
            "sessions": len(self.sessions),
            "blas_threads": self._blas.threads(),
        }

    # -- runs --
    def open_channel(self) -> tuple:
        """(host, port, token, node id) of this actor's channel listener (scheduler.channel)."""
        with self._lock:
            if self._server is None:
                host = ray.util.get_node_ip_address() if ray.is_initialized() else "127.0.0.1"
                self._server = channel.Server(lambda request: self.run(*request), host)
            return self._server.address

    def run(self, session_id: str, plan_id: int, run_id, feeds: list, setup=None, options=(0, 0, False)):
        intra, inter, trace = options
        try:
            self._blas.apply(intra)
            state = self.sessions.setdefault(session_id, SessionState())
            if setup is not None:
                self._setup(state, plan_id, *setup)
            program = state.executors.get(plan_id)
            if program is None:
                return (
                    "error",
                    "InternalError",
                    None,
                    f"plan {plan_id} was never sent to {self.device}",
                    None,
                )
            if self._to_device is not None:
                feeds = [self._to_device(f) for f in feeds]
            start = time.time_ns()
            fetches, nodes, transfers = self._run(program, run_id, feeds, inter, trace)
            if self._to_host is not None:
                fetches = [self._to_host(f) for f in fetches]
            data = (start, time.time_ns(), nodes, transfers) if trace else None
            return ("ok", [Packed(f) for f in fetches], data)
        except NodeError as e:
            return e.as_data()
        except dataflow.Aborted:
            return ("aborted",)
        except Exception as e:  # noqa: BLE001 - report, never die on a user's graph
            return (
                "error",
                "InternalError",
                None,
                f"{type(e).__name__}: {e}\n{traceback.format_exc()}",
                None,
            )

    def _setup(self, state: SessionState, plan_id: int, partition, peers) -> None:
        if peers:
            self.peers.update(peers)
        if partition is not None:
            state.executors[plan_id] = Program(_owned(partition), state, self.xp)

    def _run(self, program: Program, run_id, feeds: list, inter: int, trace: bool):
        send = self._sender(run_id)
        if program.single:
            if run_id in self._ended:
                raise dataflow.Aborted("aborted before it started")
            return dataflow.run_single(program, feeds, send, trace)
        run = dataflow.Run(program, feeds, self._pool(inter), send, trace, self._to_device)
        with self._lock:
            if run_id in self._ended:
                raise dataflow.Aborted("aborted before it started")
            self._runs[run_id] = run
            early = self._early.pop(run_id, None)
        try:
            if early:
                run.deliver(early)
            fetches = run.execute()
        finally:
            with self._lock:
                self._runs.pop(run_id, None)
                self._ended.add(run_id)
        return fetches, run.trace, run.transfers

    def _sender(self, run_id):
        """send(unit, values, transfers): one receive call per destination device."""
        peers, to_host = self.peers, self._to_host

        def send(unit, values, transfers):
            batches: dict[str, list] = {}
            for key, device in unit.sends:
                batches.setdefault(device, []).append(key)
            for device, keys in batches.items():
                start = time.time_ns()
                items = []
                for key in keys:
                    value = None if key.startswith(TOKEN) else values[key]
                    if value is not None and to_host is not None:
                        value = to_host(value)
                    nbytes = int(getattr(value, "nbytes", 0))
                    items.append((key, None if value is None else Packed(value), nbytes, start))
                peers[device].receive.remote(run_id, items)
                if transfers is not None:
                    end = time.time_ns()
                    tid = threading.get_native_id()
                    transfers.extend(("send", it[0], device, it[2], start, end, tid) for it in items)

        return send

    def _pool(self, inter: int) -> ThreadPoolExecutor | None:
        """The pool beside the run thread: inter_op - 1 threads (default: cores - 1)."""
        size = (inter or os.cpu_count() or 1) - 1
        if size <= 0:
            return None
        pool = self._pools.get(size)
        if pool is None:
            with self._lock:
                pool = self._pools.setdefault(
                    size,
                    ThreadPoolExecutor(size, thread_name_prefix=f"raygraph-interop-{size}", initializer=kernel_thread),
                )
        return pool

    # -- transfers (their own concurrency group) --
    @ray.method(concurrency_group="transfer")
    def receive(self, run_id, items: list) -> None:
        """Tensors (and control tokens) for a run on this device, from another device."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                if run_id not in self._ended:
                    self._early.setdefault(run_id, []).extend(items)
                return
        run.deliver(items)

    @ray.method(concurrency_group="transfer")
    def abort(self, run_id, reason: str = "aborted") -> None:
        """Ends a run here (another device failed): it stops waiting and returns."""
        with self._lock:
            self._ended.add(run_id)
            self._early.pop(run_id, None)
            run = self._runs.get(run_id)
        if run is not None:
            run.abort(reason)

    # -- state --
    def read_variables(self, session_id: str, names: list[str]):
        state = self.sessions.get(session_id)
        values = [state.variables.get(n) if state else None for n in names]
        if self._to_host is not None:
            values = [None if v is None else self._to_host(v) for v in values]
        return [Packed(v) for v in values]

    def close_session(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)


class _Recent:
    """A set that remembers only its last `size` members."""

    def __init__(self, size: int):
        self.order: deque = deque()
        self.members: set = set()
        self.size = size

    def add(self, item) -> None:
        if item in self.members:
            return
        self.order.append(item)
        self.members.add(item)
        if len(self.order) > self.size:
            self.members.discard(self.order.popleft())

    def __contains__(self, item) -> bool:
        return item in self.members


class _BlasThreads:
    """The process's BLAS thread count, set per run from intra_op_parallelism_threads.

    0 means TensorFlow's default, one thread per core the process may run on,
    not the library's: Ray starts workers with OMP_NUM_THREADS=1, which would
    leave OpenBLAS on one thread.
    """

    def __init__(self):
        from threadpoolctl import ThreadpoolController

        self.controller = ThreadpoolController()
        self.default = _cores() if self.controller.info() else 0
        self.current = -1  # nothing applied yet

    def apply(self, threads) -> None:
        """Sets the thread count: an int, or (0, reserve, share) for the default.

        The default is this process's cores, less `reserve` (kept for the driver
        on its own node), divided among `share` devices of the node; at least 1.
        """
        if isinstance(threads, tuple):
            _, reserve, share = threads
            threads = max(1, (self.default - reserve) // max(share, 1)) if self.default else 0
        threads = threads or 0
        if threads != self.current and self.default:
            self.controller.limit(limits=threads or self.default)
            self.current = threads

    def threads(self) -> int:
        return max((i["num_threads"] for i in self.controller.info()), default=0)


def _owned(partition):
    """The partition with every array in its attrs copied out of the message's buffer.

    Arrays deserialized from a message are views of the buffer it arrived in (a
    compiled-graph channel's, or the object store's), and a view kept alive pins
    that buffer: a channel then blocks its next write. A compiled partition lives
    for many runs, so its constants must own their memory.
    """
    for node in partition.nodes:
        for key, value in node.attrs.items():
            if isinstance(value, np.ndarray) and (value.base is not None or not value.flags.writeable):
                node.attrs[key] = value.copy()
    return partition


def kernel_thread() -> None:
    """Prepares the calling thread (and the process) to run kernels.

    Resets niceness (see `normal_priority`), and silences numpy's floating-point
    warnings (log(0), 0/0): TensorFlow's kernels return inf and nan without a
    word, and numpy's error state is per thread.
    """
    normal_priority()
    np.seterr(all="ignore")


def normal_priority() -> None:
    """Runs this process's threads at niceness 0 where allowed (Ray starts workers at 15).

    A device actor is the compute engine of its device: at niceness 15 its
    kernels yield to every other process on the node, the driver included. On
    Linux niceness is per thread: every current thread is reset, and threads
    made later inherit from their creator. Without the privilege, nothing changes.
    """
    try:
        tasks = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tasks = [0]
    for tid in tasks:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) > 0:
                os.setpriority(os.PRIO_PROCESS, tid, 0)
        except (OSError, AttributeError):
            return


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


RemoteDeviceActor = ray.remote(concurrency_groups={"transfer": 4})(DeviceActor)
