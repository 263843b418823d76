"""Reductions and scans along axes: sum, mean, max, min, prod, any, all, argmax,
argmin, cumsum, cumprod, and the composites built from them (reduce_logsumexp,
count_nonzero, norm, reduce_variance, reduce_std).

`axis` is a static attribute (an int, a list, or None for all axes), normalized
to a sorted tuple of non-negative axes when the rank is known; a constant tensor
is accepted where TensorFlow takes one. TensorFlow's older `reduction_indices`
and `keep_dims` spellings are accepted too.

Gradients of reductions first put the output gradient back in keepdims form
(`_keep_dims`: a size-1 dimension on each reduced axis) and then broadcast it.
The mean of integers truncates toward zero, as TensorFlow's does; max and min
share their gradient equally among tied extrema; prod's gradient is the product
of the other elements, built from exclusive cumulative products, so zeros are fine.
"""

from __future__ import annotations

import math

import numpy as np

from ops import api as tf
from ops.common import check_dtype, normalize_axis, reduced_shape, reduction_axes, same
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, unknown_shape


class _Reduce(Op, register=False):
    """A reduction of `input` over `axis` (None: all axes)."""

    inputs = ("input",)
    attrs = {"axis": None, "keepdims": False}
    kind = "numeric"  # the dtypes accepted (ops.common.check_dtype)

    def __init_subclass__(cls, **kwargs):
        kind = cls.kind

        def infer(input, axis, keepdims):  # noqa: A002 - TensorFlow's name
            check_dtype(input, kind, "input")
            return input.dtype, reduced_shape(input.shape, axis, keepdims)

        cls.infer = staticmethod(infer)
        super().__init_subclass__(**kwargs)


class Sum(_Reduce):
    """Sum of elements over `axis`."""

    def kernel(xp, input, axis, keepdims):  # noqa: A002
        return xp.sum(input, axis=axis, keepdims=keepdims, dtype=input.dtype)

    def grad(op, dy):
        x = op.inputs[0]
        return [tf.broadcast_to(_keep_dims(dy, x, op), tf.shape(x))]


class Mean(_Reduce):
    """Mean of elements over `axis`; for integers, truncated toward zero."""

    def kernel(xp, input, axis, keepdims):  # noqa: A002
        if input.dtype.kind == "f":
            acc = "float32" if input.dtype.itemsize < 4 else input.dtype  # float16 sums in float32
            return xp.asarray(xp.mean(input, axis=axis, keepdims=keepdims, dtype=acc), dtype=input.dtype)
        total = xp.sum(input, axis=axis, keepdims=keepdims, dtype="int64")
        n = max(_count(input.shape, axis), 1)
        quotient = xp.floor_divide(total, n)
        quotient = xp.where((total < 0) & (quotient * n != total), quotient + 1, quotient)
        return xp.asarray(quotient, dtype=input.dtype)

    def grad(op, dy):
        x = op.inputs[0]
        return [tf.broadcast_to(_keep_dims(dy, x, op), tf.shape(x)) / _reduced_count(x, op, dy.dtype)]


class Prod(_Reduce):
    """Product of elements over `axis`."""

    def kernel(xp, input, axis, keepdims):  # noqa: A002
        return xp.prod(input, axis=axis, keepdims=keepdims, dtype=input.dtype)

    def grad(op, dy):
        x = op.inputs[0]
        axes = op.attrs["axis"]
        if axes is None:
            others = tf.reshape(_products_of_others(tf.reshape(x, [-1]), [0]), tf.shape(x))
        else:
            others = _products_of_others(x, list(axes))
        return [_keep_dims(dy, x, op) * others]


class Max(_Reduce):
    """Maximum of elements over `axis`."""

    def kernel(xp, input, axis, keepdims):  # noqa: A002
        return xp.max(input, axis=axis, keepdims=keepdims)

    def grad(op, dy):
        return [_extremum_grad(op, dy)]


class Min(_Reduce):
    """Minimum of elements over `axis`."""

    def kernel(xp, input, axis, keepdims):  # noqa: A002
        return xp.min(input, axis=axis, keepdims=keepdims)

    def grad(op, dy):
        return [_extremum_grad(op, dy)]


