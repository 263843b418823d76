"""tf.summary against TensorFlow 2.21's tf.compat.v1: the same event files for the same program.

One small TF1 program (a linear model trained for a few steps, a scalar loss in a
name scope, a histogram of the weights with a family, an image, merge_all, the
graph given to FileWriter) runs with `tf = raygraph` on the device actors and with
`tf = tensorflow.compat.v1`. Both event files are read with TensorBoard's
EventAccumulator: the tags, steps, scalar values, histogram statistics and
buckets, and image pixels must agree, and both files carry a graph with the same node names.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

from PIL import Image  # noqa: E402
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402

import raygraph  # noqa: E402

pytestmark = [pytest.mark.compat, pytest.mark.usefixtures("ray_cluster")]

STEPS = 4


def write_run(tf, logdir: str) -> None:
    """The TF1 program: trains y = x w + b and writes its summaries every step."""
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, (16, 3)).astype(np.float32)
    ys = (xs @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype(np.float32)
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        y = tf.placeholder(tf.float32, [None, 1], name="y")
        with tf.name_scope("model"):
            w = tf.Variable(np.full((3, 1), 0.1, np.float32), name="w")
            b = tf.Variable(np.zeros(1, np.float32), name="b")
            pred = tf.matmul(x, w) + b
        with tf.name_scope("train"):
            loss = tf.reduce_mean(tf.square(pred - y))
            tf.summary.scalar("loss", loss)
            step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        tf.summary.histogram("weights", w, family="params")
        tf.summary.image("inputs", tf.reshape(x[:2], [2, 1, 3, 1]))
        merged = tf.summary.merge_all()
        writer = tf.summary.FileWriter(logdir, graph)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for i in range(STEPS):
                # summaries in their own run: in one run with `step`, reading w races its update
                writer.add_summary(sess.run(merged, {x: xs, y: ys}), global_step=i)
                sess.run(step, {x: xs, y: ys})
        writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="by_hand", simple_value=1.5)]), STEPS)
        writer.close()


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def read(logdir) -> event_accumulator.EventAccumulator:
    guidance = {"scalars": 0, "histograms": 0, "images": 0}
    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance=guidance)
    acc.Reload()
    return acc


def test_event_files_match_tensorflow(tmp_path):
    write_run(raygraph, str(tmp_path / "raygraph"))
    write_run(tf1.compat.v1, str(tmp_path / "tf"))
    ours, theirs = read(tmp_path / "raygraph"), read(tmp_path / "tf")
    for kind in ("scalars", "histograms", "images"):
        assert sorted(ours.Tags()[kind]) == sorted(theirs.Tags()[kind]), kind
    assert "train/loss" in ours.Tags()["scalars"] and "params/params/weights" in ours.Tags()["histograms"]
    for tag in theirs.Tags()["scalars"]:
        a, b = ours.Scalars(tag), theirs.Scalars(tag)
        assert [e.step for e in a] == [e.step for e in b]
        np.testing.assert_allclose([e.value for e in a], [e.value for e in b], rtol=1e-5)
    for tag in theirs.Tags()["histograms"]:
        for a, b in zip(ours.Histograms(tag), theirs.Histograms(tag), strict=True):
            assert a.step == b.step
            h, g = a.histogram_value, b.histogram_value
            np.testing.assert_allclose(
                [h.min, h.max, h.num, h.sum, h.sum_squares],
                [g.min, g.max, g.num, g.sum, g.sum_squares],
                rtol=1e-5,
            )
            assert list(h.bucket_limit) == list(g.bucket_limit)
            assert list(h.bucket) == list(g.bucket)
    for tag in theirs.Tags()["images"]:
        a, b = ours.Images(tag)[-1], theirs.Images(tag)[-1]
        assert (a.width, a.height) == (b.width, b.height)
        np.testing.assert_array_equal(pixels(a.encoded_image_string), pixels(b.encoded_image_string))
    assert ours.Tags()["graph"] and theirs.Tags()["graph"]
    our_nodes = {n.name for n in ours.Graph().node}
    for name in ("x", "model/w", "model/MatMul", "train/loss", "params/weights", "Merge/MergeSummary"):
        assert name in our_nodes, name
    assert our_nodes >= {"x", "y", "model/w", "model/b", "train/loss"} & {n.name for n in theirs.Graph().node}
