"""Binary arithmetic (AddV2, Sub, Mul, RealDiv, FloorDiv, FloorMod, Pow, ...) and AddN.

Kernels return exactly the inferred dtype; integer division by zero raises, as
TensorFlow's "Integer division by zero" does. Masks in gradients are built with
a cast and a multiply (`dz * cast(x >= y)`), so no select op is needed. What
TensorFlow builds from other ops is a composite here too, needing no gradient
of its own: truediv and div_no_nan on integers (a cast to float first), div
(FloorDiv or RealDiv, by dtype), scalar_mul and clip_by_value.
"""

from __future__ import annotations

from ops import api as tf
from ops.elementwise import Binary, mask
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_pair, convert_to_tensor


def _check_divisor(xp, y) -> None:
    if y.dtype.kind in "iu" and bool(xp.any(y == 0)):
        raise ZeroDivisionError("Integer division by zero")


class AddV2(Binary):
    """x + y, elementwise with broadcasting: `tf.add(x, 1.0)`."""

    api = ("add", "math.add")

    def kernel(xp, x, y):
        return xp.add(x, y)

    def grad(op, dz):
        return [dz, dz]


class Sub(Binary):
    """x - y, elementwise with broadcasting: `tf.subtract(x, mean)`."""

    api = ("subtract", "math.subtract")

    def kernel(xp, x, y):
        return xp.subtract(x, y)

    def grad(op, dz):
        return [dz, tf.negative(dz)]


class Mul(Binary):
    """x * y, elementwise with broadcasting: `tf.multiply(x, mask)`."""

    api = ("multiply", "math.multiply")

    def kernel(xp, x, y):
        return xp.multiply(x, y)

    def grad(op, dz):
        x, y = op.inputs
        return [dz * y, x * dz]


class RealDiv(Binary):
    """x / y for floating tensors (`tf.truediv` also takes integers)."""

    api = ("realdiv", "math.realdiv")
    kind = "float"

    def kernel(xp, x, y):
        return xp.true_divide(x, y)

    def grad(op, dz):
        x, y = op.inputs
        return [dz / y, tf.negative(dz) * x / (y * y)]


class FloorDiv(Binary):
    """floor(x / y), elementwise: `tf.floordiv(7, 2) == 3`, `tf.floordiv(-7, 2) == -4`."""

    api = ("floordiv", "math.floordiv")
    differentiable = False  # piecewise constant: TensorFlow's gradient is None

    def kernel(xp, x, y):
        _check_divisor(xp, y)
        if x.dtype.kind == "f":
            return xp.floor(xp.true_divide(x, y))
        return xp.floor_divide(x, y)


class FloorMod(Binary):
    """The remainder of floor division; it has the sign of y: `tf.floormod(-7, 3) == 2`."""

    api = ("floormod", "mod", "math.floormod", "math.mod")

    def kernel(xp, x, y):
        _check_divisor(xp, y)
        return xp.mod(x, y)

    def grad(op, dz):
        x, y = op.inputs
        return [dz, dz * tf.negative(tf.floordiv(x, y))]


class DivNoNan(Binary):
    """x / y, with 0 where y is 0 (`tf.div_no_nan` also takes integers)."""

    kind = "float"

    def kernel(xp, x, y):
        zero = y == 0
        safe = xp.where(zero, xp.ones((), y.dtype), y)
        return xp.where(zero, xp.zeros((), x.dtype), xp.true_divide(x, safe))

    def grad(op, dz):
        x, y = op.inputs
        return [tf.div_no_nan(dz, y), dz * tf.div_no_nan(tf.div_no_nan(tf.negative(x), y), y)]


class Pow(Binary):
    """x ** y, elementwise: `tf.pow(x, 2.0)`. Integers to negative powers raise."""

    api = ("pow", "math.pow")
    cost = "transcendental"

    def kernel(xp, x, y):
        if y.dtype.kind == "i" and bool(xp.any(y < 0)):
            raise ValueError("Integers to negative integer powers are not allowed")
        return xp.power(x, y)

    def grad(op, dz):
        x, y = op.inputs
        z = op.outputs[0]
        dx = dz * y * tf.pow(x, y - 1)
        positive = mask(tf.greater(x, 0), x)  # log(x) only where x > 0, else 0
        log_x = tf.log(x * positive + (1 - positive))
        return [dx, dz * z * log_x]


class Maximum(Binary):
    """The larger of x and y, elementwise: `tf.maximum(x, 0.0)`."""

    api = ("maximum", "math.maximum")

    def kernel(xp, x, y):
        return xp.maximum(x, y)

    def grad(op, dz):
        x, y = op.inputs
        dx = dz * mask(tf.greater_equal(x, y), dz)  # ties go to x, as in TensorFlow
        return [dx, dz - dx]


class Minimum(Binary):
    """The smaller of x and y, elementwise: `tf.minimum(x, 6.0)`."""

    api = ("minimum", "math.minimum")

    def kernel(xp, x, y):
        return xp.minimum(x, y)

    def grad(op, dz):
        x, y = op.inputs
        dx = dz * mask(tf.less_equal(x, y), dz)
        return [dx, dz - dx]


class SquaredDifference(Binary):
    """(x - y) ** 2, elementwise: `tf.squared_difference(prediction, target)`."""

    api = ("squared_difference", "math.squared_difference")

    def kernel(xp, x, y):
        d = xp.subtract(x, y)
        return xp.multiply(d, d)

    def grad(op, dz):
        x, y = op.inputs
        dx = dz * (x - y) * 2
        return [dx, tf.negative(dx)]


class Atan2(Binary):
    """The angle of the point (x, y), elementwise: `tf.atan2(y, x)`."""

    inputs = ("y", "x")
    same_dtype = ("y", "x")
    kind = "float"
    api = ("atan2", "math.atan2")
    cost = "transcendental"

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
        x, y = tf.cast(x, target), tf.cast(y, target)
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
        if not hasattr(inputs[0], "ndim"):  # variant values (gradients of TensorArrays) add with +
            out = inputs[0]
            for x in inputs[1:]:
                out = out + x
            return out
        out = xp.add(inputs[0], inputs[1])
        for x in inputs[2:]:  # accumulate in place into the fresh sum (0-d sums are scalars)
            out = xp.add(out, x, out=out) if out.ndim else out + x
        return out

    def grad(op, dz):
        return [dz] * len(op.inputs)


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
        raise ValueError(f"clip_by_value: the bounds would broadcast t of shape {t.shape} to {out.shape}")
    return out
