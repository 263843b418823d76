"""Op test cases for the array family (see cases.py for the contract)."""

from __future__ import annotations

import numpy as np

import raygraph as tf
from tests.ops.cases import Case, positive, uniform  # noqa: F401

CASES = [
    Case("Identity", tf.identity, lambda x: x, [((3, 4),), ((),)]),
    Case("StopGradient", tf.stop_gradient, lambda x: x, [((3,),)], grad=False),
    Case("PlaceholderWithDefault", lambda x: tf.placeholder_with_default(x, [None, 4]),
         lambda x: x, [((3, 4),)], dynamic=False),
    Case("Pack", lambda a, b: tf.stack([a, b], axis=1), lambda a, b: np.stack([a, b], 1),
         [((3, 4), (3, 4))]),
    Case("Unpack", lambda x: tf.unstack(x, num=3, axis=1), lambda x: [x[:, i] for i in range(3)],
         [((2, 3, 4),)], dynamic=False),
    Case("Shape", tf.shape, lambda x: np.array(x.shape, np.int32), [((3, 4),), ((),)], grad=False),
    Case("Reshape", lambda x: tf.reshape(x, [-1, 2]), lambda x: x.reshape(-1, 2), [((3, 4),)]),
    Case("BroadcastTo", lambda x: tf.broadcast_to(x, [3, 4]), lambda x: np.broadcast_to(x, (3, 4)),
         [((4,),), ((3, 1),)]),
    Case("ZerosLike", tf.zeros_like, np.zeros_like, [((3, 4),)], grad=False),
    Case("OnesLike", tf.ones_like, np.ones_like, [((3, 4),)], grad=False),
]

TESTED_ELSEWHERE = {
    "Placeholder": "tests/raygraph/test_session.py",
    "Const": "tests/raygraph/test_graph.py",
}
