"""TFRecord files: TensorFlow's record format, written and read in Python.

A TFRecord file is a sequence of records, each

    uint64  length              little-endian
    uint32  masked_crc32c(length's 8 bytes)
    byte    data[length]
    uint32  masked_crc32c(data)

where masked_crc32c(x) = ((crc >> 15 | crc << 17) + 0xa282ead8) mod 2**32 of the
CRC-32C (Castagnoli) of x, computed by the `google-crc32c` package (hardware
CRC32C where the CPU has it). A ZLIB or GZIP file is this byte stream compressed
as a whole (zlib's deflate, window bits 15, or 31 for the gzip wrapper), exactly
as TensorFlow writes it, so files go both ways between raygraph and TensorFlow.

    with tf.python_io.TFRecordWriter("data.tfrecord") as writer:
        writer.write(example.SerializeToString())
    for record in tf.python_io.tf_record_iterator("data.tfrecord"):
        ...

Reading checks both CRCs of every record. A record whose length or data fails its
CRC, or a file that ends inside a record, raises `DataLossError` naming the file and
the byte offset of the record (in the uncompressed stream), and the iterator stops.
Files open through raygraph.gfile, so any path it takes (local, memory://, s3://)
works.

State: a writer holds its open file and, for compressed files, a zlib compressor;
`flush()` pushes what it wrote so far to the file (a full zlib flush point for
compressed files); `close()` finishes the stream. An iterator holds its file until
it is exhausted or collected.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import google_crc32c

from raygraph import errors
from raygraph.gfile import GFile

__all__ = ["TFRecordCompressionType", "TFRecordOptions", "TFRecordWriter", "tf_record_iterator"]

_HEADER = struct.Struct("<QI")  # length, masked CRC of the length
_FOOTER = struct.Struct("<I")  # masked CRC of the data
_MASK_DELTA = 0xA282EAD8
_READ_CHUNK = 1 << 16


def masked_crc32c(data: bytes) -> int:
    """TensorFlow's masked CRC-32C of `data` (crc32c.h: rotated right 15 bits, plus a constant)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


class TFRecordCompressionType:
    """How a TFRecord file is compressed: NONE, ZLIB or GZIP."""

    NONE = 0
    ZLIB = 1
    GZIP = 2


class TFRecordOptions:
    """Options of a TFRecord file: its compression and zlib's settings.

    >>> options = tf.python_io.TFRecordOptions(tf.python_io.TFRecordCompressionType.GZIP)
    >>> writer = tf.python_io.TFRecordWriter("data.tfrecord.gz", options)

    `compression_type` is a TFRecordCompressionType, "ZLIB", "GZIP" or "" (none).
    `window_bits`, `compression_level`, `compression_method`, `mem_level` and
    `compression_strategy` go to zlib's compressor when writing (None: zlib's
    default). `flush_mode`, `input_buffer_size` and `output_buffer_size` are
    accepted and unused: Python's zlib manages its own buffers.
    """

    compression_type_map = {
        TFRecordCompressionType.ZLIB: "ZLIB",
        TFRecordCompressionType.GZIP: "GZIP",
        TFRecordCompressionType.NONE: "",
    }

    def __init__(
        self,
        compression_type=None,
        flush_mode=None,
        input_buffer_size=None,
        output_buffer_size=None,
        window_bits=None,
        compression_level=None,
        compression_method=None,
        mem_level=None,
        compression_strategy=None,
    ):
        self.get_compression_type_string(compression_type)  # refuses an unknown type now
        self.compression_type = compression_type
        self.flush_mode = flush_mode
        self.input_buffer_size = input_buffer_size
        self.output_buffer_size = output_buffer_size
        self.window_bits = window_bits
        self.compression_level = compression_level
        self.compression_method = compression_method
        self.mem_level = mem_level
        self.compression_strategy = compression_strategy

    @classmethod
    def get_compression_type_string(cls, options) -> str:
        """ "ZLIB", "GZIP" or "" for a TFRecordOptions, a TFRecordCompressionType or a string."""
        if not options:
            return ""
        if isinstance(options, TFRecordOptions):
            return cls.get_compression_type_string(options.compression_type)
        if options in cls.compression_type_map:
            return cls.compression_type_map[options]
        if options in cls.compression_type_map.values():
            return options
        raise ValueError(f'Not a valid compression_type: "{options}"')

    def _window_bits(self) -> int:
        kind = self.get_compression_type_string(self)
        bits = zlib.MAX_WBITS if self.window_bits is None else self.window_bits
        return bits + 16 if kind == "GZIP" else bits

    def _compressor(self):
        """A zlib compressor for these options, or None for an uncompressed file."""
        if not self.get_compression_type_string(self):
            return None

        def given(value, default):
            return default if value is None else value

        return zlib.compressobj(
            given(self.compression_level, zlib.Z_DEFAULT_COMPRESSION),
            given(self.compression_method, zlib.DEFLATED),
            self._window_bits(),
            given(self.mem_level, 9),
            given(self.compression_strategy, zlib.Z_DEFAULT_STRATEGY),
        )


