"""Elementwise math, comparisons, casts and matrix products.

Binary ops broadcast like numpy; their inputs share one dtype (TensorFlow does not
promote: float32 + int32 is a TypeError naming both). Kernels are numpy/cupy calls
on `xp`; gradients are graph ops (broadcast dimensions are summed away by the
gradient driver, not here).
"""

from __future__ import annotations

from ops.common import broadcast_shape, check_dtype, same
from ops import api as tf
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_pair, convert_to_tensor


class _Binary(Op, register=False):
    """An elementwise binary op with numpy broadcasting: z = f(x, y)."""

    inputs = ("x", "y")
    same_dtype = ("x", "y")
    kind = "numeric"
    broadcasts = True

    def __init_subclass__(cls, **kwargs):
        kind = cls.kind

        def infer(x, y):
            check_dtype(x, kind, "x")
            return x.dtype, broadcast_shape(x.shape, y.shape)

        if cls.__dict__.get("infer") is None:
            cls.infer = staticmethod(infer)
        super().__init_subclass__(**kwargs)


class _Compare(Op, register=False):
    """An elementwise comparison: a bool tensor of the broadcast shape."""

    inputs = ("x", "y")
    same_dtype = ("x", "y")
    differentiable = False

    def infer(x, y):
        return dtypes.bool, broadcast_shape(x.shape, y.shape)


class _Unary(Op, register=False):
    """An elementwise unary op: y = f(x), same dtype and shape."""

    inputs = ("x",)
    kind = "numeric"

    def __init_subclass__(cls, **kwargs):
        kind = cls.kind

        def infer(x):
            check_dtype(x, kind, "x")
            return same(x)

        if cls.__dict__.get("infer") is None:
            cls.infer = staticmethod(infer)
        super().__init_subclass__(**kwargs)


# -- binary arithmetic --------------------------------------------------------


class AddV2(_Binary):
    """x + y, elementwise with broadcasting."""

    api = ("add", "math.add")

    def kernel(xp, x, y):
        return xp.add(x, y)

    def grad(op, dz):
        return [dz, dz]


class Sub(_Binary):
    """x - y, elementwise with broadcasting."""

    api = ("subtract", "math.subtract")

    def kernel(xp, x, y):
        return xp.subtract(x, y)

    def grad(op, dz):
        return [dz, tf.negative(dz)]


class Mul(_Binary):
    """x * y, elementwise with broadcasting."""

    api = ("multiply", "math.multiply")

    def kernel(xp, x, y):
        return xp.multiply(x, y)

    def grad(op, dz):
        x, y = op.inputs
        return [dz * y, x * dz]


class RealDiv(_Binary):
    """x / y for floating tensors (see `truediv` for integers)."""

    api = ("realdiv", "math.realdiv")
    kind = "float"

    def kernel(xp, x, y):
        return xp.true_divide(x, y)

    def grad(op, dz):
        x, y = op.inputs
        return [dz / y, tf.negative(dz) * x / (y * y)]


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
    """-1, 0 or 1 by the sign of x."""

    api = ("sign", "math.sign")
    differentiable = False

    def kernel(xp, x):
        return xp.sign(x)


class Exp(_Unary):
    """e ** x, elementwise."""

    api = ("exp", "math.exp")
    kind = "float"

    def kernel(xp, x):
        return xp.exp(x)

    def grad(op, dy):
        return [dy * op.outputs[0]]


class AddN(Op):
    """The elementwise sum of a list of tensors of one shape and dtype."""

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


# -- comparisons --------------------------------------------------------------


class Less(_Compare):
    """x < y, elementwise."""

    api = ("less", "math.less")

    def kernel(xp, x, y):
        return xp.less(x, y)


class Greater(_Compare):
    """x > y, elementwise."""

    api = ("greater", "math.greater")

    def kernel(xp, x, y):
        return xp.greater(x, y)


# -- matrices and casts -------------------------------------------------------


class MatMul(Op):
    """Matrix product of the last two dimensions (batched over leading ones).

    >>> tf.matmul(a, b, transpose_b=True)
    """

    inputs = ("a", "b")
    attrs = {"transpose_a": False, "transpose_b": False}
    same_dtype = ("a", "b")
    api = ("matmul", "linalg.matmul")
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
        batch = broadcast_shape(
            type(a.shape)(a.shape.dims[:-2]), type(b.shape)(b.shape.dims[:-2])
        )
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


@api_function("truediv", "divide", "math.truediv", "math.divide")
def truediv(x, y, name=None):
    """x / y; integer inputs are cast to float first (int32 to float64), as in TF."""
    x, y = convert_pair(x, y)
    if x.dtype.is_integer:
        target = dtypes.float64 if x.dtype.size >= 4 else dtypes.float32
        x, y = cast(x, target), cast(y, target)
    return build("RealDiv", [x, y], name=name or "truediv")
