"""Initializers: values, dtypes, statistics, fans, seeds, and the tf.initializers namespace."""

from __future__ import annotations

import math

import numpy as np
import pytest

import raygraph as tf
from raygraph.initializers import _compute_fans


def _run(*tensors):
    with tf.Session("local") as sess:
        return sess.run(list(tensors))


# -- deterministic initializers ------------------------------------------------------------


def test_zeros_ones_constant():
    z = tf.zeros_initializer()([2, 3])
    zi = tf.zeros_initializer()([2], dtype=tf.int32)
    o = tf.ones_initializer(dtype=tf.float64)([3])
    c = tf.constant_initializer(2.5)([2, 2])
    short = tf.constant_initializer([1, 2])([4])
    full = tf.constant_initializer([[1, 2], [3, 4]])([4])
    zv, ziv, ov, cv, sv, fv = _run(z, zi, o, c, short, full)
    np.testing.assert_array_equal(zv, np.zeros((2, 3), np.float32))
    assert ziv.dtype == np.int32 and ov.dtype == np.float64
    np.testing.assert_array_equal(ov, np.ones(3))
    np.testing.assert_array_equal(cv, np.full((2, 2), 2.5, np.float32))
    np.testing.assert_array_equal(sv, [1.0, 2.0, 2.0, 2.0])  # padded with the last value, as TF1
    np.testing.assert_array_equal(fv, [1.0, 2.0, 3.0, 4.0])


def test_constant_errors():
    with pytest.raises(TypeError, match="Invalid type for initial value"):
        tf.constant_initializer({"a": 1})
    with pytest.raises(TypeError, match=r"Expected Tensor's shape: \(2, 2\), but got \(4,\)"):
        tf.constant_initializer([1, 2, 3, 4], verify_shape=True)([2, 2])
    with pytest.raises(ValueError, match="Too many elements"):
        tf.constant_initializer([1, 2, 3])([2])


def test_initializers_take_the_variable_dtype():
    with tf.variable_scope("v", initializer=tf.constant_initializer(7)):
        i = tf.get_variable("i", [2], dtype=tf.int64)
        d = tf.get_variable("d", [2], dtype=tf.float64)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        iv, dv = sess.run([i, d])
    assert iv.dtype == np.int64 and dv.dtype == np.float64
    np.testing.assert_array_equal(iv, [7, 7])


# -- random initializers: statistics ---------------------------------------------------------


def test_random_uniform_normal_truncated_statistics():
    u = tf.random_uniform_initializer(-2.0, 3.0, seed=1)([200, 100])
    u01 = tf.random_uniform_initializer(seed=2)([10000])
    n = tf.random_normal_initializer(1.0, 0.5, seed=3)([200, 100])
    t = tf.truncated_normal_initializer(0.0, 2.0, seed=4)([200, 100])
    uv, u01v, nv, tv = _run(u, u01, n, t)
    assert uv.min() >= -2.0 and uv.max() < 3.0 and uv.mean() == pytest.approx(0.5, abs=0.05)
    assert u01v.min() >= 0.0 and u01v.max() < 1.0
    assert nv.mean() == pytest.approx(1.0, abs=0.02) and nv.std() == pytest.approx(0.5, rel=0.03)
    assert np.abs(tv).max() <= 4.0 and tv.std() == pytest.approx(2.0 * 0.8796, rel=0.03)


@pytest.mark.parametrize(
    "make,expected_std",
    [
        (lambda: tf.glorot_uniform_initializer(seed=1), math.sqrt(2.0 / (300 + 500))),
        (lambda: tf.glorot_normal_initializer(seed=1), math.sqrt(2.0 / (300 + 500))),
        (lambda: tf.initializers.he_normal(seed=1), math.sqrt(2.0 / 300)),
        (lambda: tf.initializers.he_uniform(seed=1), math.sqrt(2.0 / 300)),
        (lambda: tf.initializers.lecun_normal(seed=1), math.sqrt(1.0 / 300)),
        (lambda: tf.initializers.lecun_uniform(seed=1), math.sqrt(1.0 / 300)),
        (
            lambda: tf.variance_scaling_initializer(3.0, "fan_out", "untruncated_normal", seed=1),
            math.sqrt(3.0 / 500),
        ),
        (lambda: tf.variance_scaling_initializer(seed=1), math.sqrt(1.0 / 300)),
    ],
    ids=[
        "glorot_uniform",
        "glorot_normal",
        "he_normal",
        "he_uniform",
        "lecun_normal",
        "lecun_uniform",
        "fan_out_untruncated",
        "default",
    ],
)
def test_variance_scaling_family_has_the_expected_std(make, expected_std):
    init = make()
    (value,) = _run(init([300, 500]))
    assert value.shape == (300, 500) and value.dtype == np.float32
    assert value.std() == pytest.approx(expected_std, rel=0.03)
    assert abs(value.mean()) < expected_std / 20
    if init.distribution == "uniform":
        assert np.abs(value).max() <= math.sqrt(3.0) * expected_std * (1 + 1e-6)
    elif init.distribution == "truncated_normal":
        assert np.abs(value).max() <= 2.0 * expected_std / 0.87962566103423978 * (1 + 1e-6)


