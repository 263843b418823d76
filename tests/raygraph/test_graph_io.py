"""Graph I/O: GraphDef export and import, write_graph, meta graphs, init_from_checkpoint, graph_util."""

from __future__ import annotations

import os

import numpy as np
import pytest
from google.protobuf import text_format

import raygraph as tf

RNG = np.random.default_rng(0)
XS = RNG.normal(size=(5, 8)).astype(np.float32)
YS = RNG.integers(0, 4, 5).astype(np.int32)


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


def _model():
    """A small CNN + MLP trained with Adam: convolution, pooling, concat, split, reductions, slots."""
    tf.set_random_seed(1)
    x = tf.placeholder(tf.float32, [None, 8], name="x")
    y = tf.placeholder(tf.int32, [None], name="y")
    img = tf.reshape(x, [-1, 2, 2, 2])
    c = tf.layers.conv2d(img, 3, 2, padding="same", activation=tf.nn.relu)
    p = tf.layers.max_pooling2d(c, 2, 1, padding="same")
    h = tf.layers.dense(tf.layers.flatten(p), 16, activation=tf.nn.relu)
    h = tf.concat([h, tf.transpose(tf.transpose(h))], axis=1)
    logits = tf.layers.dense(h, 4)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    loss += 0.01 * tf.reduce_sum(tf.square(logits), axis=[0, 1])
    loss = tf.identity(loss, name="loss")
    tf.stack(tf.split(logits, 2, axis=1), name="parts")
    step = tf.train.get_or_create_global_step()
    tf.train.AdamOptimizer(0.01).minimize(loss, global_step=step, name="train")
    tf.global_variables_initializer()
    return loss


def _train(graph, steps=3):
    with tf.Session("local", graph=graph) as sess:
        sess.run(graph.get_operation_by_name("init"))
        feed = {graph.get_tensor_by_name("x:0"): XS, graph.get_tensor_by_name("y:0"): YS}
        fetches = [graph.get_operation_by_name("train"), graph.get_tensor_by_name("loss:0")]
        return [sess.run(fetches, feed)[1] for _ in range(steps)]


