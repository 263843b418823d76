"""tf.saved_model: round trips, training after load, and exports refused before anything is built."""

from __future__ import annotations

import hashlib
import json
import os
import pickle

import numpy as np
import pytest

import raygraph as tf
from ops.registry import Op
from raygraph import errors
from raygraph.saved_model import store

RNG = np.random.default_rng(0)
X = RNG.random((6, 3), dtype=np.float32)
Y = RNG.random((6, 2), dtype=np.float32)


def _build_model():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y_ = tf.placeholder(tf.float32, [None, 2], name="labels")
    h = tf.layers.dense(x, 4, activation=tf.nn.relu)
    y = tf.layers.dense(h, 2, name="out")
    loss = tf.reduce_mean(tf.square(y - y_), name="loss")
    step = tf.train.get_or_create_global_step()
    train = tf.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
    return x, y_, y, loss, train


def _export(tmp_path, extra=None):
    """Trains a small model 3 steps, exports it; returns (dir, graph tensors, reference values)."""
    export_dir = str(tmp_path / "export")
    g = tf.Graph()
    with g.as_default():
        x, y_, y, loss, train = _build_model()
        more = extra(x, y) if extra else {}
        init = tf.global_variables_initializer()
    with tf.Session("local", graph=g) as sess:
        sess.run(init)
        for _ in range(3):
            sess.run(train, {x: X, y_: Y})
        ref = sess.run({"y": y, **more}, {x: X})
        b = tf.saved_model.builder.SavedModelBuilder(export_dir)
        b.add_meta_graph_and_variables(
            sess,
            [tf.saved_model.tag_constants.SERVING],
            signature_def_map={"serving_default": tf.saved_model.predict_signature_def({"x": x}, {"y": y})},
            train_op=train,
        )
        b.save()
        ref["next_losses"] = [sess.run([train, loss], {x: X, y_: Y})[1] for _ in range(3)]
    return export_dir, {k: v.name for k, v in more.items()}, ref


def _load(export_dir, tags=("serve",)):
    sess = tf.Session("local", graph=tf.Graph())
    meta = tf.saved_model.loader.load(sess, list(tags), export_dir)
    return sess, meta


def test_round_trip_predicts_the_same(tmp_path):
    export_dir, _, ref = _export(tmp_path)
    assert sorted(os.listdir(export_dir)) == ["manifest.json", "saved_model.json", "variables"]
    sess, meta = _load(export_dir)
    sig = meta.signature_def["serving_default"]
    assert sig.method_name == "tensorflow/serving/predict"
    assert list(meta.meta_info_def.tags) == ["serve"]
    out = sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: X})
    np.testing.assert_array_equal(out, ref["y"])


def test_training_continues_after_load(tmp_path):
    export_dir, _, ref = _export(tmp_path)
    sess, _ = _load(export_dir)
    g = sess.graph
    train = g.get_collection(tf.saved_model.constants.TRAIN_OP_KEY)[0]
    assert len(tf.trainable_variables()) == 0  # the default graph is untouched
    with g.as_default():
        assert len(tf.trainable_variables()) == 4
        assert sess.run(tf.train.get_global_step()) == 3
        slots = [v.op.name for v in tf.global_variables() if "Adam" in v.op.name]
    assert "out/kernel/Adam" in slots and "out/kernel/Adam_1" in slots
    losses = [sess.run([train, "loss:0"], {"x:0": X, "labels:0": Y})[1] for _ in range(3)]
    np.testing.assert_allclose(losses, ref["next_losses"], rtol=1e-6)  # Adam's slots and step came back
    with g.as_default():  # a new optimizer on the loaded graph works too
        sgd = tf.train.GradientDescentOptimizer(0.1).minimize(g.get_tensor_by_name("loss:0"))
    before = sess.run("loss:0", {"x:0": X, "labels:0": Y})
    for _ in range(20):
        sess.run(sgd, {"x:0": X, "labels:0": Y})
    assert sess.run("loss:0", {"x:0": X, "labels:0": Y}) < before


def test_control_flow_sub_graphs_round_trip_and_differentiate(tmp_path):
    def extra(x, y):
        c = tf.cond(tf.reduce_sum(x) > 0, lambda: y * 2.0, lambda: y - 1.0)
        _, w = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 1.5), [0, y])
        (gw,) = tf.gradients(tf.reduce_sum(w), [x])  # a gradient through the loop, built before export
        return {"c": c, "w": w, "gw": gw}

    export_dir, names, ref = _export(tmp_path, extra)
    sess, _ = _load(export_dir)
    got = sess.run(names, {"x:0": X})
    for key in ("c", "w", "gw"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-6)
    g = sess.graph
    with g.as_default():  # and a new gradient through the loaded loop
        (gx,) = tf.gradients(tf.reduce_sum(g.get_tensor_by_name(names["w"])), [g.get_tensor_by_name("x:0")])
    np.testing.assert_allclose(sess.run(gx, {"x:0": X}), ref["gw"], rtol=1e-6)


