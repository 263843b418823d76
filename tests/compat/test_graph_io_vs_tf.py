"""Graph I/O against TensorFlow 2.21's tf.compat.v1: GraphDefs TensorFlow writes import into
raygraph and compute the same values and gradients; the files raygraph writes parse with
TensorFlow's own protos; init_from_checkpoint and convert_variables_to_constants give the
same numbers in both.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from google.protobuf import text_format

tf1 = pytest.importorskip("tensorflow")

from tensorflow.core.framework import variable_pb2  # noqa: E402

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1
RNG = np.random.default_rng(0)
W1 = RNG.normal(size=(4, 8)).astype(np.float32)
B1 = RNG.normal(size=8).astype(np.float32)
W2 = RNG.normal(size=(16, 3)).astype(np.float32)
XS = RNG.normal(size=(5, 4)).astype(np.float32)
OUTPUTS = ["probs:0", "loss:0", "argmax:0", "expanded:0", "parts:0", "gathered:0", "batched:0"]


def _tf_mlp():
    """A small TF graph of the common op types; returns (GraphDef, outputs, d loss / d x)."""
    with v1.Graph().as_default() as g:
        x = v1.placeholder(v1.float32, [None, 4], name="x")
        h = v1.nn.relu(v1.nn.bias_add(v1.matmul(x, W1), B1))
        h2 = v1.concat([h, v1.transpose(v1.transpose(h) * 2.0)], axis=1)
        z = v1.add(v1.matmul(h2, W2), 1.0)
        probs = v1.nn.softmax(z, name="probs")
        loss = v1.reduce_mean(v1.reduce_sum(probs * z, axis=1, keepdims=True), name="loss")
        v1.argmax(z, 1, name="argmax")
        v1.expand_dims(v1.reduce_max(z, axis=-1), -1, name="expanded")
        parts = v1.split(z, 3, axis=1)
        v1.identity(v1.squeeze(v1.stack(parts, axis=0), axis=[2]), name="parts")
        v1.gather(z, [2, 0], axis=0, name="gathered")
        cube = v1.reshape(h2, [5, 4, 4])
        v1.matmul(cube, cube, transpose_b=True, name="batched")
        graph_def = g.as_graph_def()  # before TF's gradient ops, which are TF's own (BroadcastGradientArgs)
        (grad,) = v1.gradients(loss, [x])
        with v1.Session() as sess:
            values = sess.run(OUTPUTS + [grad], {x: XS})
        return graph_def, values[:-1], values[-1]


def test_a_graph_def_written_by_tensorflow_imports_and_computes_the_same(tmp_path):
    graph_def, want, want_grad = _tf_mlp()
    path = v1.train.write_graph(graph_def, str(tmp_path), "mlp.pb", as_text=False)
    with raygraph.Graph().as_default():
        loaded = raygraph.GraphDef.FromString(open(path, "rb").read())
        x = raygraph.placeholder(raygraph.float32, [None, 4])
        tensors = raygraph.import_graph_def(loaded, {"x": x}, OUTPUTS, name="tf")
        (grad,) = raygraph.gradients(tensors[1], [x])
        with raygraph.Session("local") as sess:
            got = sess.run([*tensors, grad], {x: XS})
    for name, ours, theirs in zip(OUTPUTS, got, want):
        assert np.asarray(ours).dtype == theirs.dtype, name
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(got[-1], want_grad, rtol=1e-5, atol=1e-6)


def test_a_tensorflow_graph_def_in_text_form_imports_too(tmp_path):
    graph_def, want, _ = _tf_mlp()
    path = v1.train.write_graph(graph_def, str(tmp_path), "mlp.pbtxt")
    loaded = text_format.Parse(open(path).read(), raygraph.GraphDef())
    with raygraph.Graph().as_default():
        tensors = raygraph.import_graph_def(loaded, return_elements=OUTPUTS[:2], name="")
        got = raygraph.Session("local").run(tensors, {"x:0": XS})
    for ours, theirs in zip(got, want[:2]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def _frozen_program(tf, directory=None):
    """TF1 program: train a variable a step, freeze the graph for "out"."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        w = tf.Variable(W1, name="w", use_resource=False)
        out = tf.nn.relu(tf.matmul(x, w), name="out")
        loss = tf.reduce_sum(out)
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session() if tf is v1 else tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train, {x: XS})
            frozen = tf.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), ["out"])
            return frozen, sess.run(out, {x: XS})


