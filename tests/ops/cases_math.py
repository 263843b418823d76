"""Op test cases for the math family (see cases.py for the contract).

Broadcasting shapes come first in BINARY_SHAPES, so the gradient checks (which
use the first shapes) sum gradients back over broadcast dimensions. Inputs avoid
kinks where gradients are checked: away from 0 for abs and sign, away from
integer ratios for floormod, inside (-1, 1) for asin and acos.
"""

from __future__ import annotations

import math

import numpy as np

import raygraph as tf
from ops import api
from tests.ops.cases import Case, positive, uniform

BINARY_SHAPES = [((2, 3, 4), (4,)), ((3, 4), (3, 4)), ((5, 1), (1, 6)), ((), (7,)), ((), ())]
UNARY_SHAPES = [((3, 4),), ((),), ((2, 1, 3),)]
INT = ("int32",)


def away_from_zero(low: float = 0.5, high: float = 2.0):
    """Values with |x| in [low, high] and random signs."""

    def make(rng, shapes, dtypes):
        return [
            (rng.uniform(low, high, s) * rng.choice([-1, 1], s)).astype(d) for s, d in zip(shapes, dtypes)
        ]

    return make


def nonzero_ints(low: int = -5, high: int = 5):
    """Integers in [low, high]; the second input (a divisor) is never 0."""

    def make(rng, shapes, dtypes):
        x = rng.integers(low, high + 1, shapes[0]).astype(dtypes[0])
        y = rng.integers(1, high + 1, shapes[1]) * rng.choice([-1, 1], shapes[1])
        return [x, y.astype(dtypes[1])]

    return make


def mod_inputs(rng, shapes, dtypes):
    """x = y * (k + f) with f in [0.2, 0.8]: x/y stays away from the jumps of floor."""
    y = rng.uniform(1.0, 2.0, shapes[1])
    k = rng.integers(-3, 3, shapes[0]) + rng.uniform(0.2, 0.8, shapes[0])
    return [(np.broadcast_to(y, shapes[0]) * k).astype(dtypes[0]), y.astype(dtypes[1])]


def with_zero_divisors(rng, shapes, dtypes):
    x = rng.uniform(-2, 2, shapes[0])
    y = rng.uniform(0.5, 2, shapes[1]) * (rng.random(shapes[1]) < 0.6)
    return [x.astype(dtypes[0]), y.astype(dtypes[1])]


def small_powers(rng, shapes, dtypes):
    """Bases in [-4, 4] and exponents in [0, 3] (integers to negative powers raise)."""
    return [rng.integers(-4, 5, shapes[0]).astype(dtypes[0]), rng.integers(0, 4, shapes[1]).astype(dtypes[1])]


def halves(rng, shapes, dtypes):
    """Multiples of 0.5, so rounding meets ties (TF rounds half to even)."""
    return [(rng.integers(-8, 9, s) / 2).astype(d) for s, d in zip(shapes, dtypes)]


def specials(rng, shapes, dtypes):
    """Values with NaNs and infinities sprinkled in."""
    x = rng.uniform(-2, 2, shapes[0])
    pick = rng.integers(0, 5, shapes[0])
    x = np.where(pick == 0, np.nan, np.where(pick == 1, np.inf, np.where(pick == 2, -np.inf, x)))
    return [x.astype(dtypes[0])]


def bounds(rng, shapes, dtypes):
    """t in [-2, 2], a lower bound in [-1.5, -0.5] and an upper bound in [0.5, 1.5]."""
    return [
        rng.uniform(-2, 2, shapes[0]).astype(dtypes[0]),
        rng.uniform(-1.5, -0.5, shapes[1]).astype(dtypes[1]),
        rng.uniform(0.5, 1.5, shapes[2]).astype(dtypes[2]),
    ]


def polygamma_inputs(rng, shapes, dtypes):
    return [rng.integers(1, 3, shapes[0]).astype(dtypes[0]), rng.uniform(0.5, 3, shapes[1]).astype(dtypes[1])]


