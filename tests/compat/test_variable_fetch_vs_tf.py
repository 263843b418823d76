"""Fetching a variable that the same run updates gives its value after the update, as
TF1's reference variables do (the fetch reads the variable's buffer when the run ends):
`sess.run([train_op, global_step])` returns the incremented step."""

from __future__ import annotations

import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat
v1 = tf1.compat.v1


def program(tf, ref_variables):
    with tf.Graph().as_default():
        kwargs = {"use_resource": False} if ref_variables else {}
        step = tf.Variable(0, dtype=tf.int64, name="global_step", **kwargs)
        x = tf.Variable(1.0, name="x", **kwargs)
        train = tf.train.GradientDescentOptimizer(0.1).minimize(x * x, global_step=step)
        inc = tf.assign_add(step, 1)
        with tf.Session("local" if tf is raygraph else "") as sess:
            sess.run(tf.global_variables_initializer())
            pairs = [[int(v) for v in sess.run([inc, step])] for _ in range(3)]
            steps = [int(sess.run([train, step])[1]) for _ in range(3)]
            return pairs, steps


@pytest.mark.parametrize("target", ["local", ""])
def test_a_fetched_variable_shows_the_runs_updates(target, request):
    if target == "":
        request.getfixturevalue("ray_cluster")
    theirs = program(v1, ref_variables=True)
    ours = program(raygraph, ref_variables=False)
    assert ours == theirs == ([[1, 1], [2, 2], [3, 3]], [4, 5, 6])
