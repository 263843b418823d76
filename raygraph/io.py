"""Checkpoint files: variables in a safetensors file, and TensorFlow's "checkpoint" state file.

A checkpoint is one safetensors file (https://huggingface.co/docs/safetensors),
`<prefix>.safetensors`, written and read by the `safetensors` package: an 8-byte
little-endian header length, a JSON header {name: {"dtype", "shape",
"data_offsets"}, "__metadata__": {...}}, then each tensor's bytes, C order,
little-endian. Any safetensors reader opens it:

    >>> safetensors.numpy.load_file("ckpt/model.ckpt-100.safetensors")
    {'w': array([[1., 1., 1.], [1., 1., 1.]], dtype=float32)}

raygraph's own entries in `__metadata__` (which maps strings to strings):

    "format"   "raygraph-checkpoint"
    "version"  "2"  (version 1 was the hand-written `.rgckpt` layout, no longer read)
    "crc32"    JSON {tensor name: zlib.crc32 of its bytes}, e.g. '{"w":2768625435}'

Reading runs no code from the file: safetensors holds no pickles, and nothing here
unpickles or evals. safetensors checks the header's size and JSON, every dtype and
shape, and that the tensors tile the data exactly. raygraph checks the rest: no
duplicate keys in the header (safetensors keeps the last), its metadata (format,
version, a CRC-32 for exactly the tensors in the file), every dtype against
raygraph's numeric and bool types, a bool's bytes, and each tensor's CRC-32 before
its array is returned. A file without raygraph's metadata (from another safetensors
writer) is refused, since its tensors cannot be verified; `safetensors.numpy.load_file`
reads it. Any failure is a `DataLossError` naming the file and what is wrong; no
exception of safetensors' own escapes. The CRCs cover bytes, not shapes: a header
whose empty tensor's shape changed reads (Saver.restore then reports the mismatch).

A `CheckpointFile` reads through safetensors' "pread" backend, not its memory map,
so a file cut short while open fails as DataLossError instead of killing the
process with SIGBUS; and it keeps the file open, so a newer save that replaces the
file meanwhile does not mix two checkpoints.

Writes are atomic: `safetensors.numpy.save` builds the file's bytes in memory,
which go to a temporary file in the same directory, flushed, fsynced and renamed
over the target with `os.replace` (then the directory is fsynced), so a reader
sees the old file or the new one, never half of one, even if the writer is killed.

The state file ("checkpoint", next to the checkpoints) is TensorFlow's protobuf text
format, one field per line:

    model_checkpoint_path: "model.ckpt-200"
    all_model_checkpoint_paths: "model.ckpt-100"
    all_model_checkpoint_paths: "model.ckpt-200"

It is parsed line by line; it is written atomically too.

This module is also `tf.io`, for `tf.io.gfile` (TensorFlow's file API; see
raygraph.gfile), TFRecord files (raygraph.tfrecord) and the parsing ops
(`tf.io.parse_example`, `decode_raw`...; ops.parsing). Checkpoint paths may be
URLs too (raygraph.gfile, on fsspec: "gs://bucket/ckpt/model", "memory://ckpt"): a
write goes up in one piece when complete, and a read opens a local copy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import tempfile
import uuid
import zlib
from collections.abc import Iterator, Mapping

import numpy as np
import safetensors
import safetensors.numpy

from raygraph import errors
from raygraph import gfile as _gfile
from raygraph.gfile import io_gfile as gfile  # noqa: F401 - tf.io.gfile

__all__ = [
    "CHECKPOINT_SUFFIX",
    "CheckpointFile",
    "CheckpointState",
    "TensorEntry",
    "atomic_write",
    "format_checkpoint_state",
    "parse_checkpoint_state",
    "read_checkpoint_state",
    "write_checkpoint",
    "write_checkpoint_state",
]

CHECKPOINT_SUFFIX = ".safetensors"
FORMAT_NAME = "raygraph-checkpoint"
FORMAT_VERSION = "2"
MAX_STATE_FILE_BYTES = 16 << 20
_MAX_HEADER_BYTES = 100_000_000  # safetensors refuses larger headers itself
_METADATA_KEY = "__metadata__"

# safetensors' codes for raygraph's numeric and bool dtypes: nothing else is ever written or read.
_DTYPE_OF_CODE = {
    "BOOL": "bool",
    "I8": "int8",
    "I16": "int16",
    "I32": "int32",
    "I64": "int64",
    "U8": "uint8",
    "U16": "uint16",
    "F16": "float16",
    "F32": "float32",
    "F64": "float64",
}
DTYPES = frozenset(_DTYPE_OF_CODE.values())


def _data_loss(path: str, what: str) -> errors.DataLossError:
    return errors.DataLossError(None, None, f"Checkpoint file {path} is unreadable: {what}")


@contextlib.contextmanager
def _failures_as_data_loss(path: str, doing: str) -> Iterator[None]:
    """Re-raises whatever reading a bad file raises (SafetensorError, OSError, ...) as DataLossError."""
    try:
        yield
    except (errors.OpError, MemoryError):
        raise
    except Exception as e:
        raise _data_loss(path, f"{doing}: {e}") from None
    except BaseException as e:
        if type(e).__name__ != "PanicException":  # pyo3's: a panic in safetensors' Rust code
            raise
        raise _data_loss(path, f"{doing}: safetensors panicked: {e}") from None


# -- atomic writes ---------------------------------------------------------------


@contextlib.contextmanager
def atomic_write(path: str) -> Iterator:
    """A binary file object whose contents replace `path` all at once on success.

    >>> with atomic_write("ckpt/checkpoint") as f:
    ...     f.write(b"...")

    The data goes to a temporary file in the same directory, flushed and fsynced,
    then `os.replace`d over `path`. On an exception the temporary file is removed
    and `path` is untouched. A remote URL ("gs://...", "memory://...") is written
    through fsspec in one piece when the block ends: object stores replace an object
    whole, and nothing is written if the block raises.
    """
    local = _gfile.local_path(path)
    if local is None:
        yield from _remote_write(path)
        return
    path = local
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
    )  # umask applies
    _writing.add(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    finally:
        _writing.discard(tmp)
    _fsync_directory(directory)


_writing: set[str] = set()  # this process's atomic writes under way (their temporary files)
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.(?:(?P<pid>\d+)-)?[0-9a-f]{12}\.tmp")


def remove_stale_temp_files(directory: str, stem: str) -> list[str]:
    """Removes the temporary files that interrupted `atomic_write`s of `stem`* left in `directory`.

    A temporary file is stale when the process that wrote it is gone, or is this
    one and no longer writes it. Files of live writers, and of other stems, stay.
    Returns the paths removed.

    >>> remove_stale_temp_files("ckpt", "model.ckpt")   # after a save killed mid-write
    ['ckpt/.model.ckpt-100.safetensors.4242-0123456789ab.tmp']
    """
    try:
        names = os.listdir(directory or os.curdir)
    except OSError:
        return []
    removed = []
    for name in names:
        match = _TEMP_NAME.fullmatch(name)
        if match is None or not _of_stem(match["name"], stem):
            continue
        path = os.path.join(directory, name)
        pid = int(match["pid"]) if match["pid"] else None
        if os.path.abspath(path) in _writing or (pid is not None and pid != os.getpid() and _alive(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
            removed.append(path)
    return removed


def _of_stem(name: str, stem: str) -> bool:
    return name == stem or (name.startswith(stem) and name[len(stem)] in "-.")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _remote_write(path: str) -> Iterator:
    buffer = io.BytesIO()
    yield buffer
    with _gfile.GFile(path, "wb") as f:
        f.write(buffer.getvalue())


def _fsync_directory(directory: str) -> None:
    """Makes a rename in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- writing ---------------------------------------------------------------------


