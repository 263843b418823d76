"""Reader ops: records from the files a queue names (tf.TFRecordReader, tf.WholeFileReader, ...).

A reader op (TFRecordReaderV2, WholeFileReaderV2, TextLineReaderV2,
FixedLengthRecordReaderV2, IdentityReaderV2) makes its reader in the session's
resources on its device on first run and outputs its handle, as a queue op
does (ops.data_flow). `ReaderReadV2(reader, queue)` returns the next (key,
value): when the reader has no current file, or its file is done, it dequeues
the next file name from the queue, waiting as a dequeue does, and raises the
queue's OutOfRangeError once the queue is closed and empty. Keys are
TensorFlow's: "<file>:<byte offset>" (TFRecord), "<file>:<line number>" (text,
from 1), "<file>:<record number>" (fixed length, from 0), the file name (whole
file) or the work item itself (identity).

A reader serves one read at a time (several QueueRunner threads may share it);
the others wait, cancellably, for their turn. ReadFile (tf.read_file) reads a
whole file. Files open through raygraph.gfile, so every file system it knows
works; a missing file is NotFoundError, a damaged TFRecord DataLossError.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np

from ops.data_flow import _queue
from ops.registry import Op, api_function, build
from raygraph import dtypes, errors, tfrecord
from raygraph.gfile import GFile
from raygraph.graph import Tensor, colocate_with, convert_to_tensor
from raygraph.shapes import TensorShape

# -- the run-time readers -----------------------------------------------------------


class Reader:
    """A reader's state: its current work item and the records left in it."""

    def __init__(self, name: str, records):
        self.name = name
        self.records = records  # records(work: str) -> iterator of (key, value)
        self.cond = threading.Condition()
        self.busy = False
        self.work: str | None = None
        self.current: Iterator | None = None
        self.produced = 0
        self.completed = 0

    def read(self, ctx, queue, limit: int) -> tuple[list[bytes], list[bytes]]:
        """Up to `limit` (key, value) pairs, at least one (OutOfRangeError when none is left)."""
        with self.cond:
            while self.busy:
                ctx.wait(self.cond, f"Read from reader '{self.name}'")
            self.busy = True
        keys, values = [], []
        try:
            while len(keys) < limit:
                if self.current is None:
                    try:
                        self._next_work(ctx, queue)
                    except errors.OutOfRangeError:
                        if keys:
                            break
                        raise
                try:
                    key, value = next(self.current)
                except StopIteration:
                    self.current, self.work = None, None
                    self.completed += 1
                    continue
                keys.append(key)
                values.append(value)
                self.produced += 1
        finally:
            with self.cond:
                self.busy = False
                self.cond.notify_all()
        return keys, values

    def _next_work(self, ctx, queue) -> None:
        (item,) = queue.dequeue(ctx, 1, "one")
        work = np.asarray(item).item()
        self.work = work.decode() if isinstance(work, bytes) else str(work)
        self.current = self.records(self.work)

    def reset(self) -> None:
        with self.cond:
            self.work, self.current = None, None
            self.produced = self.completed = 0


def _tfrecords(compression_type: str):
    def records(path: str):
        offset = 0
        for record in tfrecord.tf_record_iterator(path, compression_type):
            yield f"{path}:{offset}".encode(), record
            offset += len(record) + 16  # the 12-byte header and the 4-byte footer

    return records


def _whole_file(path: str):
    yield path.encode(), _read(path)


def _identity(work: str):
    yield work.encode(), work.encode()


def _text_lines(skip_header_lines: int):
    def records(path: str):
        with GFile(path, "rb") as f:
            for number, line in enumerate(f, start=1):
                if number > skip_header_lines:
                    yield f"{path}:{number}".encode(), line.rstrip(b"\n").rstrip(b"\r")

    return records


def _fixed_length(header_bytes: int, record_bytes: int, footer_bytes: int, hop_bytes: int):
    def records(path: str):
        data = _read(path)
        body = data[header_bytes : len(data) - footer_bytes]
        step = hop_bytes or record_bytes
        for number, start in enumerate(range(0, len(body) - record_bytes + 1, step)):
            yield f"{path}:{number}".encode(), body[start : start + record_bytes]

    return records


def _read(path: str) -> bytes:
    with GFile(path, "rb") as f:
        return f.read()


# -- the reader ops -----------------------------------------------------------------


class _ReaderOp(Op, register=False):
    stateful = True
    differentiable = False
    cost = "free"

    def infer(**attrs):
        return dtypes.string, TensorShape([])


def _make(ctx, shared_name: str, records) -> np.ndarray:
    name = shared_name or ctx.node_name
    ctx.state.resource(name, lambda: Reader(name, records))
    return np.array(name.encode(), dtype=object)


class TFRecordReaderV2(_ReaderOp):
    """A reader of TFRecord files: (b"file:offset", record)."""

    attrs = {"container": "", "shared_name": "", "compression_type": ""}

    def kernel(ctx, container, shared_name, compression_type):
        return _make(ctx, shared_name, _tfrecords(compression_type))


class WholeFileReaderV2(_ReaderOp):
    """A reader whose one record per file is the whole file: (b"file", contents)."""

    attrs = {"container": "", "shared_name": ""}

    def kernel(ctx, container, shared_name):
        return _make(ctx, shared_name, _whole_file)


class IdentityReaderV2(_ReaderOp):
    """A reader that returns each work item as both key and value."""

    attrs = {"container": "", "shared_name": ""}

    def kernel(ctx, container, shared_name):
        return _make(ctx, shared_name, _identity)


class TextLineReaderV2(_ReaderOp):
    """A reader of text lines, without their newline: (b"file:line", line)."""

    attrs = {"skip_header_lines": 0, "container": "", "shared_name": ""}

    def kernel(ctx, skip_header_lines, container, shared_name):
        return _make(ctx, shared_name, _text_lines(skip_header_lines))


