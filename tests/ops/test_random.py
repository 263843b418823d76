"""The random family: shapes, dtypes, distributions and TF1's seed rules.

Covers RandomStandardNormal, TruncatedNormal, RandomUniform, RandomUniformInt,
RandomShuffle and Multinomial (listed in cases_random.TESTED_ELSEWHERE), and the
composites built on them: random_normal, truncated_normal, random_uniform,
dropout. Statistics use large samples with tolerances many standard errors wide.
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf
from ops.random import DEFAULT_GRAPH_SEED

N = 200_000


def run(fetches, feed_dict=None):
    with tf.Session("local") as sess:
        return sess.run(fetches, feed_dict)


# -- shapes and dtypes ----------------------------------------------------------------------


def test_shapes_and_dtypes():
    ops = {
        "normal": tf.random_normal([3, 4]),
        "normal64": tf.random_normal([2], dtype=tf.float64),
        "truncated": tf.truncated_normal((5,), dtype=tf.float16),
        "uniform": tf.random_uniform([2, 3, 4]),
        "int": tf.random_uniform([7], maxval=5, dtype=tf.int32),
        "int64": tf.random_uniform([7], minval=-3, maxval=5, dtype=tf.int64),
        "scalar": tf.random_normal([]),
        "shuffle": tf.random_shuffle(tf.constant([[1, 2], [3, 4], [5, 6]])),
        "multinomial": tf.multinomial(tf.zeros([3, 4]), 6),
        "categorical": tf.random.categorical(tf.zeros([2, 4]), 5, dtype=tf.int32),
    }
    values = run(ops)
    expected = {
        "normal": ([3, 4], np.float32),
        "normal64": ([2], np.float64),
        "truncated": ([5], np.float16),
        "uniform": ([2, 3, 4], np.float32),
        "int": ([7], np.int32),
        "int64": ([7], np.int64),
        "scalar": ([], np.float32),
        "shuffle": ([3, 2], np.int32),
        "multinomial": ([3, 6], np.int64),
        "categorical": ([2, 5], np.int32),
    }
    for key, (shape, dtype) in expected.items():
        assert ops[key].shape.as_list() == shape, key
        assert ops[key].dtype == tf.as_dtype(dtype), key
        assert values[key].shape == tuple(shape) and values[key].dtype == dtype, key


def test_shape_may_be_computed_at_run_time():
    x = tf.placeholder(tf.float32, [None, 3])
    r = tf.random_normal(tf.shape(x))
    u = tf.random_uniform(tf.stack([tf.shape(x)[0], 2]))
    assert r.shape.as_list() == [None, 3]
    assert u.shape.as_list() == [None, 2]
    rv, uv = run([r, u], {x: np.zeros((5, 3), np.float32)})
    assert rv.shape == (5, 3) and uv.shape == (5, 2)


def test_names_follow_tensorflow():
    r = tf.random_normal([2], name="noise")
    assert r.op.name == "noise" and r.op.type == "AddV2"
    assert {op.type for op in tf.get_default_graph().get_operations()} >= {"RandomStandardNormal", "Mul"}
    assert tf.random_uniform([2]).op.type == "RandomUniform"
    assert tf.random.uniform([2], 0, 6, dtype=tf.int32).op.type == "RandomUniformInt"
    assert tf.truncated_normal([2]).op.inputs[0].op.inputs[0].op.type == "TruncatedNormal"


def test_bad_arguments_fail_when_built():
    with pytest.raises(ValueError, match="Must specify maxval"):
        tf.random_uniform([2], dtype=tf.int32)
    with pytest.raises(ValueError, match="minval < maxval"):
        tf.random_uniform([2], 5, 5, dtype=tf.int32)
    with pytest.raises(TypeError, match="shape"):
        tf.random_normal(tf.constant([2.0, 3.0]))


def test_int_range_checked_at_run_time():
    hi = tf.placeholder(tf.int32, [])
    r = tf.random_uniform([3], 4, hi, dtype=tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="minval < maxval"):
        run(r, {hi: 2})


# -- distributions ----------------------------------------------------------------------------


def test_normal_statistics():
    a, b = run([tf.random_normal([N], mean=2.0, stddev=3.0), tf.random_normal([N], dtype=tf.float64)])
    assert abs(a.mean() - 2.0) < 0.05 and abs(a.std() - 3.0) < 0.05
    assert abs(b.mean()) < 0.02 and abs(b.std() - 1.0) < 0.02


def test_truncated_normal_stays_within_two_stddev():
    v = run(tf.truncated_normal([N], mean=1.0, stddev=0.5))
    assert np.all(np.abs(v - 1.0) <= 1.0)
    # a standard normal truncated to [-2, 2] has stddev 0.8796
    assert abs(v.mean() - 1.0) < 0.01 and abs(v.std() - 0.5 * 0.8796) < 0.01
    assert np.mean(np.abs(v - 1.0) > 0.9) > 0.01  # the tails are reached, not cut short


def test_uniform_statistics_and_bounds():
    f, g, i = run(
        [
            tf.random_uniform([N]),
            tf.random_uniform([N], -3.0, 5.0),
            tf.random_uniform([N], -2, 4, dtype=tf.int32),
        ]
    )
    assert f.min() >= 0 and f.max() < 1 and abs(f.mean() - 0.5) < 0.01
    assert g.min() >= -3 and g.max() < 5 and abs(g.mean() - 1.0) < 0.05
    assert set(np.unique(i)) == {-2, -1, 0, 1, 2, 3}
    assert np.allclose(np.bincount(i + 2) / N, 1 / 6, atol=0.01)


def test_uniform_bounds_may_be_tensors():
    lo = tf.placeholder(tf.float32, [])
    v = run(tf.random_uniform([1000], lo, lo + 1.0), {lo: 10.0})
    assert v.min() >= 10 and v.max() < 11


def test_shuffle_permutes_the_first_dimension():
    value = np.arange(200).reshape(100, 2)
    out = run(tf.random_shuffle(tf.constant(value)))
    assert not np.array_equal(out, value)
    assert np.array_equal(out[np.argsort(out[:, 0])], value)


def test_multinomial_frequencies():
    with np.errstate(divide="ignore"):
        logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.0, 0.5]]))
    samples = run(tf.multinomial(tf.constant(logits, dtype=tf.float32), 20_000))
    first = np.bincount(samples[0], minlength=3) / samples.shape[1]
    second = np.bincount(samples[1], minlength=3) / samples.shape[1]
    assert np.allclose(first, [0.1, 0.2, 0.7], atol=0.02)
    assert np.allclose(second, [0.5, 0.0, 0.5], atol=0.02) and second[1] == 0


# -- seeds ----------------------------------------------------------------------------------------


def _two_sessions(fetches, runs=1):
    """The values of `fetches` over `runs` runs, in each of two fresh sessions."""
    out = []
    for _ in range(2):
        with tf.Session("local") as sess:
            out.append([sess.run(fetches) for _ in range(runs)])
    return out


def test_op_seed_replays_in_a_new_session_and_advances_within_one():
    r = tf.random_normal([4], seed=7)
    (a1, a2), (b1, b2) = _two_sessions(r, runs=2)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)


def test_graph_seed_alone_is_reproducible_across_graphs():
    def build():
        tf.reset_default_graph()
        tf.set_random_seed(1234)
        return [tf.random_normal([3]), tf.random_uniform([3]), tf.truncated_normal([3])]

    first = run(build())
    second = run(build())
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[2])  # ops get distinct seeds


def test_without_seeds_sessions_differ():
    r = tf.random_uniform([8])
    (a,), (b,) = _two_sessions(r)
    assert not np.array_equal(a, b)


def test_get_seed_rules():
    assert tf.get_seed(None) == (None, None)
    assert tf.get_seed(5) == (DEFAULT_GRAPH_SEED, 5)
    tf.random.set_random_seed(3)
    assert tf.get_default_graph().seed == 3
    assert tf.get_seed(5) == (3, 5)
    n = tf.get_default_graph().version
    assert tf.get_seed(None) == (3, n)
    tf.set_random_seed(0)
    assert tf.get_seed(0) == (0, 2**31 - 1)


def test_op_seed_with_different_graph_seeds_differs():
    tf.set_random_seed(1)
    a = tf.random_normal([4], seed=2)
    b = tf.random_normal([4], seed=2)
    av, bv = run([a, b])
    np.testing.assert_array_equal(av, bv)  # same (graph seed, op seed): same stream
    tf.reset_default_graph()
    tf.set_random_seed(9)
    c = run(tf.random_normal([4], seed=2))
    assert not np.array_equal(av, c)


# -- dropout -----------------------------------------------------------------------------------------


def test_dropout_keep_rate_and_scaling():
    x = tf.ones([N])
    y = tf.nn.dropout(x, keep_prob=0.8)
    v = run(y)
    kept = v != 0
    assert abs(kept.mean() - 0.8) < 0.01
    np.testing.assert_allclose(v[kept], 1 / 0.8, rtol=1e-6)
    assert v.dtype == np.float32


def test_dropout_rate_and_placeholder_keep_prob():
    x = tf.ones([N])
    keep = tf.placeholder(tf.float32, [])
    y_rate = tf.nn.dropout(x, rate=0.25)
    y_keep = tf.nn.dropout(x, keep_prob=keep)
    a, b = run([y_rate, y_keep], {keep: 0.5})
    assert abs((a != 0).mean() - 0.75) < 0.01
    assert abs((b != 0).mean() - 0.5) < 0.01
    np.testing.assert_allclose(b[b != 0], 2.0)
    assert np.all(run(y_keep, {keep: 1.0}) == 1.0)


def test_dropout_noise_shape_shares_the_mask():
    x = tf.ones([1000, 4])
    v = run(tf.nn.dropout(x, keep_prob=0.5, noise_shape=[1000, 1]))
    assert np.all((v == 0).all(axis=1) | (v != 0).all(axis=1))
    w = run(tf.nn.dropout(tf.ones([3, 500]), keep_prob=0.5, noise_shape=[1, None]))
    assert np.all((w == 0).all(axis=0) | (w != 0).all(axis=0))
    p = tf.placeholder(tf.float32, [None, 4])
    u = run(tf.nn.dropout(p, keep_prob=0.5, noise_shape=[None, 1]), {p: np.ones((1000, 4), np.float32)})
    assert u.shape == (1000, 4) and 0.4 < (u != 0).mean() < 0.6
    assert np.all((u == 0).all(axis=1) | (u != 0).all(axis=1))


def test_dropout_is_deterministic_given_seeds_and_differentiable():
    x = tf.placeholder(tf.float32, [None, 50])
    y = tf.nn.dropout(x, keep_prob=0.5, seed=3)
    g = tf.gradients(tf.reduce_sum(y), x)[0]
    feed = {x: np.ones((4, 50), np.float32)}
    with tf.Session("local") as sess:
        a, ga = sess.run([y, g], feed)
    with tf.Session("local") as sess:
        b = sess.run(y, feed)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ga, a)  # d(sum y)/dx is the mask / keep_prob, as y is for x = 1


def test_dropout_arguments():
    x = tf.ones([3])
    assert tf.nn.dropout(x, keep_prob=1.0) is x
    with pytest.raises(ValueError, match="both"):
        tf.nn.dropout(x, keep_prob=0.5, rate=0.5)
    with pytest.raises(ValueError, match="range"):
        tf.nn.dropout(x, keep_prob=0.0)
    with pytest.raises(ValueError, match="rate"):
        tf.nn.dropout(x)
    with pytest.raises(ValueError, match="floating"):
        tf.nn.dropout(tf.ones([3], tf.int32), keep_prob=0.5)


def test_random_namespace():
    for name in (
        "normal",
        "uniform",
        "truncated_normal",
        "shuffle",
        "set_random_seed",
        "categorical",
        "multinomial",
        "get_seed",
    ):
        assert callable(getattr(tf.random, name)), name
