"""Op test cases for the reduce family (see cases.py for the contract).

Composites (reduce_logsumexp, count_nonzero, norm, reduce_variance) are listed
under the op type they are built around, with a label.
"""

from __future__ import annotations

import numpy as np

import raygraph as tf
from ops import api, registry
from tests.ops.cases import Case, positive, uniform

SHAPES = [((3, 4),), ((2, 3, 4),), ((),), ((5,),)]
INT = ("int32",)


def pair_ties(rng, shapes, dtypes):
    """Rows whose largest (and smallest) value appears exactly twice: columns 1 and 3."""
    x = rng.uniform(-1, 1, shapes[0])
    x[..., 1] = x[..., 3] = 2.0
    x[..., 0] = x[..., 2] = -2.0
    return [x.astype(dtypes[0])]


def with_zeros(count: int):
    """Values in [0.5, 2] with random signs and `count` zeros in each row."""

    def make(rng, shapes, dtypes):
        x = rng.uniform(0.5, 2, shapes[0]) * rng.choice([-1, 1], shapes[0])
        x[..., :count] = 0.0
        return [x.astype(dtypes[0])]

    return make


def with_minus_inf(rng, shapes, dtypes):
    """Row 0 all -inf, row 1 with one -inf, the rest large (overflows a naive exp)."""
    x = rng.uniform(500, 600, shapes[0])
    x[0] = -np.inf
    x[1, 0] = -np.inf
    return [x.astype(dtypes[0])]


def distinct(rng, shapes, dtypes):
    """A permutation, so arg max and min have one answer."""
    size = int(np.prod(shapes[0]))
    return [rng.permutation(size).reshape(shapes[0]).astype(dtypes[0])]


def int_mean(axis=None, keepdims=False):
    """TensorFlow's integer mean: the sum divided by the count, truncated toward zero."""

    def mean(x):
        total = x.sum(axis=axis, keepdims=keepdims, dtype=np.int64)
        n = x.size // max(total.size, 1)
        return np.fix(total / n).astype(x.dtype)

    return mean


def logsumexp(axis=None, keepdims=False):
    def reference(x):
        x = x.astype(np.float64)
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=axis)

    return reference


def scan(fn, identity, axis=0, exclusive=False, reverse=False):
    def reference(x):
        if reverse:
            x = np.flip(x, axis)
        out = fn(x, axis=axis, dtype=x.dtype)
        if exclusive:
            out = np.roll(out, 1, axis)
            index = [slice(None)] * x.ndim
            index[axis] = 0
            out[tuple(index)] = identity
        return np.flip(out, axis) if reverse else out

    return reference


SUMS = [
    Case("Sum", tf.reduce_sum, np.sum, SHAPES),
    Case(
        "Sum",
        lambda x: tf.reduce_sum(x, axis=1, keepdims=True),
        lambda x: x.sum(1, keepdims=True),
        [((3, 4),)],
        label="keepdims",
    ),
    Case(
        "Sum",
        lambda x: tf.reduce_sum(x, reduction_indices=[0, -1], keep_dims=True),
        lambda x: x.sum((0, 2), keepdims=True),
        [((2, 3, 4),)],
        label="tf1-spellings",
    ),
    Case(
        "Sum",
        lambda x: api.math.reduce_sum(x, -1),
        lambda x: x.sum(-1),
        [((2, 3, 4),)],
        dtypes=INT,
        grad=False,
        label="int",
    ),
    Case("Mean", tf.reduce_mean, np.mean, SHAPES),
    Case(
        "Mean",
        lambda x: tf.reduce_mean(x, axis=[0, 2]),
        lambda x: x.mean((0, 2)),
        [((2, 3, 4),)],
        label="axes",
    ),
    Case(
        "Mean",
        lambda x: tf.reduce_mean(x, 0, keepdims=True),
        lambda x: x.mean(0, keepdims=True),
        [((3, 4),)],
        label="keepdims",
    ),
    Case(
        "Mean",
        tf.reduce_mean,
        int_mean(),
        [((3, 4),), ((5,),)],
        dtypes=INT,
        inputs=uniform(-9, 9),
        grad=False,
        label="int",
    ),
    Case(
        "Mean",
        lambda x: tf.reduce_mean(x, 1),
        int_mean(1),
        [((4, 3),)],
        dtypes=("int64",),
        inputs=uniform(-9, 9),
        grad=False,
        label="int-axis",
    ),
    Case(
        "Mean",
        lambda x: api.math.reduce_variance(x, axis=1),
        lambda x: x.var(1),
        [((3, 4),)],
        label="reduce_variance",
    ),
    Case(
        "Mean",
        lambda x: api.math.reduce_std(x, keepdims=True),
        lambda x: x.std(keepdims=True),
        [((3, 4),), ((2, 3, 4),)],
        label="reduce_std",
    ),
    Case("Prod", tf.reduce_prod, np.prod, [((3, 4),), ((),), ((2, 3, 2),)], inputs=uniform(0.5, 1.5)),
    Case(
        "Prod",
        lambda x: tf.reduce_prod(x, axis=[0, 2]),
        lambda x: x.prod((0, 2)),
        [((2, 3, 4),)],
        inputs=uniform(0.5, 1.5),
        label="axes",
    ),
    Case(
        "Prod",
        lambda x: tf.reduce_prod(x, 1),
        lambda x: x.prod(1),
        [((3, 4),)],
        inputs=with_zeros(1),
        label="one-zero",
    ),
    Case(
        "Prod",
        lambda x: tf.reduce_prod(x, 1, keepdims=True),
        lambda x: x.prod(1, keepdims=True),
        [((3, 4),)],
        inputs=with_zeros(2),
        label="two-zeros",
    ),
    Case(
        "Prod",
        lambda x: tf.reduce_prod(x, [1, 2]),
        lambda x: x.prod((1, 2)),
        [((2, 3, 4),)],
        inputs=with_zeros(1),
        label="axes-zero",
    ),
    Case("Prod", tf.reduce_prod, np.prod, [((3, 4),)], dtypes=INT, grad=False, label="int"),
]

