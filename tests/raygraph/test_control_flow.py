"""tf.cond, tf.case, tf.while_loop, map_fn, scan, folds and TensorArray, in-process ("local").

Gradients of every differentiable construct are checked against central finite
differences of the same program evaluated with numpy.

The ops these build (tests/ops/cases_control_flow.py): If and IfGrad (tf.cond),
While and WhileGrad (tf.while_loop), EmptyTensorList; TensorArrayV3,
TensorArrayReadV3, TensorArrayWriteV3, TensorArrayGatherV3, TensorArrayScatterV3,
TensorArrayStackV3, TensorArrayConcatV3, TensorArraySplitV3, TensorArraySizeV3 and
their gradients TensorArrayReadGrad, TensorArrayWriteGrad, TensorArrayGatherGrad,
TensorArrayScatterGrad, TensorArrayFromRows, TensorArraySplitGrad,
TensorArrayConcatGrad.
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf


def run(fetches, feed=None, init=True):
    with tf.Session("local") as sess:
        if init:
            sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def numeric_grad(f, x, eps=1e-5):
    x = np.asarray(x, np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        d = np.zeros_like(x)
        d[idx] = eps
        g[idx] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


# -- cond ------------------------------------------------------------------------------


def test_cond_runs_only_the_taken_branch():
    with tf.Graph().as_default():
        p = tf.placeholder(tf.bool, [])
        v = tf.Variable(0)
        out = tf.cond(p, lambda: tf.assign_add(v, 1), lambda: tf.assign_add(v, 100))
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run(out, {p: True}) == 1
            assert sess.run(out, {p: True}) == 2
            assert sess.run(out, {p: False}) == 102
            assert sess.run(v) == 102


def test_cond_ops_belong_to_their_branch():
    with tf.Graph().as_default() as g:
        x = tf.constant(2.0)
        made = []

        def branch():
            y = x * 3.0
            made.append(y)
            return y

        out = tf.cond(x > 0, branch, lambda: x)
        assert made[0].graph is not g
        assert made[0].op.name.startswith("cond/")
        assert out.graph is g
        with pytest.raises(ValueError, match="belongs to"):
            g.as_graph_element(made[0])
        assert run(out) == 6.0


def test_cond_structures_and_singletons():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2])
        d = tf.cond(tf.reduce_sum(x) > 0, lambda: {"a": x, "b": (x * 2, 1)}, lambda: {"a": -x, "b": (x, 2)})
        single = tf.cond(x[0] > 0, lambda: [x], lambda: [x * 0])
        strict = tf.cond(x[0] > 0, lambda: [x], lambda: [x * 0], strict=True)
        assert isinstance(single, tf.Tensor) and isinstance(strict, list)
        got = run([d, single], {x: [1.0, 2.0]})
        np.testing.assert_allclose(got[0]["a"], [1, 2])
        np.testing.assert_allclose(got[0]["b"][0], [2, 4])
        assert got[0]["b"][1] == 1
        assert d["a"].shape.as_list() == [2]


def test_cond_errors():
    with tf.Graph().as_default():
        x = tf.constant(1.0)
        with pytest.raises(TypeError, match="callable"):
            tf.cond(x > 0, x, lambda: x)
        with pytest.raises(ValueError, match="same type"):
            tf.cond(x > 0, lambda: x, lambda: tf.constant(1))
        with pytest.raises(ValueError, match="Incompatible return values"):
            tf.cond(x > 0, lambda: (x, x), lambda: x)
        with pytest.raises(TypeError, match="bool"):
            tf.cond(x, lambda: x, lambda: x)


def test_cond_merges_branch_shapes():
    with tf.Graph().as_default():
        p = tf.placeholder(tf.bool, [])
        out = tf.cond(p, lambda: tf.zeros([2, 3]), lambda: tf.zeros([2, 5]))
        assert out.shape.as_list() == [2, None]
        assert run(out, {p: False}).shape == (2, 5)


def test_cond_gradient_matches_finite_differences():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3])
        w = tf.constant([0.5, -1.0, 2.0])
        y = tf.cond(
            tf.reduce_sum(x) > 0, lambda: tf.reduce_sum(tf.sin(x) * w), lambda: tf.reduce_sum(x * x * w)
        )
        (g,) = tf.gradients(y, [x])
        for xv in (np.array([0.3, 0.2, 0.1]), np.array([-0.3, 0.2, -0.4])):
            got = run(g, {x: xv})

            def f(v):
                return np.sum(np.sin(v) * [0.5, -1, 2]) if v.sum() > 0 else np.sum(v * v * [0.5, -1, 2])

            np.testing.assert_allclose(got, numeric_grad(f, xv), rtol=1e-4, atol=1e-5)


def test_case():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, [])
        out = tf.case(
            [(x < 0, lambda: tf.constant(-1)), (x > 0, lambda: tf.constant(1))],
            default=lambda: tf.constant(0),
        )
        with tf.Session("local") as sess:
            assert [sess.run(out, {x: v}) for v in (-5, 0, 7)] == [-1, 0, 1]
        last = tf.case({x < 0: lambda: tf.constant(10), x >= 0: lambda: tf.constant(20)})
        with tf.Session("local") as sess:
            assert sess.run(last, {x: 3}) == 20


# -- while_loop -----------------------------------------------------------------------


def test_while_loop_sums_in_one_run():
    with tf.Graph().as_default():
        n = tf.placeholder(tf.int32, [])
        i, acc = tf.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, a + i), [0, 0])
        assert run([i, acc], {n: 10000}) == [10000, sum(range(10000))]
        assert run([i, acc], {n: 0}) == [0, 0]


def test_while_loop_single_var_and_return_structures():
    with tf.Graph().as_default():
        r = tf.while_loop(lambda x: x < 100, lambda x: x * 2, [1])
        assert isinstance(r, tf.Tensor)
        same = tf.while_loop(lambda x: x < 100, lambda x: [x * 2], [1], return_same_structure=True)
        assert isinstance(same, list) and len(same) == 1
        nested = tf.while_loop(
            lambda i, s: i < 3,
            lambda i, s: (i + 1, {"a": s["a"] + 1.0, "b": (s["b"][0] * 2.0,)}),
            (0, {"a": tf.constant(0.0), "b": (tf.constant(1.0),)}),
        )
        assert run(r) == 128
        got = run(nested)
        assert got[0] == 3 and got[1]["a"] == 3.0 and got[1]["b"][0] == 8.0


def test_while_loop_maximum_iterations():
    with tf.Graph().as_default():
        r = tf.while_loop(lambda x: x < 1000, lambda x: x + 1, [0], maximum_iterations=7)
        pair = tf.while_loop(lambda x, y: True, lambda x, y: (x + 1, y * 2), (0, 1), maximum_iterations=5)
        assert run(r) == 7
        assert run(pair) == (5, 32)


def test_while_loop_shape_invariants():
    with tf.Graph().as_default():
        x0 = tf.zeros([1, 2])

        def grow(i, x):
            return i + 1, tf.concat([x, x], 0)

        with pytest.raises(ValueError, match="shape_invariants"):
            tf.while_loop(lambda i, x: i < 3, grow, [0, x0])
        _, x = tf.while_loop(
            lambda i, x: i < 3,
            grow,
            [0, x0],
            shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 2])],
        )
        assert x.shape.as_list() == [None, 2]
        assert run(x).shape == (8, 2)


def test_while_loop_type_and_callable_errors():
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="callable"):
            tf.while_loop(True, lambda x: x, [0])
        with pytest.raises(TypeError, match="after one iteration"):
            tf.while_loop(lambda x: x < 3, lambda x: tf.cast(x, tf.float32), [0])
        with pytest.raises(ValueError, match="boolean scalar"):
            tf.while_loop(lambda x: x, lambda x: x + 1, [0])


def test_while_loop_gradient_matches_finite_differences():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [3])
        w = tf.placeholder(tf.float64, [3])
        _, h = tf.while_loop(lambda i, h: i < 4, lambda i, h: (i + 1, tf.tanh(h * w + 0.1)), [0, x])
        loss = tf.reduce_sum(h * h)
        gx, gw = tf.gradients(loss, [x, w])
        xv, wv = np.array([0.1, -0.2, 0.3]), np.array([1.0, 2.0, -0.5])

        def f(xv, wv):
            h = xv
            for _ in range(4):
                h = np.tanh(h * wv + 0.1)
            return np.sum(h * h)

        got = run([gx, gw], {x: xv, w: wv})
        np.testing.assert_allclose(got[0], numeric_grad(lambda v: f(v, wv), xv), rtol=1e-6)
        np.testing.assert_allclose(got[1], numeric_grad(lambda v: f(xv, v), wv), rtol=1e-6)


def test_while_loop_gradient_with_zero_iterations_and_unused_vars():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2])
        w = tf.constant([2.0, 3.0])
        n = tf.placeholder(tf.int32, [])
        _, h, c = tf.while_loop(
            lambda i, h, c: i < n, lambda i, h, c: (i + 1, h * w, c), [0, x, tf.constant(1.0)]
        )
        gx, gw = tf.gradients(tf.reduce_sum(h), [x, w])
        np.testing.assert_allclose(run(gx, {x: [1, 1], n: 0}), [1, 1])
        np.testing.assert_allclose(run(gw, {x: [1, 1], n: 0}), [0, 0])
        np.testing.assert_allclose(run(gx, {x: [1, 1], n: 2}), [4, 9])
        np.testing.assert_allclose(run(gw, {x: [1, 1], n: 2}), [4, 6])


def test_loop_gradient_of_captured_weights_runs_beside_the_chain(monkeypatch):
    """A captured weight's gradient (x^T @ dy per iteration) is split off the loop's chain
    and summed on the helper thread: the same values as the unsplit gradient, and as
    finite differences."""
    import ops.control_flow as cf

    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [2, 3])
        w = tf.placeholder(tf.float64, [3, 3])
        _, h = tf.while_loop(lambda i, h: i < 5, lambda i, h: (i + 1, tf.tanh(tf.matmul(h, w))), [0, x])
        gx, gw = tf.gradients(tf.reduce_sum(h * h), [x, w])
        (loop_grad,) = [op for op in tf.get_default_graph().get_operations() if op.type == "WhileGrad"]
        _, captures_part = loop_grad.attrs["split"]
        assert [t.op.type for t in captures_part.outputs] == ["MatMul"]  # x^T @ dy, per iteration
        rng = np.random.default_rng(0)
        xv, wv = rng.standard_normal((2, 3)) * 0.5, rng.standard_normal((3, 3)) * 0.5

        def f(xv, wv):
            h = xv
            for _ in range(5):
                h = np.tanh(h @ wv)
            return np.sum(h * h)

        split = run([gx, gw], {x: xv, w: wv})
        monkeypatch.setattr(cf, "_helper", lambda ctx: None)
        unsplit = run([gx, gw], {x: xv, w: wv})
        np.testing.assert_array_equal(split[1], unsplit[1])
        np.testing.assert_array_equal(split[0], unsplit[0])
        np.testing.assert_allclose(split[1], numeric_grad(lambda v: f(xv, v), wv), rtol=1e-6)


def test_loop_gradient_with_a_stateful_captures_part_is_not_split(monkeypatch):
    import ops.control_flow as cf
    from ops import registry

    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3])
        w = tf.placeholder(tf.float32, [3])
        _, h = tf.while_loop(lambda i, h: i < 3, lambda i, h: (i + 1, h * w), [0, x])
        tf.gradients(tf.reduce_sum(h), [x, w])
        ops = tf.get_default_graph().get_operations()
        (loop_grad,) = [op for op in ops if op.type == "WhileGrad"]
        (loop,) = [op for op in ops if op.type == "While"]
        assert loop_grad.attrs["split"] is not None
        # as if w's gradient (a Mul) had an effect that must keep its place in the chain
        monkeypatch.setattr(registry.get("Mul"), "stateful", True)
        assert cf._capture_split(loop.attrs["body"], 1) is None


def test_while_loop_back_prop_false_has_no_gradient():
    with tf.Graph().as_default():
        x = tf.constant(1.0)
        r = tf.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, [x], back_prop=False)
        assert tf.gradients(r, [x]) == [None]


def test_nested_loops_and_cond_in_loop_with_gradients():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [])

        def outer(i, v):
            inner = tf.while_loop(lambda j, u: j < 3, lambda j, u: (j + 1, u * 1.1 + tf.sin(u)), [0, v])[1]
            return i + 1, tf.cond(inner > 1.0, lambda: inner * 0.5, lambda: inner + x)

        _, out = tf.while_loop(lambda i, v: i < 3, outer, [0, x])
        (g,) = tf.gradients(out, [x])

        def f(xv):
            v = xv
            for _ in range(3):
                u = v
                for _ in range(3):
                    u = u * 1.1 + np.sin(u)
                v = u * 0.5 if u > 1.0 else u + xv
            return v

        for xv in (0.05, 0.7):
            got = run([out, g], {x: xv})
            assert got[0] == pytest.approx(f(xv))
            assert got[1] == pytest.approx(numeric_grad(lambda a: f(float(a)), np.array(xv)), rel=1e-5)


def test_variables_made_inside_a_loop_body_live_in_the_outer_graph():
    with tf.Graph().as_default() as g:
        x = tf.ones([2, 3])

        def body(i, h):
            with tf.variable_scope("cell", reuse=tf.AUTO_REUSE):
                w = tf.get_variable("w", [3, 3], initializer=tf.ones_initializer())
            return i + 1, tf.matmul(h, w)

        with tf.variable_scope("rnn"):
            _, h = tf.while_loop(lambda i, h: i < 2, body, [0, x])
        names = [v.name for v in tf.global_variables()]
        assert names == ["rnn/cell/w:0"]
        assert tf.global_variables()[0].graph is g
        (gw,) = tf.gradients(tf.reduce_sum(h), tf.trainable_variables())
        got = run([h, gw])
        np.testing.assert_allclose(got[0], np.full((2, 3), 9.0))
        assert got[1].shape == (3, 3)


def test_an_error_inside_the_body_names_the_node():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None])
        y = tf.placeholder(tf.float32, [None])
        r = tf.while_loop(lambda i, v: i < 2, lambda i, v: (i + 1, v + y), [0, x])
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"while/AddV2"):
            run(r, {x: np.zeros(3), y: np.zeros(4)})


# -- map_fn, scan, folds ----------------------------------------------------------------


def test_map_fn_scan_and_folds():
    rng = np.random.default_rng(0)
    xv = rng.normal(size=(5, 3)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [5, 3])
        sq = tf.map_fn(lambda r: tf.reduce_sum(r * r), x)
        pair = tf.map_fn(lambda r: (r * 2.0, tf.reduce_max(r)), x, dtype=(tf.float32, tf.float32))
        cs = tf.scan(lambda a, r: a + r, x)
        rs = tf.scan(lambda a, r: a * r, x, initializer=tf.ones([3]), reverse=True)
        fl = tf.foldl(lambda a, r: a * 0.5 + r, x, initializer=tf.zeros([3]))
        fr = tf.foldr(lambda a, r: a * 0.5 + r, x)
        assert sq.shape.as_list() == [5] and cs.shape.as_list() == [5, 3]
        got = run([sq, pair, cs, rs, fl, fr], {x: xv})
    np.testing.assert_allclose(got[0], (xv**2).sum(1), rtol=1e-6)
    np.testing.assert_allclose(got[1][0], xv * 2)
    np.testing.assert_allclose(got[1][1], xv.max(1))
    np.testing.assert_allclose(got[2], np.cumsum(xv, 0), rtol=1e-6)
    np.testing.assert_allclose(got[3], np.cumprod(xv[::-1], 0)[::-1], rtol=1e-5)
    a = np.zeros(3)
    for row in xv:
        a = a * 0.5 + row
    np.testing.assert_allclose(got[4], a, rtol=1e-6)
    a = xv[-1]
    for row in xv[-2::-1]:
        a = a * 0.5 + row
    np.testing.assert_allclose(got[5], a, rtol=1e-6)


def test_map_fn_and_scan_gradients():
    xv = np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]])
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [3, 2])
        m = tf.reduce_sum(tf.map_fn(lambda r: tf.sin(r) * r, x))
        s = tf.reduce_sum(tf.scan(lambda a, r: a * r + 1.0, x))
        gm, gs = tf.gradients(m, x)[0], tf.gradients(s, x)[0]
        got = run([gm, gs], {x: xv})

    def scan_f(v):
        a, total = v[0], v[0].sum()
        for r in v[1:]:
            a = a * r + 1.0
            total += a.sum()
        return total

    np.testing.assert_allclose(got[0], numeric_grad(lambda v: np.sum(np.sin(v) * v), xv), rtol=1e-6)
    np.testing.assert_allclose(got[1], numeric_grad(scan_f, xv), rtol=1e-6)


# -- TensorArray -------------------------------------------------------------------------


def test_tensor_array_ops():
    with tf.Graph().as_default():
        ta = tf.TensorArray(tf.float32, size=3)
        ta = ta.write(0, [1.0, 2.0]).write(1, [3.0, 4.0]).write(2, [5.0, 6.0])
        assert ta.element_shape.as_list() == [2]
        stacked, gathered, read, size = ta.stack(), ta.gather([2, 0]), ta.read(1), ta.size()
        assert stacked.shape.as_list() == [3, 2] and read.shape.as_list() == [2]
        sp = tf.TensorArray(tf.float32, size=2).split(tf.constant([1.0, 2.0, 3.0]), [1, 2])
        got = run([stacked, gathered, read, size, sp.concat(), sp.read(1)])
    np.testing.assert_allclose(got[0], [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_allclose(got[1], [[5, 6], [1, 2]])
    np.testing.assert_allclose(got[2], [3, 4])
    assert got[3] == 3
    np.testing.assert_allclose(got[4], [1, 2, 3])
    np.testing.assert_allclose(got[5], [2, 3])


def test_tensor_array_errors():
    with tf.Graph().as_default():
        ta = tf.TensorArray(tf.float32, size=2)
        twice = ta.write(0, 1.0).write(0, 2.0).stack()
        out_of_range = ta.write(5, 1.0).stack()
        unread = ta.write(0, 1.0).read(1)
        with pytest.raises(tf.errors.InvalidArgumentError, match="already been written"):
            run(twice)
        with pytest.raises(tf.errors.InvalidArgumentError, match="not resizeable and size is: 2"):
            run(out_of_range)
        with pytest.raises(tf.errors.InvalidArgumentError, match="not yet been written"):
            run(unread)
        with pytest.raises(TypeError, match="dtype"):
            ta.write(0, tf.constant(1))
        grown = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
        grown = tf.while_loop(lambda i, t: i < 4, lambda i, t: (i + 1, t.write(i, i * i)), [0, grown])[1]
        np.testing.assert_array_equal(run(grown.stack()), [0, 1, 4, 9])


def test_tensor_array_gradients_through_a_loop():
    rng = np.random.default_rng(1)
    xv, wv = rng.normal(size=(4, 3)), rng.normal(size=(3, 3)) * 0.5
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [4, 3])
        w = tf.placeholder(tf.float64, [3, 3])
        inputs = tf.TensorArray(tf.float64, size=4).unstack(x)
        outputs = tf.TensorArray(tf.float64, size=4)

        def body(t, h, out):
            h = tf.tanh(tf.matmul(tf.expand_dims(inputs.read(t), 0), w) + h)
            return t + 1, h, out.write(t, tf.squeeze(h, 0))

        _, _, outputs = tf.while_loop(lambda t, h, o: t < 4, body, [0, tf.zeros([1, 3], tf.float64), outputs])
        loss = tf.reduce_sum(tf.square(outputs.stack()))
        gx, gw = tf.gradients(loss, [x, w])
        got = run([loss, gx, gw], {x: xv, w: wv})

    def f(xv, wv):
        h, total = np.zeros((1, 3)), 0.0
        for t in range(4):
            h = np.tanh(xv[t : t + 1] @ wv + h)
            total += np.sum(h * h)
        return total

    assert got[0] == pytest.approx(f(xv, wv))
    np.testing.assert_allclose(got[1], numeric_grad(lambda v: f(v, wv), xv), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got[2], numeric_grad(lambda v: f(xv, v), wv), rtol=1e-6, atol=1e-9)


def test_tuple_gates_its_tensors():
    with tf.Graph().as_default():
        v = tf.Variable(0.0)
        a, b = tf.tuple([tf.constant(1.0), tf.assign_add(v, 1.0).op])
        assert isinstance(a, tf.Tensor)
        got = run(a)
        assert got == 1.0


def test_case_exclusive_fails_when_two_predicates_hold():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.int32, [])
        out = tf.case(
            [(x > 0, lambda: tf.constant(1)), (x > 5, lambda: tf.constant(2))],
            default=lambda: tf.constant(0),
            exclusive=True,
        )
        with tf.Session("local") as sess:
            assert [sess.run(out, {x: v}) for v in (3, -1)] == [1, 0]
            with pytest.raises(tf.errors.InvalidArgumentError, match="More than one condition"):
                sess.run(out, {x: 7})


def test_fold_and_case_gradients_match_finite_differences():
    xv = np.array([[0.3, -0.2], [0.5, 0.1], [-0.4, 0.6]])
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [3, 2])
        fl = tf.reduce_sum(tf.foldl(lambda a, r: a * tf.cos(r) + r, x))
        fr = tf.reduce_sum(tf.foldr(lambda a, r: a * r + 1.0, x, initializer=tf.ones([2], tf.float64)))
        s = tf.reduce_sum(x)
        cs = tf.case(
            [(s > 10.0, lambda: tf.reduce_sum(x * x)), (s > 0.0, lambda: tf.reduce_sum(tf.exp(x)))],
            default=lambda: s,
        )
        grads = [tf.gradients(y, x)[0] for y in (fl, fr, cs)]
        got = run(grads, {x: xv})

    def foldl(v):
        a = v[0]
        for r in v[1:]:
            a = a * np.cos(r) + r
        return a.sum()

    def foldr(v):
        a = np.ones(2)
        for r in v[::-1]:
            a = a * r + 1.0
        return a.sum()

    def case(v):
        total = v.sum()
        return np.sum(v * v) if total > 10 else np.sum(np.exp(v)) if total > 0 else total

    for g, f in zip(got, (foldl, foldr, case)):
        np.testing.assert_allclose(g, numeric_grad(f, xv), rtol=1e-6, atol=1e-9)