def stable_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def floor_div(x, y):
    return np.floor(x / y) if x.dtype.kind == "f" else np.floor_divide(x, y)


def div_no_nan(x, y):
    return np.where(y == 0, 0, x / np.where(y == 0, 1, y))


def erf(x):
    return np.vectorize(math.erf)(x.astype(np.float64))


def lgamma(x):
    return np.vectorize(math.lgamma)(x.astype(np.float64))


def digamma(x):
    from scipy import special

    return special.digamma(x)


def polygamma(a, x):
    from scipy import special

    return special.polygamma(a.astype(int), x)


def binary(op, build, reference, inputs=None, dtypes=("float32",), **kw):
    return Case(op, build, reference, BINARY_SHAPES, dtypes=dtypes, inputs=inputs, **kw)


def unary(op, build, reference, inputs=None, **kw):
    return Case(op, build, reference, UNARY_SHAPES, inputs=inputs, **kw)


ARITHMETIC = [
    binary("AddV2", tf.add, np.add),
    binary("AddV2", tf.add, np.add, dtypes=INT, grad=False, label="int"),
    binary("Sub", tf.subtract, np.subtract),
    binary("Sub", tf.subtract, np.subtract, dtypes=INT, grad=False, label="int"),
    binary("Mul", tf.multiply, np.multiply),
    binary("Mul", tf.multiply, np.multiply, dtypes=("int64",), grad=False, label="int64"),
    Case("Mul", lambda a, b: a * b, np.multiply, [((5, 1), (1, 6))], label="broadcast-both"),
    Case("Mul", lambda x: tf.scalar_mul(2.5, x), lambda x: 2.5 * x, UNARY_SHAPES, label="scalar_mul"),
    binary("RealDiv", tf.realdiv, np.true_divide, inputs=positive()),
    Case(
        "RealDiv",
        tf.truediv,
        np.true_divide,
        [((3, 4), (3, 4))],
        dtypes=INT,
        inputs=nonzero_ints(),
        grad=False,
        label="truediv-int",
    ),
    Case("RealDiv", tf.divide, np.true_divide, [((5, 1), (1, 6))], inputs=positive(), label="divide"),
    Case("RealDiv", tf.div, np.true_divide, [((3, 4), (4,))], inputs=positive(), label="div-float"),
    binary("FloorDiv", tf.floordiv, floor_div, inputs=nonzero_ints(), dtypes=INT, grad=False),
    binary("FloorDiv", tf.floordiv, floor_div, inputs=positive(0.1, 3), grad=False, label="float"),
    Case(
        "FloorDiv",
        tf.div,
        np.floor_divide,
        [((3, 4), (3, 4))],
        dtypes=INT,
        inputs=nonzero_ints(),
        grad=False,
        label="div-int",
    ),
    Case(
        "FloorMod",
        tf.floormod,
        np.mod,
        [((2, 3, 4), (4,)), ((3, 4), (3, 4)), ((3, 4), ()), ((), ())],
        inputs=mod_inputs,
    ),
    binary("FloorMod", tf.mod, np.mod, inputs=nonzero_ints(), dtypes=INT, grad=False, label="int"),
    binary("DivNoNan", tf.div_no_nan, div_no_nan, inputs=positive()),
    Case(
        "DivNoNan",
        tf.div_no_nan,
        div_no_nan,
        [((3, 4), (3, 4)), ((2, 3), (3,))],
        inputs=with_zero_divisors,
        grad=False,
        label="zeros",
    ),
    Case("DivNoNan", tf.div_no_nan, div_no_nan, [((3, 4), (3, 4))], dtypes=INT, grad=False, label="int"),
    binary("Pow", tf.pow, np.power, inputs=positive()),
    binary("Pow", tf.pow, np.power, inputs=small_powers, dtypes=INT, grad=False, label="int"),
    Case("Pow", lambda x: tf.pow(x, 3.0), lambda x: x**3, UNARY_SHAPES, label="negative-base"),
    binary("Maximum", tf.maximum, np.maximum),
    binary("Maximum", tf.maximum, np.maximum, dtypes=INT, grad=False, label="int"),
    binary("Minimum", tf.minimum, np.minimum),
    Case(
        "Maximum",
        lambda t: tf.clip_by_value(t, -1.0, 1.0),
        lambda t: np.clip(t, -1, 1),
        UNARY_SHAPES,
        label="clip_by_value",
    ),
    Case(
        "Maximum",
        tf.clip_by_value,
        np.clip,
        [((3, 4), (), ()), ((3, 4), (4,), (3, 1))],
        inputs=bounds,
        label="clip_by_value-tensors",
    ),
    Case(
        "Minimum",
        lambda t: tf.clip_by_value(t, 0, 3),
        lambda t: np.clip(t, 0, 3),
        [((3, 4),)],
        dtypes=INT,
        grad=False,
        label="clip_by_value-int",
    ),
    binary("SquaredDifference", tf.squared_difference, lambda x, y: (x - y) ** 2),
    binary(
        "SquaredDifference",
        tf.squared_difference,
        lambda x, y: (x - y) ** 2,
        dtypes=INT,
        grad=False,
        label="int",
    ),
    binary("Atan2", tf.atan2, np.arctan2),
    Case(
        "AddN",
        lambda a, b, c: tf.add_n([a, b, c]),
        lambda a, b, c: a + b + c,
        [((3, 4), (3, 4), (3, 4)), ((), (), ())],
    ),
    Case("AddN", lambda a: tf.add_n([a]), lambda a: a, [((3,),)], label="one"),
]

