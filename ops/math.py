"""Elementwise math, comparisons, logic, casts and tensor products.

Binary ops broadcast like numpy; their inputs share one dtype (TensorFlow does not
promote: float32 + int32 is a TypeError naming both). Each op accepts a `kind` of
dtype (float, int, numeric, bool; see ops.common.check_dtype) and says its output
dtype (the input's, or bool for comparisons and predicates). Kernels are numpy or
cupy calls on `xp` and return exactly the inferred dtype; integer division by zero
raises, as TensorFlow's "Integer division by zero" does.

Gradients are graph ops. Broadcasting ops return gradients of the output's shape
and the gradient driver sums them back to each input's shape. Masks are built
with a cast and a multiply (`dz * cast(x >= y)`), so the family needs no select
op. Ops that TensorFlow builds from others (truediv on integers, logical_xor,
clip_by_value, tensordot, scalar_mul) are composites here too, so they need no
gradient of their own.

Special functions (erf, lgamma, digamma, polygamma) use scipy's implementations
(cupyx's on GPUs); without scipy, erf and lgamma fall back to Python's math
module, elementwise.
"""

from __future__ import annotations

import math

import numpy as np

from ops import api as tf
from ops.common import broadcast_shape, check_dtype, constant_value, normalize_axis
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import Tensor, convert_pair, convert_to_tensor
from raygraph.shapes import TensorShape, unknown_shape


def _elementwise_infer(kind: str, result, names: tuple[str, ...]):
    """The shape function of an elementwise op: dtypes checked, shapes broadcast."""

    def infer(*inputs):
        for t, name in zip(inputs, names):
            check_dtype(t, kind, name)
        shape = inputs[0].shape if len(inputs) == 1 else broadcast_shape(inputs[0].shape, inputs[1].shape)
        return (result or inputs[0].dtype), shape

    return infer


class _Elementwise(Op, register=False):
    kind = "numeric"  # the dtypes accepted (ops.common.check_dtype)
    result = None  # the output dtype; None for the input's

    def __init_subclass__(cls, **kwargs):
        if cls.__dict__.get("infer") is None:
            cls.infer = staticmethod(_elementwise_infer(cls.kind, cls.result, cls.inputs))
        super().__init_subclass__(**kwargs)


class _Binary(_Elementwise, register=False):
    """An elementwise binary op with numpy broadcasting: z = f(x, y)."""

    inputs = ("x", "y")
    same_dtype = ("x", "y")
    broadcasts = True


class _Compare(_Binary, register=False):
    """An elementwise comparison: a bool tensor of the broadcast shape."""

    result = dtypes.bool
    differentiable = False


class _Unary(_Elementwise, register=False):
    """An elementwise unary op: y = f(x), of x's shape."""

    inputs = ("x",)


def _mask(condition: Tensor, like: Tensor) -> Tensor:
    """A bool condition as 1s and 0s of `like`'s dtype, to multiply gradients by."""
    return tf.cast(condition, like.dtype)


def _check_divisor(xp, y) -> None:
    if y.dtype.kind in "iu" and bool(xp.any(y == 0)):
        raise ZeroDivisionError("Integer division by zero")


# -- binary arithmetic --------------------------------------------------------


class AddV2(_Binary):
    """x + y, elementwise with broadcasting: `tf.add(x, 1.0)`."""

    api = ("add", "math.add")

    def kernel(xp, x, y):
        return xp.add(x, y)

    def grad(op, dz):
        return [dz, dz]


class Sub(_Binary):
    """x - y, elementwise with broadcasting: `tf.subtract(x, mean)`."""

    api = ("subtract", "math.subtract")

    def kernel(xp, x, y):
        return xp.subtract(x, y)

    def grad(op, dz):
        return [dz, tf.negative(dz)]


class Mul(_Binary):
    """x * y, elementwise with broadcasting: `tf.multiply(x, mask)`."""

    api = ("multiply", "math.multiply")

    def kernel(xp, x, y):
        return xp.multiply(x, y)

    def grad(op, dz):
        x, y = op.inputs
        return [dz * y, x * dz]


class RealDiv(_Binary):
    """x / y for floating tensors (`tf.truediv` also takes integers)."""

    api = ("realdiv", "math.realdiv")
    kind = "float"

    def kernel(xp, x, y):
        return xp.true_divide(x, y)

    def grad(op, dz):
        x, y = op.inputs
        return [dz / y, tf.negative(dz) * x / (y * y)]


