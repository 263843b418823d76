"""The summary ops: ScalarSummary, HistogramSummary, ImageSummary, AudioSummaryV2,
TensorSummaryV2 and MergeSummary, run in a local session and read back as protos.

TensorFlow's own numbers for the same summaries are compared in
tests/compat/test_summary_vs_tf.py.
"""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from PIL import Image

import raygraph as tf
from ops import summary as summary_ops


def run_summary(tensor, feed=None) -> tf.Summary:
    with tf.Session("local") as sess:
        serialized = sess.run(tensor, feed)
    assert isinstance(serialized, bytes)
    return tf.Summary.FromString(serialized)


def test_scalar_summary_holds_the_value_under_the_scoped_name():
    x = tf.placeholder(tf.float32, [])
    with tf.name_scope("train"):
        s = tf.summary.scalar("loss", x * 2.0)
    again = tf.summary.scalar("loss", x)
    assert s.op.type == "ScalarSummary" and s.dtype == tf.string
    assert s.op.name == "train/loss" and again.op.name == "loss"
    (value,) = run_summary(s, {x: 1.25}).value
    assert value.tag == "train/loss" and value.simple_value == 2.5


def test_family_prefixes_the_tag_and_illegal_characters_are_cleaned():
    s = tf.summary.scalar("my loss!", 1.0, family="losses")
    (value,) = run_summary(s).value
    assert value.tag == "losses/losses/my_loss_"


def test_summaries_join_their_collections():
    a = tf.summary.scalar("a", 1.0)
    b = tf.summary.scalar("b", 2.0, collections=["mine"])
    assert tf.get_collection(tf.GraphKeys.SUMMARIES) == [a]
    assert tf.get_collection("mine") == [b]


def test_scalar_summary_of_a_vector_fails_at_construction():
    with pytest.raises(ValueError, match="scalar"):
        tf.summary.scalar("v", tf.zeros([3]))


def test_histogram_summary_counts_values_into_tf_default_buckets():
    values = np.array([-2.0, 0.0, 0.5, 0.5, 3.0], np.float32)
    (value,) = run_summary(tf.summary.histogram("h", tf.constant(values))).value
    histo = value.histo
    assert value.tag == "h"
    assert (histo.min, histo.max, histo.num, histo.sum, histo.sum_squares) == (-2.0, 3.0, 5.0, 2.0, 13.5)
    assert sum(histo.bucket) == 5
    limits = summary_ops.BUCKET_LIMITS
    for v in values:  # each value is counted in the bucket whose limit is the first above it
        i = int(np.searchsorted(limits, v, side="right"))
        assert limits[i] in histo.bucket_limit
        assert histo.bucket[list(histo.bucket_limit).index(limits[i])] >= 1
    assert limits[0] == -np.finfo(np.float64).max and 0.0 in limits
    assert np.isclose(limits[np.searchsorted(limits, 0.0) + 1], 1e-12)


def test_histogram_summary_of_a_nan_is_an_invalid_argument():
    h = tf.summary.histogram("weights", tf.constant([1.0, np.nan]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Nan in summary histogram for: weights"):
        run_summary(h)


def _png(value) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(value.image.encoded_image_string)))


def test_image_summary_encodes_png_and_scales_floats():
    images = np.zeros((4, 2, 3, 3), np.float32)
    images[0] = 0.5
    images[0, 0, 0] = 1.0  # all >= 0: the largest becomes 255
    images[1] = -1.0  # any < 0: 0 -> 128, largest magnitude -> 127 from it
    images[1, 0, 0] = 1.0
    summary = run_summary(tf.summary.image("img", tf.constant(images), max_outputs=2))
    assert [v.tag for v in summary.value] == ["img/image/0", "img/image/1"]
    first, second = (_png(v) for v in summary.value)
    assert summary.value[0].image.height == 2 and summary.value[0].image.width == 3
    assert summary.value[0].image.colorspace == 3
    assert first[0, 0].tolist() == [255, 255, 255] and first[1, 1].tolist() == [127, 127, 127]
    assert second[0, 0].tolist() == [255, 255, 255] and second[1, 1].tolist() == [1, 1, 1]


def test_image_summary_keeps_uint8_and_names_a_single_image_without_index():
    pixels = np.arange(6, dtype=np.uint8).reshape(1, 2, 3, 1) * 40
    (value,) = run_summary(tf.summary.image("gray", tf.constant(pixels), max_outputs=1)).value
    assert value.tag == "gray/image"
    np.testing.assert_array_equal(_png(value), pixels[0, :, :, 0])


