"""tf.gfile and tf.io.gfile on fsspec: local paths and fsspec's in-memory file system."""

from __future__ import annotations

import os
import uuid

import fsspec
import pytest

import raygraph as tf

g = tf.io.gfile


@pytest.fixture(params=["local", "memory"])
def root(request, tmp_path, monkeypatch):
    """A fresh, existing directory: a relative local path, or a memory:// URL."""
    if request.param == "local":
        monkeypatch.chdir(tmp_path)
        os.mkdir("work")
        yield "work"
    else:
        url = f"memory://gfile-test-{uuid.uuid4().hex}"
        fsspec.filesystem("memory").makedirs(url, exist_ok=True)
        yield url
        fsspec.filesystem("memory").rm(url, recursive=True)


def test_names_follow_tensorflow():
    for name in (
        "Copy",
        "DeleteRecursively",
        "Exists",
        "FastGFile",
        "GFile",
        "Glob",
        "IsDirectory",
        "ListDirectory",
        "MakeDirs",
        "MkDir",
        "Open",
        "Remove",
        "Rename",
        "Stat",
        "Walk",
    ):
        assert callable(getattr(tf.gfile, name)), name
    for name in (
        "GFile",
        "copy",
        "exists",
        "glob",
        "isdir",
        "listdir",
        "makedirs",
        "mkdir",
        "remove",
        "rename",
        "rmtree",
        "stat",
        "walk",
        "join",
    ):
        assert callable(getattr(tf.io.gfile, name)), name
    assert not hasattr(tf.io.gfile, "Exists")
    assert tf.compat.v1.gfile.Exists is tf.gfile.Exists


def test_write_read_text_and_binary(root):
    path = g.join(root, "a.txt")
    with tf.gfile.GFile(path, "w") as f:
        f.write("one\n")
        f.write(b"two\nthree")
        assert f.tell() == 13
    assert tf.gfile.Exists(path) and not tf.gfile.IsDirectory(path)
    with tf.gfile.Open(path) as f:
        assert f.readline() == "one\n"
        assert f.read(3) == "two"
        assert f.tell() == 7
        f.seek(0)
        assert list(f) == ["one\n", "two\n", "three"]
        assert f.size() == 13
    with tf.gfile.FastGFile(path, "rb") as f:
        assert f.read() == b"one\ntwo\nthree"
        f.seek(offset=-5, whence=2)
        assert f.read() == b"three"
        f.seek(position=4)
        assert f.readlines() == [b"two\n", b"three"]
    with tf.gfile.GFile(path, "a") as f:
        f.write("!")
        f.flush()
    assert tf.gfile.GFile(path).read().endswith("three!")


def test_files_open_lazily_and_check_their_mode(root):
    missing = tf.gfile.GFile(g.join(root, "missing.txt"))  # TF: no error until read
    with pytest.raises(tf.errors.NotFoundError, match="missing.txt"):
        missing.read()
    path = g.join(root, "w.txt")
    with tf.gfile.GFile(path, "w") as f, pytest.raises(tf.errors.PermissionDeniedError):
        f.read()
    with tf.gfile.GFile(path) as f, pytest.raises(tf.errors.PermissionDeniedError):
        f.write("x")
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.gfile.GFile(path, "x")