def test_fans_like_tensorflow_including_conv_kernels():
    assert _compute_fans([]) == (1, 1)
    assert _compute_fans([7]) == (7, 7)
    assert _compute_fans([3, 5]) == (3, 5)
    assert _compute_fans([3, 3, 16, 32]) == (3 * 3 * 16, 3 * 3 * 32)
    (kernel,) = _run(tf.initializers.he_normal(seed=5)([5, 5, 16, 32]))
    assert kernel.std() == pytest.approx(math.sqrt(2.0 / (5 * 5 * 16)), rel=0.05)


# -- seeds --------------------------------------------------------------------------------------


def _draw(init, shape=(4, 5)):
    graph = tf.Graph()
    with graph.as_default():
        value = init(list(shape))
        with tf.Session("local", graph=graph) as sess:
            return sess.run(value)


@pytest.mark.parametrize(
    "name",
    ["random_uniform", "random_normal", "truncated_normal", "glorot_uniform", "glorot_normal", "he_normal"],
)
def test_seeded_initializers_are_deterministic(name):
    make = getattr(tf.initializers, name)
    first, again, other = _draw(make(seed=7)), _draw(make(seed=7)), _draw(make(seed=8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_graph_seed_makes_unseeded_initializers_reproducible():
    def build():
        graph = tf.Graph()
        with graph.as_default():
            tf.set_random_seed(3)
            w = tf.get_variable("w", [3, 4])
            with tf.Session("local", graph=graph) as sess:
                sess.run(tf.global_variables_initializer())
                return sess.run(w)

    np.testing.assert_array_equal(build(), build())


# -- arguments, configs and names -----------------------------------------------------------------


def test_bad_arguments():
    with pytest.raises(ValueError, match="`scale` must be a positive float"):
        tf.variance_scaling_initializer(scale=0.0)
    with pytest.raises(ValueError, match="Invalid `mode` argument"):
        tf.variance_scaling_initializer(mode="fan_sideways")
    with pytest.raises(ValueError, match="Invalid `distribution` argument"):
        tf.variance_scaling_initializer(distribution="cauchy")
    with pytest.raises(ValueError, match="floating point dtype, got int32"):
        tf.random_normal_initializer(dtype=tf.int32)


def test_configs_round_trip():
    for init in (
        tf.glorot_uniform_initializer(seed=3),
        tf.constant_initializer(2.0),
        tf.variance_scaling_initializer(2.0, "fan_avg", "uniform", seed=1),
        tf.random_uniform_initializer(-1.0, 1.0, seed=2),
        tf.zeros_initializer(),
    ):
        copy = type(init).from_config(init.get_config())
        assert copy.get_config() == init.get_config()
    assert tf.glorot_uniform_initializer().get_config() == {"seed": None, "dtype": "float32"}
    assert tf.constant_initializer(2).get_config() == {"value": 2, "dtype": "float32"}


def test_namespace_and_top_level_names():
    assert tf.initializers.zeros is tf.zeros_initializer
    assert tf.initializers.ones is tf.ones_initializer
    assert tf.initializers.constant is tf.constant_initializer
    assert tf.initializers.random_normal is tf.random_normal_initializer
    assert tf.initializers.truncated_normal is tf.truncated_normal_initializer
    assert tf.initializers.random_uniform is tf.random_uniform_initializer
    assert tf.initializers.glorot_uniform is tf.glorot_uniform_initializer
    assert tf.initializers.glorot_normal is tf.glorot_normal_initializer
    assert tf.initializers.variance_scaling is tf.variance_scaling_initializer
    he = tf.initializers.he_uniform(seed=1)
    assert (he.scale, he.mode, he.distribution, he.seed) == (2.0, "fan_in", "uniform", 1)
    assert callable(tf.zeros) and tf.zeros is not tf.initializers.zeros  # the op is not shadowed
    v = tf.Variable(1.0)
    assert tf.initializers.global_variables().type == "NoOp"
    assert v in tf.global_variables()


def test_initializer_ops_are_named_under_the_variable():
    w = tf.get_variable("w", [2, 2], initializer=tf.random_uniform_initializer(seed=1))
    assert w.initial_value.name.startswith("w/Initializer/random_uniform")
