"""Checkpoint files: raygraph's tensor file format and TensorFlow's "checkpoint" state file.

A checkpoint is one file, `<prefix>.rgckpt`, holding named tensors:

    offset  size  field
    0       8     magic            b"\\x89RGCKPT\\n"
    8       4     format version   uint32, little-endian (FORMAT_VERSION)
    12      8     header length N  uint64, little-endian (at most MAX_HEADER_BYTES)
    20      4     header CRC-32    uint32, little-endian, zlib.crc32 of the N header bytes
    24      N     header           UTF-8 JSON, padded with spaces so the data starts on 64 bytes
    24 + N  ...   data             each tensor's bytes, C order, little-endian

The header is {"format": "raygraph-checkpoint", "version": 1, "data_bytes": D,
"tensors": [{"name", "dtype", "shape", "offset", "length", "crc32"}, ...]}; offsets
count from the first data byte, and the file is exactly 24 + N + D bytes long.

Reading runs no code from the file: no pickle, no eval. The reader validates the
whole header before it builds any array: the magic, the version, the header's
size and checksum, the JSON's structure, every dtype against an allowlist of
numeric and bool types, every shape (non-negative ints), every length against
prod(shape) * itemsize, every range against the file's size and its neighbours.
Each tensor's CRC-32 is checked before its array is returned. Any failure is a
`DataLossError` naming the file and what is wrong with it.

Writes are atomic: the bytes go to a temporary file in the same directory, which
is flushed, fsynced and renamed over the target with `os.replace` (then the
directory is fsynced), so a reader sees the old file or the new one, never half
of one, even if the writer is killed.

The state file ("checkpoint", next to the checkpoints) is TensorFlow's protobuf text
format, one field per line:

    model_checkpoint_path: "model.ckpt-200"
    all_model_checkpoint_paths: "model.ckpt-100"
    all_model_checkpoint_paths: "model.ckpt-200"

It is parsed line by line; it is written atomically too.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping

import numpy as np

from raygraph import errors

__all__ = [
    "CHECKPOINT_SUFFIX",
    "CheckpointFile",
    "CheckpointState",
    "atomic_write",
    "format_checkpoint_state",
    "parse_checkpoint_state",
    "read_checkpoint_state",
    "write_checkpoint",
    "write_checkpoint_state",
]

CHECKPOINT_SUFFIX = ".rgckpt"
MAGIC = b"\x89RGCKPT\n"
FORMAT_VERSION = 1
FORMAT_NAME = "raygraph-checkpoint"
MAX_HEADER_BYTES = 64 << 20
MAX_RANK = 64
MAX_STATE_FILE_BYTES = 16 << 20
ALIGNMENT = 64
CHUNK_BYTES = 16 << 20

_PREAMBLE = struct.Struct("<8sIQI")  # magic, version, header length, header crc32
# The numeric and bool dtypes of raygraph.dtypes: nothing else is ever written or read.
DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "float16", "float32", "float64"]
)
_ENTRY_KEYS = {"name", "dtype", "shape", "offset", "length", "crc32"}
_HEADER_KEYS = {"format", "version", "data_bytes", "tensors"}


def _data_loss(path: str, what: str) -> errors.DataLossError:
    return errors.DataLossError(None, None, f"Checkpoint file {path} is unreadable: {what}")


# -- atomic writes ---------------------------------------------------------------


@contextlib.contextmanager
def atomic_write(path: str) -> Iterator:
    """A binary file object whose contents replace `path` all at once on success.

    >>> with atomic_write("ckpt/checkpoint") as f:
    ...     f.write(b"...")

    The data goes to a temporary file in the same directory, flushed and fsynced,
    then `os.replace`d over `path`. On an exception the temporary file is removed
    and `path` is untouched.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
    )  # umask applies
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
    _fsync_directory(directory)


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
    array = np.asarray(value)
    if array.dtype.name not in DTYPES:
        raise TypeError(
            f"Cannot save tensor {name!r} of dtype {array.dtype}: checkpoints hold only "
            f"{', '.join(sorted(DTYPES))}"
        )
    return array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)  # keeps 0-d arrays 0-d


def _bytes_of(array: np.ndarray) -> memoryview:
    return memoryview(array.reshape(-1).view(np.uint8))


def _align(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


def _layout(tensors: Mapping[str, np.ndarray]) -> tuple[bytes, list[tuple[int, memoryview]]]:
    """The encoded header and the (offset, bytes) of each tensor in the data region."""
    entries, pieces, offset = [], [], 0
    for name, array in tensors.items():
        data = _bytes_of(array)
        entries.append(
            {
                "name": name,
                "dtype": array.dtype.name,
                "shape": list(array.shape),
                "offset": offset,
                "length": data.nbytes,
                "crc32": _crc32(data),
            }
        )
        pieces.append((offset, data))
        offset = _align(offset + data.nbytes)
    data_bytes = pieces[-1][0] + pieces[-1][1].nbytes if pieces else 0
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "data_bytes": data_bytes, "tensors": entries}
    raw = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raw += b" " * (_align(_PREAMBLE.size + len(raw)) - _PREAMBLE.size - len(raw))
    return raw, pieces


