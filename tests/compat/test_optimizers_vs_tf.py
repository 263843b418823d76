"""Every optimizer, and the learning-rate schedules, against TensorFlow 2.21's tf.compat.v1.

One small program (a two-layer network of matmuls and biases, squared error)
is written once and trained for 30 steps twice, with `tf = raygraph` and with
`tf = tensorflow.compat.v1` in graph mode, from the same initial values and
data. The loss of every step, the final variables and the global step must
agree to float32 rounding (relative error under 2e-3; they agree far closer).
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

# Whole TF1 programs through the device actors: the end-to-end check that Ray gives TF's numbers.
pytestmark = [pytest.mark.compat, pytest.mark.usefixtures("ray_cluster")]

STEPS = 30


def two_layer_regression(tf, make_optimizer, steps=STEPS):
    """Trains y = (x W1 + b1) W2 + b2 on fixed data; returns losses, final variables, step."""
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, (32, 4)).astype(np.float32)
    ts = (xs @ rng.normal(0, 1, (4, 2)) + 0.5 + rng.normal(0, 0.05, (32, 2))).astype(np.float32)
    initial = [rng.normal(0, 0.3, (4, 8)), rng.normal(0, 0.1, 8), rng.normal(0, 0.3, (8, 2)), np.zeros(2)]
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        t = tf.placeholder(tf.float32, [None, 2])
        w1, b1, w2, b2 = (tf.Variable(v.astype(np.float32)) for v in initial)
        y = tf.matmul(tf.matmul(x, w1) + b1, w2) + b2
        d = y - t
        loss = tf.reduce_sum(d * d) * (1.0 / 32)
        step = tf.train.get_or_create_global_step()
        train = make_optimizer(tf, step).minimize(loss, global_step=step)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([train, loss], {x: xs, t: ts})[1] for _ in range(steps)]
            return losses, sess.run([w1, b1, w2, b2]), sess.run(step)


OPTIMIZERS = {
    "GradientDescent": lambda tf, step: tf.train.GradientDescentOptimizer(0.05),
    "Momentum": lambda tf, step: tf.train.MomentumOptimizer(0.02, momentum=0.9),
    "Nesterov": lambda tf, step: tf.train.MomentumOptimizer(0.02, momentum=0.9, use_nesterov=True),
    "Adam": lambda tf, step: tf.train.AdamOptimizer(0.02),
    "RMSProp": lambda tf, step: tf.train.RMSPropOptimizer(0.01),
    "RMSPropMomentum": lambda tf, step: tf.train.RMSPropOptimizer(0.005, decay=0.8, momentum=0.9),
    "CenteredRMSProp": lambda tf, step: tf.train.RMSPropOptimizer(0.01, momentum=0.5, centered=True),
    "Adagrad": lambda tf, step: tf.train.AdagradOptimizer(0.1),
    "GradientDescent-exponential_decay": lambda tf, step: tf.train.GradientDescentOptimizer(
        tf.train.exponential_decay(0.1, step, 5, 0.7)
    ),
    "Adam-exponential_decay-staircase": lambda tf, step: tf.train.AdamOptimizer(
        tf.train.exponential_decay(0.05, step, 10, 0.5, staircase=True)
    ),
    "Momentum-piecewise_constant": lambda tf, step: tf.train.MomentumOptimizer(
        tf.train.piecewise_constant(step, [10, 20], [0.05, 0.02, 0.01]), momentum=0.9
    ),
    "RMSProp-polynomial_decay": lambda tf, step: tf.train.RMSPropOptimizer(
        tf.train.polynomial_decay(0.02, step, 20, end_learning_rate=0.001, power=0.5)
    ),
    "Adagrad-inverse_time_decay": lambda tf, step: tf.train.AdagradOptimizer(
        tf.train.inverse_time_decay(0.2, step, 5, 0.5, staircase=True)
    ),
}


def relative_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6)))


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_training_matches_tensorflow(make_optimizer):
    ours, our_vars, our_step = two_layer_regression(raygraph, make_optimizer)
    theirs, their_vars, their_step = two_layer_regression(tf1.compat.v1, make_optimizer)
    assert our_step == their_step == STEPS
    assert theirs[-1] < 0.5 * theirs[0]  # the run trains: the comparison means something
    assert relative_error(ours, theirs) < 2e-3, (ours, theirs)
    for a, b in zip(our_vars, their_vars):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-6)
