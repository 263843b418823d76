"""tf.FIFOQueue, tf.RandomShuffleQueue, tf.PaddingFIFOQueue, tf.PriorityQueue: queues in the graph.

    q = tf.FIFOQueue(capacity=10, dtypes=[tf.float32, tf.int64], shapes=[[2], []])
    enqueue = q.enqueue([x, label])
    xs, labels = q.dequeue_many(4)

A queue object holds the queue op's output, `queue_ref` (the handle, ops.data_flow),
and builds the ops that use it, colocated with the queue op: the queue lives
on one device, in the session's state there, and survives between runs. A
dequeue waits for elements without holding up other runs of the session (a
QueueRunner's enqueues run from other threads, scheduler.engine.central), and
ends with OutOfRangeError once the queue is closed and too short; see
ops.queues for the waiting and closing rules. `names` gives elements as dicts.
"""

from __future__ import annotations

from ops import random as _random
from ops.data_flow import queue_attrs
from ops.registry import build
from raygraph import dtypes as _dtypes
from raygraph.graph import Tensor, colocate_with, convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, as_shape

__all__ = ["FIFOQueue", "PaddingFIFOQueue", "PriorityQueue", "QueueBase", "RandomShuffleQueue"]


class QueueBase:
    """The operations every queue has; build one with FIFOQueue and friends."""

    def __init__(self, dtypes, shapes, names, queue_ref: Tensor):
        self._dtypes = [_dtypes.as_dtype(d) for d in dtypes]
        self._shapes = [as_shape(s) for s in shapes] if shapes is not None else None
        self._names = list(names) if names is not None else None
        self._queue_ref = queue_ref
        self._name = queue_ref.op.name

    @property
    def queue_ref(self) -> Tensor:
        """The queue's handle: a string tensor naming it on its device."""
        return self._queue_ref

    @property
    def name(self) -> str:
        return self._name

    @property
    def dtypes(self) -> list:
        return list(self._dtypes)

    @property
    def shapes(self) -> list:
        return list(self._shapes) if self._shapes is not None else [TensorShape(None)] * len(self._dtypes)

    @property
    def names(self):
        return self._names

    # -- enqueue --
    def enqueue(self, vals, name=None):
        """Adds one element: a tensor, a list of tensors, or a dict when the queue has names."""
        with name_scope(name, f"{self._name}_enqueue", [self._queue_ref]) as scope:
            components = self._components(vals, many=False)
            with colocate_with(self._queue_ref):
                return build("QueueEnqueueV2", [self._queue_ref, components], name=scope)

    def enqueue_many(self, vals, name=None):
        """Adds the slices of `vals` along their first dimension, as elements."""
        with name_scope(name, f"{self._name}_EnqueueMany", [self._queue_ref]) as scope:
            components = self._components(vals, many=True)
            with colocate_with(self._queue_ref):
                return build("QueueEnqueueManyV2", [self._queue_ref, components], name=scope)

    def _components(self, vals, many: bool) -> list[Tensor]:
        if isinstance(vals, dict):
            if self._names is None:
                raise ValueError("Queue must have names to enqueue a dictionary")
            if sorted(self._names) != sorted(vals):
                raise ValueError(
                    f"Keys in dictionary to enqueue do not match names of Queue: {sorted(vals)} vs {sorted(self._names)}"
                )
            vals = [vals[k] for k in self._names]
        elif self._names is not None:
            raise ValueError("You must enqueue a dictionary in a Queue with names")
        elif not isinstance(vals, list | tuple):
            vals = [vals]
        if len(vals) != len(self._dtypes):
            raise ValueError(f"Queue {self._name!r} has {len(self._dtypes)} components; {len(vals)} given")
        tensors = []
        for i, (v, dtype) in enumerate(zip(vals, self._dtypes)):
            t = convert_to_tensor(v, dtype=dtype, name=f"component_{i}")
            if self._shapes is not None:
                shape = t.shape[1:] if many else t.shape
                if not shape.is_compatible_with(self._shapes[i]):
                    what = "slice" if many else "value"
                    raise ValueError(
                        f"Shapes of the {what} {shape} and queue component {i} {self._shapes[i]} are incompatible"
                    )
            tensors.append(t)
        return tensors

    # -- dequeue --
    def dequeue(self, name=None):
        """One element: a tensor, a list of them, or a dict when the queue has names."""
        with (
            name_scope(name, f"{self._name}_Dequeue", [self._queue_ref]) as scope,
            colocate_with(self._queue_ref),
        ):
            out = build("QueueDequeueV2", [self._queue_ref], {"component_types": self._dtypes}, name=scope)
        return self._result(out)

    def dequeue_many(self, n, name=None):
        """`n` elements stacked along a new first dimension."""
        with name_scope(name, f"{self._name}_DequeueMany", [self._queue_ref, n]) as scope:
            n = convert_to_tensor(n, dtype=_dtypes.int32, name="n")
            with colocate_with(self._queue_ref):
                out = build(
                    "QueueDequeueManyV2", [self._queue_ref, n], {"component_types": self._dtypes}, name=scope
                )
        return self._result(out)

    def dequeue_up_to(self, n, name=None):
        """`n` elements stacked, or what is left (at least one) once the queue is closed."""
        with name_scope(name, f"{self._name}_DequeueUpTo", [self._queue_ref, n]) as scope:
            n = convert_to_tensor(n, dtype=_dtypes.int32, name="n")
            with colocate_with(self._queue_ref):
                out = build(
                    "QueueDequeueUpToV2", [self._queue_ref, n], {"component_types": self._dtypes}, name=scope
                )
        return self._result(out)

    def _result(self, outputs: list):
        if self._names is not None:
            return dict(zip(self._names, outputs))
        return outputs[0] if len(outputs) == 1 else outputs

    # -- state --
    def close(self, cancel_pending_enqueues=False, name=None):
        """Closes the queue: enqueues fail from now on; dequeues drain it, then fail."""
        name = name or f"{self._name}_Close"
        with colocate_with(self._queue_ref):
            attrs = {"cancel_pending_enqueues": bool(cancel_pending_enqueues)}
            return build("QueueCloseV2", [self._queue_ref], attrs, name=name)

    def is_closed(self, name=None):
        """A bool tensor: whether the queue is closed."""
        with colocate_with(self._queue_ref):
            return build("QueueIsClosedV2", [self._queue_ref], name=name or f"{self._name}_IsClosed")

    def size(self, name=None):
        """An int32 tensor: the number of elements in the queue."""
        with colocate_with(self._queue_ref):
            return build("QueueSizeV2", [self._queue_ref], name=name or f"{self._name}_Size")