class Any(_Reduce):
    """Logical or of bool elements over `axis`."""

    kind = "bool"
    differentiable = False

    def kernel(xp, input, axis, keepdims):  # noqa: A002
        return xp.any(input, axis=axis, keepdims=keepdims)


class All(_Reduce):
    """Logical and of bool elements over `axis`."""

    kind = "bool"
    differentiable = False

    def kernel(xp, input, axis, keepdims):  # noqa: A002
        return xp.all(input, axis=axis, keepdims=keepdims)


def _count(shape, axis) -> int:
    """How many elements of an array of `shape` each reduced element summarizes."""
    return math.prod(shape) if axis is None else math.prod(shape[a] for a in axis)


def _keep_dims(dy, x, op):
    """`dy` of a reduction reshaped to keepdims=True form (1 on the reduced axes)."""
    if op.attrs["keepdims"]:
        return dy
    axes = op.attrs["axis"]
    dims = x.shape.dims
    if dims is not None:
        kept = [1 if axes is None or i in axes else d for i, d in enumerate(dims)]
        if all(d is not None for d in kept):
            return tf.reshape(dy, kept)
    return tf.reshape(dy, build("ReducedShape", [tf.shape(x)], {"axis": axes}))


def _reduced_count(x, op, dtype):
    """How many elements each output of reduction `op` summarizes: an int if known, else a tensor."""
    axes = op.attrs["axis"]
    dims = x.shape.dims
    if dims is not None:
        picked = dims if axes is None else [dims[a] for a in axes]
        if all(d is not None for d in picked):
            return math.prod(picked)
    shape = tf.shape(x)
    kept = tf.reduce_prod(build("ReducedShape", [shape], {"axis": axes}))
    return tf.cast(tf.floordiv(tf.reduce_prod(shape), tf.maximum(kept, 1)), dtype)


def _extremum_grad(op, dy):
    """dy shared equally among the elements equal to the max (or min), as TensorFlow does."""
    x, y = op.inputs[0], op.outputs[0]
    hits = tf.cast(tf.equal(_keep_dims(y, x, op), x), dy.dtype)
    axes = op.attrs["axis"]
    ties = tf.reduce_sum(hits, axis=None if axes is None else list(axes), keepdims=True)
    return hits / ties * _keep_dims(dy, x, op)


def _products_of_others(x, axes: list[int]):
    """For each element, the product of the other elements of its slice over `axes`.

    Along one axis it is (exclusive cumprod) * (reverse exclusive cumprod); over
    several, that times the products of the other lines along the first axis.
    """
    if not axes:
        return tf.ones_like(x)
    first, rest = axes[0], axes[1:]
    others = tf.cumprod(x, first, exclusive=True) * tf.cumprod(x, first, exclusive=True, reverse=True)
    if rest:
        others = others * _products_of_others(tf.reduce_prod(x, first, keepdims=True), rest)
    return others


class ReducedShape(Op):
    """`shape` with the reduced axes set to 1: the keepdims shape of a reduction."""

    inputs = ("shape",)
    attrs = {"axis": None}
    differentiable = False

    def infer(shape, axis):
        return shape.dtype, shape.shape

    def kernel(xp, shape, axis):
        out = xp.array(shape, copy=True)
        out[list(range(len(out))) if axis is None else list(axis)] = 1
        return out


def _static_axis(axis):
    """`axis` as a Python value: constant tensors are read, others must not be tensors."""
    from ops.common import constant_value
    from raygraph.graph import Tensor

    if isinstance(axis, Tensor):
        value = constant_value(axis)
        if value is None:
            raise ValueError(f"axis {axis.name} must be known when the graph is built")
        return value.tolist()
    return axis


def _reduce_api(op_type: str, name: str, example: str):
    def reduce_fn(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None):
        axis = reduction_indices if axis is None else axis
        keepdims = bool(keep_dims if keepdims is None else keepdims)
        x = convert_to_tensor(input_tensor)
        axes = reduction_axes(_static_axis(axis), x.shape.ndims)
        return build(op_type, [x], {"axis": axes, "keepdims": keepdims}, name=name or op_type)

    reduce_fn.__name__ = name
    reduce_fn.__doc__ = f"""{op_type} over `axis` (None: all axes): `{example}`.

    `tf.{name}(input_tensor, axis=None, keepdims=False, name=None)`; the TF1
    spellings `reduction_indices` and `keep_dims` work too.
    """
    return api_function(name, "math." + name)(reduce_fn)


