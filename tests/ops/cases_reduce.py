"""Op test cases for the reduce family (see cases.py for the contract)."""

from __future__ import annotations

import numpy as np

import raygraph as tf
from tests.ops.cases import Case, positive, uniform  # noqa: F401

CASES = [
    Case("Sum", tf.reduce_sum, np.sum, [((3, 4),), ((2, 3, 4),)]),
    Case("Sum", lambda x: tf.reduce_sum(x, axis=1, keepdims=True),
         lambda x: x.sum(1, keepdims=True), [((3, 4),)], label="keepdims"),
    Case("ReduceToShape", lambda x, s: tf.raw_ops.ReduceToShape(input=x, shape=tf.shape(s)),
         lambda x, s: x.sum(0), [((3, 4), (4,))], grad_inputs=(0,)),
    Case("ReducedShape", lambda x: tf.raw_ops.ReducedShape(shape=tf.shape(x), axis=(1,)),
         lambda x: np.array([x.shape[0], 1, x.shape[2]], np.int32), [((2, 3, 4),)], grad=False),
]
