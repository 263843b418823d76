"""The candidate samplers (UniformCandidateSampler, LogUniformCandidateSampler,
FixedUnigramCandidateSampler, AllCandidateSampler): shapes, ranges, uniqueness,
expected counts, seeds and the distributions they draw from.

Their values cannot equal TensorFlow's (another generator); tests/compat checks
the deterministic parts (expected counts without `unique`) against TensorFlow.
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf

TRUE = np.array([[0, 3], [7, 1], [2, 2]], np.int64)


def _run(*tensors):
    with tf.Session("local") as sess:
        return sess.run(list(tensors))


@pytest.mark.parametrize(
    "sampler",
    ["uniform_candidate_sampler", "log_uniform_candidate_sampler", "fixed_unigram_candidate_sampler"],
)
def test_unique_samples_are_distinct_in_range_with_counts(sampler):
    with tf.Graph().as_default():
        extra = {"unigrams": [5.0, 1, 1, 2, 9, 3, 1, 1, 4, 2]} if sampler.startswith("fixed") else {}
        sampled, true_count, sampled_count = getattr(tf.nn, sampler)(TRUE, 2, 6, True, 10, seed=1, **extra)
        assert sampled.shape.as_list() == [6] and sampled.dtype == tf.int64
        assert true_count.shape.as_list() == [3, 2] and sampled_count.shape.as_list() == [6]
        s, t, c = _run(sampled, true_count, sampled_count)
    assert len(set(s.tolist())) == 6 and s.min() >= 0 and s.max() < 10
    assert t.dtype == np.float32 and np.all((t > 0) & (t <= 1)) and np.all((c > 0) & (c <= 1))


def test_log_uniform_expected_counts_follow_the_distribution():
    with tf.Graph().as_default():
        _, true_count, sampled_count = tf.nn.log_uniform_candidate_sampler(TRUE, 2, 4, False, 100, seed=2)
        t, _ = _run(true_count, sampled_count)
    p = np.log((TRUE + 2.0) / (TRUE + 1.0)) / np.log(101.0)
    np.testing.assert_allclose(t, 4 * p, rtol=1e-6)


def test_unique_expected_count_uses_the_number_of_tries():
    # range 3, sample all 3 uniquely: 1 - (1 - 1/3) ** tries, with tries >= 3
    with tf.Graph().as_default():
        _, true_count, sampled_count = tf.nn.uniform_candidate_sampler(TRUE % 3, 2, 3, True, 3, seed=5)
        t, c = _run(true_count, sampled_count)
    tries = np.log1p(-c[0]) / np.log1p(-1 / 3) if c[0] < 1 else 3
    assert tries >= 3 - 1e-4 and abs(tries - round(tries)) < 1e-3
    np.testing.assert_allclose(t, np.full_like(t, c[0]))


def test_log_uniform_draws_follow_the_distribution():
    with tf.Graph().as_default():
        sampled, _, _ = tf.nn.log_uniform_candidate_sampler(TRUE, 2, 20000, False, 5, seed=3)
        (s,) = _run(sampled)
    freq = np.bincount(s, minlength=5) / len(s)
    p = np.log((np.arange(5) + 2.0) / (np.arange(5) + 1.0)) / np.log(6.0)
    np.testing.assert_allclose(freq, p, atol=0.015)


def test_fixed_unigram_distortion_and_reserved_ids():
    with tf.Graph().as_default():
        sampled, _, sampled_count = tf.nn.fixed_unigram_candidate_sampler(
            TRUE, 2, 20000, False, 4, distortion=0.5, num_reserved_ids=1, unigrams=[1.0, 4.0, 9.0], seed=4
        )
        s, c = _run(sampled, sampled_count)
    freq = np.bincount(s, minlength=4) / len(s)
    p = np.array([0, 1, 2, 3]) / 6.0
    np.testing.assert_allclose(freq, p, atol=0.015)
    np.testing.assert_allclose(c, 20000 * p[s], rtol=1e-5)


def test_fixed_unigram_reads_a_vocab_file(tmp_path):
    vocab = tmp_path / "vocab.csv"
    vocab.write_text("the,0\ncat,5\nsat,5\n")
    with tf.Graph().as_default():
        sampled, _, _ = tf.nn.fixed_unigram_candidate_sampler(
            TRUE % 3, 2, 200, False, 3, vocab_file=str(vocab)
        )
        (s,) = _run(sampled)
    assert set(s.tolist()) <= {1, 2}


def test_all_candidate_sampler():
    with tf.Graph().as_default():
        sampled, true_count, sampled_count = tf.nn.all_candidate_sampler(TRUE, 2, 5, True)
        s, t, c = _run(sampled, true_count, sampled_count)
    np.testing.assert_array_equal(s, np.arange(5))
    assert np.all(t == 1) and np.all(c == 1)


def test_seeded_samplers_replay_across_sessions_and_advance_within_one():
    with tf.Graph().as_default():
        sampled, _, _ = tf.nn.uniform_candidate_sampler(TRUE, 2, 5, True, 1000, seed=9)
        with tf.Session("local") as sess:
            first, second = sess.run(sampled), sess.run(sampled)
        with tf.Session("local") as sess:
            again = sess.run(sampled)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)


def test_sampler_argument_errors():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="num_sampled"):
            tf.nn.uniform_candidate_sampler(TRUE, 2, 11, True, 10)
        with pytest.raises(ValueError, match="num_true=3"):
            tf.nn.uniform_candidate_sampler(TRUE, 3, 2, True, 10)
        with pytest.raises(ValueError, match="exactly one"):
            tf.nn.fixed_unigram_candidate_sampler(TRUE, 2, 2, True, 10)


def test_sampled_softmax_loss_samples_by_default_and_trains():
    rng = np.random.default_rng(0)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        w = tf.Variable(rng.normal(size=(50, 8)).astype(np.float32))
        b = tf.Variable(np.zeros(50, np.float32))
        x = tf.constant(rng.normal(size=(16, 8)).astype(np.float32))
        labels = tf.constant(rng.integers(0, 50, (16, 1)))
        losses = [
            tf.reduce_mean(tf.nn.sampled_softmax_loss(w, b, labels, x, 10, 50)),
            tf.reduce_mean(tf.nn.nce_loss(w, b, labels, x, 10, 50)),
        ]
        step = tf.train.GradientDescentOptimizer(0.5).minimize(tf.add_n(losses))
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            before = sess.run(losses)
            for _ in range(30):
                sess.run(step)
            after = sess.run(losses)
    assert all(np.isfinite(before)) and after[0] < before[0] and after[1] < before[1]
