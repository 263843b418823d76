"""Gathering and scattering: gather (GatherV2), gather_nd, scatter_nd, unsorted_segment_sum, boolean_mask.

Indices are checked when the kernel runs: an index out of range raises an
IndexError naming its position and value, which the executor reports as
InvalidArgumentError naming the node. A gather's gradient is a segment sum into
the gathered dimension; gather_nd and scatter_nd are each other's gradients.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops.args import int_arg, static_ints
from ops.common import (
    check_dtype,
    check_scalar,
    check_vector,
    dims_of,
    normalize_axis,
    partial_shape_value,
    scalar_value,
)
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, format_shape


class GatherV2(Op):
    """Slices of `params` along `axis` at `indices`: out = params[..., indices, ...]."""

    inputs = ("params", "indices")
    attrs = {"axis": 0, "batch_dims": 0}

    def infer(params, indices, axis, batch_dims):
        check_dtype(indices, "int", "indices")
        if batch_dims != 0:
            raise NotImplementedError("gather with batch_dims != 0 is not supported")
        if params.shape.dims is None or indices.shape.dims is None:
            return params.dtype, None
        dims = list(params.shape.dims)
        axis = normalize_axis(axis, len(dims))
        return params.dtype, dims[:axis] + list(indices.shape.dims) + dims[axis + 1 :]

    def kernel(xp, params, indices, axis, batch_dims):
        _check_indices(xp, indices, params.shape[axis], "indices")
        return xp.take(params, indices, axis=axis)

    def grad(op, dy):
        params, indices = op.inputs
        axis = op.attrs["axis"]
        n = params.shape.dims[axis] if params.shape.dims is not None else None
        n = tf.shape(params)[axis] if n is None else n
        if axis == 0:
            return [tf.unsorted_segment_sum(dy, indices, n), None]
        return [_gather_grad_along(dy, params, indices, axis, n), None]


def _gather_grad_along(dy, params, indices, axis, n):
    """Gather's gradient for axis > 0: move the index dims first, segment-sum, move back."""
    r, q = params.shape.ndims, indices.shape.ndims
    if r is None or q is None or axis < 0:
        raise ValueError(f"the gradient of gather along axis {axis} needs params and indices of known rank")
    front = list(range(axis, axis + q)) + list(range(axis)) + list(range(axis + q, r + q - 1))
    summed = tf.unsorted_segment_sum(tf.transpose(dy, front), indices, n)
    back = list(range(1, axis + 1)) + [0] + list(range(axis + 1, r))
    return tf.transpose(summed, back)


def _check_indices(xp, indices, n: int, what: str) -> None:
    """Raises IndexError naming the first index outside [0, n)."""
    if indices.size == 0:
        return
    bad = (indices < 0) | (indices >= n)
    if bool(bad.any()):
        position = np.unravel_index(int(xp.argmax(bad.reshape(-1))), indices.shape)
        where = ",".join(str(int(p)) for p in position)
        raise IndexError(f"{what}[{where}] = {int(indices[position])} is not in [0, {n})")


@api_function("gather")
def gather(params, indices, validate_indices=None, name=None, axis=None, batch_dims=0):
    """Rows (or slices along `axis`) of `params`: `tf.gather(embeddings, ids)`.

    Out-of-range indices raise InvalidArgumentError when the graph runs.
    """
    params = convert_to_tensor(params)
    axis = batch_dims if axis is None else static_ints(axis, "axis")
    if params.shape.ndims is not None:
        axis = normalize_axis(axis, params.shape.ndims)
    return build(
        "GatherV2", [params, indices], {"axis": axis, "batch_dims": batch_dims}, name=name or "GatherV2"
    )


