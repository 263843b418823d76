"""Joining and splitting: stack/unstack (Pack, Unpack), concat (ConcatV2), split (Split, SplitV).

The gradient of each join is the matching split and back. Python numbers in
`tf.stack` take the dtype of the first tensor, so `tf.stack([tf.shape(x)[0], 10])`
is an int32 vector. Split sizes may hold one -1 (the rest of the dimension).
"""

from __future__ import annotations

import itertools

import numpy as np

from ops import api as tf
from ops.args import has_tensor, plain, static_ints
from ops.common import check_vector, format_values, normalize_axis, partial_values
from ops.registry import REQUIRED, Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_to_tensor, to_numpy
from raygraph.shapes import Dimension, format_shape


class Pack(Op):
    """Stacks tensors of one shape along a new axis: `tf.stack([a, b], axis=0)`."""

    inputs = ("values*",)
    attrs = {"axis": 0}
    same_dtype = ("values",)

    def infer(values, axis):
        if not values:
            raise ValueError("stack needs at least one tensor")
        shape = values[0].shape
        for i, v in enumerate(values[1:], 1):
            if not shape.is_compatible_with(v.shape):
                raise ValueError(
                    f"all inputs must have one shape: input 0 is {format_shape(values[0].shape)}, "
                    f"input {i} is {format_shape(v.shape)}"
                )
            shape = shape.merge_with(v.shape)
        if shape.dims is None:
            return values[0].dtype, None
        rank = shape.ndims + 1
        dims = list(shape.dims)
        dims.insert(normalize_axis(axis, rank), len(values))
        return values[0].dtype, dims

    def kernel(xp, values, axis):
        return xp.stack(values, axis=axis)

    def grad(op, dz):
        return unstack(dz, num=len(op.inputs), axis=op.attrs["axis"])


@api_function("stack")
def stack(values, axis=0, name="stack"):
    """Stacks tensors along a new axis; Python numbers take the first tensor's dtype.

    >>> tf.stack([tf.shape(x)[0], 10])   # an int32 vector [batch, 10]
    """
    values = [plain(v) for v in values]
    hint = next(
        (
            dtypes.as_dtype(v.dtype)
            for v in values
            if hasattr(v, "dtype") and not isinstance(v, np.ndarray | np.generic)
        ),
        None,
    )
    if hint is not None:
        values = [
            v if hasattr(v, "dtype") or has_tensor(v) else to_numpy(v, hint, strict=False) for v in values
        ]
    return build("Pack", [values], {"axis": static_ints(axis, "axis")}, name=name)


class Unpack(Op):
    """Splits a tensor along `axis` into `num` tensors: `tf.unstack(x, axis=0)`."""

    inputs = ("value",)
    attrs = {"num": None, "axis": 0}
    multi_output = True

    def infer(value, num, axis):
        if value.shape.dims is None:
            if num is None:
                raise ValueError("unstack of a tensor of unknown rank needs `num`")
            return [(value.dtype, None)] * num
        rank = value.shape.ndims
        dims = list(value.shape.dims)
        n = dims.pop(normalize_axis(axis, rank))
        if num is None:
            if n is None:
                raise ValueError(f"Cannot infer num from shape {format_shape(value.shape)}")
            num = n
        elif n is not None and n != num:
            raise ValueError(f"num {num} does not match dimension {axis} of size {n}")
        return [(value.dtype, dims)] * num

    def kernel(xp, value, num, axis):
        n = value.shape[axis]
        if num is not None and n != num:
            raise ValueError(f"Input dimension {axis} has size {n}, but unstack expects num={num}")
        return [xp.take(value, i, axis=axis) for i in range(n)]

    def grad(op, *dys):
        return [stack(list(dys), axis=op.attrs["axis"])]


@api_function("unstack")
def unstack(value, num=None, axis=0, name="unstack"):
    """Splits `value` along `axis` into a list of tensors."""
    return build("Unpack", [value], {"num": num, "axis": static_ints(axis, "axis")}, name=name)