class FloorDiv(_Binary):
    """floor(x / y), elementwise: `tf.floordiv(7, 2) == 3`, `tf.floordiv(-7, 2) == -4`."""

    api = ("floordiv", "math.floordiv")
    differentiable = False  # piecewise constant: TensorFlow's gradient is None

    def kernel(xp, x, y):
        _check_divisor(xp, y)
        if x.dtype.kind == "f":
            return xp.floor(xp.true_divide(x, y))
        return xp.floor_divide(x, y)


class FloorMod(_Binary):
    """The remainder of floor division; it has the sign of y: `tf.floormod(-7, 3) == 2`."""

    api = ("floormod", "mod", "math.floormod", "math.mod")

    def kernel(xp, x, y):
        _check_divisor(xp, y)
        return xp.mod(x, y)

    def grad(op, dz):
        x, y = op.inputs
        return [dz, dz * tf.negative(tf.floordiv(x, y))]


class DivNoNan(_Binary):
    """x / y, with 0 where y is 0 (`tf.div_no_nan` also takes integers)."""

    kind = "float"

    def kernel(xp, x, y):
        zero = y == 0
        safe = xp.where(zero, xp.ones((), y.dtype), y)
        return xp.where(zero, xp.zeros((), x.dtype), xp.true_divide(x, safe))

    def grad(op, dz):
        x, y = op.inputs
        return [tf.div_no_nan(dz, y), dz * tf.div_no_nan(tf.div_no_nan(tf.negative(x), y), y)]


class Pow(_Binary):
    """x ** y, elementwise: `tf.pow(x, 2.0)`. Integers to negative powers raise."""

    api = ("pow", "math.pow")

    def kernel(xp, x, y):
        if y.dtype.kind == "i" and bool(xp.any(y < 0)):
            raise ValueError("Integers to negative integer powers are not allowed")
        return xp.power(x, y)

    def grad(op, dz):
        x, y = op.inputs
        z = op.outputs[0]
        dx = dz * y * tf.pow(x, y - 1)
        positive = _mask(tf.greater(x, 0), x)  # log(x) only where x > 0, else 0
        log_x = tf.log(x * positive + (1 - positive))
        return [dx, dz * z * log_x]


class Maximum(_Binary):
    """The larger of x and y, elementwise: `tf.maximum(x, 0.0)`."""

    api = ("maximum", "math.maximum")

    def kernel(xp, x, y):
        return xp.maximum(x, y)

    def grad(op, dz):
        x, y = op.inputs
        dx = dz * _mask(tf.greater_equal(x, y), dz)  # ties go to x, as in TensorFlow
        return [dx, dz - dx]


class Minimum(_Binary):
    """The smaller of x and y, elementwise: `tf.minimum(x, 6.0)`."""

    api = ("minimum", "math.minimum")

    def kernel(xp, x, y):
        return xp.minimum(x, y)

    def grad(op, dz):
        x, y = op.inputs
        dx = dz * _mask(tf.less_equal(x, y), dz)
        return [dx, dz - dx]


class SquaredDifference(_Binary):
    """(x - y) ** 2, elementwise: `tf.squared_difference(prediction, target)`."""

    api = ("squared_difference", "math.squared_difference")

    def kernel(xp, x, y):
        d = xp.subtract(x, y)
        return xp.multiply(d, d)

    def grad(op, dz):
        x, y = op.inputs
        dx = dz * (x - y) * 2
        return [dx, tf.negative(dx)]


class Atan2(_Binary):
    """The angle of the point (x, y), elementwise: `tf.atan2(y, x)`."""

    inputs = ("y", "x")
    same_dtype = ("y", "x")
    kind = "float"
    api = ("atan2", "math.atan2")

    def kernel(xp, y, x):
        return xp.arctan2(y, x)

    def grad(op, dz):
        y, x = op.inputs
        scale = dz / (x * x + y * y)
        return [scale * x, tf.negative(scale) * y]


def _float_pair(x, y):
    """Operands of a true division: integers become float64 (int32, int64) or float32."""
    x, y = convert_pair(x, y)
    if x.dtype.is_integer:
        target = dtypes.float64 if x.dtype.size >= 4 else dtypes.float32
        x, y = cast(x, target), cast(y, target)
    return x, y


@api_function("truediv", "divide", "math.truediv", "math.divide")
def truediv(x, y, name=None):
    """x / y; integers are cast to float first (int32 to float64), as in TF: `tf.truediv(7, 2) == 3.5`."""
    x, y = _float_pair(x, y)
    return build("RealDiv", [x, y], name=name or "truediv")


@api_function("div_no_nan", "math.divide_no_nan")
def div_no_nan(x, y, name=None):
    """x / y, or 0 where y is 0: `tf.div_no_nan(total, count)`."""
    x, y = _float_pair(x, y)
    return build("DivNoNan", [x, y], name=name or "div_no_nan")


