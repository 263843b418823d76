"""A TF1 program using tf.app.run, tf.flags, tf.logging and tf.gfile runs unchanged on both.

host_program.py runs as a script, once with `import raygraph as tf` and once with
`import tensorflow.compat.v1 as tf` (TensorFlow 2.21). Both must exit with the
status main returned, print the same lines, log the same messages at the same
levels from the same lines of the program (absl's format, once tf.app.run has
installed absl's handler), and write the same files.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")

pytestmark = pytest.mark.compat

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAM = os.path.join(ROOT, "tests", "compat", "host_program.py")
# absl's log line from the program (not TensorFlow's C++): level, date, time, thread, file:line] message
ABSL_LINE = re.compile(r"^([DIWEF])\d{4} [\d:.]+ +\d+ (host_program\.py:\d+)\] (.*)$", re.M)


def run(module: str, cwd, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT, "RAYGRAPH_TF": module, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, PROGRAM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def files_under(folder) -> dict[str, bytes]:
    out = {}
    for directory, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(directory, name)
            out[os.path.relpath(path, folder)] = open(path, "rb").read()
    return out


def test_flags_logging_and_files_match_tensorflow(tmp_path):
    args = ["--steps", "4", "--verbose", "--learning_rate=0.1", "extra"]
    ours = run("raygraph", tmp_path, "--out_dir=out_rg", *args)
    theirs = run("tensorflow", tmp_path, "--out_dir=out_tf", *args)
    assert ours.returncode == theirs.returncode == 3, (ours.stderr, theirs.stderr)
    assert ours.stdout.replace("out_rg", "OUT") == theirs.stdout.replace("out_tf", "OUT")
    assert "before run: steps=4" in ours.stdout  # FLAGS read before tf.app.run parsed sys.argv
    logged = ABSL_LINE.findall(ours.stderr)
    assert logged == ABSL_LINE.findall(theirs.stderr)
    messages = [m for _, _, m in logged]
    assert "debug: only with --verbose" in messages and "unparsed: ['extra']" in messages
    assert [m for m in messages if m.startswith("every-2")] == ["every-2 0", "every-2 2"]
    assert files_under(tmp_path / "out_rg") == files_under(tmp_path / "out_tf")
    assert set(files_under(tmp_path / "out_rg")) == {
        "summary.txt",
        "old.txt",
        os.path.join("logs", "loss.txt"),
    }


def test_info_is_hidden_without_verbosity_and_unknown_flags_fail_early(tmp_path):
    """Without --verbose, DEBUG is dropped; an undefined flag fails the early FLAGS read, as in TF1."""
    ours = run("raygraph", tmp_path, "--out_dir=rg", "--steps=1")
    theirs = run("tensorflow", tmp_path, "--out_dir=tf", "--steps=1")
    assert ours.returncode == theirs.returncode == 3
    assert ABSL_LINE.findall(ours.stderr) == ABSL_LINE.findall(theirs.stderr)
    assert "debug: only with --verbose" not in ours.stderr

    ours = run("raygraph", tmp_path, "--out_dir=rg", "--undefined=1")
    theirs = run("tensorflow", tmp_path, "--out_dir=tf", "--undefined=1")
    assert ours.returncode == theirs.returncode == 1
    for done in (ours, theirs):
        assert "UnrecognizedFlagError: Unknown command line flag 'undefined'" in done.stderr
