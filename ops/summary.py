"""Summary ops: TF1's tf.summary.scalar, histogram, image, audio, text, tensor_summary, merge.

Each op runs on its device like any other and outputs one scalar string tensor: a
serialized `Summary` protocol buffer (TensorBoard's own `summary_pb2`, from the
tensorboard package). Only those bytes travel to the driver, where
`tf.summary.FileWriter` writes them into an event file.

    loss_summary = tf.summary.scalar("loss", loss)        # tag "loss"
    merged = tf.summary.merge_all()                       # every op in GraphKeys.SUMMARIES
    writer.add_summary(sess.run(merged), global_step=step)

The values follow TensorFlow's kernels, so TensorBoard shows what TF would:
- ScalarSummary: one `simple_value`.
- HistogramSummary: a HistogramProto over TF's default buckets (limits +-1e-12 *
  1.1^k up to 1e20, then +-DBL_MAX, and 0), empty buckets between filled ones
  collapsed into the next limit; a non-finite value is an InvalidArgumentError.
- ImageSummary: PNG (Pillow) per image of [batch, height, width, channels]; uint8
  as is, floats scaled one image at a time (all >= 0: largest to 255; any < 0: 0 to
  128, the largest magnitude to 127 away from it); tag "<tag>/image/<i>", or
  "<tag>/image" when max_images is 1.
- AudioSummaryV2: 16-bit PCM WAV (the standard library's `wave`) per clip.
- TensorSummaryV2: the tensor as a TensorProto with plugin metadata (text uses it).
- MergeSummary: the union of its inputs' values; a repeated tag is an error.

The tag is a static attr (TF passes it as a string tensor): a summary's tag is
almost always known when the graph is built, and no string constant has to reach
the device. TF's pre-1.0 functions (tf.scalar_summary, histogram_summary,
image_summary, audio_summary) take the tags as given, a str, a list, or a string
tensor; a constant tensor's value becomes the attr, and a tensor known only at run
time (a placeholder) goes to SetSummaryTags, which retags the summary on the device.
ScalarSummary's tag may be a tuple: one value per element, as TF's `tags` of the
values' shape. Summary names follow TF's `summary_scope`: the tag is the op's scoped name,
prefixed with `family` when one is given.
"""

from __future__ import annotations

import io
import re
import wave

import numpy as np
from tensorboard.compat.proto import summary_pb2

from ops.common import constant_value
from ops.registry import Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import (
    GraphKeys,
    Tensor,
    add_to_collection,
    convert_to_tensor,
    get_default_graph,
    name_scope,
)
from raygraph.shapes import TensorShape

PLUGIN_TEXT = "text"
"""TensorBoard's text plugin: a string TensorSummary with this plugin name is drawn as text."""


def _on_host(x) -> np.ndarray:
    """A numpy copy of a device array (cupy's .get()), or the numpy array itself."""
    return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else np.asarray(x)


def _serialized(summary: summary_pb2.Summary) -> np.ndarray:
    """The kernels' output: a scalar string tensor holding the serialized proto."""
    out = np.empty((), dtype=object)
    out[()] = summary.SerializeToString()
    return out


def _string_scalar():
    return dtypes.string, TensorShape([])


