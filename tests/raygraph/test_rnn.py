"""tf.nn.rnn_cell and tf.nn.dynamic_rnn / static_rnn / bidirectional_dynamic_rnn, on the local target."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf

rc = tf.nn.rnn_cell
rng = np.random.default_rng(0)


def run(fetches, feed=None):
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def names():
    return [v.name for v in tf.global_variables()]


# -- cells ----------------------------------------------------------------------------------


def test_cell_sizes_and_zero_state():
    lstm = rc.LSTMCell(8, num_proj=3)
    assert lstm.state_size == rc.LSTMStateTuple(8, 3) and lstm.output_size == 3
    multi = rc.MultiRNNCell([rc.BasicLSTMCell(4), rc.GRUCell(5)])
    assert multi.state_size == (rc.LSTMStateTuple(4, 4), 5) and multi.output_size == 5
    state = multi.zero_state(7, tf.float32)
    assert state[0].c.shape.as_list() == [7, 4] and state[1].shape.as_list() == [7, 5]
    batch = tf.placeholder(tf.int32, [])
    dynamic = rc.BasicLSTMCell(4, state_is_tuple=False).zero_state(batch, tf.float32)
    assert dynamic.shape.as_list() == [None, 8]
    assert run(dynamic, {batch: 2}).shape == (2, 8)


def test_cell_call_creates_variables_once_with_tensorflow_names():
    x = tf.placeholder(tf.float32, [2, 3])
    cell = rc.BasicLSTMCell(4)
    state = cell.zero_state(2, tf.float32)
    with tf.variable_scope("rnn"):
        out, state = cell(x, state)
        out, state = cell(x, state)  # the same variables
    assert names() == ["rnn/basic_lstm_cell/kernel:0", "rnn/basic_lstm_cell/bias:0"]
    assert cell.variables[0].shape.as_list() == [7, 16]
    gru = rc.GRUCell(3)
    gru(x, gru.zero_state(2, tf.float32), scope="my_gru")
    assert names()[2:] == [
        "my_gru/gates/kernel:0",
        "my_gru/gates/bias:0",
        "my_gru/candidate/kernel:0",
        "my_gru/candidate/bias:0",
    ]


def test_basic_rnn_cell_computes_tanh_of_affine_map():
    x = tf.placeholder(tf.float32, [2, 3])
    h = tf.placeholder(tf.float32, [2, 4])
    cell = rc.BasicRNNCell(4)
    out, new = cell(x, h)
    xv, hv = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(2, 4)).astype(np.float32)
    got_out, got_new, kernel, bias = run([out, new, *cell.variables], {x: xv, h: hv})
    expected = np.tanh(np.concatenate([xv, hv], 1) @ kernel + bias)
    np.testing.assert_allclose(got_out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_new, expected, rtol=1e-5, atol=1e-6)


def test_basic_lstm_cell_gates_in_tensorflow_order():
    x = tf.placeholder(tf.float32, [2, 3])
    cell = rc.BasicLSTMCell(4, forget_bias=0.7)
    c0 = tf.constant(rng.normal(size=(2, 4)).astype(np.float32))
    h0 = tf.constant(rng.normal(size=(2, 4)).astype(np.float32))
    out, (c, h) = cell(x, rc.LSTMStateTuple(c0, h0))
    xv = rng.normal(size=(2, 3)).astype(np.float32)
    got = run([out, c, h, c0, h0, *cell.variables], {x: xv})
    out_v, c_v, h_v, c0_v, h0_v, kernel, bias = got
    z = np.concatenate([xv, h0_v], 1) @ kernel + bias
    i, j, f, o = np.split(z, 4, axis=1)

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    new_c = c0_v * sigmoid(f + 0.7) + sigmoid(i) * np.tanh(j)
    np.testing.assert_allclose(c_v, new_c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_v, np.tanh(new_c) * sigmoid(o), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_v, h_v)


def test_cell_errors():
    cell = rc.BasicLSTMCell(4)
    with pytest.raises(ValueError, match="inputs.shape\\[-1\\] to be known"):
        cell(tf.placeholder(tf.float32, [2, None]), cell.zero_state(2, tf.float32))
    with pytest.raises(ValueError, match="expected ndim=2"):
        rc.GRUCell(3)(tf.placeholder(tf.float32, [2, 3, 4]), tf.zeros([2, 3]))
    with pytest.raises(ValueError, match="only supports floating point"):
        rc.BasicRNNCell(3)(tf.placeholder(tf.int32, [2, 3]), tf.zeros([2, 3], tf.int32))
    with pytest.raises(ValueError, match="at least one cell"):
        rc.MultiRNNCell([])
    with pytest.raises(TypeError, match="is not an RNNCell"):
        tf.nn.dynamic_rnn(lambda x, s: (x, s), tf.zeros([2, 3, 4]), dtype=tf.float32)


# -- dynamic_rnn ----------------------------------------------------------------------------


def test_dynamic_rnn_shapes_names_and_time_major():
    x = tf.placeholder(tf.float32, [None, 6, 3])
    cell = rc.MultiRNNCell([rc.BasicLSTMCell(5), rc.GRUCell(4)])
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    assert outputs.shape.as_list() == [None, 6, 4]
    assert state[0].h.shape.as_list() == [None, 5] and state[1].shape.as_list() == [None, 4]
    assert names() == [
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel:0",
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias:0",
        "rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel:0",
        "rnn/multi_rnn_cell/cell_1/gru_cell/gates/bias:0",
        "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel:0",
        "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/bias:0",
    ]
    # the same cell, time major, in another scope, shares nothing but gives the same numbers
    xt = tf.transpose(x, [1, 0, 2])
    outputs_t, state_t = tf.nn.dynamic_rnn(cell, xt, dtype=tf.float32, time_major=True, scope="again")
    assert outputs_t.shape.as_list() == [6, None, 4]
    assert len(names()) == 6  # the cell's variables were made once
    xv = rng.normal(size=(2, 6, 3)).astype(np.float32)
    a, b, sa, sb = run([outputs, outputs_t, state[1], state_t[1]], {x: xv})
    np.testing.assert_allclose(a, b.transpose(1, 0, 2), rtol=1e-6)
    np.testing.assert_allclose(sa, sb, rtol=1e-6)
    np.testing.assert_allclose(a[:, -1], sa, rtol=1e-6)


def test_dynamic_rnn_sequence_length_zeroes_outputs_and_copies_state_through():
    x = tf.placeholder(tf.float32, [3, 5, 2])
    lengths = tf.placeholder(tf.int32, [3])
    cell = rc.BasicLSTMCell(4)
    outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
    full, full_state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32, scope="rnn")
    xv = rng.normal(size=(3, 5, 2)).astype(np.float32)
    got, c, h, every = run([outputs, state.c, state.h, full], {x: xv, lengths: [5, 2, 0]})
    np.testing.assert_allclose(got[0], every[0], rtol=1e-6)
    np.testing.assert_allclose(got[1, :2], every[1, :2], rtol=1e-6)
    assert not got[1, 2:].any() and not got[2].any()
    np.testing.assert_allclose(h[1], every[1, 1], rtol=1e-6)  # the state of the last valid step
    assert not c[2].any() and not h[2].any()  # length 0: the initial state


def test_dynamic_rnn_passes_state_between_calls():
    """Two halves of a sequence, the second starting from the first's final state, equal the whole."""
    x = tf.placeholder(tf.float32, [2, 6, 3])
    cell = rc.LSTMCell(4, use_peepholes=True)
    whole, whole_state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    first, mid = tf.nn.dynamic_rnn(cell, x[:, :3], dtype=tf.float32)
    second, end = tf.nn.dynamic_rnn(cell, x[:, 3:], initial_state=mid)
    xv = rng.normal(size=(2, 6, 3)).astype(np.float32)
    a, b1, b2, sa, sb = run([whole, first, second, whole_state, end], {x: xv})
    np.testing.assert_allclose(a, np.concatenate([b1, b2], 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sa.c, sb.c, rtol=1e-5, atol=1e-6)


def test_dynamic_rnn_needs_dtype_or_initial_state():
    with pytest.raises(ValueError, match="dtype"):
        tf.nn.dynamic_rnn(rc.GRUCell(3), tf.zeros([2, 4, 3]))
    with pytest.raises(ValueError, match="depth of inputs"):
        tf.nn.dynamic_rnn(rc.GRUCell(3), tf.placeholder(tf.float32, [2, 4, None]), dtype=tf.float32)
    with pytest.raises(ValueError, match="sequence_length must be a vector"):
        tf.nn.dynamic_rnn(rc.GRUCell(3), tf.zeros([2, 4, 3]), sequence_length=[[1]], dtype=tf.float32)


def test_dynamic_rnn_gradient_matches_finite_differences():
    x_value = rng.normal(size=(2, 4, 3))
    lengths = np.array([4, 2], np.int32)
    x = tf.placeholder(tf.float64, x_value.shape)
    cell = rc.GRUCell(3)
    outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float64)
    weights = tf.constant(rng.normal(size=(2, 4, 3)))
    loss = tf.reduce_sum(outputs * weights) + tf.reduce_sum(tf.square(state))
    kernel = cell.variables[0]
    grad_x, grad_kernel = tf.gradients(loss, [x, kernel])
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        gx, gk, k0 = sess.run([grad_x, grad_kernel, kernel], {x: x_value})

        def f(xv, kv):
            kernel.load(kv, sess)
            return sess.run(loss, {x: xv})

        eps = 1e-6
        for index in [(0, 0, 0), (0, 3, 2), (1, 1, 1), (1, 3, 0)]:  # (1, 3, 0): past the length, grad 0
            up, down = x_value.copy(), x_value.copy()
            up[index] += eps
            down[index] -= eps
            numeric = (f(up, k0) - f(down, k0)) / (2 * eps)
            np.testing.assert_allclose(gx[index], numeric, rtol=1e-5, atol=1e-8)
        for index in [(0, 0), (2, 1), (5, 5)]:
            up, down = k0.copy(), k0.copy()
            up[index] += eps
            down[index] -= eps
            numeric = (f(x_value, up) - f(x_value, down)) / (2 * eps)
            np.testing.assert_allclose(gk[index], numeric, rtol=1e-5, atol=1e-8)
    assert gx[1, 3].tolist() == [0.0, 0.0, 0.0]