EXTREMA = [
    Case("Max", tf.reduce_max, np.max, SHAPES),
    Case(
        "Max",
        lambda x: tf.reduce_max(x, axis=-1, keepdims=True),
        lambda x: x.max(-1, keepdims=True),
        [((3, 4),), ((2, 3, 4),)],
        label="keepdims",
    ),
    Case(
        "Max", lambda x: tf.reduce_max(x, 1), lambda x: x.max(1), [((3, 4),)], inputs=pair_ties, label="ties"
    ),
    Case("Max", tf.reduce_max, np.max, [((3, 4),)], dtypes=INT, grad=False, label="int"),
    Case("Min", tf.reduce_min, np.min, SHAPES),
    Case(
        "Min", lambda x: tf.reduce_min(x, axis=[0, 1]), lambda x: x.min((0, 1)), [((2, 3, 4),)], label="axes"
    ),
    Case(
        "Min", lambda x: tf.reduce_min(x, 1), lambda x: x.min(1), [((3, 4),)], inputs=pair_ties, label="ties"
    ),
    Case("Max", tf.reduce_logsumexp, logsumexp(), [((3, 4),), ((),)], label="logsumexp"),
    Case("Max", lambda x: tf.reduce_logsumexp(x, 1), logsumexp(1), [((3, 4),)], label="logsumexp-axis"),
    Case(
        "Max",
        lambda x: tf.reduce_logsumexp(x, -1, keepdims=True),
        logsumexp(-1, True),
        [((2, 3, 4),)],
        label="logsumexp-keepdims",
    ),
    Case(
        "Max",
        lambda x: tf.reduce_logsumexp(x, 1),
        logsumexp(1),
        [((3, 4),)],
        inputs=with_minus_inf,
        grad=False,
        label="logsumexp-inf",
    ),
]

LOGIC_AND_ARGS = [
    Case("Any", tf.reduce_any, np.any, [((3, 4),), ((),)], dtypes=("bool",), grad=False),
    Case(
        "Any",
        lambda x: tf.reduce_any(x, 1),
        lambda x: x.any(1),
        [((3, 4),)],
        dtypes=("bool",),
        grad=False,
        label="axis",
    ),
    Case("All", tf.reduce_all, np.all, [((3, 4),)], dtypes=("bool",), grad=False),
    Case(
        "All",
        lambda x: tf.reduce_all(x, 0, keepdims=True),
        lambda x: x.all(0, keepdims=True),
        [((3, 4),)],
        dtypes=("bool",),
        grad=False,
        label="keepdims",
    ),
    Case("ArgMax", tf.argmax, lambda x: np.argmax(x, 0), [((3, 4),), ((5,),)], inputs=distinct, grad=False),
    Case(
        "ArgMax",
        lambda x: tf.argmax(x, 1, output_type=tf.int32),
        lambda x: np.argmax(x, 1).astype(np.int32),
        [((3, 4),)],
        inputs=distinct,
        grad=False,
        label="int32",
    ),
    Case(
        "ArgMax",
        lambda x: tf.argmax(x, dimension=-1),
        lambda x: np.argmax(x, -1),
        [((2, 3, 4),)],
        dtypes=INT,
        inputs=distinct,
        grad=False,
        label="dimension",
    ),
    Case(
        "ArgMax",
        lambda x: tf.arg_max(x, 0),
        lambda x: np.argmax(x, 0),
        [((3, 4),)],
        dtypes=("bool",),
        grad=False,
        label="bool",
    ),
    Case("ArgMin", tf.argmin, lambda x: np.argmin(x, 0), [((3, 4),)], inputs=distinct, grad=False),
    Case(
        "ArgMin",
        lambda x: api.math.argmin(x, 1),
        lambda x: np.argmin(x, 1),
        [((3, 4),)],
        inputs=distinct,
        grad=False,
        label="axis",
    ),
    Case(
        "Sum",
        tf.count_nonzero,
        lambda x: np.int64(np.count_nonzero(x)),
        [((3, 4),), ((),)],
        dtypes=INT,
        grad=False,
        label="count_nonzero",
    ),
    Case(
        "Sum",
        lambda x: tf.count_nonzero(x, 1, dtype=tf.int32),
        lambda x: np.count_nonzero(x, 1),
        [((3, 4),)],
        dtypes=("bool",),
        grad=False,
        label="count_nonzero-bool",
    ),
]

