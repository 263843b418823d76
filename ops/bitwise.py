"""tf.bitwise: and, or, xor, invert and shifts on integer tensors; tf.bitcast.

The binary ops broadcast like numpy and take one integer dtype for both inputs.
Shifts clamp the shift amount to [0, bits - 1], as TensorFlow's kernels do to
avoid C's undefined behaviour; right_shift is arithmetic on signed types.
None of these ops is differentiable.

Bitcast reinterprets a tensor's bytes as another dtype without copying: to a
smaller type it appends a dimension (int32 -> uint8 gives [..., 4]), to a larger
one the last dimension must equal the size ratio and is removed.
"""

from __future__ import annotations

import numpy as np

from ops.elementwise import Binary, Unary
from ops.registry import Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import convert_to_tensor
from raygraph.shapes import TensorShape, format_shape


class BitwiseAnd(Binary):
    """x & y, elementwise on integers: `tf.bitwise.bitwise_and(flags, 0b101)`."""

    api = "bitwise.bitwise_and"
    kind = "int"
    differentiable = False

    def kernel(xp, x, y):
        return xp.bitwise_and(x, y)


class BitwiseOr(Binary):
    """x | y, elementwise on integers."""

    api = "bitwise.bitwise_or"
    kind = "int"
    differentiable = False

    def kernel(xp, x, y):
        return xp.bitwise_or(x, y)


class BitwiseXor(Binary):
    """x ^ y, elementwise on integers."""

    api = "bitwise.bitwise_xor"
    kind = "int"
    differentiable = False

    def kernel(xp, x, y):
        return xp.bitwise_xor(x, y)


class Invert(Unary):
    """~x, every bit flipped, elementwise on integers."""

    api = "bitwise.invert"
    kind = "int"
    differentiable = False

    def kernel(xp, x):
        return xp.invert(x)


def _clamped(xp, x, y):
    """The shift amounts y within [0, bits of x's dtype - 1]."""
    return xp.clip(y, 0, x.dtype.itemsize * 8 - 1).astype(x.dtype)


class LeftShift(Binary):
    """x << y, elementwise on integers (y clamped to [0, bits - 1]; overflow wraps)."""

    api = "bitwise.left_shift"
    kind = "int"
    differentiable = False

    def kernel(xp, x, y):
        x, y = xp.broadcast_arrays(x, y)
        unsigned = np.dtype(f"u{x.dtype.itemsize}")
        return xp.left_shift(x.astype(unsigned), _clamped(xp, x, y).astype(unsigned)).astype(x.dtype)


class RightShift(Binary):
    """x >> y, elementwise on integers: arithmetic for signed types (y clamped to [0, bits - 1])."""

    api = "bitwise.right_shift"
    kind = "int"
    differentiable = False

    def kernel(xp, x, y):
        return xp.right_shift(x, _clamped(xp, x, y))


# -- bitcast ---------------------------------------------------------------------------------------

_BITCAST_TYPES = ("bool", "string", "variant")


class Bitcast(Op):
    """`input`'s bytes reinterpreted as `type`, without copying."""

    inputs = ("input",)
    attrs = {"type": None}
    differentiable = False
    cost = "free"

    def infer(input, type):  # noqa: A002 - TensorFlow's names
        target = dtypes.as_dtype(type)
        for t in (input.dtype, target):
            if t.name in _BITCAST_TYPES:
                raise TypeError(f"bitcast takes numeric types, not {t.name}")
        source_size, target_size = input.dtype.np.itemsize, target.np.itemsize
        dims = input.shape.dims
        if source_size == target_size or dims is None:
            return target, input.shape if source_size == target_size else None
        if source_size > target_size:
            return target, TensorShape([*dims, source_size // target_size])
        ratio = target_size // source_size
        if not dims or dims[-1] not in (None, ratio):
            raise ValueError(
                f"Cannot bitcast from {input.dtype.name} to {target.name}: shape "
                f"{format_shape(input.shape)} must end in {ratio}"
            )
        return target, TensorShape(dims[:-1])

    def kernel(xp, input, type):  # noqa: A002
        target = dtypes.as_dtype(type).np
        source_size, target_size = input.dtype.itemsize, target.itemsize
        shape = tuple(input.shape)
        if source_size > target_size:
            shape = (*shape, source_size // target_size)
        elif source_size < target_size:
            if not shape or shape[-1] != target_size // source_size:
                raise errors.InvalidArgumentError(
                    None, None, f"Cannot bitcast from {input.dtype} to {target}: shape {list(shape)}"
                )
            shape = shape[:-1]
        flat = input.reshape(-1)  # a copy only where input is not contiguous
        return flat.view(target).reshape(shape)


@api_function("bitcast")
def bitcast(input, type, name=None):  # noqa: A002
    """`input`'s bytes as another dtype: `tf.bitcast(tf.constant(1.0), tf.int32)` is 1065353216.

    A smaller type adds a last dimension of the size ratio; a larger one needs
    the last dimension to be that ratio and removes it.
    """
    return build(
        "Bitcast", [convert_to_tensor(input, name="input")], {"type": dtypes.as_dtype(type)}, name=name
    )