def _as_storable(name: str, value) -> np.ndarray:
    """`value` as a C-contiguous little-endian array of an allowed dtype."""
    if name == _METADATA_KEY:
        raise ValueError(f"Cannot save a tensor named {name!r}: safetensors reserves that name")
    array = np.asarray(value)
    if array.dtype.name not in DTYPES:
        raise TypeError(
            f"Cannot save tensor {name!r} of dtype {array.dtype}: checkpoints hold only "
            f"{', '.join(sorted(DTYPES))}"
        )
    return array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)  # keeps 0-d arrays 0-d


def _crc32(array: np.ndarray) -> int:
    """zlib.crc32 of a C-contiguous array's bytes."""
    return zlib.crc32(memoryview(array.reshape(-1).view(np.uint8)))


def _metadata(arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
    checksums = {name: _crc32(array) for name, array in arrays.items()}
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "crc32": json.dumps(checksums, sort_keys=True, separators=(",", ":")),
    }


def write_checkpoint(path: str, tensors: Mapping[str, object]) -> None:
    """Writes {name: array} to the safetensors file `path`, atomically.

    >>> write_checkpoint("ckpt/model.ckpt-100.safetensors", {"w": np.ones([2, 3], np.float32)})

    Raises TypeError for a value whose dtype checkpoints do not hold (strings,
    objects, complex numbers). The previous contents of `path`, if any, stay
    readable until the new file is complete.
    """
    arrays = {str(name): _as_storable(str(name), value) for name, value in tensors.items()}
    data = safetensors.numpy.save(arrays, metadata=_metadata(arrays))
    with atomic_write(path) as f:
        f.write(data)