NORMS = [
    Case("Sum", tf.norm, lambda x: np.linalg.norm(x.ravel()), [((3, 4),), ((5,),)], label="norm"),
    Case(
        "Sum",
        lambda x: tf.norm(x, axis=1, keepdims=True),
        lambda x: np.linalg.norm(x, axis=1, keepdims=True),
        [((3, 4),)],
        label="norm-axis",
    ),
    Case(
        "Sum", lambda x: tf.norm(x, ord=1, axis=-1), lambda x: np.abs(x).sum(-1), [((3, 4),)], label="norm-1"
    ),
    Case(
        "Max",
        lambda x: tf.norm(x, ord=np.inf, axis=0),
        lambda x: np.abs(x).max(0),
        [((3, 4),)],
        label="norm-inf",
    ),
    Case(
        "Sum",
        lambda x: tf.norm(x, ord=3),
        lambda x: (np.abs(x) ** 3).sum() ** (1 / 3),
        [((3, 4),)],
        label="norm-3",
    ),
    Case(
        "Sum",
        lambda x: tf.norm(x, ord="fro", axis=[-2, -1]),
        lambda x: np.linalg.norm(x, "fro", (-2, -1)),
        [((2, 3, 4),)],
        label="norm-fro",
    ),
    Case(
        "Max",
        lambda x: tf.norm(x, ord=1, axis=[0, 1]),
        lambda x: np.linalg.norm(x, 1, (0, 1)),
        [((3, 4),)],
        label="norm-matrix-1",
    ),
    Case(
        "Max",
        lambda x: registry.api_functions("linalg.")["norm"](x, ord=np.inf, axis=(1, 2), keepdims=True),
        lambda x: np.linalg.norm(x, np.inf, (1, 2), keepdims=True),
        [((2, 3, 4),)],
        label="norm-matrix-inf",
    ),
]

SCANS = [
    Case("Cumsum", tf.cumsum, scan(np.cumsum, 0), [((3, 4),), ((5,),)]),
    Case(
        "Cumsum",
        lambda x: tf.cumsum(x, 1, exclusive=True),
        scan(np.cumsum, 0, 1, exclusive=True),
        [((3, 4),)],
        label="exclusive",
    ),
    Case(
        "Cumsum",
        lambda x: tf.cumsum(x, -1, reverse=True),
        scan(np.cumsum, 0, -1, reverse=True),
        [((2, 3, 4),)],
        label="reverse",
    ),
    Case(
        "Cumsum",
        lambda x: api.math.cumsum(x, 0, True, True),
        scan(np.cumsum, 0, 0, True, True),
        [((4, 3),)],
        label="exclusive-reverse",
    ),
    Case(
        "Cumsum",
        lambda x: tf.cumsum(x, 1),
        scan(np.cumsum, 0, 1),
        [((3, 4),)],
        dtypes=INT,
        grad=False,
        label="int",
    ),
    Case("Cumprod", tf.cumprod, scan(np.cumprod, 1), [((3, 4),), ((5,),)], inputs=positive(0.5, 1.5)),
    Case(
        "Cumprod",
        lambda x: tf.cumprod(x, 1, exclusive=True),
        scan(np.cumprod, 1, 1, exclusive=True),
        [((3, 4),)],
        inputs=positive(0.5, 1.5),
        label="exclusive",
    ),
    Case(
        "Cumprod",
        lambda x: tf.cumprod(x, 0, exclusive=True, reverse=True),
        scan(np.cumprod, 1, 0, exclusive=True, reverse=True),
        [((4, 3),)],
        inputs=positive(0.5, 1.5),
        label="exclusive-reverse",
    ),
    Case(
        "Cumprod",
        lambda x: tf.cumprod(x, 0, reverse=True),
        scan(np.cumprod, 1, 0, reverse=True),
        [((4,),)],
        dtypes=INT,
        grad=False,
        label="int",
    ),
]

SHAPE_HELPERS = [
    Case(
        "ReduceToShape",
        lambda x, s: tf.raw_ops.ReduceToShape(input=x, shape=tf.shape(s)),
        lambda x, s: x.sum(0),
        [((3, 4), (4,))],
        grad_inputs=(0,),
    ),
    Case(
        "ReducedShape",
        lambda x: tf.raw_ops.ReducedShape(shape=tf.shape(x), axis=(1,)),
        lambda x: np.array([x.shape[0], 1, x.shape[2]], np.int32),
        [((2, 3, 4),)],
        grad=False,
    ),
]

CASES = SUMS + EXTREMA + LOGIC_AND_ARGS + NORMS + SCANS + SHAPE_HELPERS
