"""Array ops: constants, shapes, reshaping, joining, slicing, gathering, selecting.

Shape-like arguments (Reshape's shape, Fill's dims, Tile's multiples, Slice and
StridedSlice bounds, Pad's paddings) are input tensors, as in TensorFlow, so they
may be computed at run time (`tf.shape(x)[0]`). Shape functions read what the
graph already knows of them with `constant_value`, or element by element with
`_partial_values` (`[tf.shape(x)[0], 3]` is known to end in 3), so static shapes
are as precise as TensorFlow's. Axes, permutations, masks and dtypes are static
attributes; the public functions accept them as constant tensors too.

Kernels never mutate their inputs; views (slices, transposes, broadcasts) are
returned as they are. Index errors found at run time (gather out of range, a
reshape to the wrong size) raise a plain Python exception with the offending
value, which the executor reports as InvalidArgumentError naming the node.

Sections: constants and placeholders; shapes; creating tensors; reshaping and
permuting; joining and splitting; slicing (Slice, StridedSlice and the
`_slice_helper` behind `Tensor.__getitem__`); gathering and scattering;
selecting (where).
"""

from __future__ import annotations

import builtins
import functools
import itertools
import math

import numpy as np

from ops import api as tf
from ops.common import broadcast_shape, check_dtype, constant_value, normalize_axis, partial_shape_value, same
from ops.registry import REQUIRED, Op, api_function, build
from raygraph import dtypes
from raygraph.graph import Tensor, convert_pair, convert_to_tensor, name_scope, to_numpy
from raygraph.shapes import Dimension, TensorShape, as_shape, format_shape

# -- helpers for shape functions ---------------------------------------------


def _partial_values(tensor) -> list | None:
    """The elements of a 1-D integer tensor known at construction (None where not).

    None when even the length is unknown. `tf.stack([tf.shape(x)[0], -1])`
    gives [None, -1].
    """
    value = constant_value(tensor)
    if value is not None:
        return [int(v) for v in np.reshape(value, [-1])]
    op = tensor.op
    if op.type == "Pack" and op.attrs["axis"] == 0 and all(t.shape.ndims == 0 for t in op.inputs):
        return [_scalar_value(t) for t in op.inputs]
    if op.type == "Shape" and op.inputs[0].shape.dims is not None:
        return list(op.inputs[0].shape.dims)
    if tensor.shape.ndims == 1 and tensor.shape.dims[0] is not None:
        return [None] * tensor.shape.dims[0]
    return None


def _scalar_value(tensor) -> int | None:
    value = constant_value(tensor)
    return None if value is None else int(value)


def _format_values(values) -> str:
    return "[" + ", ".join("?" if v is None else str(v) for v in values) + "]"


def _check_vector(tensor, what: str) -> None:
    """Raises unless `tensor` is an integer vector (a shape, begin, multiples...)."""
    check_dtype(tensor, "int", what)
    if tensor.shape.ndims not in (None, 1):
        raise ValueError(f"{what} must be a vector, got shape {format_shape(tensor.shape)}")


def _check_scalar(tensor, what: str, kind: str | None = None) -> None:
    if kind is not None:
        check_dtype(tensor, kind, what)
    if tensor.shape.ndims not in (None, 0):
        raise ValueError(f"{what} must be a scalar, got shape {format_shape(tensor.shape)}")


def _static(value, what: str):
    """An int or list of ints from a Python value or a constant tensor (axes, perms)."""
    if isinstance(value, Tensor):
        known = constant_value(value)
        if known is None:
            raise ValueError(
                f"{what} must be known when the graph is built, got the computed tensor {value.name}"
            )
        value = known
    array = np.asarray(_plain(value))
    if array.size == 0:
        return []
    if array.dtype.kind not in "iu":
        raise TypeError(f"{what} must be an integer or a list of integers, got {value!r}")
    return int(array) if array.ndim == 0 else [int(v) for v in array.reshape(-1)]


def _plain(value):
    """`value` with TensorShape Dimensions (`x.shape[0]`) replaced by their ints."""
    if isinstance(value, Dimension):
        if value.value is None:
            raise ValueError("an unknown dimension (None) cannot be used as a value; use tf.shape(x)[i]")
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _int_arg(value):
    """A shape-like argument given as Python values, as int32 (int64 if too large).

    TensorFlow converts these with the op's index type, so `[]` is an empty int32
    vector; tensors and lists holding tensors pass through unchanged.
    """
    if _has_tensor(value):
        return value
    if isinstance(value, TensorShape):
        value = value.as_list()
    value = _plain(value)
    if np.size(value) == 0:
        return np.zeros(np.shape(value), np.int32)
    return to_numpy(value, dtypes.int32, strict=False)


def _dims_of(x) -> list:
    """x's dimensions as ints where known, else scalar tensors `tf.shape(x)[i]`."""
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


# -- constants and placeholders ----------------------------------------------


class Const(Op):
    """A constant tensor; its value is an attr of the graph."""

    attrs = {"value": REQUIRED, "dtype": REQUIRED}
    differentiable = False

    def infer(value, dtype):
        return dtype, value.shape

    def kernel(xp, value, dtype):
        return xp.asarray(value)


@api_function("constant")
def constant(value, dtype=None, shape=None, name="Const", verify_shape=False):
    """A constant tensor: `tf.constant([[1., 2.]], dtype=tf.float32)`.

    With `shape`, a value with fewer elements is filled out with its last element
    (a scalar fills the whole shape), as in TensorFlow 1.x:

    >>> tf.constant([1, 2], shape=[4])   # [1, 2, 2, 2]
    """
    array = to_numpy(value, dtype)
    if shape is not None:
        array = _constant_to_shape(array, [int(d) for d in as_shape(shape).as_list()], verify_shape)
    return build("Const", [], {"value": array, "dtype": dtypes.as_dtype(array.dtype)}, name=name)


def _constant_to_shape(array: np.ndarray, shape: list, verify_shape: bool) -> np.ndarray:
    if verify_shape and list(array.shape) != shape:
        raise TypeError(f"Expected Tensor's shape: {tuple(shape)}, but got {array.shape}.")
    n = int(np.prod(shape))
    if array.size > n:
        raise ValueError(f"Too many elements provided. Takes at most {n}, but got {array.size}.")
    flat = array.reshape(-1)
    if array.size == 0:
        flat = np.zeros([1], array.dtype)
    if flat.size < n:
        flat = np.concatenate([flat, np.full([n - flat.size], flat[-1], array.dtype)])
    return flat.reshape(shape)


