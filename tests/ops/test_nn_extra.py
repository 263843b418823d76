"""Static shapes and argument errors of the tf.nn additions (embedding_lookup, top_k,
fused_batch_norm, the 1-D and depthwise convolutions); values are checked against
numpy in cases_nn_extra.py and against TensorFlow in tests/compat/test_nn_extra_vs_tf.py."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf


def test_embedding_lookup_static_shapes_and_errors():
    with tf.Graph().as_default():
        ids = tf.placeholder(tf.int32, [None, 5])
        parts = [tf.zeros([4, 3]), tf.zeros([3, 3])]
        assert tf.nn.embedding_lookup(parts, ids).shape.as_list() == [None, 5, 3]
        assert tf.nn.embedding_lookup(tf.zeros([9, 2, 2]), ids).shape.as_list() == [None, 5, 2, 2]
        with pytest.raises(ValueError, match="partition strategy"):
            tf.nn.embedding_lookup(parts, ids, partition_strategy="range")
        with pytest.raises(ValueError, match=r"params\[1\]"):
            tf.nn.embedding_lookup([tf.zeros([4, 3]), tf.zeros([3, 2])], ids)
        with pytest.raises(TypeError, match="ids"):
            tf.nn.embedding_lookup(parts, tf.zeros([2]))


def test_embedding_lookup_out_of_range_id_fails_at_run_time():
    with tf.Graph().as_default():
        out = tf.nn.embedding_lookup(tf.zeros([4, 3]), tf.constant([1, 4]))
        with tf.Session("local") as sess, pytest.raises(tf.errors.InvalidArgumentError, match="4"):
            sess.run(out)


def test_top_k_run_time_k_too_large():
    with tf.Graph().as_default():
        k = tf.placeholder(tf.int32, [])
        values, _ = tf.nn.top_k(tf.zeros([2, 3]), k)
        assert values.shape.as_list() == [2, None]
        with tf.Session("local") as sess, pytest.raises(tf.errors.InvalidArgumentError, match="k=5"):
            sess.run(values, {k: 5})


def test_fused_batch_norm_needs_statistics_for_inference():
    with tf.Graph().as_default():
        x = tf.zeros([2, 3, 3, 4])
        with pytest.raises(ValueError, match="mean and variance"):
            tf.nn.fused_batch_norm(x, tf.ones([4]), tf.zeros([4]), is_training=False)
        with pytest.raises(ValueError, match="4-D or 5-D"):
            tf.nn.fused_batch_norm(tf.zeros([2, 4]), tf.ones([4]), tf.zeros([4]))


def test_convolution_static_shapes():
    with tf.Graph().as_default():
        seq = tf.placeholder(tf.float32, [None, 10, 3])
        assert tf.nn.conv1d(seq, tf.zeros([3, 3, 5]), 2, "SAME").shape.as_list() == [None, 5, 5]
        img = tf.placeholder(tf.float32, [None, 7, 7, 3])
        dw = tf.nn.depthwise_conv2d(img, tf.zeros([3, 3, 3, 2]), [1, 2, 2, 1], "VALID")
        assert dw.shape.as_list() == [None, 3, 3, 6]
        with pytest.raises(ValueError, match="Depth of input"):
            tf.nn.depthwise_conv2d(img, tf.zeros([3, 3, 2, 2]), [1, 1, 1, 1], "SAME")
        with pytest.raises(NotImplementedError, match="3-D"):
            tf.nn.convolution(tf.zeros([1, 4, 4, 4, 1]), tf.zeros([2, 2, 2, 1, 1]), "SAME")


def test_lrn_needs_4d():
    with tf.Graph().as_default(), pytest.raises(ValueError, match="4-D"):
        tf.nn.lrn(tf.zeros([3, 4]))


def test_depthwise_kernel_runs_on_noncontiguous_nchw():
    with tf.Graph().as_default():
        x = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
        w = np.ones([1, 1, 3, 1], np.float32)
        y = tf.nn.depthwise_conv2d_native(x, w, [1, 1, 1, 1], "VALID", data_format="NCHW")
        with tf.Session("local") as sess:
            np.testing.assert_array_equal(sess.run(y), x)