def _invalid(message: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(None, None, message)


# -- histograms -------------------------------------------------------------------------


def _default_bucket_limits() -> np.ndarray:
    """TensorFlow's default histogram bucket limits (tsl/lib/histogram/histogram.cc)."""
    positive = []
    v = 1.0e-12
    while v < 1.0e20:  # grows by 10% a step, rounded as TF's loop rounds it
        positive.append(v)
        v *= 1.1
    positive.append(np.finfo(np.float64).max)
    negative = [-x for x in reversed(positive)]
    return np.array(negative + [0.0] + positive)


BUCKET_LIMITS = _default_bucket_limits()


def histogram_proto(values: np.ndarray) -> summary_pb2.HistogramProto:
    """TF's HistogramProto of `values` (float64) over the default buckets."""
    values = np.asarray(values, np.float64).reshape(-1)
    index = np.minimum(np.searchsorted(BUCKET_LIMITS, values, side="right"), len(BUCKET_LIMITS) - 1)
    counts = np.bincount(index, minlength=len(BUCKET_LIMITS))
    proto = summary_pb2.HistogramProto(
        min=float(values.min()) if values.size else float(BUCKET_LIMITS[-1]),
        max=float(values.max()) if values.size else float(-BUCKET_LIMITS[-1]),
        num=float(values.size),
        sum=float(values.sum()),
        sum_squares=float(np.dot(values, values)),
    )
    i = 0
    while i < len(BUCKET_LIMITS):  # a run of empty buckets collapses into its last limit
        end, count = BUCKET_LIMITS[i], counts[i]
        i += 1
        if count <= 0:
            while i < len(BUCKET_LIMITS) and counts[i] <= 0:
                end, count = BUCKET_LIMITS[i], counts[i]
                i += 1
        proto.bucket_limit.append(float(end))
        proto.bucket.append(float(count))
    return proto


# -- images and audio ---------------------------------------------------------------------


def _image_to_uint8(image: np.ndarray, bad_color: np.ndarray) -> np.ndarray:
    """One [h, w, c] image as uint8, scaled as TF's NormalizeFloatImage; non-finite pixels bad_color."""
    if image.dtype == np.uint8:
        return image
    pixels = image.astype(np.float32)
    finite = np.isfinite(pixels).all(axis=-1)
    good = pixels[finite]
    low = float(good.min()) if good.size else np.inf
    high = float(good.max()) if good.size else -np.inf
    if low < 0:
        top = max(abs(low), abs(high))
        scale, offset = (0.0 if top < 1e-6 else 127.0 / top), 128.0
    else:
        scale, offset = (0.0 if high < 1e-6 else 255.0 / high), 0.0
    with np.errstate(invalid="ignore"):
        out = (pixels * np.float32(scale) + np.float32(offset)).astype(np.uint8)
    out[~finite] = bad_color[: out.shape[-1]]
    return out


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 [h, w, 1|3|4] image (Pillow)."""
    from PIL import Image

    mode = {1: "L", 3: "RGB", 4: "RGBA"}[image.shape[-1]]
    pixels = image[..., 0] if image.shape[-1] == 1 else image
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels), mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def encode_wav(clip: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV of a float [frames, channels] clip in [-1, 1], rounded as TF's EncodeWav."""
    samples = np.clip(np.round(clip.astype(np.float32) * 32768.0), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(clip.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(samples.tobytes())
    return buffer.getvalue()


def _media_tag(tag: str, kind: str, i: int, max_outputs: int) -> str:
    return f"{tag}/{kind}/{i}" if max_outputs > 1 else f"{tag}/{kind}"


# -- the ops ------------------------------------------------------------------------------


class ScalarSummary(Op):
    """A Summary with one scalar value under `tag`, or one value per tag when `tag` is a tuple."""

    inputs = ("values",)
    attrs = {"tag": ""}
    differentiable = False

    def infer(values, tag):
        if not (values.dtype.is_numeric or values.dtype.is_bool):
            raise TypeError(f"scalar summary {tag!r} needs a real numeric tensor, got {values.dtype.name}")
        if isinstance(tag, str) and values.shape.ndims not in (None, 0):
            raise ValueError(f"scalar summary {tag!r} needs a scalar, got shape {values.shape}")
        size = values.shape.num_elements() if values.shape.is_fully_defined() else None
        if not isinstance(tag, str) and size is not None and size != len(tag):
            raise ValueError(
                f"tags and values are not the same shape: {len(tag)} tags, values of shape {values.shape}"
            )
        return _string_scalar()

    def kernel(xp, values, tag):
        values = _on_host(values)
        tags = (tag,) if isinstance(tag, str) else tuple(tag)
        if values.size != len(tags) or (isinstance(tag, str) and values.shape != ()):
            expected = [] if isinstance(tag, str) else [len(tags)]
            raise _invalid(
                f"tags and values are not the same shape: {expected} != {list(values.shape)} "
                f"(tag '{tags[0] if tags else ''}')"
            )
        return _serialized(
            summary_pb2.Summary(
                value=[
                    summary_pb2.Summary.Value(tag=t, simple_value=float(v))
                    for t, v in zip(tags, values.reshape(-1))
                ]
            )
        )


class HistogramSummary(Op):
    """A Summary with a histogram of every value of `values`."""

    inputs = ("values",)
    attrs = {"tag": ""}
    differentiable = False

    def infer(values, tag):
        if not (values.dtype.is_numeric or values.dtype.is_bool):
            raise TypeError(f"histogram summary {tag!r} needs a real numeric tensor, got {values.dtype.name}")
        return _string_scalar()

    def kernel(xp, values, tag):
        values = _on_host(values).astype(np.float64)
        if not np.isfinite(values).all():
            raise _invalid(f"Nan in summary histogram for: {tag}")
        histo = histogram_proto(values)
        return _serialized(summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, histo=histo)]))


