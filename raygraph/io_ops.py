"""tf.TFRecordReader, tf.WholeFileReader, tf.TextLineReader, ...: records from a queue of file names.

    filenames = tf.train.string_input_producer(["a.tfrecord", "b.tfrecord"], num_epochs=1)
    key, value = tf.TFRecordReader().read(filenames)
    example = tf.parse_single_example(value, features)

A reader object holds its reader op's output, `reader_ref`, and builds the
ops that use it (ops.readers): the reader lives with its work queue on one
device, in the session's state, and keeps its place in the current file
between runs.
"""

from __future__ import annotations

from ops import readers as _readers
from ops.registry import build
from raygraph import tfrecord
from raygraph.graph import Tensor, colocate_with

__all__ = [
    "FixedLengthRecordReader",
    "IdentityReader",
    "ReaderBase",
    "TFRecordReader",
    "TextLineReader",
    "WholeFileReader",
]


class ReaderBase:
    """The operations every reader has; build one with TFRecordReader and friends."""

    def __init__(self, reader_ref: Tensor, supports_serialize: bool = False):
        self._reader_ref = reader_ref
        self._supports_serialize = supports_serialize

    @property
    def reader_ref(self) -> Tensor:
        return self._reader_ref

    @property
    def supports_serialize(self) -> bool:
        return self._supports_serialize

    def read(self, queue, name=None):
        """The next (key, value) pair, taking the next file name from `queue` when needed.

        `queue` is a queue of strings (QueueBase or its queue_ref). OutOfRangeError
        once the queue is closed and every file is read.
        """
        key, value = _readers.read(self._reader_ref, _queue_ref(queue), name=name)
        return key, value

    def read_up_to(self, queue, num_records, name=None):
        """Up to `num_records` (keys, values), as 1-D string tensors."""
        keys, values = _readers.read(self._reader_ref, _queue_ref(queue), num_records, name=name)
        return keys, values

    def num_records_produced(self, name=None):
        with colocate_with(self._reader_ref):
            return build("ReaderNumRecordsProducedV2", [self._reader_ref], name=name)

    def num_work_units_completed(self, name=None):
        with colocate_with(self._reader_ref):
            return build("ReaderNumWorkUnitsCompletedV2", [self._reader_ref], name=name)

    def reset(self, name=None):
        """Forgets the current file and the counts."""
        with colocate_with(self._reader_ref):
            return build("ReaderResetV2", [self._reader_ref], name=name)


def _queue_ref(queue) -> Tensor:
    return queue if isinstance(queue, Tensor) else queue.queue_ref


class TFRecordReader(ReaderBase):
    """Reads the records of TFRecord files: key b"<file>:<byte offset>", value the record.

    >>> key, serialized = tf.TFRecordReader().read(filename_queue)
    """

    def __init__(self, name=None, options=None):
        kind = tfrecord.TFRecordOptions.get_compression_type_string(options)
        super().__init__(build("TFRecordReaderV2", [], {"compression_type": kind}, name=name))


class WholeFileReader(ReaderBase):
    """Reads each file whole: key the file name, value its contents."""

    def __init__(self, name=None):
        super().__init__(build("WholeFileReaderV2", [], name=name))


class IdentityReader(ReaderBase):
    """Returns each work item from the queue as both key and value."""

    def __init__(self, name=None):
        super().__init__(build("IdentityReaderV2", [], name=name))


class TextLineReader(ReaderBase):
    """Reads text files line by line: key b"<file>:<line number>", value the line."""

    def __init__(self, skip_header_lines=None, name=None):
        attrs = {"skip_header_lines": int(skip_header_lines or 0)}
        super().__init__(build("TextLineReaderV2", [], attrs, name=name))


class FixedLengthRecordReader(ReaderBase):
    """Reads records of `record_bytes` bytes between a header and a footer."""

    def __init__(
        self, record_bytes, header_bytes=None, footer_bytes=None, hop_bytes=None, name=None, encoding=None
    ):
        attrs = {
            "record_bytes": int(record_bytes),
            "header_bytes": int(header_bytes or 0),
            "footer_bytes": int(footer_bytes or 0),
            "hop_bytes": int(hop_bytes or 0),
            "encoding": encoding or "",
        }
        super().__init__(build("FixedLengthRecordReaderV2", [], attrs, name=name))
