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
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

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
    with pytest.raises(RuntimeError, match="closed"):
        writer.add_summary(tf.Summary(), 2)
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


def test_file_writer_session_argument_is_refused(tmp_path):
    with pytest.raises(NotImplementedError, match="session"):
        tf.summary.FileWriter(tmp_path, session=object())


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