def _queue_op(op_type: str, capacity, dtypes, shapes, shared_name, name, **extra) -> Tensor:
    types = [_dtypes.as_dtype(d) for d in dtypes]
    shape_list = [] if shapes is None else [tuple(as_shape(s).as_list()) for s in shapes]
    if shapes is not None and len(shape_list) != len(types):
        raise ValueError("Queue shapes must have the same length as dtypes")
    attrs = {
        "component_types": types,
        "shapes": shape_list,
        "capacity": -1 if capacity is None else int(capacity),
        "shared_name": shared_name or "",
        **extra,
    }
    return build(op_type, [], attrs, name=name)


def _normalize(dtypes, shapes, names):
    if not isinstance(dtypes, list | tuple):
        dtypes = [dtypes]
    if shapes is not None:
        shapes = [shapes] if isinstance(shapes, TensorShape) or not _is_shape_list(shapes) else list(shapes)
    if names is not None and not isinstance(names, list | tuple):
        names = [names]
    return list(dtypes), shapes, names


def _is_shape_list(shapes) -> bool:
    """Whether `shapes` is a list of shapes (not one shape given as a list of ints)."""
    return isinstance(shapes, list | tuple) and all(
        isinstance(s, list | tuple | TensorShape) or s is None for s in shapes
    )


class FIFOQueue(QueueBase):
    """A queue that hands out elements in the order they came.

    >>> q = tf.FIFOQueue(3, tf.float32, shapes=[[]])
    >>> init = q.enqueue_many([[0.0, 1.0, 2.0]])
    >>> x = q.dequeue()   # 0.0, then 1.0, ...
    """

    def __init__(self, capacity, dtypes, shapes=None, names=None, shared_name=None, name="fifo_queue"):
        dtypes, shapes, names = _normalize(dtypes, shapes, names)
        ref = _queue_op("FIFOQueueV2", capacity, dtypes, shapes, shared_name, name)
        super().__init__(dtypes, shapes, names, ref)


class PaddingFIFOQueue(QueueBase):
    """A FIFOQueue whose element shapes may have unknown (None) dimensions.

    dequeue_many pads each component with zeros (b"" for strings) to the largest
    element in the batch.

    >>> q = tf.PaddingFIFOQueue(10, [tf.int32], shapes=[[None]])
    """

    def __init__(self, capacity, dtypes, shapes, names=None, shared_name=None, name="padding_fifo_queue"):
        dtypes, shapes, names = _normalize(dtypes, shapes, names)
        if shapes is None or len(shapes) != len(dtypes):
            raise ValueError(
                f"Shapes must be provided for all components, but received {len(dtypes)} dtypes and "
                f"{0 if shapes is None else len(shapes)} shapes."
            )
        ref = _queue_op("PaddingFIFOQueueV2", capacity, dtypes, shapes, shared_name, name)
        super().__init__(dtypes, shapes, names, ref)


class RandomShuffleQueue(QueueBase):
    """A queue that hands out its elements in random order.

    Until it is closed it keeps `min_after_dequeue` elements back, so what
    comes out is drawn from at least that many. `seed` follows the graph seed
    rules of tf.set_random_seed.

    >>> q = tf.RandomShuffleQueue(100, min_after_dequeue=10, dtypes=tf.string, shapes=[[]], seed=1)
    """

    def __init__(
        self,
        capacity,
        min_after_dequeue,
        dtypes,
        shapes=None,
        names=None,
        seed=None,
        shared_name=None,
        name="random_shuffle_queue",
    ):
        dtypes, shapes, names = _normalize(dtypes, shapes, names)
        seed1, seed2 = _random.get_seed(seed)
        if seed1 is None and seed2 is None:
            seed1, seed2 = 0, 0
        extra = {"min_after_dequeue": int(min_after_dequeue), "seed": int(seed1), "seed2": int(seed2)}
        ref = _queue_op("RandomShuffleQueueV2", capacity, dtypes, shapes, shared_name, name, **extra)
        super().__init__(dtypes, shapes, names, ref)


class PriorityQueue(QueueBase):
    """A queue whose elements leave lowest priority first.

    Each element starts with an int64 scalar priority, then the components of
    `types`; dequeue returns [priority, *components].

    >>> q = tf.PriorityQueue(10, [tf.string], shapes=[[]])
    >>> put = q.enqueue([tf.constant(3, tf.int64), "c"])
    """

    def __init__(self, capacity, types, shapes=None, names=None, shared_name=None, name="priority_queue"):
        types, shapes, names = _normalize(types, shapes, names)
        ref = _queue_op("PriorityQueueV2", capacity, types, shapes, shared_name, name)
        all_types, all_shapes = queue_attrs(ref)
        super().__init__(all_types, all_shapes, names, ref)