class ImageSummary(Op):
    """A Summary with up to `max_images` PNG images of a [batch, height, width, channels] tensor."""

    inputs = ("tensor",)
    attrs = {"tag": "", "max_images": 3, "bad_color": (255, 0, 0, 255)}
    differentiable = False

    def infer(tensor, tag, max_images, bad_color):
        if tensor.dtype not in (dtypes.uint8, dtypes.float16, dtypes.float32, dtypes.float64):
            raise TypeError(f"image summary {tag!r} needs uint8 or float images, got {tensor.dtype.name}")
        dims = tensor.shape.dims
        if dims is not None and (len(dims) != 4 or dims[3] not in (None, 1, 3, 4)):
            raise ValueError(f"image summary {tag!r} needs [batch, height, width, 1|3|4], got {tensor.shape}")
        if max_images < 1:
            raise ValueError(f"image summary {tag!r}: max_outputs must be at least 1, got {max_images}")
        return _string_scalar()

    def kernel(xp, tensor, tag, max_images, bad_color):
        images = _on_host(tensor)
        bad = np.asarray(bad_color, np.uint8)
        summary = summary_pb2.Summary()
        for i, image in enumerate(images[:max_images]):
            pixels = _image_to_uint8(image, bad)
            summary.value.add(
                tag=_media_tag(tag, "image", i, max_images),
                image=summary_pb2.Summary.Image(
                    height=pixels.shape[0],
                    width=pixels.shape[1],
                    colorspace=pixels.shape[2],
                    encoded_image_string=encode_png(pixels),
                ),
            )
        return _serialized(summary)


class AudioSummaryV2(Op):
    """A Summary with up to `max_outputs` WAV clips of a float [batch, frames(, channels)] tensor."""

    inputs = ("tensor", "sample_rate")
    attrs = {"tag": "", "max_outputs": 3}
    differentiable = False

    def infer(tensor, sample_rate, tag, max_outputs):
        if not tensor.dtype.is_floating:
            raise TypeError(f"audio summary {tag!r} needs float audio, got {tensor.dtype.name}")
        if tensor.shape.ndims not in (None, 2, 3):
            raise ValueError(f"audio summary {tag!r} needs [batch, frames(, channels)], got {tensor.shape}")
        return _string_scalar()

    def kernel(xp, tensor, sample_rate, tag, max_outputs):
        clips = _on_host(tensor)
        if clips.ndim == 2:
            clips = clips[:, :, None]
        rate = float(_on_host(sample_rate))
        summary = summary_pb2.Summary()
        for i, clip in enumerate(clips[:max_outputs]):
            summary.value.add(
                tag=_media_tag(tag, "audio", i, max_outputs),
                audio=summary_pb2.Summary.Audio(
                    sample_rate=rate,
                    num_channels=clip.shape[1],
                    length_frames=clip.shape[0],
                    encoded_audio_string=encode_wav(clip, int(rate)),
                    content_type="audio/wav",
                ),
            )
        return _serialized(summary)


