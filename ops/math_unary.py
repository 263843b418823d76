"""Elementwise unary functions, declared as one table: y = xp.<function>(x).

Most unary ops are one numpy (or cupy) function and a one-line gradient, so they
are declared by a row each rather than a class each: the op type, its public
name (as `tf.<name>` and `tf.math.<name>`), the array-module function, the
dtypes it accepts, its gradient and its docstring. `unary` turns a row into the
same declaration a class would be (an `ops.elementwise.Unary`); the gradient
column gives dx from x, y = f(x) and the output gradient dy, as graph ops, or
None for an op without a gradient (TensorFlow's None: floor, round, predicates).
Ops whose kernel is more than one function (Rsqrt, Sigmoid) are classes below
the table; special functions are in ops.math_special.

    >>> registry.get("Exp").kernel(np, np.zeros(2))
    array([1., 1.])
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

from ops import api as tf
from ops.elementwise import Unary
from raygraph import dtypes


def unary(
    op_type: str,
    name: str,
    function: str,
    kind: str,
    grad: Callable | None,
    doc: str,
    *,
    result=None,
    cost: str = "elementwise",
    also: tuple[str, ...] = (),
) -> type[Unary]:
    """Declares `op_type`: y = xp.<function>(x), public as tf.<name>, tf.math.<name> and `also`."""
    row = sys._getframe(1)
    declaration = {
        "__doc__": doc,
        "__module__": row.f_globals["__name__"],
        "__qualname__": op_type,
        "defined_at": f"{row.f_code.co_filename}:{row.f_lineno}",  # a duplicate row names this line
        "api": (name, *also, f"math.{name}"),
        "kind": kind,
        "result": result,
        "cost": cost,
        "kernel": _kernel(function),
        "differentiable": grad is not None,
    }
    if grad is not None:
        declaration["grad"] = _gradient(grad)
    return type(op_type, (Unary,), declaration)


def _kernel(function: str) -> Callable:
    def kernel(xp, x):
        return getattr(xp, function)(x)

    return kernel


def _gradient(dx: Callable) -> Callable:
    def grad(op, dy):
        return [dx(op.inputs[0], op.outputs[0], dy)]

    return grad


NUMERIC, FLOAT = "numeric", "float"
TRANSCENDENTAL = "transcendental"  # scheduler.engine.cost: a few times an add

# fmt: off
#     op type       public name   xp function   accepts  gradient: dx from x, y = f(x), dy
unary("Neg",        "negative",   "negative",   NUMERIC, lambda x, y, dy: tf.negative(dy),
      "-x, elementwise.")
unary("Abs",        "abs",        "abs",        NUMERIC, lambda x, y, dy: dy * tf.sign(x),
      "|x|, elementwise.")
unary("Sign",       "sign",       "sign",       NUMERIC, lambda x, y, dy: tf.zeros_like(x),
      "-1, 0 or 1 by the sign of x; its gradient is 0, as in TensorFlow.")
unary("Square",     "square",     "square",     NUMERIC, lambda x, y, dy: dy * (x * 2),
      "x * x, elementwise.")
unary("Reciprocal", "reciprocal", "reciprocal", FLOAT,   lambda x, y, dy: tf.negative(dy) * tf.square(y),
      "1 / x, elementwise.")
unary("Sqrt",       "sqrt",       "sqrt",       FLOAT,   lambda x, y, dy: dy * 0.5 / y,
      "The square root, elementwise.")
unary("Exp",        "exp",        "exp",        FLOAT,   lambda x, y, dy: dy * y,
      "e ** x, elementwise.", cost=TRANSCENDENTAL)
unary("Expm1",      "expm1",      "expm1",      FLOAT,   lambda x, y, dy: dy * tf.exp(x),
      "e ** x - 1, accurate for small x.", cost=TRANSCENDENTAL)
unary("Log",        "log",        "log",        FLOAT,   lambda x, y, dy: dy / x,
      "The natural logarithm, elementwise: `tf.log(probabilities)`.", cost=TRANSCENDENTAL)
unary("Log1p",      "log1p",      "log1p",      FLOAT,   lambda x, y, dy: dy / (1 + x),
      "log(1 + x), accurate for small x.", cost=TRANSCENDENTAL)
unary("Sin",        "sin",        "sin",        FLOAT,   lambda x, y, dy: dy * tf.cos(x),
      "The sine, elementwise.", cost=TRANSCENDENTAL)
unary("Cos",        "cos",        "cos",        FLOAT,   lambda x, y, dy: tf.negative(dy) * tf.sin(x),
      "The cosine, elementwise.", cost=TRANSCENDENTAL)
unary("Tan",        "tan",        "tan",        FLOAT,   lambda x, y, dy: dy / tf.square(tf.cos(x)),
      "The tangent, elementwise.", cost=TRANSCENDENTAL)
unary("Asin",       "asin",       "arcsin",     FLOAT,   lambda x, y, dy: dy * tf.rsqrt(1 - x * x),
      "The inverse sine, elementwise.")
unary("Acos",       "acos",       "arccos",     FLOAT,   lambda x, y, dy: tf.negative(dy) * tf.rsqrt(1 - x * x),
      "The inverse cosine, elementwise.")
unary("Atan",       "atan",       "arctan",     FLOAT,   lambda x, y, dy: dy / (1 + x * x),
      "The inverse tangent, elementwise.")
unary("Sinh",       "sinh",       "sinh",       FLOAT,   lambda x, y, dy: dy * tf.cosh(x),
      "The hyperbolic sine, elementwise.")
unary("Cosh",       "cosh",       "cosh",       FLOAT,   lambda x, y, dy: dy * tf.sinh(x),
      "The hyperbolic cosine, elementwise.")
unary("Tanh",       "tanh",       "tanh",       FLOAT,   lambda x, y, dy: dy * (1 - y * y),
      "The hyperbolic tangent, elementwise: `tf.nn.tanh(logits)`.", cost=TRANSCENDENTAL, also=("nn.tanh",))
unary("Floor",      "floor",      "floor",      FLOAT,   None,
      "The largest integer not above x, elementwise (floats).")
unary("Ceil",       "ceil",       "ceil",       FLOAT,   None,
      "The smallest integer not below x, elementwise (floats).")
unary("Round",      "round",      "round",      NUMERIC, None,
      "x rounded to the nearest integer, halves to even: `tf.round([0.5, 1.5]) == [0., 2.]`.")
unary("Rint",       "rint",       "rint",       FLOAT,   None,
      "x rounded to the nearest integer, halves to even (floats).")
unary("IsNan",      "is_nan",     "isnan",      FLOAT,   None,
      "Whether x is NaN, elementwise.", result=dtypes.bool)
unary("IsInf",      "is_inf",     "isinf",      FLOAT,   None,
      "Whether x is +inf or -inf, elementwise.", result=dtypes.bool)
unary("IsFinite",   "is_finite",  "isfinite",   FLOAT,   None,
      "Whether x is neither infinite nor NaN, elementwise.", result=dtypes.bool)
# fmt: on


class Rsqrt(Unary):
    """1 / sqrt(x), elementwise."""

    api = ("rsqrt", "math.rsqrt")
    kind = "float"

    def kernel(xp, x):
        return xp.reciprocal(xp.sqrt(x))

    def grad(op, dy):
        y = op.outputs[0]
        return [dy * -0.5 * y * y * y]


_EXP_CAP = {np.float32: 88.0, np.float64: 709.0}  # exp of these is finite


class Sigmoid(Unary):
    """1 / (1 + exp(-x)), elementwise, without overflow for large |x|: `tf.sigmoid(logits)`."""

    api = ("sigmoid", "nn.sigmoid", "math.sigmoid")
    kind = "float"
    cost = "transcendental"

    def kernel(xp, x):
        if x.dtype in (np.float32, np.float64):  # 1 / (1 + exp(-x)) in place, exp's argument capped
            t = xp.negative(x, out=xp.empty_like(x))
            xp.minimum(t, _EXP_CAP[x.dtype.type], out=t)  # below it 1 / (1 + e) underflows anyway
            xp.exp(t, out=t)
            t += 1
            return xp.reciprocal(t, out=t)
        e = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows
        return xp.where(x >= 0, xp.ones((), x.dtype), e) / (1 + e)

    def grad(op, dy):
        y = op.outputs[0]
        return [dy * y * (1 - y)]
