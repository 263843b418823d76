"""tf.summary.FileWriter, FileWriterCache, hand-built tf.Summary, and Graph.as_graph_def.

Event files are read back with TensorBoard's own reader (EventAccumulator), so a
file TensorBoard cannot read fails here.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader, LegacyEventFileLoader

import raygraph as tf


def events(logdir) -> list:
    """Every Event in every event file of `logdir`, in file order."""
    out = []
    for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
        out.extend(EventFileLoader(path).Load())
    return out


def accumulate(logdir) -> event_accumulator.EventAccumulator:
    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def test_file_writer_writes_summaries_from_a_session(tmp_path):
    x = tf.placeholder(tf.float32, [None])
    tf.summary.scalar("average", tf.reduce_mean(x))
    tf.summary.histogram("values", x)
    merged = tf.summary.merge_all()
    writer = tf.summary.FileWriter(str(tmp_path), tf.get_default_graph())
    with tf.Session("local") as sess:
        for step in range(3):
            writer.add_summary(sess.run(merged, {x: np.arange(4.0) + step}), global_step=step)
    writer.close()
    acc = accumulate(tmp_path)
    assert sorted(acc.Tags()["scalars"]) == ["average"]
    assert [(e.step, e.value) for e in acc.Scalars("average")] == [(0, 1.5), (1, 2.5), (2, 3.5)]
    histo = acc.Histograms("values")[-1].histogram_value
    assert (histo.min, histo.max, histo.num, histo.sum) == (2.0, 5.0, 4.0, 14.0)
    assert acc.Tags()["graph"]
    assert "values" in [n.name for n in acc.Graph().node]


def test_hand_built_summary_and_add_event(tmp_path):
    with tf.summary.FileWriter(tmp_path) as writer:
        assert writer.get_logdir() == str(tmp_path)
        writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="acc", simple_value=0.75)]), 7)
        writer.add_event(
            tf.Event(step=8, summary=tf.Summary(value=[tf.Summary.Value(tag="acc", simple_value=0.5)]))
        )
    acc = accumulate(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("acc")] == [(7, 0.75), (8, 0.5)]


def test_plugin_metadata_is_written_with_a_tags_first_value_only(tmp_path):
    text = tf.summary.text("note", tf.constant("hi"))
    with tf.Session("local") as sess, tf.summary.FileWriter(tmp_path) as writer:
        for step in range(2):
            writer.add_summary(sess.run(text), step)
    values = [v for e in events(tmp_path) if e.HasField("summary") for v in e.summary.value]
    assert [v.HasField("metadata") for v in values] == [True, False]


def test_close_then_reopen_starts_a_new_event_file(tmp_path):
    writer = tf.summary.FileWriter(tmp_path, filename_suffix=".rg")
    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="a", simple_value=1.0)]), 1)
    writer.close()
    with pytest.warns(UserWarning, match="closed FileWriter"):
        writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="a", simple_value=9.0)]), 2)
    writer.reopen()
    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="a", simple_value=2.0)]), 2)
    writer.flush()
    writer.close()
    files = glob.glob(os.path.join(tmp_path, "events.out.tfevents.*"))
    assert len(files) == 2 and all(f.endswith(".rg") for f in files)
    assert [e.value for e in accumulate(tmp_path).Scalars("a")] == [1.0, 2.0]


def test_add_run_metadata_writes_the_step_stats(tmp_path):
    x = tf.constant(2.0, name="x")
    y = tf.square(x, name="y")
    md = tf.RunMetadata()
    with tf.Session("local") as sess:
        sess.run(y, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
    with tf.summary.FileWriter(tmp_path) as writer:
        writer.add_run_metadata(md, "step1", global_step=1)
    acc = accumulate(tmp_path)
    assert acc.Tags()["run_metadata"] == ["step1"]
    nodes = [ns.node_name for d in acc.RunMetadata("step1").step_stats.dev_stats for ns in d.node_stats]
    assert "y" in nodes


def test_file_writer_cache_shares_one_writer_per_directory(tmp_path):
    try:
        a = tf.summary.FileWriterCache.get(str(tmp_path))
        assert tf.summary.FileWriterCache.get(str(tmp_path)) is a
    finally:
        tf.summary.FileWriterCache.clear()
    assert tf.summary.FileWriterCache.get(str(tmp_path)) is not a
    tf.summary.FileWriterCache.clear()


def test_as_graph_def_names_scopes_inputs_devices_and_attrs():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with tf.device("/cpu:0"), tf.name_scope("layer"):
        w = tf.Variable(tf.ones([3, 2]), name="w")
        y = tf.matmul(x, w, name="y")
    with tf.control_dependencies([y]):
        z = tf.identity(y, name="z")
    graph_def = tf.get_default_graph().as_graph_def(add_shapes=True)
    nodes = {n.name: n for n in graph_def.node}
    assert list(nodes) == [op.name for op in tf.get_default_graph().get_operations()]
    assert nodes["layer/y"].op == "MatMul"
    assert list(nodes["layer/y"].input) == ["x", "layer/w/read"]
    assert "CPU:0" in nodes["layer/y"].device
    assert list(nodes["z"].input) == ["layer/y", "^layer/y"]
    assert nodes["x"].attr["dtype"].type == 1  # DT_FLOAT
    assert [d.size for d in nodes["x"].attr["shape"].shape.dim] == [-1, 3]
    assert [d.size for d in nodes["layer/y"].attr["_output_shapes"].list.shape[0].dim] == [-1, 2]
    assert nodes["layer/w"].attr["shape"].shape.dim[0].size == 3
    assert z.op.name == "z"
    version = tf.get_default_graph().version
    tf.constant(1.0, name="late")
    assert [n.name for n in tf.get_default_graph().as_graph_def(from_version=version).node] == ["late"]


# -- meta graphs, session=, fsspec logdirs, no TensorFlow ------------------------------------


def test_a_graph_given_to_the_writer_is_written_as_graph_def_and_meta_graph(tmp_path):
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    tf.add_to_collection("outputs", tf.identity(x * 2.0, name="y"))
    with tf.summary.FileWriter(tmp_path, tf.get_default_graph()):
        pass
    got = events(tmp_path)
    metas = [e for e in got if e.HasField("meta_graph_def")]
    assert [e.HasField("graph_def") for e in got].count(True) == 1 and len(metas) == 1
    meta = tf.MetaGraphDef.FromString(metas[0].meta_graph_def)
    assert "y" in [n.name for n in meta.graph_def.node]
    assert list(meta.collection_def["outputs"].node_list.value) == ["y:0"]
    acc = accumulate(tmp_path)
    assert acc.Tags()["meta_graph"] and "y" in [n.name for n in acc.MetaGraph().graph_def.node]


def test_add_meta_graph_writes_what_import_meta_graph_reads(tmp_path):
    w = tf.Variable([[1.0, 2.0]], name="w")
    tf.matmul(w, w, transpose_b=True, name="out")
    meta = tf.train.export_meta_graph()
    with tf.summary.FileWriter(tmp_path) as writer:
        writer.add_meta_graph(meta, global_step=3)
        with pytest.raises(TypeError, match="MetaGraphDef"):
            writer.add_meta_graph(meta.graph_def)
    (event,) = [e for e in events(tmp_path) if e.HasField("meta_graph_def")]
    assert event.step == 3
    with tf.Graph().as_default() as g:
        tf.train.import_meta_graph(tf.MetaGraphDef.FromString(event.meta_graph_def))
        assert g.get_tensor_by_name("out:0").shape.as_list() == [1, 1]
        assert [v.op.name for v in tf.global_variables()] == ["w"]


def test_a_run_metadata_tag_is_used_once(tmp_path):
    md = tf.RunMetadata()
    with tf.summary.FileWriter(tmp_path) as writer:
        writer.add_run_metadata(md, "step1")
        with pytest.raises(ValueError, match="already used"):
            writer.add_run_metadata(md, "step1")


def test_file_writers_of_one_session_and_logdir_share_an_event_file(tmp_path):
    tf.constant(1.0, name="c")
    with tf.Session("local") as sess:
        a = tf.summary.FileWriter(tmp_path, sess.graph, session=sess)
        b = tf.summary.FileWriter(tmp_path, session=sess)
        a.add_summary(tf.Summary(value=[tf.Summary.Value(tag="a", simple_value=1.0)]), 1)
        b.add_summary(tf.Summary(value=[tf.Summary.Value(tag="b", simple_value=2.0)]), 1)
        b.close()  # closes the shared file for a too, as TF's shared writer resource does
        with pytest.warns(UserWarning, match="closed FileWriter"):
            a.add_summary(tf.Summary(value=[tf.Summary.Value(tag="a", simple_value=3.0)]), 2)
        with tf.Session("local") as other:
            tf.summary.FileWriter(tmp_path, session=other).close()
    files = sorted(glob.glob(os.path.join(tmp_path, "events.out.tfevents.*")))
    assert len(files) == 2 and all(f.endswith(".v2") for f in files)
    acc = accumulate(tmp_path)
    assert acc.Tags()["graph"] and sorted(acc.Tags()["scalars"]) == ["a", "b"]
    assert [e.value for e in acc.Scalars("a")] == [1.0]
    with pytest.raises(TypeError, match="Session"):
        tf.summary.FileWriter(tmp_path, session="not a session")


def test_file_writer_writes_to_an_fsspec_memory_logdir():
    fsspec = pytest.importorskip("fsspec")
    logdir = "memory://rg-summary-test/run1"
    tf.summary.scalar("s", tf.constant(4.0))
    merged = tf.summary.merge_all()
    try:
        with tf.Session("local") as sess, tf.summary.FileWriter(logdir, sess.graph) as writer:
            writer.add_summary(sess.run(merged), 5)
        fs = fsspec.filesystem("memory")
        (path,) = fs.glob("/rg-summary-test/run1/events.out.tfevents.*")
        local = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"rg-{os.getpid()}.tfevents")
        fs.get_file(path, local)
        got = list(LegacyEventFileLoader(local).Load())
        os.remove(local)
        values = [
            (e.step, v.tag, v.simple_value) for e in got if e.HasField("summary") for v in e.summary.value
        ]
        assert values == [(5, "s", 4.0)]
        assert any(e.HasField("graph_def") for e in got) and any(e.HasField("meta_graph_def") for e in got)
        assert not os.path.exists("memory:")
    finally:
        fsspec.filesystem("memory").rm("/rg-summary-test", recursive=True)


def test_writing_events_does_not_import_tensorflow(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, raygraph as tf\n"
        f"w = tf.summary.FileWriter({str(tmp_path)!r}, tf.get_default_graph())\n"
        "w.add_summary(tf.Summary(value=[tf.Summary.Value(tag='a', simple_value=1.0)]), 1)\n"
        "w.close()\n"
        "print('tensorflow' in sys.modules)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.strip() == "False"
    assert [e.value for e in accumulate(tmp_path).Scalars("a")] == [1.0]
