"""Variables: TF1's ops and names, initialization, assignments across runs.

Covers the VariableV2, Assign, AssignAdd and AssignSub ops for the registry-wide table.
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf


def test_variable_creates_tensorflows_ops_and_collections():
    w = tf.Variable(np.zeros((3, 2), np.float32), name="w")
    assert w.name == "w:0" and w.op.type == "VariableV2"
    assert w.initializer.type == "Assign" and w.initializer.name == "w/Assign"
    assert w.value().name == "w/read:0"
    assert w.shape.as_list() == [3, 2] and w.dtype == tf.float32
    assert tf.global_variables() == [w] and tf.trainable_variables() == [w]
    frozen = tf.Variable(1, trainable=False, name="step")
    assert frozen.dtype == tf.int32 and frozen not in tf.trainable_variables()


def test_assign_ops_update_state_across_runs():
    v = tf.Variable([1.0, 2.0], name="v")
    add = v.assign_add([1.0, 1.0])
    sub = tf.assign_sub(v, [0.5, 0.5])
    put = v.assign([10.0, 20.0])
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(add)
        np.testing.assert_array_equal(sess.run(add), [3.0, 4.0])
        np.testing.assert_array_equal(sess.run(sub), [2.5, 3.5])
        np.testing.assert_array_equal(sess.run(put), [10.0, 20.0])
        np.testing.assert_array_equal(sess.run(v), [10.0, 20.0])
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])


def test_uninitialized_variable_error_names_it_and_where_it_was_made():
    w = tf.Variable(tf.constant(1.0), name="weights")  # named in the error
    y = w * 2.0
    with tf.Session("local") as sess:
        with pytest.raises(tf.errors.FailedPreconditionError) as info:
            sess.run(y)
    message = str(info.value)
    assert "uninitialized value weights" in message
    assert "test_variables.py:" in message and "global_variables_initializer" in message
    assert info.value.op is w.op


def test_variables_initializer_covers_only_its_list():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    with tf.Session("local") as sess:
        sess.run(tf.variables_initializer([a]))
        assert sess.run(a) == 1.0
        with pytest.raises(tf.errors.FailedPreconditionError, match="value b"):
            sess.run(b)


def test_initial_value_from_another_variable_and_callables():
    a = tf.Variable(3.0, name="a")
    b = tf.Variable(a.initialized_value() * 2.0, name="b")
    c = tf.Variable(lambda: tf.constant([1.0, 1.0]), name="c")
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(b) == 6.0
        np.testing.assert_array_equal(sess.run(c), [1.0, 1.0])


def test_load_sets_a_value_without_new_ops():
    v = tf.Variable(np.zeros(3, np.float32))
    with tf.Session("local") as sess:
        sess.run(v.initializer)
        before = tf.get_default_graph().version
        v.load([1.0, 2.0, 3.0], sess)
        assert tf.get_default_graph().version == before
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0, 3.0])


def test_assigning_a_wrong_shape_fails_at_construction():
    v = tf.Variable(np.zeros((2, 2), np.float32), name="square")
    with pytest.raises(ValueError, match=r"\[3\].*'square'.*\[2, 2\]"):
        v.assign(np.zeros(3, np.float32))


def test_variables_behave_as_their_value_in_expressions():
    v = tf.Variable([1.0, 2.0])
    y = (v + 1.0) * v - v / 2.0
    with tf.Session("local") as sess:
        sess.run(v.initializer)
        np.testing.assert_allclose(sess.run(y), [1.5, 5.0])
        np.testing.assert_allclose(sess.run(v[1]), 2.0)