def _same_attr(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.asarray(a).dtype == np.asarray(b).dtype and np.array_equal(a, b)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(map(_same_attr, a, b))
    if isinstance(a, tf.TensorShape):
        return isinstance(b, tf.TensorShape) and a.dims == b.dims
    return type(a) is type(b) and a == b


# -- GraphDef round trip -----------------------------------------------------------------


def test_a_graph_def_imports_back_op_for_op_and_trains_the_same(fresh_graph):
    _model()
    graph_def = fresh_graph.as_graph_def()
    with tf.Graph().as_default() as copy:
        assert tf.import_graph_def(graph_def, name="") is None
    assert len(copy.get_operations()) == len(fresh_graph.get_operations())
    for op in fresh_graph.get_operations():
        new = copy.get_operation_by_name(op.name)
        assert new.type == op.type
        assert [t.name for t in new.inputs] == [t.name for t in op.inputs], op.name
        assert [c.name for c in new.control_inputs] == [c.name for c in op.control_inputs], op.name
        assert [t.shape.dims for t in new.outputs] == [t.shape.dims for t in op.outputs], op.name
        assert [t.dtype for t in new.outputs] == [t.dtype for t in op.outputs], op.name
        assert new.colocation_groups == op.colocation_groups, op.name
        for key, value in op.attrs.items():
            if not key.startswith("_"):
                assert _same_attr(value, new.attrs[key]), (op.name, key, value, new.attrs[key])
    np.testing.assert_allclose(_train(copy), _train(fresh_graph), rtol=1e-6)


def test_const_values_of_every_dtype_round_trip():
    values = {
        "f16": np.array([1.5, -2], np.float16),
        "f64": np.arange(6, dtype=np.float64).reshape(2, 3),
        "i8": np.array([-3], np.int8),
        "u16": np.array([[7]], np.uint16),
        "i64": np.array(2**40, np.int64),
        "b": np.array([True, False]),
        "s": np.array([b"ab", b"\xff"], dtype=object),
        "empty": np.zeros([0, 3], np.float32),
    }
    for name, value in values.items():
        tf.constant(value, name=name)
    big = RNG.normal(size=(600, 600)).astype(np.float32)  # over the event files' MAX_CONST_BYTES
    tf.constant(big, name="big")
    graph_def = tf.get_default_graph().as_graph_def()
    with tf.Graph().as_default():
        tensors = tf.import_graph_def(graph_def, return_elements=[f"{n}:0" for n in [*values, "big"]])
        with tf.Session("local") as sess:
            got = sess.run(tensors)
    for (name, want), value, t in zip(values.items(), got, tensors):
        assert t.name == f"import/{name}:0"
        assert value.shape == want.shape and value.dtype == want.dtype, name
        np.testing.assert_array_equal(value, want)
    np.testing.assert_array_equal(got[-1], big)


def test_import_prefixes_names_maps_inputs_and_returns_elements():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    w = tf.constant([[1.0], [2.0]], name="w")
    gate = tf.no_op(name="gate")
    with tf.control_dependencies([gate]):
        tf.matmul(x, w, name="y")
    graph_def = tf.get_default_graph().as_graph_def()
    with tf.Graph().as_default() as g:
        a = tf.constant([[1.0, 1.0], [2.0, 0.0]], name="a")
        other = tf.no_op(name="other")
        y1, op1 = tf.import_graph_def(graph_def, {"x": a, "^gate": other}, ["y:0", "y"])
        assert y1.name == "import/y:0" and op1 is y1.op
        assert [c.name for c in op1.control_inputs] == ["other"]
        (y2,) = tf.import_graph_def(graph_def, {"x:0": a}, ["y:0"], name="net")
        assert y2.name == "net/y:0"
        (y3,) = tf.import_graph_def(graph_def, {"x:0": a}, ["y:0"])
        assert y3.name == "import_1/y:0"
        (y4,) = tf.import_graph_def(graph_def, {"x:0": a}, ["y:0"], name="")
        (y5,) = tf.import_graph_def(graph_def, {"x:0": a}, ["y:0"], name="")
        assert (y4.name, y5.name) == ("y:0", "y_1:0")  # a taken name gets a suffix
        assert y1.shape.as_list() == [2, 1]
        with tf.Session("local", graph=g) as sess:
            np.testing.assert_allclose(sess.run(y1), [[3.0], [2.0]])
        with pytest.raises(ValueError, match=r"not found in graph_def: \[z:0\]"):
            tf.import_graph_def(graph_def, {"z:0": a})
        with pytest.raises(ValueError, match="return_element 'nope:0' not found"):
            tf.import_graph_def(graph_def, return_elements=["nope:0"])


def test_nodes_out_of_order_import_and_cycles_are_refused():
    a = tf.constant(2.0, name="a")
    tf.square(a + 1.0, name="b")
    graph_def = tf.get_default_graph().as_graph_def()
    reversed_def = tf.GraphDef()
    reversed_def.node.extend(reversed(graph_def.node))
    with tf.Graph().as_default():
        (b,) = tf.import_graph_def(reversed_def, return_elements=["b:0"])
        assert tf.Session("local").run(b) == 9.0
    cyclic = tf.GraphDef()
    cyclic.node.add(name="p", op="Identity", input=["q"])
    cyclic.node.add(name="q", op="Identity", input=["p"])
    with pytest.raises(ValueError, match="cycle"):
        tf.import_graph_def(cyclic)


def test_unknown_op_types_and_missing_inputs_are_value_errors():
    graph_def = tf.GraphDef()
    graph_def.node.add(name="f", op="FancyOp")
    with pytest.raises(ValueError, match="Op type not registered 'FancyOp'.*node 'f'"):
        tf.import_graph_def(graph_def)
    graph_def = tf.GraphDef()
    graph_def.node.add(name="i", op="Identity", input=["ghost"])
    with pytest.raises(ValueError, match="Unknown input node 'ghost'"):
        tf.import_graph_def(graph_def)
    before = tf.get_default_graph().version
    graph_def.node.add(name="ghost", op="FancyOp")
    with pytest.raises(ValueError):
        tf.import_graph_def(graph_def)
    assert tf.get_default_graph().version == before  # checked before any op is added


def test_control_flow_exports_but_does_not_import():
    x = tf.placeholder(tf.float32, [], name="x")
    tf.while_loop(lambda i: i < 10, lambda i: i + 1, [tf.constant(0)])
    tf.cond(x > 0, lambda: x * 2, lambda: x)
    graph_def = tf.get_default_graph().as_graph_def(add_shapes=True)
    assert {"While", "If"} <= {n.op for n in graph_def.node}
    with tf.Graph().as_default():
        with pytest.raises(NotImplementedError, match="node 'while/while' of type While"):
            tf.import_graph_def(graph_def)


def test_colocation_and_devices_survive():
    with tf.device("/cpu:0"):
        v = tf.Variable(1.0, name="v")
    graph_def = tf.get_default_graph().as_graph_def()
    read = next(n for n in graph_def.node if n.name == "v/read")
    assert list(read.attr["_class"].list.s) == [b"loc:@v"]
    with tf.Graph().as_default() as g:
        tf.import_graph_def(graph_def, name="m")
        assert g.get_operation_by_name("m/v/read").colocation_groups == ["m/v"]
        assert g.get_operation_by_name("m/v").device == v.op.device != ""


# -- files --------------------------------------------------------------------------------


def test_write_graph_text_and_binary(tmp_path):
    x = tf.placeholder(tf.float32, [2], name="x")
    tf.nn.relu(x * 3.0 - 1.0, name="out")
    g = tf.get_default_graph()
    text_path = tf.train.write_graph(g, str(tmp_path / "new"), "g.pbtxt")
    assert text_path == str(tmp_path / "new" / "g.pbtxt")
    binary_path = tf.io.write_graph(g.as_graph_def(), str(tmp_path), "g.pb", as_text=False)
    from_text = text_format.Parse(open(text_path).read(), tf.GraphDef())
    from_binary = tf.GraphDef.FromString(open(binary_path, "rb").read())
    assert from_text == from_binary == g.as_graph_def()
    with tf.Graph().as_default():
        (out,) = tf.import_graph_def(from_text, {"x": tf.constant([1.0, 0.0])}, ["out:0"])
        np.testing.assert_allclose(tf.Session("local").run(out), [2.0, 0.0])


def test_proto_classes_are_in_the_namespace():
    node = tf.NodeDef(name="c", op="Const")
    node.attr["dtype"].CopyFrom(tf.AttrValue(type=1))
    assert tf.GraphDef(node=[node]).node[0].name == "c"
    assert tf.MetaGraphDef().graph_def == tf.GraphDef()


# -- meta graphs ----------------------------------------------------------------------------


def _program_one(directory):
    """Trains a little, saves a checkpoint (with its .meta), returns the path and the next losses."""
    loss = _model()
    saver = tf.train.Saver()
    g = tf.get_default_graph()
    with tf.Session("local") as sess:
        sess.run(g.get_operation_by_name("init"))
        train = g.get_operation_by_name("train")
        for _ in range(2):
            sess.run(train, {"x:0": XS, "y:0": YS})
        path = saver.save(sess, os.path.join(directory, "model"), global_step=tf.train.get_global_step())
        later = [sess.run([train, loss], {"x:0": XS, "y:0": YS})[1] for _ in range(3)]
    return path, later


def test_a_second_program_restores_the_meta_graph_and_runs_by_names(tmp_path):
    path, later = _program_one(str(tmp_path))
    assert path.endswith("model-2") and os.path.exists(path + ".meta")
    n_vars = len(tf.global_variables())
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(path + ".meta")
        assert len(tf.global_variables()) == n_vars
        assert {v.name for v in tf.trainable_variables()} <= {v.name for v in tf.global_variables()}
        assert tf.train.get_global_step().name == "global_step:0"
        (train,) = tf.get_collection(tf.GraphKeys.TRAIN_OP)
        assert train.name == "train"
        with tf.Session("local") as sess:
            saver.restore(sess, path)
            assert sess.run(tf.train.get_global_step()) == 2
            got = [sess.run([train, "loss:0"], {"x:0": XS, "y:0": YS})[1] for _ in range(3)]
            again = saver.save(sess, str(tmp_path / "again"))
            assert os.path.exists(again + ".meta")
    np.testing.assert_allclose(got, later, rtol=1e-6)


def test_variables_and_the_saver_adopt_imported_ops(tmp_path):
    w = tf.Variable([1.0, 2.0], name="w")
    b = tf.Variable(3.0, name="b", trainable=False)
    saver = tf.train.Saver({"weights": w, "bias": b})
    tf.add_to_collection("names", "hello")
    tf.add_to_collection("numbers", 4)
    tf.add_to_collection("tensors", w.value())
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(w.assign([5.0, 6.0]))
        path = saver.save(sess, str(tmp_path / "m"), write_meta_graph=False)
    assert not os.path.exists(path + ".meta")
    meta = saver.export_meta_graph(str(tmp_path / "m.meta"), as_text=True)
    assert meta.saver_def.restore_op_name == "save/restore_all"
    assert set(meta.collection_def) >= {"variables", "trainable_variables", "names", "numbers", "tensors"}
    with tf.Graph().as_default():
        restored = tf.train.import_meta_graph(str(tmp_path / "m.meta"), import_scope="copy")
        (w2,) = tf.trainable_variables()
        assert w2.name == "copy/w:0" and w2.initializer.name == "copy/w/Assign"
        assert [v.name for v in tf.global_variables()] == ["copy/w:0", "copy/b:0"]
        assert tf.get_collection("names") == [b"hello"] and tf.get_collection("numbers") == [4]
        assert tf.get_collection("tensors")[0].name == "copy/w/read:0"
        with tf.Session("local") as sess:
            restored.restore(sess, path)  # checkpoint keys "weights" and "bias", from the keys Const
            w_value, b_value = sess.run(tf.global_variables())
            np.testing.assert_allclose(w_value, [5.0, 6.0])
            assert b_value == 3.0
            sess.run(tf.global_variables_initializer())
            np.testing.assert_allclose(sess.run(w2), [1.0, 2.0])


def test_export_scope_and_clear_devices():
    with tf.device("/cpu:0"), tf.name_scope("net"):
        v = tf.Variable(2.0, name="v")
        tf.multiply(v, 3.0, name="y")
    tf.constant(0.0, name="outside")
    meta = tf.train.export_meta_graph(export_scope="net", clear_devices=True)
    assert "outside" not in [n.name for n in meta.graph_def.node]
    assert all(n.device == "" for n in meta.graph_def.node)
    with tf.Graph().as_default():
        assert tf.train.import_meta_graph(tf.MetaGraphDef()) is None  # no variables: no Saver
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(meta, import_scope="again")
        assert isinstance(saver, tf.train.Saver)  # no SaverDef: one over all variables
        (v2,) = tf.global_variables()
        assert v2.name == "again/v:0"
        with tf.Session("local") as sess:
            sess.run(v2.initializer)
            assert sess.run("again/y:0") == 6.0


def test_old_meta_files_go_with_their_checkpoints(tmp_path):
    tf.Variable(1.0, name="v")
    saver = tf.train.Saver(max_to_keep=1)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        saver.save(sess, str(tmp_path / "m"), global_step=1)
        saver.save(sess, str(tmp_path / "m"), global_step=2)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "m-2.meta", "m-2.safetensors"]