class FixedLengthRecordReaderV2(_ReaderOp):
    """A reader of fixed-length records after a header and before a footer."""

    attrs = {
        "header_bytes": 0,
        "record_bytes": 1,
        "footer_bytes": 0,
        "hop_bytes": 0,
        "container": "",
        "shared_name": "",
        "encoding": "",
    }

    def kernel(ctx, header_bytes, record_bytes, footer_bytes, hop_bytes, container, shared_name, encoding):
        if encoding:
            raise errors.UnimplementedError(None, None, f"FixedLengthRecordReader encoding {encoding!r}")
        return _make(ctx, shared_name, _fixed_length(header_bytes, record_bytes, footer_bytes, hop_bytes))


READER_TYPES = (
    "TFRecordReaderV2",
    "WholeFileReaderV2",
    "IdentityReaderV2",
    "TextLineReaderV2",
    "FixedLengthRecordReaderV2",
)


def _reader(ctx, handle) -> Reader:
    reader = _queue(ctx, handle)  # the same lookup: a resource by name
    if not isinstance(reader, Reader):
        raise errors.InvalidArgumentError(None, None, f"{reader!r} is not a reader")
    return reader


def _check_reader(reader_handle) -> None:
    if reader_handle.op.type not in READER_TYPES:
        raise TypeError(
            f"expected a reader handle, got {reader_handle.name!r} from a {reader_handle.op.type} op"
        )


class _ReaderUse(Op, register=False):
    stateful = True
    differentiable = False
    cost = "free"


class ReaderReadV2(_ReaderUse):
    """The next (key, value) record, taking work from the queue when the current file is done."""

    inputs = ("reader_handle", "queue_handle")
    multi_output = True
    blocking = True

    def infer(reader_handle, queue_handle):
        _check_reader(reader_handle)
        return [(dtypes.string, TensorShape([])), (dtypes.string, TensorShape([]))]

    def kernel(ctx, reader_handle, queue_handle):
        keys, values = _reader(ctx, reader_handle).read(ctx, _queue(ctx, queue_handle), 1)
        return [np.array(keys[0], dtype=object), np.array(values[0], dtype=object)]


class ReaderReadUpToV2(_ReaderUse):
    """Up to `num_records` records (fewer at the end of the work), as two 1-D string tensors."""

    inputs = ("reader_handle", "queue_handle", "num_records")
    multi_output = True
    blocking = True

    def infer(reader_handle, queue_handle, num_records):
        _check_reader(reader_handle)
        return [(dtypes.string, TensorShape([None])), (dtypes.string, TensorShape([None]))]

    def kernel(ctx, reader_handle, queue_handle, num_records):
        keys, values = _reader(ctx, reader_handle).read(ctx, _queue(ctx, queue_handle), int(num_records))
        return [_strings(keys), _strings(values)]


class ReaderNumRecordsProducedV2(_ReaderUse):
    """How many records the reader has produced (int64)."""

    inputs = ("reader_handle",)

    def infer(reader_handle):
        _check_reader(reader_handle)
        return dtypes.int64, TensorShape([])

    def kernel(ctx, reader_handle):
        return np.int64(_reader(ctx, reader_handle).produced)


class ReaderNumWorkUnitsCompletedV2(_ReaderUse):
    """How many work items (files) the reader has finished (int64)."""

    inputs = ("reader_handle",)

    def infer(reader_handle):
        _check_reader(reader_handle)
        return dtypes.int64, TensorShape([])

    def kernel(ctx, reader_handle):
        return np.int64(_reader(ctx, reader_handle).completed)


class ReaderResetV2(_ReaderUse):
    """Forgets the current work item and the counts."""

    inputs = ("reader_handle",)

    def infer(reader_handle):
        _check_reader(reader_handle)
        return []

    def kernel(ctx, reader_handle):
        _reader(ctx, reader_handle).reset()


def _strings(items: list[bytes]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


# -- tf.read_file -------------------------------------------------------------------


class ReadFile(Op):
    """The contents of the file named `filename`, as a string scalar."""

    inputs = ("filename",)
    differentiable = False
    cost = "free"

    def infer(filename):
        if filename.dtype != dtypes.string:
            raise TypeError(f"filename must be a string tensor, got {filename.dtype.name}")
        return dtypes.string, TensorShape([])

    def kernel(xp, filename):
        name = np.asarray(filename).item()
        return np.array(_read(name.decode() if isinstance(name, bytes) else str(name)), dtype=object)


@api_function("read_file", "io.read_file")
def read_file(filename, name=None):
    """The contents of a file: `tf.read_file("data/image.png")` (a string tensor)."""
    return build("ReadFile", [convert_to_tensor(filename, dtype=dtypes.string)], name=name)


def read(reader_ref: Tensor, queue_ref: Tensor, num_records=None, name=None):
    """ReaderReadV2 (or ReaderReadUpToV2 with `num_records`), placed with the reader and the queue.

    The op joins the colocation groups of both, so the reader and its work
    queue share a device (both are state there).
    """
    with colocate_with(reader_ref):
        if num_records is None:
            outputs = build("ReaderReadV2", [reader_ref, queue_ref], name=name or "ReaderReadV2")
        else:
            n = convert_to_tensor(num_records, dtype=dtypes.int64)
            outputs = build("ReaderReadUpToV2", [reader_ref, queue_ref, n], name=name or "ReaderReadUpToV2")
    op = outputs[0].op
    groups = {g for t in (reader_ref, queue_ref) for g in (t.op.colocation_groups or [t.op.name])}
    op.colocation_groups = sorted(groups)
    return outputs