class TensorSummaryV2(Op):
    """A Summary holding the whole tensor (a TensorProto) and its plugin metadata."""

    inputs = ("tensor",)
    attrs = {"tag": "", "serialized_summary_metadata": b""}
    differentiable = False

    def infer(tensor, tag, serialized_summary_metadata):
        return _string_scalar()

    def kernel(xp, tensor, tag, serialized_summary_metadata):
        from tensorboard.util import tensor_util  # 0.2 s to import: only where a tensor summary runs

        array = _on_host(tensor)
        if array.dtype == object:  # strings travel as bytes in a TensorProto
            array = np.vectorize(lambda s: s.encode() if isinstance(s, str) else s, otypes=[object])(array)
        metadata = summary_pb2.SummaryMetadata.FromString(serialized_summary_metadata)
        value = summary_pb2.Summary.Value(
            tag=tag, metadata=metadata, tensor=tensor_util.make_tensor_proto(array)
        )
        return _serialized(summary_pb2.Summary(value=[value]))


class MergeSummary(Op):
    """The union of the values of serialized Summary protos; a tag seen twice is an error."""

    inputs = ("inputs*",)
    differentiable = False
    cost = "free"

    def infer(inputs):
        for t in inputs:
            if t.dtype != dtypes.string:
                raise TypeError(
                    f"merge takes serialized summaries (string tensors), got {t.dtype.name} {t.name}"
                )
        return _string_scalar()

    def kernel(xp, inputs):
        merged = summary_pb2.Summary()
        seen = set()
        for serialized in inputs:
            for item in np.asarray(_on_host(serialized), dtype=object).reshape(-1):
                part = summary_pb2.Summary.FromString(item.encode() if isinstance(item, str) else item)
                for value in part.value:
                    if value.tag in seen:
                        raise _invalid(f"Duplicate tag {value.tag} found in summary inputs")
                    seen.add(value.tag)
                    merged.value.append(value)
        return _serialized(merged)


class SetSummaryTags(Op):
    """A Summary whose tags start with `placeholder` retagged from a string tensor, at run time.

    One tag replaces the placeholder prefix of every value ("?/image/0" -> "t/image/0");
    as many tags as values replace them one by one, in order.
    """

    inputs = ("summary", "tags")
    attrs = {"placeholder": ""}
    differentiable = False
    cost = "free"

    def infer(summary, tags, placeholder):
        for t, what in ((summary, "summary"), (tags, "tags")):
            if t.dtype != dtypes.string:
                raise TypeError(f"summary {what} must be a string tensor, got {t.dtype.name} {t.name}")
        return _string_scalar()

    def kernel(xp, summary, tags, placeholder):
        raw = _on_host(summary)[()]
        proto = summary_pb2.Summary.FromString(raw.encode() if isinstance(raw, str) else raw)
        names = [t.decode() if isinstance(t, bytes) else str(t) for t in _on_host(tags).reshape(-1)]
        if len(names) not in (1, len(proto.value)):
            raise _invalid(
                f"tags and values are not the same shape: {len(names)} tags for {len(proto.value)} values"
            )
        for i, value in enumerate(proto.value):
            value.tag = names[i if len(names) > 1 else 0] + value.tag[len(placeholder) :]
        return _serialized(proto)


# -- the public functions (TF1's tf.summary.*) -------------------------------------------------

_ILLEGAL = re.compile(r"[^-/\w\.]")


def clean_tag(name: str | None) -> str | None:
    """TF's summary tag cleaning: illegal characters become "_", a leading "/" goes."""
    if name is None:
        return None
    cleaned = _ILLEGAL.sub("_", name).lstrip("/")
    return cleaned


def _summary(op_type: str, name: str, inputs: list, attrs: dict, collections, family, values) -> Tensor:
    """Builds one summary op in TF's summary scope and adds it to its collections."""
    name, family = clean_tag(name), clean_tag(family)
    base = name if family is None else f"{family}/{name}"
    with name_scope(base, values=values) as scope:
        tag = scope.rstrip("/") if family is None else f"{family}/{scope.rstrip('/')}"
        summary = build(op_type, inputs, {"tag": tag, **attrs}, name=scope)
    for key in [GraphKeys.SUMMARIES] if collections is None else collections:
        add_to_collection(key, summary)
    return summary


