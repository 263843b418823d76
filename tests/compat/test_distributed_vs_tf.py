"""TF1's tower pattern and replica_device_setter against TensorFlow 2.21's tf.compat.v1.

The tower program (one tower per device under tf.device, gradients averaged,
one apply) is written once and run on TensorFlow with two CPU devices and on
raygraph's local target with two devices; the trained variables must agree to
float32 rounding, and tf.parallel.DataParallel must give the same numbers.
replica_device_setter must give every op the device string TensorFlow gives it.
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1
RNG = np.random.RandomState(3)
X = RNG.randn(96, 12).astype(np.float32)
Y = RNG.randint(0, 4, 96).astype(np.int64)
W1 = RNG.randn(12, 16).astype(np.float32) * 0.3
W2 = RNG.randn(16, 4).astype(np.float32) * 0.3


def tower_loss(tf, x, y):
    w1 = tf.get_variable("w1", initializer=W1)
    b1 = tf.get_variable("b1", initializer=np.zeros(16, np.float32))
    w2 = tf.get_variable("w2", initializer=W2)
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))


def towers(tf, session_target, towers=2, steps=5):
    """The classic TF1 multi-tower program; the trained variables and the last tower's gradients."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 12])
        y = tf.placeholder(tf.int64, [None])
        opt = tf.train.MomentumOptimizer(0.1, 0.9)
        tower_grads = []
        for i, (xs, ys) in enumerate(zip(tf.split(x, towers), tf.split(y, towers))):
            with tf.device(f"/cpu:{i}"), tf.variable_scope("model", reuse=i > 0):
                tower_grads.append(opt.compute_gradients(tower_loss(tf, xs, ys)))
        averaged = []
        for pairs in zip(*tower_grads):
            grads = [g for g, _ in pairs]
            averaged.append((tf.add_n(grads) / float(towers), pairs[0][1]))
        train_op = opt.apply_gradients(averaged)
        variables = tf.trainable_variables()
        init = tf.global_variables_initializer()
    config = tf.ConfigProto(device_count={"CPU": towers})
    with tf.Session(session_target, graph=g, config=config) as sess:
        sess.run(init)
        first_grads = sess.run([g for g, _ in averaged], {x: X, y: Y})
        for _ in range(steps):
            sess.run(train_op, {x: X, y: Y})
        return sess.run(variables), first_grads, [v.name for v in variables]


def test_tower_pattern_matches_tensorflow():
    theirs, their_grads, their_names = towers(v1, "")
    ours, our_grads, our_names = towers(raygraph, "local")
    assert our_names == their_names == ["model/w1:0", "model/b1:0", "model/w2:0"]
    for a, b in zip(ours + our_grads, theirs + their_grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_data_parallel_matches_tensorflow_towers():
    theirs, _, _ = towers(v1, "")
    tf = raygraph
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 12])
        y = tf.placeholder(tf.int64, [None])

        def model_fn(xs, ys):
            with tf.variable_scope("model"):
                return tower_loss(tf, xs, ys)

        dp = tf.parallel.DataParallel(model_fn, [x, y], devices=2)
        train_op = dp.minimize(tf.train.MomentumOptimizer(0.1, 0.9))
        init = tf.global_variables_initializer()
    with tf.Session("local", graph=g, config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(init)
        for _ in range(5):
            sess.run(train_op, {x: X, y: Y})
        ours = sess.run(dp.variables)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def setter_program(tf, **setter_args):
    """Variables and ops under replica_device_setter; {op name: device} for the ops both libraries name alike."""
    g = tf.Graph()
    with g.as_default():
        with tf.device(tf.train.replica_device_setter(**setter_args)):
            step = tf.train.get_or_create_global_step()
            with tf.variable_scope("layer1"):
                w1 = tf.get_variable("w", initializer=W1)
                b1 = tf.get_variable("b", initializer=np.zeros(16, np.float32))
            with tf.variable_scope("layer2"):
                w2 = tf.get_variable("w", initializer=W2)
            v = tf.Variable(1.0, name="plain")
            x = tf.placeholder(tf.float32, [None, 12], name="x")
            out = tf.matmul(tf.matmul(x, w1, name="mm1") + b1, w2, name="mm2")
            with tf.device("/job:worker/task:3"):
                scaled = tf.multiply(out, v, name="scaled")
    wanted = [step.op, w1.op, b1.op, w2.op, v.op, x.op, out.op, scaled.op]
    return {op.name: op.device for op in wanted}


@pytest.mark.parametrize(
    "setter_args",
    [
        {"ps_tasks": 2},
        {"ps_tasks": 3, "worker_device": "/job:worker/task:1"},
        {"cluster": {"ps": ["a:1", "b:1"], "worker": ["c:1"]}, "worker_device": "/job:worker/task:0/cpu:0"},
        {"ps_tasks": 2, "ps_device": "/job:ps/cpu:0", "ps_strategy": lambda op: 1},
    ],
)
def test_replica_device_setter_places_like_tensorflow(setter_args):
    theirs = setter_program(v1, **setter_args)
    ours = setter_program(raygraph, **setter_args)
    assert ours == theirs


def test_cluster_spec_like_tensorflow():
    spec = {"ps": ["p0:1", "p1:1"], "worker": {0: "w0:1", 3: "w3:1"}}
    theirs, ours = v1.train.ClusterSpec(spec), raygraph.train.ClusterSpec(spec)
    assert ours.jobs == theirs.jobs
    assert ours.as_dict() == theirs.as_dict()
    for job in ("ps", "worker"):
        assert ours.num_tasks(job) == theirs.num_tasks(job)
        assert ours.task_indices(job) == theirs.task_indices(job)
        assert ours.job_tasks(job) == theirs.job_tasks(job)
    assert raygraph.train.replica_device_setter(cluster={"worker": ["w:1"]}) is None
    assert v1.train.replica_device_setter(cluster={"worker": ["w:1"]}) is None
