"""TF1's queue-based input pipelines: producers of file names or slices, and batching.

    files = tf.train.string_input_producer(["a.tfrecord", "b.tfrecord"], num_epochs=2)
    _, serialized = tf.TFRecordReader().read(files)
    example = tf.parse_single_example(serialized, features)
    images, labels = tf.train.shuffle_batch(
        [example["image"], example["label"]], batch_size=32, capacity=1000, min_after_dequeue=100)

Each function builds a queue (raygraph.data_flow_ops), the ops that fill it,
and a QueueRunner for them in the graph's QUEUE_RUNNERS collection; the
threads of tf.train.start_queue_runners then keep the queue filled. A
producer with `num_epochs` counts its epochs in a local variable
(`limit_epochs`: run tf.local_variables_initializer() first); after the last
epoch its enqueue fails with OutOfRangeError, its runner closes the queue,
and the consumers end with OutOfRangeError once the queue is drained. Each
function also adds TensorFlow's summary of how full its queue is.

Sparse tensors and `keep_input` other than True are not supported.
"""

from __future__ import annotations

from ops import api
from ops.summary import scalar as _scalar_summary
from raygraph import dtypes
from raygraph.data_flow_ops import FIFOQueue, PaddingFIFOQueue, RandomShuffleQueue
from raygraph.graph import GraphKeys, Tensor, control_dependencies, convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, as_shape
from raygraph.train.queue_runner import QueueRunner, add_queue_runner

__all__ = [
    "batch",
    "batch_join",
    "input_producer",
    "limit_epochs",
    "range_input_producer",
    "shuffle_batch",
    "shuffle_batch_join",
    "slice_input_producer",
    "string_input_producer",
]


def limit_epochs(tensor, num_epochs=None, name=None):
    """`tensor`, which raises OutOfRangeError after `num_epochs` evaluations (None: never).

    The count is a local variable, "<name>/epochs": run
    tf.local_variables_initializer() before the first evaluation.
    """
    if num_epochs is None:
        return tensor
    if num_epochs <= 0:
        raise ValueError(f"num_epochs must be > 0 not {num_epochs}.")
    from raygraph.variables import Variable

    with name_scope(name, "limit_epochs", [tensor]) as scope:
        zero64 = convert_to_tensor(0, dtype=dtypes.int64)
        epochs = Variable(zero64, name="epochs", trainable=False, collections=[GraphKeys.LOCAL_VARIABLES])
        counter = epochs.count_up_to(num_epochs)
        with control_dependencies([counter]):
            return api.identity(tensor, name=scope)


def input_producer(
    input_tensor,
    element_shape=None,
    num_epochs=None,
    shuffle=True,
    seed=None,
    capacity=32,
    shared_name=None,
    summary_name=None,
    name=None,
    cancel_op=None,
):
    """A FIFOQueue fed with the rows of `input_tensor`, `num_epochs` times (None: forever).

    Each epoch enqueues every row, shuffled when `shuffle`. Returns the queue.
    """
    with name_scope(name, "input_producer", [input_tensor]) as scope:
        input_tensor = convert_to_tensor(input_tensor, name="input_tensor")
        shape = input_tensor.shape[1:]
        if element_shape is not None:
            shape = shape.merge_with(as_shape(element_shape))
        if not shape.is_fully_defined():
            raise ValueError(
                "Either `input_tensor` must have a fully defined shape or `element_shape` must be specified"
            )
        if shuffle:
            input_tensor = api.random_shuffle(input_tensor, seed=seed)
        input_tensor = limit_epochs(input_tensor, num_epochs)
        q = FIFOQueue(capacity, [input_tensor.dtype], shapes=[shape], shared_name=shared_name, name=scope)
        enqueue = q.enqueue_many([input_tensor])
        add_queue_runner(QueueRunner(q, [enqueue], cancel_op=cancel_op))
        if summary_name is not None:
            _full_summary(summary_name, q.size(), capacity)
        return q


def string_input_producer(
    string_tensor,
    num_epochs=None,
    shuffle=True,
    seed=None,
    capacity=32,
    shared_name=None,
    name=None,
    cancel_op=None,
):
    """A queue of the strings (file names, usually) in `string_tensor`, for a reader.

    >>> files = tf.train.string_input_producer(["a.csv", "b.csv"], shuffle=False)
    >>> key, line = tf.TextLineReader().read(files)
    """
    if not isinstance(string_tensor, Tensor) and not len(string_tensor):
        raise ValueError("string_input_producer requires a non-null input tensor")
    with name_scope(name, "input_producer", [string_tensor]) as scope:
        string_tensor = convert_to_tensor(string_tensor, dtype=dtypes.string)
        return input_producer(
            string_tensor,
            element_shape=[],
            num_epochs=num_epochs,
            shuffle=shuffle,
            seed=seed,
            capacity=capacity,
            shared_name=shared_name,
            name=scope,
            summary_name=f"fraction_of_{capacity}_full",
            cancel_op=cancel_op,
        )