@api_function("div")
def div(x, y, name=None):
    """TF1's `tf.div`: floor division for integers, true division for floats.

    >>> tf.div(7, 2), tf.div(7.0, 2.0)   # 3 and 3.5
    """
    x, y = convert_pair(x, y)
    return build("FloorDiv" if x.dtype.is_integer else "RealDiv", [x, y], name=name or "div")


# -- comparisons and logic ----------------------------------------------------


class Equal(_Compare):
    """x == y, elementwise (numbers or bools): `tf.equal(predictions, labels)`."""

    api = ("equal", "math.equal")
    kind = "real_or_bool"

    def kernel(xp, x, y):
        return xp.equal(x, y)


class NotEqual(_Compare):
    """x != y, elementwise (numbers or bools)."""

    api = ("not_equal", "math.not_equal")
    kind = "real_or_bool"

    def kernel(xp, x, y):
        return xp.not_equal(x, y)


class Less(_Compare):
    """x < y, elementwise."""

    api = ("less", "math.less")

    def kernel(xp, x, y):
        return xp.less(x, y)


class LessEqual(_Compare):
    """x <= y, elementwise."""

    api = ("less_equal", "math.less_equal")

    def kernel(xp, x, y):
        return xp.less_equal(x, y)


class Greater(_Compare):
    """x > y, elementwise."""

    api = ("greater", "math.greater")

    def kernel(xp, x, y):
        return xp.greater(x, y)


class GreaterEqual(_Compare):
    """x >= y, elementwise."""

    api = ("greater_equal", "math.greater_equal")

    def kernel(xp, x, y):
        return xp.greater_equal(x, y)


class LogicalAnd(_Compare):
    """x and y, elementwise on bools: `tf.logical_and(valid, positive)`."""

    api = ("logical_and", "math.logical_and")
    kind = "bool"

    def kernel(xp, x, y):
        return xp.logical_and(x, y)


class LogicalOr(_Compare):
    """x or y, elementwise on bools."""

    api = ("logical_or", "math.logical_or")
    kind = "bool"

    def kernel(xp, x, y):
        return xp.logical_or(x, y)


class LogicalNot(_Unary):
    """not x, elementwise on bools."""

    api = ("logical_not", "math.logical_not")
    kind = "bool"
    differentiable = False

    def kernel(xp, x):
        return xp.logical_not(x)


@api_function("logical_xor", "math.logical_xor")
def logical_xor(x, y, name="LogicalXor"):
    """x xor y on bools, built as (x or y) and not (x and y), as in TensorFlow."""
    x, y = convert_pair(x, y)
    return tf.logical_and(tf.logical_or(x, y), tf.logical_not(tf.logical_and(x, y)), name=name)


# -- unary --------------------------------------------------------------------


class Neg(_Unary):
    """-x, elementwise."""

    api = ("negative", "math.negative")

    def kernel(xp, x):
        return xp.negative(x)

    def grad(op, dy):
        return [tf.negative(dy)]


class Abs(_Unary):
    """|x|, elementwise."""

    api = ("abs", "math.abs")

    def kernel(xp, x):
        return xp.abs(x)

    def grad(op, dy):
        return [dy * tf.sign(op.inputs[0])]


class Sign(_Unary):
    """-1, 0 or 1 by the sign of x; its gradient is 0, as in TensorFlow."""

    api = ("sign", "math.sign")

    def kernel(xp, x):
        return xp.sign(x)

    def grad(op, dy):
        return [tf.zeros_like(op.inputs[0])]


class Square(_Unary):
    """x * x, elementwise."""

    api = ("square", "math.square")

    def kernel(xp, x):
        return xp.square(x)

    def grad(op, dy):
        return [dy * (op.inputs[0] * 2)]


class Exp(_Unary):
    """e ** x, elementwise."""

    api = ("exp", "math.exp")
    kind = "float"

    def kernel(xp, x):
        return xp.exp(x)

    def grad(op, dy):
        return [dy * op.outputs[0]]


class Expm1(_Unary):
    """e ** x - 1, accurate for small x."""

    api = ("expm1", "math.expm1")
    kind = "float"

    def kernel(xp, x):
        return xp.expm1(x)

    def grad(op, dy):
        return [dy * tf.exp(op.inputs[0])]


class Log(_Unary):
    """The natural logarithm, elementwise: `tf.log(probabilities)`."""

    api = ("log", "math.log")
    kind = "float"

    def kernel(xp, x):
        return xp.log(x)

    def grad(op, dy):
        return [dy / op.inputs[0]]


