"""A device: runs plan partitions for the sessions that use it. No Ray, no sockets.

    runner = DeviceRunner("/job:worker/replica:0/task:0/device:CPU:0", numpy, send)
    reply = runner.run(Request(session_id, plan_id, run_id, feeds, partition))

A `DeviceRunner` keeps, per session, a `SessionState` (variables, random
generators) and the compiled `Program` of every partition it was sent, and
answers one `Request` with one `Reply`. A kernel error is a Reply, never an
exception, so a user's mistake cannot take the device down and the driver can
name the op and its line. Its hosts:

    scheduler.engine.local   in the driver's process (Session(target="local"))
    scheduler.shell.actor    inside a Ray actor, one per device

Transfers to other devices leave through `send(destination, run_id, items)`,
given by the host; items are (key, value or None for a control token, nbytes,
sent ns). Transfers from other devices come in through `deliver(run_id, items)`,
from any thread, possibly before the run they belong to has started.

State for runs in flight, under `_lock`: `_runs` (run id -> dataflow.Run),
`_early` (items delivered before their run started), `_ended` (recently
ended or aborted run ids, whose late items are dropped) and `_tokens` (run id
-> Cancellation, for runs with a blocking kernel: `abort` ends their waits).
Run ids, (session id, counter), are unique per session and run, so runs
never mix. A request of several steps (`Request.steps`) runs its partition
that many times on the calling thread, without a word to the driver in
between; each step has the id (session id, counter, step), and `_steps` maps
the run's id to its current step's, so aborting the run ends that step.

Runs may come from several threads at once (the sessions of a process, or
several threads of one session: a QueueRunner enqueuing while the main thread
dequeues); each runs on its caller's thread. A blocking kernel (a dequeue from
an empty queue) waits on that thread, or on a thread of the blocking pool when
its unit is one of several (scheduler.dataflow), never on a pool thread other
runs need.

Threads: BLAS threads follow the request's `blas_threads` (threadpoolctl,
applied when it differs from the current setting: the device is shared by the
sessions of a process, and the last setting holds), and so does the width of
ops.intra_op's split products. The inter-op pool (inter_op_threads - 1 threads
beside the run thread) is kept per size.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ops import intra_op, registry
from scheduler.engine import dataflow
from scheduler.engine.executor import Cancellation, NodeError, Program, SessionState, running_with
from scheduler.engine.plan import TOKEN
from scheduler.engine.protocol import Reply, Request

_ENDED_KEPT = 4096  # run ids remembered as ended, to drop their late transfers
BLOCKING_THREADS = 1024  # units with a blocking kernel waiting at once, at most

Send = Callable[[str, tuple, list], None]


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


class DeviceRunner:
    """Runs plan partitions for one device; see the module docstring."""

    def __init__(self, device: str, xp=np, send: Send | None = None, blas: bool = True):
        self.device = device
        self.xp = xp
        self._send = send
        on_gpu = xp is not np
        self._to_device = xp.asarray if on_gpu else None
        self._to_host = xp.asnumpy if on_gpu else None
        self.sessions: dict[str, SessionState] = {}
        self._lock = threading.Lock()
        self._runs: dict = {}
        self._early: dict = {}
        self._ended = _Recent(_ENDED_KEPT)
        self._tokens: dict = {}
        self._steps: dict = {}  # run id -> its current step's id, in runs of several steps
        self._blocking_pool: ThreadPoolExecutor | None = None
        self._blas = BlasThreads() if blas else None
        self._pools: dict[int, ThreadPoolExecutor] = {}

    # -- runs --
    def run(self, request: Request) -> Reply:
        """Runs one request; every failure comes back as a Reply."""
        with np.errstate(all="ignore"):  # TF's kernels return inf and nan without a word
            return self._reply(request)

    def _reply(self, request: Request) -> Reply:
        try:
            if self._blas is not None:
                self._blas.apply(request.blas_threads, request.reserved_cores, request.devices_on_node)
            state = self.sessions.get(request.session_id)
            if state is None:
                state = self.sessions[request.session_id] = SessionState()
            if request.partition is not None:
                state.executors[request.plan_id] = Program(_owned(request.partition), state, self.xp)
            program = state.executors.get(request.plan_id)
            if program is None:
                message = f"plan {request.plan_id} was never sent to {self.device}"
                return Reply("error", error_class="InternalError", message=message, has_plan=False)
            feeds = request.feeds
            if self._to_device is not None:
                feeds = [self._to_device(f) for f in feeds]
            start = time.time_ns()
            fetches, nodes, transfers = self._run_steps(program, request, feeds)
            if self._to_host is not None:
                fetches = [self._to_host(f) for f in fetches]
            trace = (start, time.time_ns(), nodes, transfers) if request.trace else None
            return Reply("ok", fetches, trace)
        except NodeError as e:
            return Reply(
                "error", error_class=e.error_class, node=e.node_name, message=e.message, variable=e.variable
            )
        except dataflow.Aborted:
            return Reply("aborted")
        except Exception as e:  # noqa: BLE001 - report, never die on a user's graph
            message = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
            return Reply(
                "error",
                error_class="InternalError",
                message=message,
                has_plan=self.holds(request.session_id, request.plan_id),
            )

    def holds(self, session_id: str, plan_id: int) -> bool:
        """Whether this device has compiled the plan's partition for the session."""
        state = self.sessions.get(session_id)
        return state is not None and plan_id in state.executors

    def waits_for_others(self, request: Request) -> bool:
        """Whether running the request involves another device (it sends or receives)."""
        partition = request.partition
        if partition is None:
            state = self.sessions.get(request.session_id)
            program = state.executors.get(request.plan_id) if state else None
            partition = program.partition if program is not None else None
        return partition is None or bool(partition.sends or partition.recvs)

    def may_block(self, request: Request) -> bool:
        """Whether the request's partition holds a blocking kernel (a dequeue may wait)."""
        state = self.sessions.get(request.session_id)
        program = state.executors.get(request.plan_id) if state else None
        if request.partition is None and program is not None:
            return program.may_block
        partition = request.partition
        if partition is None:
            return False
        defs = (partition.custom_ops.get(n.type) or registry.get(n.type) for n in partition.nodes)
        return any(getattr(d, "blocking", False) for d in defs)

    def _run_steps(self, program: Program, request: Request, feeds: list):
        """Runs the request's `steps` steps in a row; returns the last one's (fetches, trace, transfers).

        Each step of a several-step run has its own id, the run's id and the
        step's index, which keys its transfers (the devices of a plan step in
        lockstep) and its registration; `_steps` maps the run's id to the
        current step's, so `abort(run_id)` reaches it. An error names its step.
        """
        steps = max(1, int(request.steps))
        if steps == 1:
            return self._run(program, request.run_id, request, feeds)
        run_id = request.run_id
        try:
            for j in range(steps):
                step_id = (*run_id, j)
                with self._lock:
                    self._steps[run_id] = step_id
                    if run_id in self._ended:
                        raise dataflow.Aborted("aborted between steps")
                try:
                    result = self._run(program, step_id, request, feeds)
                except NodeError as e:
                    e.message = f"{e.message} (in step {j + 1} of the {steps} steps of this run)"
                    raise
            return result
        finally:
            with self._lock:
                self._steps.pop(run_id, None)

    def _run(self, program: Program, run_id, request: Request, feeds: list):
        send = self._sender(run_id)
        token = Cancellation() if program.may_block else None
        if program.single:
            if token is None:
                if run_id in self._ended:
                    raise dataflow.Aborted("aborted before it started")
                return dataflow.run_single(program, feeds, send, request.trace)
            self._start(run_id, None, token)
            try:
                with running_with(token):
                    return dataflow.run_single(program, feeds, send, request.trace)
            finally:
                self._end(run_id)
        pool = self._pool(request.inter_op_threads)
        blocking = self._blocking() if token is not None else None
        run = dataflow.Run(program, feeds, pool, send, request.trace, self._to_device, blocking, token)
        early = self._start(run_id, run, token)
        try:
            if early:
                run.deliver(early)
            fetches = run.execute()
        finally:
            self._end(run_id)
        return fetches, run.trace, run.transfers

    def _start(self, run_id, run, token) -> list | None:
        """Registers a run (and its cancellation); returns the items delivered early."""
        with self._lock:
            if run_id in self._ended:
                raise dataflow.Aborted("aborted before it started")
            if run is not None:
                self._runs[run_id] = run
            if token is not None:
                self._tokens[run_id] = token
            return self._early.pop(run_id, None)

    def _end(self, run_id) -> None:
        with self._lock:
            self._runs.pop(run_id, None)
            self._tokens.pop(run_id, None)
            self._ended.add(run_id)

    def _blocking(self) -> ThreadPoolExecutor:
        """The threads that run units holding a blocking kernel (made on first use)."""
        with self._lock:
            if self._blocking_pool is None:
                self._blocking_pool = ThreadPoolExecutor(
                    BLOCKING_THREADS, thread_name_prefix="raygraph-blocking", initializer=kernel_thread
                )
            return self._blocking_pool

    def _sender(self, run_id):
        """send(unit, values, transfers): one message per destination device."""
        to_host, send_items = self._to_host, self._send

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
                    items.append((key, value, int(getattr(value, "nbytes", 0)), start))
                send_items(device, run_id, items)
                if transfers is not None:
                    end = time.time_ns()
                    tid = threading.get_native_id()
                    transfers.extend(("send", it[0], device, it[2], start, end, tid) for it in items)

        return send

    def _pool(self, inter: int) -> ThreadPoolExecutor | None:
        """The pool beside the run thread: inter_op - 1 threads (default: none).

        DESIGN: by default a CPU device runs one unit of kernels at a time, on the
        run thread, and its big products use the other cores (ops.intra_op). The
        kernels are Python calls under one GIL: a second kernel thread mostly
        queued for it, and took the core the split products use. Measured with
        inter_op_parallelism_threads 1 against the old default (the cores): LSTM
        step 26.1 vs 30.5 ms, cnn 2.17 vs 2.35 ms, mlp 4.02 vs 4.10 ms
        (BENCHMARKS.md, "LSTM language model"). An explicit setting is honoured.
        """
        size = (inter or 1) - 1
        if size <= 0:
            return None
        pool = self._pools.get(size)
        if pool is None:
            with self._lock:
                pool = self._pools.setdefault(
                    size,
                    ThreadPoolExecutor(
                        size, thread_name_prefix=f"raygraph-interop-{size}", initializer=kernel_thread
                    ),
                )
        return pool

    # -- from other devices and the driver --
    def deliver(self, run_id, items: list) -> None:
        """Tensors (and control tokens) for a run (or a run's step) on this device, from another device."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                if run_id not in self._ended and run_id[:2] not in self._ended:
                    self._early.setdefault(run_id, []).extend(items)
                return
        run.deliver(items)

    def abort(self, run_id, reason: str = "aborted") -> None:
        """Ends a run here (another device failed): it stops waiting and returns."""
        with self._lock:
            step_id = self._steps.get(run_id)
            ids = [run_id] if step_id is None else [run_id, step_id]
            found = []
            for key in ids:
                self._ended.add(key)
                self._early.pop(key, None)
                found.append((self._runs.get(key), self._tokens.get(key)))
            if step_id is not None:
                for key in [k for k in self._early if k[:2] == run_id]:
                    del self._early[key]
        for run, token in found:
            if run is not None:
                run.abort(reason)
            elif token is not None:
                token.cancel(reason)

    def close_session(self, session_id: str) -> None:
        """Drops the session's variables, resources and compiled plans (and their sources in
        linecache); ends waits on its queues."""
        state = self.sessions.pop(session_id, None)
        if state is not None:
            state.close("the session was closed")
            state.executors.clear()  # programs and state refer to each other: free them now, not at a GC
            state.functions.clear()

    def close(self) -> None:
        """Stops the device's pools (the device is not used afterwards)."""
        for pool in [*self._pools.values(), self._blocking_pool]:
            if pool is not None:
                pool.shutdown(wait=False)


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


