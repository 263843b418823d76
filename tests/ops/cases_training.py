"""Op test cases for the training family.

The fused updates change variables, so tests/raygraph/test_optimizers.py checks
each against numpy over several steps. The schedules are plain functions of
scalars, checked here against TF's formulas.
"""

from __future__ import annotations

import numpy as np

from ops.registry import build
from tests.ops.cases import Case

TESTED_ELSEWHERE = {
    op: "tests/raygraph/test_optimizers.py"
    for op in (
        "ApplyGradientDescent",
        "ApplyMomentum",
        "ApplyAdam",
        "ApplyRMSProp",
        "ApplyCenteredRMSProp",
        "ApplyAdagrad",
    )
}

SCALARS4 = [((), (), (), ())]


def _steps(low: int = 0, high: int = 40):
    """learning rate, a whole step count, then positive parameters."""

    def make(rng, shapes, dtypes):
        lr = rng.uniform(0.01, 1.0, size=shapes[0]).astype(dtypes[0])
        step = rng.integers(low, high, size=shapes[1]).astype(dtypes[0])
        rest = [rng.uniform(0.5, 0.99, size=s).astype(dtypes[0]) for s in shapes[2:]]
        rest[0] = (rest[0] * 20).astype(dtypes[0])  # decay_steps
        return [lr, step, *rest]

    return make


def _exponential(lr, step, decay_steps, rate, staircase=False):
    p = np.float32(step) / np.float32(decay_steps)
    p = np.floor(p) if staircase else p
    return np.float32(lr) * np.power(np.float32(rate), p)


def _inverse_time(lr, step, decay_steps, rate, staircase=False):
    p = np.float32(step) / np.float32(decay_steps)
    p = np.floor(p) if staircase else p
    return np.float32(lr) / (1 + np.float32(rate) * p)


def _polynomial(lr, step, decay_steps, end, power, cycle=False):
    if cycle:
        decay_steps = decay_steps * (1 if step == 0 else np.ceil(step / decay_steps))
    else:
        step = min(step, decay_steps)
    return (lr - end) * (1 - step / decay_steps) ** power + end


def _case(op, reference, attrs, label="", shapes=SCALARS4, inputs=None):
    return Case(
        op,
        lambda *xs: build(op, list(xs), dict(attrs)),
        lambda *xs: np.float32(reference(*xs, **attrs)),
        shapes,
        inputs=inputs or _steps(),
        grad=False,
        label=label,
    )


def _piecewise(x, b0, b1, v0, v1, v2):
    return v0 if x <= b0 else (v1 if x <= b1 else v2)


def _piecewise_inputs(rng, shapes, dtypes):
    x = np.float32(rng.integers(0, 30))
    b0, b1 = np.float32(10), np.float32(20)
    values = [np.float32(v) for v in rng.uniform(0.1, 1.0, size=3)]
    return [np.asarray(x), np.asarray(b0), np.asarray(b1), *map(np.asarray, values)]


CASES = [
    _case("ExponentialDecay", _exponential, {"staircase": False}),
    _case("ExponentialDecay", _exponential, {"staircase": True}, "staircase"),
    _case("InverseTimeDecay", _inverse_time, {"staircase": False}),
    _case("InverseTimeDecay", _inverse_time, {"staircase": True}, "staircase"),
    _case(
        "PolynomialDecay", _polynomial, {"cycle": False}, shapes=[((), (), (), (), ())], inputs=_steps(0, 60)
    ),
    _case(
        "PolynomialDecay",
        _polynomial,
        {"cycle": True},
        "cycle",
        shapes=[((), (), (), (), ())],
        inputs=_steps(0, 60),
    ),
    Case(
        "PiecewiseConstant",
        lambda x, b0, b1, v0, v1, v2: build("PiecewiseConstant", [x, [b0, b1], [v0, v1, v2]]),
        _piecewise,
        [((),) * 6],
        inputs=_piecewise_inputs,
        grad=False,
    ),
]

TESTED_ELSEWHERE["ApplyAdadelta"] = "tests/raygraph/test_adadelta_cosine_decay.py"
