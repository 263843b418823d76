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
        return [tf.broadcast_to(_keep_dims(dy, x, op), tf.shape(x))]


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
