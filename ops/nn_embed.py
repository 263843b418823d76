"""Embedding lookups: tf.nn.embedding_lookup over one table or a partitioned one.

A lookup is a gather of rows of `params`. A table split into several tensors
(`params` a list, as a partitioned variable gives) is looked up as one: the parts
are concatenated along their first axis and each id is mapped to its row in that
concatenation, by TensorFlow's partition strategies:
- "mod": id i lives in part i % P, at row i // P;
- "div": the parts hold consecutive ids, the first (N % P) parts one row more
  than the others (N the total number of rows).
So the gradient with respect to each part comes from the gather's (a dense
segment sum) through the concatenation's: every part gets a dense gradient of its
own shape, which the optimizers apply like any other. TensorFlow's sparse
IndexedSlices gradients have the same values.

max_norm clips each looked-up embedding to that L2 norm, as TensorFlow does.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops.common import check_dtype
from ops.registry import api_function
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.shapes import format_shape


def _rows(t):
    """t's first dimension: an int when the graph knows it, else a scalar tensor."""
    dims = t.shape.dims
    if dims is not None and dims and dims[0] is not None:
        return int(dims[0])
    return tf.shape(t)[0]


def _check_parts(parts) -> None:
    first = parts[0]
    for i, p in enumerate(parts[1:], 1):
        if p.dtype != first.dtype:
            raise TypeError(
                f"embedding_lookup: params[{i}] has dtype {p.dtype.name}, params[0] has {first.dtype.name}"
            )
        if not p.shape[1:].is_compatible_with(first.shape[1:]):
            raise ValueError(
                f"embedding_lookup: params[{i}] has shape {format_shape(p.shape)}, incompatible with "
                f"params[0] {format_shape(first.shape)} beyond the first dimension"
            )


def _row_in_concat(ids, sizes, strategy: str):
    """The row of each id in the concatenation of parts of `sizes` rows (ints or scalar tensors)."""
    n_parts = len(sizes)
    if all(isinstance(s, int) for s in sizes):
        starts = tf.constant(np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(ids.dtype.np))
        total = tf.constant(sum(sizes), dtype=ids.dtype)
    else:
        sizes = [tf.cast(s, ids.dtype) for s in sizes]
        starts = tf.cumsum(tf.stack(sizes), exclusive=True)
        total = tf.add_n(sizes)
    if strategy == "mod":
        part, row = tf.floormod(ids, n_parts), tf.floordiv(ids, n_parts)
    else:
        per_part = tf.floordiv(total, n_parts)
        extras = tf.floormod(total, n_parts)
        part = tf.maximum(tf.floordiv(ids, per_part + 1), tf.floordiv(ids - extras, per_part))
        row = tf.where(
            tf.less(part, extras), tf.floormod(ids, per_part + 1), tf.floormod(ids - extras, per_part)
        )
    return tf.gather(starts, part) + row


def _clip_rows(embeddings, ids_rank: int, max_norm):
    """Each embedding (the axes after the ids') scaled down to L2 norm max_norm where longer."""
    rank = embeddings.shape.ndims
    if rank is None:
        raise ValueError("embedding_lookup: max_norm needs params and ids of known rank")
    axes = list(range(ids_rank, rank))
    if not axes:
        return embeddings
    max_norm = tf.cast(max_norm, embeddings.dtype)
    squares = tf.reduce_sum(embeddings * embeddings, axes, keepdims=True)
    positive = tf.greater(squares, tf.zeros_like(squares))
    norm = tf.where(positive, tf.sqrt(tf.where(positive, squares, tf.ones_like(squares))), squares)
    return embeddings * max_norm / tf.maximum(norm, max_norm + tf.zeros_like(norm))


@api_function("nn.embedding_lookup")
def embedding_lookup(params, ids, partition_strategy="mod", name=None, validate_indices=True, max_norm=None):
    """Rows of the embedding table `params` at `ids`: shape ids.shape + params.shape[1:].

    `params` is one tensor (or Variable), or a list of them (or a PartitionedVariable)
    holding the table's rows split by `partition_strategy` ("mod" or "div").

    >>> embeddings = tf.get_variable("embeddings", [vocab_size, 128])
    >>> vectors = tf.nn.embedding_lookup(embeddings, word_ids)    # [batch, steps, 128]
    """
    partitioned = hasattr(params, "_get_variable_list")  # a PartitionedVariable: its parts
    parts = list(params) if isinstance(params, list | tuple) or partitioned else [params]
    if not parts:
        raise ValueError("embedding_lookup: params must hold at least one tensor")
    if partition_strategy not in ("mod", "div"):
        raise ValueError(f"Unrecognized partition strategy: {partition_strategy!r} (use 'mod' or 'div')")
    with name_scope(name, "embedding_lookup", parts + [ids]) as scope:
        parts = [convert_to_tensor(p, name="params") for p in parts]
        ids = convert_to_tensor(ids, name="ids")
        check_dtype(ids, "int", "ids")
        if len(parts) == 1:
            result = tf.gather(parts[0], ids)
        else:
            _check_parts(parts)
            table = tf.concat(parts, 0)
            rows = _row_in_concat(ids, [_rows(p) for p in parts], partition_strategy)
            result = tf.gather(table, rows)
        if max_norm is not None:
            if ids.shape.ndims is None:
                raise ValueError("embedding_lookup: max_norm needs ids of known rank")
            result = _clip_rows(result, ids.shape.ndims, max_norm)
        return tf.identity(result, name=scope)