def _crc32(data) -> int:
    crc = 0
    for start in range(0, len(data), CHUNK_BYTES):
        crc = zlib.crc32(data[start : start + CHUNK_BYTES], crc)
    return crc


def _write_chunks(f, data: memoryview) -> None:
    for start in range(0, data.nbytes, CHUNK_BYTES):
        f.write(data[start : start + CHUNK_BYTES])


def write_checkpoint(path: str, tensors: Mapping[str, object]) -> None:
    """Writes {name: array} to the checkpoint file `path`, atomically.

    >>> write_checkpoint("ckpt/model.ckpt-100.rgckpt", {"w": np.ones([2, 3], np.float32)})

    Raises TypeError for a value whose dtype the format does not hold (strings,
    objects). The previous contents of `path`, if any, stay readable until the
    new file is complete.
    """
    arrays = {str(name): _as_storable(str(name), value) for name, value in tensors.items()}
    header, pieces = _layout(arrays)
    if len(header) > MAX_HEADER_BYTES:
        raise ValueError(
            f"Checkpoint header for {path} would be {len(header)} bytes, over {MAX_HEADER_BYTES}"
        )
    with atomic_write(path) as f:
        f.write(_PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header), zlib.crc32(header)))
        f.write(header)
        written = 0
        for offset, data in pieces:
            f.write(b"\0" * (offset - written))
            _write_chunks(f, data)
            written = offset + data.nbytes


# -- reading ---------------------------------------------------------------------


class TensorEntry:
    """Where one tensor lies in a checkpoint file, as its validated header says."""

    __slots__ = ("name", "dtype", "shape", "offset", "length", "crc32")

    def __init__(
        self, name: str, dtype: np.dtype, shape: tuple[int, ...], offset: int, length: int, crc32: int
    ):
        self.name, self.dtype, self.shape = name, dtype, shape
        self.offset, self.length, self.crc32 = offset, length, crc32


class CheckpointFile:
    """A checkpoint file opened for reading; its header is validated on opening.

    >>> ckpt = CheckpointFile("ckpt/model.ckpt-100.rgckpt")
    >>> ckpt.names(), ckpt.entry("w").shape
    (['w'], (2, 3))
    >>> ckpt.read("w")          # checksum verified first
    array([[1., 1., 1.], [1., 1., 1.]], dtype=float32)

    Raises NotFoundError when the file does not exist and DataLossError when it is
    not a valid checkpoint.
    """

    def __init__(self, path: str):
        self.path = path
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                header, self._data_start = _read_header(f, path, size)
        except FileNotFoundError:
            raise errors.NotFoundError(None, None, f"Checkpoint file {path} does not exist") from None
        except IsADirectoryError:
            raise errors.NotFoundError(None, None, f"Checkpoint file {path} is a directory") from None
        self._entries = _validate_header(header, path, size - self._data_start)

    def names(self) -> list[str]:
        """The tensor names, in file order."""
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
        buffer = bytearray(entry.length)
        try:
            with open(self.path, "rb") as f:
                f.seek(self._data_start + entry.offset)
                got = f.readinto(buffer)
        except OSError as e:
            raise _data_loss(self.path, f"reading tensor {name!r} failed: {e}") from None
        if got != entry.length:
            raise _data_loss(self.path, f"tensor {name!r} is cut short ({got} of {entry.length} bytes)")
        crc = _crc32(memoryview(buffer))
        if crc != entry.crc32:
            raise _data_loss(
                self.path,
                f"checksum mismatch in tensor {name!r}: CRC-32 {crc:#010x}, header says {entry.crc32:#010x}",
            )
        array = np.frombuffer(buffer, dtype=entry.dtype).reshape(entry.shape)
        if entry.dtype.kind == "b" and array.size and array.view(np.uint8).max() > 1:
            raise _data_loss(self.path, f"bool tensor {name!r} holds bytes other than 0 and 1")
        return array.astype(entry.dtype.newbyteorder("="), copy=False)

    def read_all(self) -> dict[str, np.ndarray]:
        return {name: self.read(name) for name in self._entries}