class UnsortedSegmentSum(Op):
    """out[j] = the sum of data[i] over the i with segment_ids[i] == j (negative ids dropped)."""

    inputs = ("data", "segment_ids", "num_segments")
    api = ("unsorted_segment_sum", "math.unsorted_segment_sum")

    def infer(data, segment_ids, num_segments):
        check_dtype(data, "numeric", "data")
        check_dtype(segment_ids, "int", "segment_ids")
        check_scalar(num_segments, "num_segments", "int")
        ids, d = segment_ids.shape, data.shape
        if ids.dims is not None and d.dims is not None and not d[: ids.ndims].is_compatible_with(ids):
            raise ValueError(
                f"segment_ids shape {format_shape(ids)} must be a prefix of data shape {format_shape(d)}"
            )
        if ids.dims is None or d.dims is None:
            return data.dtype, None
        return data.dtype, [scalar_value(num_segments)] + list(d.dims[ids.ndims :])

    def kernel(xp, data, segment_ids, num_segments):
        n = int(num_segments)
        out = xp.zeros((n,) + data.shape[segment_ids.ndim :], dtype=data.dtype)
        if segment_ids.size and int(segment_ids.max()) >= n:
            position = np.unravel_index(int(xp.argmax(segment_ids.reshape(-1))), segment_ids.shape)
            where = ",".join(str(int(p)) for p in position)
            raise IndexError(f"segment_ids[{where}] = {int(segment_ids[position])} is out of range [0, {n})")
        ids = segment_ids.reshape(-1)
        rows = data.reshape((ids.size, -1))
        keep = ids >= 0
        if not bool(keep.all()):
            ids, rows = ids[keep], rows[keep]
        # Each id's first row is assigned, the repeats added in order: the sums of add.at
        # (the same order), a few times faster when most ids are distinct (an embedding's).
        _, first = xp.unique(ids, return_index=True)
        flat = out.reshape((n, -1))
        flat[ids[first]] = rows[first]
        if first.size < ids.size:
            repeat = xp.ones(ids.size, dtype=bool)
            repeat[first] = False
            xp.add.at(flat, ids[repeat], rows[repeat])
        return out

    def grad(op, dy):
        data, ids = op.inputs[:2]
        # data[i] gets dy[ids[i]], or 0 where ids[i] < 0 (dropped in the forward pass).
        kept = tf.greater(ids, -1)
        gathered = gather(dy, tf.cast(kept, ids.dtype) * ids)
        extra = (
            None
            if data.shape.ndims is None or ids.shape.ndims is None
            else data.shape.ndims - ids.shape.ndims
        )
        if extra is None:
            mask = tf.reshape(
                kept, tf.concat([tf.shape(ids), tf.ones(tf.rank(data) - tf.rank(ids), dtypes.int32)], 0)
            )
        else:
            mask = tf.reshape(kept, dims_of(ids) + [1] * extra)
        return [gathered * tf.cast(mask, dy.dtype), None, None]


class GatherNd(Op):
    """Slices of `params` at the index vectors in the last dimension of `indices`."""

    inputs = ("params", "indices")

    def infer(params, indices):
        check_dtype(indices, "int", "indices")
        if indices.shape.dims is None or params.shape.dims is None or indices.shape.dims[-1:] == (None,):
            return params.dtype, None
        if indices.shape.ndims == 0:
            raise ValueError("indices must have rank >= 1")
        k = indices.shape.dims[-1]
        if k > params.shape.ndims:
            raise ValueError(
                f"index vectors of length {k} are too long for params of shape {format_shape(params.shape)}"
            )
        return params.dtype, list(indices.shape.dims[:-1]) + list(params.shape.dims[k:])

    def kernel(xp, params, indices):
        if indices.shape[-1] == 0:
            return xp.broadcast_to(params, indices.shape[:-1] + params.shape)
        return params[_nd_index(xp, indices, params.shape)]

    def grad(op, dy):
        params, indices = op.inputs
        return [build("ScatterNd", [indices, dy, tf.shape(params, out_type=indices.dtype)]), None]


