"""Shapes and reshaping: Shape, Size, Rank, Reshape, ExpandDims, Squeeze, Transpose, BroadcastTo.

Shape-like arguments (Reshape's shape, BroadcastTo's shape) are input tensors,
as in TensorFlow, so they may be computed at run time (`tf.shape(x)[0]`); shape
functions read what the graph knows of them with `partial_values`, so
`tf.reshape(x, [tf.shape(x)[0], -1])` keeps a static shape as precise as
TensorFlow's. Axes and permutations are static attributes. Kernels return views
(reshapes, transposes, broadcasts) as they are and never mutate their inputs.
"""

from __future__ import annotations

import math

import numpy as np

from ops.args import int_arg, static_ints
from ops.common import check_vector, format_values, normalize_axis, partial_values
from ops.registry import REQUIRED, Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_to_tensor
from raygraph.shapes import TensorShape, format_shape


class Shape(Op):
    """The shape of a tensor as a 1-D int32 (or int64) tensor."""

    inputs = ("input",)
    attrs = {"out_type": dtypes.int32}
    differentiable = False
    cost = "free"

    def infer(input, out_type):  # noqa: A002
        return out_type, [input.shape.ndims]

    def kernel(xp, input, out_type):  # noqa: A002
        return xp.asarray(input.shape, dtype=out_type.np)


class Size(Op):
    """The number of elements of a tensor, as a scalar."""

    inputs = ("input",)
    attrs = {"out_type": dtypes.int32}
    differentiable = False

    def infer(input, out_type):  # noqa: A002
        return out_type, []

    def kernel(xp, input, out_type):  # noqa: A002
        return xp.asarray(input.size, dtype=out_type.np)


class Rank(Op):
    """The number of dimensions of a tensor, as an int32 scalar."""

    inputs = ("input",)
    api = "rank"
    differentiable = False

    def infer(input):  # noqa: A002
        return dtypes.int32, []

    def kernel(xp, input):  # noqa: A002
        return xp.asarray(input.ndim, dtype=xp.int32)


def _index_type(out_type):
    out_type = dtypes.int32 if out_type is None else dtypes.as_dtype(out_type)
    if out_type not in (dtypes.int32, dtypes.int64):
        raise TypeError(f"out_type must be int32 or int64, got {out_type.name}")
    return out_type


@api_function("shape")
def shape(input, name=None, out_type=None):  # noqa: A002
    """The run-time shape of `input`: `tf.shape(x)[0]` is the batch size."""
    return build("Shape", [input], {"out_type": _index_type(out_type)}, name=name)


@api_function("size")
def size(input, name=None, out_type=None):  # noqa: A002
    """The number of elements of `input`: `tf.size(tf.zeros([2, 3]))` is 6."""
    return build("Size", [input], {"out_type": _index_type(out_type)}, name=name)


class Reshape(Op):
    """`tensor` with a new shape of the same size; one entry of `shape` may be -1."""

    inputs = ("tensor", "shape")
    cost = "free"

    def infer(tensor, shape):
        check_vector(shape, "shape")
        values = partial_values(shape)
        if values is None:
            return tensor.dtype, None
        if values.count(-1) > 1 or any(v is not None and v < -1 for v in values):
            raise ValueError(f"shape may hold one -1 and otherwise sizes >= 0, got {format_values(values)}")
        return tensor.dtype, _reshaped(tensor.shape.num_elements(), values)

    def kernel(xp, tensor, shape):
        dims = shape.tolist()
        _check_reshape(tensor.size, dims)
        return xp.reshape(tensor, dims)

    def grad(op, dy):
        return [reshape(dy, shape(op.inputs[0])), None]


def _reshaped(n: int | None, values: list) -> list:
    """Static output dims of a reshape of `n` elements to `values` (-1 or None unknown)."""
    dims = [None if v is None or v == -1 else v for v in values]
    known = math.prod(d for d in dims if d is not None)
    unknown = [i for i, d in enumerate(dims) if d is None]
    if n is None:
        return dims
    if not unknown:
        if known != n:
            raise ValueError(
                f"Cannot reshape a tensor with {n} elements to shape {format_values(values)} "
                f"({known} elements)"
            )
    elif (known == 0 and n != 0) or (known and n % known):
        raise ValueError(
            f"Cannot reshape a tensor with {n} elements to shape {format_values(values)}: "
            f"{n} is not a multiple of {known}"
        )
    elif len(unknown) == 1 and known:
        dims[unknown[0]] = n // known
    return dims


