"""The `raygraph` command, run as a user runs it: a subprocess of `python -m raygraph.cli`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import raygraph as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NO_CLUSTER = "127.0.0.1:1"  # an address nothing listens on


def raygraph(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    environ = dict(os.environ, **(env or {}))
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "raygraph.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=timeout,
    )


def test_version_names_raygraph_and_the_tf_api_level():
    out = raygraph("version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("raygraph 0.1.0 (TensorFlow API 1.15.0)\n")
    assert "numpy " in out.stdout and "ray " in out.stdout


def test_no_command_prints_help_and_fails():
    out = raygraph()
    assert out.returncode == 2 and "devices" in out.stdout and "graph" in out.stdout
    assert raygraph("version", "--bogus").returncode == 2


def test_devices_lists_the_local_target_and_says_when_no_cluster_answers():
    out = raygraph("devices", "--json", "--address", NO_CLUSTER)
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert report["local"][0] == {"name": "/job:localhost/replica:0/task:0/device:CPU:0", "type": "CPU"}
    assert "does not answer" in report["ray"]["error"]
    text = raygraph("devices", env={"RAY_ADDRESS": NO_CLUSTER})
    assert text.returncode == 0  # no --address: a missing cluster is information, not a failure
    assert (
        'tf.Session("local")' in text.stdout and "/job:localhost/replica:0/task:0/device:CPU:0" in text.stdout
    )


@pytest.mark.slow
@pytest.mark.usefixtures("ray_cluster")
def test_devices_lists_a_ray_clusters_nodes_and_device_names():
    import ray

    address = ray.get_runtime_context().gcs_address
    out = raygraph("devices", "--json", "--address", address)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)["ray"]
    (node,) = report["nodes"]  # the test cluster: one node, 4 logical CPUs, 2 fake GPUs
    assert (node["task"], node["cpus"], node["gpus"]) == (0, 4, 2)
    names = [d["name"] for d in report["devices"]]
    assert names == [
        "/job:worker/replica:0/task:0/device:CPU:0",
        "/job:worker/replica:0/task:0/device:GPU:0",
        "/job:worker/replica:0/task:0/device:GPU:1",
    ]
    assert [d.name for d in tf.Session().list_devices()] == names  # what a Session gets
    text = raygraph("devices", "--address", address)
    assert "1 node(s), 4 CPUs, 2 GPUs" in text.stdout


def _model():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with tf.name_scope("dense"):
        w = tf.Variable(np.ones([3, 2], np.float32), name="w")
        y = tf.matmul(x, w, name="y")
    return x, y


def test_graph_draws_a_checkpoints_meta_graph(tmp_path):
    _model()
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        prefix = tf.train.Saver().save(sess, str(tmp_path / "ckpt" / "model"), global_step=7)
    for model in (prefix + ".meta", prefix, str(tmp_path / "ckpt")):
        out = raygraph("graph", model, "--text")
        assert out.returncode == 0, out.stderr
        assert "dense/y  MatMul  -> float32[?, 2]" in out.stdout
    svg = tmp_path / "g.svg"
    out = raygraph("graph", prefix, "--svg", str(svg), "--engine", "builtin")
    assert out.returncode == 0, out.stderr
    assert svg.read_text().lstrip().startswith("<svg") and "dense" in svg.read_text()
    dot = tmp_path / "g.dot"
    assert raygraph("graph", prefix, "--dot", str(dot), "--expand", "dense").returncode == 0
    assert dot.read_text().startswith("digraph") and "MatMul" in dot.read_text()


def test_graph_reads_a_saved_model_and_a_graph_def(tmp_path):
    x, y = _model()
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        tf.saved_model.simple_save(sess, str(tmp_path / "export"), {"x": x}, {"y": y})
    tf.train.write_graph(tf.get_default_graph(), str(tmp_path), "graph.pbtxt")
    for model in (str(tmp_path / "export"), str(tmp_path / "graph.pbtxt")):
        out = raygraph("graph", model)
        assert out.returncode == 0, out.stderr
        assert "dense/y  MatMul" in out.stdout
    out = raygraph("graph", str(tmp_path / "export"), "--tags", "train")
    assert out.returncode == 1 and "could not be found" in out.stderr


def test_graph_of_a_missing_model_says_what_it_looked_for(tmp_path):
    out = raygraph("graph", str(tmp_path / "nothing"))
    assert out.returncode == 1
    assert "no meta graph, SavedModel or GraphDef" in out.stderr


def test_bench_hands_its_arguments_to_python_m_bench():
    out = raygraph("bench", "tiny", "--rounds", "1", "--impls", "numpy", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "| tiny | per run |" in out.stdout and "Medians of 1 interleaved rounds" in out.stdout