COMPARISONS = [
    binary("Equal", tf.equal, np.equal, inputs=uniform(-1, 1), dtypes=INT, grad=False),
    binary("Equal", tf.equal, np.equal, dtypes=("bool",), grad=False, label="bool"),
    binary("NotEqual", tf.not_equal, np.not_equal, inputs=uniform(-1, 1), dtypes=INT, grad=False),
    binary("NotEqual", tf.not_equal, np.not_equal, dtypes=("float32",), grad=False, label="float"),
    binary("Less", tf.less, np.less, grad=False),
    binary("Less", tf.less, np.less, dtypes=INT, grad=False, label="int"),
    binary("LessEqual", tf.less_equal, np.less_equal, dtypes=INT, grad=False),
    binary("Greater", tf.greater, np.greater, grad=False),
    binary("GreaterEqual", tf.greater_equal, np.greater_equal, dtypes=INT, grad=False),
    binary("LogicalAnd", tf.logical_and, np.logical_and, dtypes=("bool",), grad=False),
    binary("LogicalOr", tf.logical_or, np.logical_or, dtypes=("bool",), grad=False),
    binary("LogicalAnd", tf.logical_xor, np.logical_xor, dtypes=("bool",), grad=False, label="logical_xor"),
    unary("LogicalNot", tf.logical_not, np.logical_not, dtypes=("bool",), grad=False),
]