class Log1p(_Unary):
    """log(1 + x), accurate for small x."""

    api = ("log1p", "math.log1p")
    kind = "float"

    def kernel(xp, x):
        return xp.log1p(x)

    def grad(op, dy):
        return [dy / (1 + op.inputs[0])]


class Sqrt(_Unary):
    """The square root, elementwise."""

    api = ("sqrt", "math.sqrt")
    kind = "float"

    def kernel(xp, x):
        return xp.sqrt(x)

    def grad(op, dy):
        return [dy * 0.5 / op.outputs[0]]


class Rsqrt(_Unary):
    """1 / sqrt(x), elementwise."""

    api = ("rsqrt", "math.rsqrt")
    kind = "float"

    def kernel(xp, x):
        return xp.reciprocal(xp.sqrt(x))

    def grad(op, dy):
        y = op.outputs[0]
        return [dy * -0.5 * y * y * y]


class Reciprocal(_Unary):
    """1 / x, elementwise."""

    api = ("reciprocal", "math.reciprocal")
    kind = "float"

    def kernel(xp, x):
        return xp.reciprocal(x)

    def grad(op, dy):
        return [tf.negative(dy) * tf.square(op.outputs[0])]


class Sin(_Unary):
    """The sine, elementwise."""

    api = ("sin", "math.sin")
    kind = "float"

    def kernel(xp, x):
        return xp.sin(x)

    def grad(op, dy):
        return [dy * tf.cos(op.inputs[0])]


class Cos(_Unary):
    """The cosine, elementwise."""

    api = ("cos", "math.cos")
    kind = "float"

    def kernel(xp, x):
        return xp.cos(x)

    def grad(op, dy):
        return [tf.negative(dy) * tf.sin(op.inputs[0])]


class Tan(_Unary):
    """The tangent, elementwise."""

    api = ("tan", "math.tan")
    kind = "float"

    def kernel(xp, x):
        return xp.tan(x)

    def grad(op, dy):
        return [dy / tf.square(tf.cos(op.inputs[0]))]


class Asin(_Unary):
    """The inverse sine, elementwise."""

    api = ("asin", "math.asin")
    kind = "float"

    def kernel(xp, x):
        return xp.arcsin(x)

    def grad(op, dy):
        x = op.inputs[0]
        return [dy * tf.rsqrt(1 - x * x)]


class Acos(_Unary):
    """The inverse cosine, elementwise."""

    api = ("acos", "math.acos")
    kind = "float"

    def kernel(xp, x):
        return xp.arccos(x)

    def grad(op, dy):
        x = op.inputs[0]
        return [tf.negative(dy) * tf.rsqrt(1 - x * x)]


class Atan(_Unary):
    """The inverse tangent, elementwise."""

    api = ("atan", "math.atan")
    kind = "float"

    def kernel(xp, x):
        return xp.arctan(x)

    def grad(op, dy):
        x = op.inputs[0]
        return [dy / (1 + x * x)]


class Sinh(_Unary):
    """The hyperbolic sine, elementwise."""

    api = ("sinh", "math.sinh")
    kind = "float"

    def kernel(xp, x):
        return xp.sinh(x)

    def grad(op, dy):
        return [dy * tf.cosh(op.inputs[0])]


class Cosh(_Unary):
    """The hyperbolic cosine, elementwise."""

    api = ("cosh", "math.cosh")
    kind = "float"

    def kernel(xp, x):
        return xp.cosh(x)

    def grad(op, dy):
        return [dy * tf.sinh(op.inputs[0])]


class Tanh(_Unary):
    """The hyperbolic tangent, elementwise: `tf.nn.tanh(logits)`."""

    api = ("tanh", "nn.tanh", "math.tanh")
    kind = "float"

    def kernel(xp, x):
        return xp.tanh(x)

    def grad(op, dy):
        y = op.outputs[0]
        return [dy * (1 - y * y)]


class Sigmoid(_Unary):
    """1 / (1 + exp(-x)), elementwise, without overflow for large |x|: `tf.sigmoid(logits)`."""

    api = ("sigmoid", "nn.sigmoid", "math.sigmoid")
    kind = "float"

    def kernel(xp, x):
        e = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows
        return xp.where(x >= 0, xp.ones((), x.dtype), e) / (1 + e)

    def grad(op, dy):
        y = op.outputs[0]
        return [dy * y * (1 - y)]


class Floor(_Unary):
    """The largest integer not above x, elementwise (floats)."""

    api = ("floor", "math.floor")
    kind = "float"
    differentiable = False  # TensorFlow's gradient is None

    def kernel(xp, x):
        return xp.floor(x)


