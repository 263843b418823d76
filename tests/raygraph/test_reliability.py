"""Defects found by trying raygraph as a careless user and a hostile local process would
(issue 14): each test reproduced its defect before the fix.

- a closed session's compiled source stayed in linecache on the device for good;
- a checkpoint entry with a zero-sized but huge shape was accepted as a shape;
- tf.string placeholders took any Python object;
- the graph-growth warning missed a loop that adds ops every few runs;
- interrupted saves left temporary files that nothing removed.
"""

from __future__ import annotations

import gc
import json
import linecache
import os
import subprocess
import sys
import textwrap
import warnings
import zlib

import numpy as np
import pytest

import raygraph as tf
from raygraph import errors, io

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- linecache ---------------------------------------------------------------------------


def _generated_sources() -> set[str]:
    return {name for name in linecache.cache if name.startswith("<raygraph ")}


def test_a_closed_sessions_compiled_source_leaves_linecache():
    before = _generated_sources()
    x = tf.placeholder(tf.float32, [3])
    y = tf.reduce_sum(tf.nn.relu(x * 2.0 + 1.0))
    for _ in range(5):
        with tf.Session("local") as sess:
            sess.run(y, {x: [1.0, -2.0, 3.0]})
            assert _generated_sources() - before  # there while the session lives (tracebacks)
    assert _generated_sources() - before == set()  # without waiting for a garbage collection
    gc.collect()
    assert _generated_sources() - before == set()


# -- checkpoints -------------------------------------------------------------------------


def _raw_checkpoint(path, shape) -> str:
    header = {
        "__metadata__": {
            "format": io.FORMAT_NAME,
            "version": io.FORMAT_VERSION,
            "crc32": json.dumps({"w": zlib.crc32(b"")}),
        },
        "w": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]},
    }
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little") + raw)
    return str(path)


@pytest.mark.parametrize("shape", [[0, 10**30], [0, 2**64 - 1], [0, 2**63], [2**62, 0], [0, 2**40, 2**40]])
def test_a_zero_sized_but_huge_shape_is_data_loss(tmp_path, shape):
    path = _raw_checkpoint(tmp_path / "m.safetensors", shape)
    with pytest.raises(errors.DataLossError, match="m.safetensors"):
        io.CheckpointFile(path)
    with pytest.raises(errors.DataLossError):
        tf.train.list_variables(str(tmp_path / "m"))
    tf.Variable(np.zeros([0, 5], np.float32), name="w")
    saver = tf.train.Saver(reshape=True)
    with tf.Session("local") as sess:
        with pytest.raises(errors.DataLossError):
            saver.restore(sess, str(tmp_path / "m"))


def test_a_zero_sized_shape_of_ordinary_size_still_reads(tmp_path):
    path = _raw_checkpoint(tmp_path / "m.safetensors", [0, 1000])
    with io.CheckpointFile(path) as ckpt:
        assert ckpt.read("w").shape == (0, 1000)


# -- string feeds ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [[object()], [1, 2], [b"a", 3], [None], [True], np.array([1.5], object)])
def test_a_string_placeholder_refuses_what_is_not_a_string(value):
    x = tf.placeholder(tf.string, [None])
    with tf.Session("local") as sess:
        with pytest.raises(TypeError, match="placeholder 'Placeholder'.*string"):
            sess.run(tf.identity(x), {x: value})


def test_a_string_placeholder_takes_bytes_and_str():
    x = tf.placeholder(tf.string, [None])
    with tf.Session("local") as sess:
        out = sess.run(tf.identity(x), {x: [b"a", "b", np.bytes_(b"c"), np.str_("d")]})
    assert len(out) == 4


# -- the graph-growth warning --------------------------------------------------------------


def _growth_warnings(every: int, runs: int) -> list:
    x = tf.constant(1.0)
    y = x + 1.0
    with tf.Session("local") as sess:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(runs):
                sess.run(x + 1.0 if i % every == 0 else y)  # a new op every `every` runs
    return [w for w in caught if "graph grew" in str(w.message)]


@pytest.mark.parametrize("every", [2, 3, 5, 10])
def test_a_loop_that_adds_ops_every_few_runs_is_reported_once(every):
    grew = _growth_warnings(every, 150)
    assert len(grew) == 1
    assert "test_reliability.py:" in str(grew[0].message)


def test_a_graph_built_between_a_few_runs_is_not_reported():
    assert _growth_warnings(7, 50) == []  # 7 growths in 50 runs: setup, not a loop


# -- Saver's temporary files ---------------------------------------------------------------

INTERRUPTED_SAVE = """
import os, sys
import numpy as np
import raygraph as tf
from raygraph import io

def killed(path, tensors):  # the process dies while the new file is half written
    with io.atomic_write(path) as f:
        f.write(b"half a checkpoint")
        f.flush()
        os._exit(9)

io.write_checkpoint = killed
v = tf.Variable(np.ones(4, np.float32), name="v")
saver = tf.train.Saver()
with tf.Session("local") as sess:
    sess.run(v.initializer)
    saver.save(sess, sys.argv[1], global_step=int(sys.argv[2]))
"""


def _temp_files(directory) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


def test_a_save_removes_the_temp_files_of_interrupted_saves_and_restore_ignores_them(tmp_path):
    script = tmp_path / "interrupted.py"
    script.write_text(textwrap.dedent(INTERRUPTED_SAVE))
    prefix = str(tmp_path / "ckpt" / "model.ckpt")
    for step in (1, 2, 3):
        done = subprocess.run(
            [sys.executable, str(script), prefix, str(step)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": ROOT},
            capture_output=True,
        )
        assert done.returncode == 9, done.stderr[-2000:]
        assert len(_temp_files(tmp_path / "ckpt")) == 1  # each save removed the one before's

    other = tmp_path / "ckpt" / ".other.ckpt-1.safetensors.0123456789ab.tmp"
    other.write_bytes(b"another prefix's")  # not this Saver's: kept
    v = tf.Variable(np.arange(4, dtype=np.float32), name="v")
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        sess.run(v.initializer)
        path = saver.save(sess, prefix, global_step=4)
        assert _temp_files(tmp_path / "ckpt") == [other.name]
        sess.run(v.assign(np.zeros(4, np.float32)))
        (tmp_path / "ckpt" / ".model.ckpt-4.safetensors.0123456789ab.tmp").write_bytes(b"junk")
        saver.restore(sess, path)  # a temp file beside the checkpoint is not read
        np.testing.assert_array_equal(sess.run(v), np.arange(4))
        assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")) == path
        saver.save(sess, prefix, global_step=5)
    assert _temp_files(tmp_path / "ckpt") == [other.name]  # the junk of this prefix went
    other.unlink()


def test_a_save_keeps_the_temp_file_of_a_save_under_way(tmp_path):
    from raygraph.train import saver as saver_module

    v = tf.Variable(np.ones(2, np.float32), name="v")
    saver = tf.train.Saver()
    prefix = str(tmp_path / "model.ckpt")
    with tf.Session("local") as sess:
        sess.run(v.initializer)
        with io.atomic_write(prefix + "-9" + io.CHECKPOINT_SUFFIX) as f:  # another thread's save
            f.write(b"x")
            mine = _temp_files(tmp_path)
            saver_module._remove_stale_temp_files(prefix, "checkpoint")
            assert _temp_files(tmp_path) == mine
        saver.save(sess, prefix)
    assert _temp_files(tmp_path) == []
