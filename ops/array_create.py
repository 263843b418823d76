"""Tensors made from a shape or a few scalars: fill, zeros/ones, range, linspace, one_hot, sequence_mask, meshgrid.

`tf.zeros` and `tf.ones` of a small static shape become constants, as in
TensorFlow; otherwise, and for shapes computed at run time, a Fill op. The
*_like ops keep their input's shape and dtype. Range's length is computed in
its inputs' dtype, as TensorFlow does, so a float range has TensorFlow's length.
"""

from __future__ import annotations

import builtins

import numpy as np

from ops import api as tf
from ops.args import int_arg, static_ints
from ops.common import (
    broadcast_shape,
    check_dtype,
    check_scalar,
    check_vector,
    constant_value,
    format_values,
    normalize_axis,
    partial_values,
    same,
    scalar_value,
)
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import Tensor, convert_to_tensor, name_scope
from raygraph.shapes import Dimension, TensorShape, format_shape


class Fill(Op):
    """A tensor of shape `dims` filled with the scalar `value`."""

    inputs = ("dims", "value")

    def infer(dims, value):
        check_vector(dims, "dims")
        check_scalar(value, "value")
        values = partial_values(dims)
        if values is not None and any(v is not None and v < 0 for v in values):
            raise ValueError(f"Fill dimensions must be >= 0, got {format_values(values)}")
        return value.dtype, None if values is None else values

    def kernel(xp, dims, value):
        dims = dims.tolist()
        if any(d < 0 for d in dims):
            raise ValueError(f"Fill dimensions must be >= 0, got {dims}")
        out = xp.empty(dims, dtype=value.dtype)
        out[...] = value
        return out

    def grad(op, dy):
        return [None, tf.reduce_sum(dy)]


@api_function("fill")
def fill(dims, value, name=None, layout=None):
    """A tensor of shape `dims` filled with `value`: `tf.fill([2, 3], 9)`."""
    return build("Fill", [int_arg(dims), value], name=name or "Fill")


_SMALL_CONSTANT = 1000  # zeros/ones of fewer elements become constants, as in TF


def _filled(shape, dtype, fill: int, name: str):
    dtype = dtypes.as_dtype(dtype)
    static = _static_shape(shape)
    if static is not None and int(np.prod(static)) < _SMALL_CONSTANT:
        return tf.constant(np.full(static, fill, dtype.np), name=name)
    with name_scope(name) as scope:
        value = tf.constant(np.array(fill, dtype.np), name="value")
        return build("Fill", [int_arg(shape if static is None else static), value], name=scope)


def _static_shape(shape) -> list | None:
    """A shape argument as a list of ints if it is known now, else None."""
    if isinstance(shape, TensorShape):
        if not shape.is_fully_defined():
            raise ValueError(f"shape {format_shape(shape)} must be fully defined")
        return shape.as_list()
    if isinstance(shape, Tensor):
        value = constant_value(shape)
        return None if value is None else [int(d) for d in np.reshape(value, [-1])]
    if isinstance(shape, list | tuple):
        if all(isinstance(d, int | np.integer | Dimension) for d in shape):
            return [int(d) for d in shape]
        return None
    return [int(d) for d in np.reshape(shape, [-1])]


@api_function("zeros")
def zeros(shape, dtype=dtypes.float32, name=None, layout=None):
    """A tensor of zeros: `tf.zeros([tf.shape(x)[0], 3])` has static shape [None, 3]."""
    return _filled(shape, dtype, 0, name or "zeros")


@api_function("ones")
def ones(shape, dtype=dtypes.float32, name=None, layout=None):
    """A tensor of ones: `tf.ones([2, 3], tf.int32)`."""
    return _filled(shape, dtype, 1, name or "ones")


class ZerosLike(Op):
    """Zeros with the shape and dtype of x."""

    inputs = ("x",)
    differentiable = False

    def infer(x):
        return same(x)

    def kernel(xp, x):
        return xp.zeros_like(x)


class OnesLike(Op):
    """Ones with the shape and dtype of x."""

    inputs = ("x",)
    differentiable = False

    def infer(x):
        return same(x)

    def kernel(xp, x):
        return xp.ones_like(x)


def _like(op_type, tensor, dtype, fill, name):
    tensor = convert_to_tensor(tensor)
    if dtype is None or dtypes.as_dtype(dtype) == tensor.dtype:
        return build(op_type, [tensor], name=name)
    target = tensor.shape.as_list() if tensor.shape.is_fully_defined() else tf.shape(tensor)
    return _filled(target, dtype, fill, name)


@api_function("zeros_like")
def zeros_like(tensor, dtype=None, name=None, optimize=True):
    """Zeros with the shape of `tensor` (and its dtype unless `dtype` is given)."""
    return _like("ZerosLike", tensor, dtype, 0, name or "zeros_like")


@api_function("ones_like")
def ones_like(tensor, dtype=None, name=None, optimize=True):
    """Ones with the shape of `tensor` (and its dtype unless `dtype` is given)."""
    return _like("OnesLike", tensor, dtype, 1, name or "ones_like")