def _check_reshape(n: int, dims: list) -> None:
    known = math.prod(d for d in dims if d != -1)
    if dims.count(-1) > 1 or any(d < -1 for d in dims):
        raise ValueError(f"shape may hold one -1 and otherwise sizes >= 0, got {dims}")
    if -1 in dims and (known == 0 or n % known):
        raise ValueError(f"Input to reshape is a tensor with {n} values, which cannot be reshaped to {dims}")
    if -1 not in dims and known != n:
        raise ValueError(
            f"Input to reshape is a tensor with {n} values, but the requested shape {dims} has {known}"
        )


@api_function("reshape", "manip.reshape")
def reshape(tensor, shape, name=None):
    """`tensor` with a new shape: `tf.reshape(x, [-1, 784])` on [None, 28, 28] is [None, 784]."""
    return build("Reshape", [tensor, int_arg(shape)], name=name)


class ExpandDims(Op):
    """Inserts a dimension of size 1 at `axis`."""

    inputs = ("input",)
    attrs = {"axis": REQUIRED}

    def infer(input, axis):  # noqa: A002
        if input.shape.dims is None:
            return input.dtype, None
        dims = list(input.shape.dims)
        if not -len(dims) - 1 <= axis <= len(dims):
            raise ValueError(f"axis {axis} is not in the interval [{-len(dims) - 1}, {len(dims)}]")
        dims.insert(axis % (len(dims) + 1), 1)
        return input.dtype, dims

    def kernel(xp, input, axis):  # noqa: A002
        return xp.expand_dims(input, axis)

    def grad(op, dy):
        return [reshape(dy, shape(op.inputs[0]))]


@api_function("expand_dims")
def expand_dims(input, axis=None, name=None, dim=None):  # noqa: A002
    """Adds a size-1 dimension: `tf.expand_dims(x, -1)` on [2, 3] is [2, 3, 1]."""
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'axis' and 'dim'")
    axis = dim if axis is None else axis
    if axis is None:
        raise ValueError("Must specify an axis argument to tf.expand_dims()")
    axis = static_ints(axis, "axis")
    if isinstance(axis, list):
        if len(axis) != 1:
            raise ValueError(f"axis must be a single integer, got {axis}")
        axis = axis[0]
    return build("ExpandDims", [input], {"axis": axis}, name=name or "ExpandDims")


class Squeeze(Op):
    """Removes dimensions of size 1 (those in `axis`, or all of them)."""

    inputs = ("input",)
    attrs = {"axis": None}

    def infer(input, axis):  # noqa: A002
        dims = input.shape.dims
        if dims is None:
            return input.dtype, None
        if axis is None:
            if None in dims:
                return input.dtype, None  # which dims go is only known at run time
            return input.dtype, [d for d in dims if d != 1]
        axes = {normalize_axis(a, len(dims)) for a in axis}
        for a in sorted(axes):
            if dims[a] not in (None, 1):
                raise ValueError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {dims[a]}")
        return input.dtype, [d for i, d in enumerate(dims) if i not in axes]

    def kernel(xp, input, axis):  # noqa: A002
        if axis is None:
            return xp.squeeze(input)
        for a in axis:
            if input.shape[a] != 1:
                raise ValueError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {input.shape[a]}")
        return xp.squeeze(input, axis=tuple(axis))

    def grad(op, dy):
        return [reshape(dy, shape(op.inputs[0]))]


@api_function("squeeze")
def squeeze(input, axis=None, name=None, squeeze_dims=None):  # noqa: A002
    """Drops size-1 dimensions: `tf.squeeze(x, [1])` on [2, 1, 3] is [2, 3]."""
    if axis is not None and squeeze_dims is not None:
        raise ValueError("Cannot specify both 'axis' and 'squeeze_dims'")
    axis = squeeze_dims if axis is None else axis
    if axis is not None:
        axis = static_ints(axis, "axis")
        axis = (axis,) if isinstance(axis, int) else tuple(axis) or None  # [] squeezes all
    return build("Squeeze", [input], {"axis": axis}, name=name or "Squeeze")


