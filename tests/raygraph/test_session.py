"""Session.run: fetch structures, feeds and their checks, pruning, errors, defaults.

Covers the Placeholder and NoOp ops for the registry-wide test table.
"""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest

import raygraph as tf

pytestmark = pytest.mark.usefixtures("ray_cluster")  # the Session end to end, on Ray actors


def test_fetch_structures_come_back_in_kind():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = x * 2.0
    z = y + 1.0
    Pair = collections.namedtuple("Pair", "y z")
    xv = np.arange(4, dtype=np.float32).reshape(2, 2)
    with tf.Session() as sess:
        out = sess.run({"a": [y, (z, "x:0")], "b": Pair(y, z), "op": z.op}, {x: xv})
    np.testing.assert_array_equal(out["a"][0], xv * 2)
    assert isinstance(out["a"][1], tuple)
    np.testing.assert_array_equal(out["a"][1][0], xv * 2 + 1)
    np.testing.assert_array_equal(out["a"][1][1], xv)  # a fed tensor fetches its feed
    assert isinstance(out["b"], Pair) and out["op"] is None


def test_fetched_values_are_writable_numpy_and_scalars_are_numpy_scalars():
    x = tf.constant(np.ones((3, 3), np.float32))
    s = tf.reduce_sum(x)
    with tf.Session() as sess:
        a, b = sess.run([x, s])
    a += 1  # the caller owns the array
    assert isinstance(b, np.float32) and b == 9.0


def test_feeds_by_name_and_by_tensor_with_none_dims():
    x = tf.placeholder(tf.float32, [None, 3], name="inp")
    y = tf.reduce_sum(x, axis=1)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {"inp:0": np.ones((4, 3))}), [3, 3, 3, 3])
        np.testing.assert_allclose(sess.run(y, {x: [[1, 2, 3]]}), [6])


def test_wrong_feed_shape_dtype_and_type_name_the_placeholder():
    x = tf.placeholder(tf.float32, [None, 3], name="images")
    labels = tf.placeholder(tf.int32, [None], name="labels")
    y = tf.reduce_sum(x) + tf.cast(tf.reduce_sum(labels), tf.float32)
    with tf.Session() as sess:
        with pytest.raises(ValueError, match=r"shape \[2, 4\].*'images'.*\[\?, 3\]"):
            sess.run(y, {x: np.ones((2, 4)), labels: [1, 2]})
        with pytest.raises(TypeError, match="float64.*'labels'.*int32"):
            sess.run(y, {x: np.ones((2, 3)), labels: np.array([1.5, 2.0])})
        with pytest.raises(TypeError, match="'images'"):
            sess.run(y, {x: {"not": "an array"}, labels: [1]})
        with pytest.raises(TypeError, match="cannot be a tf.Tensor"):
            sess.run(y, {x: y, labels: [1]})
        # the session still works after refusing feeds
        assert sess.run(y, {x: np.ones((1, 3)), labels: [2]}) == 5.0


def test_missing_feed_names_the_placeholder_and_its_line():
    x = tf.placeholder(tf.float32, [None, 3], name="features")
    y = x * 2.0
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            sess.run(y)
    assert "placeholder tensor 'features'" in str(info.value)
    assert "test_session.py:" in str(info.value)


def test_only_what_the_fetches_need_runs():
    unused = tf.placeholder(tf.float32, name="unused")
    a = tf.constant(3.0)
    b = a * 2.0
    bad = unused * 2.0  # never fetched: its placeholder need not be fed
    with tf.Session() as sess:
        assert sess.run(b) == 6.0
    assert bad.op.type == "Mul"


def test_feeding_an_intermediate_tensor_cuts_the_graph_there():
    x = tf.placeholder(tf.float32, name="x")
    hidden = x * 10.0
    out = hidden + 1.0
    with tf.Session() as sess:
        assert sess.run(out, {hidden: 5.0}) == 6.0  # x is not needed


def test_group_and_no_op_run_as_targets():
    v = tf.Variable(0.0)
    step = tf.group(v.assign_add(1.0), tf.no_op())
    assert step.type == "NoOp"
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(step) is None
        sess.run([step, step])
        assert sess.run(v) == 2.0


def test_kernel_error_names_the_node_and_the_session_keeps_working():
    x = tf.placeholder(tf.float32, [None], name="x")
    y = tf.reshape(x, [5, -1], name="bad_reshape")
    ok = x * 2.0
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            sess.run(y, {x: np.ones(12)})
        assert "bad_reshape" in str(info.value) and "test_session.py:" in str(info.value)
        assert info.value.op is y.op
        np.testing.assert_array_equal(sess.run(ok, {x: [1.0, 2.0]}), [2.0, 4.0])
        np.testing.assert_array_equal(sess.run(y, {x: np.ones(10)}), np.ones((5, 2)))


def test_default_session_for_eval_and_run():
    v = tf.Variable(4.0)
    y = v * 2.0
    sess = tf.Session()
    with sess.as_default():
        v.initializer.run()
        assert y.eval() == 8.0
        assert tf.get_default_session() is sess
    with pytest.raises(ValueError, match="No default session"):
        y.eval()
    sess.close()


def test_interactive_session_installs_itself():
    c = tf.constant(5.0)
    sess = tf.InteractiveSession()
    try:
        assert c.eval() == 5.0
    finally:
        sess.close()
    assert tf.get_default_session() is None


def test_closed_session_refuses_runs():
    c = tf.constant(1.0)
    sess = tf.Session()
    sess.close()
    with pytest.raises(RuntimeError, match="closed Session"):
        sess.run(c)


def test_sessions_on_one_graph_have_separate_variables():
    v = tf.Variable(1.0)
    inc = v.assign_add(1.0)
    with tf.Session() as s1, tf.Session() as s2:
        s1.run(v.initializer)
        s2.run(v.initializer)
        s1.run(inc)
        s1.run(inc)
        assert s1.run(v) == 3.0 and s2.run(v) == 1.0


def test_session_on_another_graph_refuses_foreign_fetches():
    other = tf.Graph()
    with other.as_default():
        c = tf.constant(1.0)
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="belongs to"):
            sess.run(c)


def test_growing_graph_inside_a_loop_warns_once():
    x = tf.constant(1.0)
    with tf.Session() as sess:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(15):
                sess.run(x + 1.0)  # a new op every step: the classic TF1 mistake
        grew = [w for w in caught if "graph grew" in str(w.message)]
        assert len(grew) == 1
        assert "test_session.py:" in str(grew[0].message)


def test_stable_graph_does_not_warn():
    y = tf.constant(1.0) + 1.0
    with tf.Session() as sess:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(15):
                sess.run(y)
        assert not [w for w in caught if "graph grew" in str(w.message)]


def test_fetching_none_or_garbage_is_a_type_error():
    with tf.Session() as sess:
        with pytest.raises(TypeError):
            sess.run(None)
        with pytest.raises(TypeError):
            sess.run(object())
