"""ops.intra_op: big products split over threads and thin a @ b.T reordered give numpy's results."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ops import intra_op

rng = np.random.default_rng(0)


@pytest.fixture
def width():
    def set_to(n):
        intra_op.set_width(n)

    yield set_to
    intra_op.set_width(1)


def _pair(m, k, n, dtype=np.float32):
    return rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)


@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("shape", [(640, 200, 1000), (32, 800, 1000), (129, 300, 301)])
def test_split_products_equal_numpy(width, parts, shape):
    a, b = _pair(*shape)
    width(parts)
    assert 2.0 * np.prod(shape) >= intra_op.MIN_FLOPS  # big enough to be split
    for ta, tb in [(False, False), (True, False), (False, True), (True, True)]:
        x = np.ascontiguousarray(a.T) if ta else a
        y = np.ascontiguousarray(b.T) if tb else b
        out = intra_op.matmul(x, y, ta, tb)
        np.testing.assert_allclose(out, a @ b, rtol=2e-5, atol=2e-4)
        assert out.flags.c_contiguous and out.dtype == np.float32


def test_products_are_split_over_the_pool(width, monkeypatch):
    calls = []
    real = np.matmul

    def spy(*args, **kwargs):
        calls.append(threading.current_thread().name)
        return real(*args, **kwargs)

    a, b = _pair(256, 256, 256)
    width(2)
    monkeypatch.setattr(intra_op.np, "matmul", spy)
    intra_op.matmul(a, b)
    assert len(calls) == 2 and any(name.startswith("raygraph-intra-op") for name in calls)
    calls.clear()
    intra_op.matmul(*_pair(8, 8, 8))  # small: one call, here
    assert calls == ["MainThread"]


def test_no_split_while_another_unit_runs_or_at_width_one(width, monkeypatch):
    calls = []
    monkeypatch.setattr(intra_op.np, "matmul", lambda *a, **k: calls.append(1) or np.dot(a[0], a[1]))
    a, b = _pair(256, 256, 256)
    intra_op.matmul(a, b)  # width 1
    width(2)
    intra_op.unit_started()
    intra_op.unit_started()
    try:
        intra_op.matmul(a, b)  # inter-op parallelism has the other core
    finally:
        intra_op.unit_ended()
        intra_op.unit_ended()
    assert calls == [1, 1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_thin_transposed_products_equal_numpy(dtype):
    a = rng.integers(-5, 5, (32, 800)).astype(dtype)
    b = rng.integers(-5, 5, (400, 800)).astype(dtype)
    out = intra_op.matmul(a, b, transpose_b=True)
    np.testing.assert_allclose(out, a @ b.T, rtol=1e-5)
    assert out.flags.c_contiguous and out.shape == (32, 400) and out.dtype == dtype
