"""tf.nn.rnn_cell, dynamic_rnn and the bidirectional RNNs against TensorFlow 2.21's tf.compat.v1.

Each program is written once and built twice, with raygraph and with
`tensorflow.compat.v1` in graph mode. TensorFlow's initial variable values are
copied into raygraph's variables by name (which also checks that the names
match), then outputs, final states and the gradients of a loss with respect to
the inputs and every variable must agree to float32 rounding. Last, an LSTM
language model trains 20 Adam steps on both from the same weights: the loss
curves must agree.

TensorFlow 2.21 exposes `tf.compat.v1.nn.rnn_cell` only through tf_keras; the
cells come from tf_keras when installed, else from TensorFlow's own copy of the
legacy cells. raygraph runs on the local target (no Ray).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1
RTOL, ATOL = 2e-5, 2e-6


def _tf_cells():
    for module in (
        "tf_keras.api._v1.keras.__internal__.legacy.rnn_cell",
        "tensorflow.python.keras.layers.legacy_rnn.rnn_cell_impl",
    ):
        try:
            return importlib.import_module(module)
        except ImportError:
            continue
    pytest.skip("no TensorFlow 1.x RNN cells available")


@pytest.fixture(scope="module")
def tf_rnn_cell():
    return _tf_cells()


def session(tf):
    return tf.Session("local") if tf is raygraph else tf.Session()


def start(tf, sess, initial):
    """Initializes the variables; raygraph's then take TensorFlow's initial values (by name)."""
    sess.run(tf.global_variables_initializer())
    if initial is None:
        return {v.name: sess.run(v) for v in tf.global_variables()}
    names = sorted(v.name for v in tf.global_variables())
    assert names == sorted(initial), f"variable names differ: {names} vs {sorted(initial)}"
    for v in tf.global_variables():
        v.load(initial[v.name], sess)
    return initial


def run_both(program, tf_rnn_cell, *args):
    theirs = program(v1, tf_rnn_cell, None, *args)
    ours = program(raygraph, raygraph.nn.rnn_cell, theirs["initial"], *args)
    return ours, theirs


def assert_close(ours, theirs, what, rtol=RTOL, atol=ATOL):
    assert len(ours) == len(theirs), what
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{what} [{k}]")


rng = np.random.default_rng(0)
BATCH, TIME, DEPTH = 3, 5, 4
X = rng.normal(size=(BATCH, TIME, DEPTH)).astype(np.float32)
LENGTHS = np.array([5, 2, 3], np.int32)


def loss_and_grads(tf, outputs, state, x):
    """A loss that weighs every output and state value differently; its gradients."""
    flat = tf.nest.flatten(outputs) + tf.nest.flatten(state)
    loss = tf.add_n(
        [
            tf.reduce_sum(t * tf.reshape(tf.sin(tf.cast(tf.range(tf.size(t)), tf.float32) + k), tf.shape(t)))
            for k, t in enumerate(flat)
        ]
    )
    variables = sorted(tf.trainable_variables(), key=lambda v: v.name)
    return loss, tf.gradients(loss, [x] + variables)


def rnn_program(make_cell, sequence_length=False, time_major=False, with_initial_state=False):
    def program(tf, rnn_cell, initial):
        with tf.Graph().as_default():
            x_value = X.transpose(1, 0, 2) if time_major else X
            x = tf.placeholder(tf.float32, x_value.shape)
            cell = make_cell(rnn_cell)
            kwargs = {"sequence_length": tf.constant(LENGTHS)} if sequence_length else {}
            if with_initial_state:
                kwargs["initial_state"] = tf.nest.map_structure(
                    lambda t: t + 0.25, cell.zero_state(BATCH, tf.float32)
                )
            else:
                kwargs["dtype"] = tf.float32
            outputs, state = tf.nn.dynamic_rnn(cell, x, time_major=time_major, **kwargs)
            loss, grads = loss_and_grads(tf, outputs, state, x)
            with session(tf) as sess:
                initial = start(tf, sess, initial)
                values = sess.run([outputs, tf.nest.flatten(state), loss, grads], {x: x_value})
            shapes = [t.shape.as_list() for t in [outputs] + tf.nest.flatten(state)]
        return {"initial": initial, "values": values, "shapes": shapes}

    return program


CELLS = {
    "basic_rnn": (lambda rc: rc.BasicRNNCell(6), {"sequence_length": True}),
    "basic_lstm": (lambda rc: rc.BasicLSTMCell(6, forget_bias=0.5), {}),
    "basic_lstm_time_major_initial_state": (
        lambda rc: rc.BasicLSTMCell(6),
        {"time_major": True, "with_initial_state": True, "sequence_length": True},
    ),
    "basic_lstm_concat_state": (
        lambda rc: rc.BasicLSTMCell(5, state_is_tuple=False),
        {"sequence_length": True},
    ),
    "lstm_peepholes_projection": (
        lambda rc: rc.LSTMCell(
            6, use_peepholes=True, num_proj=3, cell_clip=0.8, proj_clip=0.5, forget_bias=0.3
        ),
        {"sequence_length": True},
    ),
    "gru": (lambda rc: rc.GRUCell(5), {"sequence_length": True}),
    "gru_relu": (lambda rc: rc.GRUCell(5, activation="relu"), {}),
    "multi_rnn_cell": (
        lambda rc: rc.MultiRNNCell([rc.BasicLSTMCell(6), rc.GRUCell(4), rc.LSTMCell(3, num_proj=2)]),
        {"sequence_length": True},
    ),
    "residual_wrapper": (lambda rc: rc.ResidualWrapper(rc.GRUCell(DEPTH)), {}),
}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_dynamic_rnn_matches_tensorflow(tf_rnn_cell, name):
    make_cell, options = CELLS[name]
    ours, theirs = run_both(rnn_program(make_cell, **options), tf_rnn_cell)
    assert ours["shapes"] == theirs["shapes"]
    outputs, states, loss, grads = ours["values"]
    t_outputs, t_states, t_loss, t_grads = theirs["values"]
    assert_close([outputs], [t_outputs], f"{name}: outputs")
    assert_close(states, t_states, f"{name}: final state")
    assert_close([loss], [t_loss], f"{name}: loss", rtol=1e-5)
    assert_close(grads, t_grads, f"{name}: gradients", rtol=1e-4, atol=1e-5)


def bidirectional_program(tf, rnn_cell, initial):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, X.shape)
        (out_fw, out_bw), (state_fw, state_bw) = tf.nn.bidirectional_dynamic_rnn(
            rnn_cell.LSTMCell(4, use_peepholes=True),
            rnn_cell.GRUCell(3),
            x,
            sequence_length=tf.constant(LENGTHS),
            dtype=tf.float32,
        )
        outputs = tf.concat([out_fw, out_bw], 2)
        loss, grads = loss_and_grads(tf, outputs, (state_fw, state_bw), x)
        with session(tf) as sess:
            initial = start(tf, sess, initial)
            values = sess.run([outputs, tf.nest.flatten((state_fw, state_bw)), loss, grads], {x: X})
    return {"initial": initial, "values": values, "names": sorted(initial)}


def test_bidirectional_dynamic_rnn_matches_tensorflow(tf_rnn_cell):
    ours, theirs = run_both(bidirectional_program, tf_rnn_cell)
    assert "bidirectional_rnn/fw/lstm_cell/w_f_diag:0" in theirs["names"]
    outputs, states, loss, grads = ours["values"]
    t_outputs, t_states, t_loss, t_grads = theirs["values"]
    assert_close([outputs], [t_outputs], "outputs")
    assert_close(states, t_states, "final states")
    assert_close(grads, t_grads, "gradients", rtol=1e-4, atol=1e-5)


def static_program(tf, rnn_cell, initial):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, X.shape)
        steps = tf.unstack(x, axis=1)
        lengths = tf.constant(LENGTHS)
        outputs, state = tf.nn.static_rnn(
            rnn_cell.BasicLSTMCell(4), steps, sequence_length=lengths, dtype=tf.float32
        )
        bi_outputs, state_fw, state_bw = tf.nn.static_bidirectional_rnn(
            rnn_cell.GRUCell(3), rnn_cell.BasicRNNCell(2), steps, sequence_length=lengths, dtype=tf.float32
        )
        everything = (outputs, bi_outputs)
        loss, grads = loss_and_grads(tf, everything, (state, state_fw, state_bw), x)
        with session(tf) as sess:
            initial = start(tf, sess, initial)
            values = sess.run(
                [tf.nest.flatten(everything), tf.nest.flatten((state, state_fw, state_bw)), grads], {x: X}
            )
    return {"initial": initial, "values": values}


def test_static_rnns_match_tensorflow(tf_rnn_cell):
    ours, theirs = run_both(static_program, tf_rnn_cell)
    for part, what in zip(range(3), ("outputs", "final states", "gradients")):
        assert_close(ours["values"][part], theirs["values"][part], what, rtol=1e-4, atol=1e-5)


# -- an LSTM language model, trained ---------------------------------------------------------

VOCAB, EMBED, HIDDEN, LM_BATCH, LM_STEPS = 40, 12, 16, 4, 8


def lm_batches(steps):
    """Sequences with a learnable rule (next = 7 * token + 3 mod VOCAB) from random starts."""
    tokens = np.empty((steps, LM_BATCH, LM_STEPS + 1), np.int32)
    tokens[..., 0] = np.random.default_rng(1).integers(0, VOCAB, size=(steps, LM_BATCH))
    for t in range(LM_STEPS):
        tokens[..., t + 1] = (7 * tokens[..., t] + 3) % VOCAB
    return tokens


def lm_program(tf, rnn_cell, initial, steps=20):
    """Embedding (tf.gather), 2-layer LSTM, softmax over the vocabulary, global-norm clipping, Adam."""
    data = lm_batches(steps)
    with tf.Graph().as_default():
        tokens = tf.placeholder(tf.int32, [LM_BATCH, LM_STEPS + 1])
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        embedding = tf.get_variable("embedding", [VOCAB, EMBED])
        cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(HIDDEN), rnn_cell.LSTMCell(HIDDEN)])
        outputs, _ = tf.nn.dynamic_rnn(cell, tf.gather(embedding, inputs), dtype=tf.float32)
        softmax_w = tf.get_variable("softmax_w", [HIDDEN, VOCAB])
        softmax_b = tf.get_variable("softmax_b", [VOCAB], initializer=tf.zeros_initializer())
        logits = tf.matmul(tf.reshape(outputs, [-1, HIDDEN]), softmax_w) + softmax_b
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.reshape(targets, [-1]), logits=logits)
        )
        variables = tf.trainable_variables()
        grads = [tf.convert_to_tensor(g) for g in tf.gradients(loss, variables)]  # dense embedding grad
        norm = tf.sqrt(tf.add_n([tf.reduce_sum(g * g) for g in grads]))  # clip_by_global_norm, by hand
        scale = 1.0 / tf.maximum(norm, 1.0)
        train = tf.train.AdamOptimizer(0.01).apply_gradients(
            [(g * scale, v) for g, v in zip(grads, variables)]
        )
        with session(tf) as sess:
            initial = start(tf, sess, initial)
            losses = [sess.run([loss, train], {tokens: batch})[0] for batch in data]
    return {"initial": initial, "losses": np.array(losses)}


def test_lstm_language_model_trains_like_tensorflow(tf_rnn_cell):
    ours, theirs = run_both(lm_program, tf_rnn_cell)
    assert theirs["losses"][-1] < theirs["losses"][0]
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-4, atol=1e-5)