class Placeholder(Op):
    """A tensor whose value must be fed to Session.run."""

    attrs = {"dtype": REQUIRED, "shape": None}
    differentiable = False

    def infer(dtype, shape):
        return dtype, as_shape(shape)

    def kernel(xp, dtype, shape):
        raise AssertionError("placeholders are fed, never run")


@api_function("placeholder")
def placeholder(dtype, shape=None, name=None):
    """A tensor to feed: `x = tf.placeholder(tf.float32, [None, 784])`."""
    return build("Placeholder", [], {"dtype": dtypes.as_dtype(dtype), "shape": as_shape(shape)}, name=name)


class PlaceholderWithDefault(Op):
    """`input` unless a value is fed for this tensor."""

    inputs = ("input",)
    attrs = {"shape": REQUIRED}

    def infer(input, shape):  # noqa: A002 - TensorFlow's name
        shape = as_shape(shape)
        if not input.shape.is_compatible_with(shape):
            raise ValueError(
                f"default value of shape {format_shape(input.shape)} is not compatible with "
                f"the placeholder's shape {format_shape(shape)}"
            )
        return input.dtype, shape

    def kernel(xp, input, shape):  # noqa: A002
        return input

    def grad(op, dy):
        return [dy]


@api_function("placeholder_with_default")
def placeholder_with_default(input, shape, name=None):  # noqa: A002
    """`input` unless fed: `keep = tf.placeholder_with_default(1.0, [])`."""
    return build("PlaceholderWithDefault", [input], {"shape": as_shape(shape)}, name=name)


class Identity(Op):
    """Returns its input unchanged (a named alias, or a copy point between devices)."""

    inputs = ("input",)
    api = "identity"

    def infer(input):  # noqa: A002
        return same(input)

    def kernel(xp, input):  # noqa: A002
        return input

    def grad(op, dy):
        return [dy]


class StopGradient(Op):
    """Returns its input; gradients do not flow through it."""

    inputs = ("input",)
    api = "stop_gradient"
    differentiable = False

    def infer(input):  # noqa: A002
        return same(input)

    def kernel(xp, input):  # noqa: A002
        return input


# -- shapes -------------------------------------------------------------------


class Shape(Op):
    """The shape of a tensor as a 1-D int32 (or int64) tensor."""

    inputs = ("input",)
    attrs = {"out_type": dtypes.int32}
    differentiable = False

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


# -- creating tensors ---------------------------------------------------------


class Fill(Op):
    """A tensor of shape `dims` filled with the scalar `value`."""

    inputs = ("dims", "value")

    def infer(dims, value):
        _check_vector(dims, "dims")
        _check_scalar(value, "value")
        values = _partial_values(dims)
        if values is not None and any(v is not None and v < 0 for v in values):
            raise ValueError(f"Fill dimensions must be >= 0, got {_format_values(values)}")
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
    return build("Fill", [_int_arg(dims), value], name=name or "Fill")


_SMALL_CONSTANT = 1000  # zeros/ones of fewer elements become constants, as in TF


def _filled(shape, dtype, fill: int, name: str):
    dtype = dtypes.as_dtype(dtype)
    static = _static_shape(shape)
    if static is not None and int(np.prod(static)) < _SMALL_CONSTANT:
        return constant(np.full(static, fill, dtype.np), name=name)
    with name_scope(name) as scope:
        value = constant(np.array(fill, dtype.np), name="value")
        return build("Fill", [_int_arg(shape if static is None else static), value], name=scope)


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
    target = tensor.shape.as_list() if tensor.shape.is_fully_defined() else shape(tensor)
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
            _check_scalar(t, what, "numeric")
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
        _check_scalar(num, "num", "int")
        base = broadcast_shape(start.shape, stop.shape)
        if base.dims is None:
            return start.dtype, None
        dims = list(base.dims)
        dims.insert(normalize_axis(axis, len(dims) + 1), _scalar_value(num))
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
        one = constant(np.array(1, out.dtype.np))
        weights = build("LinSpace", [constant(np.array(0, out.dtype.np)), one, op.inputs[2]])
        weights = reshape(weights, [-1] + [1] * (out.shape.ndims - axis - 1))
        return [tf.reduce_sum(dy * (one - weights), axis=axis), tf.reduce_sum(dy * weights, axis=axis), None]


@api_function("linspace", "lin_space")
def linspace(start, stop, num, name=None, axis=0):
    """`tf.linspace(0., 1., 5)` is [0, 0.25, 0.5, 0.75, 1]; integer bounds give float64."""
    start = convert_to_tensor(start)
    stop = convert_to_tensor(stop, preferred_dtype=start.dtype)
    if not start.dtype.is_floating:
        start, stop = tf.cast(start, dtypes.float64), tf.cast(stop, dtypes.float64)
    return build("LinSpace", [start, stop, num], {"axis": _static(axis, "axis")}, name=name or "LinSpace")


class OneHot(Op):
    """`on_value` where `indices` equals the position along the new `axis`, else `off_value`."""

    inputs = ("indices", "depth", "on_value", "off_value")
    attrs = {"axis": -1}
    same_dtype = ("on_value", "off_value")
    differentiable = False

    def infer(indices, depth, on_value, off_value, axis):
        check_dtype(indices, "int", "indices")
        _check_scalar(depth, "depth", "int")
        _check_scalar(on_value, "on_value")
        _check_scalar(off_value, "off_value")
        if indices.shape.dims is None:
            return on_value.dtype, None
        rank = indices.shape.ndims
        if not -1 <= axis <= rank:
            raise ValueError(f"axis must be in [-1, {rank}], got {axis}")
        depth_value = _scalar_value(depth)
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
        on = on if on is not None else constant(np.array(1, dtype.np), name="on_value")
        off = off if off is not None else constant(np.array(0, dtype.np), name="off_value")
        if on.dtype != off.dtype:
            raise TypeError(
                f"dtype {on.dtype.name} of on_value does not match dtype {off.dtype.name} of off_value"
            )
        axis = -1 if axis is None else _static(axis, "axis")
        return build("OneHot", [indices, depth, on, off], {"axis": axis}, name=scope)


