"""Array ops: constants, placeholders, shapes, reshaping, joining and slicing.

Shape-like arguments (Reshape's shape, Fill's dims, Tile's multiples, slice
bounds) are input tensors, as in TensorFlow, so they may be computed at run time
(`tf.shape(x)[0]`); shape functions read them with `constant_value` when the
graph already knows them. Axes are static attributes.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops.common import partial_shape_value, same
from ops.registry import REQUIRED, Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_to_tensor, to_numpy
from raygraph.shapes import TensorShape, as_shape, format_shape


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

    With `shape`, a scalar is filled to that shape and a value of the same size is
    reshaped to it.
    """
    array = to_numpy(value, dtype)
    if shape is not None:
        shape = [int(d) for d in shape]
        if array.size == 1:
            array = np.full(shape, array.reshape(()), dtype=array.dtype)
        elif verify_shape and list(array.shape) != shape:
            raise TypeError(f"Expected Tensor's shape: {shape}, got {list(array.shape)}.")
        elif array.size == int(np.prod(shape)):
            array = array.reshape(shape)
        else:
            raise ValueError(f"Cannot reshape a constant of {array.size} elements to {shape}")
    return build("Const", [], {"value": array, "dtype": dtypes.as_dtype(array.dtype)}, name=name)


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
    api = "placeholder_with_default"

    def infer(input, shape):  # noqa: A002 - TensorFlow's name
        shape = as_shape(shape)
        if not input.shape.is_compatible_with(shape):
            raise ValueError(f"default value of shape {format_shape(input.shape)} is not compatible with {format_shape(shape)}")
        return input.dtype, shape

    def kernel(xp, input, shape):  # noqa: A002
        return input

    def grad(op, dy):
        return [dy]


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


class Pack(Op):
    """Stacks tensors of one shape along a new axis: `tf.stack([a, b], axis=0)`."""

    inputs = ("values*",)
    attrs = {"axis": 0}
    same_dtype = ("values",)
    api = "stack"

    def infer(values, axis):
        if not values:
            raise ValueError("stack needs at least one tensor")
        shape = values[0].shape
        for v in values[1:]:
            if not shape.is_compatible_with(v.shape):
                raise ValueError(f"shapes {format_shape(shape)} and {format_shape(v.shape)} differ; all inputs must have one shape")
            shape = shape.merge_with(v.shape)
        if shape.dims is None:
            return values[0].dtype, None
        rank = shape.ndims + 1
        if not -rank <= axis < rank:
            raise ValueError(f"axis {axis} is out of range for rank {rank}")
        dims = list(shape.dims)
        dims.insert(axis % rank, len(values))
        return values[0].dtype, dims

    def kernel(xp, values, axis):
        return xp.stack(values, axis=axis)

    def grad(op, dz):
        return tf.unstack(dz, num=len(op.inputs), axis=op.attrs["axis"])


class Shape(Op):
    """The shape of a tensor as a 1-D int32 tensor (known at run time)."""

    inputs = ("input",)
    attrs = {"out_type": dtypes.int32}
    api = "shape"
    differentiable = False

    def infer(input, out_type):  # noqa: A002
        return out_type, [input.shape.ndims]

    def kernel(xp, input, out_type):  # noqa: A002
        return xp.asarray(input.shape, dtype=out_type.np)


