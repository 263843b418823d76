"""Every example runs, in-process, against the test session's Ray, and does its job.

An example opens `tf.Session()`, so its test requests the `ray_cluster` fixture.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ON_RAY = pytest.mark.usefixtures("ray_cluster")


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", os.path.join(ROOT, "examples", f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_has_a_test():
    names = {f[:-3] for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".py")}
    with open(__file__) as f:
        source = f.read()
    missing = [n for n in names if f'load_example("{n}")' not in source]
    assert not missing, f"examples without a test: {missing}"


@ON_RAY
def test_linear_regression_recovers_the_line():
    w, b = load_example("linear_regression").main(steps=200)
    assert w == pytest.approx(3.0, abs=0.05) and b == pytest.approx(2.0, abs=0.05)


@ON_RAY
@pytest.mark.slow
def test_mnist_style_mlp_learns_digits():
    accuracy = load_example("mnist_style_mlp").main(epochs=20)
    assert accuracy > 0.93


@ON_RAY
def test_custom_op_trains():
    first, last = load_example("custom_op").main()
    assert last < first / 5


@ON_RAY
@pytest.mark.slow
def test_train_digits_reaches_97_percent(tmp_path, capsys):
    accuracy = load_example("train_digits").main(["--checkpoint-dir", str(tmp_path)])
    assert accuracy >= 0.97
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("test accuracy: ")
    assert any(name.startswith("model.ckpt-") for name in os.listdir(tmp_path))


@ON_RAY
@pytest.mark.slow
def test_train_digits_from_parquet_reaches_97_percent(tmp_path):
    args = ["--checkpoint-dir", str(tmp_path), "--data", "parquet"]
    accuracy = load_example("train_digits").main(args)
    assert accuracy >= 0.97
    assert os.path.exists(tmp_path / "digits_train.parquet")


@ON_RAY
@pytest.mark.slow
def test_data_parallel_trains_digits_on_two_replicas(capsys):
    accuracy = load_example("data_parallel").main(["--replicas", "2", "--epochs", "10"])
    assert accuracy >= 0.95
    out = capsys.readouterr().out
    assert "samples/s with 2 replicas" in out
    assert out.count("device:CPU:") == 2


@ON_RAY
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_serve_digits_answers_like_session_run(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["--epochs", "2", "--port", str(port), "--export-dir", str(tmp_path), "--replica-cpus", "0"]
    worst = load_example("serve_digits").main(args + ["--token", "example-token"])
    assert worst < 1e-5
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("max difference between served and Session.run probabilities: ")
    assert len([line for line in out if line.strip()[:1].isdigit()]) == 10  # a row per queried image
    assert os.listdir(tmp_path) == ["1"]


@ON_RAY
@pytest.mark.slow
def test_fault_tolerance_recovers_from_killed_devices(tmp_path, capsys):
    accuracy = load_example("fault_tolerance").main(
        ["--steps", "160", "--kill-at", "30,90", "--checkpoint-dir", str(tmp_path)]
    )
    assert accuracy >= 0.9
    out = capsys.readouterr().out
    assert "run 30: killing /job:worker/replica:0/task:0/device:CPU:0" in out
    assert "run 90: killing /job:worker/replica:0/task:0/device:CPU:1" in out
    assert "2 recoveries; global step 160 after" in out