class SequenceMask(Op):
    """mask[..., j] = j < lengths[...], for j in [0, maxlen); maxlen < 0 means max(lengths)."""

    inputs = ("lengths", "maxlen")
    attrs = {"dtype": dtypes.bool}
    differentiable = False

    def infer(lengths, maxlen, dtype):
        check_dtype(lengths, "int", "lengths")
        _check_scalar(maxlen, "maxlen", "int")
        n = _scalar_value(maxlen)
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
            sizes[p] = size(x)
        outputs = []
        for x, p in zip(xs, position):
            column = reshape(x, [1] * p + [-1] + [1] * (n - p - 1))
            outputs.append(tf.broadcast_to(column, sizes))
        return outputs


# -- reshaping and permuting --------------------------------------------------


class Reshape(Op):
    """`tensor` with a new shape of the same size; one entry of `shape` may be -1."""

    inputs = ("tensor", "shape")

    def infer(tensor, shape):
        _check_vector(shape, "shape")
        values = _partial_values(shape)
        if values is None:
            return tensor.dtype, None
        if values.count(-1) > 1 or any(v is not None and v < -1 for v in values):
            raise ValueError(f"shape may hold one -1 and otherwise sizes >= 0, got {_format_values(values)}")
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
                f"Cannot reshape a tensor with {n} elements to shape {_format_values(values)} "
                f"({known} elements)"
            )
    elif (known == 0 and n != 0) or (known and n % known):
        raise ValueError(
            f"Cannot reshape a tensor with {n} elements to shape {_format_values(values)}: "
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
    return build("Reshape", [tensor, _int_arg(shape)], name=name)


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
    axis = _static(axis, "axis")
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
        axis = _static(axis, "axis")
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
        if sorted(perm) != list(builtins.range(len(perm))):
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
        perm = list(builtins.range(a.shape.ndims))[::-1]
    perm = None if perm is None else tuple(_static(perm, "perm"))
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
    return build(
        "Transpose", [a], {"perm": tuple(builtins.range(rank - 2)) + (rank - 1, rank - 2)}, name=name
    )


class BroadcastTo(Op):
    """`input` broadcast numpy-style to `shape`."""

    inputs = ("input", "shape")
    broadcasts = True

    def infer(input, shape):  # noqa: A002
        _check_vector(shape, "shape")
        values = _partial_values(shape)
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
    return build("BroadcastTo", [input, _int_arg(shape)], name=name or "BroadcastTo")


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
                f"{_format_values(values)}: dimensions {d} and {t} differ"
            )
    return out


class Tile(Op):
    """`input` repeated `multiples[i]` times along each dimension i."""

    inputs = ("input", "multiples")

    def infer(input, multiples):  # noqa: A002
        _check_vector(multiples, "multiples")
        values = _partial_values(multiples)
        dims = input.shape.dims
        if values is not None and dims is not None and len(values) != len(dims):
            raise ValueError(
                f"multiples must have one entry per dimension of input: input has rank "
                f"{len(dims)}, multiples has {len(values)} entries"
            )
        if values is not None and any(v is not None and v < 0 for v in values):
            raise ValueError(f"multiples must be non-negative, got {_format_values(values)}")
        if dims is None:
            return input.dtype, None if values is None else [None] * len(values)
        if values is None:
            return input.dtype, [None] * len(dims)
        return input.dtype, [None if d is None or m is None else d * m for d, m in zip(dims, values)]

    def kernel(xp, input, multiples):  # noqa: A002
        multiples = multiples.tolist()
        if len(multiples) != input.ndim or any(m < 0 for m in multiples):
            raise ValueError(
                f"multiples must have {input.ndim} non-negative entries for an input of shape "
                f"{list(input.shape)}, got {multiples}"
            )
        return xp.tile(input, multiples)

    def grad(op, dy):
        x, multiples = op.inputs
        rank = x.shape.ndims
        if rank is None:
            raise ValueError(f"the gradient of {op.name} needs an input of known rank")
        # dy viewed as [m0, d0, m1, d1, ...], summed over the m axes.
        m = _partial_values(multiples) or [None] * rank
        dims = _dims_of(x)
        pairs = []
        for i in builtins.range(rank):
            pairs += [m[i] if m[i] is not None else tf.cast(multiples[i], dtypes.int32), dims[i]]
        summed = tf.reduce_sum(reshape(dy, pairs), axis=list(builtins.range(0, 2 * rank, 2)))
        return [summed, None]


@api_function("tile", "manip.tile")
def tile(input, multiples, name=None):  # noqa: A002
    """`input` repeated along each dimension: `tf.tile(x, [2, 1])` doubles the rows."""
    return build("Tile", [input, _int_arg(multiples)], name=name or "Tile")


class PadV2(Op):
    """`input` padded with `constant_values`: paddings[i] = [before, after] for dim i."""

    inputs = ("input", "paddings", "constant_values")
    same_dtype = ("input", "constant_values")

    def infer(input, paddings, constant_values):  # noqa: A002
        _check_scalar(constant_values, "constant_values")
        return input.dtype, _padded_shape(input, paddings)

    def kernel(xp, input, paddings, constant_values):  # noqa: A002
        pads = _check_paddings(input, paddings)
        return xp.pad(input, pads, mode="constant", constant_values=constant_values.item())

    def grad(op, dy):
        return [_unpad(dy, op.inputs[0], op.inputs[1]), None, None]


class MirrorPad(Op):
    """`input` padded with its own reflection: mode REFLECT (edge not repeated) or SYMMETRIC."""

    inputs = ("input", "paddings")
    attrs = {"mode": "REFLECT"}

    def infer(input, paddings, mode):  # noqa: A002
        out = _padded_shape(input, paddings)
        values = constant_value(paddings)
        if values is not None and input.shape.dims is not None:
            for i, (d, pad) in enumerate(zip(input.shape.dims, values.tolist())):
                _check_mirror(d, pad, mode, i)
        return input.dtype, out

    def kernel(xp, input, paddings, mode):  # noqa: A002
        pads = _check_paddings(input, paddings)
        for i, (d, pad) in enumerate(zip(input.shape, pads)):
            _check_mirror(d, pad, mode, i)
        return xp.pad(input, pads, mode=mode.lower())

    def grad(op, dy):
        return [build("MirrorPadGrad", [dy, op.inputs[1]], {"mode": op.attrs["mode"]}), None]