def test_directories(root):
    tf.gfile.MakeDirs(g.join(root, "d1", "d2"))
    tf.gfile.MakeDirs(g.join(root, "d1", "d2"))  # fine when it exists
    tf.gfile.MkDir(g.join(root, "d3"))
    tf.gfile.MkDir(g.join(root, "d3"))  # TensorFlow: fine when it exists
    with pytest.raises(tf.errors.NotFoundError):
        g.mkdir(g.join(root, "no", "parent"))
    with tf.gfile.GFile(g.join(root, "d1", "f.txt"), "w") as f:
        f.write("x")
    with pytest.raises(tf.errors.FailedPreconditionError):
        g.makedirs(g.join(root, "d1", "f.txt"))
    assert sorted(tf.gfile.ListDirectory(root)) == ["d1", "d3"]
    assert sorted(g.listdir(g.join(root, "d1"))) == ["d2", "f.txt"]
    assert tf.gfile.IsDirectory(g.join(root, "d1")) and g.isdir(g.join(root, "d1", "d2"))
    with pytest.raises(tf.errors.NotFoundError):
        tf.gfile.ListDirectory(g.join(root, "nope"))
    walked = sorted((d, sorted(s), sorted(f)) for d, s, f in tf.gfile.Walk(root))
    assert walked == [
        (root, ["d1", "d3"], []),
        (g.join(root, "d1"), ["d2"], ["f.txt"]),
        (g.join(root, "d1", "d2"), [], []),
        (g.join(root, "d3"), [], []),
    ]
    bottom_up = [d for d, _, _ in g.walk(root, topdown=False)]
    assert (
        bottom_up.index(g.join(root, "d1", "d2"))
        < bottom_up.index(g.join(root, "d1"))
        < bottom_up.index(root)
    )
    assert list(g.walk(g.join(root, "nope"))) == []
    errors = []
    assert list(g.walk(g.join(root, "nope"), onerror=errors.append)) == []
    assert isinstance(errors[0], tf.errors.NotFoundError)
    tf.gfile.DeleteRecursively(g.join(root, "d1"))
    assert not tf.gfile.Exists(g.join(root, "d1"))
    with pytest.raises(tf.errors.NotFoundError):
        g.rmtree(g.join(root, "d1"))


def test_glob_keeps_the_patterns_form(root):
    for name in ("a.csv", "b.csv", "c.txt"):
        with tf.gfile.GFile(g.join(root, name), "w") as f:
            f.write(name)
    assert sorted(tf.gfile.Glob(g.join(root, "*.csv"))) == [g.join(root, "a.csv"), g.join(root, "b.csv")]
    assert g.glob(g.join(root, "?.txt")) == [g.join(root, "c.txt")]
    assert g.glob(g.join(root, "*.none")) == []


def test_remove_rename_copy(root):
    a, b, c = (g.join(root, n) for n in ("a", "b", "c"))
    with tf.gfile.GFile(a, "w") as f:
        f.write("A")
    with tf.gfile.GFile(b, "w") as f:
        f.write("B")
    with pytest.raises(tf.errors.AlreadyExistsError):
        tf.gfile.Copy(a, b)
    tf.gfile.Copy(a, b, overwrite=True)
    assert tf.gfile.GFile(b).read() == "A"
    tf.gfile.Copy(a, c)
    with pytest.raises(tf.errors.AlreadyExistsError):
        tf.gfile.Rename(c, b)
    tf.gfile.Rename(c, b, overwrite=True)
    assert not tf.gfile.Exists(c)
    g.rename(b, c)
    assert tf.gfile.GFile(c).read() == "A"
    tf.gfile.Remove(c)
    assert not g.exists(c)
    for fn in (
        tf.gfile.Remove,
        lambda p: g.copy(p, a, overwrite=True),
        lambda p: g.rename(p, a, overwrite=True),
    ):
        with pytest.raises(tf.errors.NotFoundError):
            fn(c)


def test_stat(root):
    path = g.join(root, "s.bin")
    with tf.gfile.GFile(path, "wb") as f:
        f.write(b"12345")
    st = tf.gfile.Stat(path)
    assert st.length == 5 and not st.is_directory and st.mtime_nsec > 0
    assert g.stat(root).is_directory
    with pytest.raises(tf.errors.NotFoundError):
        g.stat(g.join(root, "nope"))


def test_copy_across_file_systems(tmp_path):
    url = f"memory://gfile-across-{uuid.uuid4().hex}/x.bin"
    with tf.gfile.GFile(url, "wb") as f:
        f.write(b"\x00\x01payload")
    local = str(tmp_path / "x.bin")
    tf.gfile.Copy(url, local)
    assert open(local, "rb").read() == b"\x00\x01payload"
    tf.gfile.Rename(local, url + ".back")
    assert tf.gfile.GFile(url + ".back", "rb").read() == b"\x00\x01payload"
    assert not os.path.exists(local)


def test_an_unknown_scheme_is_unimplemented():
    with pytest.raises(tf.errors.UnimplementedError, match="nosuchfs"):
        tf.gfile.Exists("nosuchfs://bucket/x")
