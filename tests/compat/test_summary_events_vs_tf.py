"""FileWriter's meta graph events, session= writers, and pre-1.0 tag tensors, against TensorFlow.

The same TF1 program runs on `tensorflow.compat.v1` and on raygraph ("local"
target); TensorFlow's own reader (`tf.compat.v1.train.summary_iterator`) and
protos read both event files. Tag tensors are compared against TF's raw
ScalarSummary / HistogramSummary / ImageSummary ops, which take their tags as
tensors as TF's pre-1.0 `tf.scalar_summary` did.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat
v1 = tf1.compat.v1


def write(tf, logdir: str, session_writer: bool) -> None:
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [None, 2], name="x")
        with tf.name_scope("model"):
            w = tf.Variable(np.ones([2, 1], np.float32), name="w")
            y = tf.matmul(x, w, name="y")
        tf.add_to_collection("outputs", y)
        target = "local" if tf is raygraph else ""
        with tf.Session(target) as sess:
            sess.run(tf.global_variables_initializer())
            kwargs = {"session": sess} if session_writer else {}
            writer = tf.summary.FileWriter(logdir, graph, **kwargs)
            writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="a", simple_value=2.0)]), 3)
            writer.add_meta_graph(tf.train.export_meta_graph(), global_step=4)
            writer.close()


def read(logdir: str) -> tuple[list[str], list]:
    files = sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*")))
    events = [e for f in files for e in v1.train.summary_iterator(f)]
    return [os.path.splitext(f)[1] for f in files], events


@pytest.mark.parametrize("session_writer", [False, True], ids=["plain", "session"])
def test_event_files_hold_the_same_graph_meta_graph_and_summary_events(tmp_path, session_writer):
    results = {}
    for name, tf in (("tf", v1), ("rg", raygraph)):
        logdir = str(tmp_path / name)
        write(tf, logdir, session_writer)
        results[name] = read(logdir)
    (tf_suffixes, tf_events), (rg_suffixes, rg_events) = results["tf"], results["rg"]
    assert len(rg_suffixes) == len(tf_suffixes) == 1
    assert rg_suffixes[0].endswith(".v2") == tf_suffixes[0].endswith(".v2") == session_writer

    def kinds(events):
        return [(e.WhichOneof("what"), e.step) for e in events if e.WhichOneof("what") != "file_version"]

    assert kinds(rg_events) == kinds(tf_events)
    for tf_event, rg_event in zip(
        [e for e in tf_events if e.WhichOneof("what") == "meta_graph_def"],
        [e for e in rg_events if e.WhichOneof("what") == "meta_graph_def"],
    ):
        theirs = tf1.compat.v1.MetaGraphDef.FromString(tf_event.meta_graph_def)
        ours = tf1.compat.v1.MetaGraphDef.FromString(rg_event.meta_graph_def)  # TF's proto parses ours
        forward = {"x", "model/w", "model/y"}
        assert forward <= {n.name for n in ours.graph_def.node}
        assert forward <= {n.name for n in theirs.graph_def.node}
        assert list(ours.collection_def["outputs"].node_list.value) == list(
            theirs.collection_def["outputs"].node_list.value
        )
    summaries = [
        [(v.tag, v.simple_value) for v in e.summary.value] for e in rg_events if e.HasField("summary")
    ]
    assert summaries == [[("a", 2.0)]]


def summaries(tf, build) -> list:
    """The decoded Summary protos of `build(tags, values...)`'s ops, run with run-time tags."""
    with tf.Graph().as_default():
        tag = tf.placeholder(tf.string, [], name="tag")
        tags = tf.placeholder(tf.string, [2], name="tags")
        ops = build(tf, tag, tags)
        with tf.Session("local" if tf is raygraph else "") as sess:
            out = sess.run(ops, {tag: "dyn", tags: ["p/a", "p/b"]})
    return [raygraph.Summary.FromString(s) for s in out]


def _tf_build(tf, tag, tags):
    raw = tf1.raw_ops
    images = np.linspace(-1, 1, 2 * 3 * 4 * 1, dtype=np.float32).reshape(2, 3, 4, 1)
    return [
        raw.ScalarSummary(tags=tags, values=tf.constant([1.5, -2.0])),
        raw.ScalarSummary(tags=tf.constant("fixed"), values=tf.constant(3.0)),
        raw.HistogramSummary(tag=tag, values=tf.constant([0.5, 1.0, 1.0, 7.0])),
        raw.ImageSummary(tag=tag, tensor=tf.constant(images), max_images=2),
    ]


def _rg_build(tf, tag, tags):
    images = np.linspace(-1, 1, 2 * 3 * 4 * 1, dtype=np.float32).reshape(2, 3, 4, 1)
    with tf.name_scope("ignored"):  # pre-1.0 tags are used as given
        return [
            tf.scalar_summary(tags, tf.constant([1.5, -2.0])),
            tf.scalar_summary(tf.constant("fixed"), tf.constant(3.0)),
            tf.histogram_summary(tag, tf.constant([0.5, 1.0, 1.0, 7.0])),
            tf.image_summary(tag, tf.constant(images), max_images=2),
        ]


def test_pre_1_0_summaries_take_tags_as_tensors_like_tfs_ops():
    theirs = summaries(v1, _tf_build)
    ours = summaries(raygraph, _rg_build)
    assert [[v.tag for v in s.value] for s in ours] == [[v.tag for v in s.value] for s in theirs]
    assert [[v.tag for v in s.value] for s in ours][0] == ["p/a", "p/b"]
    for a, b in zip(ours[:2], theirs[:2]):
        assert [v.simple_value for v in a.value] == [v.simple_value for v in b.value]
    h_ours, h_theirs = ours[2].value[0].histo, theirs[2].value[0].histo
    assert h_ours.SerializeToString() == h_theirs.SerializeToString()
    for a, b in zip(ours[3].value, theirs[3].value):
        assert (a.image.height, a.image.width) == (b.image.height, b.image.width)