def _body_op_types(fetch):
    """The op types in the bodies of the loops that `fetch` depends on."""
    graph = fetch.graph
    return {op.type for w in graph.get_operations() if w.type == "While" for op in w.attrs["body"].graph._ops}


@pytest.mark.parametrize(
    "make", [lambda **k: rc.BasicLSTMCell(4, **k), lambda **k: rc.LSTMCell(4, num_proj=3, **k)]
)
def test_lstm_cells_update_in_one_op_with_the_unfused_results(make):
    x_value = rng.normal(size=(3, 5, 2)).astype(np.float32)
    results = []
    for activation in (None, lambda z: tf.tanh(z)):  # a lambda is not fused: the plain ops
        with tf.Graph().as_default():
            tf.set_random_seed(3)
            x = tf.constant(x_value)
            outputs, state = tf.nn.dynamic_rnn(make(activation=activation), x, dtype=tf.float32)
            loss = tf.reduce_sum(outputs * outputs) + tf.reduce_sum(state.c)
            assert ("LSTMCellUpdate" in _body_op_types(loss)) == (activation is None)
            results.append(run([outputs, state.c] + tf.gradients(loss, [x] + tf.trainable_variables())))
    fused, plain = results
    for f, p in zip(fused[:2], plain[:2]):  # the forward computes the same ops in the same order
        np.testing.assert_array_equal(f, p)
    for f, p in zip(fused[2:], plain[2:]):
        np.testing.assert_allclose(f, p, rtol=1e-5, atol=1e-6)