UNARY = [
    unary("Neg", tf.negative, np.negative),
    unary("Neg", tf.negative, np.negative, dtypes=INT, grad=False, label="int"),
    unary("Abs", tf.abs, np.abs, inputs=away_from_zero()),
    unary("Abs", tf.abs, np.abs, dtypes=INT, grad=False, label="int"),
    unary("Sign", tf.sign, np.sign, inputs=away_from_zero()),
    unary("Sign", tf.sign, np.sign, dtypes=INT, grad=False, label="int"),
    unary("Square", tf.square, np.square),
    unary("Square", tf.square, np.square, dtypes=INT, grad=False, label="int"),
    unary("Exp", tf.exp, np.exp),
    unary("Expm1", tf.expm1, np.expm1),
    unary("Log", tf.log, np.log, inputs=positive()),
    unary("Log1p", tf.log1p, np.log1p, inputs=positive(-0.5, 3)),
    unary("Sqrt", tf.sqrt, np.sqrt, inputs=positive()),
    unary("Rsqrt", tf.rsqrt, lambda x: 1 / np.sqrt(x), inputs=positive()),
    unary("Reciprocal", tf.reciprocal, np.reciprocal, inputs=away_from_zero()),
    unary("Sin", tf.sin, np.sin),
    unary("Cos", tf.cos, np.cos),
    unary("Tan", tf.tan, np.tan, inputs=uniform(-1, 1)),
    unary("Asin", tf.asin, np.arcsin, inputs=uniform(-0.8, 0.8)),
    unary("Acos", tf.acos, np.arccos, inputs=uniform(-0.8, 0.8)),
    unary("Atan", tf.atan, np.arctan),
    unary("Sinh", tf.sinh, np.sinh),
    unary("Cosh", tf.cosh, np.cosh),
    unary("Tanh", tf.tanh, np.tanh),
    unary("Tanh", tf.nn.tanh, np.tanh, grad=False, label="nn"),
    unary("Sigmoid", tf.sigmoid, stable_sigmoid),
    unary("Sigmoid", tf.nn.sigmoid, stable_sigmoid, inputs=uniform(-200, 200), grad=False, label="large"),
    unary(
        "Sigmoid",
        api.math.sigmoid,
        stable_sigmoid,
        inputs=uniform(-800, 800),
        dtypes=("float64",),
        grad=False,
        label="large-float64",
    ),
    unary("Floor", tf.floor, np.floor, grad=False),
    unary("Ceil", tf.ceil, np.ceil, grad=False),
    unary("Round", tf.round, np.round, inputs=halves, grad=False),
    unary("Round", tf.round, np.round, dtypes=INT, grad=False, label="int"),
    unary("Rint", tf.rint, np.rint, inputs=halves, grad=False),
    unary("IsNan", tf.is_nan, np.isnan, inputs=specials, grad=False),
    unary("IsInf", tf.is_inf, np.isinf, inputs=specials, grad=False),
    unary("IsFinite", tf.is_finite, np.isfinite, inputs=specials, grad=False),
    unary("Erf", tf.erf, erf, inputs=uniform(-3, 3)),
    unary("Lgamma", tf.lgamma, lgamma, inputs=positive(0.2, 5)),
    unary("Digamma", tf.digamma, digamma, inputs=positive(0.5, 5)),
    Case(
        "Polygamma",
        tf.polygamma,
        polygamma,
        [((3, 4), (3, 4)), ((), (5,))],
        inputs=polygamma_inputs,
        grad_inputs=(1,),
        rtol=1e-4,
    ),
]

CASTS = [
    Case("Cast", lambda x: tf.cast(x, tf.float64), lambda x: x.astype(np.float64), [((3, 4),)], grad=False),
    Case(
        "Cast",
        lambda x: tf.cast(x, tf.int32),
        lambda x: x.astype(np.int32),
        [((3, 4),)],
        grad=False,
        label="to-int",
    ),
    Case(
        "Cast",
        lambda x: tf.cast(x, tf.float32),
        lambda x: x,
        [((3, 4),)],
        dtypes=("float64",),
        rtol=1e-6,
        label="float64-to-float32",
    ),
    Case(
        "Cast",
        tf.to_float,
        lambda x: x.astype(np.float32),
        [((3,),)],
        dtypes=INT,
        grad=False,
        label="to_float",
    ),
    Case("Cast", tf.to_double, lambda x: x.astype(np.float64), [((3,),)], grad=False, label="to_double"),
    Case("Cast", tf.to_int32, lambda x: x.astype(np.int32), [((3,),)], grad=False, label="to_int32"),
    Case(
        "Cast", tf.to_int64, lambda x: x.astype(np.int64), [((3,),)], dtypes=INT, grad=False, label="to_int64"
    ),
]

