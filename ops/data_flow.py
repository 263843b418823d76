"""Queue ops: FIFOQueueV2 and its kinds, enqueue, dequeue, close, size (tf.FIFOQueue).

A queue op (FIFOQueueV2, RandomShuffleQueueV2, PaddingFIFOQueueV2,
PriorityQueueV2) makes its queue in the session's resources on its device the
first time it runs (ops.queues holds the run-time queues) and outputs the
queue's handle: a string scalar naming it (its shared_name, else the op's
name). The other ops take that handle and act on the queue; they must run on
the queue's device, which raygraph.data_flow_ops ensures by building them
under `colocate_with(queue op)`.

The enqueues and dequeues are `blocking`: they wait for room or elements
without holding a thread other work needs, a cancelled run (deadline,
Session.close) ends their wait with CancelledError, and their runs always wait
for their reply (scheduler.engine.central), so a closed queue's error is raised
by the run that met it.

The public classes are in raygraph.data_flow_ops.
"""

from __future__ import annotations

import numpy as np

from ops import queues
from ops.common import constant_value
from ops.registry import REQUIRED, Op
from raygraph import dtypes, errors
from raygraph.shapes import TensorShape

# -- the queues ---------------------------------------------------------------------


class _QueueOp(Op, register=False):
    stateful = True
    differentiable = False
    cost = "free"

    def infer(**attrs):
        return dtypes.string, TensorShape([])


_COMMON = {"component_types": REQUIRED, "shapes": (), "capacity": -1, "container": "", "shared_name": ""}


class FIFOQueueV2(_QueueOp):
    """A queue of tuples of tensors, in arrival order (tf.FIFOQueue)."""

    attrs = dict(_COMMON)

    def kernel(ctx, component_types, shapes, capacity, container, shared_name):
        return _make(ctx, shared_name, queues.FIFOQueue, component_types, shapes, capacity)


class PaddingFIFOQueueV2(_QueueOp):
    """A FIFO queue whose dequeue_many pads components of unknown dimensions (tf.PaddingFIFOQueue)."""

    attrs = dict(_COMMON)

    def kernel(ctx, component_types, shapes, capacity, container, shared_name):
        return _make(ctx, shared_name, queues.PaddingFIFOQueue, component_types, shapes, capacity)


class PriorityQueueV2(_QueueOp):
    """A queue whose elements leave lowest priority first (tf.PriorityQueue).

    `component_types` excludes the priority, an int64 scalar that comes first.
    """

    attrs = dict(_COMMON)

    def kernel(ctx, component_types, shapes, capacity, container, shared_name):
        types = [dtypes.int64, *component_types]
        shapes = [(), *shapes] if shapes else ()
        return _make(ctx, shared_name, queues.PriorityQueue, types, shapes, capacity)


class RandomShuffleQueueV2(_QueueOp):
    """A queue that hands out its elements in random order (tf.RandomShuffleQueue)."""

    attrs = {**_COMMON, "min_after_dequeue": 0, "seed": 0, "seed2": 0}

    def kernel(
        ctx, component_types, shapes, capacity, min_after_dequeue, seed, seed2, container, shared_name
    ):
        def make(name, types, shape_list, cap):
            return queues.RandomShuffleQueue(name, types, shape_list, cap, min_after_dequeue, seed, seed2)

        return _make(ctx, shared_name, make, component_types, shapes, capacity)


def _make(ctx, shared_name: str, make, component_types, shapes, capacity) -> np.ndarray:
    """Makes the queue on first use; its handle. A shared_name reused with other types fails."""
    name = shared_name or ctx.node_name
    types = [dtypes.as_dtype(t).np for t in component_types]
    queue = ctx.state.resource(name, lambda: make(name, types, [tuple(s) for s in shapes] or None, capacity))
    if not isinstance(queue, queues.FIFOQueue) or queue.dtypes != types:
        raise errors.InvalidArgumentError(
            None,
            None,
            f"Shared queue '{name}' has component types {[str(d) for d in getattr(queue, 'dtypes', [])]} "
            f"but requested component types were {[str(d) for d in types]}",
        )
    return np.array(name.encode(), dtype=object)


