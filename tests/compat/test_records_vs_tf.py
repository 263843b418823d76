"""TFRecord files and tf.train.Example parsing against TensorFlow 2.21's tf.compat.v1.

Files written by one are read by the other (uncompressed, ZLIB, GZIP); the
uncompressed bytes are identical. The same serialized Examples go through
`parse_example` / `parse_single_example` in both, and the parsed values must
agree, as must decode_raw and decode_csv. A corrupted or truncated file is a
DataLossError in both, and raygraph's names the file and the record's offset.
"""

from __future__ import annotations

import numpy as np
import pytest

tf2 = pytest.importorskip("tensorflow")
v1 = tf2.compat.v1

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

KINDS = ["", "ZLIB", "GZIP"]
RECORDS = [b"", b"x", b"\x00\x01\x02" * 333, bytes(range(256)) * 64]


@pytest.mark.parametrize("kind", KINDS)
def test_raygraph_writes_what_tensorflow_reads(tmp_path, kind):
    path = str(tmp_path / "rg.tfrecord")
    with raygraph.python_io.TFRecordWriter(path, kind) as writer:
        for record in RECORDS:
            writer.write(record)
    assert list(v1.python_io.tf_record_iterator(path, kind)) == RECORDS


@pytest.mark.parametrize("kind", KINDS)
def test_tensorflow_writes_what_raygraph_reads(tmp_path, kind):
    path = str(tmp_path / "tf.tfrecord")
    with tf2.io.TFRecordWriter(path, kind) as writer:
        for record in RECORDS:
            writer.write(record)
    assert list(raygraph.io.tf_record_iterator(path, kind)) == RECORDS


def test_uncompressed_files_are_byte_identical(tmp_path):
    ours, theirs = str(tmp_path / "ours"), str(tmp_path / "theirs")
    for module, path in ((raygraph.io, ours), (tf2.io, theirs)):
        with module.TFRecordWriter(path) as writer:
            for record in RECORDS:
                writer.write(record)
    assert open(ours, "rb").read() == open(theirs, "rb").read()


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_files_are_data_loss_in_both(tmp_path, damage):
    path = str(tmp_path / "damaged")
    with raygraph.io.TFRecordWriter(path) as writer:
        writer.write(b"first")
        writer.write(b"second record")
    data = bytearray(open(path, "rb").read())
    second = 12 + len(b"first") + 4
    if damage == "flip":
        data[second + 12 + 3] ^= 0xFF
    else:
        data = data[: second + 12 + 4]
    open(path, "wb").write(bytes(data))
    with pytest.raises(tf2.errors.DataLossError):
        list(v1.python_io.tf_record_iterator(path))
    what = "corrupted" if damage == "flip" else "truncated"
    records = raygraph.python_io.tf_record_iterator(path)
    assert next(records) == b"first"
    with pytest.raises(
        raygraph.errors.DataLossError, match=f"{what} record at byte offset {second} in {path}"
    ):
        next(records)


# -- Example protos and parsing ---------------------------------------------------------------