def test_frozen_graphs_agree_and_tensorflows_imports_into_raygraph():
    tf_frozen, tf_out = _frozen_program(v1)
    rg_frozen, rg_out = _frozen_program(raygraph)
    np.testing.assert_allclose(rg_out, tf_out, rtol=1e-5)
    assert {n.name: n.op for n in rg_frozen.node} == {n.name: n.op for n in tf_frozen.node}
    for frozen in (tf_frozen, rg_frozen):
        with raygraph.Graph().as_default():
            (out,) = raygraph.import_graph_def(frozen, return_elements=["out:0"], name="")
            np.testing.assert_allclose(raygraph.Session("local").run(out, {"x:0": XS}), tf_out, rtol=1e-5)


def test_raygraph_files_parse_with_tensorflows_protos(tmp_path):
    with raygraph.Graph().as_default() as g:
        x = raygraph.placeholder(raygraph.float32, [None, 4], name="x")
        w = raygraph.Variable(W1, name="w")
        raygraph.nn.relu(raygraph.matmul(x, w) + 1.0, name="out")
        saver = raygraph.train.Saver()
        with raygraph.Session("local") as sess:
            sess.run(raygraph.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "model"))
        text = raygraph.train.write_graph(g, str(tmp_path), "g.pbtxt")
        binary = raygraph.train.write_graph(g, str(tmp_path), "g.pb", as_text=False)
        ours = g.as_graph_def()
    from_text = text_format.Parse(open(text).read(), v1.GraphDef())
    from_binary = v1.GraphDef.FromString(open(binary, "rb").read())
    assert from_text == from_binary
    assert [(n.name, n.op, list(n.input)) for n in from_text.node] == [
        (n.name, n.op, list(n.input)) for n in ours.node
    ]
    const = next(n for n in from_text.node if n.name == "w/Initializer/initial_value")
    np.testing.assert_array_equal(tf1.make_ndarray(const.attr["value"].tensor), W1)
    meta = v1.MetaGraphDef.FromString(open(prefix + ".meta", "rb").read())
    assert meta.saver_def.restore_op_name == "save/restore_all"
    (variable_def,) = [
        variable_pb2.VariableDef.FromString(b) for b in meta.collection_def["variables"].bytes_list.value
    ]
    assert (variable_def.variable_name, variable_def.snapshot_name) == ("w:0", "w/read:0")
    assert os.path.basename(prefix) == "model"


def _init_from_checkpoint_program(tf, directory):
    """TF1 program: save variables under "old", then load them into "new" with init_from_checkpoint."""
    with tf.Graph().as_default():
        with tf.variable_scope("old"):
            tf.get_variable("w", initializer=W1)
            tf.get_variable("b", initializer=B1)
        tf.get_variable("top", initializer=np.float32(3.5))
        session = tf.Session() if tf is v1 else tf.Session("local")
        with session as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, os.path.join(directory, "ckpt"))
    with tf.Graph().as_default():
        with tf.variable_scope("new"):
            w = tf.get_variable("w", [4, 8])
            b = tf.get_variable("b", [8])
        top = tf.get_variable("renamed", [])
        with tf.variable_scope("all"):
            with tf.variable_scope("old"):
                w_all = tf.get_variable("w", [4, 8])
                tf.get_variable("b", [8])
            tf.get_variable("top", [])
        tf.train.init_from_checkpoint(directory, {"old/": "new/", "top": "renamed"})
        tf.train.init_from_checkpoint(directory, {"/": "all/"})
        session = tf.Session() if tf is v1 else tf.Session("local")
        with session as sess:
            sess.run(tf.global_variables_initializer())
            return sess.run([w, b, top, w_all])


def test_init_from_checkpoint_maps_like_tensorflow(tmp_path):
    os.makedirs(tmp_path / "tf")
    os.makedirs(tmp_path / "rg")
    theirs = _init_from_checkpoint_program(v1, str(tmp_path / "tf"))
    ours = _init_from_checkpoint_program(raygraph, str(tmp_path / "rg"))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ours[0], W1)
