"""User ops travel with the plan (as KernelSpecs); built-in ops do not."""

from __future__ import annotations

import numpy as np

import raygraph as tf
from ops import registry
from scheduler.engine.placement import place
from scheduler.engine.plan import build_plan

CPU0 = "/job:worker/replica:0/task:0/device:CPU:0"


class ShippedTwice(tf.Op):
    """x * 2, declared here: a user op."""

    inputs = ("x",)

    def infer(x):
        return x.dtype, x.shape

    def kernel(xp, x):
        return x * 2


def test_a_user_op_is_shipped_with_the_plan_and_a_builtin_is_not():
    x = tf.placeholder(tf.float32, [3], name="x")
    y = tf.get_default_graph().create_op("ShippedTwice", [x]).outputs[0]
    z = tf.exp(tf.matmul(tf.reshape(y, [1, 3]), tf.ones([3, 1])))
    plan = build_plan(tf.get_default_graph(), [z], [x], [], lambda ops: place(ops, [CPU0]))
    (part,) = plan.partitions.values()
    assert {n.type for n in part.nodes} >= {"ShippedTwice", "MatMul", "Exp", "Reshape"}
    assert set(part.custom_ops) == {"ShippedTwice"}
    assert part.custom_ops["ShippedTwice"] == registry.kernel_spec(ShippedTwice)
    assert registry.is_builtin("MatMul") and not registry.is_builtin("ShippedTwice")


def test_a_user_op_runs_in_a_local_session():
    x = tf.placeholder(tf.float32, [3], name="x")
    y = tf.get_default_graph().create_op("ShippedTwice", [x]).outputs[0]
    with tf.Session("local") as sess:
        np.testing.assert_allclose(sess.run(y, {x: [1, 2, 3]}), [2, 4, 6])