def _read_header(f, path: str, size: int) -> tuple[bytes, int]:
    """The raw header bytes after checking the preamble; and where the data starts."""
    head = f.read(_PREAMBLE.size)
    if head[: len(MAGIC)] != MAGIC[: len(head)]:
        hint = " (it looks like a Python pickle, which raygraph never loads)" if head[:1] == b"\x80" else ""
        raise _data_loss(path, f"not a raygraph checkpoint: it starts with {head[:8]!r}, not {MAGIC!r}{hint}")
    if len(head) < _PREAMBLE.size:
        raise _data_loss(
            path, f"{size} bytes is shorter than the {_PREAMBLE.size}-byte preamble (truncated?)"
        )
    _, version, length, crc = _PREAMBLE.unpack(head)
    if version != FORMAT_VERSION:
        raise _data_loss(path, f"format version {version}; this raygraph reads version {FORMAT_VERSION}")
    if length > MAX_HEADER_BYTES:
        raise _data_loss(path, f"header length {length} exceeds the limit of {MAX_HEADER_BYTES} bytes")
    if _PREAMBLE.size + length > size:
        raise _data_loss(
            path, f"header of {length} bytes runs past the end of the {size}-byte file (truncated?)"
        )
    raw = f.read(length)
    if zlib.crc32(raw) != crc:
        raise _data_loss(
            path, f"header checksum mismatch (CRC-32 {zlib.crc32(raw):#010x}, preamble says {crc:#010x})"
        )
    return raw, _PREAMBLE.size + length


def _reject_duplicates(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate JSON keys {sorted({k for k in keys if keys.count(k) > 1})}")
    return dict(pairs)


def _reject_constant(name: str):
    raise ValueError(f"non-finite number {name} in JSON")


def _decode_header(raw: bytes, path: str) -> dict:
    try:
        header = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _data_loss(path, f"header is not valid UTF-8 JSON: {e}") from None
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        keys = sorted(header) if isinstance(header, dict) else type(header).__name__
        raise _data_loss(path, f"header must be an object with keys {sorted(_HEADER_KEYS)}, got {keys}")
    if header["format"] != FORMAT_NAME or header["version"] != FORMAT_VERSION:
        raise _data_loss(path, f"header names format {header['format']!r} version {header['version']!r}")
    if not isinstance(header["tensors"], list):
        raise _data_loss(path, "header's 'tensors' is not a list")
    return header


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _validate_entry(item, path: str, data_size: int) -> TensorEntry:
    if not isinstance(item, dict) or set(item) != _ENTRY_KEYS:
        keys = sorted(item) if isinstance(item, dict) else type(item).__name__
        raise _data_loss(path, f"a tensor entry must have keys {sorted(_ENTRY_KEYS)}, got {keys}")
    name, dtype, shape = item["name"], item["dtype"], item["shape"]
    if not isinstance(name, str) or not name:
        raise _data_loss(path, f"tensor name {name!r} is not a non-empty string")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise _data_loss(path, f"tensor {name!r} has dtype {dtype!r}, not one of {sorted(DTYPES)}")
    if not isinstance(shape, list) or len(shape) > MAX_RANK or not all(_is_int(d) and d >= 0 for d in shape):
        raise _data_loss(
            path, f"tensor {name!r} has shape {shape!r}, not a list of at most {MAX_RANK} non-negative ints"
        )
    for key in ("offset", "length", "crc32"):
        if not _is_int(item[key]) or item[key] < 0:
            raise _data_loss(path, f"tensor {name!r} has {key} {item[key]!r}, not a non-negative int")
    np_dtype = np.dtype(dtype).newbyteorder("<")
    expected = math.prod(shape) * np_dtype.itemsize
    if item["length"] != expected:
        raise _data_loss(
            path,
            f"tensor {name!r} of shape {shape} and dtype {dtype} needs {expected} bytes, header says {item['length']}",
        )
    if item["offset"] + item["length"] > data_size:
        raise _data_loss(
            path,
            f"tensor {name!r} at data bytes [{item['offset']}, {item['offset'] + item['length']}) "
            f"runs past the {data_size}-byte data region (truncated?)",
        )
    if item["crc32"] >= 1 << 32:
        raise _data_loss(path, f"tensor {name!r} has crc32 {item['crc32']}, over 32 bits")
    return TensorEntry(name, np_dtype, tuple(shape), item["offset"], item["length"], item["crc32"])


def _validate_header(raw: bytes, path: str, data_size: int) -> dict[str, TensorEntry]:
    header = _decode_header(raw, path)
    if not _is_int(header["data_bytes"]) or header["data_bytes"] != data_size:
        raise _data_loss(
            path,
            f"the data region is {data_size} bytes but the header says {header['data_bytes']!r} (truncated?)",
        )
    entries: dict[str, TensorEntry] = {}
    for item in header["tensors"]:
        entry = _validate_entry(item, path, data_size)
        if entry.name in entries:
            raise _data_loss(path, f"tensor {entry.name!r} appears twice")
        entries[entry.name] = entry
    _check_no_overlap(list(entries.values()), path)
    return entries


def _check_no_overlap(entries: list[TensorEntry], path: str) -> None:
    spans = sorted((e.offset, e.offset + e.length, e.name) for e in entries if e.length)
    for (_, end, first), (start, _, second) in zip(spans, spans[1:]):
        if start < end:
            raise _data_loss(path, f"tensors {first!r} and {second!r} overlap")


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
    """The state file at `path`, or None when there is none."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_STATE_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
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
