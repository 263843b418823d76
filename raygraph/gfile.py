"""`tf.gfile` and `tf.io.gfile`: TensorFlow's file API, on fsspec.

    with tf.gfile.GFile("out/vocab.txt", "w") as f:
        f.write("hello\\n")
    tf.gfile.MakeDirs("out/logs")                      # tf.io.gfile.makedirs
    for name in tf.gfile.ListDirectory("out"):         # tf.io.gfile.listdir
        ...
    tf.gfile.Exists("s3://bucket/model")                # needs s3fs installed

Paths are local paths or URLs; a URL's scheme picks the fsspec file system
("s3://" needs s3fs, "gs://" gcsfs, "memory://" is built in). A scheme with no
backend installed raises `UnimplementedError` naming it.

The functions have `tf.io.gfile`'s snake_case names (`exists`, `makedirs`,
`copy`...) and `tf.gfile`'s CamelCase ones (`Exists`, `MakeDirs`, `Copy`...), with
TensorFlow's argument names for each. `tf.gfile` is this module; `tf.io.gfile` is
`io_gfile`, a module holding only the snake_case names and `GFile`.

Errors are TensorFlow's: a missing file or directory raises `NotFoundError`, an
existing target of rename or copy without `overwrite` `AlreadyExistsError`,
a permission problem `PermissionDeniedError`, a directory where a file is
expected (or the reverse) `FailedPreconditionError`, any other OSError
`UnknownError`; each names the path.

`GFile` opens the file on its first read or write, as TensorFlow's does (so
`GFile("missing")` fails only when read), always in binary underneath: text
mode decodes UTF-8 per call, `read(n)` counts bytes, and `tell`/`seek` are byte
offsets. Glob results and walk's directory names keep the scheme of the pattern
or top they came from.

State: none beyond the open file object inside each GFile.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat as _stat
import types
from collections.abc import Callable, Iterator
from typing import NamedTuple

from raygraph import errors

__all__ = [
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
]


# ---------------------------------------------------------------- paths and errors
def _has_scheme(path: str) -> bool:
    return "://" in path


def _filesystem(path):
    """(fsspec file system, its path for `path`) for a local path or URL."""
    import fsspec  # imported on first use: most programs never touch a file

    path = os.fspath(path)
    if isinstance(path, bytes):
        path = path.decode()
    try:
        return fsspec.core.url_to_fs(path)
    except (ImportError, ValueError) as e:
        scheme = path.split("://", 1)[0] if _has_scheme(path) else "file"
        raise errors.UnimplementedError(
            None, None, f"File system scheme '{scheme}' not implemented (file: '{path}'): {e}"
        ) from None


def local_path(path) -> str | None:
    """The local file system path `path` names ("file:///a/b" -> "/a/b"), or None for a remote URL.

    >>> local_path("ckpt/model"), local_path("file:///tmp/ckpt"), local_path("gs://b/ckpt")
    ('ckpt/model', '/tmp/ckpt', None)

    Code that needs an OS path (atomic renames, memory maps) asks this first and goes
    through fsspec only for the URLs it returns None for.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = path.decode()
    if not _has_scheme(path):
        return path
    fs, p = _filesystem(path)
    return p if _is_local(fs) else None


def _is_local(fs) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols


_ERRORS = [
    (FileNotFoundError, errors.NotFoundError),
    (FileExistsError, errors.AlreadyExistsError),
    (PermissionError, errors.PermissionDeniedError),
    (IsADirectoryError, errors.FailedPreconditionError),
    (NotADirectoryError, errors.FailedPreconditionError),
    (OSError, errors.UnknownError),
]


@contextlib.contextmanager
def _tf_errors(path: str):
    """Turns an OSError about `path` into TensorFlow's error class for it."""
    try:
        yield
    except errors.OpError:
        raise
    except OSError as e:
        cls = next(tf_error for os_error, tf_error in _ERRORS if isinstance(e, os_error))
        reason = e.strerror or str(e) or type(e).__name__
        raise cls(None, None, f"{path}; {reason}") from e


def _not_found(path: str) -> errors.NotFoundError:
    return errors.NotFoundError(None, None, f"{path}; No such file or directory")