def test_audio_summary_encodes_16_bit_wav():
    clips = np.array([[0.0, 0.5, -0.5, 1.0]], np.float32)
    (value,) = run_summary(tf.summary.audio("sound", tf.constant(clips), 8000, max_outputs=1)).value
    assert value.tag == "sound/audio"
    audio = value.audio
    assert (audio.sample_rate, audio.num_channels, audio.length_frames) == (8000.0, 1, 4)
    assert audio.content_type == "audio/wav"
    with wave.open(io.BytesIO(audio.encoded_audio_string)) as w:
        assert w.getframerate() == 8000 and w.getsampwidth() == 2
        samples = np.frombuffer(w.readframes(4), "<i2")
    assert samples.tolist() == [0, 16384, -16384, 32767]


def test_text_summary_is_a_string_tensor_for_the_text_plugin():
    (value,) = run_summary(tf.summary.text("note", tf.constant(["hello", "world"]))).value
    assert value.tag == "note"
    assert value.metadata.plugin_data.plugin_name == "text"
    assert list(value.tensor.string_val) == [b"hello", b"world"]


def test_tensor_summary_keeps_the_tensor_and_its_description():
    s = tf.summary.tensor_summary("t", tf.constant([[1, 2], [3, 4]]), summary_description="four numbers")
    (value,) = run_summary(s).value
    assert value.metadata.summary_description == "four numbers"
    assert [d.size for d in value.tensor.tensor_shape.dim] == [2, 2]


def test_merge_and_merge_all_take_every_value():
    x = tf.placeholder(tf.float32, [3])
    tf.summary.scalar("average", tf.reduce_mean(x))
    tf.summary.histogram("x", x)
    merged = tf.summary.merge_all()
    assert merged.op.type == "MergeSummary" and merged.op.name == "Merge/MergeSummary"
    summary = run_summary(merged, {x: [1.0, 2.0, 3.0]})
    assert [v.tag for v in summary.value] == ["average", "x"]
    assert summary.value[0].simple_value == 2.0 and summary.value[1].histo.num == 3


def test_merge_all_without_summaries_is_none():
    assert tf.summary.merge_all() is None


def test_merge_of_a_repeated_tag_is_an_invalid_argument():
    a = tf.summary.scalar("a", 1.0)
    merged = tf.summary.merge([a, a])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Duplicate tag a"):
        run_summary(merged)


# -- TF's pre-1.0 functions: tags as given, as strings, lists or string tensors ----------------


def test_pre_1_0_scalar_summary_uses_its_tags_as_given():
    with tf.name_scope("outer"):
        s = tf.scalar_summary("loss", tf.constant(2.0))
        pair = tf.scalar_summary(["a", "b"], tf.constant([1.0, 2.0]), name="pair")
    assert s.op.name == "outer/ScalarSummary" and pair.op.name == "outer/pair"
    assert [(v.tag, v.simple_value) for v in run_summary(s).value] == [("loss", 2.0)]
    assert [(v.tag, v.simple_value) for v in run_summary(pair).value] == [("a", 1.0), ("b", 2.0)]
    assert s in tf.get_collection(tf.GraphKeys.SUMMARIES)
    with pytest.raises(ValueError, match="tags and values are not the same shape"):
        tf.scalar_summary(["a", "b", "c"], tf.constant([1.0, 2.0]))


def test_pre_1_0_summaries_take_run_time_tags_from_a_string_tensor():
    tag = tf.placeholder(tf.string, [])
    tags = tf.placeholder(tf.string, [2])
    scalar = tf.scalar_summary(tags, tf.constant([3.0, 4.0]))
    images = tf.image_summary(tag, tf.zeros([2, 2, 2, 1]), max_images=2)
    histo = tf.histogram_summary(tag, tf.constant([1.0, 2.0]))
    audio = tf.audio_summary(tag, tf.zeros([1, 8]), 8000, max_outputs=1)
    assert scalar.op.type == "SetSummaryTags"
    feed = {tag: "run/t", tags: ["x", "y"]}
    assert [v.tag for v in run_summary(scalar, feed).value] == ["x", "y"]
    assert [v.tag for v in run_summary(images, feed).value] == ["run/t/image/0", "run/t/image/1"]
    assert [v.tag for v in run_summary(histo, feed).value] == ["run/t"]
    assert [v.tag for v in run_summary(audio, feed).value] == ["run/t/audio"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="tags and values are not the same shape"):
        run_summary(tf.scalar_summary(tf.placeholder_with_default(["a", "b", "c"], [None]), [1.0, 2.0]))
    with pytest.raises(TypeError, match="string tensor"):
        tf.histogram_summary(tf.placeholder(tf.int32, []), [1.0])


def test_a_constant_tag_tensor_is_read_when_the_graph_is_built():
    s = tf.histogram_summary(tf.constant("h"), tf.constant([1.0]))
    assert s.op.type == "HistogramSummary" and s.op.get_attr("tag") == "h"
    assert tf.get_default_graph().as_graph_def().node  # a tuple or str tag attr serializes
