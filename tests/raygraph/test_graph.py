"""Graph construction: names, scopes, collections, conversion, and errors at the line that made them."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf


def test_ops_get_unique_names_in_name_scopes():
    a = tf.constant(1.0, name="a")
    b = tf.constant(2.0, name="a")
    with tf.name_scope("layer"):
        c = tf.add(a, b)
        with tf.name_scope("inner") as scope:
            d = tf.identity(c, name="out")
    with tf.name_scope("layer"):
        e = tf.identity(c)
    assert (a.name, b.name) == ("a:0", "a_1:0")
    assert c.name == "layer/AddV2:0"
    assert scope == "layer/inner/"
    assert d.name == "layer/inner/out:0"
    assert e.name == "layer_1/Identity:0"


def test_name_scope_with_trailing_slash_reenters_exactly():
    with tf.name_scope("block") as scope:
        pass
    with tf.name_scope(scope):
        x = tf.constant(0, name="x")
    assert x.name == "block/x:0"


def test_lookup_by_name_and_collections():
    g = tf.get_default_graph()
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.identity(x, name="y")
    assert g.get_tensor_by_name("y:0") is y
    assert g.get_operation_by_name("y") is y.op
    assert y.op.inputs[0] is x and x.consumers() == [y.op]
    with pytest.raises(KeyError, match="does not exist"):
        g.get_tensor_by_name("nope:0")
    with pytest.raises(ValueError, match="refers to an Operation"):
        g.get_tensor_by_name("y")
    tf.add_to_collection("mine", y)
    assert tf.get_collection("mine") == [y]
    assert tf.get_collection_ref("mine") is g.get_collection_ref("mine")


def test_static_shapes_and_dimensions():
    x = tf.placeholder(tf.float32, [None, 784])
    assert x.shape.as_list() == [None, 784]
    assert x.get_shape()[1].value == 784 and int(x.shape[1]) == 784
    assert x.shape[0].value is None
    assert str(x.shape) == "(?, 784)"
    x.set_shape([32, 784])
    assert x.shape.as_list() == [32, 784]
    with pytest.raises(ValueError, match="incompatible"):
        x.set_shape([32, 10])


def test_constants_take_tensorflow_default_dtypes():
    assert tf.constant(1.0).dtype == tf.float32
    assert tf.constant(1).dtype == tf.int32
    assert tf.constant(2**40).dtype == tf.int64
    assert tf.constant(True).dtype == tf.bool
    assert tf.constant(np.float64(1.0)).dtype == tf.float64
    assert tf.constant([1, 2], dtype=tf.float32).dtype == tf.float32
    c = tf.constant(7.0, shape=[2, 3])
    assert c.shape.as_list() == [2, 3] and c.op.type == "Const"
    with pytest.raises(TypeError, match="int32"):
        tf.constant(1.5, dtype=tf.int32)


def test_python_numbers_take_the_other_operands_dtype():
    x = tf.placeholder(tf.float64, [2])
    assert (x + 1).dtype == tf.float64
    assert (2 * x).dtype == tf.float64
    i = tf.placeholder(tf.int32, [2])
    with pytest.raises(TypeError, match="int32"):
        i + 1.5
    with pytest.raises(TypeError, match="does not match"):
        tf.add(i, tf.constant(1.5))


def test_shape_error_fails_at_construction_naming_shapes_and_line():
    a = tf.constant(np.ones((2, 3), np.float32))
    b = tf.constant(np.ones((4, 5), np.float32))
    with pytest.raises(ValueError) as info:
        tf.matmul(a, b)  # this line is named in the error
    message = str(info.value)
    assert "MatMul" in message and "[2, 3]" in message and "[4, 5]" in message
    assert "test_graph.py:" in message


def test_dtype_mismatch_is_a_type_error_naming_both():
    x = tf.placeholder(tf.float32, [2])
    y = tf.placeholder(tf.int32, [2])
    with pytest.raises(TypeError, match="int32.*float32"):
        tf.add(x, y)


def test_ops_record_the_user_line_that_created_them():
    x = tf.constant(1.0)
    filename, line, function = x.op.location
    assert filename.endswith("test_graph.py")
    assert function == "test_ops_record_the_user_line_that_created_them"


def test_tensor_from_another_graph_names_both_graphs_and_the_fix():
    g1 = tf.Graph()
    with g1.as_default():
        a = tf.constant(1.0, name="a")
    b = tf.constant(2.0)
    with pytest.raises(ValueError) as info:
        tf.add(a, b)
    message = str(info.value)
    assert "'a:0'" in message and "as_default" in message
    assert message.count("<Graph") == 2


def test_finalized_graph_refuses_new_ops():
    tf.constant(1.0)
    g = tf.get_default_graph()
    g.finalize()
    assert g.finalized
    with pytest.raises(RuntimeError, match="finalized"):
        tf.constant(2.0)


def test_device_scopes_merge_and_are_recorded():
    with tf.device("/job:worker/task:1"):
        with tf.device("/gpu:0"):
            a = tf.constant(1.0)
        b = tf.constant(1.0)
    with tf.device("CPU:0"):
        c = tf.constant(1.0)
    assert a.device == "/job:worker/task:1/device:GPU:0"
    assert b.device == "/job:worker/task:1"
    assert c.device == "/device:CPU:0"


def test_control_dependencies_are_recorded_and_cleared():
    a = tf.constant(1.0)
    b = tf.constant(2.0)
    with tf.control_dependencies([a]):
        c = tf.identity(b)
        with tf.control_dependencies(None):
            d = tf.identity(b)
    assert c.op.control_inputs == [a.op]
    assert d.op.control_inputs == []


def test_tensors_are_not_python_bools_or_iterables():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(TypeError, match="Python bool"):
        bool(x)
    with pytest.raises(TypeError, match="not iterable"):
        list(x)
    assert x != tf.constant([1.0, 2.0])  # identity comparison, as in TF1


def test_reset_default_graph_inside_a_graph_scope_is_refused():
    with tf.Graph().as_default():
        with pytest.raises(AssertionError, match="nested graphs"):
            tf.reset_default_graph()


def test_registry_rejects_duplicate_and_unknown_op_types():
    with pytest.raises(KeyError, match="declared twice"):

        class MatMul(tf.Op):  # noqa: F811 - the clash is the point
            inputs = ("a",)

            def infer(a):
                return a.dtype, a.shape

            def kernel(xp, a):
                return a

    with pytest.raises(KeyError, match="did you mean MatMul"):
        tf.get_default_graph().create_op("MatMull", [])