@api_function("gather_nd", "manip.gather_nd")
def gather_nd(params, indices, name=None, batch_dims=0):
    """Slices at index vectors: `tf.gather_nd(x, [[0, 1], [2, 0]])` is [x[0, 1], x[2, 0]]."""
    if batch_dims != 0:
        raise NotImplementedError("gather_nd with batch_dims != 0 is not supported")
    return build("GatherNd", [params, indices], name=name or "GatherNd")


def _nd_index(xp, indices, shape) -> tuple:
    """The index vectors in indices' last dimension as a numpy index tuple (checked)."""
    k = indices.shape[-1]
    if k > len(shape):
        raise ValueError(f"index vectors of length {k} are too long for a tensor of shape {list(shape)}")
    bounds = xp.asarray(shape[:k])
    bad = ((indices < 0) | (indices >= bounds)).any(axis=-1)
    if bool(bad.any()):
        position = np.unravel_index(int(xp.argmax(bad.reshape(-1))), bad.shape)
        where = ",".join(str(int(p)) for p in position)
        raise IndexError(
            f"indices[{where}] = {indices[position].tolist()} does not index into shape {list(shape)}"
        )
    return tuple(indices[..., j] for j in range(k))


class ScatterNd(Op):
    """Zeros of `shape` with `updates` added at the index vectors in `indices`."""

    inputs = ("indices", "updates", "shape")

    def infer(indices, updates, shape):
        check_dtype(indices, "int", "indices")
        check_vector(shape, "shape")
        return updates.dtype, partial_shape_value(shape)

    def kernel(xp, indices, updates, shape):
        out = xp.zeros(shape.tolist(), dtype=updates.dtype)
        if indices.shape[-1] == 0:
            return out + xp.sum(xp.reshape(updates, (-1,) + out.shape), axis=0, dtype=out.dtype)
        xp.add.at(out, _nd_index(xp, indices, out.shape), updates)
        return out

    def grad(op, dy):
        indices = op.inputs[0]
        return [None, build("GatherNd", [dy, indices]), None]


@api_function("scatter_nd")
def scatter_nd(indices, updates, shape, name=None):
    """Zeros of `shape` with `updates` summed in at `indices`: the inverse of gather_nd."""
    return build("ScatterNd", [indices, updates, int_arg(shape)], name=name or "ScatterNd")


@api_function("boolean_mask")
def boolean_mask(tensor, mask, name="boolean_mask", axis=None):
    """The entries of `tensor` where `mask` is True: `tf.boolean_mask(x, x > 0)`.

    `mask` covers dimensions axis..axis+k of `tensor`; the result has those k
    dimensions replaced by one of unknown size.
    """
    with name_scope(name) as scope:
        tensor = convert_to_tensor(tensor, name="tensor")
        mask = convert_to_tensor(mask, name="mask")
        k = mask.shape.ndims
        if k is None:
            raise ValueError("Number of mask dimensions must be specified, even if some dimensions are None")
        if k == 0:
            raise ValueError("mask cannot be scalar.")
        axis = 0 if axis is None else static_ints(axis, "axis")
        dims = tensor.shape.dims
        if dims is None:
            raise ValueError("boolean_mask needs a tensor of known rank")
        axis = normalize_axis(axis, len(dims))
        covered = TensorShape(dims[axis : axis + k])
        if len(covered) != k or not covered.is_compatible_with(mask.shape):
            raise ValueError(
                f"mask of shape {format_shape(mask.shape)} does not match dimensions {axis}..{axis + k - 1} "
                f"of tensor of shape {format_shape(tensor.shape)}"
            )
        if k > 1:
            known = dims_of(tensor)
            tensor = tf.reshape(tensor, known[:axis] + [-1] + known[axis + k :])
            mask = tf.reshape(mask, [-1])
        indices = tf.squeeze(build("Where", [mask]), axis=[1])
        return build("GatherV2", [tensor, indices], {"axis": axis, "batch_dims": 0}, name=scope)
