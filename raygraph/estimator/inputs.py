"""`tf.estimator.inputs.numpy_input_fn`: batches of numpy arrays as an Estimator's input.

TF builds a queue fed by Python threads; raygraph builds placeholders, shape
[None, ...], and registers a feeder (raygraph.train.input_feeding) that a
MonitoredSession calls on every run needing the input. The order of examples is
TF's: epochs follow each other without a gap, so a batch may span two epochs;
with `num_epochs` set the last batch may be short, and once all epochs are
fed the next run raises OutOfRangeError, which ends Estimator.train/evaluate/
predict as an exhausted TF queue does. `num_epochs=None` repeats forever.
`shuffle=True` reshuffles every epoch with numpy's generator (not TF's
RandomShuffleQueue: the order differs from TF's, the set of examples does not).
"""

from __future__ import annotations

import numpy as np

from raygraph import dtypes, errors
from raygraph.graph import get_default_graph
from raygraph.train.input_feeding import register_feeder

__all__ = ["numpy_input_fn"]


def _as_dict(value, name: str) -> tuple[dict, bool]:
    """({key: array}, whether `value` was a dict)."""
    if isinstance(value, dict):
        return {k: np.asarray(v) for k, v in value.items()}, True
    return {name: np.asarray(value)}, False


def _batches(length: int, batch_size: int, num_epochs, shuffle: bool, rng):
    """Index arrays of successive batches across epochs (the last one short)."""
    pending = np.empty([0], dtype=np.int64)
    epoch = 0
    while num_epochs is None or epoch < num_epochs:
        order = rng.permutation(length) if shuffle else np.arange(length)
        pending = np.concatenate([pending, order])
        epoch += 1
        while len(pending) >= batch_size:
            yield pending[:batch_size]
            pending = pending[batch_size:]
    if len(pending):
        yield pending


def numpy_input_fn(x, y=None, batch_size=128, num_epochs=1, shuffle=None, queue_capacity=1000, num_threads=1):
    """An input_fn feeding batches of dict `x` (or an array) and `y` to an Estimator.

    >>> input_fn = tf.estimator.inputs.numpy_input_fn({"x": xs}, ys, batch_size=32,
    ...                                               num_epochs=None, shuffle=True)
    >>> estimator.train(input_fn, steps=100)

    `shuffle` must be given (True or False). `queue_capacity` and `num_threads`
    are accepted for compatibility.
    """
    if not isinstance(shuffle, bool):
        raise ValueError(
            "shuffle must be provided and explicitly set as boolean (it is recommended to set it as True "
            f"for training); got {shuffle}"
        )
    if batch_size is None or int(batch_size) <= 0:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}")
    if num_epochs is not None and int(num_epochs) <= 0:
        raise ValueError(f"num_epochs must be None or a positive integer; got {num_epochs}")
    features, x_is_dict = _as_dict(x, "__direct_np_input_key__")
    labels, y_is_dict = _as_dict(y, "__target_key__") if y is not None else ({}, False)
    duplicates = sorted(set(features) & set(labels))
    if duplicates:
        raise ValueError(f"{len(duplicates)} duplicate keys are found in both x and y: {duplicates}")
    arrays = {**features, **labels}
    lengths = {k: (len(a) if a.ndim else None) for k, a in arrays.items()}
    if not arrays or None in lengths.values() or len(set(lengths.values())) != 1:
        raise ValueError(
            f"Length of tensors in x and y is mismatched. All elements in x and y must have the same length: {lengths}"
        )
    length = next(iter(lengths.values()))

    def input_fn():
        graph = get_default_graph()
        with graph.name_scope("numpy_input_fn"):
            holders = {key: _placeholder(array, key) for key, array in arrays.items()}
        batches = _batches(length, int(batch_size), num_epochs, shuffle, np.random.default_rng())

        def next_feed():
            try:
                index = next(batches)
            except StopIteration:
                raise errors.OutOfRangeError(
                    None, None, f"numpy_input_fn: all {num_epochs} epoch(s) of {length} examples were read"
                ) from None
            return {holders[key]: arrays[key][index] for key in arrays}

        register_feeder(graph, holders.values(), next_feed)
        feats = {k: holders[k] for k in features}
        feats = feats if x_is_dict else feats["__direct_np_input_key__"]
        if y is None:
            return feats
        labs = {k: holders[k] for k in labels}
        return feats, (labs if y_is_dict else labs["__target_key__"])

    return input_fn


def _placeholder(array: np.ndarray, key: str):
    from ops import api

    name = "".join(c if c.isalnum() or c in "_-." else "_" for c in key.strip("_")) or "input"
    return api.placeholder(dtypes.as_dtype(array.dtype), [None, *array.shape[1:]], name=name)
