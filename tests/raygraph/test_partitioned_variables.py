"""Partitioners, get_variable(partitioner=...) and PartitionedVariable; tf.variable_creator_scope."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf
from raygraph.partitioned_variables import PartitionedVariable

TABLE = np.arange(40, dtype=np.float32).reshape(10, 4)


def test_partitioners_give_tf_shard_counts():
    shape = tf.TensorShape([1000, 64])
    assert tf.fixed_size_partitioner(3)(shape=shape, dtype=tf.float32) == [3, 1]
    assert tf.fixed_size_partitioner(5, axis=1)(shape=tf.TensorShape([2, 3]), dtype=tf.float32) == [1, 3]
    # 1000 rows of 256 bytes; at most 10000 bytes per shard: 39 rows a shard, 26 shards
    assert tf.variable_axis_size_partitioner(10000)(shape, tf.float32) == [26, 1]
    assert tf.variable_axis_size_partitioner(10000, max_shards=4)(shape, tf.float32) == [4, 1]
    assert tf.variable_axis_size_partitioner(10, bytes_per_string_element=1)(shape, tf.string) == [1000, 1]
    # 256000 bytes; slices of at least 64 KiB: ceil(3.9) = 4 parts, capped by max_partitions
    assert tf.min_max_variable_partitioner(8, min_slice_size=64 << 10)(shape, tf.float32) == [4, 1]
    assert tf.min_max_variable_partitioner(2, min_slice_size=64 << 10)(shape, tf.float32) == [2, 1]
    with pytest.raises(ValueError, match="must be positive"):
        tf.variable_axis_size_partitioner(0)
    with pytest.raises(ValueError, match="along axis 2"):
        tf.min_max_variable_partitioner(2, axis=2)(shape, tf.float32)


def test_get_variable_with_a_partitioner_makes_parts():
    with tf.Graph().as_default():
        with tf.variable_scope("emb", partitioner=tf.fixed_size_partitioner(3)):
            table = tf.get_variable("table", initializer=tf.constant(TABLE))
        assert isinstance(table, PartitionedVariable)
        assert table.name == "emb/table" and table.get_shape() == [10, 4] and len(table) == 3
        assert [v.name for v in table] == ["emb/table/part_0:0", "emb/table/part_1:0", "emb/table/part_2:0"]
        assert [v.shape.as_list() for v in table] == [[4, 4], [3, 4], [3, 4]]
        assert [v.name for v in tf.trainable_variables()] == [v.name for v in table]
        whole = tf.convert_to_tensor(table)
        assert whole.shape == [10, 4] and whole.op.name == "emb/table"
        with tf.variable_scope("emb", reuse=True):
            assert tf.get_variable("table") is table
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            np.testing.assert_array_equal(sess.run(whole), TABLE)
            np.testing.assert_array_equal(sess.run(table._get_variable_list()[1]), TABLE[4:7])


def test_part_initializers_see_the_full_shape():
    seen = []

    def initializer(shape, dtype=None, partition_info=None):
        seen.append((shape, partition_info.full_shape, partition_info.var_offset))
        return tf.zeros(shape, dtype)

    with tf.Graph().as_default():
        tf.get_variable(
            "w", [3, 7], initializer=initializer, partitioner=tf.fixed_size_partitioner(2, axis=1)
        )
    assert seen == [([3, 4], [3, 7], [0, 0]), ([3, 3], [3, 7], [0, 4])]


def test_embedding_lookup_and_matmul_use_the_parts():
    ids = np.array([0, 1, 2, 3, 9, 5])
    with tf.Graph().as_default():
        table = tf.get_variable(
            "table", initializer=tf.constant(TABLE), partitioner=tf.fixed_size_partitioner(3)
        )
        by_mod = tf.nn.embedding_lookup(table, ids)
        by_div = tf.nn.embedding_lookup(table, ids, partition_strategy="div")
        x = tf.constant(np.ones((2, 4), np.float32))
        logits = tf.matmul(x, table, transpose_b=True)
        loss = tf.reduce_sum(logits * logits) + tf.reduce_sum(by_mod)
        train = tf.train.GradientDescentOptimizer(0.001).minimize(loss)
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            got_mod, got_div, got_logits = sess.run([by_mod, by_div, logits])
            sess.run(train)
            after = sess.run(tf.convert_to_tensor(table))
    # "mod": id i is row i // 3 of part i % 3; the parts hold rows 0-3, 4-6, 7-9
    mod_rows = [[0, 4, 7][i % 3] + i // 3 for i in ids]
    np.testing.assert_array_equal(got_mod, TABLE[mod_rows])
    np.testing.assert_array_equal(got_div, TABLE[ids])
    np.testing.assert_array_equal(got_logits, np.ones((2, 4)) @ TABLE.T)
    grad = 2 * (np.ones((2, 4)) @ TABLE.T).T @ np.ones((2, 4))
    np.add.at(grad, mod_rows, 1.0)
    np.testing.assert_allclose(after, TABLE - 0.001 * grad, rtol=1e-5)


def test_partitioned_reuse_errors_are_tfs():
    with tf.Graph().as_default():
        p = tf.fixed_size_partitioner(2)
        tf.get_variable("w", [4, 2], partitioner=p)
        with pytest.raises(ValueError, match="Partitioned variable with name w already exists"):
            tf.get_variable("w", [4, 2], partitioner=p)
        with pytest.raises(ValueError, match="No partitioner was provided, but a partitioned version"):
            tf.get_variable("w", [4, 2])
        tf.get_variable("v", [4, 2])
        with pytest.raises(ValueError, match="unpartitioned version of the variable was found: v"):
            tf.get_variable("v", [4, 2], partitioner=p)
        with pytest.raises(ValueError, match="fully defined"):
            tf.get_variable("u", [None, 2], partitioner=p, initializer=tf.zeros_initializer())
        with pytest.raises(ValueError, match="Can only slice a variable along one dimension"):
            tf.get_variable("z", [4, 4], partitioner=lambda shape, dtype: [2, 2])
        with tf.variable_scope("", reuse=True):
            with pytest.raises(
                ValueError, match="Trying to reuse partitioned variable w, but specified shape"
            ):
                tf.get_variable("w", [5, 2], partitioner=p)


def test_partitioned_assign_splits_the_value():
    with tf.Graph().as_default():
        w = tf.get_variable(
            "w", [5, 2], partitioner=tf.fixed_size_partitioner(2), initializer=tf.zeros_initializer()
        )
        assigns = w.assign(tf.constant(TABLE[:5, :2]))
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(assigns)
            np.testing.assert_array_equal(sess.run(tf.convert_to_tensor(w)), TABLE[:5, :2])


# -- variable_creator_scope -------------------------------------------------------------


def test_creators_wrap_variable_creation_innermost_first():
    calls = []

    def outer(next_creator, **kwargs):
        calls.append(("outer", kwargs["name"]))
        kwargs["trainable"] = False
        return next_creator(**kwargs)

    def inner(next_creator, **kwargs):
        calls.append(("inner", kwargs["name"]))
        kwargs["name"] = kwargs["name"] + "_renamed"
        return next_creator(**kwargs)

    with tf.Graph().as_default():
        with tf.variable_creator_scope(outer):
            with tf.variable_creator_scope(inner):
                a = tf.Variable(1.0, name="a")
                b = tf.get_variable("b", [2])
            c = tf.Variable(2.0, name="c")
        d = tf.Variable(3.0, name="d")
        assert calls == [
            ("inner", "a"),
            ("outer", "a_renamed"),
            ("inner", "b"),
            ("outer", "b_renamed"),
            ("outer", "c"),
        ]
        assert [v.name for v in (a, b, c, d)] == ["a_renamed:0", "b_renamed:0", "c:0", "d:0"]
        assert tf.trainable_variables() == [d]


def test_a_creator_may_return_its_own_variable():
    shared = []

    def reuse_first(next_creator, **kwargs):
        if not shared:
            shared.append(next_creator(**kwargs))
        return shared[0]

    with tf.Graph().as_default():
        with tf.variable_creator_scope(reuse_first):
            a = tf.Variable(1.0)
            b = tf.Variable(2.0)
        assert a is b and len(tf.global_variables()) == 1


def test_creators_belong_to_their_graph():
    def fail(next_creator, **kwargs):
        raise AssertionError("not this graph's creator")

    g = tf.Graph()
    with g.as_default(), tf.variable_creator_scope(fail):
        with tf.Graph().as_default():
            tf.Variable(1.0)  # another graph: no creator
        with pytest.raises(AssertionError):
            tf.Variable(1.0)