class ConcatV2(Op):
    """Joins tensors along an existing `axis`; all other dimensions must match."""

    inputs = ("values*",)
    attrs = {"axis": REQUIRED}
    same_dtype = ("values",)

    def infer(values, axis):
        ranks = {v.shape.ndims for v in values} - {None}
        if len(ranks) > 1:
            shapes = ", ".join(format_shape(v.shape) for v in values)
            raise ValueError(f"all inputs must have one rank, got shapes {shapes}")
        if not ranks:
            return values[0].dtype, None
        rank = ranks.pop()
        if rank == 0:
            raise ValueError("Can't concatenate scalars (use tf.stack instead)")
        axis = normalize_axis(axis, rank)
        return values[0].dtype, _concat_dims(values, axis, rank)

    def kernel(xp, values, axis):
        _check_concat(values, axis)
        return xp.concatenate(values, axis=axis)

    def grad(op, dy):
        axis = op.attrs["axis"]
        values = op.inputs
        if axis < 0:
            rank = dy.shape.ndims
            if rank is None:
                raise ValueError(f"the gradient of {op.name} needs inputs of known rank for axis {axis}")
            axis += rank
        sizes = [v.shape.dims[axis] if v.shape.dims is not None else None for v in values]
        if None in sizes:
            sizes = stack([tf.shape(v)[axis] for v in values])
        return split(dy, sizes, axis=axis, num=len(values))


def _check_concat(values, axis: int) -> None:
    """Raises naming both shapes unless the arrays match in every dimension but `axis`."""
    first = values[0].shape
    if not first:
        raise ValueError("Can't concatenate scalars (use tf.stack instead)")
    axis %= len(first)
    for k, v in enumerate(values[1:], 1):
        if v.ndim != len(first) or any(a != b for i, (a, b) in enumerate(zip(first, v.shape)) if i != axis):
            raise ValueError(
                f"Dimensions of inputs should match except along axis {axis}: input 0 has shape "
                f"{list(first)}, input {k} has shape {list(v.shape)}"
            )


def _concat_dims(values, axis: int, rank: int) -> list:
    dims: list = [None] * rank
    total = 0
    first = None
    for k, v in enumerate(values):
        if v.shape.dims is None:
            total = None
            continue
        first = (k, v) if first is None else first
        for i, d in enumerate(v.shape.dims):
            if i == axis or d is None:
                continue
            if dims[i] is not None and dims[i] != d:
                j, w = first
                raise ValueError(
                    f"Dimension {i} of input {k} {format_shape(v.shape)} does not match input {j} "
                    f"{format_shape(w.shape)}; concat along axis {axis} needs all other dimensions equal"
                )
            dims[i] = d
        d = v.shape.dims[axis]
        total = None if total is None or d is None else total + d
    dims[axis] = total
    return dims


@api_function("concat")
def concat(values, axis, name="concat"):
    """Joins tensors along `axis`: `tf.concat([a, b], -1)`."""
    values = list(values)
    if len(values) == 1:
        return tf.identity(values[0], name=name)
    return build("ConcatV2", [values], {"axis": static_ints(axis, "axis")}, name=name)


class Split(Op):
    """Splits `value` along `axis` into `num_split` equal parts."""

    inputs = ("value",)
    attrs = {"num_split": REQUIRED, "axis": 0}
    multi_output = True

    def infer(value, num_split, axis):
        if num_split < 1:
            raise ValueError(f"num_split must be >= 1, got {num_split}")
        if value.shape.dims is None:
            return [(value.dtype, None)] * num_split
        dims = list(value.shape.dims)
        axis = normalize_axis(axis, len(dims))
        if dims[axis] is not None:
            if dims[axis] % num_split:
                raise ValueError(
                    f"Dimension size must be evenly divisible by {num_split} but is {dims[axis]}"
                )
            dims[axis] //= num_split
        return [(value.dtype, dims)] * num_split

    def kernel(xp, value, num_split, axis):
        n = value.shape[axis]
        if n % num_split:
            raise ValueError(f"Dimension {axis} of size {n} is not evenly divisible by {num_split}")
        size = n // num_split
        return _parts(value, [size * i for i in range(1, num_split)], axis)

    def grad(op, *dys):
        return [concat(list(dys), op.attrs["axis"])]


