"""Training utilities, tf.metrics, debugging ops, py_func, sparse and distributions vs tf.compat.v1.

Each program is written once against a `tf` module and built twice, with
raygraph (Session "local") and with TensorFlow's compat.v1 in graph mode; the
fetched values (and gradients, variable names, error messages) must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1
RTOL, ATOL = 2e-5, 2e-6


def both(program, feeds=None, init=True):
    """Runs `program(tf)` -> (fetches, feed builder) on raygraph and TensorFlow; returns both results."""
    results = []
    for tf, session in ((raygraph, lambda: raygraph.Session("local")), (v1, v1.Session)):
        graph = tf.Graph()
        with graph.as_default():
            fetches, feed = program(tf)
            with session() as sess:
                if init:
                    sess.run(tf.global_variables_initializer())
                    sess.run(tf.local_variables_initializer())
                results.append(feed(sess, fetches) if callable(feed) else sess.run(fetches, feed))
    return results


def assert_close(ours, theirs):
    if isinstance(ours, list | tuple):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_close(a, b)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 2, size=[3, 16]).astype(np.int64)
SCORES = RNG.uniform(0, 1, size=[3, 16]).astype(np.float32)
WEIGHTS = RNG.uniform(0, 2, size=[3, 16]).astype(np.float32)


def test_metrics_match():
    def program(tf):
        labels = tf.placeholder(tf.int64, [None])
        scores = tf.placeholder(tf.float32, [None])
        weights = tf.placeholder(tf.float32, [None])
        hard = tf.cast(scores > 0.5, tf.int64)
        metrics = [
            tf.metrics.accuracy(labels, hard),
            tf.metrics.accuracy(labels, hard, weights=weights),
            tf.metrics.mean(scores, weights=weights),
            tf.metrics.auc(labels, scores),
            tf.metrics.auc(labels, scores, weights=weights, num_thresholds=50),
            tf.metrics.auc(labels, scores, curve="PR"),
            tf.metrics.precision(labels, hard),
            tf.metrics.recall(labels, hard, weights=weights),
            tf.metrics.root_mean_squared_error(tf.cast(labels, tf.float32), scores),
            tf.metrics.mean_absolute_error(tf.cast(labels, tf.float32), scores, weights=weights),
            tf.metrics.mean_iou(labels, hard, 2),
            tf.metrics.false_negatives(labels, hard),
        ]

        def feed(sess, _):
            updates = []
            for i in range(3):
                f = {labels: LABELS[i], scores: SCORES[i], weights: WEIGHTS[i]}
                updates.append(sess.run([u for _, u in metrics[:-2]], f))
            names = sorted(v.op.name for v in tf.local_variables())
            return updates, sess.run([m for m, _ in metrics]), names

        return metrics, feed

    (ours_updates, ours, our_names), (tf_updates, theirs, tf_names) = both(program)
    assert_close(ours_updates, tf_updates)
    assert_close(ours, theirs)
    assert our_names == tf_names


def test_clipping_and_its_gradients_match():
    a0 = RNG.normal(size=[3, 4]).astype(np.float32)
    b0 = RNG.normal(size=[4]).astype(np.float32)

    def program(tf):
        a = tf.Variable(a0, name="a")
        b = tf.Variable(b0, name="b")
        loss = tf.reduce_sum(a * a * 3.0) + tf.reduce_sum(b)
        grads = tf.gradients(loss, [a, b])
        clipped, norm = tf.clip_by_global_norm(grads + [None], 2.0)
        by_norm = tf.clip_by_norm(a, 1.5, axes=[1])
        avg = tf.clip_by_average_norm(a, 0.1)
        d = tf.gradients(tf.reduce_sum(by_norm * a0) + tf.reduce_sum(avg) + norm, [a])
        return [clipped[:2], norm, tf.global_norm([a, b]), by_norm, avg, d], None

    ours, theirs = both(program)
    assert_close(ours, theirs)


def test_exponential_moving_average_matches():
    def program(tf):
        w = tf.Variable([1.0, 2.0], name="w")
        b = tf.Variable(0.5, name="b")
        step = tf.Variable(3, name="step", trainable=False)
        ema = tf.train.ExponentialMovingAverage(0.9, num_updates=step)
        update = ema.apply([w, b])
        move = tf.group(w.assign_add([1.0, -1.0]), b.assign(b * 2.0))

        def feed(sess, _):
            values = []
            for _ in range(3):
                sess.run(move)
                sess.run(update)
                values.append(sess.run([ema.average(w), ema.average(b)]))
            names = sorted(ema.variables_to_restore())
            return values, names, ema.average_name(w), [v.op.name for v in tf.global_variables()]

        return None, feed

    ours, theirs = both(program)
    assert_close(ours[0], theirs[0])
    assert ours[1:] == theirs[1:]


def test_print_and_assert_messages_match(capfd):
    def program(tf):
        x = tf.placeholder(tf.float32, None, name="x")
        y = tf.Print(x, [x, "tag", tf.constant([True, False])], message="x: ", summarize=5)
        check = tf.assert_less(x, 10.0, message="too big")
        with tf.control_dependencies([check]):
            z = tf.identity(y)

        def feed(sess, _):
            sess.run(z, {x: np.arange(8.0).reshape(2, 4) / 4})
            printed = capfd.readouterr().err.splitlines()[-1]
            try:
                sess.run(z, {x: [[1.0, 12.0, 2.0, 3.0, 4.0]]})
            except tf.errors.InvalidArgumentError as e:
                message = e.message
            return printed, message

        return None, feed

    (our_print, our_error), (tf_print, tf_error) = both(program, init=False)
    assert our_print == tf_print
    our_failure = our_error[our_error.index("assertion failed") :].split("\n")[0]
    tf_failure = tf_error[tf_error.index("assertion failed") :].split("\n")[0]
    assert our_failure == tf_failure


def test_static_assert_errors_match():
    for tf in (raygraph, v1):
        with tf.Graph().as_default():
            with pytest.raises(tf.errors.InvalidArgumentError) as info:
                tf.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]), name="eq")
            with pytest.raises(ValueError, match="must have rank 2"):
                tf.assert_rank(tf.constant([1.0]), 2)
        if tf is raygraph:
            ours = info.value.message
    assert ours == info.value.message


def test_check_numerics_message_and_gradient_match():
    def program(tf):
        x = tf.placeholder(tf.float32, [3])
        y = tf.check_numerics(x * 2.0, "bad")
        g = tf.gradients(tf.reduce_sum(y * y), x)

        def feed(sess, _):
            grad = sess.run(g, {x: [1.0, 2.0, 3.0]})
            try:
                sess.run(y, {x: [1.0, np.inf, 0.0]})
            except tf.errors.InvalidArgumentError as e:
                return grad, e.message

        return None, feed

    (our_grad, ours), (tf_grad, theirs) = both(program, init=False)
    assert_close(our_grad, tf_grad)
    assert "bad : Tensor had Inf values" in ours and "bad : Tensor had Inf values" in theirs


def test_py_func_matches():
    def program(tf):
        x = tf.placeholder(tf.float32, [None])
        y, n = tf.py_func(lambda a: (np.sort(a), np.int64(a.size)), [x], [tf.float32, tf.int64])
        z = tf.py_func(lambda a: a[::-1].copy(), [y], tf.float32, stateful=False) * 2.0
        return [y, n, z], {x: [3.0, 1.0, 2.0]}

    ours, theirs = both(program, init=False)
    assert_close(ours, theirs)


def test_sparse_matches():
    value = (np.array([[0, 1], [1, 0], [2, 3]]), np.array([3.0, 4.0, 5.0], np.float32), np.array([3, 4]))

    def program(tf):
        sp = tf.sparse_placeholder(tf.float32)
        st = tf.SparseTensor([[0, 0], [1, 2]], [1.0, 2.0], [2, 3])
        retained = tf.sparse_retain(sp, [True, False, True])
        return [
            tf.sparse_tensor_to_dense(sp),
            tf.sparse.reduce_sum(sp, 1),
            tf.sparse.reduce_sum(sp),
            tf.sparse.to_dense(st),
            tf.sparse.to_dense(retained),
            tf.sparse_to_dense([1, 3], [5], 2.0, -1.0),
        ], {sp: value}

    ours, theirs = both(program, init=False)
    assert_close(ours, theirs)


def test_normal_distribution_matches_with_gradients():
    def program(tf):
        loc = tf.Variable([0.0, 1.0, -2.0], name="loc")
        scale = tf.Variable([1.0, 0.5, 2.0], name="scale")
        n = tf.distributions.Normal(loc=loc, scale=scale)
        m = tf.distributions.Normal(loc=0.5, scale=1.5)
        x = tf.constant([0.3, 1.2, -1.0])
        values = [n.log_prob(x), n.prob(x), n.entropy(), n.mean(), n.stddev(), n.cdf(x)]
        kl = tf.distributions.kl_divergence(n, m)
        objective = tf.reduce_sum(values[0]) + tf.reduce_sum(kl)
        b = tf.distributions.Bernoulli(logits=loc)
        c = tf.distributions.Categorical(logits=tf.stack([loc, scale]))
        more = [b.log_prob([1, 0, 1]), b.entropy(), b.mean(), c.log_prob([2, 0]), c.entropy()]
        return values + [kl] + more + tf.gradients(objective, [loc, scale]), None

    ours, theirs = both(program)
    assert_close(ours, theirs)


def test_bfloat16_cast_matches():
    def program(tf):
        x = tf.placeholder(tf.float32, [4])
        b = tf.to_bfloat16(x)
        return [tf.cast(b, tf.float32), tf.cast(tf.cast(x, tf.bfloat16), tf.float64)], {
            x: [1.3, -2.7, 1e-3, 3e5]
        }

    ours, theirs = both(program, init=False)
    assert_close(ours, theirs)
