"""Helpers shared by the op families' shape functions and kernels.

Shape functions work on static shapes (`TensorShape`, None for unknown dims) and
on constant values known at graph construction (`constant_value`), so that an op
like Reshape gets a precise output shape when its shape argument is a constant.
Shape-like inputs (Reshape's shape, Fill's dims, Slice's begin) are read element
by element with `partial_values`: `[tf.shape(x)[0], 3]` is known to end in 3.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from raygraph.shapes import TensorShape, format_shape, unknown_shape

_KINDS = {
    "float": lambda d: d.is_floating,
    "int": lambda d: d.is_integer,
    "numeric": lambda d: d.is_numeric,
    "bool": lambda d: d.is_bool,
    "any": lambda d: True,
    "real_or_bool": lambda d: d.is_numeric or d.is_bool,
}


def check_dtype(tensor, kind: str, what: str = "input") -> None:
    """Raises TypeError unless `tensor`'s dtype is of `kind` (float, int, numeric, bool)."""
    if not _KINDS[kind](tensor.dtype):
        raise TypeError(f"{what} {tensor.name!r} must be {kind}, got {tensor.dtype.name}")


def broadcast_shape(a: TensorShape, b: TensorShape) -> TensorShape:
    """numpy broadcasting on static shapes; unknown dims stay unknown where ambiguous."""
    if a.dims is None or b.dims is None:
        return unknown_shape()
    x, y = list(a.dims), list(b.dims)
    n = max(len(x), len(y))
    x = [1] * (n - len(x)) + x
    y = [1] * (n - len(y)) + y
    out = []
    for p, q in zip(x, y):
        if p == 1:
            out.append(q)
        elif q == 1:
            out.append(p)
        elif p is None:
            out.append(q)
        elif q is None or p == q:
            out.append(p)
        else:
            raise ValueError(f"Incompatible shapes for broadcasting: {format_shape(a)} and {format_shape(b)}")
    return TensorShape(out)


def constant_value(tensor) -> np.ndarray | None:
    """The value of `tensor` if graph construction can know it, else None."""
    op = tensor.op
    if op.type == "Const":
        return op.attrs["value"]
    if op.type == "Shape" and op.inputs[0].shape.is_fully_defined():
        return np.array(op.inputs[0].shape.as_list(), dtype=tensor.dtype.np)
    if op.type == "Size" and op.inputs[0].shape.is_fully_defined():
        return np.array(op.inputs[0].shape.num_elements(), dtype=tensor.dtype.np)
    if op.type == "Rank" and op.inputs[0].shape.ndims is not None:
        return np.array(op.inputs[0].shape.ndims, dtype=tensor.dtype.np)
    if op.type == "Pack":
        values = [constant_value(t) for t in op.inputs]
        if all(v is not None for v in values):
            return np.stack(values, axis=op.attrs["axis"])
    if op.type in ("Identity", "StopGradient"):
        return constant_value(op.inputs[0])
    if op.type == "Cast":
        value = constant_value(op.inputs[0])
        return None if value is None else value.astype(op.attrs["DstT"].np)
    return None


def partial_shape_value(tensor) -> TensorShape:
    """What is known of a 1-D shape tensor's value, as a TensorShape (reshape, fill).

    Entries that are unknown (or -1) become None; `tf.stack([tf.shape(x)[0], 10])`
    gives [None, 10].
    """
    value = constant_value(tensor)
    if value is not None:
        return TensorShape([int(d) if d >= 0 else None for d in np.reshape(value, [-1])])
    op = tensor.op
    if op.type == "Pack" and op.attrs["axis"] == 0:
        dims = []
        for t in op.inputs:
            v = constant_value(t)
            dims.append(int(v) if v is not None and int(v) >= 0 else None)
        return TensorShape(dims)
    if op.type == "Shape":
        return op.inputs[0].shape
    n = tensor.shape.dims[0] if tensor.shape.ndims == 1 else None
    return unknown_shape(n)


def normalize_axis(axis: int, rank: int | None, op_name: str = "axis") -> int:
    """A non-negative axis, checked against the rank when the rank is known."""
    axis = int(axis)
    if rank is None:
        return axis
    if not -rank <= axis < rank:
        raise ValueError(f"{op_name} {axis} is out of range for a tensor of rank {rank}")
    return axis % rank


def reduction_axes(axis, rank: int | None) -> tuple[int, ...] | None:
    """Axes of a reduction as a sorted tuple; None means all axes."""
    if axis is None:
        return None
    axes = [axis] if np.ndim(axis) == 0 else list(np.reshape(axis, [-1]))
    if rank is None:
        return tuple(int(a) for a in axes)
    return tuple(sorted({normalize_axis(a, rank) for a in axes}))


def reduced_shape(shape: TensorShape, axis, keepdims: bool) -> TensorShape:
    if shape.dims is None:
        return unknown_shape()
    axes = reduction_axes(axis, shape.ndims)
    if axes is None:
        axes = tuple(range(shape.ndims))
    if keepdims:
        return TensorShape([1 if i in axes else d for i, d in enumerate(shape.dims)])
    return TensorShape([d for i, d in enumerate(shape.dims) if i not in axes])


def same(x):
    """Shape function of an elementwise unary op: the input's dtype and shape."""
    return x.dtype, x.shape


def partial_values(tensor) -> list | None:
    """The elements of a 1-D integer tensor known at construction (None where not).

    None when even the length is unknown. `tf.stack([tf.shape(x)[0], -1])`
    gives [None, -1].
    """
    value = constant_value(tensor)
    if value is not None:
        return [int(v) for v in np.reshape(value, [-1])]
    op = tensor.op
    if op.type == "Pack" and op.attrs["axis"] == 0 and all(t.shape.ndims == 0 for t in op.inputs):
        return [scalar_value(t) for t in op.inputs]
    if op.type == "Shape" and op.inputs[0].shape.dims is not None:
        return list(op.inputs[0].shape.dims)
    if tensor.shape.ndims == 1 and tensor.shape.dims[0] is not None:
        return [None] * tensor.shape.dims[0]
    return None


def scalar_value(tensor) -> int | None:
    """The value of a scalar integer tensor if known at construction, else None."""
    value = constant_value(tensor)
    return None if value is None else int(value)


def format_values(values) -> str:
    """[2, ?, 3] for partial values [2, None, 3]."""
    return "[" + ", ".join("?" if v is None else str(v) for v in values) + "]"


def check_vector(tensor, what: str) -> None:
    """Raises unless `tensor` is an integer vector (a shape, begin, multiples...)."""
    check_dtype(tensor, "int", what)
    if tensor.shape.ndims not in (None, 1):
        raise ValueError(f"{what} must be a vector, got shape {format_shape(tensor.shape)}")


def check_scalar(tensor, what: str, kind: str | None = None) -> None:
    """Raises unless `tensor` is a scalar (of `kind`, if given)."""
    if kind is not None:
        check_dtype(tensor, kind, what)
    if tensor.shape.ndims not in (None, 0):
        raise ValueError(f"{what} must be a scalar, got shape {format_shape(tensor.shape)}")


def dims_of(x) -> list:
    """x's dimensions as ints where known, else scalar tensors `tf.shape(x)[i]` (for gradients)."""
    dims = x.shape.dims
    if dims is None:
        raise ValueError(f"the rank of {x.name} must be known")
    shape = None
    out = []
    for i, d in enumerate(dims):
        if d is None:
            shape = tf.shape(x) if shape is None else shape
            d = shape[i]
        out.append(d)
    return out