class Ceil(_Unary):
    """The smallest integer not below x, elementwise (floats)."""

    api = ("ceil", "math.ceil")
    kind = "float"
    differentiable = False

    def kernel(xp, x):
        return xp.ceil(x)


class Round(_Unary):
    """x rounded to the nearest integer, halves to even: `tf.round([0.5, 1.5]) == [0., 2.]`."""

    api = ("round", "math.round")
    differentiable = False

    def kernel(xp, x):
        return xp.round(x)


class Rint(_Unary):
    """x rounded to the nearest integer, halves to even (floats)."""

    api = ("rint", "math.rint")
    kind = "float"
    differentiable = False

    def kernel(xp, x):
        return xp.rint(x)


class IsNan(_Unary):
    """Whether x is NaN, elementwise."""

    api = ("is_nan", "math.is_nan")
    kind = "float"
    result = dtypes.bool
    differentiable = False

    def kernel(xp, x):
        return xp.isnan(x)


class IsInf(_Unary):
    """Whether x is +inf or -inf, elementwise."""

    api = ("is_inf", "math.is_inf")
    kind = "float"
    result = dtypes.bool
    differentiable = False

    def kernel(xp, x):
        return xp.isinf(x)


class IsFinite(_Unary):
    """Whether x is neither infinite nor NaN, elementwise."""

    api = ("is_finite", "math.is_finite")
    kind = "float"
    result = dtypes.bool
    differentiable = False

    def kernel(xp, x):
        return xp.isfinite(x)


# -- special functions --------------------------------------------------------

_SCIPY_NAMES = {"erf": "erf", "lgamma": "gammaln", "digamma": "digamma", "polygamma": "polygamma"}


def _special(xp, name: str):
    """The special function `name` for arrays of `xp`: cupyx's, scipy's, or math's."""
    if xp.__name__.startswith("cupy"):
        from cupyx.scipy import special

        return getattr(special, _SCIPY_NAMES[name])
    try:
        from scipy import special
    except ImportError:
        if not hasattr(math, name):
            raise NotImplementedError(f"{name} needs scipy (pip install scipy)") from None
        return xp.vectorize(getattr(math, name), otypes=["float64"])
    return getattr(special, _SCIPY_NAMES[name])


class Erf(_Unary):
    """The error function, elementwise."""

    api = ("erf", "math.erf")
    kind = "float"

    def kernel(xp, x):
        return xp.asarray(_special(xp, "erf")(x), dtype=x.dtype)

    def grad(op, dy):
        x = op.inputs[0]
        return [dy * (2 / math.sqrt(math.pi)) * tf.exp(tf.negative(x * x))]


class Lgamma(_Unary):
    """log |Gamma(x)|, elementwise."""

    api = ("lgamma", "math.lgamma")
    kind = "float"

    def kernel(xp, x):
        return xp.asarray(_special(xp, "lgamma")(x), dtype=x.dtype)

    def grad(op, dy):
        return [dy * tf.digamma(op.inputs[0])]


class Digamma(_Unary):
    """The derivative of lgamma, elementwise."""

    api = ("digamma", "math.digamma")
    kind = "float"

    def kernel(xp, x):
        return xp.asarray(_special(xp, "digamma")(x), dtype=x.dtype)

    def grad(op, dy):
        x = op.inputs[0]
        return [dy * tf.polygamma(tf.ones_like(x), x)]


class Polygamma(_Binary):
    """The a-th derivative of digamma at x (a a whole number): `tf.polygamma(1., x)`."""

    inputs = ("a", "x")
    same_dtype = ("a", "x")
    kind = "float"
    api = ("polygamma", "math.polygamma")

    def kernel(xp, a, x):
        a, x = xp.broadcast_arrays(a, x)
        return xp.asarray(_special(xp, "polygamma")(a.astype("int64"), x), dtype=x.dtype)

    def grad(op, dz):
        a, x = op.inputs
        return [None, dz * tf.polygamma(a + 1, x)]


# -- sums, casts and scaling --------------------------------------------------


class AddN(Op):
    """The elementwise sum of a list of tensors of one shape and dtype: `tf.add_n(losses)`."""

    inputs = ("inputs*",)
    same_dtype = ("inputs",)
    api = ("add_n", "math.add_n")

    def infer(inputs):
        if not inputs:
            raise ValueError("add_n needs at least one tensor")
        shape = inputs[0].shape
        for t in inputs[1:]:
            if not shape.is_compatible_with(t.shape):
                raise ValueError(f"all inputs must have one shape, got {shape} and {t.shape}")
            shape = shape.merge_with(t.shape)
        return inputs[0].dtype, shape

    def kernel(xp, inputs):
        if len(inputs) == 1:
            return inputs[0]
        out = xp.add(inputs[0], inputs[1])
        for x in inputs[2:]:  # accumulate in place into the fresh sum (0-d sums are scalars)
            out = xp.add(out, x, out=out) if out.ndim else out + x
        return out

    def grad(op, dz):
        return [dz] * len(op.inputs)


