"""raygraph.viz: graphs drawn as SVG (built-in layout and Graphviz), progress, timelines."""

from __future__ import annotations

import os
import shutil
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import raygraph as tf
from raygraph import layered_layout, viz

EXAMPLES = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples"
)


def _small_model():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with tf.name_scope("layer"):
        w = tf.Variable(tf.ones([3, 2]), name="w")
        y = tf.matmul(x, w, name="y")
    loss = tf.reduce_mean(tf.square(y), name="loss")
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return x, loss, train


def _digits_graph():
    sys.path.insert(0, EXAMPLES)
    try:
        from train_digits import build_model
    finally:
        sys.path.remove(EXAMPLES)
    build_model(1e-3)
    tf.train.Saver()
    tf.global_variables_initializer()
    return tf.get_default_graph()


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("text")]


def test_a_graph_shows_itself_as_svg_with_names_types_dtypes_and_shapes():
    _small_model()
    svg = tf.get_default_graph()._repr_svg_()
    texts = _texts(svg)
    assert "x" in texts and "Placeholder" in texts  # an op: its name and type
    assert "layer" in texts and any(t.endswith("ops") for t in texts)  # a collapsed scope, counted
    assert "float32 [?, 3]" in texts  # the edge x -> layer: dtype and shape


def test_scopes_collapse_to_top_level_boxes_and_expand_opens_them():
    _small_model()
    ops = tf.get_default_graph().get_operations()
    boxes, _ = viz.summarize(ops)
    keys = {b.key for b in boxes}
    assert "layer" in keys and "gradients" in keys and not any("/" in k for k in keys)
    assert sum(len(b.ops) for b in boxes) == len(ops)
    opened = {b.key for b in viz.summarize(ops, expand=["layer"])[0]}
    assert "layer/y" in opened and "layer" not in opened and "gradients" in opened
    assert len(viz.summarize(ops, expand=True)[0]) == len(ops)


def test_the_gradient_part_is_set_apart():
    _small_model()
    svg = viz.to_svg(engine="builtin")
    assert "gradients (backprop)" in _texts(svg)  # its legend entry
    assert viz._GRADIENT_STROKE in svg
    (gradients,) = [b for b in viz.summarize(tf.get_default_graph().get_operations())[0] if b.gradient]
    assert gradients.key == "gradients"


def test_the_digits_cnn_collapses_to_under_60_boxes():
    graph = _digits_graph()
    boxes, _ = viz.summarize(graph.get_operations())
    assert len(boxes) < 60
    assert len(graph.get_operations()) > 200  # so collapsing did something


def test_a_session_plan_is_drawn_coloured_by_device(tmp_path):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with tf.device("/cpu:0"):
        a = tf.square(x, name="a")
    with tf.device("/cpu:1"):
        b = tf.reduce_sum(a, name="b")
    tf.negative(x, name="unused")
    config = tf.ConfigProto(device_count={"CPU": 2})
    with tf.Session("local", config=config) as sess:
        where = viz.placement(sess, b, {x: np.ones((2, 3), np.float32)})
        assert where["a"].endswith("CPU:0") and where["b"].endswith("CPU:1") and "unused" not in where
        path = tmp_path / "plan.svg"
        svg = viz.to_svg(sess, path, fetches=b, feed_dict={x: None}, engine="builtin")
    assert path.read_text() == svg
    texts = _texts(svg)
    assert "CPU:0" in texts and "CPU:1" in texts and "unused" not in texts
    fills = {
        viz._colors(viz.summarize(sess.graph.get_operations(), placement=where)[0])[d] for d in where.values()
    }
    assert len(fills) == 2


def test_the_builtin_layout_keeps_boxes_apart_and_edges_off_boxes():
    graph = _digits_graph()
    boxes, links = viz.summarize(graph.get_operations(), expand=["dense", "gradients"])
    sizes = {b.key: viz._box_size(b) for b in boxes}
    edges = [layered_layout.Edge(k.source, k.target, (60, 12)) for k in links]
    laid = layered_layout.layout(sizes, edges)
    rects = {
        v: (x - sizes[v][0] / 2, y - sizes[v][1] / 2, x + sizes[v][0] / 2, y + sizes[v][1] / 2)
        for v, (x, y) in laid.centers.items()
    }
    names = sorted(rects)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not _overlap(rects[a], rects[b]), (a, b)
    for path in laid.paths:
        ends = {path.edge.source, path.edge.target}
        for p, q in zip(path.points, path.points[1:]):
            for v, r in rects.items():
                if v not in ends:
                    assert not _segment_hits(p, q, r), (path.edge, v)
    assert 0 < laid.width and 0 < laid.height


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _segment_hits(p, q, r, steps: int = 20) -> bool:
    for k in range(steps + 1):
        x = p[0] + (q[0] - p[0]) * k / steps
        y = p[1] + (q[1] - p[1]) * k / steps
        if r[0] + 1 < x < r[2] - 1 and r[1] + 1 < y < r[3] - 1:
            return True
    return False


def test_the_layout_survives_cycles_between_scopes():
    laid = layered_layout.layout(
        {"a": (40, 20), "b": (40, 20), "c": (40, 20)},
        [
            layered_layout.Edge("a", "b"),
            layered_layout.Edge("b", "c"),
            layered_layout.Edge("c", "a", (30, 10)),
        ],
    )
    assert len(laid.paths) == 3
    assert laid.centers["a"][1] < laid.centers["b"][1] < laid.centers["c"][1]
    back = laid.paths[2]
    assert back.points[0][1] > back.points[-1][1]  # drawn from c back up to a


def test_an_unknown_engine_is_refused():
    _small_model()
    with pytest.raises(ValueError, match="engine"):
        viz.to_svg(engine="neato")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_draws_the_same_boxes():
    _small_model()
    source = viz.to_dot()
    assert "cluster_gradients" in source and "float32 [?, 3]" in source
    svg = viz.to_svg(engine="dot")
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg[:400]
    assert "layer" in svg and "Placeholder" in svg


def _traced_step():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with tf.device("/cpu:1"):
        h = tf.layers.dense(x, 4)
    loss = tf.reduce_mean(tf.square(h))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    meta = tf.RunMetadata()
    with tf.Session("local", config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(tf.global_variables_initializer())
        options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
        sess.run(train, {x: np.ones((2, 3), np.float32)}, options=options, run_metadata=meta)
    return meta


def test_a_traced_step_plots_as_a_timeline_per_device(tmp_path):
    pytest.importorskip("matplotlib")
    meta = _traced_step()
    rows = viz.timeline_rows(meta.step_stats)
    devices = {label.split(" #")[0] for label, _ in rows}
    assert devices == {"CPU:0", "CPU:1"}
    assert any(op == "MatMul" for _, nodes in rows for _, op, _, _ in nodes)
    path = tmp_path / "step.png"
    fig = viz.plot_timeline(meta, path)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [label for label, _ in rows]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_progress_shows_the_loss_and_steps_per_second():
    pytest.importorskip("tqdm")
    import io

    out = io.StringIO()
    bar = viz.progress(3, desc="train", file=out, mininterval=0)
    seen = []
    for step in bar:
        seen.append(step)
        bar.set(loss=0.25)
    bar.close()
    assert seen == [0, 1, 2]
    assert bar.metrics == {"loss": 0.25}
    text = out.getvalue()
    assert "train" in text and "loss=0.25" in text and "steps/s=" in text


def test_progress_without_tqdm_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"raygraph\[notebook\]"):
        viz.progress(3)