reduce_sum = _reduce_api("Sum", "reduce_sum", "tf.reduce_sum(x, axis=1)")
reduce_mean = _reduce_api("Mean", "reduce_mean", "tf.reduce_mean(losses)")
reduce_prod = _reduce_api("Prod", "reduce_prod", "tf.reduce_prod(tf.shape(x))")
reduce_max = _reduce_api("Max", "reduce_max", "tf.reduce_max(logits, axis=-1, keepdims=True)")
reduce_min = _reduce_api("Min", "reduce_min", "tf.reduce_min(x, axis=0)")
reduce_any = _reduce_api("Any", "reduce_any", "tf.reduce_any(tf.is_nan(x))")
reduce_all = _reduce_api("All", "reduce_all", "tf.reduce_all(x > 0)")


# -- composites ---------------------------------------------------------------


def _floating(value, what: str):
    x = convert_to_tensor(value)
    if not x.dtype.is_floating:
        raise TypeError(f"{what} needs a floating tensor, got {x.name!r} of dtype {x.dtype.name}")
    return x


@api_function("reduce_logsumexp", "math.reduce_logsumexp")
def reduce_logsumexp(
    input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None
):
    """log(sum(exp(x))) over `axis`, without overflow: `tf.reduce_logsumexp(logits, axis=1)`.

    The max is subtracted first (clamped to the finite range, so that all -inf
    gives -inf) and added back; the gradient is the softmax of x.
    """
    axis = reduction_indices if axis is None else axis
    keepdims = bool(keep_dims if keepdims is None else keepdims)
    with name_scope(name or "ReduceLogSumExp") as scope:
        x = _floating(input_tensor, "reduce_logsumexp")
        raw_max = reduce_max(x, axis, keepdims=True)
        finite_max = tf.minimum(tf.maximum(raw_max, x.dtype.min), x.dtype.max)
        shift = tf.stop_gradient(finite_max)
        total = reduce_sum(tf.exp(x - shift), axis, keepdims=keepdims)
        shift = shift if keepdims else reduce_sum(shift, axis)  # drops the size-1 axes
        return tf.add(tf.log(total), shift, name=scope)


@api_function("count_nonzero", "math.count_nonzero")
def count_nonzero(
    input_tensor=None,
    axis=None,
    keepdims=None,
    dtype=dtypes.int64,
    name=None,
    reduction_indices=None,
    keep_dims=None,
    input=None,
):  # noqa: A002
    """The number of elements that are not zero (or False) over `axis`: `tf.count_nonzero(mask)`."""
    input_tensor = input if input_tensor is None else input_tensor
    with name_scope(name or "count_nonzero"):
        x = convert_to_tensor(input_tensor)
        zero = convert_to_tensor(np.zeros((), x.dtype.np), name="zero")
        nonzero = tf.cast(tf.not_equal(x, zero), dtypes.int64)
        counts = reduce_sum(nonzero, axis, keepdims, reduction_indices=reduction_indices, keep_dims=keep_dims)
        return tf.cast(counts, dtype)


@api_function("norm", "linalg.norm")
def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None, keep_dims=None):  # noqa: A002
    """A vector or matrix norm: `tf.norm(x)`, `tf.norm(x, ord=1, axis=-1)`, `tf.norm(m, axis=[-2, -1])`.

    Vector norms (axis None: all elements; or one axis): "euclidean", 1, 2, np.inf
    and any p > 0. Matrix norms (a pair of axes): "euclidean"/"fro", 1 (largest
    column sum) and np.inf (largest row sum); the 2-norm would need an SVD.
    """
    keepdims = bool(keep_dims if keepdims is None else keepdims)
    matrix = isinstance(axis, list | tuple) and len(axis) == 2
    if isinstance(axis, list | tuple) and len(axis) == 1:
        axis = axis[0]
    _check_norm_order(ord, axis, matrix)
    with name_scope(name or "norm"):
        x = _floating(tensor, "norm")
        axis = _static_axis(axis)
        if ord in ("euclidean", "fro") or (ord == 2 and not matrix):
            return tf.sqrt(reduce_sum(x * x, axis, keepdims=keepdims))
        if matrix:
            summed = axis[0] if ord == 1 else axis[1]  # 1: column sums, inf: row sums
            return reduce_max(reduce_sum(tf.abs(x), summed, keepdims=True), list(axis), keepdims=keepdims)
        if ord == 1:
            return reduce_sum(tf.abs(x), axis, keepdims=keepdims)
        if ord == np.inf:
            return reduce_max(tf.abs(x), axis, keepdims=keepdims)
        p = float(ord)
        return tf.pow(reduce_sum(tf.pow(tf.abs(x), p), axis, keepdims=keepdims), 1.0 / p)


