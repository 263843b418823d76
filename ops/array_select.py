"""Selecting: where with one argument (Where: the true coordinates) and with three (Select, SelectV2).

TF1's `tf.where(c, x, y)` (Select) takes a condition of x's shape or a vector
over x's rows; `tf.where_v2` (SelectV2) broadcasts all three numpy-style. The
gradient routes dy to x where the condition holds and to y elsewhere.
"""

from __future__ import annotations

from ops import api as tf
from ops.common import broadcast_shape, check_dtype
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_pair, convert_to_tensor
from raygraph.shapes import format_shape


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
        zeros_ = tf.zeros_like(dy)
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
        zero = tf.zeros([], dy.dtype)
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
