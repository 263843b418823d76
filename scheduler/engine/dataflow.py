"""One run of a compiled partition inside a device actor, asynchronously.

The units of a Program (scheduler.segments, scheduler.executor) form a small
dataflow graph. A `Run` starts every unit whose inputs are ready and, when a
unit ends, the units it was the last dependency of. Threads:

- the *run thread* (the Ray call `DeviceActor.run`) starts the root units,
  then waits for the run to end, running the units that deliveries make ready
  while it would otherwise idle;
- *pool threads* (the actor's inter-op pool, `inter_op_parallelism_threads - 1`
  of them; the run thread is the other one) run heavy units beside others;
- *transfer threads* (the actor's `receive` calls) store received tensors and
  tokens and count them off the units that wait for them;
- *blocking threads* run the units holding a blocking kernel (a dequeue, which
  may wait for another run's enqueue): such a unit never holds the run thread
  nor a pool thread, so whatever else is ready runs while it waits. The run's
  `Cancellation` ends those waits when the run fails or is aborted.

Policy, TensorFlow's: the thread that ends a unit goes on with the units it made
ready, cheap ones first, inline; of several ready heavy units, all but one go to
the pool and the thread keeps the last. So a chain costs no thread hop, two
heavy branches run side by side, and a device waiting for a transfer keeps
running whatever else is ready. With no pool (inter-op 1) every unit runs on
the run thread, one at a time.

State, under one condition variable: `values` (the run's store, key -> value),
`pending` (per unit, dependencies not yet met), `remaining` (per stored key,
reading units not yet ended: a value is dropped when it reaches zero, unless
fetched), `ready` (units handed to the run thread), `running`, `unfinished`,
`error`. Invariants: a unit starts at most once, after every unit in its
`after` and every key in its `waits`; a unit's sends leave before the units it
makes ready start; after an error or an abort no unit starts, and the run
thread returns only when the units already running have ended (so a failed run
never writes a variable behind the next one's back).

The trace (when asked) is a list of (node index, start ns, end ns, bytes,
thread id) per node, plus the transfers, in wall-clock nanoseconds
(`time.time_ns`, comparable between the processes of a machine).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from ops import intra_op
from scheduler.engine.executor import Cancellation, NodeError, Program, running_with
from scheduler.engine.plan import TOKEN


class Aborted(Exception):
    """The run was aborted from outside (another device failed or died)."""


class Run:
    """One run of `program`; `execute()` on the run thread, `deliver()` from others."""

    def __init__(
        self,
        program: Program,
        feeds: list,
        pool,
        send,
        trace: bool,
        to_device=None,
        blocking_pool=None,
        token: Cancellation | None = None,
    ):
        self.program = program
        self.blocking_pool = blocking_pool  # for units with a blocking kernel (program.blocking)
        self.token = token
        self.values = dict(zip(program.feeds, feeds))
        self.pending = list(program.deps)
        self.remaining = dict(program.readers)
        self.pool = pool
        self.send = send  # send(unit, values, trace_list) -> None
        self.to_device = to_device
        self.fns = program.traced_fns() if trace else program.fns
        self.trace: list | None = [] if trace else None
        self.transfers: list | None = [] if trace else None
        self.cond = threading.Condition()
        self.ready: deque = deque()
        self.running = 0
        self.unfinished = len(program.units)
        self.error: BaseException | None = None
        self.idle = False

    # -- the run thread --
    def execute(self) -> list:
        """Runs to the end; returns the fetches or raises NodeError/Aborted."""
        self._work(deque(self.program.units[i] for i in self.program.roots))
        cond = self.cond
        with cond:
            while self.unfinished and self.error is None:
                if self.ready:
                    batch, self.ready = self.ready, deque()
                    cond.release()
                    try:
                        self._work(batch)
                    finally:
                        cond.acquire()
                    continue
                self.idle = True
                cond.wait()
                self.idle = False
            while self.running:
                cond.wait()
            if self.error is not None:
                raise self.error
        return [self.values[k] for k in self.program.fetches]

    # -- any thread --
    def deliver(self, items: list) -> None:
        """Stores received (key, value, ...) items and starts the units they complete."""
        now = time.time_ns()
        stored = []
        for item in items:
            key, value = item[0], item[1]
            if not key.startswith(TOKEN) and self.to_device is not None:
                value = self.to_device(value)
            stored.append((key, value))
            if self.transfers is not None:
                stored_at = time.time_ns()
                self.transfers.append(
                    ("recv", key, item[2], item[3], now, stored_at, threading.get_native_id())
                )
        units = self.program.units
        newly = []
        with self.cond:
            if self.error is not None:
                return
            for key, value in stored:
                if not key.startswith(TOKEN):
                    self.values[key] = value
                for u in self.program.waiters.get(key, ()):
                    self.pending[u] -= 1
                    if self.pending[u] == 0:
                        newly.append(units[u])
            if not newly:
                return
            if self.pool is None or self.idle:
                self.ready.extend(newly)
                self.cond.notify_all()
                return
        self.pool.submit(self._work, deque(newly))

    def abort(self, reason: str) -> None:
        """Stops the run: no unit starts any more; the run thread raises Aborted."""
        with self.cond:
            if self.error is None:
                self.error = Aborted(reason)
            self.cond.notify_all()
        if self.token is not None:
            self.token.cancel(reason)

    # -- running units --
    def _work(self, queue: deque) -> None:
        """Runs `queue` and what it makes ready on this thread, cheap units first."""
        while queue and self.error is None:
            unit = queue.popleft()
            if self.program.blocking[unit.index]:
                self.blocking_pool.submit(self._work_blocking, unit)
                continue
            if unit.heavy and queue and self.pool is not None:
                self.pool.submit(self._work, deque([unit]))
                continue
            for nxt in self._execute(unit):
                if nxt.heavy:
                    queue.append(nxt)
                else:
                    queue.appendleft(nxt)

    def _work_blocking(self, unit) -> None:
        """Runs a unit holding a blocking kernel, on a blocking thread, then what it made ready."""
        with running_with(self.token):
            newly = self._execute(unit)
        self._work(deque(newly))

    def _execute(self, unit) -> list:
        """Runs one unit, sends what it owes, and returns the units it made ready."""
        with self.cond:
            if self.error is not None:
                return []
            self.running += 1
        intra_op.unit_started()
        try:
            if self.trace is None:
                self.fns[unit.index](self.values)
            else:
                self._execute_traced(unit)
            if unit.sends:
                self.send(unit, self.values, self.transfers)
        except BaseException as exc:  # noqa: BLE001 - any failure ends the run, named
            self._fail(exc)
            return []
        finally:
            intra_op.unit_ended()
        return self._finish(unit)

    def _execute_traced(self, unit) -> None:
        records: list = []
        try:
            self.fns[unit.index](self.values, records)
        finally:
            tid = threading.get_native_id()
            self.trace.extend(r + (tid,) for r in records)

    def _finish(self, unit) -> list:
        units, values = self.program.units, self.values
        newly = []
        with self.cond:
            self.running -= 1
            for key in self.program.send_only[unit.index]:
                values.pop(key, None)
            for key in self.program.releases[unit.index]:
                self.remaining[key] -= 1
                if self.remaining[key] == 0:
                    values.pop(key, None)
            for s in self.program.successors[unit.index]:
                self.pending[s] -= 1
                if self.pending[s] == 0:
                    newly.append(units[s])
            self.unfinished -= 1
            if self.unfinished == 0 or self.error is not None:
                self.cond.notify_all()
        return newly

    def _fail(self, exc: BaseException) -> None:
        error = exc if isinstance(exc, NodeError | Aborted) else self.program.node_error(exc)
        with self.cond:
            self.running -= 1
            if self.error is None:
                self.error = error
            self.cond.notify_all()
        if self.token is not None:
            self.token.cancel("another op of the run failed")


def run_single(program: Program, feeds: list, send, trace: bool) -> tuple[list, list | None, list | None]:
    """The fast path: a program that is one unit waiting for nothing, run inline.

    Returns (fetches, node trace or None, transfer trace or None).
    """
    values = dict(zip(program.feeds, feeds))
    unit = program.units[0]
    records = transfers = None
    try:
        if trace:
            records, transfers = [], []
            try:
                program.traced_fns()[0](values, records)
            finally:
                tid = threading.get_native_id()
                records = [r + (tid,) for r in records]
        else:
            program.fns[0](values)
    except Exception as exc:  # noqa: BLE001 - every kernel error becomes a NodeError
        raise program.node_error(exc) from exc
    if unit.sends:
        send(unit, values, transfers)
    return [values[k] for k in program.fetches], records, transfers
