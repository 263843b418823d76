"""TFRecord files (tf.python_io / tf.io) and the tf.train.Example protos."""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import pytest

import raygraph as tf
from raygraph.tfrecord import masked_crc32c

RECORDS = [b"", b"one", b"\x00" * 1000, bytes(range(256)) * 50]
KINDS = ["", "ZLIB", "GZIP"]


def write(path, records, options=None):
    with tf.python_io.TFRecordWriter(path, options) as writer:
        for record in records:
            writer.write(record)


def test_masked_crc32c_matches_the_published_crc32c_check_value():
    # CRC-32C("123456789") = 0xE3069283 (RFC 3720's check value), then TensorFlow's mask
    crc = 0xE3069283
    assert masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_an_uncompressed_file_is_length_crc_data_crc(tmp_path):
    path = str(tmp_path / "a.tfrecord")
    write(path, [b"hello"])
    data = open(path, "rb").read()
    header = struct.pack("<Q", 5)
    assert data == header + struct.pack("<I", masked_crc32c(header)) + b"hello" + struct.pack(
        "<I", masked_crc32c(b"hello")
    )


@pytest.mark.parametrize("kind", KINDS)
def test_records_round_trip(tmp_path, kind):
    path = str(tmp_path / "data.tfrecord")
    write(path, RECORDS, kind)
    assert list(tf.python_io.tf_record_iterator(path, kind)) == RECORDS
    assert list(tf.io.tf_record_iterator(path, tf.io.TFRecordOptions(kind))) == RECORDS


def test_compressed_files_are_zlib_and_gzip_streams(tmp_path):
    z, g = str(tmp_path / "z"), str(tmp_path / "g")
    write(z, [b"abc"], tf.python_io.TFRecordOptions(tf.python_io.TFRecordCompressionType.ZLIB))
    write(g, [b"abc"], tf.python_io.TFRecordCompressionType.GZIP)
    plain = str(tmp_path / "p")
    write(plain, [b"abc"])
    expected = open(plain, "rb").read()
    assert zlib.decompress(open(z, "rb").read()) == expected
    assert gzip.decompress(open(g, "rb").read()) == expected


def test_compression_level_is_passed_to_zlib(tmp_path):
    fast, small = str(tmp_path / "fast"), str(tmp_path / "small")
    records = [bytes(range(256)) * 20 + str(i).encode() for i in range(50)]
    write(fast, records, tf.io.TFRecordOptions("ZLIB", compression_level=0))
    write(small, records, tf.io.TFRecordOptions("ZLIB", compression_level=9))
    assert os.path.getsize(small) < os.path.getsize(fast)
    assert list(tf.io.tf_record_iterator(fast, "ZLIB")) == records


@pytest.mark.parametrize("kind", KINDS)
def test_flush_makes_records_readable_before_close(tmp_path, kind):
    path = str(tmp_path / "f")
    writer = tf.io.TFRecordWriter(path, kind)
    writer.write(b"first")
    writer.flush()
    assert list(tf.io.tf_record_iterator(path, kind)) == [b"first"]  # compressed: up to a sync point
    writer.write(b"second")
    writer.close()
    writer.close()  # twice is fine
    assert list(tf.io.tf_record_iterator(path, kind)) == [b"first", b"second"]
    with pytest.raises(tf.errors.FailedPreconditionError, match="closed"):
        writer.write(b"third")


def test_str_records_are_written_as_utf8(tmp_path):
    path = str(tmp_path / "s")
    write(path, ["héllo"])
    assert list(tf.python_io.tf_record_iterator(path)) == ["héllo".encode()]


def test_bad_compression_types_are_refused():
    with pytest.raises(ValueError, match="Not a valid compression_type"):
        tf.io.TFRecordOptions("BZIP2")
    assert tf.io.TFRecordOptions.get_compression_type_string(tf.io.TFRecordCompressionType.GZIP) == "GZIP"
    assert tf.io.TFRecordOptions.get_compression_type_string(None) == ""


def test_missing_files_and_directories_are_not_found(tmp_path):
    with pytest.raises(tf.errors.NotFoundError):
        tf.python_io.tf_record_iterator(str(tmp_path / "nope"))
    with pytest.raises(tf.errors.NotFoundError):
        tf.python_io.TFRecordWriter(str(tmp_path / "no" / "dir" / "f"))


def test_memory_file_system_paths_work():
    write("memory://records/a.tfrecord", [b"x", b"y"])
    assert list(tf.io.tf_record_iterator("memory://records/a.tfrecord")) == [b"x", b"y"]


def corrupt(path: str, offset: int) -> None:
    data = bytearray(open(path, "rb").read())
    data[offset] ^= 0x01
    open(path, "wb").write(bytes(data))


def test_a_bad_data_crc_is_data_loss_naming_file_and_offset(tmp_path):
    path = str(tmp_path / "bad")
    write(path, [b"first", b"second"])
    second = 12 + 5 + 4
    corrupt(path, second + 12 + 2)  # a byte of "second"
    records = tf.python_io.tf_record_iterator(path)
    assert next(records) == b"first"
    with pytest.raises(tf.errors.DataLossError, match=f"corrupted record at byte offset {second} in {path}"):
        next(records)


def test_a_bad_length_crc_is_data_loss(tmp_path):
    path = str(tmp_path / "bad")
    write(path, [b"first"])
    corrupt(path, 0)
    with pytest.raises(tf.errors.DataLossError, match="corrupted record at byte offset 0.*length"):
        list(tf.python_io.tf_record_iterator(path))


@pytest.mark.parametrize("cut", [3, 12 + 2, 12 + 5 + 1])
def test_a_truncated_record_is_data_loss(tmp_path, cut):
    path = str(tmp_path / "cut")
    write(path, [b"first"])
    open(path, "r+b").truncate(cut)
    with pytest.raises(tf.errors.DataLossError, match=f"truncated record at byte offset 0 in {path}"):
        list(tf.python_io.tf_record_iterator(path))


def test_a_broken_compressed_stream_is_data_loss(tmp_path):
    path = str(tmp_path / "z")
    open(path, "wb").write(b"not zlib at all")
    with pytest.raises(tf.errors.DataLossError, match="cannot decompress"):
        list(tf.io.tf_record_iterator(path, "ZLIB"))


def test_examples_round_trip_through_a_file(tmp_path):
    path = str(tmp_path / "examples")
    examples = [
        tf.train.Example(
            features=tf.train.Features(
                feature={
                    "id": tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
                    "x": tf.train.Feature(float_list=tf.train.FloatList(value=[0.5 * i, -1.0])),
                    "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"n%d" % i])),
                }
            )
        )
        for i in range(3)
    ]
    write(path, [e.SerializeToString() for e in examples])
    assert [tf.train.Example.FromString(r) for r in tf.io.tf_record_iterator(path)] == examples


def test_sequence_example_messages():
    sequence = tf.train.SequenceExample(
        context=tf.train.Features(feature={"n": tf.train.Feature(int64_list=tf.train.Int64List(value=[2]))}),
        feature_lists=tf.train.FeatureLists(
            feature_list={
                "frames": tf.train.FeatureList(
                    feature=[tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 2.0]))] * 2
                )
            }
        ),
    )
    back = tf.train.SequenceExample.FromString(sequence.SerializeToString())
    assert back == sequence
    assert list(back.feature_lists.feature_list["frames"].feature[1].float_list.value) == [1.0, 2.0]
    assert back.DESCRIPTOR.full_name == "tensorflow.SequenceExample"
