"""dtype names and conversion rules as TensorFlow's (tf.compat.v1), and TF's forgiving
argument forms: an int as a 1-D shape, any iterable of variables as a var_list."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf


@pytest.mark.parametrize(
    "name, expected",
    [
        ("float", "float32"),
        ("double", "float64"),
        ("half", "float16"),
        ("float32_ref", "float32"),
        ("int64", "int64"),
        ("uint32", "uint32"),
        ("complex64", "complex64"),
        ("bfloat16", "bfloat16"),
    ],
)
def test_dtype_names(name, expected):
    assert tf.as_dtype(name).name == expected


def test_unknown_names_and_enums():
    with pytest.raises(TypeError, match="dtype"):
        tf.as_dtype("int")  # numpy's name, not TensorFlow's
    assert tf.DType(1) == tf.float32 and tf.as_dtype(9) == tf.int64
    assert tf.float32.as_datatype_enum == 1 and tf.float16.as_datatype_enum == 19
    assert tf.complex64.real_dtype == tf.float32 and tf.complex64.is_complex
    assert tf.float32.is_compatible_with(np.float32)
    assert tf.int8.limits == (-128, 127)


def test_python_values_convert_as_tensorflow_does():
    with tf.Graph().as_default():
        assert tf.constant(1.5).dtype == tf.float32
        assert tf.constant(1).dtype == tf.int32
        assert tf.constant(2**40).dtype == tf.int64
        assert tf.constant(np.array([1, 2], np.int64)).dtype == tf.int64
        assert tf.constant(np.float64(1)).dtype == tf.float64
        assert tf.constant(1 + 2j).dtype == tf.complex128
        assert (tf.constant(1.0) + np.array([1.0])).dtype == tf.float32
        with pytest.raises(TypeError, match="Expected int32"):
            tf.constant(1) + 1.5
        with pytest.raises(TypeError, match="does not match"):
            tf.constant(1.0) + tf.constant(1)


def test_an_int_is_a_one_dimensional_shape():
    with tf.Graph().as_default():
        assert tf.placeholder(tf.float32, 5).shape.as_list() == [5]
        assert tf.get_variable("v", 3).shape.as_list() == [3]
        assert tf.zeros(4).shape.as_list() == [4]
        assert tf.TensorShape(7).as_list() == [7]


def test_var_list_may_be_any_collection_of_variables():
    with tf.Graph().as_default():
        x = tf.constant([[1.0, 2.0]])
        v = tf.Variable(tf.ones([2, 1]))
        loss = tf.reduce_sum(tf.matmul(x, v))
        step = tf.train.GradientDescentOptimizer(0.5).minimize(loss, var_list={"v": v}.values())
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(step)
            np.testing.assert_allclose(sess.run(v), [[0.5], [0.0]])


def test_dropout_with_a_fed_rate_keeps_the_static_shape():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 7])
        rate = tf.placeholder(tf.float32, [])
        training = tf.placeholder(tf.bool, [])
        assert tf.nn.dropout(x, rate=rate).shape.as_list() == [None, 7]
        assert tf.layers.dropout(x, 0.5, training=training).shape.as_list() == [None, 7]
