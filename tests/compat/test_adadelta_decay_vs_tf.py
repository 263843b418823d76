"""AdadeltaOptimizer and the cosine schedules against TensorFlow 2.21's tf.compat.v1.

A two-layer regression is trained for 25 steps with raygraph (Session("local"))
and with tensorflow.compat.v1 in graph mode, from the same values: the losses,
the final variables and the slot variables' names and values must agree to
float32 rounding. The schedules are evaluated at the same steps by both.
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1


def train(tf, session, make_optimizer, steps=25):
    rng = np.random.default_rng(1)
    xs = rng.uniform(-1, 1, (16, 3)).astype(np.float32)
    ts = (xs @ rng.normal(0, 1, (3, 2)) + 0.3).astype(np.float32)
    initial = [rng.normal(0, 0.5, (3, 5)), np.zeros(5), rng.normal(0, 0.5, (5, 2))]
    with tf.Graph().as_default():
        x, t = tf.constant(xs), tf.constant(ts)
        w1, b1, w2 = (tf.Variable(v.astype(np.float32), name=n) for v, n in zip(initial, ["w1", "b1", "w2"]))
        loss = tf.reduce_mean(tf.square(tf.matmul(tf.tanh(tf.matmul(x, w1) + b1), w2) - t))
        step = tf.train.get_or_create_global_step()
        opt = make_optimizer(tf, step)
        train_op = opt.minimize(loss, global_step=step)
        slots = {f"{v.op.name}:{s}": opt.get_slot(v, s) for v in (w1, b1, w2) for s in opt.get_slot_names()}
        with session() as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([train_op, loss])[1] for _ in range(steps)]
            values = sess.run([w1, b1, w2])
            slot_values = {k: (s.op.name, sess.run(s)) for k, s in slots.items()}
    return losses, values, slot_values


OPTIMIZERS = {
    "Adadelta": lambda tf, step: tf.train.AdadeltaOptimizer(1.0, rho=0.9, epsilon=1e-6),
    "Adadelta-defaults": lambda tf, step: tf.train.AdadeltaOptimizer(),
    "Adadelta-cosine_decay": lambda tf, step: tf.train.AdadeltaOptimizer(
        tf.train.cosine_decay(2.0, step, 20, alpha=0.1), rho=0.8
    ),
    "Adadelta-restarts": lambda tf, step: tf.train.AdadeltaOptimizer(
        tf.train.cosine_decay_restarts(1.0, step, 4, t_mul=2.0, m_mul=0.8)
    ),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_adadelta_trains_as_tensorflow(name):
    ours = train(raygraph, lambda: raygraph.Session("local"), OPTIMIZERS[name])
    theirs = train(v1, v1.Session, OPTIMIZERS[name])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-4, atol=1e-7, err_msg="losses")
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg="variables")
    assert sorted(ours[2]) == sorted(theirs[2])
    for key, (op_name, value) in ours[2].items():
        assert op_name == theirs[2][key][0], key  # "w1/Adadelta", "w1/Adadelta_1": checkpoints map
        np.testing.assert_allclose(value, theirs[2][key][1], rtol=1e-4, atol=1e-7, err_msg=key)


SCHEDULES = {
    "cosine_decay": lambda tf, s: tf.train.cosine_decay(0.1, s, 50, alpha=0.05),
    "cosine_decay_restarts": lambda tf, s: tf.train.cosine_decay_restarts(
        0.1, s, 7, t_mul=1.5, m_mul=0.7, alpha=0.01
    ),
    "cosine_decay_restarts-t_mul-1": lambda tf, s: tf.train.cosine_decay_restarts(0.1, s, 7, t_mul=1.0),
    "linear_cosine_decay": lambda tf, s: tf.train.linear_cosine_decay(0.1, s, 50, num_periods=3, beta=0.02),
    "noisy_linear_cosine_decay-no-noise": lambda tf, s: tf.train.noisy_linear_cosine_decay(
        0.1, s, 50, initial_variance=0.0
    ),
    "natural_exp_decay": lambda tf, s: tf.train.natural_exp_decay(0.1, s, 5, 0.4),
    "natural_exp_decay-staircase": lambda tf, s: tf.train.natural_exp_decay(0.1, s, 5, 0.4, staircase=True),
}


def schedule(tf, session, make):
    with tf.Graph().as_default():
        step = tf.placeholder(tf.int64, [])
        lr = make(tf, step)
        with session() as sess:
            return lr.dtype.name, [sess.run(lr, {step: s}) for s in (0, 1, 6, 7, 20, 49, 50, 51, 90, 300)]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedules_match_tensorflow(name):
    dtype, ours = schedule(raygraph, lambda: raygraph.Session("local"), SCHEDULES[name])
    their_dtype, theirs = schedule(v1, v1.Session, SCHEDULES[name])
    assert dtype == their_dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=2e-7)  # float32 rounding of 0.1
