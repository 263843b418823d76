"""Comparisons (Equal, Less, ...) and logic (LogicalAnd, LogicalOr, LogicalNot, logical_xor).

Each gives a bool tensor of the broadcast shape and has no gradient. Equal and
NotEqual also compare bools; the logical ops take only bools. logical_xor is
built from the others, as in TensorFlow.
"""

from __future__ import annotations

from ops import api as tf
from ops.elementwise import Compare, Unary
from ops.registry import api_function
from raygraph.graph import convert_pair


class Equal(Compare):
    """x == y, elementwise (numbers, bools or strings): `tf.equal(predictions, labels)`."""

    api = ("equal", "math.equal")
    kind = "any"

    def kernel(xp, x, y):
        return xp.equal(x, y)


class NotEqual(Compare):
    """x != y, elementwise (numbers, bools or strings)."""

    api = ("not_equal", "math.not_equal")
    kind = "any"

    def kernel(xp, x, y):
        return xp.not_equal(x, y)


class Less(Compare):
    """x < y, elementwise."""

    api = ("less", "math.less")

    def kernel(xp, x, y):
        return xp.less(x, y)


class LessEqual(Compare):
    """x <= y, elementwise."""

    api = ("less_equal", "math.less_equal")

    def kernel(xp, x, y):
        return xp.less_equal(x, y)


class Greater(Compare):
    """x > y, elementwise."""

    api = ("greater", "math.greater")

    def kernel(xp, x, y):
        return xp.greater(x, y)


class GreaterEqual(Compare):
    """x >= y, elementwise."""

    api = ("greater_equal", "math.greater_equal")

    def kernel(xp, x, y):
        return xp.greater_equal(x, y)


class LogicalAnd(Compare):
    """x and y, elementwise on bools: `tf.logical_and(valid, positive)`."""

    api = ("logical_and", "math.logical_and")
    kind = "bool"

    def kernel(xp, x, y):
        return xp.logical_and(x, y)


class LogicalOr(Compare):
    """x or y, elementwise on bools."""

    api = ("logical_or", "math.logical_or")
    kind = "bool"

    def kernel(xp, x, y):
        return xp.logical_or(x, y)


class LogicalNot(Unary):
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