# -- init_from_checkpoint -------------------------------------------------------------------


def _checkpoint(directory):
    with tf.Graph().as_default():
        with tf.variable_scope("old"):
            tf.get_variable("w", initializer=np.arange(6, dtype=np.float32).reshape(2, 3))
            tf.get_variable("b", initializer=np.array([7.0, 8.0], np.float32))
        tf.get_variable("top", initializer=np.float32(9.0))
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            return tf.train.Saver().save(sess, os.path.join(directory, "ckpt"))


def test_init_from_checkpoint_maps_names_scopes_and_variables(tmp_path):
    path = _checkpoint(str(tmp_path))
    with tf.variable_scope("new"):
        w = tf.get_variable("w", [2, 3])
        b = tf.get_variable("b", [2])
    top = tf.get_variable("top_copy", [])
    plain = tf.Variable(0.0, name="plain")
    untouched = tf.get_variable("untouched", initializer=np.float32(-1.0))
    tf.train.init_from_checkpoint(str(tmp_path), {"old/": "new/", "top": "top_copy"})
    tf.train.init_from_checkpoint(path, {"top": plain})
    assert w.initial_value.op.type == "RestoreV2"
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([w, b, top, plain, untouched])
    np.testing.assert_array_equal(got[0], np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(got[1], [7.0, 8.0])
    assert got[2:] == [9.0, 9.0, -1.0]


def test_init_from_checkpoint_root_scope(tmp_path):
    _checkpoint(str(tmp_path))
    with tf.variable_scope("model"):
        with tf.variable_scope("old"):
            w = tf.get_variable("w", [2, 3])
            tf.get_variable("b", [2])
        tf.get_variable("top", [])
    tf.train.init_from_checkpoint(str(tmp_path), {"/": "model/"})
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(w), np.arange(6).reshape(2, 3))