def _queue(ctx, handle) -> queues.FIFOQueue:
    name = np.asarray(handle).item()
    name = name.decode() if isinstance(name, bytes) else str(name)
    queue = ctx.state.resources.get(name)
    if queue is None:
        raise errors.NotFoundError(None, None, f"Resource {name} (a queue) does not exist on this device")
    return queue


def queue_attrs(handle) -> tuple[list, list | None]:
    """(component types, shapes or None) of the queue a handle tensor comes from."""
    op = handle.op
    types = list(op.attrs["component_types"])
    shapes = [TensorShape(list(s)) for s in op.attrs["shapes"]] or None
    if op.type == "PriorityQueueV2":
        types = [dtypes.int64, *types]
        shapes = [TensorShape([]), *shapes] if shapes else None
    return types, shapes


def _check_handle(handle) -> None:
    if handle.op.type not in QUEUE_TYPES:
        raise TypeError(f"expected a queue handle, got {handle.name!r} from a {handle.op.type} op")


# -- enqueue, dequeue ---------------------------------------------------------------


class _QueueUse(Op, register=False):
    stateful = True
    differentiable = False
    cost = "free"


def _check_components(handle, components, many: bool) -> None:
    _check_handle(handle)
    types, shapes = queue_attrs(handle)
    if len(components) != len(types):
        raise ValueError(f"the queue has {len(types)} components, the enqueue gives {len(components)}")
    for i, (c, t) in enumerate(zip(components, types)):
        if c.dtype != t:
            raise TypeError(f"component {i} is {c.dtype.name}; the queue holds {t.name}")
        if shapes is not None:
            shape = c.shape[1:] if many and c.shape.rank else c.shape
            if not shape.is_compatible_with(shapes[i]):
                raise ValueError(f"component {i} has shape {shape}, the queue's elements {shapes[i]}")


class QueueEnqueueV2(_QueueUse):
    """Adds one element to the queue, waiting while it is full."""

    inputs = ("handle", "components*")
    attrs = {"timeout_ms": -1}
    blocking = True

    def infer(handle, components, timeout_ms):
        _check_components(handle, components, many=False)
        return []

    def kernel(ctx, handle, components, timeout_ms):
        _queue(ctx, handle).enqueue(ctx, _on_host(ctx, components), many=False)


class QueueEnqueueManyV2(_QueueUse):
    """Adds the slices of the components along their first dimension, as elements."""

    inputs = ("handle", "components*")
    attrs = {"timeout_ms": -1}
    blocking = True

    def infer(handle, components, timeout_ms):
        _check_components(handle, components, many=True)
        return []

    def kernel(ctx, handle, components, timeout_ms):
        _queue(ctx, handle).enqueue(ctx, _on_host(ctx, components), many=True)


def _element_specs(handle, component_types, batch) -> list:
    _check_handle(handle)
    _, shapes = queue_attrs(handle)
    types = [dtypes.as_dtype(t) for t in component_types]
    if shapes is None:
        return [(t, TensorShape(None)) for t in types]
    if batch is False:
        return list(zip(types, shapes))
    return [
        (t, TensorShape([batch, *s.dims]) if s.rank is not None else TensorShape(None))
        for t, s in zip(types, shapes)
    ]


class QueueDequeueV2(_QueueUse):
    """Takes one element, waiting until there is one (OutOfRangeError once closed and empty)."""

    inputs = ("handle",)
    attrs = {"component_types": REQUIRED, "timeout_ms": -1}
    multi_output = True
    blocking = True

    def infer(handle, component_types, timeout_ms):
        return _element_specs(handle, component_types, False)

    def kernel(ctx, handle, component_types, timeout_ms):
        return _on_device(ctx, _queue(ctx, handle).dequeue(ctx, 1, "one"))