class BlasThreads:
    """The process's BLAS thread count, set per run from intra_op_parallelism_threads.

    0 means TensorFlow's default, one thread per core the process may run on,
    not the library's: Ray starts workers with OMP_NUM_THREADS=1, which would
    leave OpenBLAS on one thread.

    Every setting is made from one thread, the same for every BlasThreads of the
    process: OpenBLAS (0.3.31, measured) ignores a count set from a second
    thread while the first thread that set one lives, and runs of several
    sessions come on several threads (a second session's
    intra_op_parallelism_threads was silently dropped).
    """

    def __init__(self):
        from threadpoolctl import ThreadpoolController

        self.controller = ThreadpoolController()
        self.default = cores() if self.controller.info() else 0
        self._setter = _blas_setter()

    def apply(self, threads: int, reserved: int = 0, share: int = 1) -> None:
        """Sets the thread count; 0 is this process's cores less `reserved`, over `share`.

        With the default (0) and one BLAS thread, big products are split over the
        cores the device would have without the reservation (ops.intra_op: its
        threads sleep between products, so they leave the driver's core alone
        while it works, as BLAS threads do not)."""
        if not self.default:
            return
        spare = 1
        if not threads:
            threads = max(1, (self.default - reserved) // max(share, 1))
            spare = self.default // max(share, 1) if threads == 1 else 1
        intra_op.set_width(spare)
        with _SETTER_LOCK:  # the count is the process's: one record of it for every instance
            if threads != _APPLIED[0]:
                self._setter.submit(self.controller.limit, limits=threads).result()
                _APPLIED[0] = threads

    def threads(self) -> int:
        """The thread count of the BLAS numpy calls (kernels run numpy): other libraries'
        BLAS or OpenMP runtimes (scipy's, scikit-learn's in a test process) may keep
        counts set from other threads."""
        infos = self.controller.info()
        blas = [i for i in infos if i.get("user_api") == "blas"]
        numpys = [i for i in blas if "numpy" in i.get("filepath", "")]  # the one numpy's matmul calls
        return max((i["num_threads"] for i in (numpys or blas or infos)), default=0)


_SETTER: list = []  # the process's one BLAS-setting thread (OpenBLAS heeds only the first setter)
_SETTER_LOCK = threading.RLock()
_APPLIED = [-1]  # the count last applied in this process (-1: none yet)


def _blas_setter() -> ThreadPoolExecutor:
    """The thread every BlasThreads of this process sets counts from (made once)."""
    with _SETTER_LOCK:
        if not _SETTER:
            _SETTER.append(ThreadPoolExecutor(1, thread_name_prefix="raygraph-blas"))
        return _SETTER[0]


def _owned(partition):
    """The partition with every array in its attrs copied out of the message's buffer.

    Arrays deserialized from a message are views of the buffer it arrived in,
    and a view kept alive pins that buffer. A compiled partition lives for many
    runs, so its constants must own their memory.
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


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
HEAP_RETAINED = 256 << 20  # freed memory a device process keeps for its next allocations
HEAP_MMAP_ABOVE = 64 << 20  # arrays above this size get (and return) pages of their own


def keep_freed_memory() -> None:
    """Makes glibc's malloc keep freed memory in the process for the next tensors.

    By default glibc gives every block over ~128 KB-32 MB pages of its own
    (mmap) and returns them when freed, so a device allocating the same
    tensors step after step faults every page in again, zeroed by the kernel:
    measured ~5,000 page faults and a third of the device's CPU time in the
    kernel on the LSTM step (BENCHMARKS.md, "LSTM language model"). TensorFlow's
    allocator keeps its memory too. Blocks up to HEAP_MMAP_ABOVE now come from
    the heap, and up to HEAP_RETAINED of free memory stays there; larger ones
    still map and unmap. No-op where the C library has no mallopt (not glibc).
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, HEAP_MMAP_ABOVE)
    mallopt(_M_TRIM_THRESHOLD, HEAP_RETAINED)


def normal_priority() -> None:
    """Runs this process's threads at niceness 0 where allowed (Ray starts workers at 15).

    On Linux niceness is per thread: every current thread is reset, and threads
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


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