def test_init_from_checkpoint_errors(tmp_path):
    _checkpoint(str(tmp_path))
    wrong = tf.get_variable("wrong", [3, 2])
    tf.get_variable("extra/x", [1])
    with pytest.raises(ValueError, match="Tensor nope is not found"):
        tf.train.init_from_checkpoint(str(tmp_path), {"nope": wrong})
    with pytest.raises(ValueError, match=r"Shape of variable wrong:0 .* old/w"):
        tf.train.init_from_checkpoint(str(tmp_path), {"old/w": "wrong"})
    with pytest.raises(ValueError, match="Should be 'scope/': 'other_scope/'"):
        tf.train.init_from_checkpoint(str(tmp_path), {"old/w": "extra/"})
    with pytest.raises(ValueError, match=r"Tensor old/x \(x in old/\) is not found"):
        tf.train.init_from_checkpoint(str(tmp_path), {"old/": "extra/"})


# -- graph_util -------------------------------------------------------------------------------


def test_convert_variables_to_constants_freezes_what_the_outputs_need():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    w = tf.Variable([[1.0], [2.0]], name="w")
    skip = tf.Variable(5.0, name="skip")
    tf.identity(tf.matmul(x, w) + skip, name="out")
    tf.Variable(0.0, name="unused")
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(w.assign([[3.0], [4.0]]))
        frozen = tf.graph_util.convert_variables_to_constants(
            sess, sess.graph.as_graph_def(), ["out"], variable_names_blacklist=["skip"]
        )
    kinds = {n.name: n.op for n in frozen.node}
    assert kinds["w"] == "Const" and kinds["skip"] == "VariableV2" and "unused" not in kinds
    assert "w/Assign" not in kinds  # initializers are not needed by "out"
    subset = tf.graph_util.extract_sub_graph(frozen, ["out"])
    assert [n.name for n in subset.node] == [n.name for n in frozen.node]
    with pytest.raises(TypeError):
        tf.graph_util.extract_sub_graph(frozen, "out")
    with pytest.raises(AssertionError, match="zzz is not in graph"):
        tf.graph_util.extract_sub_graph(frozen, ["zzz"])
    without_skip = tf.graph_util.convert_variables_to_constants(
        tf.Session("local"), frozen, ["out"], variable_names_whitelist=[]
    )
    assert without_skip == frozen
    with tf.Graph().as_default():
        skip2 = tf.constant(1.0)
        (out,) = tf.import_graph_def(frozen, {"skip": skip2}, ["out:0"], name="")
        result = tf.Session("local").run(out, {"x:0": [[1.0, 1.0]]})
    np.testing.assert_allclose(result, [[8.0]])