class SplitV(Op):
    """Splits `value` along `axis` into parts of the given sizes (one may be -1)."""

    inputs = ("value", "size_splits")
    attrs = {"num_split": REQUIRED, "axis": 0}
    multi_output = True

    def infer(value, size_splits, num_split, axis):
        check_vector(size_splits, "size_splits")
        sizes = partial_values(size_splits)
        if sizes is not None and len(sizes) != num_split:
            raise ValueError(f"size_splits has {len(sizes)} entries, but num_split is {num_split}")
        if value.shape.dims is None:
            return [(value.dtype, None)] * num_split
        dims = list(value.shape.dims)
        axis = normalize_axis(axis, len(dims))
        sizes = _split_sizes(dims[axis], sizes or [None] * num_split)
        return [(value.dtype, dims[:axis] + [s] + dims[axis + 1 :]) for s in sizes]

    def kernel(xp, value, size_splits, num_split, axis):
        sizes = _split_sizes(value.shape[axis], size_splits.tolist())
        return _parts(value, itertools.accumulate(sizes[:-1]), axis)

    def grad(op, *dys):
        return [concat(list(dys), op.attrs["axis"]), None]


def _parts(value, cuts, axis: int) -> list:
    """Views of `value` between the `cuts` along `axis` (xp.split without its per-call overhead)."""
    index = [slice(None)] * value.ndim
    parts, start = [], 0
    for stop in (*cuts, value.shape[axis]):
        index[axis] = slice(start, stop)
        parts.append(value[tuple(index)])
        start = stop
    return parts


def _split_sizes(n: int | None, sizes: list) -> list:
    """The sizes of SplitV's parts, with a -1 resolved; raises if they cannot add up to n."""
    if sizes.count(-1) > 1 or any(s is not None and s < -1 for s in sizes):
        raise ValueError(f"size_splits may hold one -1 and otherwise sizes >= 0, got {format_values(sizes)}")
    known = sum(s for s in sizes if s is not None and s >= 0)
    unknown = [i for i, s in enumerate(sizes) if s is None or s == -1]
    if n is None:
        return [None if s == -1 else s for s in sizes]
    if (not unknown and known != n) or known > n:
        raise ValueError(f"can't split axis of size {n} into pieces of size {format_values(sizes)}")
    out = [None if s == -1 else s for s in sizes]
    if len(unknown) == 1:
        out[unknown[0]] = n - known
    return out


@api_function("split")
def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """Splits along `axis`: into N equal parts (an int), or parts of the given sizes.

    >>> a, b = tf.split(x, [1, -1], axis=1)   # the first column and the rest
    """
    axis = static_ints(axis, "axis")
    value = convert_to_tensor(value)
    if value.shape.ndims is not None:
        axis = normalize_axis(axis, value.shape.ndims)
    if isinstance(num_or_size_splits, int | np.integer | Dimension):
        return build("Split", [value], {"num_split": int(num_or_size_splits), "axis": axis}, name=name)
    sizes = convert_to_tensor(num_or_size_splits)
    if sizes.shape.ndims == 0:
        raise ValueError(
            f"Rank-0 tensors are not supported as the num_or_size_splits argument to split, got {sizes.name}"
        )
    if num is None:
        num = sizes.shape.dims[0] if sizes.shape.ndims == 1 else None
        if num is None:
            raise ValueError(f"Cannot infer argument `num` from shape {format_shape(sizes.shape)}")
    return build("SplitV", [value, sizes], {"num_split": int(num), "axis": axis}, name=name)