def test_simple_save_and_v1_load(tmp_path):
    export_dir = str(tmp_path / "simple")
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
        y = tf.matmul(x, w, name="y")
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            tf.saved_model.simple_save(sess, export_dir, {"x": x}, {"y": y})
    assert tf.saved_model.loader.maybe_saved_model_directory(export_dir)
    assert not tf.saved_model.loader.maybe_saved_model_directory(str(tmp_path))
    with tf.Session("local", graph=tf.Graph()) as sess:
        meta = tf.saved_model.load(sess, [tf.saved_model.SERVING], export_dir)
        info = meta.signature_def[tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY].outputs["y"]
        np.testing.assert_allclose(sess.run(info.name, {"x:0": X}), X @ np.arange(6).reshape(3, 2), rtol=1e-6)
        assert tf.saved_model.utils.get_tensor_from_tensor_info(info, sess.graph).name == "y:0"


def test_import_scope_and_name_clash(tmp_path):
    export_dir, _, ref = _export(tmp_path)
    with tf.Session("local", graph=tf.Graph()) as sess:
        tf.saved_model.loader.load(sess, ["serve"], export_dir)
        with pytest.raises(ValueError, match="already has ops named"):
            tf.saved_model.loader.load(sess, ["serve"], export_dir)
        tf.saved_model.loader.load(sess, ["serve"], export_dir, import_scope="copy")
        np.testing.assert_array_equal(sess.run("copy/out/BiasAdd:0", {"copy/x:0": X}), ref["y"])


def test_several_meta_graphs_and_wrong_tags(tmp_path):
    export_dir = str(tmp_path / "two")
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(tf.ones([3, 1]), name="w")
        tf.matmul(x, w, name="y")
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            b = tf.saved_model.builder.SavedModelBuilder(export_dir)
            with pytest.raises(AssertionError, match="add_meta_graph_and_variables"):
                b.add_meta_graph(["eval"])
            b.add_meta_graph_and_variables(sess, ["train"])
            with pytest.raises(AssertionError, match="add_meta_graph\\(\\)"):
                b.add_meta_graph_and_variables(sess, ["train"])
            b.add_meta_graph(["serve", "gpu"])
            b.save()
    with pytest.raises(AssertionError, match="already exists, and isn't empty"):
        tf.saved_model.builder.SavedModelBuilder(export_dir)
    with tf.Session("local", graph=tf.Graph()) as sess:
        with pytest.raises(RuntimeError, match="could not be found in SavedModel"):
            tf.saved_model.loader.load(sess, ["serve"], export_dir)
        tf.saved_model.loader.load(sess, ["gpu", "serve"], export_dir)
        assert sess.run("y:0", {"x:0": X}).shape == (6, 1)


# -- refused exports ------------------------------------------------------------------


class SavedModelTestOp(Op):
    """A user op (declared here, not built in)."""

    inputs = ("x",)
    api = ()

    def infer(x):
        return x.dtype, x.shape

    def kernel(xp, x):
        return x


def test_export_refuses_user_ops_and_python_functions(tmp_path):
    for i, make in enumerate(
        [
            lambda x: tf.get_default_graph().create_op("SavedModelTestOp", [x]).outputs[0],
            lambda x: tf.py_func(lambda v: v, [x], tf.float32),
        ]
    ):
        g = tf.Graph()
        with g.as_default(), tf.Session("local") as sess:
            x = tf.placeholder(tf.float32, [2], name="x")
            make(x)
            b = tf.saved_model.builder.SavedModelBuilder(str(tmp_path / f"bad{i}"))
            match = "SavedModelTestOp" if i == 0 else "PyFunc 'PyFunc'.*'func' holds a function"
            with pytest.raises(ValueError, match=match):
                b.add_meta_graph_and_variables(sess, ["serve"])


