"""variable_scope and get_variable: names, reuse rules and their messages, defaults."""

from __future__ import annotations

import inspect
import os
import re

import numpy as np
import pytest

import raygraph as tf

HERE = os.path.basename(__file__)


def _line_of(marker: str) -> int:
    """The line of this file holding `marker` (to check "Originally defined at")."""
    lines = inspect.getsource(inspect.getmodule(_line_of)).splitlines()
    return next(i for i, line in enumerate(lines, 1) if marker in line and "_line_of" not in line)


# -- names ------------------------------------------------------------------------------


def test_variable_names_follow_the_variable_scope():
    with tf.variable_scope("foo") as scope:
        with tf.variable_scope("bar"):
            w = tf.get_variable("w", [2, 3])
    assert w.name == "foo/bar/w:0"
    assert w.shape.as_list() == [2, 3]
    assert scope.name == "foo"
    assert scope.original_name_scope == "foo/"
    assert w in tf.global_variables() and w in tf.trainable_variables()


def test_ops_use_the_name_scope_variables_ignore_it():
    with tf.name_scope("ns"):
        with tf.variable_scope("vs"):
            v = tf.get_variable("v", [1])
            c = tf.constant(1.0, name="c")
    assert v.name == "vs/v:0"
    assert c.name == "ns/vs/c:0"
    assert v.initializer.name == "vs/v/Assign"
    assert v.initial_value.name.startswith("vs/v/Initializer/")


def test_reentering_a_scope_by_name_or_object():
    with tf.variable_scope("foo") as foo:
        tf.get_variable("w", [1])
    with tf.variable_scope(foo) as again:
        c1 = tf.constant(1.0, name="c")
        assert tf.get_variable_scope().name == "foo"
    with tf.variable_scope("foo"):
        c2 = tf.constant(1.0, name="c")
    assert again.original_name_scope == "foo/"
    assert c1.name == "foo_1/c:0"
    assert c2.name == "foo_2/c:0"


def test_default_name_is_made_unique_per_variable_scope():
    names = []
    for _ in range(2):
        with tf.variable_scope(None, default_name="block") as scope:
            names.append(scope.name)
    with tf.variable_scope("outer"):
        with tf.variable_scope(None, default_name="block") as inner:
            names.append(inner.name)
    assert names == ["block", "block_1", "outer/block"]


def test_leaving_a_named_scope_resets_its_subscope_counts():
    with tf.variable_scope("outer"):
        with tf.variable_scope(None, default_name="block") as a:
            pass
    with tf.variable_scope("outer"):
        with tf.variable_scope(None, default_name="block") as b:
            pass
    assert a.name == b.name == "outer/block"


def test_auxiliary_name_scope_false_opens_no_name_scope():
    with tf.name_scope("ns"):
        with tf.variable_scope("vs", auxiliary_name_scope=False) as scope:
            c = tf.constant(1.0, name="c")
    assert c.name == "ns/c:0"
    assert scope.name == "vs"
    assert scope.original_name_scope == "ns/"


def test_root_scope():
    root = tf.get_variable_scope()
    assert root.name == "" and root.reuse is False and root.original_name_scope == ""
    with tf.variable_scope("a"):
        assert tf.get_variable_scope().name == "a"
    assert tf.get_variable_scope() is root


# -- reuse rules -----------------------------------------------------------------------------


def test_reuse_true_returns_the_existing_variable():
    with tf.variable_scope("foo"):
        w = tf.get_variable("w", [2, 3])
    with tf.variable_scope("foo", reuse=True):
        assert tf.get_variable("w", [2, 3]) is w
        assert tf.get_variable("w") is w  # no shape needed when reusing


def test_reuse_true_requires_existence():
    with tf.variable_scope("foo", reuse=True):
        with pytest.raises(ValueError) as e:
            tf.get_variable("w", [2, 3])
    assert str(e.value) == (
        "Variable foo/w does not exist, or was not created with tf.get_variable(). Did you mean to "
        "set reuse=tf.AUTO_REUSE in VarScope?"
    )