class MirrorPadGrad(Op):
    """The gradient of MirrorPad: folds the padded borders back onto the input."""

    inputs = ("input", "paddings")
    attrs = {"mode": "REFLECT"}

    def infer(input, paddings, mode):  # noqa: A002
        _check_vector_pairs(paddings, input.shape.ndims)
        values = constant_value(paddings)
        if input.shape.dims is None:
            return input.dtype, None
        if values is None:
            return input.dtype, [None] * input.shape.ndims
        return input.dtype, [
            None if d is None else d - a - b for d, (a, b) in zip(input.shape.dims, values.tolist())
        ]

    def kernel(xp, input, paddings, mode):  # noqa: A002
        offset = 1 if mode == "REFLECT" else 0
        out = input
        for axis, (before, after) in enumerate(paddings.tolist()):
            padded = xp.moveaxis(out, axis, 0)
            n = padded.shape[0] - before - after
            core = padded[before : before + n].copy()
            if before:
                core[offset : offset + before] += padded[:before][::-1]
            if after:
                core[n - offset - after : n - offset] += padded[before + n :][::-1]
            out = xp.moveaxis(core, 0, axis)
        return out

    def grad(op, dy):
        return [build("MirrorPad", [dy, op.inputs[1]], {"mode": op.attrs["mode"]}), None]


def _check_vector_pairs(paddings, rank) -> None:
    check_dtype(paddings, "int", "paddings")
    if not paddings.shape.is_compatible_with([rank, 2]):
        raise ValueError(
            f"paddings must have shape [{'?' if rank is None else rank}, 2] (one [before, after] "
            f"pair per dimension), got {format_shape(paddings.shape)}"
        )


def _padded_shape(input, paddings):  # noqa: A002
    _check_vector_pairs(paddings, input.shape.ndims)
    values = constant_value(paddings)
    if values is not None and (values < 0).any():
        raise ValueError(f"paddings must be non-negative, got {values.tolist()}")
    rank = input.shape.ndims
    if rank is None and paddings.shape.ndims is not None:
        rank = paddings.shape.dims[0]
    if rank is None:
        return None
    if values is None or input.shape.dims is None:
        return [None] * rank
    return [None if d is None else d + a + b for d, (a, b) in zip(input.shape.dims, values.tolist())]


def _check_paddings(input, paddings) -> list:  # noqa: A002
    pads = paddings.tolist()
    if len(pads) != input.ndim or any(p < 0 for pair in pads for p in pair):
        raise ValueError(
            f"paddings must be {input.ndim} non-negative [before, after] pairs for an input of "
            f"shape {list(input.shape)}, got {pads}"
        )
    return pads


def _check_mirror(d, pad, mode, axis) -> None:
    limit = d if mode == "SYMMETRIC" else None if d is None else d - 1
    if limit is not None and max(pad) > limit:
        raise ValueError(
            f"paddings {pad} of dimension {axis} (size {d}) must be at most {limit} in {mode} mode"
        )


def _unpad(dy, x, paddings):
    """dy without the padding: the gradient of a constant pad."""
    values = constant_value(paddings)
    if values is not None:
        begin = values[:, 0].astype(np.int32)
    else:
        begin = reshape(slice(paddings, [0, 0], [-1, 1]), [-1])
    return slice(dy, begin, shape(x, out_type=paddings.dtype) if values is None else shape(x))


@api_function("pad")
def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0):
    """Pads a tensor: `tf.pad(x, [[1, 1], [2, 2]])`; mode CONSTANT, REFLECT or SYMMETRIC."""
    mode = str(mode).upper()
    if mode == "CONSTANT":
        tensor = convert_to_tensor(tensor)
        value = convert_to_tensor(constant_values, preferred_dtype=tensor.dtype)
        return build("PadV2", [tensor, _int_arg(paddings), value], name=name or "Pad")
    if mode in ("REFLECT", "SYMMETRIC"):
        return build("MirrorPad", [tensor, _int_arg(paddings)], {"mode": mode}, name=name or "MirrorPad")
    raise ValueError(f"Unknown padding mode: {mode}")


class ReverseV2(Op):
    """Reverses the order of elements along the dimensions in `axis`."""

    inputs = ("tensor",)
    attrs = {"axis": REQUIRED}

    def infer(tensor, axis):
        if tensor.shape.ndims is not None:
            axes = [normalize_axis(a, tensor.shape.ndims) for a in axis]
            if len(set(axes)) != len(axes):
                raise ValueError(f"axis {list(axis)} names a dimension twice")
        return same(tensor)

    def kernel(xp, tensor, axis):
        return xp.flip(tensor, axis=tuple(axis)) if axis else tensor

    def grad(op, dy):
        return [build("ReverseV2", [dy], {"axis": op.attrs["axis"]})]


@api_function("reverse", "reverse_v2", "manip.reverse")
def reverse(tensor, axis, name=None):
    """Reverses along the given dimensions: `tf.reverse(x, [1])`."""
    axis = _static(axis, "axis")
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return build("ReverseV2", [tensor], {"axis": axis}, name=name or "ReverseV2")


# -- joining and splitting ----------------------------------------------------


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
    values = [_plain(v) for v in values]
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
            v if hasattr(v, "dtype") or _has_tensor(v) else to_numpy(v, hint, strict=False) for v in values
        ]
    return build("Pack", [values], {"axis": _static(axis, "axis")}, name=name)


def _has_tensor(value) -> bool:
    if isinstance(value, list | tuple):
        return any(_has_tensor(v) for v in value)
    return hasattr(value, "dtype") and not isinstance(value, np.ndarray | np.generic)


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
        return [xp.take(value, i, axis=axis) for i in builtins.range(n)]

    def grad(op, *dys):
        return [stack(list(dys), axis=op.attrs["axis"])]


@api_function("unstack")
def unstack(value, num=None, axis=0, name="unstack"):
    """Splits `value` along `axis` into a list of tensors."""
    return build("Unpack", [value], {"num": num, "axis": _static(axis, "axis")}, name=name)


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
            sizes = stack([shape(v)[axis] for v in values])
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
        return _identity(values[0], name)
    return build("ConcatV2", [values], {"axis": _static(axis, "axis")}, name=name)


