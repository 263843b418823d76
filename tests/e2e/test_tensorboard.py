"""Acceptance: the real TensorBoard reads what a raygraph training run wrote.

A short training run on the device actors writes a scalar, a histogram and the
graph with tf.summary. Then `tensorboard --logdir` starts on a port the OS picks
(127.0.0.1 only: tests run inside the loopback namespace), and the test reads the
scalars, the histograms and the graph back through TensorBoard's own HTTP API, as
its web page does. Every wait is bounded; the server is killed in a finally.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request

import numpy as np
import pytest

import raygraph as tf
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_cluster")]

STEPS = 5
RUN = "train"


def train_and_write(logdir: str) -> list[float]:
    """Trains y = x w + b for STEPS steps, writing loss, a weight histogram and the graph."""
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, (32, 4)).astype(np.float32)
    ys = xs @ np.array([[1.0], [2.0], [-1.0], [0.5]], np.float32)
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    with tf.name_scope("dense"):
        w = tf.Variable(tf.zeros([4, 1]), name="kernel")
        pred = tf.matmul(x, w)
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(tf.square(pred - y))
    train_op = tf.train.GradientDescentOptimizer(0.2).minimize(loss)
    tf.summary.scalar("loss", loss)  # tag "loss_1", as in TF: the name scope "loss" came first
    tf.summary.histogram("kernel", w)
    merged = tf.summary.merge_all()
    losses = []
    with tf.Session() as sess, tf.summary.FileWriter(logdir, sess.graph) as writer:
        sess.run(tf.global_variables_initializer())
        for step in range(STEPS):
            summary, value = sess.run([merged, loss], {x: xs, y: ys})  # before the update
            writer.add_summary(summary, global_step=step)
            losses.append(float(value))
            sess.run(train_op, {x: xs, y: ys})
    return losses


class TensorBoard:
    """A `tensorboard` process serving `logdir` on a port the OS chose."""

    def __init__(self, logdir: str):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tensorboard.main",
                "--logdir",
                logdir,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ]
            + ["--load_fast", "false", "--reload_interval", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.url = self._wait_for_url(timeout=90)

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def _wait_for_url(self, timeout: float) -> str:
        seen = []
        holder = []

        def announced() -> bool:
            while not self.lines.empty():
                line = self.lines.get()
                seen.append(line)
                match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
                if match:
                    holder.append(match.group(1))
            if self.process.poll() is not None and not holder:
                raise RuntimeError(f"tensorboard exited with {self.process.returncode}: {''.join(seen)}")
            return bool(holder)

        wait_until(announced, timeout=timeout, what="tensorboard announcing its address", interval=0.1)
        return holder[0]

    def get(self, path: str, **params):
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            body = response.read().decode()
        return json.loads(body) if response.headers.get_content_type() == "application/json" else body

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


@pytest.mark.timeout(300)
def test_tensorboard_serves_the_scalars_histograms_and_graph_raygraph_wrote(tmp_path):
    losses = train_and_write(str(tmp_path / RUN))
    board = TensorBoard(str(tmp_path))
    try:

        def has_tags() -> bool:
            try:
                return "loss_1" in board.get("/data/plugin/scalars/tags").get(RUN, {})
            except OSError:
                return False

        wait_until(has_tags, timeout=90, what="tensorboard loading the run's scalars", interval=0.2)
        scalars = board.get("/data/plugin/scalars/scalars", run=RUN, tag="loss_1")
        assert [step for _, step, _ in scalars] == list(range(STEPS))
        np.testing.assert_allclose([value for _, _, value in scalars], losses, rtol=1e-6)

        assert "kernel" in board.get("/data/plugin/histograms/tags")[RUN]
        histograms = board.get("/data/plugin/histograms/histograms", run=RUN, tag="kernel")
        assert [step for _, step, _ in histograms] == list(range(STEPS))
        first_buckets = histograms[0][2]
        assert sum(count for _, _, count in first_buckets) == pytest.approx(4.0)  # four zero weights

        graph = board.get("/data/plugin/graphs/graph", run=RUN)
        for name in ("dense/kernel", "dense/MatMul", "loss/Mean", "GradientDescent", "Merge/MergeSummary"):
            assert f'name: "{name}"' in graph, name
        assert 'op: "MatMul"' in graph
    finally:
        board.stop()
