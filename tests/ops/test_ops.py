"""Every registered op against numpy, and every gradient against finite differences.

Driven by the table in cases.py: a new op without a case fails here.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import raygraph as tf
from ops import registry
from tests.ops.cases import Case, all_cases, uniform

CASES, TESTED_ELSEWHERE = all_cases()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def builtin_ops() -> dict:
    return {k: v for k, v in registry.registered_ops().items() if v.__module__.startswith("ops.")}


def _inputs(case: Case, shapes, rng, float_dtype=None):
    dtypes = [case.dtype_of(i) for i in range(len(shapes))]
    if float_dtype is not None:
        dtypes = [float_dtype if np.dtype(d).kind == "f" else d for d in dtypes]
    make = case.inputs or uniform()
    return make(rng, shapes, dtypes)


def _placeholders(arrays, dynamic: bool):
    return [
        tf.placeholder(tf.as_dtype(a.dtype), [None] * a.ndim if dynamic else a.shape, name=f"in{i}")
        for i, a in enumerate(arrays)
    ]


def _as_list(x):
    return list(x) if isinstance(x, list | tuple) else [x]


def _forward_params():
    for case in CASES:
        for k, shapes in enumerate(case.shapes):
            yield pytest.param(case, shapes, False, id=f"{case.id}-{k}")
        if case.dynamic:
            yield pytest.param(case, case.shapes[0], True, id=f"{case.id}-dynamic")


@pytest.mark.parametrize("case,shapes,dynamic", list(_forward_params()))
def test_forward_matches_numpy(case: Case, shapes, dynamic: bool):
    rng = np.random.default_rng(0)
    arrays = _inputs(case, shapes, rng)
    placeholders = _placeholders(arrays, dynamic)
    outputs = _as_list(case.build(*placeholders))
    expected = _as_list(case.reference(*arrays))
    with tf.Session("local") as sess:
        got = sess.run(outputs, dict(zip(placeholders, arrays)))
    assert len(got) == len(expected)
    for t, g, e in zip(outputs, got, expected):
        g = np.asarray(g)
        assert g.dtype == t.dtype.as_numpy_dtype, f"{t.name}: kernel gave {g.dtype}, inferred {t.dtype.name}"
        assert t.shape.is_compatible_with(g.shape), f"{t.name}: value {g.shape} vs static {t.shape}"
        e = np.asarray(e)
        assert g.shape == e.shape
        if g.dtype.kind == "f":
            np.testing.assert_allclose(g, e, rtol=case.rtol, atol=case.atol)
        else:
            np.testing.assert_array_equal(g, e.astype(g.dtype))


def _grad_params():
    for case in CASES:
        if case.grad:
            yield pytest.param(case, False, id=f"{case.id}")
            if case.dynamic:
                yield pytest.param(case, True, id=f"{case.id}-dynamic")


@pytest.mark.parametrize("case,dynamic", list(_grad_params()))
def test_gradient_matches_finite_differences(case: Case, dynamic: bool):
    rng = np.random.default_rng(1)
    arrays = _inputs(case, case.shapes[0], rng, float_dtype="float64")
    which = case.grad_inputs
    if which is None:
        which = tuple(i for i, a in enumerate(arrays) if a.dtype.kind == "f")
    placeholders = _placeholders(arrays, dynamic)
    outputs = _as_list(case.build(*placeholders))
    expected = _as_list(case.reference(*arrays))
    weights = [rng.uniform(-1, 1, np.shape(e)) for e in expected]
    loss = tf.add_n(
        [
            tf.cast(tf.reduce_sum(y * tf.constant(w, dtype=y.dtype)), tf.float64)
            for y, w in zip(outputs, weights)
        ]
    )
    grads = tf.gradients(loss, [placeholders[i] for i in which])
    assert all(g is not None for g in grads), f"{case.op}: no gradient for some input"
    with tf.Session("local") as sess:
        analytic = sess.run(grads, dict(zip(placeholders, arrays)))

    def f(values):
        return sum(
            float(np.sum(np.asarray(y, np.float64) * w))
            for y, w in zip(_as_list(case.reference(*values)), weights)
        )

    eps = 1e-6
    for i, g in zip(which, analytic):
        numeric = np.zeros_like(arrays[i])
        flat = numeric.reshape(-1)
        for j in range(arrays[i].size):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[i].reshape(-1)[j] += eps
            minus[i].reshape(-1)[j] -= eps
            flat[j] = (f(plus) - f(minus)) / (2 * eps)
        np.testing.assert_allclose(g, numeric, rtol=1e-4, atol=1e-5, err_msg=f"{case.op} input {i}")


def test_every_op_has_a_case():
    covered = {c.op for c in CASES} | set(TESTED_ELSEWHERE)
    missing = sorted(set(builtin_ops()) - covered)
    assert not missing, f"registered ops with no test case in tests/ops/cases.py: {missing}"


def test_ops_tested_elsewhere_are_named_there():
    for op_type, path in TESTED_ELSEWHERE.items():
        with open(os.path.join(ROOT, path)) as f:
            assert op_type in f.read(), f"{path} does not mention {op_type}"


def test_every_differentiable_op_has_a_checked_gradient():
    checked = {c.op for c in CASES if c.grad}
    problems = []
    for op_type, cls in builtin_ops().items():
        if not cls.differentiable or op_type in TESTED_ELSEWHERE:
            continue
        if cls.grad is None:
            problems.append(f"{op_type}: differentiable but no gradient")
        elif op_type not in checked:
            problems.append(f"{op_type}: gradient never checked (add a Case with grad=True)")
    assert not problems, "\n".join(problems)