def _identity(x, name):
    return build("Identity", [x], name=name)


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
        return xp.split(value, num_split, axis=axis)

    def grad(op, *dys):
        return [concat(list(dys), op.attrs["axis"])]


class SplitV(Op):
    """Splits `value` along `axis` into parts of the given sizes (one may be -1)."""

    inputs = ("value", "size_splits")
    attrs = {"num_split": REQUIRED, "axis": 0}
    multi_output = True

    def infer(value, size_splits, num_split, axis):
        _check_vector(size_splits, "size_splits")
        sizes = _partial_values(size_splits)
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
        return xp.split(value, list(itertools.accumulate(sizes[:-1])), axis=axis)

    def grad(op, *dys):
        return [concat(list(dys), op.attrs["axis"]), None]


def _split_sizes(n: int | None, sizes: list) -> list:
    """The sizes of SplitV's parts, with a -1 resolved; raises if they cannot add up to n."""
    if sizes.count(-1) > 1 or any(s is not None and s < -1 for s in sizes):
        raise ValueError(f"size_splits may hold one -1 and otherwise sizes >= 0, got {_format_values(sizes)}")
    known = sum(s for s in sizes if s is not None and s >= 0)
    unknown = [i for i, s in enumerate(sizes) if s is None or s == -1]
    if n is None:
        return [None if s == -1 else s for s in sizes]
    if (not unknown and known != n) or known > n:
        raise ValueError(f"can't split axis of size {n} into pieces of size {_format_values(sizes)}")
    out = [None if s == -1 else s for s in sizes]
    if len(unknown) == 1:
        out[unknown[0]] = n - known
    return out


@api_function("split")
def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """Splits along `axis`: into N equal parts (an int), or parts of the given sizes.

    >>> a, b = tf.split(x, [1, -1], axis=1)   # the first column and the rest
    """
    axis = _static(axis, "axis")
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


# -- slicing ------------------------------------------------------------------


class Slice(Op):
    """The block of `size` elements from `begin` (size -1: to the end of the dimension)."""

    inputs = ("input", "begin", "size")

    def infer(input, begin, size):  # noqa: A002
        _check_vector(begin, "begin")
        _check_vector(size, "size")
        begins, sizes = _partial_values(begin), _partial_values(size)
        rank = next((len(v) for v in (begins, sizes) if v is not None), input.shape.ndims)
        if rank is None:
            return input.dtype, None
        for what, v in (("begin", begins), ("size", sizes)):
            if (v is not None and len(v) != rank) or input.shape.ndims not in (None, rank):
                raise ValueError(
                    f"{what} must have one entry per dimension of input {format_shape(input.shape)}"
                )
        dims = input.shape.dims or [None] * rank
        begins, sizes = begins or [None] * rank, sizes or [None] * rank
        return input.dtype, [_slice_size(d, b, s, i) for i, (d, b, s) in enumerate(zip(dims, begins, sizes))]

    def kernel(xp, input, begin, size):  # noqa: A002
        begin, size = begin.tolist(), size.tolist()
        if len(begin) != input.ndim or len(size) != input.ndim:
            raise ValueError(f"begin {begin} and size {size} must have {input.ndim} entries")
        index = []
        for i, (d, b, s) in enumerate(zip(input.shape, begin, size)):
            s = _slice_size(d, b, s, i)
            index.append(builtins.slice(b, b + s))
        return input[tuple(index)]

    def grad(op, dy):
        x, begin, size_ = op.inputs
        values = constant_value(begin)
        if values is not None and x.shape.is_fully_defined() and dy.shape.is_fully_defined():
            before = values.astype(np.int64)
            after = np.array(x.shape.as_list()) - before - np.array(dy.shape.as_list())
            paddings = np.stack([before, after], axis=1)
        else:
            before = reshape(begin, [-1, 1])
            after = shape(x, out_type=begin.dtype) - begin - shape(dy, out_type=begin.dtype)
            paddings = concat([before, reshape(after, [-1, 1])], 1)
        return [pad(dy, paddings), None, None]


def _slice_size(d, b, s, i):
    """The size of Slice's dimension i (of size d) from begin b and size s; None if unknown."""
    if b is not None and (b < 0 or (d is not None and b > d)):
        raise ValueError(f"Expected begin[{i}] in [0, {'?' if d is None else d}], but got {b}")
    if s is None:
        return None
    if s == -1:
        return None if d is None or b is None else d - b
    if s < 0 or (d is not None and b is not None and b + s > d):
        raise ValueError(
            f"Expected size[{i}] in [0, {'?' if d is None or b is None else d - b}], but got {s}"
        )
    return s


@api_function("slice")
def slice(input_, begin, size, name=None):  # noqa: A001 - TensorFlow's name
    """`tf.slice(x, [1, 0], [2, -1])`: rows 1 and 2, all columns."""
    return build("Slice", [input_, _int_arg(begin), _int_arg(size)], name=name or "Slice")


_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


def _bit(mask: int, i: int) -> bool:
    return bool(mask >> i & 1)


def _dense_spec(rank: int, n: int, begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask):
    """StridedSlice's sparse spec (n entries, masks) expanded against an input of `rank`.

    Returns (dims, layout): dims[i] describes input dimension i as (k, begin_masked,
    end_masked, shrink), k indexing begin/end/strides, or None for a dimension the
    ellipsis covers; layout lists the output's dimensions in order, each ("dim", i),
    ("new",) or ("shrink", i), the last of which do not appear in the output.
    """
    ellipses = [i for i in builtins.range(n) if _bit(ellipsis_mask, i)]
    if len(ellipses) > 1:
        raise ValueError("Multiple ellipses in slice spec not allowed")
    if not ellipses:
        ellipses, n_ext = [n], n + 1  # an implicit ellipsis at the end
    else:
        n_ext = n
    new_after = sum(_bit(new_axis_mask, j) for j in builtins.range(ellipses[0] + 1, n))
    dims, layout = [], []
    full = 0
    for i in builtins.range(n_ext):
        if i == ellipses[0]:
            stop = max(min(rank - (n_ext - i) + 1 + new_after, rank), full)
            for j in builtins.range(full, stop):
                dims.append((None, True, True, False))
                layout.append(("dim", j))
            full = stop
        elif _bit(new_axis_mask, i):
            layout.append(("new",))
        else:
            if full == rank:
                raise ValueError(f"Index out of range using input dim {full}; input has only {rank} dims")
            shrink = _bit(shrink_axis_mask, i)
            dims.append((i, _bit(begin_mask, i), _bit(end_mask, i), shrink))
            layout.append(("shrink" if shrink else "dim", full))
            full += 1
    return dims, layout


