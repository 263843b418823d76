"""The parsing ops: ParseExample (tf.parse_example, parse_single_example), ParseSingleSequenceExample,
DecodeRaw and DecodeCSV."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf


def feature(values) -> tf.train.Feature:
    """A Feature holding `values`: bytes, floats or ints by the first value's type."""
    values = list(values)
    if values and isinstance(values[0], bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    if values and isinstance(values[0], float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def example(**features) -> bytes:
    return tf.train.Example(
        features=tf.train.Features(feature={k: feature(v) for k, v in features.items()})
    ).SerializeToString()


def run(fetches, feed=None):
    with tf.Session("local") as sess:
        return sess.run(fetches, feed)


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def test_parse_example_dense_sparse_and_sequence_features():
    records = [
        example(label=[3], x=[1.0, 2.0, 3.0, 4.0], words=[b"a", b"bc"]),
        example(x=[5.0, 6.0], words=[b"d"]),
        example(),
    ]
    serialized = tf.placeholder(tf.string, [None])
    parsed = tf.parse_example(
        serialized,
        {
            "label": tf.FixedLenFeature([], tf.int64, default_value=-1),
            "x": tf.FixedLenSequenceFeature([2], tf.float32, allow_missing=True, default_value=-9.0),
            "words": tf.VarLenFeature(tf.string),
        },
    )
    assert parsed["label"].shape.as_list() == [None]
    assert parsed["x"].shape.as_list() == [None, None, 2]
    assert parsed["words"].indices.shape.as_list() == [None, 2]
    out = run(parsed, {serialized: records})
    np.testing.assert_array_equal(out["label"], [3, -1, -1])
    assert out["label"].dtype == np.int64
    np.testing.assert_array_equal(out["x"], [[[1, 2], [3, 4]], [[5, 6], [-9, -9]], [[-9, -9], [-9, -9]]])
    assert out["x"].dtype == np.float32
    np.testing.assert_array_equal(out["words"].indices, [[0, 0], [0, 1], [1, 0]])
    assert list(out["words"].values) == [b"a", b"bc", b"d"]
    np.testing.assert_array_equal(out["words"].dense_shape, [3, 2])


def test_parse_example_static_batch_and_multi_dim_shape():
    records = tf.constant([example(m=[1, 2, 3, 4, 5, 6]), example(m=[6, 5, 4, 3, 2, 1])])
    parsed = tf.io.parse_example(records, {"m": tf.io.FixedLenFeature([2, 3], tf.int64)})
    assert parsed["m"].shape.as_list() == [2, 2, 3]
    np.testing.assert_array_equal(run(parsed["m"]), [[[1, 2, 3], [4, 5, 6]], [[6, 5, 4], [3, 2, 1]]])


def test_parse_single_example_drops_the_batch_dimension():
    record = tf.constant(example(x=[1.5, 2.5], s=[b"one"], ids=[7, 8, 9]))
    parsed = tf.parse_single_example(
        record,
        {
            "x": tf.FixedLenFeature([2], tf.float32),
            "s": tf.FixedLenFeature([], tf.string),
            "ids": tf.VarLenFeature(tf.int64),
            "missing": tf.FixedLenFeature([2], tf.float32, default_value=[0.5, 0.25]),
        },
    )
    assert parsed["x"].shape.as_list() == [2]
    assert parsed["s"].shape.as_list() == []
    assert parsed["ids"].dense_shape.shape.as_list() == [1]
    out = run(parsed)
    np.testing.assert_array_equal(out["x"], [1.5, 2.5])
    assert out["s"] == b"one"
    np.testing.assert_array_equal(out["ids"].indices, [[0], [1], [2]])
    np.testing.assert_array_equal(out["ids"].values, [7, 8, 9])
    np.testing.assert_array_equal(out["ids"].dense_shape, [3])
    np.testing.assert_array_equal(out["missing"], [0.5, 0.25])


def test_a_missing_required_feature_is_invalid_argument():
    parsed = tf.parse_example(tf.constant([example(a=[1])]), {"b": tf.FixedLenFeature([], tf.int64)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Feature: b .*required"):
        run(parsed)


def test_a_value_list_of_another_type_is_invalid_argument():
    parsed = tf.parse_example(tf.constant([example(a=[1])]), {"a": tf.FixedLenFeature([], tf.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Key: a.*Data types don't match"):
        run(parsed)


def test_a_value_list_of_another_length_is_invalid_argument():
    parsed = tf.parse_example(
        tf.constant([example(a=[1.0, 2.0])]), {"a": tf.FixedLenFeature([3], tf.float32)}
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="Values size: 2 but output shape: \\[3\\]"):
        run(parsed)


def test_a_sequence_feature_must_fill_whole_rows():
    spec = {"a": tf.FixedLenSequenceFeature([2], tf.float32, allow_missing=True)}
    parsed = tf.parse_example(tf.constant([example(a=[1.0, 2.0, 3.0])]), spec)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a multiple"):
        run(parsed)


def test_bytes_that_are_not_an_example_are_invalid_argument():
    parsed = tf.parse_example(tf.constant([b"\xff\xff\xff"]), {"a": tf.VarLenFeature(tf.int64)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse example input 0"):
        run(parsed)


def test_example_names_appear_in_errors():
    parsed = tf.parse_example(
        tf.constant([example(), example()]),
        {"b": tf.FixedLenFeature([], tf.int64)},
        example_names=["first", "second"],
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="Name: first"):
        run(parsed)


@pytest.mark.parametrize(
    "spec, message",
    [
        (tf.FixedLenSequenceFeature([2], tf.float32), "requires allow_missing"),
        (tf.FixedLenFeature([None], tf.float32), "need to be known"),
        (tf.FixedLenFeature([], tf.int32), "features hold float32, int64 or string"),
        (tf.FixedLenFeature([2], tf.float32, default_value=[1.0]), "has 1 values"),
        ("not a spec", "Invalid feature"),
    ],
)
def test_bad_specs_fail_when_the_graph_is_built(spec, message):
    with pytest.raises(ValueError, match=message):
        tf.parse_example(tf.constant([example()]), {"a": spec})


def test_serialized_must_be_strings_of_rank_at_most_one():
    with pytest.raises(ValueError, match="requested dtype string"):
        tf.parse_example(tf.constant([1.0]), {"a": tf.VarLenFeature(tf.int64)})
    with pytest.raises(ValueError, match="scalar or a vector"):
        tf.parse_example(tf.constant([[example()]]), {"a": tf.VarLenFeature(tf.int64)})


def test_decode_raw_reads_little_and_big_endian():
    data = np.array([[1.5, -2.0], [3.0, 4.25]], np.float32)
    strings = tf.constant([row.tobytes() for row in data])  # native little-endian bytes
    little = tf.decode_raw(strings, tf.float32)
    big = tf.io.decode_raw(
        tf.constant([row.astype(">f4").tobytes() for row in data]), tf.float32, little_endian=False
    )
    assert little.shape.as_list() == [2, None]
    out_little, out_big = run([little, big])
    np.testing.assert_array_equal(out_little, data)
    np.testing.assert_array_equal(out_big, data)
    assert out_little.dtype == np.float32
    np.testing.assert_array_equal(
        run(tf.decode_raw(bytes=tf.constant(b"\x01\x02\x00"), out_type=tf.uint8)), [1, 2, 0]
    )


def test_decode_raw_refuses_ragged_or_misaligned_strings():
    with pytest.raises(tf.errors.InvalidArgumentError, match="same size"):
        run(tf.decode_raw(tf.constant([b"ab", b"abcd"]), tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a multiple of 4"):
        run(tf.decode_raw(tf.constant([b"abcdef"]), tf.int32))


def test_decode_csv_types_defaults_quotes_and_selected_columns():
    records = tf.constant([b'1,2.5,x,"a,""b"""', b"2,,y,z", b"3,NA,,w"])
    a, b, c, d = tf.decode_csv(records, [[0], [1.0], ["none"], tf.constant([], tf.string)], na_value="NA")
    assert a.dtype == tf.int32 and b.dtype == tf.float32 and c.dtype == tf.string
    out = run([a, b, c, d])
    np.testing.assert_array_equal(out[0], [1, 2, 3])
    np.testing.assert_array_equal(out[1], [2.5, 1.0, 1.0])
    assert list(out[2]) == [b"x", b"y", b"none"]
    assert list(out[3]) == [b'a,"b"', b"z", b"w"]
    first, last = tf.io.decode_csv(records, [[0], [""]], select_cols=[0, 3])
    assert list(run(last)) == [b'a,"b"', b"z", b"w"]
    semicolons = tf.decode_csv(tf.constant([b"1;2"]), [[0], [0]], field_delim=";")
    np.testing.assert_array_equal(run(semicolons), [[1], [2]])


def test_decode_csv_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match="Expect 2 fields but have 3 in record 0"):
        run(tf.decode_csv(tf.constant([b"1,2,3"]), [[0], [0]]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Field 1 is required but missing in record 0"):
        run(tf.decode_csv(tf.constant([b"1,"]), [[0], []]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a valid int32: x"):
        run(tf.decode_csv(tf.constant([b"x"]), [[0]]))


def test_string_constants_keep_trailing_nul_bytes():
    np.testing.assert_array_equal(run(tf.decode_raw(tf.constant([b"\x01\x00"]), tf.uint8)), [[1, 0]])


def sequence_example() -> bytes:
    sequence = tf.train.SequenceExample()
    sequence.context.feature["length"].int64_list.value.append(2)
    frames = sequence.feature_lists.feature_list["frames"]
    frames.feature.add().float_list.value.extend([1.0, 2.0])
    frames.feature.add().float_list.value.extend([3.0, 4.0])
    words = sequence.feature_lists.feature_list["words"]
    words.feature.add().bytes_list.value.append(b"a")
    words.feature.add().bytes_list.value.extend([b"b", b"c"])
    return sequence.SerializeToString()


def test_parse_single_sequence_example_context_and_feature_lists():
    context, steps = tf.parse_single_sequence_example(
        tf.constant(sequence_example()),
        context_features={
            "length": tf.FixedLenFeature([], tf.int64),
            "weight": tf.FixedLenFeature([], tf.float32, default_value=0.5),
        },
        sequence_features={
            "frames": tf.FixedLenSequenceFeature([2], tf.float32),
            "words": tf.VarLenFeature(tf.string),
            "absent": tf.FixedLenSequenceFeature([3], tf.int64, allow_missing=True),
        },
    )
    assert steps["frames"].shape.as_list() == [None, 2]
    assert steps["words"].indices.shape.as_list() == [None, 2]
    out_context, out_steps = run((context, steps))
    assert out_context["length"] == 2 and out_context["weight"] == 0.5
    np.testing.assert_array_equal(out_steps["frames"], [[1, 2], [3, 4]])
    np.testing.assert_array_equal(out_steps["words"].indices, [[0, 0], [1, 0], [1, 1]])
    assert list(out_steps["words"].values) == [b"a", b"b", b"c"]
    np.testing.assert_array_equal(out_steps["words"].dense_shape, [2, 2])
    assert out_steps["absent"].shape == (0, 3)


def test_a_missing_required_feature_list_is_invalid_argument():
    _, steps = tf.parse_single_sequence_example(
        tf.constant(sequence_example()),
        sequence_features={"absent": tf.FixedLenSequenceFeature([], tf.int64)},
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="Feature list 'absent' is required"):
        run(steps)
    _, steps = tf.parse_single_sequence_example(
        tf.constant(sequence_example()),
        sequence_features={"frames": tf.FixedLenSequenceFeature([3], tf.float32)},
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="Values size: 2 but output shape: \\[3\\]"):
        run(steps)
