"""Op test cases for the math family (see cases.py for the contract)."""

from __future__ import annotations

import numpy as np

import raygraph as tf
from tests.ops.cases import Case, positive, uniform  # noqa: F401

BINARY_SHAPES = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((5, 1), (1, 6)), ((), (7,))]

CASES = [
    Case("AddV2", tf.add, np.add, BINARY_SHAPES),
    Case("Sub", tf.subtract, np.subtract, BINARY_SHAPES),
    Case("Mul", tf.multiply, np.multiply, BINARY_SHAPES),
    Case("RealDiv", tf.realdiv, np.true_divide, BINARY_SHAPES, inputs=positive()),
    Case("Neg", tf.negative, np.negative, [((3, 4),), ((),)]),
    Case("Abs", tf.abs, np.abs, [((3, 4),), ((5,),)]),
    Case("Sign", tf.sign, np.sign, [((3, 4),)], grad=False),
    Case("Exp", tf.exp, np.exp, [((3, 4),), ((2, 2, 2),)]),
    Case("Less", tf.less, np.less, BINARY_SHAPES, grad=False),
    Case("Greater", tf.greater, np.greater, BINARY_SHAPES, grad=False),
    Case("AddN", lambda a, b, c: tf.add_n([a, b, c]), lambda a, b, c: a + b + c,
         [((3, 4), (3, 4), (3, 4))]),
    Case("MatMul", tf.matmul, np.matmul, [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((1, 1), (1, 3))]),
    Case("MatMul", lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True),
         lambda a, b: a.T @ b.T, [((4, 3), (5, 4))], label="transposed"),
    Case("Cast", lambda x: tf.cast(x, tf.float64), lambda x: x.astype(np.float64),
         [((3, 4),)], grad=False),
    Case("Cast", lambda x: tf.cast(x, tf.int32), lambda x: x.astype(np.int32),
         [((3, 4),)], grad=False, label="to-int"),
    Case("Cast", lambda x: tf.cast(x, tf.float32), lambda x: x, [((3, 4),)], dtypes=("float64",),
         rtol=1e-6, label="float64-to-float32"),
]