def make_examples(tf) -> list[bytes]:
    """Serialized Examples built with `tf.train` (raygraph's or TensorFlow's message classes)."""

    def feature(values):
        if values and isinstance(values[0], bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        if values and isinstance(values[0], float):
            return tf.train.Feature(float_list=tf.train.FloatList(value=values))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    rows = [
        {
            "label": [1],
            "x": [0.5, -1.25, 3.0, 4.5],
            "words": [b"a", b"bc"],
            "ids": [7, -8, 2**40],
            "img": [b"\x00\x01"],
        },
        {"x": [5.0, 6.0], "words": [b"d"], "img": [b"\x02\x03"]},
        {"label": [3], "ids": [], "img": [b"\x04\x00"]},
    ]
    return [
        tf.train.Example(
            features=tf.train.Features(feature={k: feature(v) for k, v in row.items()})
        ).SerializeToString(deterministic=True)
        for row in rows
    ]


def test_example_protos_serialize_to_the_same_bytes():
    assert make_examples(raygraph) == make_examples(tf2)
    parsed = raygraph.train.Example.FromString(make_examples(tf2)[0])
    assert list(parsed.features.feature["ids"].int64_list.value) == [7, -8, 2**40]


def parse_program(tf, records: list[bytes]) -> dict:
    """The TF1 program: parse_example and parse_single_example of the same records."""
    with tf.Graph().as_default():
        serialized = tf.placeholder(tf.string, [None])
        batch = tf.parse_example(
            serialized,
            {
                "label": tf.FixedLenFeature([], tf.int64, default_value=-1),
                "x": tf.FixedLenSequenceFeature([2], tf.float32, allow_missing=True, default_value=-9.0),
                "words": tf.VarLenFeature(tf.string),
                "ids": tf.io.VarLenFeature(tf.int64),
                "img": tf.FixedLenFeature([], tf.string),
            },
        )
        single = tf.io.parse_single_example(
            serialized[0],
            {
                "x": tf.FixedLenFeature([2, 2], tf.float32),
                "ids": tf.VarLenFeature(tf.int64),
                "none": tf.FixedLenFeature([3], tf.int64, default_value=[1, 2, 3]),
            },
        )
        pixels = tf.decode_raw(batch["img"], tf.uint8)
        shorts = tf.io.decode_raw(batch["img"], tf.int16, little_endian=False)
        with tf.Session(**({"target": "local"} if tf is raygraph else {})) as sess:
            out = sess.run(
                {"batch": batch, "single": single, "pixels": pixels, "shorts": shorts}, {serialized: records}
            )
    static = {
        "label": batch["label"].shape.as_list(),
        "x": batch["x"].shape.as_list(),
        "single_x": single["x"].shape.as_list(),
    }
    return out, static


def flat(value) -> dict:
    """{path: array} of nested dicts and sparse tensor values (TF's SparseTensorValue or ours)."""
    if isinstance(value, dict):
        return {f"{k}/{p}": v for k, item in value.items() for p, v in flat(item).items()}
    if hasattr(value, "indices") and hasattr(value, "dense_shape"):
        return {"indices": value.indices, "values": value.values, "dense_shape": value.dense_shape}
    return {"": value}


def test_parsed_examples_match_tensorflow():
    records = make_examples(raygraph)
    ours, our_shapes = parse_program(raygraph, records)
    theirs, their_shapes = parse_program(v1, records)
    assert our_shapes == their_shapes
    ours, theirs = flat(ours), flat(theirs)
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        expected, got = np.asarray(theirs[key]), np.asarray(ours[key])
        assert got.shape == expected.shape, key
        assert got.dtype == expected.dtype or (got.dtype == object and expected.dtype == object), key
        np.testing.assert_array_equal(got, expected, err_msg=key)


@pytest.mark.parametrize(
    "spec, record",
    [
        ({"a": ("FixedLenFeature", [], "int64")}, {"b": [1]}),  # missing and required
        ({"a": ("FixedLenFeature", [], "float32")}, {"a": [1]}),  # int64 values for a float feature
        ({"a": ("FixedLenFeature", [3], "int64")}, {"a": [1, 2]}),  # too few values
        ({"a": ("VarLenFeature", "string")}, {"a": [1]}),
    ],
)
def test_bad_examples_are_invalid_argument_in_both(spec, record):
    for tf, error in (
        (v1, tf2.errors.InvalidArgumentError),
        (raygraph, raygraph.errors.InvalidArgumentError),
    ):
        serialized = tf.train.Example(
            features=tf.train.Features(
                feature={
                    k: tf.train.Feature(int64_list=tf.train.Int64List(value=v)) for k, v in record.items()
                }
            )
        ).SerializeToString()
        with tf.Graph().as_default():
            features = {
                key: getattr(tf, kind)(*[tf.as_dtype(a) if isinstance(a, str) else a for a in args])
                for key, (kind, *args) in spec.items()
            }
            parsed = tf.parse_example(tf.constant([serialized]), features)
            with tf.Session(**({"target": "local"} if tf is raygraph else {})) as sess, pytest.raises(error):
                sess.run(parsed)


def csv_program(tf):
    with tf.Graph().as_default():
        records = tf.constant([b'1,2.5,x,"a,""b"""', b"2,,y,z", b"-3,NA,,w"])
        columns = tf.decode_csv(records, [[0], [1.0], ["none"], tf.constant([], tf.string)], na_value="NA")
        picked = tf.io.decode_csv(records, [tf.constant([0], tf.int64), [""]], select_cols=[0, 3])
        with tf.Session(**({"target": "local"} if tf is raygraph else {})) as sess:
            return sess.run(columns + picked)


def test_decode_csv_matches_tensorflow():
    for got, expected in zip(csv_program(raygraph), csv_program(v1), strict=True):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def sequence_program(tf) -> tuple:
    """parse_single_sequence_example of one SequenceExample built with `tf.train`'s classes."""
    sequence = tf.train.SequenceExample()
    sequence.context.feature["length"].int64_list.value.append(3)
    frames = sequence.feature_lists.feature_list["frames"]
    for step in range(3):
        frames.feature.add().float_list.value.extend([step, -step])
    words = sequence.feature_lists.feature_list["words"]
    words.feature.add().bytes_list.value.append(b"a")
    words.feature.add()
    words.feature.add().bytes_list.value.extend([b"b", b"c"])
    with tf.Graph().as_default():
        context, steps = tf.parse_single_sequence_example(
            sequence.SerializeToString(),
            context_features={
                "length": tf.FixedLenFeature([], tf.int64),
                "rate": tf.FixedLenFeature([2], tf.float32, default_value=[0.5, 1.5]),
                "tags": tf.VarLenFeature(tf.string),
            },
            sequence_features={
                "frames": tf.FixedLenSequenceFeature([2], tf.float32),
                "words": tf.VarLenFeature(tf.string),
                "absent": tf.FixedLenSequenceFeature([4], tf.int64, allow_missing=True),
            },
        )
        shapes = {k: v.shape.as_list() for k, v in {**context, **steps}.items() if not hasattr(v, "indices")}
        with tf.Session(**({"target": "local"} if tf is raygraph else {})) as sess:
            return sess.run({"context": context, "steps": steps}), shapes


def test_parsed_sequence_examples_match_tensorflow():
    (ours, our_shapes), (theirs, their_shapes) = sequence_program(raygraph), sequence_program(v1)
    assert our_shapes == their_shapes
    ours, theirs = flat(ours), flat(theirs)
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        expected, got = np.asarray(theirs[key]), np.asarray(ours[key])
        assert got.shape == expected.shape and got.dtype == expected.dtype, key
        np.testing.assert_array_equal(got, expected, err_msg=key)