@api_function("summary.scalar")
def scalar(name, tensor, collections=None, family=None):
    """A summary of one scalar value: `tf.summary.scalar("loss", loss)` (tag "loss")."""
    tensor = convert_to_tensor(tensor)
    return _summary("ScalarSummary", name, [tensor], {}, collections, family, [tensor])


@api_function("summary.histogram")
def histogram(name, values, collections=None, family=None):
    """A histogram of every value of a tensor: `tf.summary.histogram("weights", w)`."""
    values = convert_to_tensor(values)
    return _summary("HistogramSummary", name, [values], {}, collections, family, [values])


@api_function("summary.image")
def image(name, tensor, max_outputs=3, collections=None, family=None):
    """PNG images of a [batch, height, width, 1|3|4] tensor: tags "name/image/0", ...

    >>> tf.summary.image("inputs", tf.reshape(x, [-1, 28, 28, 1]), max_outputs=4)
    """
    tensor = convert_to_tensor(tensor)
    return _summary(
        "ImageSummary", name, [tensor], {"max_images": int(max_outputs)}, collections, family, [tensor]
    )


@api_function("summary.audio")
def audio(name, tensor, sample_rate, max_outputs=3, collections=None, family=None):
    """WAV clips of a float [batch, frames(, channels)] tensor in [-1, 1]: tags "name/audio/0", ..."""
    tensor = convert_to_tensor(tensor)
    rate = convert_to_tensor(sample_rate, dtype=dtypes.float32)
    attrs = {"max_outputs": int(max_outputs)}
    return _summary("AudioSummaryV2", name, [tensor, rate], attrs, collections, family, [tensor])


@api_function("summary.tensor_summary")
def tensor_summary(
    name,
    tensor,
    summary_description=None,
    collections=None,
    summary_metadata=None,
    family=None,
    display_name=None,
):
    """A summary holding a whole tensor, with optional plugin metadata (a SummaryMetadata)."""
    tensor = convert_to_tensor(tensor)
    metadata = summary_pb2.SummaryMetadata()
    if summary_metadata is not None:
        metadata.CopyFrom(summary_metadata)
    if display_name is not None:
        metadata.display_name = display_name
    if summary_description is not None:
        metadata.summary_description = summary_description
    attrs = {"serialized_summary_metadata": metadata.SerializeToString()}
    return _summary("TensorSummaryV2", name, [tensor], attrs, collections, family, [tensor])


@api_function("summary.text")
def text(name, tensor, collections=None):
    """A string tensor shown by TensorBoard's text tab: `tf.summary.text("note", tf.constant("hi"))`."""
    tensor = convert_to_tensor(tensor)
    if tensor.dtype != dtypes.string:
        raise ValueError(f"text summary {name!r} needs a string tensor, got {tensor.dtype.name}")
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=PLUGIN_TEXT)
    )
    return tensor_summary(name, tensor, collections=collections, summary_metadata=metadata)


@api_function("summary.merge")
def merge(inputs, collections=None, name=None):
    """One summary with the values of all `inputs` (serialized Summary tensors)."""
    inputs = [convert_to_tensor(t) for t in inputs]
    with name_scope(name, "Merge", inputs):
        summary = build("MergeSummary", [inputs], name=name)
    for key in collections or []:
        add_to_collection(key, summary)
    return summary


@api_function("summary.merge_all")
def merge_all(key=GraphKeys.SUMMARIES, scope=None, name=None):
    """Merges every summary in collection `key` (None when there is none), as in TF1."""
    summaries = get_default_graph().get_collection(key, scope=scope)
    if not summaries:
        return None
    return merge(summaries, name=name)


# -- TF's pre-1.0 names, whose tags are given as they are (no name scope) --------------------

_RUN_TIME_TAG = "?"  # stands for a tag known only at run time, until SetSummaryTags replaces it


