"""Training utilities, tf.metrics, debugging ops, py_func, distributions, sparse tensors, bfloat16.

Run in-process (`Session("local")`); tests/compat/test_trainmisc_vs_tf.py compares
the same programs with TensorFlow.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import raygraph as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def run(fetches, feed=None):
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.local_variables_initializer())
        return sess.run(fetches, feed)


# -- debugging: Print, print, Assert, assert_*, check_numerics ------------------


def test_print_writes_message_and_summarized_data_to_stderr(capfd):
    x = tf.placeholder(tf.float32, None)
    y = tf.Print(x, [x, "hi", True], message="x: ", summarize=7)
    out = run(y, {x: np.arange(12.0).reshape(3, 4)})
    np.testing.assert_array_equal(out, np.arange(12.0).reshape(3, 4))
    assert capfd.readouterr().err == "x: [[0 1 2 3][4 5 6...]...][hi][1]\n"


def test_print_first_n_counts_runs_of_the_session(capfd):
    x = tf.placeholder(tf.float32, [1])
    y = tf.Print(x, [x], first_n=2)
    with tf.Session("local") as sess:
        for _ in range(4):
            sess.run(y, {x: [1.5]})
    assert capfd.readouterr().err == "[1.5]\n[1.5]\n"


def test_tf_print_formats_like_numpy_to_the_chosen_stream(capfd):
    x = tf.placeholder(tf.int32, None)
    op = tf.print("x:", x, {"k": x}, output_stream=sys.stdout, summarize=1)
    assert isinstance(op, tf.Operation) and op.type == "PrintV2"
    with tf.Session("local") as sess:
        sess.run(op, {x: [[1, 2, 3], [4, 5, 6], [7, 8, 9]]})
        sess.run(tf.constant(0))  # waits for the print run
    assert capfd.readouterr().out == "x: [[1 ... 3]\n ...\n [7 ... 9]] {'k': [[1 ... 3]\n ...\n [7 ... 9]]}\n"


def test_assert_fails_the_run_with_its_data():
    x = tf.placeholder(tf.float32, [None])
    check = tf.Assert(tf.reduce_all(x > 0), ["x must be positive:", x])
    with tf.control_dependencies([check]):
        y = tf.identity(x)
    assert check.type == "Assert" and check.name == "Assert/Assert"
    with tf.Session("local") as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1.0]}), [1.0])
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=r"assertion failed: \[x must be positive:\] \[1 -2 3\.\.\.\]",
        ):
            sess.run(y, {x: [1.0, -2.0, 3.0, 4.0]})


def test_assert_equal_static_and_dynamic():
    with pytest.raises(tf.errors.InvalidArgumentError, match="Condition x == y did not hold element-wise"):
        tf.assert_equal(1, 2)
    x = tf.placeholder(tf.int32, [None], name="x")
    with tf.control_dependencies([tf.assert_equal(x, [1, 2, 3], message="shapes")]):
        y = tf.identity(x)
    with tf.Session("local") as sess:
        sess.run(y, {x: [1, 2, 3]})
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"\[shapes\] \[Condition x == y did not hold"
        ):
            sess.run(y, {x: [1, 2, 4]})


@pytest.mark.parametrize(
    "check, good, bad",
    [
        (lambda x: tf.assert_less(x, 3), [1, 2], [1, 3]),
        (lambda x: tf.assert_less_equal(x, 3), [1, 3], [4]),
        (lambda x: tf.assert_greater(x, 0), [1], [0]),
        (lambda x: tf.debugging.assert_greater_equal(x, 0), [0], [-1]),
        (lambda x: tf.assert_positive(x), [1], [0]),
        (lambda x: tf.assert_non_negative(x), [0], [-1]),
        (lambda x: tf.assert_negative(x), [-1], [0]),
    ],
)
def test_comparison_asserts(check, good, bad):
    x = tf.placeholder(tf.int32, [None])
    with tf.control_dependencies([check(x)]):
        y = tf.identity(x)
    with tf.Session("local") as sess:
        sess.run(y, {x: good})
        with pytest.raises(tf.errors.InvalidArgumentError, match="assertion failed"):
            sess.run(y, {x: bad})


def test_assert_rank_and_type():
    with pytest.raises(ValueError, match="must have rank 2"):
        tf.assert_rank(tf.zeros([3]), 2)
    with pytest.raises(TypeError, match="must be of type"):
        tf.assert_type(tf.zeros([3]), tf.int32)
    x = tf.placeholder(tf.float32)
    with tf.control_dependencies([tf.assert_rank(x, 1)]):
        y = tf.identity(x)
    with tf.Session("local") as sess:
        sess.run(y, {x: [1.0]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="must have rank"):
            sess.run(y, {x: [[1.0]]})


def test_check_numerics_and_its_gradient():
    x = tf.placeholder(tf.float32, [2])
    y = tf.check_numerics(x, "bad x")
    (g,) = tf.gradients(tf.reduce_sum(y * 3.0), x)
    v = tf.verify_tensor_all_finite(x, "x not finite")
    with tf.Session("local") as sess:
        np.testing.assert_array_equal(sess.run(g, {x: [1.0, 2.0]}), [3.0, 3.0])
        with pytest.raises(tf.errors.InvalidArgumentError, match="bad x : Tensor had NaN values"):
            sess.run(y, {x: [1.0, np.nan]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="x not finite : Tensor had Inf values"):
            sess.run(v, {x: [1.0, np.inf]})


# -- variables: is_variable_initialized (IsVariableInitialized), report, assert, make_template --


def test_initialization_checks():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    flag = tf.is_variable_initialized(a)
    report = tf.report_uninitialized_variables()
    check = tf.assert_variables_initialized()
    with tf.Session("local") as sess:
        assert not sess.run(flag)
        assert list(sess.run(report)) == ["a", "b"]
        sess.run(a.initializer)
        assert sess.run(flag)
        assert list(sess.run(report)) == ["b"]
        with pytest.raises(tf.errors.FailedPreconditionError):
            sess.run(check)
        sess.run(b.initializer)
        assert list(sess.run(report)) == []


def test_make_template_shares_variables():
    def scale(x):
        return x * tf.get_variable("w", [], initializer=tf.constant_initializer(2.0))

    t = tf.make_template("net", scale)
    y1, y2 = t(1.0), t(3.0)
    assert [v.name for v in tf.global_variables()] == ["net/w:0"]
    assert [v.name for v in t.trainable_variables] == ["net/w:0"]
    assert run([y1, y2]) == [2.0, 6.0]


# -- clipping and moving averages --------------------------------------------------


def test_clip_functions_match_numpy():
    a = np.array([3.0, 4.0], np.float32)
    b = np.array([[1.0, 2.0], [2.0, 4.0]], np.float32)
    norm = np.sqrt((a**2).sum() + (b**2).sum())
    clipped, gnorm = tf.clip_by_global_norm([tf.constant(a), None, tf.constant(b)], 2.0)
    assert clipped[1] is None
    out = run(
        [
            clipped[0],
            clipped[2],
            gnorm,
            tf.global_norm([a, b]),
            tf.clip_by_norm(a, 1.0),
            tf.clip_by_norm(b, 3.0, axes=[1]),
            tf.clip_by_norm(a, 10.0),
            tf.clip_by_average_norm(a, 1.0),
        ]
    )
    np.testing.assert_allclose(out[0], a * 2.0 / norm, rtol=1e-6)
    np.testing.assert_allclose(out[1], b * 2.0 / norm, rtol=1e-6)
    np.testing.assert_allclose([out[2], out[3]], [norm, norm], rtol=1e-6)
    np.testing.assert_allclose(out[4], a / 5.0, rtol=1e-6)
    row_norms = np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(out[5], b * 3.0 / np.maximum(row_norms, 3.0), rtol=1e-6)
    np.testing.assert_allclose(out[6], a)
    np.testing.assert_allclose(out[7], a * 2.0 / 5.0, rtol=1e-6)


def test_clip_by_norm_gradient_matches_finite_differences():
    x0 = np.array([1.0, -2.0, 0.5], np.float64)
    x = tf.placeholder(tf.float64, [3])
    y = tf.reduce_sum(tf.clip_by_norm(x, 1.0) * [1.0, 2.0, 3.0])
    (g,) = tf.gradients(y, x)
    with tf.Session("local") as sess:
        grad = sess.run(g, {x: x0})
        f = lambda v: sess.run(y, {x: v})  # noqa: E731
        eps = 1e-6
        numeric = [(f(x0 + eps * e) - f(x0 - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5)


def test_exponential_moving_average():
    w = tf.Variable([1.0, 2.0], name="w")
    step = tf.Variable(0, name="step", trainable=False)
    ema = tf.train.ExponentialMovingAverage(0.5)
    update = ema.apply([w])
    shadow = ema.average(w)
    assert (
        shadow.name == "w/ExponentialMovingAverage:0" and ema.average_name(w) == "w/ExponentialMovingAverage"
    )
    assert not shadow.trainable and shadow in tf.global_variables()
    assert tf.get_collection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES) == [w]
    assert ema.variables_to_restore() == {"w/ExponentialMovingAverage": w, "step": step}
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(w.assign([3.0, 4.0]))
        sess.run(update)
        np.testing.assert_allclose(sess.run(shadow), [2.0, 3.0])
        sess.run(update)
        np.testing.assert_allclose(sess.run(shadow), [2.5, 3.5])


def test_exponential_moving_average_num_updates_and_tensors():
    x = tf.placeholder(tf.float32, [])
    value = x * 1.0
    ema = tf.train.ExponentialMovingAverage(0.99, num_updates=tf.constant(0), zero_debias=True)
    update = ema.apply([value])
    avg = ema.average(value)
    assert avg.name == f"{value.op.name}/ExponentialMovingAverage:0"
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(update, {x: 5.0})
        # decay = min(0.99, 1/10) = 0.1; debiased, the first average is the value itself
        np.testing.assert_allclose(sess.run(avg), 5.0, rtol=1e-6)
        sess.run(update, {x: 1.0})
        # biased: 4.5, then 0.1 * 4.5 + 0.9 = 1.35; bias factor 1 - 0.1^2 = 0.99
        np.testing.assert_allclose(sess.run(avg), 1.35 / 0.99, rtol=1e-6)


# -- tf.metrics --------------------------------------------------------------------


def test_metrics_accumulate_in_local_variables():
    labels = tf.placeholder(tf.int64, [None])
    preds = tf.placeholder(tf.int64, [None])
    acc, acc_update = tf.metrics.accuracy(labels, preds)
    mean, mean_update = tf.metrics.mean(tf.cast(preds, tf.float32), weights=tf.cast(labels, tf.float32))
    names = [v.op.name for v in tf.local_variables()]
    assert names == ["accuracy/total", "accuracy/count", "mean/total", "mean/count"]
    assert tf.get_collection(tf.GraphKeys.METRIC_VARIABLES) == tf.local_variables()
    assert acc.name == "accuracy/value:0" and acc_update.name == "accuracy/update_op:0"
    with tf.Session("local") as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(acc_update, {labels: [1, 0, 1], preds: [1, 1, 1]}) == pytest.approx(2 / 3)
        sess.run([acc_update, mean_update], {labels: [0], preds: [0]})
        assert sess.run(acc) == pytest.approx(3 / 4)
        sess.run(tf.local_variables_initializer())
        assert sess.run(acc) == 0.0


def test_precision_recall_auc_errors_and_iou():
    labels = np.array([0, 1, 1, 0, 1], np.int64)
    preds = np.array([0.1, 0.8, 0.3, 0.6, 0.9], np.float32)
    hard = (preds > 0.5).astype(np.int64)
    outs = [
        tf.metrics.precision(labels, hard),
        tf.metrics.recall(labels, hard),
        tf.metrics.true_positives(labels, hard),
        tf.metrics.false_positives(labels, hard),
        tf.metrics.false_negatives(labels, hard),
        tf.metrics.mean_absolute_error(labels, preds),
        tf.metrics.root_mean_squared_error(labels, preds),
        tf.metrics.mean_iou(labels, hard, 2),
        tf.metrics.auc(labels, preds),
    ]
    with tf.Session("local") as sess:
        sess.run(tf.local_variables_initializer())
        sess.run([u for _, u in outs])
        values = sess.run([v for v, _ in outs])
    tp, fp, fn = 2.0, 1.0, 1.0
    expected = [tp / (tp + fp), tp / (tp + fn), tp, fp, fn]
    expected += [np.abs(preds - labels).mean(), np.sqrt(((preds - labels) ** 2).mean())]
    expected += [np.mean([1 / 3, 2 / 4])]  # class 0: 1 / (2 + 2 - 1); class 1: 2 / (3 + 3 - 2)
    np.testing.assert_allclose(values[:8], expected, rtol=1e-5)
    assert values[8] == pytest.approx(5 / 6, abs=1e-3)  # the pairs ranked right: 5 of 6


# -- py_func -------------------------------------------------------------------------


def test_py_func_runs_python_on_the_values():
    x = tf.placeholder(tf.float32, [None])

    def double_and_count(a):
        return (a * 2).astype(np.float32), np.int64(a.size)

    y, n = tf.py_func(double_and_count, [x], [tf.float32, tf.int64])
    z = tf.numpy_function(lambda a: a + 1, [x], tf.float32, stateful=False)
    assert y.op.type == "PyFunc" and z.op.type == "PyFuncStateless" and y.shape.ndims is None
    out = run([y, n, z], {x: [1.0, 2.0]})
    np.testing.assert_array_equal(out[0], [2.0, 4.0])
    assert out[1] == 2
    np.testing.assert_array_equal(out[2], [2.0, 3.0])
    assert tf.gradients(tf.reduce_sum(y), x) == [None]


def test_py_func_errors_name_the_op():
    x = tf.placeholder(tf.float32, [None])
    wrong_dtype = tf.py_func(lambda a: a.astype(np.float64), [x], tf.float32)
    boom = tf.py_func(lambda a: 1 / 0, [x], tf.float32, name="boom")
    bad_value = tf.py_func(lambda a: int("x"), [x], tf.float32)
    with tf.Session("local") as sess:
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match="0-th value returned by pyfunc_.* is float64, but expects float32",
        ):
            sess.run(wrong_dtype, {x: [1.0]})
        with pytest.raises(tf.errors.UnknownError, match="boom.*ZeroDivisionError"):
            sess.run(boom, {x: [1.0]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="ValueError"):
            sess.run(bad_value, {x: [1.0]})


# -- sparse ---------------------------------------------------------------------------


def test_sparse_placeholder_feeds_and_fetches():
    sp = tf.sparse_placeholder(tf.float32, name="sp")
    dense = tf.sparse_tensor_to_dense(sp)
    total = tf.sparse.reduce_sum(sp, axis=1)
    value = tf.SparseTensorValue(
        np.array([[0, 1], [1, 0]]), np.array([3.0, 4.0], np.float32), np.array([2, 3])
    )
    with tf.Session("local") as sess:
        d, t = sess.run([dense, total], {sp: value})
        d2 = sess.run(dense, {sp: ([[1, 2]], [5.0], [2, 3])})
        fetched = sess.run(sp, {sp: value})
    np.testing.assert_array_equal(d, [[0, 3, 0], [4, 0, 0]])
    np.testing.assert_array_equal(t, [3, 4])
    np.testing.assert_array_equal(d2, [[0, 0, 0], [0, 0, 5]])
    assert isinstance(fetched, tf.SparseTensorValue)
    np.testing.assert_array_equal(fetched.values, [3.0, 4.0])


def test_sparse_tensor_retain_and_validation():
    st = tf.SparseTensor([[0, 1], [2, 3]], [1.5, 2.0], [3, 4])
    assert st.shape.as_list() == [3, 4] and st.dtype == tf.float32
    kept = tf.sparse_retain(st, [False, True])
    unordered = tf.sparse.to_dense(tf.SparseTensor([[2, 3], [0, 1]], [1.0, 2.0], [3, 4]))
    with tf.Session("local") as sess:
        out = sess.run(tf.sparse.to_dense(kept))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = \[0,1\] is out of order"):
            sess.run(unordered)
    expected = np.zeros((3, 4), np.float32)
    expected[2, 3] = 2.0
    np.testing.assert_array_equal(out, expected)


def test_indexed_slices_converts_to_dense():
    s = tf.IndexedSlices(tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([2, 0]), tf.constant([3, 2]))
    np.testing.assert_array_equal(run(tf.convert_to_tensor(s)), [[3, 4], [0, 0], [1, 2]])


# -- distributions ------------------------------------------------------------------------


def test_normal_distribution():
    n = tf.distributions.Normal(loc=[0.0, 1.0], scale=2.0)
    other = tf.distributions.Normal(1.0, 1.0)
    out = run(
        [
            n.log_prob(0.5),
            n.prob(0.5),
            n.entropy(),
            n.mean(),
            n.stddev(),
            tf.distributions.kl_divergence(n, other),
        ]
    )
    loc, scale = np.array([0.0, 1.0]), 2.0
    log_prob = -0.5 * ((0.5 - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(out[0], log_prob, rtol=1e-6)
    np.testing.assert_allclose(out[1], np.exp(log_prob), rtol=1e-6)
    np.testing.assert_allclose(out[2], [0.5 * np.log(2 * np.pi * np.e * 4)] * 2, rtol=1e-6)
    np.testing.assert_allclose(out[3], loc)
    np.testing.assert_allclose(out[4], [2.0, 2.0])
    np.testing.assert_allclose(out[5], np.log(1 / 2) + (4 + (loc - 1) ** 2) / 2 - 0.5, rtol=1e-5)


def test_distribution_samples_have_the_right_moments():
    n = tf.distributions.Normal([0.0, 5.0], [1.0, 0.5]).sample(4000, seed=1)
    b = tf.distributions.Bernoulli(probs=[0.2, 0.9]).sample(4000, seed=2)
    c = tf.distributions.Categorical(probs=[0.1, 0.2, 0.7]).sample(4000, seed=3)
    ns, bs, cs = run([n, b, c])
    assert ns.shape == (4000, 2) and bs.shape == (4000, 2) and cs.shape == (4000,)
    np.testing.assert_allclose(ns.mean(0), [0.0, 5.0], atol=0.06)
    np.testing.assert_allclose(ns.std(0), [1.0, 0.5], rtol=0.05)
    np.testing.assert_allclose(bs.mean(0), [0.2, 0.9], atol=0.03)
    np.testing.assert_allclose(np.bincount(cs, minlength=3) / 4000, [0.1, 0.2, 0.7], atol=0.03)


def test_bernoulli_and_categorical_log_prob_and_entropy():
    b = tf.distributions.Bernoulli(logits=[0.0, 2.0])
    c = tf.distributions.Categorical(logits=[[0.0, 1.0, 2.0]])
    out = run([b.log_prob([1, 0]), b.entropy(), c.log_prob([2]), c.entropy()])
    p = 1 / (1 + np.exp(-np.array([0.0, 2.0])))
    np.testing.assert_allclose(out[0], [np.log(p[0]), np.log(1 - p[1])], rtol=1e-6)
    np.testing.assert_allclose(out[1], -(p * np.log(p) + (1 - p) * np.log(1 - p)), rtol=1e-6)
    q = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(out[2], [np.log(q[2])], rtol=1e-6)
    np.testing.assert_allclose(out[3], [-(q * np.log(q)).sum()], rtol=1e-6)


# -- bfloat16 and old names ---------------------------------------------------------------------


def test_bfloat16_casts():
    x = tf.placeholder(tf.float32, [2])
    b = tf.to_bfloat16(x)
    assert b.dtype == tf.bfloat16 and tf.bfloat16.is_floating and tf.as_dtype("bfloat16") is tf.bfloat16
    back = tf.cast(b, tf.float32)
    out_b, out = run([b, back], {x: [1.3, 2.0]})
    assert out_b.dtype == tf.bfloat16.as_numpy_dtype
    np.testing.assert_array_equal(out, [1.296875, 2.0])


def test_pre_1_0_names():
    a, b = tf.constant([1, 2]), tf.constant([3, 4])
    out = run([tf.pack([a, b]), tf.concat_v2([a, b], 0), tf.unpack(b)[1], tf.sub(b, a)])
    np.testing.assert_array_equal(out[0], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(out[1], [1, 2, 3, 4])
    assert out[2] == 4
    np.testing.assert_array_equal(out[3], [2, 2])
    assert tf.scalar_summary("loss", 1.0).dtype == tf.string
    assert tf.histogram_summary("h", [1.0, 2.0]).dtype == tf.string
    assert tf.train.SummaryWriter is tf.summary.FileWriter