# ---------------------------------------------------------------- GFile
class GFile:
    """A file on any file system, TensorFlow's `tf.gfile.GFile(name, mode="r")`.

    `mode` is "r", "w" or "a", optionally with "b" (bytes instead of str) and
    "+". Iterating yields lines; it is its own context manager.

    >>> with tf.gfile.GFile("memory://notes.txt", "w") as f:
    ...     f.write("one\\ntwo\\n")
    >>> tf.gfile.GFile("memory://notes.txt").readlines()
    ['one\\n', 'two\\n']
    """

    def __init__(self, name, mode: str = "r"):
        if not mode or mode.replace("b", "").replace("+", "") not in ("r", "w", "a"):
            raise errors.InvalidArgumentError(None, None, f"Invalid mode {mode!r} for {name}")
        self.__name = os.fspath(name)
        self.__mode = mode
        self._binary = "b" in mode
        self._readable = "r" in mode or "+" in mode
        self._writable = "w" in mode or "a" in mode or "+" in mode
        self._file = None
        self._closed = False

    @property
    def name(self) -> str:
        """The path the file was opened with."""
        return self.__name

    @property
    def mode(self) -> str:
        """The mode it was opened with."""
        return self.__mode

    def _open(self):
        if self._closed:
            raise ValueError(f"I/O operation on closed file {self.__name}")
        if self._file is None:
            fs, path = _filesystem(self.__name)
            with _tf_errors(self.__name):
                if "r" in self.__mode and fs.isdir(path):
                    raise IsADirectoryError(21, "Is a directory")
                self._file = fs.open(path, self.__mode.replace("b", "") + "b")
        return self._file

    def _reading(self):
        if not self._readable:
            raise errors.PermissionDeniedError(None, None, "File isn't open for reading")
        return self._open()

    def _writing(self):
        if not self._writable:
            raise errors.PermissionDeniedError(None, None, "File isn't open for writing")
        return self._open()

    def _out(self, data: bytes):
        return data if self._binary else data.decode("utf-8")

    def read(self, n: int = -1):
        """Reads `n` bytes (all that is left if n is -1); str in text mode, bytes in binary."""
        f = self._reading()
        with _tf_errors(self.__name):
            return self._out(f.read() if n is None or n < 0 else f.read(n))

    def readline(self):
        """The next line, with its newline; empty at the end."""
        f = self._reading()
        with _tf_errors(self.__name):
            return self._out(f.readline())

    def readlines(self) -> list:
        """Every line left."""
        return list(self)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__

    def write(self, file_content) -> None:
        """Writes str (as UTF-8) or bytes, in either mode."""
        f = self._writing()
        data = file_content.encode("utf-8") if isinstance(file_content, str) else bytes(file_content)
        with _tf_errors(self.__name):
            f.write(data)

    def tell(self) -> int:
        """The byte offset of the read or write position."""
        return self._open().tell()

    def seek(self, offset: int | None = None, whence: int = 0, position: int | None = None) -> int:
        """Moves to byte `offset` relative to `whence` (0 start, 1 here, 2 end).

        `position` is TensorFlow's deprecated name for `offset`.
        """
        if position is not None:
            if offset is not None:
                raise TypeError("seek() takes offset or position, not both")
            offset = position
        with _tf_errors(self.__name):
            return self._open().seek(offset or 0, whence)

    def seekable(self) -> bool:
        """True: every GFile can seek."""
        return True

    def size(self) -> int:
        """The file's length in bytes (after flushing what this GFile wrote)."""
        if self._file is not None and self._writable:
            self.flush()
        return stat(self.__name).length

    def flush(self) -> None:
        """Pushes buffered writes to the file (object stores may write on close only)."""
        if self._file is not None and self._writable:
            with _tf_errors(self.__name):
                self._file.flush()

    def close(self) -> None:
        """Flushes and closes; closing twice is fine."""
        if self._file is not None:
            with _tf_errors(self.__name):
                self._file.close()
        self._file = None
        self._closed = True

    def __enter__(self) -> GFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()


FastGFile = GFile
Open = GFile


# ---------------------------------------------------------------- tf.io.gfile functions
def exists(path) -> bool:
    """Whether a file or directory `path` exists: `tf.io.gfile.exists("ckpt")`."""
    fs, p = _filesystem(path)
    with _tf_errors(os.fspath(path)):
        return fs.exists(p)


def isdir(path) -> bool:
    """Whether `path` is a directory."""
    fs, p = _filesystem(path)
    with _tf_errors(os.fspath(path)):
        return fs.isdir(p)


def makedirs(path) -> None:
    """Creates directory `path` and any missing parents; fine if it exists.

    FailedPreconditionError if `path` or a parent is a file.
    """
    fs, p = _filesystem(path)
    with _tf_errors(os.fspath(path)):
        if fs.exists(p) and not fs.isdir(p):
            raise NotADirectoryError(20, "Not a directory")
        fs.makedirs(p, exist_ok=True)


def mkdir(path) -> None:
    """Creates directory `path`; its parent must exist (NotFoundError). Fine if it exists.

    As in TensorFlow, an existing `path` is not an error.
    """
    fs, p = _filesystem(path)
    with _tf_errors(os.fspath(path)):
        if fs.exists(p):
            return
        parent = posixpath.dirname(p.rstrip("/"))
        if parent and not fs.isdir(parent):
            raise FileNotFoundError(2, "No such file or directory")
        fs.mkdir(p, create_parents=False)


