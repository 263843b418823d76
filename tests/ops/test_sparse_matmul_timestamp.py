"""tf.sparse_tensor_dense_matmul (values and gradients against numpy) and tf.timestamp."""

from __future__ import annotations

import time

import numpy as np
import pytest

import raygraph as tf

INDICES = np.array([[0, 1], [2, 0], [2, 0], [1, 3]], np.int64)  # (2, 0) twice: the values add
VALUES = np.array([3.0, -1.0, 2.0, 0.5])
DENSE_A = np.zeros((3, 4))
np.add.at(DENSE_A, tuple(INDICES.T), VALUES)


@pytest.mark.parametrize("adjoint_a", [False, True])
@pytest.mark.parametrize("adjoint_b", [False, True])
def test_product_and_gradients_match_the_dense_product(adjoint_a, adjoint_b):
    a = DENSE_A.T if adjoint_a else DENSE_A
    rng = np.random.default_rng(0)
    b_value = rng.normal(size=(5, a.shape[1]) if adjoint_b else (a.shape[1], 5))
    with tf.Graph().as_default():
        values = tf.constant(VALUES)
        b = tf.constant(b_value)
        sp = tf.SparseTensor(INDICES, values, [3, 4])
        product = tf.sparse_tensor_dense_matmul(sp, b, adjoint_a=adjoint_a, adjoint_b=adjoint_b)
        assert product.shape.as_list() == [a.shape[0], 5]
        loss = tf.reduce_sum(tf.sin(product))
        grads = tf.gradients(loss, [values, b])
        with tf.Session("local") as sess:
            got, (d_values, d_b) = sess.run([product, grads])
    expected = a @ (b_value.T if adjoint_b else b_value)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    d_product = np.cos(expected)  # d loss / d product; then the dense matmul's gradients
    d_a = d_product @ (b_value.T if adjoint_b else b_value).T
    d_a = d_a.T if adjoint_a else d_a
    np.testing.assert_allclose(d_values, d_a[tuple(INDICES.T)], rtol=1e-10)
    d_b_dense = a.T @ d_product
    np.testing.assert_allclose(d_b, d_b_dense.T if adjoint_b else d_b_dense, rtol=1e-10)


def test_aliases_fed_sparse_input_and_errors():
    assert tf.sparse.sparse_dense_matmul is tf.sparse_tensor_dense_matmul
    assert tf.sparse.matmul is tf.sparse_tensor_dense_matmul
    with tf.Graph().as_default():
        sp = tf.sparse_placeholder(tf.float64)
        product = tf.sparse.sparse_dense_matmul(sp, tf.ones([4, 2], tf.float64))
        with tf.Session("local") as sess:
            got = sess.run(product, {sp: (INDICES, VALUES, [3, 4])})
        np.testing.assert_allclose(got, DENSE_A @ np.ones((4, 2)))
        fixed = tf.SparseTensor(INDICES, VALUES, [3, 4])
        with pytest.raises(ValueError, match="inner dimensions differ"):
            tf.sparse_tensor_dense_matmul(fixed, tf.ones([3, 2], tf.float64))
        with pytest.raises(TypeError, match="float64 but b has float32"):
            tf.sparse_tensor_dense_matmul(fixed, tf.ones([4, 2]))


def test_timestamp_is_a_new_float64_reading_every_run():
    with tf.Graph().as_default():
        stamp = tf.timestamp()
        assert stamp.op.type == "Timestamp" and stamp.dtype == tf.float64  # TF's op, stateful
        assert stamp.dtype == tf.float64 and stamp.shape.ndims == 0
        with tf.Session("local") as sess:
            before = time.time()
            first = sess.run(stamp)
            time.sleep(0.01)
            second = sess.run(stamp)
            after = time.time()
    assert before <= first < second <= after