class Cast(Op):
    """Converts x to another dtype (floats to ints truncate toward zero)."""

    inputs = ("x",)
    attrs = {"DstT": None}

    def infer(x, DstT):  # noqa: N803 - TensorFlow's attr name
        return DstT, x.shape

    def kernel(xp, x, DstT):  # noqa: N803
        return x.astype(DstT.np, copy=False)

    def grad(op, dy):
        x = op.inputs[0]
        if x.dtype.is_floating and op.outputs[0].dtype.is_floating:
            return [cast(dy, x.dtype)]
        return [None]


@api_function("cast", "dtypes.cast")
def cast(x, dtype, name=None):
    """Casts `x` to `dtype`: `tf.cast(labels, tf.float32)`."""
    x = convert_to_tensor(x)
    dtype = dtypes.as_dtype(dtype)
    if x.dtype == dtype:
        return x
    return build("Cast", [x], {"DstT": dtype}, name=name or "Cast")


def _cast_alias(api_name: str, dtype, default_name: str):
    def alias(x, name=default_name):
        return cast(x, dtype, name=name)

    alias.__name__ = api_name
    alias.__doc__ = f"""TF1's `tf.{api_name}(x)`: `tf.cast(x, tf.{dtype.name})`."""
    return api_function(api_name)(alias)


to_float = _cast_alias("to_float", dtypes.float32, "ToFloat")
to_double = _cast_alias("to_double", dtypes.float64, "ToDouble")
to_int32 = _cast_alias("to_int32", dtypes.int32, "ToInt32")
to_int64 = _cast_alias("to_int64", dtypes.int64, "ToInt64")


@api_function("scalar_mul", "math.scalar_mul")
def scalar_mul(scalar, x, name=None):
    """A scalar times a tensor: `tf.scalar_mul(0.5, x)`."""
    x = convert_to_tensor(x)
    scalar = convert_to_tensor(scalar, dtype=x.dtype, name="scalar")
    if scalar.shape.ndims != 0:
        raise ValueError(f"scalar_mul needs a scalar, got shape {scalar.shape}")
    return tf.multiply(scalar, x, name=name)