class Transpose(Op):
    """Permutes dimensions: output dim i is input dim perm[i]; perm None reverses them."""

    inputs = ("x",)
    attrs = {"perm": None}

    def infer(x, perm):
        dims = x.shape.dims
        if perm is None:
            return x.dtype, None if dims is None else dims[::-1]
        if sorted(perm) != list(range(len(perm))):
            raise ValueError(f"perm must be a permutation of 0..{len(perm) - 1}, got {list(perm)}")
        if dims is None:
            return x.dtype, [None] * len(perm)
        if len(perm) != len(dims):
            raise ValueError(f"perm {list(perm)} has {len(perm)} entries for a tensor of rank {len(dims)}")
        return x.dtype, [dims[p] for p in perm]

    def kernel(xp, x, perm):
        return xp.transpose(x, perm)

    def grad(op, dy):
        perm = op.attrs["perm"]
        inverse = None if perm is None else tuple(int(i) for i in np.argsort(perm))
        return [build("Transpose", [dy], {"perm": inverse})]


@api_function("transpose")
def transpose(a, perm=None, name="transpose", conjugate=False):
    """Permutes dimensions: `tf.transpose(x, [1, 0])`; with no perm, reverses them."""
    a = convert_to_tensor(a)
    if perm is None and a.shape.ndims is not None:
        perm = list(range(a.shape.ndims))[::-1]
    perm = None if perm is None else tuple(static_ints(perm, "perm"))
    return build("Transpose", [a], {"perm": perm}, name=name)


@api_function("matrix_transpose", "linalg.transpose", "linalg.matrix_transpose")
def matrix_transpose(a, name="matrix_transpose", conjugate=False):
    """Swaps the last two dimensions: [B, M, N] becomes [B, N, M]."""
    a = convert_to_tensor(a)
    rank = a.shape.ndims
    if rank is None:
        raise ValueError(f"matrix_transpose needs a tensor of known rank, got {a.name} of unknown shape")
    if rank < 2:
        raise ValueError(f"matrix_transpose needs a tensor of rank >= 2, got shape {format_shape(a.shape)}")
    return build("Transpose", [a], {"perm": tuple(range(rank - 2)) + (rank - 1, rank - 2)}, name=name)


class BroadcastTo(Op):
    """`input` broadcast numpy-style to `shape`."""

    inputs = ("input", "shape")
    broadcasts = True

    def infer(input, shape):  # noqa: A002
        check_vector(shape, "shape")
        values = partial_values(shape)
        if values is None:
            return input.dtype, None
        if input.shape.dims is None:
            return input.dtype, [None if v is None or v < 0 else v for v in values]
        return input.dtype, _broadcast_to_shape(input.shape, values)

    def kernel(xp, input, shape):  # noqa: A002
        target = tuple(shape.tolist())
        try:
            return xp.broadcast_to(input, target)
        except ValueError:
            raise ValueError(
                f"Unable to broadcast a tensor of shape {list(input.shape)} to shape {list(target)}"
            ) from None

    def grad(op, dy):
        return [dy, None]  # the gradient driver sums dy back to the input's shape


@api_function("broadcast_to")
def broadcast_to(input, shape, name=None):  # noqa: A002
    """`input` broadcast to `shape`: `tf.broadcast_to([1, 2], [3, 2])`."""
    return build("BroadcastTo", [input, int_arg(shape)], name=name or "BroadcastTo")


def _broadcast_to_shape(shape: TensorShape, values: list) -> list:
    dims = list(shape.dims)
    if len(dims) > len(values):
        raise ValueError(
            f"Cannot broadcast a tensor of shape {format_shape(shape)} to a shape of rank {len(values)}"
        )
    out = [None if v is None or v < 0 else v for v in values]
    lead = len(values) - len(dims)
    for i, d in enumerate(dims):
        t = out[lead + i]
        if d is None or d == 1:
            continue
        if t is None:
            out[lead + i] = d
        elif t != d:
            raise ValueError(
                f"Cannot broadcast a tensor of shape {format_shape(shape)} to shape "
                f"{format_values(values)}: dimensions {d} and {t} differ"
            )
    return out