def _dense_bounds(d, spec, begin, end, stride, axis):
    """(begin, end) of one dense dimension of size d, canonicalized as TensorFlow does.

    For a shrunk dimension, begin is the index (checked) and end is begin + 1. Values
    may be None when unknown; the result is then None where it depends on them.
    """
    k, begin_masked, end_masked, shrink = spec
    if stride == 0:
        raise ValueError(f"strides[{k}] must be non-zero")
    if shrink:
        if stride is not None and stride < 0:
            raise ValueError("only stride 1 allowed on non-range indexing.")
        if begin is None or d is None:
            return None, None
        index = begin + d if begin < 0 else begin
        if not 0 <= index < d:
            raise IndexError(f"slice index {begin} of dimension {axis} out of bounds.")
        return index, index + 1
    if d is None or stride is None:
        return None, None
    low, high = (0, d) if stride > 0 else (-1, d - 1)

    def canonical(x, masked, which):
        if masked:
            return (low, high)[which] if stride > 0 else (high, low)[which]
        if x is None:
            return None
        x = x + d if x < 0 else x
        return min(max(x, low), high)

    return canonical(begin, begin_masked, 0), canonical(end, end_masked, 1)


def _interval_size(begin, end, stride) -> int | None:
    if begin is None or end is None or stride is None:
        return None
    length = end - begin
    if length == 0 or (length < 0) != (stride < 0):
        return 0
    return -(-abs(length) // abs(stride))


def _strided_dims(shape: TensorShape, begins, ends, strides, masks: dict) -> list | None:
    """Static output dims of StridedSlice (None entries unknown); None for unknown rank."""
    if shape.dims is None:
        return None
    n = len(strides)
    dims, layout = _dense_spec(shape.ndims, n, **masks)
    sizes = []
    for axis, (spec, d) in enumerate(zip(dims, shape.dims)):
        k = spec[0]
        if k is None:
            sizes.append(d)
            continue
        b, e = _dense_bounds(d, spec, begins[k], ends[k], strides[k], axis)
        sizes.append(1 if spec[3] else _interval_size(b, e, strides[k]))
    return [1 if entry[0] == "new" else sizes[entry[1]] for entry in layout if entry[0] != "shrink"]


def _strided_index(shape, begin, end, strides, masks: dict, new_axes: bool = True) -> tuple:
    """The numpy index tuple equal to a StridedSlice of an array of `shape` (arrays in)."""
    key = (tuple(shape), tuple(begin.tolist()), tuple(end.tolist()), tuple(strides.tolist()))
    return _numpy_index(*key, tuple(masks[m] for m in _MASKS), new_axes)


@functools.lru_cache(maxsize=4096)  # a plan slices the same way run after run
def _numpy_index(
    shape: tuple, begin: tuple, end: tuple, strides: tuple, masks: tuple, new_axes: bool
) -> tuple:
    """The numpy index tuple equal to a StridedSlice (checked against `shape`)."""
    dims, layout = _dense_spec(len(shape), len(strides), *masks)
    per_dim = []
    for axis, (spec, d) in enumerate(zip(dims, shape)):
        k = spec[0]
        if k is None:
            per_dim.append(builtins.slice(None))
            continue
        b, e = _dense_bounds(d, spec, begin[k], end[k], strides[k], axis)
        if spec[3]:
            per_dim.append(b)
        elif strides[k] < 0 and b == -1:
            per_dim.append(builtins.slice(0, 0))
        else:
            per_dim.append(builtins.slice(b, None if e == -1 else e, strides[k]))
    index = []
    for entry in layout:
        if entry[0] == "new":
            if new_axes:
                index.append(None)
        else:
            index.append(per_dim[entry[1]])
    return tuple(index)


class StridedSlice(Op):
    """Python-style slicing `x[begin:end:stride, ...]` with TensorFlow's masks.

    Bit i of a mask refers to entry i of begin/end/strides: begin_mask/end_mask
    ignore the bound (the slice runs from/to the edge), ellipsis_mask makes the
    entry `...`, new_axis_mask inserts a size-1 dimension, shrink_axis_mask takes
    the single index begin[i] and drops the dimension. Use `x[...]` to build one.
    """

    inputs = ("input", "begin", "end", "strides")
    attrs = dict.fromkeys(_MASKS, 0)
    same_dtype = ("begin", "end", "strides")

    def infer(input, begin, end, strides, **masks):  # noqa: A002
        return input.dtype, _strided_slice_shape(input.shape, begin, end, strides, masks)

    def kernel(xp, input, begin, end, strides, **masks):  # noqa: A002
        return input[_strided_index(input.shape, begin, end, strides, masks)]

    def grad(op, dy):
        x, begin, end, strides = op.inputs
        shape_x = x.shape.as_list() if x.shape.is_fully_defined() else shape(x, out_type=begin.dtype)
        return [
            build("StridedSliceGrad", [shape_x, begin, end, strides, dy], dict(op.attrs)),
            None,
            None,
            None,
        ]


def _strided_slice_shape(shape: TensorShape, begin, end, strides, masks: dict):
    for t, what in ((begin, "begin"), (end, "end"), (strides, "strides")):
        _check_vector(t, what)
    values = [_partial_values(t) for t in (begin, end, strides)]
    n = next((len(v) for v in values if v is not None), None)
    if n is None or shape.dims is None:
        return None
    for v, what in zip(values, ("begin", "end", "strides")):
        if v is not None and len(v) != n:
            raise ValueError(f"begin, end and strides must have one length, got {len(v)} entries in {what}")
    return _strided_dims(shape, *[v or [None] * n for v in values], masks)


class StridedSliceGrad(Op):
    """The gradient of StridedSlice: dy placed into zeros of the input's `shape`."""

    inputs = ("shape", "begin", "end", "strides", "dy")
    attrs = dict.fromkeys(_MASKS, 0)
    same_dtype = ("shape", "begin", "end", "strides")

    def infer(shape, begin, end, strides, dy, **masks):
        _check_vector(shape, "shape")
        return dy.dtype, partial_shape_value(shape)

    def kernel(xp, shape, begin, end, strides, dy, **masks):
        out = xp.zeros(shape.tolist(), dtype=dy.dtype)
        index = _strided_index(shape.tolist(), begin, end, strides, masks, new_axes=False)
        out[index] = xp.reshape(dy, out[index].shape)
        return out

    def grad(op, ddy):
        _, begin, end, strides, _ = op.inputs
        return [None, None, None, None, build("StridedSlice", [ddy, begin, end, strides], dict(op.attrs))]


@api_function("strided_slice")
def strided_slice(
    input_,
    begin,
    end,
    strides=None,
    begin_mask=0,
    end_mask=0,
    ellipsis_mask=0,
    new_axis_mask=0,
    shrink_axis_mask=0,
    var=None,
    name=None,
):
    """`tf.strided_slice(x, [0, 1], [2, 3], [1, 1])` is `x[0:2, 1:3]`; see StridedSlice."""
    if strides is None:
        strides = [1] * len(begin) if isinstance(begin, list | tuple) else ones_like(begin)
    masks = dict(zip(_MASKS, (begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask)))
    bounds = [_int_arg(v) for v in (begin, end, strides)]
    return build("StridedSlice", [input_, *bounds], masks, name=name or "StridedSlice")


_SLICE_TYPE_ERROR = (
    "Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar "
    "tf.int32/tf.int64 tensors are valid indices"
)


def _check_index(index) -> None:
    if isinstance(index, int | np.integer | Dimension) and not isinstance(index, bool | np.bool_):
        return
    if (
        isinstance(index, Tensor)
        and index.dtype in (dtypes.int32, dtypes.int64)
        and index.shape.ndims in (None, 0)
    ):
        return
    raise TypeError(f"{_SLICE_TYPE_ERROR}, got {index!r}")


def _bound(value):
    """A slice bound: an int, a scalar int tensor, or None (absent)."""
    if isinstance(value, Dimension):
        return value.value
    if value is not None:
        _check_index(value)
    return int(value) if isinstance(value, np.integer) else value


@api_function("_slice_helper")
def _slice_helper(tensor, slice_spec, var=None):
    """`tensor[slice_spec]`: numpy-style basic indexing as one StridedSlice op.

    Ints (negative ones count from the end), slices with any step, `...`, None
    (tf.newaxis) and scalar int32/int64 tensors, as indices and as slice bounds.
    A bool tensor or array is a mask: `x[x > 0]` is `tf.boolean_mask(x, x > 0)`.

    >>> x[:, -1]           # the last column
    >>> x[::-1, None, i]   # rows reversed, a new axis, column i (a tensor)
    """
    if _is_bool_mask(slice_spec):
        return boolean_mask(tensor, slice_spec)
    spec = list(slice_spec) if isinstance(slice_spec, list | tuple) else [slice_spec]
    begin, end, strides = [], [], []
    masks = dict.fromkeys(_MASKS, 0)
    for i, s in enumerate(spec):
        if isinstance(s, builtins.slice):
            start, stop, step = _bound(s.start), _bound(s.stop), _bound(s.step)
            begin.append(0 if start is None else start)
            end.append(0 if stop is None else stop)
            strides.append(1 if step is None else step)
            masks["begin_mask"] |= (start is None) << i
            masks["end_mask"] |= (stop is None) << i
        elif s is Ellipsis or s is None:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["ellipsis_mask" if s is Ellipsis else "new_axis_mask"] |= 1 << i
        else:
            _check_index(s)
            s = int(s) if isinstance(s, np.integer | Dimension) else s
            begin.append(s)
            end.append(s + 1)
            strides.append(1)
            masks["shrink_axis_mask"] |= 1 << i
    with name_scope(None, "strided_slice") as scope:
        packed = _pack_indices(begin, end, strides)
        return build("StridedSlice", [tensor, *packed], masks, name=scope)


def _is_bool_mask(spec) -> bool:
    if isinstance(spec, bool | np.bool_):
        return True
    if isinstance(spec, np.ndarray):
        return spec.dtype == np.bool_
    return isinstance(spec, Tensor) and spec.dtype == dtypes.bool


def _pack_indices(*lists):
    """begin, end and strides as vectors of one index dtype (int64 if any index is)."""
    entries = [v for entry_list in lists for v in entry_list]
    if not any(isinstance(v, Tensor) for v in entries):
        dtype = np.int64 if any(abs(v) >= 2**31 for v in entries) else np.int32
        return [np.array(entry_list, dtype=dtype).reshape([-1]) for entry_list in lists]
    wide = any(isinstance(v, Tensor) and v.dtype == dtypes.int64 for v in entries)
    dtype = dtypes.int64 if wide else dtypes.int32
    return [
        stack([tf.cast(v, dtype) if isinstance(v, Tensor) else np.array(v, dtype.np) for v in entry_list])
        for entry_list in lists
    ]


# -- gathering and scattering -------------------------------------------------


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
        n = shape(params)[axis] if n is None else n
        if axis == 0:
            return [_unsorted_segment_sum(dy, indices, n), None]
        return [_gather_grad_along(dy, params, indices, axis, n), None]


def _gather_grad_along(dy, params, indices, axis, n):
    """Gather's gradient for axis > 0: move the index dims first, segment-sum, move back."""
    r, q = params.shape.ndims, indices.shape.ndims
    if r is None or q is None or axis < 0:
        raise ValueError(f"the gradient of gather along axis {axis} needs params and indices of known rank")
    front = (
        list(builtins.range(axis, axis + q))
        + list(builtins.range(axis))
        + list(builtins.range(axis + q, r + q - 1))
    )
    summed = _unsorted_segment_sum(transpose(dy, front), indices, n)
    back = list(builtins.range(1, axis + 1)) + [0] + list(builtins.range(axis + 1, r))
    return transpose(summed, back)


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
    axis = batch_dims if axis is None else _static(axis, "axis")
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
        _check_scalar(num_segments, "num_segments", "int")
        ids, d = segment_ids.shape, data.shape
        if ids.dims is not None and d.dims is not None and not d[: ids.ndims].is_compatible_with(ids):
            raise ValueError(
                f"segment_ids shape {format_shape(ids)} must be a prefix of data shape {format_shape(d)}"
            )
        if ids.dims is None or d.dims is None:
            return data.dtype, None
        return data.dtype, [_scalar_value(num_segments)] + list(d.dims[ids.ndims :])

    def kernel(xp, data, segment_ids, num_segments):
        n = int(num_segments)
        out = xp.zeros((n,) + data.shape[segment_ids.ndim :], dtype=data.dtype)
        if segment_ids.size and int(segment_ids.max()) >= n:
            position = np.unravel_index(int(xp.argmax(segment_ids.reshape(-1))), segment_ids.shape)
            where = ",".join(str(int(p)) for p in position)
            raise IndexError(f"segment_ids[{where}] = {int(segment_ids[position])} is out of range [0, {n})")
        keep = segment_ids >= 0
        if bool(keep.all()):
            xp.add.at(out, segment_ids, data)
        else:
            xp.add.at(out, segment_ids[keep], data[keep])
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
            mask = reshape(kept, concat([shape(ids), ones(_rank(data) - _rank(ids), dtypes.int32)], 0))
        else:
            mask = reshape(kept, _dims_of(ids) + [1] * extra)
        return [gathered * tf.cast(mask, dy.dtype), None, None]


def _unsorted_segment_sum(data, segment_ids, num_segments):
    return build("UnsortedSegmentSum", [data, segment_ids, num_segments])


def _rank(x):
    return build("Rank", [x])


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
        return [build("ScatterNd", [indices, dy, shape(params, out_type=indices.dtype)]), None]


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
    return tuple(indices[..., j] for j in builtins.range(k))


class ScatterNd(Op):
    """Zeros of `shape` with `updates` added at the index vectors in `indices`."""

    inputs = ("indices", "updates", "shape")

    def infer(indices, updates, shape):
        check_dtype(indices, "int", "indices")
        _check_vector(shape, "shape")
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
    return build("ScatterNd", [indices, updates, _int_arg(shape)], name=name or "ScatterNd")


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
        axis = 0 if axis is None else _static(axis, "axis")
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
            known = _dims_of(tensor)
            tensor = reshape(tensor, known[:axis] + [-1] + known[axis + k :])
            mask = reshape(mask, [-1])
        indices = squeeze(build("Where", [mask]), axis=[1])
        return build("GatherV2", [tensor, indices], {"axis": axis, "batch_dims": 0}, name=scope)


# -- selecting ----------------------------------------------------------------


class Where(Op):
    """The coordinates of the true (non-zero) elements: int64 of shape [count, rank]."""

    inputs = ("condition",)
    differentiable = False

    def infer(condition):
        check_dtype(condition, "real_or_bool", "condition")
        return dtypes.int64, [None, condition.shape.ndims]

    def kernel(xp, condition):
        return xp.argwhere(condition).astype(xp.int64, copy=False)


class Select(Op):
    """x where condition else y; condition has x's shape, or is a vector over x's rows."""

    inputs = ("condition", "x", "y")
    same_dtype = ("x", "y")

    def infer(condition, x, y):
        check_dtype(condition, "bool", "condition")
        if not x.shape.is_compatible_with(y.shape):
            raise ValueError(
                f"x and y must have one shape, got {format_shape(x.shape)} and {format_shape(y.shape)}"
            )
        out = x.shape.merge_with(y.shape)
        c = condition.shape
        if c.ndims is None or out.ndims is None or c.ndims == 0:
            return x.dtype, out
        if c.ndims == 1 and out.ndims > 1:
            if not c.is_compatible_with(out.dims[:1]):
                raise ValueError(
                    f"condition of shape {format_shape(c)} must match the first dimension of x "
                    f"{format_shape(out)}"
                )
            return x.dtype, out
        if not c.is_compatible_with(out):
            raise ValueError(
                f"condition of shape {format_shape(c)} must have the shape of x {format_shape(out)} "
                "or be a vector over its first dimension"
            )
        return x.dtype, out.merge_with(c)

    def kernel(xp, condition, x, y):
        if x.shape != y.shape:
            raise ValueError(f"x and y must have one shape, got {list(x.shape)} and {list(y.shape)}")
        if condition.ndim == 1 and x.ndim > 1:
            if condition.shape[0] != x.shape[0]:
                raise ValueError(
                    f"condition of shape {list(condition.shape)} does not match x's first "
                    f"dimension {x.shape[0]}"
                )
            condition = condition.reshape((-1,) + (1,) * (x.ndim - 1))
        elif condition.ndim and condition.shape != x.shape:
            raise ValueError(
                f"condition of shape {list(condition.shape)} does not match x of shape {list(x.shape)}"
            )
        return xp.where(condition, x, y)

    def grad(op, dy):
        c = op.inputs[0]
        zeros_ = zeros_like(dy)
        return [None, build("Select", [c, dy, zeros_]), build("Select", [c, zeros_, dy])]


class SelectV2(Op):
    """x where condition else y, all three broadcast numpy-style."""

    inputs = ("condition", "x", "y")
    same_dtype = ("x", "y")
    broadcasts = True

    def infer(condition, x, y):
        check_dtype(condition, "bool", "condition")
        return x.dtype, broadcast_shape(condition.shape, broadcast_shape(x.shape, y.shape))

    def kernel(xp, condition, x, y):
        return xp.where(condition, x, y)

    def grad(op, dy):
        c = op.inputs[0]
        zero = zeros([], dy.dtype)
        return [None, build("SelectV2", [c, dy, zero]), build("SelectV2", [c, zero, dy])]


def _where(op_type, condition, x, y, name):
    if (x is None) != (y is None):
        raise ValueError("x and y must both be non-None or both be None.")
    condition = convert_to_tensor(condition, preferred_dtype=dtypes.bool)
    if x is None:
        return build("Where", [condition], name=name or "Where")
    x, y = convert_pair(x, y)
    return build(op_type, [condition, x, y], name=name or op_type)


@api_function("where")
def where(condition, x=None, y=None, name=None):
    """TF1 `tf.where`: with x and y, elementwise select; alone, the true coordinates.

    >>> tf.where(mask, x, tf.zeros_like(x))   # condition: x's shape, or one per row
    >>> tf.where([True, False, True])          # [[0], [2]], int64
    """
    return _where("Select", condition, x, y, name)


@api_function("where_v2")
def where_v2(condition, x=None, y=None, name=None):
    """`tf.where` with numpy broadcasting of condition, x and y."""
    return _where("SelectV2", condition, x, y, name)
