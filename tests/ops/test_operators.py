"""Every Tensor operator against numpy, through a Session.

Python operators on Tensors call the public op functions (`x + y` is `tf.add`,
`x // y` is `tf.floordiv`, `~b` is `tf.logical_not`); the other operand, a
Python number or a numpy array, takes the tensor's dtype, as in TensorFlow
(`2 * x` and `np.ones(3) * x` are float32 when x is). Reflected forms
(`2.0 - x`, `array @ x`) keep the operand order.
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf

RNG = np.random.default_rng(0)
A = RNG.uniform(-2, 2, (3, 4)).astype(np.float32)
B = RNG.uniform(0.5, 2, (3, 4)).astype(np.float32)  # positive: a safe divisor and base
W = RNG.uniform(-1, 1, (4, 2)).astype(np.float32)
M = RNG.uniform(-1, 1, (5, 3)).astype(np.float32)
I = RNG.integers(-9, 10, (3, 4)).astype(np.int32)  # noqa: E741
J = (RNG.integers(1, 5, (3, 4)) * RNG.choice([-1, 1], (3, 4))).astype(np.int32)
P = RNG.random((3, 4)) < 0.5
Q = RNG.random((3, 4)) < 0.5

# (label, operator on tensors, the same on numpy arrays)
FLOAT_CASES = [
    ("add", lambda a, b: a + b, None),
    ("sub", lambda a, b: a - b, None),
    ("mul", lambda a, b: a * b, None),
    ("truediv", lambda a, b: a / b, None),
    ("floordiv", lambda a, b: a // b, lambda a, b: np.floor(a / b)),
    ("mod", lambda a, b: a % b, None),
    ("pow", lambda a, b: b**a, None),
    ("neg", lambda a, b: -a, None),
    ("abs", lambda a, b: abs(a), None),
    ("lt", lambda a, b: a < b, None),
    ("le", lambda a, b: a <= b, None),
    ("gt", lambda a, b: a > b, None),
    ("ge", lambda a, b: a >= b, None),
    ("radd", lambda a, b: 2.0 + a, None),
    ("rsub", lambda a, b: 2.0 - a, None),
    ("rsub-int-literal", lambda a, b: 2 - a, None),
    ("rmul", lambda a, b: 3 * a, None),
    ("rtruediv", lambda a, b: 1.0 / b, None),
    ("rfloordiv", lambda a, b: 7.0 // b, lambda a, b: np.floor(7.0 / b)),
    ("rmod", lambda a, b: 7.0 % b, None),
    ("rpow", lambda a, b: 2.0**a, None),
    ("pow-literal", lambda a, b: a**2, None),
    ("reversed-compare", lambda a, b: 0.5 < a, None),
    ("numpy-float64-rmul", lambda a, b: np.full((3, 4), 1.5) * a, lambda a, b: np.float32(1.5) * a),
    ("numpy-int-rsub", lambda a, b: np.arange(4) - a, lambda a, b: np.arange(4, dtype=np.float32) - a),
    ("numpy-mul", lambda a, b: a * np.arange(4.0), lambda a, b: a * np.arange(4, dtype=np.float32)),
    ("numpy-scalar-rmul", lambda a, b: np.float64(0.5) * a, lambda a, b: np.float32(0.5) * a),
    ("chain", lambda a, b: (a - b) * (a + 1.0) / b - abs(-a) ** 2.0, None),
]


def _run(fetches, feeds):
    with tf.Session("local") as sess:
        return sess.run(fetches, feeds)


@pytest.mark.parametrize("label,op,reference", FLOAT_CASES, ids=[c[0] for c in FLOAT_CASES])
def test_float_operators(label, op, reference):
    a = tf.placeholder(tf.float32, [3, 4], name="a")
    b = tf.placeholder(tf.float32, [None, 4], name="b")
    out = op(a, b)
    assert isinstance(out, tf.Tensor)
    got = _run(out, {a: A, b: B})
    expected = (reference or op)(A, B)
    assert got.dtype == out.dtype.as_numpy_dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_matmul_operators():
    x = tf.placeholder(tf.float32, [3, 4])
    outs = [x @ W, M @ x, x @ tf.constant(W)]
    got = _run(outs, {x: A})
    for g, e in zip(got, [A @ W, M @ A, A @ W]):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


INT_CASES = [
    ("add", lambda i, j: i + j),
    ("sub", lambda i, j: i - j),
    ("mul", lambda i, j: i * j),
    ("floordiv", lambda i, j: i // j),
    ("mod", lambda i, j: i % j),
    ("pow", lambda i, j: i**2),
    ("neg", lambda i, j: -i),
    ("abs", lambda i, j: abs(i)),
    ("rfloordiv", lambda i, j: 7 // j),
    ("rmod", lambda i, j: -7 % j),
    ("rsub", lambda i, j: 10 - i),
    ("lt", lambda i, j: i < j),
    ("ge", lambda i, j: i >= 0),
]


@pytest.mark.parametrize("label,op", INT_CASES, ids=[c[0] for c in INT_CASES])
def test_int_operators(label, op):
    i = tf.placeholder(tf.int32, [3, 4])
    j = tf.placeholder(tf.int32, [3, 4])
    out = op(i, j)
    got = _run(out, {i: I, j: J})
    expected = op(I, J)
    assert got.dtype == out.dtype.as_numpy_dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_int_true_division_is_float64():
    i = tf.placeholder(tf.int32, [3, 4])
    j = tf.placeholder(tf.int32, [3, 4])
    outs = [i / j, 1 / j, i / 2]
    assert [t.dtype for t in outs] == [tf.float64] * 3
    got = _run(outs, {i: I, j: J})
    for g, e in zip(got, [I / J, 1 / J, I / 2]):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, e)


BOOL_CASES = [
    ("and", lambda p, q: p & q),
    ("or", lambda p, q: p | q),
    ("xor", lambda p, q: p ^ q),
    ("not", lambda p, q: ~p),
    ("rand", lambda p, q: True & p),
    ("ror-numpy", lambda p, q: Q | p),
    ("rxor-numpy", lambda p, q: Q ^ p),
    ("and-numpy", lambda p, q: p & Q),
]


@pytest.mark.parametrize("label,op", BOOL_CASES, ids=[c[0] for c in BOOL_CASES])
def test_bool_operators(label, op):
    p = tf.placeholder(tf.bool, [3, 4])
    q = tf.placeholder(tf.bool, [3, 4])
    out = op(p, q)
    assert out.dtype == tf.bool
    got = _run(out, {p: P, q: Q})
    expected = op(P, Q)
    np.testing.assert_array_equal(got, expected)


def test_operand_takes_the_tensor_dtype():
    x = tf.placeholder(tf.float64, [3])
    i = tf.placeholder(tf.int64, [3])
    assert (x * 2).dtype == tf.float64
    assert (np.ones(3, np.float32) + x).dtype == tf.float64
    assert (i - 1).dtype == tf.int64
    assert (3 // i).dtype == tf.int64


def test_mismatched_operands_fail_at_construction():
    x = tf.placeholder(tf.float32, [3])
    i = tf.placeholder(tf.int32, [3])
    with pytest.raises(TypeError, match="int32"):
        x + i
    with pytest.raises(TypeError):
        i * 2.5  # 2.5 cannot become an int32
    with pytest.raises(TypeError, match="bool"):
        x & x  # logical operators take bools


def test_operator_gradients():
    x = tf.placeholder(tf.float64, [3, 4])
    y = (2.0 - x) * x / 4.0 + x**3.0 - abs(x) % 1.5
    (dx,) = tf.gradients(tf.reduce_sum(y), [x])
    a = A.astype(np.float64)
    expected = (2.0 - 2 * a) / 4.0 + 3 * a**2 - np.sign(a)
    np.testing.assert_allclose(_run(dx, {x: a}), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "op", [lambda i, z: i // z, lambda i, z: i % z, lambda i, z: tf.div(i, z)], ids=["floordiv", "mod", "div"]
)
def test_integer_division_by_zero_raises(op):
    """FloorDiv, FloorMod (and TF1's div) on integers: InvalidArgumentError naming the node."""
    i = tf.placeholder(tf.int32, [3], name="i")
    z = tf.placeholder(tf.int32, [3], name="z")
    out = op(i, z)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Integer division by zero") as info:
        _run(out, {i: [1, 2, 3], z: [1, 0, 1]})
    assert out.op.name in str(info.value)


def test_integer_to_negative_power_raises():
    i = tf.placeholder(tf.int32, [2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="negative integer powers"):
        _run(i ** tf.constant([1, -1]), {i: [2, 3]})
