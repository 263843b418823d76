"""Special functions: Erf, Lgamma, Digamma and Polygamma, elementwise.

They use scipy's implementations (cupyx's on GPUs); without scipy, erf and
lgamma fall back to Python's math module, elementwise. Their gradients are
graph ops of the same family: lgamma' = digamma, digamma' = polygamma(1, x),
and the derivative of polygamma(a, x) in x is polygamma(a + 1, x).
"""

from __future__ import annotations

import math

from ops import api as tf
from ops.elementwise import Binary, Unary

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


class Erf(Unary):
    """The error function, elementwise."""

    api = ("erf", "math.erf")
    kind = "float"
    cost = "transcendental"

    def kernel(xp, x):
        return xp.asarray(_special(xp, "erf")(x), dtype=x.dtype)

    def grad(op, dy):
        x = op.inputs[0]
        return [dy * (2 / math.sqrt(math.pi)) * tf.exp(tf.negative(x * x))]


class Lgamma(Unary):
    """log |Gamma(x)|, elementwise."""

    api = ("lgamma", "math.lgamma")
    kind = "float"
    cost = "transcendental"

    def kernel(xp, x):
        return xp.asarray(_special(xp, "lgamma")(x), dtype=x.dtype)

    def grad(op, dy):
        return [dy * tf.digamma(op.inputs[0])]


class Digamma(Unary):
    """The derivative of lgamma, elementwise."""

    api = ("digamma", "math.digamma")
    kind = "float"
    cost = "transcendental"

    def kernel(xp, x):
        return xp.asarray(_special(xp, "digamma")(x), dtype=x.dtype)

    def grad(op, dy):
        x = op.inputs[0]
        return [dy * tf.polygamma(tf.ones_like(x), x)]


class Polygamma(Binary):
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