def _legacy_tags(tags, what: str):
    """(static tags: a str or a tuple of str, or None; the tags tensor when only known at run time)."""
    if isinstance(tags, Tensor):
        value = constant_value(tags)
        if value is None:
            if tags.dtype != dtypes.string:
                raise TypeError(f"{what}: tags must be a string tensor, got {tags.dtype.name} {tags.name}")
            return None, tags
        tags = value
    array = np.asarray(tags, dtype=object)
    names = [t.decode() if isinstance(t, bytes) else t for t in array.reshape(-1)]
    if not all(isinstance(t, str) for t in names):
        raise TypeError(f"{what}: tags must be strings, got {tags!r}")
    return (names[0] if array.ndim == 0 else tuple(names)), None


def _legacy_summary(op_type, tags, inputs, attrs, collections, name, default_name, what):
    """One summary op named `name` (or `default_name`) with TF's pre-1.0 literal tags."""
    static, dynamic = _legacy_tags(tags, what)
    with name_scope(name, default_name, [t for t in inputs if isinstance(t, Tensor)]) as scope:
        if dynamic is None:
            if op_type != "ScalarSummary" and not isinstance(static, str):
                raise ValueError(f"{what} takes one tag, got {len(static)}")
            summary = build(op_type, inputs, {"tag": static, **attrs}, name=scope)
        else:
            tag = _RUN_TIME_TAG
            if op_type == "ScalarSummary" and dynamic.shape.ndims != 0:
                known = [t.shape for t in (dynamic, inputs[0]) if t.shape.is_fully_defined()]
                if not known:
                    raise ValueError(
                        f"{what}: run-time tags {dynamic.name} need a known number of tags or values, "
                        f"got tags {dynamic.shape} and values {inputs[0].shape}"
                    )
                tag = (_RUN_TIME_TAG,) * known[0].num_elements()
            raw = build(op_type, inputs, {"tag": tag, **attrs})
            summary = build("SetSummaryTags", [raw, dynamic], {"placeholder": _RUN_TIME_TAG}, name=scope)
    for key in [GraphKeys.SUMMARIES] if collections is None else collections:
        add_to_collection(key, summary)
    return summary


@api_function("scalar_summary")
def scalar_summary(tags, values, collections=None, name=None):
    """TF's pre-1.0 scalar summary: one value per tag, tags used as given (no name scope).

    >>> tf.scalar_summary("loss", loss)
    >>> tf.scalar_summary(["train/acc", "train/loss"], tf.stack([acc, loss]))
    >>> tf.scalar_summary(tag_placeholder, loss)          # a string tensor: tags known at run time
    """
    values = convert_to_tensor(values)
    return _legacy_summary(
        "ScalarSummary", tags, [values], {}, collections, name, "ScalarSummary", "scalar_summary"
    )


@api_function("histogram_summary")
def histogram_summary(tag, values, collections=None, name=None):
    """TF's pre-1.0 histogram summary: `tag` (a str or a scalar string tensor) used as given."""
    values = convert_to_tensor(values)
    return _legacy_summary(
        "HistogramSummary", tag, [values], {}, collections, name, "HistogramSummary", "histogram_summary"
    )


@api_function("image_summary")
def image_summary(tag, tensor, max_images=3, collections=None, name=None):
    """TF's pre-1.0 image summary: tags "<tag>/image/<i>" from `tag` (a str or a string tensor)."""
    tensor = convert_to_tensor(tensor)
    attrs = {"max_images": int(max_images)}
    return _legacy_summary(
        "ImageSummary", tag, [tensor], attrs, collections, name, "ImageSummary", "image_summary"
    )


@api_function("audio_summary")
def audio_summary(tag, tensor, sample_rate, max_outputs=3, collections=None, name=None):
    """TF's pre-1.0 audio summary: tags "<tag>/audio/<i>" from `tag` (a str or a string tensor)."""
    tensor = convert_to_tensor(tensor)
    rate = convert_to_tensor(sample_rate, dtype=dtypes.float32)
    attrs = {"max_outputs": int(max_outputs)}
    return _legacy_summary(
        "AudioSummaryV2", tag, [tensor, rate], attrs, collections, name, "AudioSummary", "audio_summary"
    )
