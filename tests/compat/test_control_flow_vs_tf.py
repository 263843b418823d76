"""Control flow against TensorFlow's tf.compat.v1: cond, case, while_loop, map_fn, scan,
folds and TensorArray, forward values and gradients, and a small RNN trained by
gradient descent through a while_loop (the training trajectory must agree).

Each program is written once against the `tf` module it is given and run on
TensorFlow (graph mode) and on raygraph (in-process target, then Ray for one).
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat
v1 = tf1.compat.v1


def run_both(program, ray_target="local"):
    with tf1.Graph().as_default():
        fetches, feed = program(v1)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            theirs = sess.run(fetches, {k: v for k, v in feed.items()})
    with raygraph.Graph().as_default():
        fetches, feed = program(raygraph)
        with raygraph.Session(ray_target) as sess:
            sess.run(raygraph.global_variables_initializer())
            ours = sess.run(fetches, feed)
    return ours, theirs


def assert_tree_close(ours, theirs, rtol=1e-5, atol=1e-6):
    if isinstance(theirs, dict):
        for k in theirs:
            assert_tree_close(ours[k], theirs[k], rtol, atol)
    elif isinstance(theirs, list | tuple):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_tree_close(a, b, rtol, atol)
    else:
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=rtol, atol=atol)


XV = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)


def cond_program(tf):
    x = tf.placeholder(tf.float32, [4, 3])
    w = tf.Variable(np.linspace(-1, 1, 3).astype(np.float32), name="w")
    outs = []
    for threshold in (-100.0, 100.0):
        y = tf.cond(
            tf.reduce_sum(x) > threshold,
            lambda: tf.reduce_sum(tf.sin(x) * w),
            lambda: tf.reduce_sum(tf.square(x) * w),
        )
        outs.append([y] + tf.gradients(y, [x, w]))
    pair = tf.cond(tf.constant(True), lambda: (x[0], {"k": x[1] * 2.0}), lambda: (x[2], {"k": x[3]}))
    return [outs, pair], {x: XV}


def case_program(tf):
    xs = [tf.placeholder(tf.float32, []) for _ in range(3)]
    outs = []
    for x in xs:
        r = tf.case(
            [(x < -1.0, lambda x=x: x * 10.0), (x > 1.0, lambda x=x: x * 100.0)],
            default=lambda x=x: x - 1.0,
        )
        outs.append((r, tf.gradients(r, x)[0]))
    return outs, dict(zip(xs, (-2.0, 0.0, 3.0)))


def while_program(tf):
    x = tf.placeholder(tf.float32, [4, 3])
    w = tf.Variable(np.full((3, 3), 0.3, np.float32), name="w")
    b = tf.Variable(np.array([0.1, -0.1, 0.2], np.float32), name="b")

    def body(i, h, total):
        h = tf.tanh(tf.matmul(h, w) + b)
        return i + 1, h, total + tf.reduce_sum(h * h)

    i, h, total = tf.while_loop(lambda i, h, t: i < 5, body, [tf.constant(0), x, tf.constant(0.0)])
    grads = tf.gradients(total, [x, w, b])
    counter = tf.while_loop(lambda a: a < 100, lambda a: a * 3, [1])
    capped = tf.while_loop(lambda a: a < 100, lambda a: a + 1, [0], maximum_iterations=10)
    return [i, h, total, grads, counter, capped], {x: XV}


def tensor_array_rnn_program(tf):
    x = tf.placeholder(tf.float32, [4, 3])
    w = tf.Variable(np.eye(3, dtype=np.float32) * 0.5 + 0.1, name="w")
    inputs = tf.TensorArray(tf.float32, size=4).unstack(x)
    outputs = tf.TensorArray(tf.float32, size=4)

    def body(t, h, out):
        h = tf.tanh(tf.matmul(tf.expand_dims(inputs.read(t), 0), w) + h)
        return t + 1, h, out.write(t, tf.squeeze(h, 0))

    _, last, outputs = tf.while_loop(lambda t, h, o: t < 4, body, [0, tf.zeros([1, 3]), outputs])
    stacked = outputs.stack()
    loss = tf.reduce_sum(stacked * stacked) + tf.reduce_sum(last)
    return [stacked, loss, tf.gradients(loss, [x, w])], {x: XV}


def functional_program(tf):
    x = tf.placeholder(tf.float32, [4, 3])
    m = tf.map_fn(lambda r: tf.reduce_sum(tf.exp(r) * r), x)
    pair = tf.map_fn(lambda r: (r * 2.0, tf.reduce_max(r)), x, dtype=(tf.float32, tf.float32))
    s = tf.scan(lambda a, r: a * 0.5 + r, x)
    s_rev = tf.scan(lambda a, r: a * r, x, initializer=tf.ones([3]), reverse=True)
    fl = tf.foldl(lambda a, r: a * 0.9 + r, x)
    fr = tf.foldr(lambda a, r: a * 0.9 + r, x, initializer=tf.zeros([3]))
    grads = tf.gradients(tf.reduce_sum(m) + tf.reduce_sum(s) + tf.reduce_sum(fl), x)
    return [m, pair, s, s_rev, fl, fr, grads], {x: XV}


def nested_program(tf):
    x = tf.placeholder(tf.float32, [])

    def outer(i, v):
        inner = tf.while_loop(lambda j, u: j < 3, lambda j, u: (j + 1, u * 1.1 + tf.sin(u)), [0, v])[1]
        return i + 1, tf.cond(inner > 1.0, lambda: inner * 0.5, lambda: inner + x)

    _, out = tf.while_loop(lambda i, v: i < 3, outer, [0, x])
    return [out, tf.gradients(out, x)], {x: 0.3}


@pytest.mark.parametrize(
    "program",
    [cond_program, case_program, while_program, tensor_array_rnn_program, functional_program, nested_program],
    ids=lambda p: p.__name__,
)
def test_control_flow_matches_tensorflow(program):
    ours, theirs = run_both(program)
    assert_tree_close(ours, theirs)


def rnn_training(tf, target=None, steps=15):
    """A tanh RNN over a TensorArray-fed while_loop, trained with Adam: losses per step."""
    rng = np.random.default_rng(3)
    xs = rng.normal(size=(6, 8, 4)).astype(np.float32)  # time, batch, features
    ys = rng.normal(size=(8, 2)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [6, 8, 4])
        y = tf.placeholder(tf.float32, [8, 2])
        wx = tf.Variable(rng.normal(size=(4, 5)).astype(np.float32) * 0.3, name="wx")
        wh = tf.Variable(rng.normal(size=(5, 5)).astype(np.float32) * 0.3, name="wh")
        wo = tf.Variable(rng.normal(size=(5, 2)).astype(np.float32) * 0.3, name="wo")
        steps_in = tf.TensorArray(tf.float32, size=6).unstack(x)

        def body(t, h):
            return t + 1, tf.tanh(tf.matmul(steps_in.read(t), wx) + tf.matmul(h, wh))

        _, h = tf.while_loop(lambda t, h: t < 6, body, [0, tf.zeros([8, 5])])
        loss = tf.reduce_mean(tf.square(tf.matmul(h, wo) - y))
        train = tf.train.AdamOptimizer(0.05).minimize(loss)
        with tf.Session(target) if target is not None else tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            return [sess.run([train, loss], {x: xs, y: ys})[1] for _ in range(steps)]


@pytest.mark.usefixtures("ray_cluster")
def test_rnn_training_trajectory_matches_tensorflow_on_ray():
    theirs = rnn_training(v1)
    ours = rnn_training(raygraph, target="")
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-6)
    assert theirs[-1] < theirs[0] * 0.8  # it learns