def test_remove_training_nodes_splices_identities():
    x = tf.placeholder(tf.float32, [], name="x")
    a = tf.identity(x, name="a")
    b = tf.identity(a, name="b")
    tf.add(b, 1.0, name="out")
    kept = tf.identity(x, name="kept")
    with tf.control_dependencies([kept]):
        tf.no_op(name="after")
    pruned = tf.graph_util.remove_training_nodes(tf.get_default_graph().as_graph_def(), ["b"])
    names = [n.name for n in pruned.node]
    assert "a" not in names and "b" in names and "kept" in names
    assert list(next(n for n in pruned.node if n.name == "b").input) == ["x"]
    assert tf.graph_util.tensor_shape_from_node_def_name(tf.get_default_graph(), "out").as_list() == []


def test_restore_v2_reads_when_the_initializer_runs(tmp_path):
    path = _checkpoint(str(tmp_path))
    w = tf.get_variable("w", [2, 3])
    tf.train.init_from_checkpoint(path, {"old/w": w})
    os.remove(path + ".safetensors")  # read at run time, not when the graph was built
    with tf.Session("local") as sess:
        with pytest.raises(tf.errors.NotFoundError, match="ckpt.safetensors does not exist"):
            sess.run(w.initializer)  # a run with no fetches may report its failure on the next run
            sess.run(w)


def test_the_savers_collection_goes_into_a_meta_graph_as_saver_defs(tmp_path):
    import warnings

    with tf.Graph().as_default():
        v = tf.Variable([1.0, 2.0], name="v")
        saver = tf.train.Saver(max_to_keep=3)
        tf.add_to_collection(tf.GraphKeys.SAVERS, saver)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "Issue encountered when serializing: savers"
            meta = tf.train.export_meta_graph(str(tmp_path / "m.meta"))
        assert len(meta.collection_def["savers"].bytes_list.value) == 1
        with tf.Session("local") as sess:
            sess.run(v.initializer)
            path = saver.save(sess, str(tmp_path / "ckpt"))
    with tf.Graph().as_default():
        tf.train.import_meta_graph(str(tmp_path / "m.meta"))
        (restored,) = tf.get_collection(tf.GraphKeys.SAVERS)
        assert isinstance(restored, tf.train.Saver) and restored.saver_def.max_to_keep == 3
        with tf.Session("local") as sess:
            restored.restore(sess, path)
            np.testing.assert_array_equal(sess.run("v:0"), [1.0, 2.0])