class QueueDequeueManyV2(_QueueUse):
    """Takes `n` elements, stacked, waiting until there are n."""

    inputs = ("handle", "n")
    attrs = {"component_types": REQUIRED, "timeout_ms": -1}
    multi_output = True
    blocking = True

    def infer(handle, n, component_types, timeout_ms):
        known = constant_value(n)
        return _element_specs(handle, component_types, int(known) if known is not None else None)

    def kernel(ctx, handle, n, component_types, timeout_ms):
        return _on_device(ctx, _queue(ctx, handle).dequeue(ctx, int(n), "many"))


class QueueDequeueUpToV2(_QueueUse):
    """Takes `n` elements, stacked, or fewer once the queue is closed."""

    inputs = ("handle", "n")
    attrs = {"component_types": REQUIRED, "timeout_ms": -1}
    multi_output = True
    blocking = True

    def infer(handle, n, component_types, timeout_ms):
        return _element_specs(handle, component_types, None)

    def kernel(ctx, handle, n, component_types, timeout_ms):
        return _on_device(ctx, _queue(ctx, handle).dequeue(ctx, int(n), "up_to"))


def _on_host(ctx, arrays: list) -> list:
    """Queues hold host arrays (a queue on a GPU device takes its elements off the GPU)."""
    return arrays if ctx.xp is np else [a if isinstance(a, np.ndarray) else ctx.xp.asnumpy(a) for a in arrays]


def _on_device(ctx, arrays: list) -> list:
    return arrays if ctx.xp is np else [ctx.xp.asarray(a) if a.dtype != object else a for a in arrays]


# -- close, size --------------------------------------------------------------------


class QueueCloseV2(_QueueUse):
    """Closes the queue: later enqueues fail, dequeues drain it, then fail with OutOfRangeError."""

    inputs = ("handle",)
    attrs = {"cancel_pending_enqueues": False}

    def infer(handle, cancel_pending_enqueues):
        _check_handle(handle)
        return []

    def kernel(ctx, handle, cancel_pending_enqueues):
        _queue(ctx, handle).close(bool(cancel_pending_enqueues))


class QueueSizeV2(_QueueUse):
    """The number of elements in the queue (int32)."""

    inputs = ("handle",)

    def infer(handle):
        _check_handle(handle)
        return dtypes.int32, TensorShape([])

    def kernel(ctx, handle):
        queue = _queue(ctx, handle)
        with queue.cond:
            return np.int32(queue.size())


class QueueIsClosedV2(_QueueUse):
    """Whether the queue is closed (bool)."""

    inputs = ("handle",)

    def infer(handle):
        _check_handle(handle)
        return dtypes.bool, TensorShape([])

    def kernel(ctx, handle):
        return np.bool_(_queue(ctx, handle).closed)


QUEUE_TYPES = ("FIFOQueueV2", "PaddingFIFOQueueV2", "PriorityQueueV2", "RandomShuffleQueueV2")


# -- counting epochs ----------------------------------------------------------------


class CountUpTo(Op):
    """Adds 1 to an integer variable until it reaches `limit` (then OutOfRangeError);
    outputs the value before the increment. tf.train.limit_epochs counts epochs with it.

    >>> n = tf.count_up_to(counter, 3)   # 0, 1, 2, then OutOfRangeError
    """

    inputs = ("ref",)
    ref_inputs = ("ref",)
    attrs = {"limit": REQUIRED}
    stateful = True
    differentiable = False
    api = "count_up_to"

    def infer(ref, limit):
        if ref.dtype not in (dtypes.int32, dtypes.int64):
            raise TypeError(f"count_up_to needs an int32 or int64 variable, got {ref.dtype.name}")
        if ref.shape.rank not in (None, 0):
            raise ValueError(f"count_up_to needs a scalar variable, got shape {ref.shape}")
        return ref.dtype, TensorShape([])

    def kernel(ctx, ref, limit):
        with ctx.state.lock:  # read and increment as one step: several threads may count
            value = ctx.read_variable(ref)
            if value >= limit:
                raise errors.OutOfRangeError(None, None, f"Reached limit of {limit}")
            ctx.assign_variable(ref, value + 1)
        return np.array(value, copy=True)