# -- reading ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TensorEntry:
    """One tensor as a checkpoint's validated header describes it."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    crc32: int


class CheckpointFile:
    """A checkpoint file opened for reading; its header is validated on opening.

    >>> with CheckpointFile("ckpt/model.ckpt-100.safetensors") as ckpt:
    ...     ckpt.names(), ckpt.entry("w").shape
    ...     ckpt.read("w")          # checksum verified first
    (['w'], (2, 3))
    array([[1., 1., 1.], [1., 1., 1.]], dtype=float32)

    Raises NotFoundError when the file does not exist and DataLossError when it is
    not a valid checkpoint. The file stays open until `close()` (or the object is
    collected).
    """

    def __init__(self, path: str):
        self.path = path
        with contextlib.ExitStack() as stack:
            local = _gfile.local_path(path)
            if local is None:  # a URL: read from a local copy, deleted on close
                local = stack.enter_context(_local_copy(path))
            elif not os.path.isfile(local):
                what = "is not a file" if os.path.exists(local) else "does not exist"
                raise errors.NotFoundError(None, None, f"Checkpoint file {path} {what}")
            with _failures_as_data_loss(path, "not a valid safetensors file"):
                self._file = stack.enter_context(
                    safetensors.safe_open(local, framework="numpy", backend="pread")
                )
                metadata = self._file.metadata() or {}
                specs = {name: self._file.get_slice(name) for name in self._file.keys()}
                specs = {name: (s.get_dtype(), tuple(s.get_shape())) for name, s in specs.items()}
            _reject_duplicate_keys(local, path)
            self._entries = _entries(specs, metadata, path)
            self._closer = stack.pop_all()

    def close(self) -> None:
        """Closes the file (reading it afterwards fails)."""
        self._closer.close()

    def __enter__(self) -> CheckpointFile:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def names(self) -> list[str]:
        """The tensor names, sorted."""
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def entry(self, name: str) -> TensorEntry:
        return self._entries[name]

    def read(self, name: str) -> np.ndarray:
        """The tensor `name` as a new writable array in native byte order."""
        entry = self._entries.get(name)
        if entry is None:
            raise errors.NotFoundError(None, None, f"Key {name} not found in checkpoint {self.path}")
        with _failures_as_data_loss(self.path, f"reading tensor {name!r} failed"):
            array = np.require(self._file.get_tensor(name), entry.dtype, ["C", "W"])
        crc = _crc32(array)
        if crc != entry.crc32:
            raise _data_loss(
                self.path,
                f"checksum mismatch in tensor {name!r}: CRC-32 {crc:#010x}, metadata says {entry.crc32:#010x}",
            )
        if entry.dtype.kind == "b" and array.size and array.view(np.uint8).max() > 1:
            raise _data_loss(self.path, f"bool tensor {name!r} holds bytes other than 0 and 1")
        return array


@contextlib.contextmanager
def _local_copy(url: str) -> Iterator[str]:
    """A local temporary copy of the file at `url`, removed afterwards."""
    if not _gfile.exists(url) or _gfile.isdir(url):
        what = "is not a file" if _gfile.exists(url) else "does not exist"
        raise errors.NotFoundError(None, None, f"Checkpoint file {url} {what}")
    with tempfile.TemporaryDirectory(prefix="raygraph-ckpt-") as tmp:
        local = os.path.join(tmp, "checkpoint" + CHECKPOINT_SUFFIX)
        _gfile.copy(url, local)
        yield local


def _reject_duplicate_keys(path: str, shown: str | None = None) -> None:
    """Parses the header again: safetensors keeps the last of two entries with one name."""
    with _failures_as_data_loss(shown or path, "bad header"), open(path, "rb") as f:
        length = int.from_bytes(f.read(8), "little")
        json.loads(f.read(min(length, _MAX_HEADER_BYTES)), object_pairs_hook=_reject_duplicates)


def _reject_duplicates(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate JSON keys {sorted({k for k in keys if keys.count(k) > 1})}")
    return dict(pairs)


def _checksums(metadata: Mapping[str, str], path: str) -> dict[str, int]:
    """{tensor name: CRC-32} from raygraph's metadata, once its format and version are checked."""
    if metadata.get("format") != FORMAT_NAME:
        raise _data_loss(
            path,
            f"no raygraph metadata (__metadata__ format is {metadata.get('format')!r}, not "
            f"{FORMAT_NAME!r}), so its tensors cannot be verified; safetensors.numpy.load_file reads it",
        )
    if metadata.get("version") != FORMAT_VERSION:
        raise _data_loss(
            path, f"format version {metadata.get('version')!r}; this raygraph reads version {FORMAT_VERSION}"
        )
    if "crc32" not in metadata:
        raise _data_loss(path, "the metadata holds no 'crc32' checksums")
    try:
        checksums = json.loads(metadata["crc32"], object_pairs_hook=_reject_duplicates)
    except (ValueError, RecursionError) as e:
        raise _data_loss(path, f"the metadata's 'crc32' is not valid JSON: {e}") from None
    if not isinstance(checksums, dict) or not all(_is_crc(v) for v in checksums.values()):
        raise _data_loss(path, "the metadata's 'crc32' must map tensor names to 32-bit unsigned ints")
    return checksums