def listdir(path) -> list[str]:
    """The names (not paths) of the entries of directory `path`, in no set order."""
    fs, p = _filesystem(path)
    with _tf_errors(os.fspath(path)):
        if not fs.isdir(p):
            raise _not_found(os.fspath(path))
        return [posixpath.basename(entry.rstrip("/")) for entry in fs.ls(p, detail=False)]


def glob(pattern) -> list[str]:
    """The paths that match `pattern` (`*`, `?`, `[...]`), written as the pattern was.

    >>> tf.io.gfile.glob("data/*.csv")
    ['data/a.csv', 'data/b.csv']
    """
    pattern = os.fspath(pattern)
    fs, p = _filesystem(pattern)
    with _tf_errors(pattern):
        found = fs.glob(p)
    # fsspec returns its own form of each path (absolute, no scheme); write each
    # as the pattern was written, by swapping the literal prefix the two share.
    written, own = _literal_prefix(pattern), _literal_prefix(p)
    if os.sep != "/" and not _has_scheme(pattern):
        own = own.replace(os.sep, "/")
    return [written + f[len(own) :] if f.startswith(own) else _unstrip(fs, f, pattern) for f in found]


def _literal_prefix(pattern: str) -> str:
    """`pattern` up to the last "/" before its first wildcard."""
    wild = min((i for i in (pattern.find(c) for c in "*?[") if i >= 0), default=len(pattern))
    return pattern[: pattern.rfind("/", 0, wild) + 1]


def _unstrip(fs, path: str, like: str) -> str:
    return fs.unstrip_protocol(path) if _has_scheme(like) else path


def remove(path) -> None:
    """Deletes the file `path`. NotFoundError if it does not exist."""
    fs, p = _filesystem(path)
    with _tf_errors(os.fspath(path)):
        if not fs.exists(p):
            raise _not_found(os.fspath(path))
        if fs.isdir(p):
            raise IsADirectoryError(21, "Is a directory (use rmtree)")
        fs.rm_file(p)


def rmtree(path) -> None:
    """Deletes `path` and everything under it. NotFoundError if it does not exist."""
    fs, p = _filesystem(path)
    with _tf_errors(os.fspath(path)):
        if not fs.exists(p):
            raise _not_found(os.fspath(path))
        fs.rm(p, recursive=True)


def _check_target(fs, p: str, path: str, overwrite: bool) -> None:
    if fs.exists(p):
        if not overwrite:
            raise errors.AlreadyExistsError(None, None, f"{path}; File already exists")
        if fs.isdir(p):
            raise IsADirectoryError(21, "Is a directory")


def rename(src, dst, overwrite: bool = False) -> None:
    """Moves `src` to `dst`; AlreadyExistsError if `dst` exists unless `overwrite`."""
    src_fs, s = _filesystem(src)
    dst_fs, d = _filesystem(dst)
    with _tf_errors(os.fspath(src)):
        if not src_fs.exists(s):
            raise _not_found(os.fspath(src))
        _check_target(dst_fs, d, os.fspath(dst), overwrite)
        if type(src_fs) is type(dst_fs) and src_fs.storage_options == dst_fs.storage_options:
            src_fs.mv(s, d, recursive=src_fs.isdir(s))
        else:
            _copy_between(src_fs, s, dst_fs, d)
            src_fs.rm(s, recursive=True)


def copy(src, dst, overwrite: bool = False) -> None:
    """Copies file `src` to `dst`, across file systems too; AlreadyExistsError unless `overwrite`."""
    src_fs, s = _filesystem(src)
    dst_fs, d = _filesystem(dst)
    with _tf_errors(os.fspath(src)):
        if not src_fs.exists(s):
            raise _not_found(os.fspath(src))
        if src_fs.isdir(s):
            raise IsADirectoryError(21, "Is a directory")
        _check_target(dst_fs, d, os.fspath(dst), overwrite)
        _copy_between(src_fs, s, dst_fs, d)


def _copy_between(src_fs, s: str, dst_fs, d: str, chunk: int = 1 << 22) -> None:
    with src_fs.open(s, "rb") as fin, dst_fs.open(d, "wb") as fout:
        while data := fin.read(chunk):
            fout.write(data)


class FileStatistics(NamedTuple):
    """What `stat` returns: length in bytes, modification time in ns, is it a directory."""

    length: int
    mtime_nsec: int
    is_directory: bool


