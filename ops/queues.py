"""The run-time queues behind tf.FIFOQueue and friends: state a session keeps on a device.

A queue holds elements, each a tuple of arrays (one per component), up to
`capacity`. It lives in the session's resources on the device that created it
(`SessionState.resource`, keyed by the queue op's name or its shared_name), so
every run of the session on that device sees the same queue; the queue ops
(ops.data_flow) find it through the handle, a string naming it.

Waiting. Enqueues wait while the queue is full and dequeues while it holds too
few elements, on the queue's condition variable, through `ctx.wait` (the
executor's KernelContext), which ends the wait with CancelledError when the
run is cancelled: its deadline passed, the session closed, another op of the
run failed. Waiting requests are served in arrival order (`_enqueuers`,
`_dequeuers`): an enqueue_many larger than the free space adds what fits and
waits for room, and no later enqueue slips its elements in between; a
dequeue_many of 10 is not starved by later dequeues of 1.

Closing, as TensorFlow: enqueues that start after `close` fail with
CancelledError; enqueues already waiting go on unless `cancel_pending_enqueues`;
a dequeue that would wait fails with OutOfRangeError instead (dequeue_up_to
returns what is left, if anything). `cancel` (the session closed) cancels all.

Kinds: `FIFOQueue` (arrival order), `RandomShuffleQueue` (uniformly random
order; keeps `min_after_dequeue` elements back until closed; seeded),
`PaddingFIFOQueue` (components of unknown dimensions, padded with zeros to the
largest element of a dequeue_many), `PriorityQueue` (the first component is an
int64 priority, lowest first; ties in arrival order).
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque

import numpy as np

from raygraph import errors


class FIFOQueue:
    """Elements in arrival order; see the module docstring.

    >>> q = FIFOQueue("q", [np.float32], [()], capacity=2)
    >>> q.enqueue(ctx, [np.float32(1.0)]); q.dequeue(ctx, 1, "one")
    [array(1., dtype=float32)]
    """

    kind = "FIFOQueue"

    def __init__(self, name: str, dtypes: list, shapes: list | None, capacity: int):
        self.name = name
        self.dtypes = [np.dtype(d) for d in dtypes]
        self.shapes = shapes  # per component, a tuple with None for unknown dims; None: any
        self.capacity = capacity if capacity is not None and capacity >= 0 else None
        self.cond = threading.Condition()
        self.closed = False
        self.cancelled: str | None = None  # why waiting enqueues end (close with cancel, session gone)
        self._enqueuers: deque = deque()
        self._dequeuers: deque = deque()
        self._init_storage()

    # -- storage: what the kinds differ in --
    def _init_storage(self) -> None:
        self._items: deque = deque()

    def _put(self, element: tuple) -> None:
        self._items.append(element)

    def _take(self, n: int) -> list[tuple]:
        return [self._items.popleft() for _ in range(n)]

    def size(self) -> int:
        return len(self._items)

    def _available(self) -> int:
        """How many elements a dequeue may take now."""
        return self.size()

    # -- the ops --
    def enqueue(self, ctx, components: list, many: bool) -> None:
        """Adds one element, or (many) the slices of `components` along their first dimension."""
        elements = self._elements(components, many)
        with self.cond:
            if self.closed or self.cancelled:
                raise errors.CancelledError(None, None, f"{self.kind} '{self.name}' is closed.")
            me = object()
            self._enqueuers.append(me)
            self.cond.notify_all()  # waiters announce themselves (tests wait for them)
            try:
                while elements:
                    if self.cancelled:
                        raise errors.CancelledError(
                            None, None, f"Enqueue operation was cancelled: {self.cancelled}"
                        )
                    room = len(elements) if self.capacity is None else self.capacity - self.size()
                    if self._enqueuers[0] is me and room > 0:
                        for element in elements[:room]:
                            self._put(element)
                        elements = elements[room:]
                        self.cond.notify_all()
                        continue
                    ctx.wait(self.cond, f"Enqueue into {self.kind} '{self.name}'")
            finally:
                self._enqueuers.remove(me)
                self.cond.notify_all()

    def dequeue(self, ctx, n: int, mode: str) -> list:
        """One element ("one"), n stacked ("many"), or up to n stacked ("up_to")."""
        if mode != "one" and n < 0:
            raise errors.InvalidArgumentError(None, None, f"Dequeue count must be non-negative, got {n}")
        with self.cond:
            me = object()
            self._dequeuers.append(me)
            self.cond.notify_all()
            try:
                while True:
                    if self._dequeuers[0] is me:
                        if self._available() >= n:
                            elements = self._take(n)
                            break
                        if self.closed:
                            if mode == "up_to" and self.size() > 0:
                                elements = self._take(min(n, self.size()))
                                break
                            raise errors.OutOfRangeError(
                                None,
                                None,
                                f"{self.kind} '{self.name}' is closed and has insufficient elements "
                                f"(requested {n}, current size {self.size()})",
                            )
                    ctx.wait(self.cond, f"Dequeue from {self.kind} '{self.name}'")
            finally:
                self._dequeuers.remove(me)
                self.cond.notify_all()
        if mode == "one":
            return list(elements[0])
        return self._batch(elements)

    def close(self, cancel_pending_enqueues: bool) -> None:
        with self.cond:
            self.closed = True
            if cancel_pending_enqueues and self.cancelled is None:
                self.cancelled = f"{self.kind} '{self.name}' was closed"
            self.cond.notify_all()

    def cancel(self, reason: str) -> None:
        """Closes the queue and ends every wait on it (the session is gone)."""
        with self.cond:
            self.closed = True
            self.cancelled = reason
            self.cond.notify_all()

    # -- elements --
    def _elements(self, components: list, many: bool) -> list[tuple]:
        if len(components) != len(self.dtypes):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"{self.kind} '{self.name}' expects {len(self.dtypes)} components, got {len(components)}",
            )
        arrays = [_as_array(c, d) for c, d in zip(components, self.dtypes)]
        if not many:
            for i, a in enumerate(arrays):
                self._check_shape(i, a.shape)
            return [tuple(arrays)]
        counts = {a.shape[0] if a.ndim else None for a in arrays}
        if None in counts or len(counts) != 1:
            shapes = ", ".join(str(list(a.shape)) for a in arrays)
            raise errors.InvalidArgumentError(
                None,
                None,
                f"EnqueueMany into {self.kind} '{self.name}' requires every component to have the "
                f"same first dimension; got shapes {shapes}",
            )
        for i, a in enumerate(arrays):
            self._check_shape(i, a.shape[1:])
        return [tuple(a[k] for a in arrays) for k in range(counts.pop())]

    def _check_shape(self, i: int, shape: tuple) -> None:
        if not self.shapes:
            return
        expected = self.shapes[i]
        if len(expected) != len(shape) or any(e is not None and e != s for e, s in zip(expected, shape)):
            want = [-1 if e is None else e for e in expected]
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Shape mismatch in tuple component {i} of {self.kind} '{self.name}'. "
                f"Expected {want}, got {list(shape)}",
            )

    def _batch(self, elements: list[tuple]) -> list:
        out = []
        for i, dtype in enumerate(self.dtypes):
            if elements:
                out.append(np.stack([e[i] for e in elements]))
            else:
                shape = self.shapes[i] if self.shapes else ()
                out.append(np.zeros((0, *(d or 0 for d in shape)), dtype))
        return out


class RandomShuffleQueue(FIFOQueue):
    """Elements in random order, `min_after_dequeue` kept back until the queue is closed."""

    kind = "RandomShuffleQueue"

    def __init__(self, name, dtypes, shapes, capacity, min_after_dequeue: int, seed: int, seed2: int):
        super().__init__(name, dtypes, shapes, capacity)
        self.min_after_dequeue = min_after_dequeue
        entropy = None if not seed and not seed2 else [int(seed), int(seed2)]
        self.rng = np.random.default_rng(entropy)

    def _init_storage(self) -> None:
        self._items: list = []

    def _take(self, n: int) -> list[tuple]:
        out = []
        for _ in range(n):
            k = int(self.rng.integers(len(self._items)))
            self._items[k], self._items[-1] = self._items[-1], self._items[k]
            out.append(self._items.pop())
        return out

    def _available(self) -> int:
        return self.size() if self.closed else max(0, self.size() - self.min_after_dequeue)


class PaddingFIFOQueue(FIFOQueue):
    """A FIFOQueue whose components may have unknown dimensions; dequeue_many pads them."""

    kind = "PaddingFIFOQueue"

    def _batch(self, elements: list[tuple]) -> list:
        out = []
        for i, dtype in enumerate(self.dtypes):
            parts = [e[i] for e in elements]
            rank = len(self.shapes[i])
            dims = [max((p.shape[d] for p in parts), default=0) for d in range(rank)]
            fill = b"" if dtype.kind == "O" else 0
            batch = np.full((len(parts), *dims), fill, dtype)
            for k, p in enumerate(parts):
                batch[(k, *(slice(0, s) for s in p.shape))] = p
            out.append(batch)
        return out


class PriorityQueue(FIFOQueue):
    """Elements by priority (the first component, an int64 scalar), lowest first."""

    kind = "PriorityQueue"

    def _init_storage(self) -> None:
        self._heap: list = []
        self._order = itertools.count()

    def _put(self, element: tuple) -> None:
        heapq.heappush(self._heap, (int(element[0]), next(self._order), element))

    def _take(self, n: int) -> list[tuple]:
        return [heapq.heappop(self._heap)[2] for _ in range(n)]

    def size(self) -> int:
        return len(self._heap)


def _as_array(value, dtype: np.dtype) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype != dtype:
        array = array.astype(dtype)
    return array