class Reshape(Op):
    """`tensor` with a new shape of the same size; one dim of `shape` may be -1."""

    inputs = ("tensor", "shape")
    api = "reshape"

    def infer(tensor, shape):
        target = partial_shape_value(shape)
        value = shape.op.attrs["value"] if shape.op.type == "Const" else None
        if value is not None and np.sum(np.asarray(value) == -1) > 1:
            raise ValueError(f"at most one dimension of shape may be -1, got {list(value)}")
        if target.dims is None:
            return tensor.dtype, None
        n = tensor.shape.num_elements()
        known = [d for d in target.dims if d is not None]
        product = int(np.prod(known)) if known else 1
        unknown = [i for i, d in enumerate(target.dims) if d is None]
        if n is not None and value is not None:
            if len(unknown) == 1 and product > 0 and n % product == 0:
                dims = list(target.dims)
                dims[unknown[0]] = n // product
                return tensor.dtype, dims
            if not unknown and product != n:
                raise ValueError(
                    f"Cannot reshape a tensor with {n} elements to shape {list(value)} "
                    f"({product} elements)"
                )
            if unknown and (product == 0 or n % product):
                raise ValueError(f"Cannot reshape a tensor with {n} elements to shape {list(value)}")
        return tensor.dtype, target

    def kernel(xp, tensor, shape):
        return xp.reshape(tensor, [int(d) for d in shape])

    def grad(op, dy):
        return [tf.reshape(dy, tf.shape(op.inputs[0])), None]


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
        if not -rank <= axis < rank:
            raise ValueError(f"axis {axis} is out of range for rank {rank}")
        dims = list(value.shape.dims)
        n = dims.pop(axis % rank)
        if num is None:
            if n is None:
                raise ValueError(f"Cannot infer num from shape {format_shape(value.shape)}")
            num = n
        elif n is not None and n != num:
            raise ValueError(f"num {num} does not match dimension {axis} of size {n}")
        return [(value.dtype, dims)] * num

    def kernel(xp, value, num, axis):
        return [xp.take(value, i, axis=axis) for i in range(value.shape[axis])]

    def grad(op, *dys):
        dys = [dy if dy is not None else tf.zeros_like(out) for dy, out in zip(dys, op.outputs)]
        return [tf.stack(dys, axis=op.attrs["axis"])]


@api_function("unstack")
def unstack(value, num=None, axis=0, name="unstack"):
    """Splits `value` along `axis` into a list of tensors."""
    return build("Unpack", [value], {"num": num, "axis": axis}, name=name)


class ZerosLike(Op):
    """Zeros with the shape and dtype of x."""

    inputs = ("x",)
    differentiable = False

    def infer(x):
        return same(x)

    def kernel(xp, x):
        return xp.zeros_like(x)


@api_function("zeros_like")
def zeros_like(tensor, dtype=None, name=None, optimize=True):
    """Zeros with the shape of `tensor` (and its dtype unless `dtype` is given)."""
    tensor = convert_to_tensor(tensor)
    out = build("ZerosLike", [tensor], name=name or "zeros_like")
    return out if dtype is None or dtypes.as_dtype(dtype) == tensor.dtype else tf.cast(out, dtype)


class BroadcastTo(Op):
    """`input` broadcast numpy-style to `shape`."""

    inputs = ("input", "shape")
    api = "broadcast_to"

    def infer(input, shape):  # noqa: A002
        from ops.common import broadcast_shape

        target = partial_shape_value(shape)
        broadcast_shape(input.shape, target)  # raises if incompatible
        return input.dtype, target

    def kernel(xp, input, shape):  # noqa: A002
        return xp.broadcast_to(input, tuple(int(d) for d in shape))

    def grad(op, dy):
        from raygraph.gradients import reduce_to_shape

        return [reduce_to_shape(dy, op.inputs[0]), None]


class OnesLike(Op):
    """Ones with the shape and dtype of x."""

    inputs = ("x",)
    differentiable = False

    def infer(x):
        return same(x)

    def kernel(xp, x):
        return xp.ones_like(x)


@api_function("ones_like")
def ones_like(tensor, dtype=None, name=None, optimize=True):
    """Ones with the shape of `tensor` (and its dtype unless `dtype` is given)."""
    tensor = convert_to_tensor(tensor)
    out = build("OnesLike", [tensor], name=name or "ones_like")
    return out if dtype is None or dtypes.as_dtype(dtype) == tensor.dtype else tf.cast(out, dtype)


del TensorShape
