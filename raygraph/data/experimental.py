"""`tf.data.experimental`: AUTOTUNE and the fused transformations TF1 programs apply.

>>> ds = ds.apply(tf.data.experimental.map_and_batch(parse, 32))
"""

from __future__ import annotations

from ops.data_pipeline import AUTOTUNE

__all__ = ["AUTOTUNE", "map_and_batch", "parallel_interleave", "shuffle_and_repeat"]


def map_and_batch(
    map_func, batch_size, num_parallel_batches=None, drop_remainder=False, num_parallel_calls=None
):
    """`dataset.map(map_func).batch(batch_size, drop_remainder)`, for `dataset.apply`."""
    return lambda dataset: dataset.map(map_func, num_parallel_calls).batch(batch_size, drop_remainder)


def shuffle_and_repeat(buffer_size, count=None, seed=None):
    """`dataset.shuffle(buffer_size, seed).repeat(count)`, for `dataset.apply`."""
    return lambda dataset: dataset.shuffle(buffer_size, seed).repeat(count)


def parallel_interleave(map_func, cycle_length, block_length=1, sloppy=False, **unused):
    """`dataset.interleave(map_func, cycle_length, block_length)`, for `dataset.apply`."""
    return lambda dataset: dataset.interleave(map_func, cycle_length, block_length)