def range_input_producer(
    limit, num_epochs=None, shuffle=True, seed=None, capacity=32, shared_name=None, name=None
):
    """A queue of the integers 0 .. limit-1 (int32), `num_epochs` times."""
    with name_scope(name, "input_producer", [limit]) as scope:
        values = api.range(limit)
        return input_producer(
            values,
            [],
            num_epochs,
            shuffle,
            seed,
            capacity,
            shared_name,
            f"fraction_of_{capacity}_full",
            scope,
        )


def slice_input_producer(
    tensor_list, num_epochs=None, shuffle=True, seed=None, capacity=32, shared_name=None, name=None
):
    """One row of each tensor in `tensor_list` at a time (the same row of each), `num_epochs` times.

    >>> image, label = tf.train.slice_input_producer([images, labels], shuffle=False)
    """
    with name_scope(name, "input_producer", list(tensor_list)):
        tensors = [convert_to_tensor(t) for t in tensor_list]
        if not tensors:
            raise ValueError("Expected at least one tensor in slice_input_producer().")
        size = api.shape(tensors[0])[0]
        queue = range_input_producer(
            size,
            num_epochs=num_epochs,
            shuffle=shuffle,
            seed=seed,
            capacity=capacity,
            shared_name=shared_name,
        )
        index = queue.dequeue()
        return [api.gather(t, index) for t in tensors]


# -- batching -----------------------------------------------------------------------