def _is_crc(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32


def _entries(specs: Mapping[str, tuple], metadata: Mapping[str, str], path: str) -> dict[str, TensorEntry]:
    """{name: TensorEntry} from safetensors' (dtype code, shape) per tensor and raygraph's metadata."""
    checksums = _checksums(metadata, path)
    unlisted = sorted(set(checksums) - set(specs))
    if unlisted:
        raise _data_loss(path, f"the metadata has checksums of tensors the file lacks: {unlisted[:10]}")
    entries = {}
    for name, (code, shape) in sorted(specs.items()):
        if code not in _DTYPE_OF_CODE:
            raise _data_loss(path, f"tensor {name!r} has dtype {code}, not one of {sorted(_DTYPE_OF_CODE)}")
        if name not in checksums:
            raise _data_loss(path, f"tensor {name!r} has no CRC-32 in the metadata")
        dtype = np.dtype(_DTYPE_OF_CODE[code])
        if not _shape_is_possible(shape, dtype):
            raise _data_loss(path, f"tensor {name!r} has shape {list(shape)}, too large for any array")
        entries[name] = TensorEntry(name, dtype, shape, checksums[name])
    return entries


def _shape_is_possible(shape: tuple[int, ...], dtype: np.dtype) -> bool:
    """Whether an array of `shape` can exist: each dimension and the product of the nonzero
    ones, in bytes, fit in int64 (an empty tensor's other dimensions are real dimensions too)."""
    size = dtype.itemsize
    for dim in shape:
        if not 0 <= dim < 2**63:
            return False
        size *= max(dim, 1)
    return size < 2**63


# -- the "checkpoint" state file -------------------------------------------------


class CheckpointState:
    """The contents of a "checkpoint" state file (TensorFlow's CheckpointState).

    >>> state = tf.train.get_checkpoint_state("ckpt")
    >>> state.model_checkpoint_path, list(state.all_model_checkpoint_paths)
    ('ckpt/model.ckpt-200', ['ckpt/model.ckpt-100', 'ckpt/model.ckpt-200'])
    """

    def __init__(
        self,
        model_checkpoint_path: str = "",
        all_model_checkpoint_paths=(),
        all_model_checkpoint_timestamps=(),
        last_preserved_timestamp: float = 0.0,
    ):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps)
        self.last_preserved_timestamp = last_preserved_timestamp

    def __eq__(self, other) -> bool:
        return isinstance(other, CheckpointState) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return format_checkpoint_state(self)