PRODUCTS = [
    Case("MatMul", tf.matmul, np.matmul, [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((1, 1), (1, 3))]),
    Case(
        "MatMul",
        lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True),
        lambda a, b: a.T @ b.T,
        [((4, 3), (5, 4))],
        label="transposed",
    ),
    Case(
        "MatMul",
        lambda a, b: tf.matmul(a, b, transpose_b=True),
        lambda a, b: a @ np.swapaxes(b, -1, -2),
        [((2, 3, 4), (5, 4))],
        label="transpose_b-batched",
    ),
    Case(
        "MatMul",
        lambda a, b: tf.matmul(a, b, adjoint_a=True),
        lambda a, b: np.swapaxes(a, -1, -2) @ b,
        [((2, 4, 3), (4, 5))],
        label="adjoint_a-batched",
    ),
    Case("MatMul", tf.matmul, np.matmul, [((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 5))], label="broadcast"),
    Case("MatMul", tf.matmul, np.matmul, [((2, 1, 3, 4), (5, 4, 2))], label="broadcast-both"),
    Case("MatMul", tf.matmul, np.matmul, [((3, 4), (4, 2))], dtypes=INT, grad=False, label="int"),
    Case("Einsum", lambda a, b: tf.einsum("ij,jk->ik", a, b), lambda a, b: a @ b, [((3, 4), (4, 5))]),
    Case(
        "Einsum",
        lambda a, b: tf.einsum("bij,bkj->bik", a, b),
        lambda a, b: np.einsum("bij,bkj->bik", a, b),
        [((2, 3, 4), (2, 5, 4))],
        label="batched",
    ),
    Case(
        "Einsum",
        lambda a, b: tf.einsum("ij,jk", a, b),
        lambda a, b: a @ b,
        [((3, 4), (4, 2))],
        label="implicit",
    ),
    Case("Einsum", lambda a: tf.einsum("ij->ji", a), lambda a: a.T, [((3, 4),)], label="transpose"),
    Case("Einsum", lambda a: tf.einsum("ijk->j", a), lambda a: a.sum((0, 2)), [((2, 3, 4),)], label="sum"),
    Case("Einsum", lambda a, b: tf.einsum("i,j->ij", a, b), np.outer, [((3,), (4,))], label="outer"),
    Case(
        "Einsum",
        lambda a, b: tf.einsum("ij,jk->k", a, b),
        lambda a, b: (a @ b).sum(0),
        [((3, 4), (4, 2))],
        label="summed-away",
    ),
    Case(
        "Einsum",
        lambda a, b: tf.einsum("...ij,...jk->...ik", a, b),
        np.matmul,
        [((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (4, 2))],
        label="ellipsis-broadcast",
    ),
    Case(
        "Einsum",
        lambda a, b, c: tf.einsum("ij,jk,kl->il", a, b, c),
        lambda a, b, c: a @ b @ c,
        [((2, 3), (3, 4), (4, 2))],
        label="three",
    ),
    Case("Einsum", lambda a: tf.einsum("ii->i", a), np.diagonal, [((3, 3),)], grad=False, label="diagonal"),
    Case(
        "Einsum",
        lambda a, b: tf.einsum("ij,jk->ik", a, b),
        lambda a, b: a @ b,
        [((3, 4), (4, 5))],
        dtypes=INT,
        grad=False,
        label="int",
    ),
    Case(
        "Einsum",
        lambda a, b: tf.tensordot(a, b, 1),
        lambda a, b: np.tensordot(a, b, 1),
        [((3, 4), (4, 5)), ((2, 3, 4), (4, 2))],
        label="tensordot",
    ),
    Case(
        "Einsum",
        lambda a, b: tf.tensordot(a, b, [[0, 2], [2, 0]]),
        lambda a, b: np.tensordot(a, b, [[0, 2], [2, 0]]),
        [((2, 3, 4), (4, 5, 2))],
        label="tensordot-pairs",
    ),
    Case(
        "Einsum",
        lambda a, b: tf.tensordot(a, b, 0),
        lambda a, b: np.tensordot(a, b, 0),
        [((2,), (3,))],
        label="tensordot-outer",
    ),
]

CASES = ARITHMETIC + COMPARISONS + UNARY + CASTS + PRODUCTS