def batch(
    tensors,
    batch_size,
    num_threads=1,
    capacity=32,
    enqueue_many=False,
    shapes=None,
    dynamic_pad=False,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """Batches of `tensors` (a list or dict), filled by `num_threads` threads, in order.

    >>> images, labels = tf.train.batch([image, label], batch_size=32)

    With `dynamic_pad`, elements may differ in their unknown dimensions and are
    padded with zeros; with `allow_smaller_final_batch`, the last batch of a
    finished input may be short (the batch dimension is then unknown).
    """
    return _batch_join(
        [tensors],
        batch_size,
        capacity,
        enqueue_many,
        shapes,
        dynamic_pad,
        allow_smaller_final_batch,
        shared_name,
        name,
        "batch",
        num_threads,
    )


def batch_join(
    tensors_list,
    batch_size,
    capacity=32,
    enqueue_many=False,
    shapes=None,
    dynamic_pad=False,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """Batches mixing several lists of tensors (one enqueuing thread each), in arrival order."""
    return _batch_join(
        tensors_list,
        batch_size,
        capacity,
        enqueue_many,
        shapes,
        dynamic_pad,
        allow_smaller_final_batch,
        shared_name,
        name,
        "batch_join",
        1,
    )


def shuffle_batch(
    tensors,
    batch_size,
    capacity,
    min_after_dequeue,
    num_threads=1,
    seed=None,
    enqueue_many=False,
    shapes=None,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """Batches of `tensors` drawn at random from a RandomShuffleQueue.

    >>> images, labels = tf.train.shuffle_batch([image, label], 32, capacity=1000, min_after_dequeue=100)
    """
    return _shuffle_batch_join(
        [tensors],
        batch_size,
        capacity,
        min_after_dequeue,
        seed,
        enqueue_many,
        shapes,
        allow_smaller_final_batch,
        shared_name,
        name,
        "shuffle_batch",
        num_threads,
    )


def shuffle_batch_join(
    tensors_list,
    batch_size,
    capacity,
    min_after_dequeue,
    seed=None,
    enqueue_many=False,
    shapes=None,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """shuffle_batch over several lists of tensors (one enqueuing thread each)."""
    return _shuffle_batch_join(
        tensors_list,
        batch_size,
        capacity,
        min_after_dequeue,
        seed,
        enqueue_many,
        shapes,
        allow_smaller_final_batch,
        shared_name,
        name,
        "shuffle_batch_join",
        1,
    )


def _batch_join(
    tensors_list,
    batch_size,
    capacity,
    enqueue_many,
    shapes,
    dynamic_pad,
    smaller,
    shared_name,
    name,
    default_name,
    threads,
):
    lists = _tensor_lists(tensors_list)
    with name_scope(name, default_name, [t for ts in lists for t in ts]) as scope:
        types, shapes = _types_and_shapes(lists, shapes, enqueue_many, dynamic_pad)
        queue_class = PaddingFIFOQueue if dynamic_pad else FIFOQueue
        queue = queue_class(capacity=capacity, dtypes=types, shapes=shapes, shared_name=shared_name)
        _enqueue(queue, lists, enqueue_many, threads)
        _full_summary(f"fraction_of_{capacity}_full", queue.size(), capacity)
        return _dequeue(queue, batch_size, smaller, scope, tensors_list[0])


def _shuffle_batch_join(
    tensors_list,
    batch_size,
    capacity,
    min_after_dequeue,
    seed,
    enqueue_many,
    shapes,
    smaller,
    shared_name,
    name,
    default_name,
    threads,
):
    lists = _tensor_lists(tensors_list)
    with name_scope(name, default_name, [t for ts in lists for t in ts]) as scope:
        if capacity <= min_after_dequeue:
            raise ValueError(
                f"capacity {capacity} must be bigger than min_after_dequeue {min_after_dequeue}."
            )
        types, shapes = _types_and_shapes(lists, shapes, enqueue_many, False)
        queue = RandomShuffleQueue(
            capacity=capacity,
            min_after_dequeue=min_after_dequeue,
            seed=seed,
            dtypes=types,
            shapes=shapes,
            shared_name=shared_name,
        )
        _enqueue(queue, lists, enqueue_many, threads)
        over = api.maximum(0, queue.size() - min_after_dequeue)
        full = api.cast(over, dtypes.float32) * (1.0 / (capacity - min_after_dequeue))
        _scalar_summary(f"fraction_over_{min_after_dequeue}_of_{capacity - min_after_dequeue}_full", full)
        return _dequeue(queue, batch_size, smaller, scope, tensors_list[0])


def _tensor_lists(tensors_list) -> list[list[Tensor]]:
    """Each entry as a list of tensors (a dict's values in sorted key order)."""
    if not tensors_list:
        raise ValueError("Expected at least one set of tensors")
    first = tensors_list[0]
    if isinstance(first, dict):
        keys = set(first)
        if any(set(ts) != keys for ts in tensors_list[1:]):
            raise ValueError("All dictionaries in tensors_list must have the same keys")
    lists = []
    for ts in tensors_list:
        items = [ts[k] for k in sorted(ts, key=str)] if isinstance(ts, dict) else list(_as_list(ts))
        if not items:
            raise ValueError("Expected at least one tensor in batch().")
        lists.append([convert_to_tensor(t) for t in items])
    if any(len(ts) != len(lists[0]) for ts in lists):
        raise ValueError("Expected all tensor lists to have the same number of tensors")
    return lists


def _as_list(tensors):
    return tensors if isinstance(tensors, list | tuple) else [tensors]


def _types_and_shapes(lists, shapes, enqueue_many: bool, dynamic_pad: bool):
    types = [t.dtype for t in lists[0]]
    for ts in lists[1:]:
        if [t.dtype for t in ts] != types:
            raise TypeError(
                f"Expected types to be consistent: {[t.dtype.name for t in ts]} vs {[t.name for t in types]}"
            )
    if shapes is not None:
        return types, [as_shape(s) for s in shapes]
    merged = []
    for i in range(len(types)):
        shape = TensorShape(None)
        for ts in lists:
            s = ts[i].shape
            if enqueue_many:
                s = s[1:]
            shape = shape.merge_with(s)
        if dynamic_pad:
            if shape.rank is None:
                raise ValueError(f"Shapes must have a known rank for dynamic_pad (component {i})")
        elif not shape.is_fully_defined():
            raise ValueError(f"All shapes must be fully defined: {[str(t.shape) for t in lists[0]]}")
        merged.append(shape)
    return types, merged


def _enqueue(queue, lists, enqueue_many: bool, threads: int) -> None:
    put = queue.enqueue_many if enqueue_many else queue.enqueue
    if len(lists) == 1:
        ops = [put(lists[0])] * threads
    else:
        ops = [put(ts) for ts in lists]
    add_queue_runner(QueueRunner(queue, ops))


def _dequeue(queue, batch_size, smaller: bool, scope: str, original):
    take = queue.dequeue_up_to if smaller else queue.dequeue_many
    out = take(batch_size, name=scope)
    if isinstance(original, dict):
        values = [out] if len(original) == 1 else out
        return dict(zip(sorted(original, key=str), values))
    return out


def _full_summary(name: str, size, capacity: int) -> None:
    _scalar_summary(name, api.cast(size, dtypes.float32) * (1.0 / capacity))