def test_lstm_cells_with_peepholes_or_clipping_keep_their_own_ops():
    x = tf.constant(rng.normal(size=(2, 3, 2)).astype(np.float32))
    outputs, _ = tf.nn.dynamic_rnn(rc.LSTMCell(4, use_peepholes=True, cell_clip=1.0), x, dtype=tf.float32)
    assert "LSTMCellUpdate" not in _body_op_types(outputs)


@pytest.mark.parametrize("make", [lambda: rc.BasicLSTMCell(3), lambda: rc.LSTMCell(3, num_proj=2)])
def test_fused_lstm_gradient_matches_finite_differences(make):
    x_value = rng.normal(size=(2, 4, 3))
    x = tf.placeholder(tf.float64, x_value.shape)
    cell = make()
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64)
    loss = tf.reduce_sum(outputs * tf.constant(rng.normal(size=outputs.shape.as_list()))) + tf.reduce_sum(
        tf.square(state.c)
    )
    kernel, bias = cell.variables[:2]
    grads = tf.gradients(loss, [x, kernel, bias])
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(bias.assign(rng.normal(size=bias.shape.as_list())))
        gx, gk, gb = sess.run(grads, {x: x_value})
        k0, b0 = sess.run([kernel, bias])

        def f(xv, kv, bv):
            kernel.load(kv, sess)
            bias.load(bv, sess)
            return sess.run(loss, {x: xv})

        eps = 1e-6
        for value, grad, which in [(x_value, gx, 0), (k0, gk, 1), (b0, gb, 2)]:
            for index in list(np.ndindex(value.shape))[:: max(1, value.size // 5)]:
                args = [x_value, k0, b0]
                up, down = value.copy(), value.copy()
                up[index] += eps
                down[index] -= eps
                numeric = (
                    f(*args[:which], up, *args[which + 1 :]) - f(*args[:which], down, *args[which + 1 :])
                ) / (2 * eps)
                np.testing.assert_allclose(grad[index], numeric, rtol=1e-5, atol=1e-8)


_LOOP_INPUT = rng.normal(size=(3, 7, 2)).astype(np.float32)


def _loop_weight_grads(cell_fn):
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(5)
        x = tf.constant(_LOOP_INPUT)
        outputs, _ = tf.nn.dynamic_rnn(cell_fn(), x, dtype=tf.float32)
        grads = tf.gradients(tf.reduce_sum(outputs * outputs), tf.trainable_variables() + [x])
        (while_grad,) = [op for op in graph.get_operations() if op.type == "WhileGrad"]
        return run(grads), while_grad.attrs["stacked"] is not None


@pytest.mark.parametrize(
    "cell_fn", [lambda: rc.BasicLSTMCell(4), lambda: rc.GRUCell(4), lambda: rc.BasicRNNCell(4)]
)
def test_loop_gradients_sum_weight_gradients_over_stacked_rows(cell_fn, monkeypatch):
    """A cell's weight gradients (x^T @ d, summed over the iterations) run once over the stacked
    rows, in chunks on long loops, and equal the per-iteration sums."""
    from ops import control_flow

    stacked, was_stacked = _loop_weight_grads(cell_fn)
    assert was_stacked
    monkeypatch.setattr(control_flow, "_STACK_BYTES", 1)  # a chunk per iteration
    chunked, _ = _loop_weight_grads(cell_fn)
    monkeypatch.setattr(
        control_flow, "_stack_split", lambda fn: dict.fromkeys(("stacked", "rest", "stack_info"))
    )
    per_iteration, was_stacked = _loop_weight_grads(cell_fn)
    assert not was_stacked
    for s, c, p in zip(stacked, chunked, per_iteration):
        np.testing.assert_allclose(s, p, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(c, p, rtol=1e-5, atol=1e-6)


def test_loop_gradients_with_other_capture_gradients_are_not_stacked():
    """An elementwise use of a captured weight (w * x) is not a row sum: per iteration, as before."""
    w = tf.Variable(np.arange(1, 4, dtype=np.float32))
    xs = tf.constant(rng.normal(size=(5, 2, 3)).astype(np.float32))

    def body(i, acc):
        return i + 1, acc + tf.reduce_sum(tf.gather(xs, i) * w, axis=0)

    _, total = tf.while_loop(lambda i, acc: i < 5, body, [tf.constant(0), tf.zeros([3])])
    (grad,) = tf.gradients(tf.reduce_sum(total), [w])
    (while_grad,) = [op for op in tf.get_default_graph().get_operations() if op.type == "WhileGrad"]
    assert while_grad.attrs["stacked"] is None
    np.testing.assert_allclose(run(grad), xs_sum := run(tf.reduce_sum(xs, axis=[0, 1])), rtol=1e-5)
    assert xs_sum.shape == (3,)


# -- static_rnn and bidirectional -----------------------------------------------------------


def test_static_rnn_equals_dynamic_rnn():
    x = tf.placeholder(tf.float32, [3, 4, 2])
    lengths = tf.constant([4, 1, 3])
    cell = rc.BasicRNNCell(3)
    outputs, state = tf.nn.static_rnn(cell, tf.unstack(x, axis=1), sequence_length=lengths, dtype=tf.float32)
    assert len(outputs) == 4 and names() == ["rnn/basic_rnn_cell/kernel:0", "rnn/basic_rnn_cell/bias:0"]
    dyn, dyn_state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
    xv = rng.normal(size=(3, 4, 2)).astype(np.float32)
    s_out, s_state, d_out, d_state = run([tf.stack(outputs, 1), state, dyn, dyn_state], {x: xv})
    np.testing.assert_allclose(s_out, d_out, rtol=1e-6)
    np.testing.assert_allclose(s_state, d_state, rtol=1e-6)


def test_bidirectional_dynamic_rnn_reverses_within_lengths():
    x = tf.placeholder(tf.float32, [2, 4, 3])
    lengths = tf.constant([4, 2])
    (fw, bw), (state_fw, state_bw) = tf.nn.bidirectional_dynamic_rnn(
        rc.GRUCell(3), rc.GRUCell(3), x, sequence_length=lengths, dtype=tf.float32
    )
    assert [n for n in names() if "kernel" in n] == [
        "bidirectional_rnn/fw/gru_cell/gates/kernel:0",
        "bidirectional_rnn/fw/gru_cell/candidate/kernel:0",
        "bidirectional_rnn/bw/gru_cell/gates/kernel:0",
        "bidirectional_rnn/bw/gru_cell/candidate/kernel:0",
    ]
    # the backward pass of entry 1 (length 2) equals a forward pass of its two steps reversed
    rev = tf.placeholder(tf.float32, [1, 2, 3])
    with tf.variable_scope("bidirectional_rnn", reuse=True):
        plain, plain_state = tf.nn.dynamic_rnn(
            rc.GRUCell(3, name="gru_cell"), rev, dtype=tf.float32, scope="bw"
        )
    xv = rng.normal(size=(2, 4, 3)).astype(np.float32)
    bw_v, sbw, plain_v, plain_s = run([bw, state_bw, plain, plain_state], {x: xv, rev: xv[1:, 1::-1]})
    np.testing.assert_allclose(bw_v[1, :2], plain_v[0, ::-1], rtol=1e-5, atol=1e-6)
    assert not bw_v[1, 2:].any()
    np.testing.assert_allclose(sbw[1], plain_s[0], rtol=1e-5, atol=1e-6)


# -- wrappers -------------------------------------------------------------------------------


def test_dropout_wrapper_keeps_state_c_and_scales_outputs():
    x = tf.placeholder(tf.float32, [64, 5, 8])
    cell = rc.DropoutWrapper(rc.BasicLSTMCell(8), output_keep_prob=0.5, state_keep_prob=0.5, seed=3)
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    assert names() == ["rnn/basic_lstm_cell/kernel:0", "rnn/basic_lstm_cell/bias:0"]
    plain, _ = tf.nn.dynamic_rnn(cell.wrapped_cell, x, dtype=tf.float32, scope="rnn")
    xv = rng.normal(size=(64, 5, 8)).astype(np.float32)
    same, _ = tf.nn.dynamic_rnn(rc.DropoutWrapper(cell.wrapped_cell), x, dtype=tf.float32, scope="rnn")
    out, same, plain, c, h = run([outputs, same, plain, state.c, state.h], {x: xv})
    zero = out == 0
    assert 0.35 < zero[:, 0].mean() < 0.65  # half of the outputs dropped
    assert (c == 0).mean() < 0.01 and 0.35 < (h == 0).mean() < 0.65  # the state's h only
    np.testing.assert_allclose(same, plain, rtol=1e-6)  # keep_prob 1: the cell itself


def test_variational_dropout_uses_one_mask_per_sequence():
    x = tf.placeholder(tf.float32, [32, 4, 6])
    cell = rc.DropoutWrapper(
        rc.GRUCell(6),
        input_keep_prob=0.5,
        output_keep_prob=0.5,
        variational_recurrent=True,
        input_size=6,
        dtype=tf.float32,
        seed=1,
    )
    outputs, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    out = run(outputs, {x: np.abs(rng.normal(size=(32, 4, 6))).astype(np.float32) + 0.1})
    dropped = out == 0
    assert 0.3 < dropped.mean() < 0.7
    assert (dropped == dropped[:1, :1]).all()  # the same units dropped at every step and batch entry


def test_residual_and_device_wrappers():
    x = tf.placeholder(tf.float32, [2, 3, 4])
    inner = rc.GRUCell(4)
    res_out, _ = tf.nn.dynamic_rnn(rc.ResidualWrapper(inner), x, dtype=tf.float32)
    out, _ = tf.nn.dynamic_rnn(inner, x, dtype=tf.float32, scope="rnn")
    on_cpu = rc.DeviceWrapper(inner, "/cpu:0")
    assert on_cpu.zero_state(2, tf.float32).op.device.endswith("CPU:0")
    xv = rng.normal(size=(2, 3, 4)).astype(np.float32)
    with_res, without = run([res_out, out], {x: xv})
    np.testing.assert_allclose(with_res, without + xv, rtol=1e-5, atol=1e-6)