def _check_norm_order(ord, axis, matrix: bool) -> None:  # noqa: A002
    if matrix:
        if ord == 2 or ord not in ("euclidean", "fro", 1, np.inf):
            raise ValueError(
                f"norm: matrix norm ord={ord!r} is not supported; use 'euclidean'/'fro', 1 or np.inf"
            )
    elif ord == "fro" and axis is not None:
        raise ValueError("norm: ord='fro' needs axis=None or a pair of axes")
    elif isinstance(ord, str) and ord not in ("euclidean", "fro"):
        raise ValueError(f"norm: unknown ord {ord!r}")
    elif not isinstance(ord, str) and not ord > 0:
        raise ValueError(f"norm: ord must be positive, got {ord!r}")


@api_function("math.reduce_variance")
def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """The variance (mean squared deviation) over `axis`: `tf.math.reduce_variance(x, axis=0)`."""
    with name_scope(name or "reduce_variance"):
        x = _floating(input_tensor, "reduce_variance")
        mean = reduce_mean(x, axis, keepdims=True)
        return reduce_mean(tf.squared_difference(x, mean), axis, keepdims=keepdims)


@api_function("math.reduce_std")
def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """The standard deviation over `axis`: `tf.math.reduce_std(x)`."""
    with name_scope(name or "reduce_std"):
        return tf.sqrt(reduce_variance(input_tensor, axis, keepdims))


# -- arg max and min ----------------------------------------------------------


class _ArgReduce(Op, register=False):
    """The index of the extreme element along `axis`, as `output_type` (int32 or int64)."""

    inputs = ("input",)
    attrs = {"axis": 0, "output_type": dtypes.int64}
    differentiable = False

    def infer(input, axis, output_type):  # noqa: A002
        check_dtype(input, "real_or_bool", "input")
        if output_type not in (dtypes.int32, dtypes.int64):
            raise TypeError(f"output_type must be int32 or int64, got {output_type.name}")
        if input.shape.dims is None:
            return output_type, unknown_shape()
        if input.shape.ndims == 0:
            raise ValueError("cannot take the arg max or min of a scalar")
        axis = normalize_axis(axis, input.shape.ndims)
        return output_type, TensorShape([d for i, d in enumerate(input.shape.dims) if i != axis])


class ArgMax(_ArgReduce):
    """The index of the largest element along `axis` (the first one on ties)."""

    def kernel(xp, input, axis, output_type):  # noqa: A002
        return xp.asarray(xp.argmax(input, axis=axis), dtype=output_type.np)


class ArgMin(_ArgReduce):
    """The index of the smallest element along `axis` (the first one on ties)."""

    def kernel(xp, input, axis, output_type):  # noqa: A002
        return xp.asarray(xp.argmin(input, axis=axis), dtype=output_type.np)


def _arg_reduce(op_type: str, input, axis, dimension, output_type, name):  # noqa: A002
    if axis is not None and dimension is not None:
        raise ValueError("Cannot specify both 'axis' and 'dimension'")
    axis = dimension if axis is None else axis
    axis = 0 if axis is None else int(np.reshape(_static_axis(axis), []))
    attrs = {"axis": axis, "output_type": dtypes.as_dtype(output_type)}
    return build(op_type, [convert_to_tensor(input)], attrs, name=name or op_type)


@api_function("argmax", "math.argmax")
def argmax(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):  # noqa: A002
    """The index of the largest element along `axis` (TF1: default 0): `tf.argmax(logits, 1)`."""
    return _arg_reduce("ArgMax", input, axis, dimension, output_type, name)


@api_function("argmin", "math.argmin")
def argmin(input, axis=None, name=None, dimension=None, output_type=dtypes.int64):  # noqa: A002
    """The index of the smallest element along `axis` (TF1: default 0): `tf.argmin(distances, 1)`."""
    return _arg_reduce("ArgMin", input, axis, dimension, output_type, name)


