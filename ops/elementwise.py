"""The bases of elementwise ops: unary and broadcasting binary ops, comparisons.

A subclass says which dtypes it accepts (`kind`: float, int, numeric, bool,
real_or_bool; see ops.common.check_dtype) and its output dtype (`result`: None
for the input's, bool for comparisons and predicates); its shape function is
made from those. Binary ops broadcast like numpy and their inputs share one
dtype (TensorFlow does not promote: float32 + int32 is a TypeError naming both).
Their gradients are of the output's shape; the gradient driver sums them back
to each input's shape. These bases declare no op themselves.
"""

from __future__ import annotations

from ops import api as tf
from ops.common import broadcast_shape, check_dtype
from ops.registry import Op
from raygraph import dtypes
from raygraph.graph import Tensor


def _elementwise_infer(kind: str, result, names: tuple[str, ...]):
    """The shape function of an elementwise op: dtypes checked, shapes broadcast."""

    def infer(*inputs):
        for t, name in zip(inputs, names):
            check_dtype(t, kind, name)
        shape = inputs[0].shape if len(inputs) == 1 else broadcast_shape(inputs[0].shape, inputs[1].shape)
        return (result or inputs[0].dtype), shape

    return infer


class Elementwise(Op, register=False):
    """An elementwise op; its shape function comes from `kind`, `result` and `inputs`."""

    kind = "numeric"  # the dtypes accepted (ops.common.check_dtype)
    result = None  # the output dtype; None for the input's

    def __init_subclass__(cls, **kwargs):
        if cls.__dict__.get("infer") is None:
            cls.infer = staticmethod(_elementwise_infer(cls.kind, cls.result, cls.inputs))
        super().__init_subclass__(**kwargs)


class Binary(Elementwise, register=False):
    """An elementwise binary op with numpy broadcasting: z = f(x, y)."""

    inputs = ("x", "y")
    same_dtype = ("x", "y")
    broadcasts = True


class Compare(Binary, register=False):
    """An elementwise comparison: a bool tensor of the broadcast shape."""

    result = dtypes.bool
    differentiable = False


class Unary(Elementwise, register=False):
    """An elementwise unary op: y = f(x), of x's shape."""

    inputs = ("x",)


def mask(condition: Tensor, like: Tensor) -> Tensor:
    """A bool condition as 1s and 0s of `like`'s dtype, to multiply gradients by."""
    return tf.cast(condition, like.dtype)