@api_function("clip_by_value")
def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Clips t to [clip_value_min, clip_value_max]: `tf.clip_by_value(x, 0.0, 6.0)`.

    Built as maximum(minimum(t, max), min): the gradient passes where t is not
    clipped. The bounds may broadcast against t but must not make it larger.
    """
    t = convert_to_tensor(t, name="t")
    low = convert_to_tensor(clip_value_min, preferred_dtype=t.dtype, name="clip_value_min")
    high = convert_to_tensor(clip_value_max, preferred_dtype=t.dtype, name="clip_value_max")
    out = tf.maximum(tf.minimum(t, high), low, name=name or "clip_by_value")
    if not t.shape.is_compatible_with(out.shape):
        raise ValueError(
            f"clip_by_value: the bounds would broadcast t of shape {t.shape} to {out.shape}"
        )
    return out


# -- tensor products ----------------------------------------------------------


class MatMul(Op):
    """Matrix product of the last two dimensions (batched over leading ones, which broadcast)."""

    inputs = ("a", "b")
    attrs = {"transpose_a": False, "transpose_b": False}
    same_dtype = ("a", "b")
    broadcasts = True  # over batch dimensions

    def infer(a, b, transpose_a, transpose_b):
        check_dtype(a, "numeric", "a")
        if a.shape.ndims is not None and a.shape.ndims < 2:
            raise ValueError(f"a must have rank >= 2, got shape {a.shape}")
        if b.shape.ndims is not None and b.shape.ndims < 2:
            raise ValueError(f"b must have rank >= 2, got shape {b.shape}")
        if a.shape.dims is None or b.shape.dims is None:
            return a.dtype, None
        m, k = a.shape.dims[-2:][:: -1 if transpose_a else 1]
        k2, n = b.shape.dims[-2:][:: -1 if transpose_b else 1]
        if k is not None and k2 is not None and k != k2:
            raise ValueError(
                f"Dimensions must be equal, but are {k} and {k2}: a is "
                f"{a.shape.as_list()}{' transposed' if transpose_a else ''}, b is "
                f"{b.shape.as_list()}{' transposed' if transpose_b else ''}"
            )
        batch = broadcast_shape(TensorShape(a.shape.dims[:-2]), TensorShape(b.shape.dims[:-2]))
        return a.dtype, batch.concatenate([m, n])

    def kernel(xp, a, b, transpose_a, transpose_b):
        if transpose_a:
            a = xp.swapaxes(a, -1, -2)
        if transpose_b:
            b = xp.swapaxes(b, -1, -2)
        return xp.matmul(a, b)

    def grad(op, dz):
        a, b = op.inputs
        ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
        if not ta and not tb:
            return [tf.matmul(dz, b, transpose_b=True), tf.matmul(a, dz, transpose_a=True)]
        if not ta and tb:
            return [tf.matmul(dz, b), tf.matmul(dz, a, transpose_a=True)]
        if ta and not tb:
            return [tf.matmul(b, dz, transpose_b=True), tf.matmul(a, dz)]
        return [tf.matmul(b, dz, transpose_a=True, transpose_b=True),
                tf.matmul(dz, a, transpose_a=True, transpose_b=True)]


@api_function("matmul", "linalg.matmul")
def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, name=None):
    """Matrix product of the last two dimensions: `tf.matmul(x, w)`, `tf.matmul(q, k, transpose_b=True)`.

    Leading (batch) dimensions broadcast. For real tensors `adjoint_*` is `transpose_*`;
    the sparsity hints are accepted and ignored.
    """
    a, b = convert_pair(a, b)
    if output_type is not None and dtypes.as_dtype(output_type) != a.dtype:
        raise TypeError(f"matmul: output_type {dtypes.as_dtype(output_type).name} differs from the "
                        f"inputs' dtype {a.dtype.name}")
    attrs = {"transpose_a": bool(transpose_a or adjoint_a), "transpose_b": bool(transpose_b or adjoint_b)}
    return build("MatMul", [a, b], attrs, name=name or "MatMul")


def _labels(subscripts: str) -> list[str]:
    """'...ij' -> ['...', 'i', 'j']."""
    head, ellipsis, tail = subscripts.partition("...")
    return list(head) + ([ellipsis] if ellipsis else []) + list(tail)


def parse_equation(equation: str, n_operands: int) -> tuple[list[str], str]:
    """An einsum equation as (operand subscripts, output subscripts), made explicit.

    >>> parse_equation("ij,jk", 2)
    (['ij', 'jk'], 'ik')
    """
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != n_operands:
        raise ValueError(f"einsum equation {equation!r} names {len(subs)} operands, got {n_operands} tensors")
    for s in subs + ([out] if arrow else []):
        core = s.replace("...", "", 1)
        if core and not core.isalpha():
            raise ValueError(f"einsum subscripts {s!r} in {equation!r} must be letters and at most one '...'")
    if not arrow:
        counts = {c: lhs.count(c) for c in lhs if c.isalpha()}
        out = ("..." if "..." in lhs else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
    elif len(set(out.replace("...", ""))) != len(out.replace("...", "")):
        raise ValueError(f"einsum output subscripts {out!r} repeat a letter")
    return subs, out


class Einsum(Op):
    """Sums of products over the subscripts of an equation: `tf.einsum("bij,bjk->bik", a, b)`."""

    inputs = ("inputs*",)
    attrs = {"equation": ""}
    same_dtype = ("inputs",)
    broadcasts = True  # '...' dimensions broadcast

    def infer(inputs, equation):
        subs, out = parse_equation(equation, len(inputs))
        check_dtype(inputs[0], "numeric", "inputs")
        sizes: dict[str, int | None] = {}
        ellipsis = TensorShape([])
        for i, (t, sub) in enumerate(zip(inputs, subs)):
            labels = _labels(sub)
            if t.shape.dims is None:
                if "..." in labels:
                    ellipsis = unknown_shape()
                continue
            n_ellipsis = t.shape.ndims - len(labels) + 1 if "..." in labels else 0
            if n_ellipsis < 0 or ("..." not in labels and t.shape.ndims != len(labels)):
                raise ValueError(f"operand {i} has shape {t.shape}, which subscripts {sub!r} do not fit")
            dims = list(t.shape.dims)
            for label in labels:
                if label == "...":
                    ellipsis = broadcast_shape(ellipsis, TensorShape(dims[:n_ellipsis]))
                    dims = dims[n_ellipsis:]
                    continue
                d, dims = dims[0], dims[1:]
                known = sizes.get(label)
                if known is not None and d is not None and known != d:
                    raise ValueError(f"subscript {label!r} has size {known} and {d} in {equation!r}")
                sizes[label] = d if known is None else known
        shape = []
        for label in _labels(out):
            if label == "...":
                if ellipsis.dims is None:
                    return inputs[0].dtype, None
                shape += ellipsis.dims
            elif not any(label in s for s in subs):
                raise ValueError(f"output subscript {label!r} of {equation!r} is on no operand")
            else:
                shape.append(sizes.get(label))
        return inputs[0].dtype, TensorShape(shape)

    def kernel(xp, inputs, equation):
        return xp.asarray(xp.einsum(equation, *inputs, optimize=len(inputs) > 1))

    def grad(op, dz):
        equation = op.attrs["equation"]
        subs, out = parse_equation(equation, len(op.inputs))
        if any(len(set(s.replace("...", ""))) != len(s.replace("...", "")) for s in subs):
            raise NotImplementedError(
                f"the gradient of einsum {equation!r} is not supported: a subscript repeats "
                "within one operand (a diagonal or trace)"
            )
        return [_einsum_grad(op.inputs, subs, out, dz, i) for i in range(len(op.inputs))]


def _einsum_grad(inputs, subs, out, dz, i):
    """d/d inputs[i]: the product of the output gradient and the other operands."""
    terms = [(dz, out)] + [(t, s) for j, (t, s) in enumerate(zip(inputs, subs)) if j != i]
    present = set().union(*(_labels(s) for _, s in terms))
    if not set(_labels(subs[i])) <= present:  # a label summed away: broadcast it back
        terms.append((tf.ones_like(inputs[i]), subs[i]))
    equation = ",".join(s for _, s in terms) + "->" + subs[i]
    return build("Einsum", [[t for t, _ in terms]], {"equation": equation})


@api_function("einsum", "linalg.einsum")
def einsum(equation, *inputs, **kwargs):
    """Sums of products named by subscripts: `tf.einsum("ij,jk->ik", a, b)`.

    Implicit outputs ("ij,jk") and broadcasting '...' follow numpy's rules.
    """
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"einsum got unexpected arguments {sorted(kwargs)}")
    tensors = [convert_to_tensor(t) for t in inputs]
    subs, out = parse_equation(equation, len(tensors))
    explicit = ",".join(subs) + "->" + out
    return build("Einsum", [tensors], {"equation": explicit}, name=name or "einsum")


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@api_function("tensordot", "linalg.tensordot")
def tensordot(a, b, axes, name=None):
    """Contracts `axes` of a with those of b: `tf.tensordot(x, w, [[2], [0]])`.

    `axes` is an int N (a's last N axes with b's first N) or a pair of axis lists.
    Both ranks must be known when the graph is built. Built as an einsum.
    """
    a, b = convert_pair(a, b)
    ra, rb = a.shape.ndims, b.shape.ndims
    if ra is None or rb is None:
        raise ValueError(f"tensordot needs tensors of known rank, got shapes {a.shape} and {b.shape}")
    a_axes, b_axes = _tensordot_axes(axes, ra, rb)
    for i, j in zip(a_axes, b_axes):
        m, n = a.shape.dims[i], b.shape.dims[j]
        if m is not None and n is not None and m != n:
            raise ValueError(f"tensordot: axis {i} of a (size {m}) and axis {j} of b (size {n}) differ; "
                             f"shapes {a.shape} and {b.shape}")
    a_sub = _LETTERS[:ra]
    b_sub = list(_LETTERS[ra : ra + rb])
    for i, j in zip(a_axes, b_axes):
        b_sub[j] = a_sub[i]
    out = [c for k, c in enumerate(a_sub) if k not in a_axes]
    out += [c for k, c in enumerate(b_sub) if k not in b_axes]
    equation = f"{a_sub},{''.join(b_sub)}->{''.join(out)}"
    return build("Einsum", [[a, b]], {"equation": equation}, name=name or "Tensordot")


def _tensordot_axes(axes, ra: int, rb: int) -> tuple[list[int], list[int]]:
    if isinstance(axes, Tensor):
        value = constant_value(axes)
        if value is None:
            raise ValueError("tensordot axes must be known when the graph is built")
        axes = value.tolist()
    if np.ndim(axes) == 0:
        n = int(axes)
        if not 0 <= n <= min(ra, rb):
            raise ValueError(f"tensordot axes={n} is out of range for ranks {ra} and {rb}")
        return list(range(ra - n, ra)), list(range(n))
    if len(axes) != 2:
        raise ValueError(f"tensordot axes must be an int or a pair of axis lists, got {axes!r}")
    a_axes, b_axes = ([x] if np.ndim(x) == 0 else list(x) for x in axes)
    if len(a_axes) != len(b_axes):
        raise ValueError(f"tensordot contracts {len(a_axes)} axes of a with {len(b_axes)} of b")
    return ([normalize_axis(x, ra) for x in a_axes], [normalize_axis(x, rb) for x in b_axes])