def test_creating_twice_is_an_error_naming_the_first_line():
    with tf.variable_scope("foo"):
        tf.get_variable("w", [2, 3])  # FIRST-DEFINITION
    with tf.variable_scope("foo"):
        with pytest.raises(ValueError) as e:
            tf.get_variable("w", [2, 3])
    message = str(e.value)
    assert message.startswith(
        "Variable foo/w already exists, disallowed. Did you mean to set reuse=True or "
        "reuse=tf.AUTO_REUSE in VarScope? Originally defined at: "
    )
    assert message.endswith(f"{HERE}:{_line_of('FIRST-DEFINITION')}")


def test_plain_variables_are_not_in_the_store():
    tf.Variable(1.0, name="v")
    with pytest.raises(ValueError, match="Variable v does not exist"):
        with tf.variable_scope("", reuse=True):
            tf.get_variable("v", [])


def test_shape_and_dtype_mismatch_on_reuse():
    with tf.variable_scope("foo"):
        tf.get_variable("w", [2, 3])
    with tf.variable_scope("foo", reuse=True):
        with pytest.raises(ValueError) as e:
            tf.get_variable("w", [2, 4])
        assert (
            str(e.value)
            == "Trying to share variable foo/w, but specified shape (2, 4) and found shape (2, 3)."
        )
        with pytest.raises(ValueError) as e:
            tf.get_variable("w", [2, 3], dtype=tf.int32)
        assert str(e.value) == (
            "Trying to share variable foo/w, but specified dtype int32 and found dtype float32."
        )


def test_auto_reuse_creates_then_reuses():
    made = []
    for _ in range(2):
        with tf.variable_scope("shared", reuse=tf.AUTO_REUSE) as scope:
            made.append(tf.get_variable("w", [3]))
    assert made[0] is made[1]
    assert scope.reuse is tf.AUTO_REUSE
    assert len(tf.global_variables()) == 1


def test_reuse_is_inherited_and_cannot_be_switched_off():
    with tf.variable_scope("a"):
        with tf.variable_scope("b"):
            w = tf.get_variable("w", [1])
    with tf.variable_scope("a", reuse=True):
        with tf.variable_scope("b", reuse=False) as inner:
            assert inner.reuse is True
            assert tf.get_variable("w", [1]) is w


def test_reuse_variables():
    with tf.variable_scope("foo") as scope:
        w = tf.get_variable("w", [1])
        scope.reuse_variables()
        assert tf.get_variable("w", [1]) is w


def test_scope_object_keeps_its_reuse():
    with tf.variable_scope("foo") as foo:
        w = tf.get_variable("w", [1])
    with tf.variable_scope(foo, reuse=True):
        assert tf.get_variable("w") is w


def test_bad_arguments():
    with pytest.raises(TypeError, match="default_name is None"):
        tf.variable_scope(None)
    with pytest.raises(ValueError, match="reuse=True cannot be used without a name_or_scope"):
        tf.variable_scope(None, default_name="x", reuse=True)
    with pytest.raises(ValueError, match="reuse parameter must be True or False or None"):
        tf.variable_scope("x", reuse="yes")


# -- initializers, dtypes and shapes --------------------------------------------------------


def test_default_initializers_by_dtype():
    w = tf.get_variable("w", [30, 50])
    i = tf.get_variable("i", [4], dtype=tf.int32)
    b = tf.get_variable("b", [4], dtype=tf.bool)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        wv, iv, bv = sess.run([w, i, b])
    limit = np.sqrt(6.0 / (30 + 50))  # glorot_uniform
    assert wv.dtype == np.float32 and np.all(np.abs(wv) <= limit) and wv.std() > limit / 3
    np.testing.assert_array_equal(iv, np.zeros(4, np.int32))
    np.testing.assert_array_equal(bv, np.zeros(4, bool))


def test_scope_initializer_and_dtype_are_defaults():
    with tf.variable_scope("s", initializer=tf.ones_initializer(), dtype=tf.float64) as scope:
        v = tf.get_variable("v", [2])
        z = tf.get_variable("z", [2], initializer=tf.zeros_initializer())
        with tf.variable_scope("inner"):
            nested = tf.get_variable("n", [2])
    assert scope.dtype == tf.float64 and v.dtype == tf.float64 and nested.dtype == tf.float64
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        vv, zv, nv = sess.run([v, z, nested])
    np.testing.assert_array_equal(vv, [1.0, 1.0])
    np.testing.assert_array_equal(zv, [0.0, 0.0])
    np.testing.assert_array_equal(nv, [1.0, 1.0])


