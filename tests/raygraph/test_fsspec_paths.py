"""Saver, checkpoint helpers and FileWriter on fsspec URLs: memory://, file://, and a gs:// stand-in.

A "gs" file system is registered for these tests as fsspec's in-memory one under
another name, so a "gs://bucket/..." path goes through fsspec exactly as it would
with gcsfs, and a test fails if anything makes a local directory named "gs:".
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import raygraph as tf

fsspec = pytest.importorskip("fsspec")
from fsspec.implementations.memory import MemoryFileSystem  # noqa: E402


class FakeGCS(MemoryFileSystem):
    """fsspec's memory file system under the "gs" protocol, with a store of its own."""

    protocol = ("gs", "gcs")
    store: dict = {}
    pseudo_dirs = [""]

    @classmethod
    def _strip_protocol(cls, path):
        path = str(path)
        for prefix in ("gs://", "gcs://"):
            path = path.removeprefix(prefix)
        return super()._strip_protocol(path)


@pytest.fixture
def gs(monkeypatch, tmp_path):
    """Registers FakeGCS as "gs" for one test, in a cwd where a stray "gs:" directory would show."""
    fsspec.register_implementation("gs", FakeGCS, clobber=True)
    monkeypatch.chdir(tmp_path)
    FakeGCS.store.clear()
    FakeGCS.pseudo_dirs[:] = [""]
    yield FakeGCS()
    FakeGCS.store.clear()
    sys.modules["fsspec.registry"]._registry.pop("gs", None)  # "gs" is gcsfs's (or unknown) again
    assert not os.path.exists(tmp_path / "gs:"), "a local directory named gs: was made"


@pytest.fixture
def memory():
    fs = fsspec.filesystem("memory")
    yield fs
    if fs.exists("/rg-fsspec"):
        fs.rm("/rg-fsspec", recursive=True)


def _model():
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")
    step = tf.train.get_or_create_global_step()
    bump = tf.assign_add(w, tf.ones_like(w))
    return w, step, bump


@pytest.mark.parametrize("root", ["memory://rg-fsspec/ckpt", "gs://bucket/runs/ckpt"])
def test_saver_saves_restores_and_keeps_its_state_on_a_url(root, gs, memory):
    w, step, bump = _model()
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        paths = []
        for i in range(3):
            sess.run(bump)
            paths.append(saver.save(sess, f"{root}/model", global_step=i))
        assert paths[-1] == f"{root}/model-2"
        assert tf.train.latest_checkpoint(root) == f"{root}/model-2"
        state = tf.train.get_checkpoint_state(root)
        assert state.all_model_checkpoint_paths == [f"{root}/model-1", f"{root}/model-2"]
        assert not tf.train.checkpoint_exists(f"{root}/model-0")  # deleted beyond max_to_keep
        assert not tf.gfile.Exists(f"{root}/model-0.meta")
        assert tf.gfile.Exists(f"{root}/model-2.meta") and tf.gfile.Exists(f"{root}/checkpoint")
        assert len(tf.train.get_checkpoint_mtimes([f"{root}/model-1", f"{root}/model-0"])) == 1
        sess.run(bump)
        saver.restore(sess, f"{root}/model-1")
        np.testing.assert_array_equal(sess.run(w), np.arange(6).reshape(2, 3) + 2)
    np.testing.assert_array_equal(tf.train.load_variable(root, "w"), np.arange(6).reshape(2, 3) + 3)
    assert dict(tf.train.list_variables(f"{root}/model-2"))["w"] == [2, 3]


def test_a_meta_graph_on_a_url_imports_and_restores(memory):
    w, step, bump = _model()
    root = "memory://rg-fsspec/meta"
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(bump)
        prefix = tf.train.Saver().save(sess, f"{root}/model")
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(prefix + ".meta")
        with tf.Session("local") as sess:
            saver.restore(sess, prefix)
            np.testing.assert_array_equal(sess.run("w:0"), np.arange(6).reshape(2, 3) + 1)


def test_file_urls_are_local_files(tmp_path):
    w, _, _ = _model()
    url = "file://" + str(tmp_path / "ckpt" / "model")
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        prefix = tf.train.Saver().save(sess, url)
    assert prefix == url
    assert os.path.isfile(tmp_path / "ckpt" / "model.safetensors")
    assert os.path.isfile(tmp_path / "ckpt" / "checkpoint")
    assert tf.train.latest_checkpoint("file://" + str(tmp_path / "ckpt")) == url


def test_restoring_a_missing_or_corrupt_url_checkpoint_fails_clearly(memory):
    _model()
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        with pytest.raises(ValueError, match="not a valid checkpoint"):
            saver.restore(sess, "memory://rg-fsspec/none/model")
        with tf.gfile.GFile("memory://rg-fsspec/bad/model.safetensors", "wb") as f:
            f.write(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
        with pytest.raises(tf.errors.DataLossError, match="memory://rg-fsspec/bad/model.safetensors"):
            saver.restore(sess, "memory://rg-fsspec/bad/model")
    assert tf.train.get_checkpoint_state("memory://rg-fsspec/none") is None


def test_file_writer_on_a_gs_url(gs):
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    tf.summary.scalar("loss", tf.constant(0.5))
    merged = tf.summary.merge_all()
    with tf.Session("local") as sess, tf.summary.FileWriter("gs://bucket/logs/run1", sess.graph) as writer:
        writer.add_summary(sess.run(merged), 1)
    (path,) = gs.glob("/bucket/logs/run1/events.out.tfevents.*")
    local = "events.local"
    gs.get_file(path, local)
    got = list(LegacyEventFileLoader(local).Load())
    assert [(e.step, v.tag, v.simple_value) for e in got for v in e.summary.value] == [(1, "loss", 0.5)]
    assert any(e.HasField("graph_def") for e in got)