def stat(path) -> FileStatistics:
    """Length, mtime (ns) and kind of `path`. NotFoundError if it does not exist.

    >>> tf.io.gfile.stat("model.ckpt.safetensors").length
    1024
    """
    fs, p = _filesystem(path)
    with _tf_errors(os.fspath(path)):
        if _is_local(fs):
            st = os.stat(p)
            return FileStatistics(st.st_size, st.st_mtime_ns, _stat.S_ISDIR(st.st_mode))
        info = fs.info(p)
        is_dir = info.get("type") == "directory"
        try:
            mtime = int(fs.modified(p).timestamp() * 1e9)
        except (NotImplementedError, AttributeError, KeyError, OSError):
            mtime = 0
        return FileStatistics(0 if is_dir else int(info.get("size") or 0), mtime, is_dir)


def walk(top, topdown: bool = True, onerror: Callable | None = None) -> Iterator:
    """Yields (directory, subdirectory names, file names) for `top` and every directory under it.

    Parents come before their children if `topdown`, after them otherwise. A
    missing `top` yields nothing (and calls `onerror(error)` if given).
    """
    top = os.fspath(top)
    fs, p = _filesystem(top)
    try:
        with _tf_errors(top):
            if not fs.isdir(p):
                raise _not_found(top)
            entries = fs.ls(p, detail=True)
    except errors.OpError as e:
        if onerror is not None:
            onerror(e)
        return
    subdirs, files = [], []
    for entry in entries:
        name = posixpath.basename(entry["name"].rstrip("/"))
        (subdirs if entry["type"] == "directory" else files).append(name)
    if topdown:
        yield top, subdirs, files
    for sub in subdirs:
        yield from walk(join(top, sub), topdown, onerror)
    if not topdown:
        yield top, subdirs, files


def join(path, *paths) -> str:
    """Joins path components with "/" for URLs and os.path.join for local paths."""
    path = os.fspath(path)
    if not _has_scheme(path):
        return os.path.join(path, *paths)
    for part in paths:
        path = part if _has_scheme(part) else path.rstrip("/") + "/" + part.lstrip("/")
    return path


# ---------------------------------------------------------------- tf.gfile's names
def Exists(filename) -> bool:  # noqa: N802 - TensorFlow's name
    """`tf.gfile.Exists(filename)`: whether `filename` exists."""
    return exists(filename)


def IsDirectory(dirname) -> bool:  # noqa: N802
    """`tf.gfile.IsDirectory(dirname)`: whether `dirname` is a directory."""
    return isdir(dirname)


def MakeDirs(dirname) -> None:  # noqa: N802
    """`tf.gfile.MakeDirs(dirname)`: creates it and its parents; fine if it exists."""
    makedirs(dirname)


def MkDir(dirname) -> None:  # noqa: N802
    """`tf.gfile.MkDir(dirname)`: creates it (its parent must exist)."""
    mkdir(dirname)


def ListDirectory(dirname) -> list[str]:  # noqa: N802
    """`tf.gfile.ListDirectory(dirname)`: the names of its entries."""
    return listdir(dirname)


def Glob(filename) -> list[str]:  # noqa: N802
    """`tf.gfile.Glob(filename)`: the paths matching the pattern `filename`."""
    return glob(filename)


def Remove(filename) -> None:  # noqa: N802
    """`tf.gfile.Remove(filename)`: deletes the file."""
    remove(filename)


def DeleteRecursively(dirname) -> None:  # noqa: N802
    """`tf.gfile.DeleteRecursively(dirname)`: deletes it and everything under it."""
    rmtree(dirname)


def Rename(oldname, newname, overwrite: bool = False) -> None:  # noqa: N802
    """`tf.gfile.Rename(oldname, newname, overwrite=False)`."""
    rename(oldname, newname, overwrite)


def Copy(oldpath, newpath, overwrite: bool = False) -> None:  # noqa: N802
    """`tf.gfile.Copy(oldpath, newpath, overwrite=False)`."""
    copy(oldpath, newpath, overwrite)


def Stat(filename) -> FileStatistics:  # noqa: N802
    """`tf.gfile.Stat(filename)`: .length, .mtime_nsec, .is_directory."""
    return stat(filename)


def Walk(top, in_order: bool = True) -> Iterator:  # noqa: N802
    """`tf.gfile.Walk(top, in_order=True)`: `walk` with parents first if `in_order`."""
    return walk(top, topdown=in_order)


io_gfile = types.ModuleType(
    "raygraph.io.gfile", "`tf.io.gfile`: the snake_case file functions of raygraph.gfile, and GFile."
)
for _name in (
    "GFile",
    "copy",
    "exists",
    "glob",
    "isdir",
    "join",
    "listdir",
    "makedirs",
    "mkdir",
    "remove",
    "rename",
    "rmtree",
    "stat",
    "walk",
):
    setattr(io_gfile, _name, globals()[_name])
io_gfile.__all__ = sorted(
    vars(io_gfile).keys() - {"__name__", "__doc__", "__package__", "__loader__", "__spec__"}
)
del _name