def _as_options(options) -> TFRecordOptions:
    return options if isinstance(options, TFRecordOptions) else TFRecordOptions(compression_type=options)


class TFRecordWriter:
    """Writes records (bytes) to a TFRecord file, `tf.python_io.TFRecordWriter(path, options=None)`.

    >>> with tf.python_io.TFRecordWriter("data.tfrecord") as writer:
    ...     writer.write(b"first record")
    ...     writer.write(example.SerializeToString())

    `options` is a TFRecordOptions, a TFRecordCompressionType or "ZLIB"/"GZIP"/"".
    The file is created (or truncated) at once; a missing directory is NotFoundError.
    """

    def __init__(self, path, options=None):
        options = _as_options(options)
        self._path = str(path)
        self._compressor = options._compressor()
        self._file = GFile(self._path, "wb")
        self._file.write(b"")  # opens (creates) the file now, as TensorFlow does

    def write(self, record) -> None:
        """Appends one record: `record` is bytes (a str is written as UTF-8)."""
        if self._file is None:
            raise errors.FailedPreconditionError(None, None, f"TFRecordWriter for {self._path} is closed")
        data = record.encode("utf-8") if isinstance(record, str) else bytes(record)
        header = struct.pack("<Q", len(data))
        self._out(
            header + struct.pack("<I", masked_crc32c(header)) + data + _FOOTER.pack(masked_crc32c(data))
        )

    def _out(self, data: bytes) -> None:
        self._file.write(self._compressor.compress(data) if self._compressor else data)

    def flush(self) -> None:
        """Pushes every record written so far to the file (readable before close)."""
        if self._file is None:
            raise errors.FailedPreconditionError(None, None, f"TFRecordWriter for {self._path} is closed")
        if self._compressor:
            self._file.write(self._compressor.flush(zlib.Z_SYNC_FLUSH))
        self._file.flush()

    def close(self) -> None:
        """Finishes the file and closes it; closing twice is fine."""
        if self._file is None:
            return
        if self._compressor:
            self._file.write(self._compressor.flush(zlib.Z_FINISH))
        self._file.close()
        self._file = None

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _Inflater:
    """A file's bytes, decompressed by zlib as they are read (gzip members one after another)."""

    def __init__(self, file, window_bits: int, path: str):
        self._file, self._window_bits, self._path = file, window_bits, path
        self._inflate = zlib.decompressobj(window_bits)
        self._buffer = b""

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self._inflate.unconsumed_tail or self._file.read(_READ_CHUNK)
            if not chunk and not self._inflate.unused_data:
                break
            try:
                if self._inflate.eof:  # the next gzip member, if any
                    chunk, self._inflate = (
                        self._inflate.unused_data + chunk,
                        zlib.decompressobj(self._window_bits),
                    )
                self._buffer += self._inflate.decompress(chunk, _READ_CHUNK)
            except zlib.error as e:
                raise errors.DataLossError(None, None, f"{self._path}: cannot decompress: {e}") from None
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def _open_for_reading(path: str, options: TFRecordOptions):
    file = GFile(path, "rb")
    file.read(0)  # opens now: a missing file is NotFoundError when the iterator is made
    if not options.get_compression_type_string(options):
        return file
    return _Inflater(file, options._window_bits(), path)


def _records(stream, path: str) -> Iterator[bytes]:
    offset = 0
    while True:
        header = stream.read(_HEADER.size)
        if not header:
            return
        if len(header) < _HEADER.size:
            raise _data_loss("truncated record", path, offset, f"{len(header)} of the header's 12 bytes")
        length, length_crc = _HEADER.unpack(header)
        if masked_crc32c(header[:8]) != length_crc:
            raise _data_loss("corrupted record", path, offset, "the length's CRC-32C does not match")
        data = stream.read(length)
        footer = stream.read(_FOOTER.size)
        if len(data) < length or len(footer) < _FOOTER.size:
            got = len(data) + len(footer)
            raise _data_loss(
                "truncated record", path, offset, f"{got} of {length + 4} bytes after the header"
            )
        if masked_crc32c(data) != _FOOTER.unpack(footer)[0]:
            raise _data_loss("corrupted record", path, offset, "the data's CRC-32C does not match")
        yield data
        offset += _HEADER.size + length + _FOOTER.size


def _data_loss(what: str, path: str, offset: int, detail: str) -> errors.DataLossError:
    return errors.DataLossError(None, None, f"{what} at byte offset {offset} in {path}: {detail}")


def tf_record_iterator(path, options=None) -> Iterator[bytes]:
    """The records of a TFRecord file, one bytes object each.

    >>> for record in tf.python_io.tf_record_iterator("data.tfrecord"):
    ...     example = tf.train.Example.FromString(record)

    `options` gives the compression as for TFRecordWriter. A missing file raises
    NotFoundError at once; a corrupted or truncated record raises DataLossError
    (file and byte offset) when the iteration reaches it.
    """
    path = str(path)
    options = _as_options(options)
    return _records(_open_for_reading(path, options), path)