class Range(Op):
    """[start, start + delta, ...) up to but excluding `limit`."""

    inputs = ("start", "limit", "delta")
    same_dtype = ("start", "limit", "delta")
    differentiable = False

    def infer(start, limit, delta):
        for t, what in ((start, "start"), (limit, "limit"), (delta, "delta")):
            check_scalar(t, what, "numeric")
        values = [constant_value(t) for t in (start, limit, delta)]
        if any(v is None for v in values):
            return start.dtype, [None]
        return start.dtype, [_range_size(*values)]

    def kernel(xp, start, limit, delta):
        n = _range_size(*(start.dtype.type(v.item()) for v in (start, limit, delta)))
        return start + xp.arange(n).astype(start.dtype) * delta


def _range_size(start, limit, delta) -> int:
    """The length of Range, computed in the inputs' dtype as TensorFlow does."""
    if delta == 0:
        raise ValueError("Requires delta != 0")
    if delta > 0 and start > limit:
        raise ValueError(f"Requires start <= limit when delta > 0: {start}/{limit}")
    if delta < 0 and start < limit:
        raise ValueError(f"Requires start >= limit when delta < 0: {start}/{limit}")
    if np.asarray(start).dtype.kind in "iu":
        return int((abs(int(limit) - int(start)) + abs(int(delta)) - 1) // abs(int(delta)))
    return int(np.ceil(np.abs((limit - start) / delta)))


_RANGE_DTYPES = [dtypes.int32, dtypes.int64, dtypes.float16, dtypes.float32, dtypes.float64]


@api_function("range")
def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001 - TF's name
    """`tf.range(5)` is [0, 1, 2, 3, 4]; `tf.range(1, 2, 0.25)` is float32.

    Without `dtype`, the widest of the arguments' dtypes in the order int32, int64,
    float16, float32, float64, as in TensorFlow.
    """
    if limit is None:
        start, limit = 0, start
    with name_scope(name) as scope:
        args = [
            convert_to_tensor(v, dtype=None if isinstance(v, Tensor) else dtype, name=n)
            for v, n in ((start, "start"), (limit, "limit"), (delta, "delta"))
        ]
        if dtype is None:
            for t in args:
                if t.dtype not in _RANGE_DTYPES:
                    raise TypeError(f"range does not support {t.dtype.name} ({t.name})")
            target = max((t.dtype for t in args), key=_RANGE_DTYPES.index)
        else:
            target = dtypes.as_dtype(dtype)
        args = [tf.cast(t, target) for t in args]
        return build("Range", args, name=scope)


class LinSpace(Op):
    """`num` evenly spaced values from `start` to `stop` inclusive, along `axis`."""

    inputs = ("start", "stop", "num")
    attrs = {"axis": 0}
    same_dtype = ("start", "stop")
    broadcasts = True

    def infer(start, stop, num, axis):
        check_dtype(start, "float", "start")
        check_scalar(num, "num", "int")
        base = broadcast_shape(start.shape, stop.shape)
        if base.dims is None:
            return start.dtype, None
        dims = list(base.dims)
        dims.insert(normalize_axis(axis, len(dims) + 1), scalar_value(num))
        return start.dtype, dims

    def kernel(xp, start, stop, num, axis):
        num = int(num)
        if num < 0:
            raise ValueError(f"num must be >= 0, got {num}")
        return xp.linspace(start, stop, num, axis=axis).astype(start.dtype, copy=False)

    def grad(op, dy):
        out = op.outputs[0]
        if out.shape.ndims is None:
            raise ValueError(f"the gradient of {op.name} needs an output of known rank")
        axis = normalize_axis(op.attrs["axis"], out.shape.ndims)
        one = tf.constant(np.array(1, out.dtype.np))
        weights = build("LinSpace", [tf.constant(np.array(0, out.dtype.np)), one, op.inputs[2]])
        weights = tf.reshape(weights, [-1] + [1] * (out.shape.ndims - axis - 1))
        return [tf.reduce_sum(dy * (one - weights), axis=axis), tf.reduce_sum(dy * weights, axis=axis), None]


@api_function("linspace", "lin_space")
def linspace(start, stop, num, name=None, axis=0):
    """`tf.linspace(0., 1., 5)` is [0, 0.25, 0.5, 0.75, 1]; integer bounds give float64."""
    start = convert_to_tensor(start)
    stop = convert_to_tensor(stop, preferred_dtype=start.dtype)
    if not start.dtype.is_floating:
        start, stop = tf.cast(start, dtypes.float64), tf.cast(stop, dtypes.float64)
    return build("LinSpace", [start, stop, num], {"axis": static_ints(axis, "axis")}, name=name or "LinSpace")


class OneHot(Op):
    """`on_value` where `indices` equals the position along the new `axis`, else `off_value`."""

    inputs = ("indices", "depth", "on_value", "off_value")
    attrs = {"axis": -1}
    same_dtype = ("on_value", "off_value")
    differentiable = False

    def infer(indices, depth, on_value, off_value, axis):
        check_dtype(indices, "int", "indices")
        check_scalar(depth, "depth", "int")
        check_scalar(on_value, "on_value")
        check_scalar(off_value, "off_value")
        if indices.shape.dims is None:
            return on_value.dtype, None
        rank = indices.shape.ndims
        if not -1 <= axis <= rank:
            raise ValueError(f"axis must be in [-1, {rank}], got {axis}")
        depth_value = scalar_value(depth)
        if depth_value is not None and depth_value < 0:
            raise ValueError(f"depth must be non-negative, got {depth_value}")
        dims = list(indices.shape.dims)
        dims.insert(rank if axis == -1 else axis, depth_value)
        return on_value.dtype, dims

    def kernel(xp, indices, depth, on_value, off_value, axis):
        depth = int(depth)
        if depth < 0:
            raise ValueError(f"depth must be non-negative, got {depth}")
        hot = xp.expand_dims(indices.astype(xp.int64), -1) == xp.arange(depth)
        if axis != -1:
            hot = xp.moveaxis(hot, -1, axis)
        return xp.where(hot, on_value, off_value).astype(on_value.dtype, copy=False)


@api_function("one_hot")
def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """One-hot vectors: `tf.one_hot([0, 2], 3)` is [[1, 0, 0], [0, 0, 1]] (float32).

    The dtype is `dtype`, else that of `on_value` or `off_value`, else float32.
    """
    dtype = None if dtype is None else dtypes.as_dtype(dtype)
    with name_scope(name, "one_hot") as scope:
        on = None if on_value is None else convert_to_tensor(on_value, preferred_dtype=dtype, name="on_value")
        off = (
            None
            if off_value is None
            else convert_to_tensor(off_value, preferred_dtype=dtype, name="off_value")
        )
        given = [t for t in (on, off) if t is not None]
        for t, what in zip((on, off), ("on_value", "off_value")):
            if t is not None and dtype is not None and t.dtype != dtype:
                raise TypeError(f"dtype {t.dtype.name} of {what} does not match dtype parameter {dtype.name}")
        dtype = dtype or (given[0].dtype if given else dtypes.float32)
        on = on if on is not None else tf.constant(np.array(1, dtype.np), name="on_value")
        off = off if off is not None else tf.constant(np.array(0, dtype.np), name="off_value")
        if on.dtype != off.dtype:
            raise TypeError(
                f"dtype {on.dtype.name} of on_value does not match dtype {off.dtype.name} of off_value"
            )
        axis = -1 if axis is None else static_ints(axis, "axis")
        return build("OneHot", [indices, depth, on, off], {"axis": axis}, name=scope)


class SequenceMask(Op):
    """mask[..., j] = j < lengths[...], for j in [0, maxlen); maxlen < 0 means max(lengths)."""

    inputs = ("lengths", "maxlen")
    attrs = {"dtype": dtypes.bool}
    differentiable = False

    def infer(lengths, maxlen, dtype):
        check_dtype(lengths, "int", "lengths")
        check_scalar(maxlen, "maxlen", "int")
        n = scalar_value(maxlen)
        return dtype, lengths.shape.concatenate([None if n is None or n < 0 else n])

    def kernel(xp, lengths, maxlen, dtype):
        n = int(maxlen)
        if n < 0:
            n = max(int(lengths.max()), 0) if lengths.size else 0
        return (xp.arange(n) < xp.expand_dims(lengths, -1)).astype(dtype.np)


@api_function("sequence_mask")
def sequence_mask(lengths, maxlen=None, dtype=dtypes.bool, name=None):
    """`tf.sequence_mask([1, 3], 4)` is [[T, F, F, F], [T, T, T, F]]."""
    lengths = convert_to_tensor(lengths)
    if maxlen is None:
        known = constant_value(lengths)
        maxlen = -1 if known is None else max(int(np.max(known, initial=0)), 0)
    elif not isinstance(maxlen, Tensor) and int(maxlen) < 0:
        raise ValueError(f"maxlen must be non-negative, got {maxlen}")
    return build(
        "SequenceMask", [lengths, maxlen], {"dtype": dtypes.as_dtype(dtype)}, name=name or "SequenceMask"
    )


@api_function("meshgrid")
def meshgrid(*args, **kwargs):
    """Coordinate grids from 1-D tensors: `X, Y = tf.meshgrid(x, y)`.

    `indexing="xy"` (default) gives outputs of shape [len(y), len(x)], "ij" gives
    [len(x), len(y)], as numpy.meshgrid.
    """
    indexing = kwargs.pop("indexing", "xy")
    name = kwargs.pop("name", "meshgrid")
    if kwargs:
        raise TypeError(f"meshgrid got unexpected keyword arguments {sorted(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"indexing parameter must be either 'xy' or 'ij', got {indexing!r}")
    with name_scope(name):
        xs = [convert_to_tensor(x) for x in args]
        n = len(xs)
        position = list(builtins.range(n))
        if indexing == "xy" and n > 1:
            position[0], position[1] = 1, 0
        sizes = [None] * n
        for x, p in zip(xs, position):
            sizes[p] = tf.size(x)
        outputs = []
        for x, p in zip(xs, position):
            column = tf.reshape(x, [1] * p + [-1] + [1] * (n - p - 1))
            outputs.append(tf.broadcast_to(column, sizes))
        return outputs