def _rewrite(export_dir, rel, data: bytes, fix_manifest: bool) -> None:
    with open(os.path.join(export_dir, rel), "wb") as f:
        f.write(data)
    if fix_manifest:  # what an attacker would do: make the hashes match again
        path = os.path.join(export_dir, "manifest.json")
        manifest = json.loads(open(path).read())
        manifest["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        with open(path, "w") as f:
            json.dump(manifest, f)


def _edit_graph(export_dir, edit) -> None:
    path = os.path.join(export_dir, "saved_model.json")
    doc = json.loads(open(path).read())
    edit(doc["meta_graphs"][0]["graph"])
    _rewrite(export_dir, "saved_model.json", json.dumps(doc).encode(), fix_manifest=True)


def _assert_refused(export_dir, error, match):
    g = tf.Graph()
    with tf.Session("local", graph=g) as sess:
        with pytest.raises(error, match=match):
            tf.saved_model.loader.load(sess, ["serve"], export_dir)
    assert g.get_operations() == []  # nothing was built


@pytest.fixture
def exported(tmp_path):
    return _export(tmp_path)[0]


def test_tampered_weight_is_refused(exported):
    path = os.path.join(exported, store.VARIABLES_PATH)
    data = bytearray(open(path, "rb").read())
    data[-3] ^= 0xFF
    _rewrite(exported, store.VARIABLES_PATH, bytes(data), fix_manifest=False)
    _assert_refused(exported, errors.DataLossError, "SHA-256")
    _rewrite(exported, store.VARIABLES_PATH, bytes(data), fix_manifest=True)  # hash fixed: the CRC catches it
    _assert_refused(exported, errors.DataLossError, "checksum mismatch")


def test_unknown_op_is_refused(exported):
    _edit_graph(exported, lambda g: g["ops"][3].update(type="EvilOp"))
    _assert_refused(exported, errors.NotFoundError, "Op type not registered 'EvilOp'")


def test_user_op_in_document_is_refused(exported):
    _edit_graph(exported, lambda g: g["ops"][3].update(type="SavedModelTestOp"))
    _assert_refused(exported, errors.InvalidArgumentError, "user-declared op")


def test_newer_version_is_refused(exported):
    path = os.path.join(exported, "saved_model.json")
    doc = json.loads(open(path).read())
    doc["version"] = store.FORMAT_VERSION + 1
    _rewrite(exported, "saved_model.json", json.dumps(doc).encode(), fix_manifest=True)
    _assert_refused(exported, errors.InvalidArgumentError, "newer than version 1")


def _op(graph_doc, name):
    return next(op for op in graph_doc["ops"] if op["name"] == name)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda g: g["ops"][0]["attrs"].update(dtype={"dtype": "float99"}), "unknown dtype 'float99'"),
        (lambda g: g["ops"][0]["attrs"].update(shape={"shape": [-2, 3]}), "not a size or null"),
        (lambda g: g["ops"][0]["attrs"].update(evil={"bytes": ""}), "has no attrs \\['evil'\\]"),
        (lambda g: g["ops"][0]["attrs"].update(shape={"pickle": "gASV"}), "exactly one of the tags"),
        (
            lambda g: g["ops"][5].update(inputs=["nowhere:0"] * len(g["ops"][5]["inputs"])),
            "not an output of an earlier op",
        ),
        (lambda g: _op(g, "loss")["outputs"][0].update(dtype="int32"), "document records int32"),
        (lambda g: _op(g, "loss")["outputs"][0].update(shape=[7]), "document records float32 \\(7\\)"),
    ],
)
def test_malformed_documents_are_refused(exported, edit, match):
    _edit_graph(exported, edit)
    _assert_refused(exported, errors.InvalidArgumentError, match)


class _Boom:
    """Unpickling this would create the marker file: it must never happen."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("rel", ["saved_model.json", store.VARIABLES_PATH, "manifest.json", "extra.pkl"])
@pytest.mark.parametrize("protocol", [0, 4])
def test_pickle_payload_in_any_file_is_refused_and_never_run(exported, tmp_path, rel, protocol):
    marker = str(tmp_path / "pwned")
    payload = pickle.dumps(_Boom(marker), protocol=protocol)
    if rel == "manifest.json":
        with open(os.path.join(exported, rel), "wb") as f:
            f.write(payload)
    else:
        _rewrite(exported, rel, payload, fix_manifest=rel != "extra.pkl")
    match = "not in the manifest" if rel == "extra.pkl" else "pickle"
    _assert_refused(exported, errors.DataLossError, match)
    assert not os.path.exists(marker)


def test_missing_export_is_an_os_error(tmp_path):
    with tf.Session("local", graph=tf.Graph()) as sess:
        with pytest.raises(OSError, match="SavedModel file does not exist"):
            tf.saved_model.loader.load(sess, ["serve"], str(tmp_path))