@api_function("arg_max")
def arg_max(input, dimension, output_type=dtypes.int64, name=None):  # noqa: A002
    """TF1's older spelling of `tf.argmax(input, dimension)`."""
    return _arg_reduce("ArgMax", input, None, dimension, output_type, name)


@api_function("arg_min")
def arg_min(input, dimension, output_type=dtypes.int64, name=None):  # noqa: A002
    """TF1's older spelling of `tf.argmin(input, dimension)`."""
    return _arg_reduce("ArgMin", input, None, dimension, output_type, name)


# -- scans --------------------------------------------------------------------


class _Scan(Op, register=False):
    """A cumulative reduction along `axis`; `exclusive` leaves out each element
    itself, `reverse` runs from the end."""

    inputs = ("x",)
    attrs = {"axis": 0, "exclusive": False, "reverse": False}

    def infer(x, axis, exclusive, reverse):
        check_dtype(x, "numeric", "x")
        if x.shape.ndims is not None:
            normalize_axis(axis, x.shape.ndims)
        return same(x)


def _scan(xp, scan, identity, x, axis, exclusive, reverse):
    if reverse:
        x = xp.flip(x, axis)
    out = scan(x, axis=axis, dtype=x.dtype)
    if exclusive and out.shape[axis]:
        out = xp.roll(out, 1, axis=axis)  # a fresh array: safe to write
        first = [slice(None)] * out.ndim
        first[axis] = 0
        out[tuple(first)] = identity
    return xp.flip(out, axis) if reverse else out


class Cumsum(_Scan):
    """Running sums along `axis`."""

    def kernel(xp, x, axis, exclusive, reverse):
        return _scan(xp, xp.cumsum, 0, x, axis, exclusive, reverse)

    def grad(op, dy):
        a = op.attrs
        return [tf.cumsum(dy, a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"])]


class Cumprod(_Scan):
    """Running products along `axis`."""

    def kernel(xp, x, axis, exclusive, reverse):
        return _scan(xp, xp.cumprod, 1, x, axis, exclusive, reverse)

    def grad(op, dy):
        a = op.attrs
        x, y = op.inputs[0], op.outputs[0]
        summed = tf.cumsum(y * dy, a["axis"], exclusive=a["exclusive"], reverse=not a["reverse"])
        return [summed / x]  # as TensorFlow: not defined where x is 0


def _scan_api(op_type: str, name: str, example: str):
    def scan_fn(x, axis=0, exclusive=False, reverse=False, name=None):
        x = convert_to_tensor(x)
        axis = int(np.reshape(_static_axis(axis), []))
        attrs = {"axis": axis, "exclusive": bool(exclusive), "reverse": bool(reverse)}
        return build(op_type, [x], attrs, name=name or op_type)

    scan_fn.__name__ = name
    scan_fn.__doc__ = f"""{op_type} along `axis`: `{example}`.

    `exclusive=True` leaves each element out of its own result; `reverse=True`
    runs from the end: tf.{name}([a, b, c], exclusive=True) is [id, a, a+b] for sums.
    """
    return api_function(name, "math." + name)(scan_fn)


cumsum = _scan_api("Cumsum", "cumsum", "tf.cumsum(x, axis=1)")
cumprod = _scan_api("Cumprod", "cumprod", "tf.cumprod(x, reverse=True)")


class ReduceToShape(Op):
    """Sums `input` down to `shape` over the dims along which `shape` broadcasts to it.

    The gradient driver's run-time fallback (raygraph.gradients.reduce_to_shape)
    when the broadcast dimensions are not known while the graph is built.
    """

    inputs = ("input", "shape")

    def infer(input, shape):  # noqa: A002
        from ops.common import partial_shape_value

        return input.dtype, partial_shape_value(shape)

    def kernel(xp, input, shape):  # noqa: A002
        shape = tuple(int(d) for d in shape)
        if input.shape == shape:
            return input
        lead = input.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, d in enumerate(shape) if d == 1 and input.shape[lead + i] != 1
        )
        return xp.sum(input, axis=axes, keepdims=True, dtype=input.dtype).reshape(shape)

    def grad(op, dy):
        return [dy * tf.ones_like(op.inputs[0]), None]