def test_initializer_may_be_a_value():
    v = tf.get_variable("v", initializer=np.array([1.0, 2.0], np.float64))
    t = tf.get_variable("t", initializer=tf.constant([[1, 2]]))
    assert v.dtype == tf.float64 and v.shape.as_list() == [2]
    assert t.dtype == tf.int32 and t.shape.as_list() == [1, 2]
    with pytest.raises(ValueError, match="If initializer is a constant, do not specify shape"):
        tf.get_variable("c", [2], initializer=tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="Initializer type 'float32' and explicit dtype 'int32' don't match"):
        tf.get_variable("d", dtype=tf.int32, initializer=np.array([1.0], np.float32))


def test_a_new_variable_needs_a_shape():
    with pytest.raises(
        ValueError, match=re.escape("Variable nos did not get an initializer, so its `shape`")
    ):
        tf.get_variable("nos")


def test_a_partitioner_makes_a_partitioned_variable():
    p = tf.get_variable("p", [10, 2], partitioner=lambda shape, dtype: [2, 1])
    assert [v.op.name for v in p] == ["p/part_0", "p/part_1"]  # tests/raygraph/test_partitioned_variables.py


# -- collections, regularizers, custom getters -----------------------------------------------


def test_trainable_collections_and_local_variables():
    frozen = tf.get_variable("frozen", [1], trainable=False)
    custom = tf.get_variable("custom", [1], collections=["mine"])
    local = tf.get_local_variable("count", [], dtype=tf.int32)
    assert frozen in tf.global_variables() and frozen not in tf.trainable_variables()
    assert tf.get_collection("mine") == [custom] and custom not in tf.global_variables()
    assert custom in tf.trainable_variables()
    assert tf.local_variables() == [local] and local not in tf.trainable_variables()
    assert local not in tf.global_variables()


def test_regularizers_add_to_regularization_losses():
    with tf.variable_scope("r", regularizer=lambda w: tf.reduce_sum(w * w)):
        w = tf.get_variable("w", [2], initializer=tf.constant_initializer(3.0))
        tf.get_variable("none", [2], regularizer=tf.no_regularizer)
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 1
    assert losses[0].name.startswith("r/w/Regularizer/")
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(losses[0]) == pytest.approx(18.0)
    with tf.variable_scope("r", reuse=True):
        assert tf.get_variable("w") is w
    assert len(tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)) == 1  # not added again


def test_custom_getters_nest():
    calls = []

    def outer(getter, name, *args, **kwargs):
        calls.append(("outer", name))
        return getter(name, *args, **kwargs)

    def inner(getter, name, *args, **kwargs):
        calls.append(("inner", name))
        return getter(name, *args, **kwargs)

    with tf.variable_scope("a", custom_getter=outer):
        with tf.variable_scope("b", custom_getter=inner):
            v = tf.get_variable("v", [1])
    assert v.name == "a/b/v:0"
    assert calls == [("inner", "a/b/v"), ("outer", "a/b/v")]


def test_scope_collections_and_values_graph():
    with tf.variable_scope("m") as scope:
        w = tf.get_variable("w", [1])
        frozen = tf.get_variable("frozen", [1], trainable=False)
    tf.get_variable("other", [1])
    assert scope.global_variables() == [w, frozen]
    assert scope.trainable_variables() == [w]
    graph = tf.Graph()
    with graph.as_default():
        x = tf.constant(1.0)
    with tf.variable_scope("g", values=[x]):
        v = tf.get_variable("v", [1])
    assert v.graph is graph


def test_the_store_belongs_to_the_graph():
    with tf.variable_scope("foo"):
        first = tf.get_variable("w", [1])
    tf.reset_default_graph()
    with tf.variable_scope("foo"):
        second = tf.get_variable("w", [1])  # no "already exists": a new graph, a new store
    assert second is not first and second.graph is not first.graph
    graph = tf.Graph()
    with graph.as_default():
        assert tf.get_variable_scope().name == ""
        other = tf.get_variable("foo/w", [1])
    assert other.graph is graph
