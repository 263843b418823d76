"""tf.scatter_update ... scatter_max and scatter_nd_update/add/sub on variables, against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf

INITIAL = np.arange(1, 13, dtype=np.float32).reshape(4, 3)
INDICES = np.array([2, 0, 2], np.int32)  # row 2 twice: the accumulating kinds apply both
UPDATES = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], np.float32)

NUMPY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "min": np.minimum,
    "max": np.maximum,
}


def run_update(build, initial=INITIAL):
    """The update's output and the variable read afterwards, in a fresh graph."""
    with tf.Graph().as_default():
        w = tf.Variable(initial)
        out = build(w)
        assert out.shape == w.shape
        with tf.Session("local") as sess:
            sess.run(w.initializer)
            return sess.run(out), sess.run(w)


@pytest.mark.parametrize("kind", sorted(NUMPY))
def test_accumulating_kinds_apply_every_repeated_index(kind):
    out, after = run_update(lambda w: getattr(tf, f"scatter_{kind}")(w, INDICES, UPDATES))
    expected = INITIAL.copy()
    NUMPY[kind].at(expected, INDICES, UPDATES)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(after, expected, rtol=1e-6)


def test_scatter_update_sets_rows_and_takes_a_scalar():
    out, _ = run_update(lambda w: tf.scatter_update(w, [3, 1], UPDATES[:2], use_locking=False))
    expected = INITIAL.copy()
    expected[[3, 1]] = UPDATES[:2]
    np.testing.assert_array_equal(out, expected)
    out, _ = run_update(lambda w: tf.scatter_sub(w, [0, 0], 1.0))
    expected = INITIAL.copy()
    expected[0] -= 2
    np.testing.assert_array_equal(out, expected)


def test_scatter_update_leaves_an_earlier_read_unchanged():
    with tf.Graph().as_default():
        w = tf.Variable(INITIAL)
        before = tf.identity(w.read_value())
        with tf.control_dependencies([before]):
            update = tf.scatter_update(w, [0], UPDATES[:1])
        with tf.Session("local") as sess:
            sess.run(w.initializer)
            got_before, got_update = sess.run([before, update])
    np.testing.assert_array_equal(got_before, INITIAL)
    np.testing.assert_array_equal(got_update[0], UPDATES[0])


def test_integer_scatter_div_truncates_toward_zero():
    initial = np.array([[7, -7], [9, 10]], np.int32)
    out, _ = run_update(lambda w: tf.scatter_div(w, [0, 0], np.array([[2, 2], [-1, 3]], np.int32)), initial)
    np.testing.assert_array_equal(out, [[-3, -1], [9, 10]])  # 7/2=3, 3/-1=-3; -7/2=-3, -3/3=-1


def test_scatter_nd_kinds():
    indices = np.array([[0, 1], [3, 2], [0, 1]], np.int64)
    values = np.array([10, 20, 30], np.float32)
    for kind, ufunc in (("add", np.add), ("sub", np.subtract)):
        out, _ = run_update(lambda w, kind=kind: getattr(tf, f"scatter_nd_{kind}")(w, indices, values))
        expected = INITIAL.copy()
        ufunc.at(expected, (indices[:, 0], indices[:, 1]), values)
        np.testing.assert_array_equal(out, expected)
    rows = np.array([[1], [2]], np.int32)
    out, _ = run_update(lambda w: tf.scatter_nd_update(w, rows, UPDATES[:2]))
    expected = INITIAL.copy()
    expected[[1, 2]] = UPDATES[:2]
    np.testing.assert_array_equal(out, expected)


def test_updates_repeat_on_every_run():
    with tf.Graph().as_default():
        w = tf.Variable(np.zeros(3, np.float32))
        add = tf.scatter_add(w, [1], [1.5])
        with tf.Session("local") as sess:
            sess.run(w.initializer)
            for _ in range(3):
                sess.run(add)
            np.testing.assert_array_equal(sess.run(w), [0, 4.5, 0])


def test_static_shape_errors_name_the_shapes():
    with tf.Graph().as_default():
        w = tf.Variable(INITIAL)
        with pytest.raises(ValueError, match=r"updates must have shape \[2, 3\]"):
            tf.scatter_update(w, [0, 1], np.ones((2, 4), np.float32))
        with pytest.raises(ValueError, match=r"updates must have shape \[2\]"):
            tf.scatter_nd_add(w, [[0, 0], [1, 1]], np.ones((2, 3), np.float32))
        with pytest.raises(TypeError, match="must be a Variable"):
            tf.scatter_add(tf.constant(INITIAL), [0], UPDATES[:1])
        with pytest.raises(TypeError, match="float32"):
            tf.scatter_add(w, [0], tf.ones([1, 3], tf.int32))


def test_an_index_out_of_range_fails_and_changes_nothing():
    with tf.Graph().as_default():
        w = tf.Variable(INITIAL)
        bad = tf.scatter_add(w, tf.placeholder_with_default(np.array([1, 4], np.int32), [None]), UPDATES[:2])
        bad_nd = tf.scatter_nd_update(w, [[0, 3]], [1.0])
        with tf.Session("local") as sess:
            sess.run(w.initializer)
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 4 is not in \[0, 4\)"):
                sess.run(bad)
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"does not index into shape \[4, 3\]"):
                sess.run(bad_nd)
            np.testing.assert_array_equal(sess.run(w), INITIAL)


def test_scatter_ops_have_no_gradient():
    with tf.Graph().as_default():
        w = tf.Variable(INITIAL)
        u = tf.constant(UPDATES[:1])
        assert tf.gradients(tf.scatter_add(w, [0], u), [u]) == [None]


@pytest.mark.parametrize(
    "function, op_type",
    [
        ("scatter_update", "ScatterUpdate"),
        ("scatter_add", "ScatterAdd"),
        ("scatter_sub", "ScatterSub"),
        ("scatter_mul", "ScatterMul"),
        ("scatter_div", "ScatterDiv"),
        ("scatter_min", "ScatterMin"),
        ("scatter_max", "ScatterMax"),
        ("scatter_nd_update", "ScatterNdUpdate"),
        ("scatter_nd_add", "ScatterNdAdd"),
        ("scatter_nd_sub", "ScatterNdSub"),
    ],
)
def test_each_function_builds_its_op_type_as_tf(function, op_type):
    with tf.Graph().as_default():
        w = tf.Variable(INITIAL)
        indices = [[2], [0]] if "_nd_" in function else [2, 0]
        out = getattr(tf, function)(w, indices, UPDATES[:2])
        assert out.op.type == op_type and out.op.inputs[0].op is w.op
