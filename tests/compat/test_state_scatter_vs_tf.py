"""tf.scatter_* and tf.scatter_nd_* on variables against TensorFlow 2.21's tf.compat.v1.

One program runs every scatter op, in turn, on a variable and fetches each
update's output and the variable afterwards; built with raygraph (in-process,
Session("local")) and with tensorflow.compat.v1 in graph mode, the values must
be the same. The program also trains through the updated variable, so the
gradient of a loss read from the variable after a scatter is compared too.
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1

INITIAL = np.linspace(-3, 3, 15).astype(np.float32).reshape(5, 3)
ROWS = np.array([4, 1, 4], np.int32)
UPDATES = np.array([[1.5, -2, 3], [0.5, 4, -1], [2, 2, 0.25]], np.float32)
VECTORS = np.array([[0, 2], [3, 1], [0, 2]], np.int64)
VALUES = np.array([5, -6, 7], np.float32)

PROGRAM = [
    ("scatter_update", lambda tf, w: tf.scatter_update(w, ROWS[:2], UPDATES[:2])),
    ("scatter_add", lambda tf, w: tf.scatter_add(w, ROWS, UPDATES)),
    ("scatter_sub", lambda tf, w: tf.scatter_sub(w, ROWS, UPDATES, use_locking=True)),
    ("scatter_mul", lambda tf, w: tf.scatter_mul(w, ROWS, UPDATES)),
    ("scatter_div", lambda tf, w: tf.scatter_div(w, ROWS, UPDATES)),
    ("scatter_min", lambda tf, w: tf.scatter_min(w, ROWS, UPDATES)),
    ("scatter_max", lambda tf, w: tf.scatter_max(w, ROWS, UPDATES)),
    ("scatter_nd_update", lambda tf, w: tf.scatter_nd_update(w, VECTORS[:2], VALUES[:2])),
    ("scatter_nd_add", lambda tf, w: tf.scatter_nd_add(w, VECTORS, VALUES)),
    ("scatter_nd_sub", lambda tf, w: tf.scatter_nd_sub(w, VECTORS, VALUES)),
    ("scatter_nd_add rows", lambda tf, w: tf.scatter_nd_add(w, [[2], [0]], UPDATES[:2])),
]


def run(tf, session):
    with tf.Graph().as_default():
        w = tf.Variable(INITIAL)
        x = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
        updates = [build(tf, w) for _, build in PROGRAM]
        loss = tf.reduce_sum(tf.square(tf.matmul(x, w, transpose_b=True)))
        grad = tf.gradients(loss, [x])[0]
        results = []
        with session() as sess:
            sess.run(w.initializer)
            for update in updates:
                results.append(sess.run(update))
                results.append(sess.run(w))
            results.append(sess.run(grad))
        return results


def test_scatter_ops_match_tensorflow():
    ours = run(raygraph, lambda: raygraph.Session("local"))
    theirs = run(v1, v1.Session)
    names = [f"{n} {what}" for n, _ in PROGRAM for what in ("output", "variable")] + ["gradient"]
    for name, a, b in zip(names, ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=name)


def test_out_of_range_errors_match_tensorflow():
    def fails(tf, session):
        with tf.Graph().as_default():
            w = tf.Variable(INITIAL)
            ids = tf.placeholder(tf.int32, [None])
            update = tf.scatter_add(w, ids, tf.ones([2, 3]))
            with session() as sess:
                sess.run(w.initializer)
                with pytest.raises(
                    tf.errors.InvalidArgumentError, match=r"indices\[1\] = 5 is not in \[0, 5\)"
                ):
                    sess.run(update, {ids: [0, 5]})

    fails(raygraph, lambda: raygraph.Session("local"))
    fails(v1, v1.Session)
