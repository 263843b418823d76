"""Reductions over axes: sum, mean, max, min, prod, argmax, argmin.

`axis` is a static attribute (an int, a list, or None for all axes); TensorFlow's
older `reduction_indices` and `keep_dims` spellings are accepted too.
"""

from __future__ import annotations

from ops import api as tf
from ops.common import check_dtype, reduced_shape, reduction_axes
from ops.registry import Op, api_function, build
from raygraph.graph import convert_to_tensor


class _Reduce(Op, register=False):
    inputs = ("input",)
    attrs = {"axis": None, "keepdims": False}

    def infer(input, axis, keepdims):  # noqa: A002
        check_dtype(input, "numeric", "input")
        return input.dtype, reduced_shape(input.shape, axis, keepdims)


class Sum(_Reduce):
    """Sum of elements over `axis`."""

    def kernel(xp, input, axis, keepdims):  # noqa: A002
        return xp.sum(input, axis=axis, keepdims=keepdims, dtype=input.dtype)

    def grad(op, dy):
        x = op.inputs[0]
        if not op.attrs["keepdims"]:
            dy = tf.reshape(dy, _kept_shape(x, op.attrs["axis"]))
        return [dy * tf.ones_like(x)]


def _kept_shape(x, axis):
    """The shape `x` reduces to with keepdims=True, as a tensor (1 on reduced axes)."""
    rank = x.shape.ndims
    axes = reduction_axes(axis, rank)
    if rank is not None and x.shape.is_fully_defined():
        dims = [1 if axes is None or i in axes else d for i, d in enumerate(x.shape.dims)]
        return dims
    return build("ReducedShape", [tf.shape(x)], {"axis": axes})


def _reduce_api(op_type: str, name: str):
    def reduce_fn(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
                  keep_dims=None):
        axis = reduction_indices if axis is None else axis
        keepdims = bool(keep_dims if keepdims is None else keepdims)
        x = convert_to_tensor(input_tensor)
        axes = reduction_axes(_static_axis(axis), x.shape.ndims)
        return build(op_type, [x], {"axis": axes, "keepdims": keepdims}, name=name or op_type)

    reduce_fn.__name__ = name
    reduce_fn.__doc__ = f"""`tf.{name}(input_tensor, axis=None, keepdims=False)`: {op_type} over `axis`."""
    return reduce_fn


def _static_axis(axis):
    from ops.common import constant_value
    from raygraph.graph import Tensor

    if isinstance(axis, Tensor):
        value = constant_value(axis)
        if value is None:
            raise ValueError(f"axis {axis.name} must be known when the graph is built")
        return value.tolist()
    return axis


reduce_sum = api_function("reduce_sum", "math.reduce_sum")(_reduce_api("Sum", "reduce_sum"))