_STATE_LINE = re.compile(r"^\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")
_STRING_FIELDS = {"model_checkpoint_path", "all_model_checkpoint_paths"}
_FLOAT_FIELDS = {"all_model_checkpoint_timestamps", "last_preserved_timestamp"}
_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def _unquote(text: str) -> str:
    """A protobuf text-format string literal ("..." with C escapes) as a str."""
    if len(text) < 2 or text[0] not in "\"'" or text[-1] != text[0]:
        raise ValueError(f"expected a quoted string, got {text!r}")
    body, out, i = text[1:-1].encode("utf-8"), bytearray(), 0
    while i < len(body):
        c = body[i : i + 1]
        if c == text[0].encode():
            raise ValueError(f"unescaped quote in {text!r}")
        if c != b"\\":
            out += c
            i += 1
            continue
        nxt = body[i + 1 : i + 2].decode("latin-1")
        if nxt in _ESCAPES:
            out += _ESCAPES[nxt].encode()
            i += 2
        elif nxt in "01234567" and nxt:
            digits = re.match(rb"[0-7]{1,3}", body[i + 1 : i + 4]).group()
            out.append(int(digits, 8) & 0xFF)
            i += 1 + len(digits)
        elif nxt == "x" and re.match(rb"[0-9A-Fa-f]{1,2}", body[i + 2 : i + 4]):
            digits = re.match(rb"[0-9A-Fa-f]{1,2}", body[i + 2 : i + 4]).group()
            out.append(int(digits, 16))
            i += 2 + len(digits)
        else:
            raise ValueError(f"bad escape \\{nxt} in {text!r}")
    return out.decode("utf-8")


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c >= " " else f"\\{ord(c):03o}" for c in escaped)
    return f'"{escaped}"'


def parse_checkpoint_state(text: str, path: str) -> CheckpointState:
    """Parses a state file's text; DataLossError naming `path` and the line when malformed."""
    state = CheckpointState()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _STATE_LINE.match(line)
        try:
            if match is None:
                raise ValueError("expected 'field: value'")
            key, value = match.groups()
            if key in _STRING_FIELDS:
                value = _unquote(value)
            elif key in _FLOAT_FIELDS:
                value = float(value)
            else:
                raise ValueError(f"unknown field {key!r}")
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.DataLossError(
                None, None, f"Checkpoint state file {path} is malformed at line {number} ({line[:80]!r}): {e}"
            ) from None
        if key in ("model_checkpoint_path", "last_preserved_timestamp"):
            setattr(state, key, value)
        else:
            getattr(state, key).append(value)
    return state


def format_checkpoint_state(state: CheckpointState) -> str:
    lines = [f"model_checkpoint_path: {_quote(state.model_checkpoint_path)}"]
    lines += [f"all_model_checkpoint_paths: {_quote(p)}" for p in state.all_model_checkpoint_paths]
    lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in state.all_model_checkpoint_timestamps]
    if state.last_preserved_timestamp:
        lines.append(f"last_preserved_timestamp: {state.last_preserved_timestamp!r}")
    return "\n".join(lines) + "\n"


def read_checkpoint_state(path: str) -> CheckpointState | None:
    """The state file at `path` (a local path or a URL), or None when there is none."""
    local = _gfile.local_path(path)
    try:
        if local is None:
            if not _gfile.exists(path) or _gfile.isdir(path):
                return None
            with _gfile.GFile(path, "rb") as f:
                raw = f.read(MAX_STATE_FILE_BYTES + 1)
        else:
            with open(local, "rb") as f:
                raw = f.read(MAX_STATE_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError, errors.NotFoundError):
        return None
    if len(raw) > MAX_STATE_FILE_BYTES:
        raise errors.DataLossError(
            None, None, f"Checkpoint state file {path} is over {MAX_STATE_FILE_BYTES} bytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise errors.DataLossError(
            None, None, f"Checkpoint state file {path} is not UTF-8 text: {e}"
        ) from None
    return parse_checkpoint_state(text, path)


def write_checkpoint_state(path: str, state: CheckpointState) -> None:
    """Writes the state file atomically (see `atomic_write`)."""
    with atomic_write(path) as f:
        f.write(format_checkpoint_state(state).encode("utf-8"))


# -- tf.io's TFRecord files and parsing ops (raygraph.tfrecord, ops.parsing) -----------------

from raygraph.tfrecord import (  # noqa: E402, F401 - tf.io.TFRecordWriter and friends
    TFRecordCompressionType,
    TFRecordOptions,
    TFRecordWriter,
    tf_record_iterator,
)


def __getattr__(name: str):
    """tf.io's op functions (parse_example, decode_raw, ...), registered under "io.", and write_graph."""
    if name == "write_graph":  # raygraph.meta_graph is user API: imported only when asked for
        from raygraph.meta_graph import write_graph

        return write_graph
    import ops
    from ops import registry

    ops.load_all()
    fn = registry.api_functions("io.").get(name)
    if fn is None:
        raise AttributeError(f"module 'raygraph.io' has no attribute {name!r}")
    return fn
