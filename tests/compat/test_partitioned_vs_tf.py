"""Partitioned variables, partitioners, variable_creator_scope and sparse_tensor_dense_matmul
against TensorFlow 2.21's tf.compat.v1.

Each program is written once and run with raygraph (Session("local")) and with
tensorflow.compat.v1 in graph mode from the same values: the shard counts, the
parts' names and shapes, lookups, products, gradients and a training step must agree.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1

RG = (raygraph, lambda: raygraph.Session("local"))
TF = (v1, v1.Session)
TABLE = np.linspace(-2, 2, 66).astype(np.float32).reshape(11, 6)


def shard_counts(tf):
    shapes = [[1000, 64], [7, 3], [5, 200, 2]]
    dtypes = [tf.float32, tf.float64, tf.string]
    partitioners = [
        tf.fixed_size_partitioner(3),
        tf.fixed_size_partitioner(10, axis=1),
        tf.variable_axis_size_partitioner(10000),
        tf.variable_axis_size_partitioner(500, axis=1, max_shards=7),
        tf.min_max_variable_partitioner(8, min_slice_size=1 << 10),
        tf.min_max_variable_partitioner(4, axis=1, min_slice_size=100),
    ]
    return [list(p(shape=tf.TensorShape(s), dtype=d)) for p in partitioners for s in shapes for d in dtypes]


def test_partitioners_match_tensorflow():
    assert shard_counts(raygraph) == shard_counts(v1)


def partitioned_program(tf, session):
    ids = np.array([[0, 10, 3], [7, 7, 1]])
    with tf.Graph().as_default():
        with tf.variable_scope("model", partitioner=tf.fixed_size_partitioner(4)):
            table = tf.get_variable("table", initializer=tf.constant(TABLE))
            cols = tf.get_variable(
                "cols",
                initializer=tf.constant(TABLE[:3]),
                partitioner=tf.fixed_size_partitioner(4, axis=1),
            )
        parts = [(v.name, v.shape.as_list()) for v in list(table) + list(cols)]
        x = tf.constant(np.linspace(0, 1, 12).astype(np.float32).reshape(2, 6))
        lookups = [tf.nn.embedding_lookup(table, ids, partition_strategy=s) for s in ("mod", "div")]
        y = tf.matmul(x, table, transpose_b=True) + tf.reduce_sum(tf.matmul(x, cols, transpose_b=True))
        loss = tf.reduce_sum(tf.square(y)) + tf.reduce_sum(lookups[0] * lookups[1])
        grads = tf.gradients(loss, list(table) + list(cols) + [x])
        train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
        with session() as sess:
            sess.run(tf.global_variables_initializer())
            values = sess.run([*lookups, y, *grads])
            sess.run(train)
            values += sess.run([tf.convert_to_tensor(table), tf.convert_to_tensor(cols)])
        return parts, [v.name for v in tf.trainable_variables()], values


def test_partitioned_variables_match_tensorflow():
    ours, theirs = partitioned_program(*RG), partitioned_program(*TF)
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
    for a, b in zip(ours[2], theirs[2], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def initializer_program(tf, session):
    """A glorot-initialized part draws with the full shape's fans: the range tells."""
    with tf.Graph().as_default():
        w = tf.get_variable(
            "w",
            [400, 100],
            partitioner=tf.fixed_size_partitioner(4),
            initializer=tf.glorot_uniform_initializer(),
        )
        with session() as sess:
            sess.run(tf.global_variables_initializer())
            return sess.run(tf.reduce_max(tf.abs(tf.convert_to_tensor(w))))


def test_part_initializers_use_the_full_shape_as_tensorflow():
    limit = np.sqrt(6.0 / (400 + 100))
    for got in (initializer_program(*RG), initializer_program(*TF)):
        assert 0.95 * limit < got <= limit


def creator_program(tf):
    log = []

    def outer(next_creator, **kwargs):
        log.append(("outer", kwargs["name"], kwargs["trainable"] is False))
        kwargs["trainable"] = False
        return next_creator(**kwargs)

    def inner(next_creator, **kwargs):
        log.append(("inner", kwargs["name"]))
        kwargs["name"] = (kwargs["name"] or "anon") + "_x"
        return next_creator(**kwargs)

    with tf.Graph().as_default():
        with tf.variable_creator_scope(outer):
            with tf.variable_creator_scope(inner):
                tf.Variable(1.0, name="a")
                tf.get_variable("b", [2])
                with tf.variable_scope("s"):
                    tf.get_variable("c", [2], trainable=True)
            tf.Variable(2.0, name="d")
        tf.Variable(3.0, name="e")
        return log, [v.name for v in tf.global_variables()], [v.name for v in tf.trainable_variables()]


def test_variable_creator_scope_matches_tensorflow():
    assert creator_program(raygraph) == creator_program(v1)


INDICES = np.array([[0, 1], [2, 0], [1, 3], [2, 2]], np.int64)
VALUES = np.array([1.5, -2.0, 0.5, 3.0], np.float32)
B = np.linspace(-1, 1, 20).astype(np.float32).reshape(4, 5)


def sparse_program(tf, session):
    with tf.Graph().as_default():
        values = tf.constant(VALUES)
        sp = tf.SparseTensor(INDICES, values, [3, 4])
        b = tf.constant(B)
        outs = [
            tf.sparse_tensor_dense_matmul(sp, b),
            tf.sparse_tensor_dense_matmul(sp, tf.constant(B[:3].T.copy()), adjoint_a=True, adjoint_b=True),
            tf.sparse.sparse_dense_matmul(sp, tf.constant(B[:, :3].T.copy()), adjoint_b=True),
        ]
        loss = sum(tf.reduce_sum(tf.sin(o)) for o in outs)
        grads = tf.gradients(loss, [values, b])
        with session() as sess:
            return [o.shape.as_list() for o in outs], sess.run(outs + grads)


def test_sparse_tensor_dense_matmul_matches_tensorflow():
    ours, theirs = sparse_program(*RG), sparse_program(*TF)
    assert ours[0] == theirs[0]
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def timestamp_program(tf, session):
    with tf.Graph().as_default():
        stamp = tf.timestamp()
        with session() as sess:
            return stamp.dtype.name, stamp.shape.as_list(), sess.run(stamp)


def test_timestamp_matches_tensorflow():
    ours, theirs = timestamp_program(*RG), timestamp_program(*TF)
    assert ours[:2] == theirs[:2] == ("float64", [])
    assert abs(ours[2] - time.time()) < 60 and abs(ours[2] - theirs[2]) < 60
