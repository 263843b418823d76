"""tf.image: resizing by name, flips and rotations, crops and pads, dtype and color adjustments.

Most of tf.image is built from other ops, as in TensorFlow: flips are reverses,
crops are slices, pads are pads, brightness is an add, so their gradients come
for free. The ops declared here are TensorFlow's fused kernels with no gradient
(AdjustSaturation, AdjustHue) and the color space conversions they use.
Resizing kernels live in ops.image_resize; PNG and JPEG coding in ops.image_codec.

Images are [height, width, channels] or batches [batch, height, width, channels];
height and width may be known only when the graph runs (a decoded JPEG), and the
crop and pad functions then compute their offsets with graph ops. Random variants
draw from tf.random_uniform with the given seed: reproducible in raygraph, but not
TensorFlow's values.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops.args import plain
from ops.common import check_dtype, constant_value, same
from ops.registry import NotDifferentiable, Op, api_function, build
from raygraph import dtypes
from raygraph.graph import Tensor, convert_to_tensor, name_scope
from raygraph.shapes import format_shape


class ResizeMethod:
    """tf.compat.v1.image.ResizeMethod: the methods of resize_images."""

    BILINEAR = 0
    NEAREST_NEIGHBOR = 1
    BICUBIC = 2
    AREA = 3


_METHODS = {
    ResizeMethod.BILINEAR: "ResizeBilinear",
    "bilinear": "ResizeBilinear",
    ResizeMethod.NEAREST_NEIGHBOR: "ResizeNearestNeighbor",
    "nearest": "ResizeNearestNeighbor",
    ResizeMethod.BICUBIC: "ResizeBicubic",
    "bicubic": "ResizeBicubic",
    ResizeMethod.AREA: "ResizeArea",
    "area": "ResizeArea",
}


def _image_rank(image, what="image", ranks=(3, 4)) -> int:
    rank = image.shape.ndims
    if rank is None:
        raise ValueError(f"{what} {image.name!r} must have a known rank ({' or '.join(map(str, ranks))})")
    if rank not in ranks:
        raise ValueError(
            f"{what} must have rank {' or '.join(map(str, ranks))}, got shape {format_shape(image.shape)}"
        )
    return rank


def _dim(image, axis: int):
    """image's dimension `axis` as an int when known, else as a scalar int32 tensor."""
    d = image.shape.dims[axis]
    return d if d is not None else tf.shape(image)[axis]


def _is_tensor(*values) -> bool:
    return any(isinstance(v, Tensor) for v in values)


def _max(a, b):
    return tf.maximum(a, b) if _is_tensor(a, b) else max(a, b)


def _min(a, b):
    return tf.minimum(a, b) if _is_tensor(a, b) else min(a, b)


def _vector(values):
    """A list of ints and scalar tensors as one int32 vector (a list when all are ints)."""
    if not _is_tensor(*values):
        return [int(v) for v in values]
    return tf.stack([tf.cast(v, dtypes.int32) if isinstance(v, Tensor) else v for v in values])


def _batched(image):
    """(image as a 4-D batch, whether it was a single 3-D image)."""
    image = convert_to_tensor(image)
    if _image_rank(image) == 3:
        return tf.expand_dims(image, 0), True
    return image, False


def _unbatched(images, single: bool):
    return tf.squeeze(images, [0]) if single else images


def _static_int(value):
    if isinstance(value, Tensor):
        known = constant_value(value)
        return None if known is None else int(known)
    return int(plain(value))


# -- resizing -----------------------------------------------------------------------------------


@api_function("image.resize_images", "image.resize")
def resize_images(
    images, size, method=ResizeMethod.BILINEAR, align_corners=False, preserve_aspect_ratio=False, name=None
):
    """Images resized to `size` = [new_height, new_width]: `tf.image.resize_images(x, [224, 224])`.

    TF1's legacy pixel mapping (no half-pixel centres). Bilinear, bicubic and area
    give float32; nearest keeps the dtype. An image already of that size is returned as is.
    """
    if method not in _METHODS:
        raise ValueError(f"Resize method is not implemented: {method}")
    with name_scope(name, "resize"):
        images, single = _batched(images)
        if _is_tensor(size):
            size = tf.cast(size, dtypes.int32)
        else:
            size = tf.constant(np.asarray(plain(size), np.int32))
        if size.shape.ndims not in (None, 1) or size.shape.dims[0] not in (None, 2):
            raise ValueError("'size' must be a 1-D Tensor of 2 elements: new_height, new_width")
        if preserve_aspect_ratio:
            height, width = (tf.cast(_dim(images, i), dtypes.float32) for i in (1, 2))
            scale = tf.minimum(
                tf.cast(size[0], dtypes.float32) / height, tf.cast(size[1], dtypes.float32) / width
            )
            size = tf.stack(
                [
                    tf.cast(tf.round(scale * height), dtypes.int32),
                    tf.cast(tf.round(scale * width), dtypes.int32),
                ]
            )
        known = constant_value(size)
        if known is not None and list(images.shape.dims[1:3]) == [int(v) for v in known]:
            return _unbatched(images, single)
        resized = build(_METHODS[method], [images, size], {"align_corners": bool(align_corners)})
        return _unbatched(resized, single)


# -- flips, transposes, rotations ---------------------------------------------------------------


@api_function("image.flip_left_right")
def flip_left_right(image):
    """The image mirrored horizontally (the width axis reversed); 3-D or 4-D."""
    image = convert_to_tensor(image)
    return tf.reverse(image, [_image_rank(image) - 2], name="flip_left_right")


@api_function("image.flip_up_down")
def flip_up_down(image):
    """The image mirrored vertically (the height axis reversed); 3-D or 4-D."""
    image = convert_to_tensor(image)
    return tf.reverse(image, [_image_rank(image) - 3], name="flip_up_down")


def _random_flip(image, seed, axis_from_end: int, scope: str):
    with name_scope(None, scope):
        image = convert_to_tensor(image)
        rank = _image_rank(image)
        axis = rank - axis_from_end
        flipped = tf.reverse(image, [axis])
        if rank == 3:
            mirror = tf.random_uniform([], 0, 1.0, seed=seed) < 0.5
            mirror = tf.reshape(mirror, [1, 1, 1])
        else:
            mirror = tf.random_uniform(tf.shape(image)[:1], 0, 1.0, seed=seed) < 0.5
            mirror = tf.reshape(mirror, [-1, 1, 1, 1])
        return build("SelectV2", [mirror, flipped, image])


@api_function("image.random_flip_left_right")
def random_flip_left_right(image, seed=None):
    """The image mirrored horizontally with probability 1/2 (each image of a batch on its own)."""
    return _random_flip(image, seed, 2, "random_flip_left_right")


@api_function("image.random_flip_up_down")
def random_flip_up_down(image, seed=None):
    """The image mirrored vertically with probability 1/2 (each image of a batch on its own)."""
    return _random_flip(image, seed, 3, "random_flip_up_down")


@api_function("image.transpose_image", "image.transpose")
def transpose_image(image, name=None):
    """Height and width swapped: [H, W, C] -> [W, H, C] (batches too)."""
    image = convert_to_tensor(image)
    perm = [1, 0, 2] if _image_rank(image) == 3 else [0, 2, 1, 3]
    return tf.transpose(image, perm, name=name or "transpose_image")


@api_function("image.rot90")
def rot90(image, k=1, name=None):
    """The image rotated counter-clockwise by k * 90 degrees (k known when the graph is built)."""
    image = convert_to_tensor(image)
    _image_rank(image)
    turns = _static_int(k)
    if turns is None:
        raise NotImplementedError("rot90 needs k known when the graph is built")
    with name_scope(name, "rot90"):
        turns %= 4
        if turns == 0:
            return tf.identity(image)
        if turns == 1:
            return transpose_image(flip_left_right(image))
        if turns == 2:
            return flip_up_down(flip_left_right(image))
        return flip_left_right(transpose_image(image))


# -- crops and pads -----------------------------------------------------------------------------


@api_function("image.crop_to_bounding_box")
def crop_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    """The box [offset_height : + target_height, offset_width : + target_width] of the image."""
    with name_scope(None, "crop_to_bounding_box"):
        images, single = _batched(image)
        for what, v in (("offset_height", offset_height), ("offset_width", offset_width)):
            if not _is_tensor(v) and v < 0:
                raise ValueError(f"{what} must be >= 0, got {v}")
        for what, v in (("target_height", target_height), ("target_width", target_width)):
            if not _is_tensor(v) and v <= 0:
                raise ValueError(f"{what} must be > 0, got {v}")
        height, width = _dim(images, 1), _dim(images, 2)
        if not _is_tensor(height, offset_height, target_height) and offset_height + target_height > height:
            raise ValueError(
                f"height must be >= target + offset: {height} < {target_height} + {offset_height}"
            )
        if not _is_tensor(width, offset_width, target_width) and offset_width + target_width > width:
            raise ValueError(f"width must be >= target + offset: {width} < {target_width} + {offset_width}")
        begin = _vector([0, offset_height, offset_width, 0])
        size = _vector([-1, target_height, target_width, -1])
        return _unbatched(tf.slice(images, begin, size), single)


@api_function("image.pad_to_bounding_box")
def pad_to_bounding_box(image, offset_height, offset_width, target_height, target_width):
    """The image placed at (offset_height, offset_width) on a zero canvas of the target size."""
    with name_scope(None, "pad_to_bounding_box"):
        images, single = _batched(image)
        height, width = _dim(images, 1), _dim(images, 2)
        after_h = target_height - offset_height - height
        after_w = target_width - offset_width - width
        for what, v in (("offset_height", offset_height), ("offset_width", offset_width)):
            if not _is_tensor(v) and v < 0:
                raise ValueError(f"{what} must be >= 0, got {v}")
        if not _is_tensor(after_h) and after_h < 0:
            raise ValueError(
                f"height must be <= target - offset: {height} > {target_height} - {offset_height}"
            )
        if not _is_tensor(after_w) and after_w < 0:
            raise ValueError(f"width must be <= target - offset: {width} > {target_width} - {offset_width}")
        paddings = [[0, 0], [offset_height, after_h], [offset_width, after_w], [0, 0]]
        if _is_tensor(*[v for pair in paddings for v in pair]):
            paddings = tf.reshape(_vector([v for pair in paddings for v in pair]), [4, 2])
        return _unbatched(tf.pad(images, paddings), single)


@api_function("image.resize_image_with_crop_or_pad", "image.resize_with_crop_or_pad")
def resize_image_with_crop_or_pad(image, target_height, target_width):
    """The image centrally cropped and/or zero-padded to target_height x target_width."""
    with name_scope(None, "resize_image_with_crop_or_pad"):
        image = convert_to_tensor(image)
        rank = _image_rank(image)
        height, width = _dim(image, rank - 3), _dim(image, rank - 2)
        diff_h, diff_w = target_height - height, target_width - width
        crop_h, crop_w = _max(-diff_h // 2, 0), _max(-diff_w // 2, 0)
        pad_h, pad_w = _max(diff_h // 2, 0), _max(diff_w // 2, 0)
        cropped = crop_to_bounding_box(
            image, crop_h, crop_w, _min(target_height, height), _min(target_width, width)
        )
        return pad_to_bounding_box(cropped, pad_h, pad_w, target_height, target_width)


@api_function("image.central_crop")
def central_crop(image, central_fraction):
    """The central `central_fraction` (in (0, 1]) of the image's height and width."""
    if not 0.0 < central_fraction <= 1.0:
        raise ValueError(f"central_fraction must be within (0, 1], got {central_fraction}")
    with name_scope(None, "central_crop"):
        image = convert_to_tensor(image)
        if central_fraction == 1.0:
            return image
        rank = _image_rank(image)
        starts, sizes = [], []
        for axis in (rank - 3, rank - 2):
            d = _dim(image, axis)
            if isinstance(d, Tensor):
                df = tf.cast(d, dtypes.float64)
                start = tf.cast((df - df * central_fraction) / 2, dtypes.int32)
            else:
                start = int((float(d) - float(d) * central_fraction) / 2)
            starts.append(start)
            sizes.append(d - start * 2)
        lead = [0] * (rank - 3)
        begin = _vector(lead + starts + [0])
        size = _vector([-1] * (rank - 3) + sizes + [-1])
        return tf.slice(image, begin, size)


@api_function("random_crop", "image.random_crop")
def random_crop(value, size, seed=None, name=None):
    """A randomly placed slice of `value` of shape `size`: `tf.random_crop(img, [24, 24, 3])`."""
    with name_scope(name, "random_crop"):
        value = convert_to_tensor(value)
        size = (
            tf.cast(size, dtypes.int32)
            if _is_tensor(size)
            else tf.constant(np.asarray(plain(size), np.int32))
        )
        known = constant_value(size)
        if known is not None and value.shape.dims is not None:
            if len(known) != value.shape.ndims:
                raise ValueError(
                    f"size {known.tolist()} must have one entry per dimension of {format_shape(value.shape)}"
                )
            for d, s in zip(value.shape.dims, known.tolist()):
                if d is not None and s > d:
                    raise ValueError(
                        f"Need value.shape >= size, got {format_shape(value.shape)} and {known.tolist()}"
                    )
        shape = tf.shape(value, out_type=dtypes.int32)
        limit = shape - size + 1
        offset = tf.random_uniform(tf.shape(shape), maxval=2**31 - 1, dtype=dtypes.int32, seed=seed) % limit
        out = tf.slice(value, offset, size)
        return out


# -- dtypes and colors --------------------------------------------------------------------------


def _dtype_max(dtype):
    return np.iinfo(dtype.np).max if dtype.is_integer else np.finfo(dtype.np).max


@api_function("image.convert_image_dtype")
def convert_image_dtype(image, dtype, saturate=False, name=None):
    """Pixel values converted between dtypes with TF's scaling: floats in [0, 1], ints in [0, MAX].

    uint8 255 becomes float 1.0 and back; integer conversions shift bits. With
    saturate=True, values are clipped to the target range before the cast.
    """
    image = convert_to_tensor(image)
    dtype = dtypes.as_dtype(dtype)
    if not (image.dtype.is_floating or image.dtype.is_integer) or not (dtype.is_floating or dtype.is_integer):
        raise AttributeError(
            f"convert_image_dtype converts numeric images, got {image.dtype.name} to {dtype.name}"
        )
    with name_scope(name, "convert_image"):
        if image.dtype == dtype:
            return tf.identity(image)
        cast = tf.saturate_cast if saturate else tf.cast
        if image.dtype.is_integer and dtype.is_integer:
            scale_in, scale_out = int(_dtype_max(image.dtype)), int(_dtype_max(dtype))
            if scale_in > scale_out:
                return cast(
                    tf.floordiv(image, tf.constant((scale_in + 1) // (scale_out + 1), image.dtype)), dtype
                )
            return cast(image, dtype) * tf.constant((scale_out + 1) // (scale_in + 1), dtype)
        if image.dtype.is_floating and dtype.is_floating:
            return tf.cast(image, dtype)
        if image.dtype.is_integer:
            return tf.cast(image, dtype) * tf.constant(1.0 / _dtype_max(image.dtype), dtype)
        return cast(image * tf.constant(_dtype_max(dtype) + 0.5, image.dtype), dtype)


def _to_float(image):
    """(image as float, its original dtype): float16/32 stay, others go through convert_image_dtype."""
    image = convert_to_tensor(image)
    if image.dtype in (dtypes.float16, dtypes.float32):
        return image, image.dtype
    return convert_image_dtype(image, dtypes.float32), image.dtype


@api_function("image.per_image_standardization")
def per_image_standardization(image):
    """Each image scaled to zero mean and unit variance: (x - mean) / max(stddev, 1/sqrt(N))."""
    with name_scope(None, "per_image_standardization"):
        image = tf.cast(convert_to_tensor(image), dtypes.float32)
        if image.shape.ndims is not None and image.shape.ndims < 3:
            raise ValueError(f"image must be at least 3-D, got shape {format_shape(image.shape)}")
        num_pixels = tf.reduce_prod(tf.shape(image)[-3:])
        mean = tf.reduce_mean(image, axis=[-1, -2, -3], keepdims=True)
        stddev = tf.math.reduce_std(image, axis=[-1, -2, -3], keepdims=True)
        adjusted = tf.maximum(stddev, tf.rsqrt(tf.cast(num_pixels, dtypes.float32)))
        return tf.divide(image - mean, adjusted)


@api_function("image.adjust_brightness")
def adjust_brightness(image, delta):
    """`delta` added to every pixel (in [0, 1] units for integer images, which saturate)."""
    with name_scope(None, "adjust_brightness"):
        flt, orig = _to_float(image)
        adjusted = flt + tf.cast(delta, flt.dtype)
        return convert_image_dtype(adjusted, orig, saturate=True)


@api_function("image.adjust_contrast")
def adjust_contrast(images, contrast_factor):
    """Each channel's distance from its mean (over height and width) scaled by contrast_factor."""
    with name_scope(None, "adjust_contrast"):
        flt, orig = _to_float(images)
        mean = tf.reduce_mean(flt, axis=[-3, -2], keepdims=True)
        adjusted = (flt - mean) * tf.cast(contrast_factor, flt.dtype) + mean
        return convert_image_dtype(adjusted, orig, saturate=True)


@api_function("image.random_brightness")
def random_brightness(image, max_delta, seed=None):
    """adjust_brightness by a delta drawn uniformly from [-max_delta, max_delta)."""
    if max_delta < 0:
        raise ValueError("max_delta must be non-negative.")
    delta = tf.random_uniform([], -max_delta, max_delta, seed=seed)
    return adjust_brightness(image, delta)


@api_function("image.random_contrast")
def random_contrast(image, lower, upper, seed=None):
    """adjust_contrast by a factor drawn uniformly from [lower, upper)."""
    if upper <= lower:
        raise ValueError("upper must be > lower.")
    if lower < 0:
        raise ValueError("lower must be non-negative.")
    factor = tf.random_uniform([], lower, upper, seed=seed)
    return adjust_contrast(image, factor)


@api_function("image.rgb_to_grayscale")
def rgb_to_grayscale(images, name=None):
    """Luma 0.2989 R + 0.5870 G + 0.1140 B, with a last dimension of 1; keeps the dtype."""
    with name_scope(name, "rgb_to_grayscale"):
        images = convert_to_tensor(images)
        flt = convert_image_dtype(images, dtypes.float32)
        weights = tf.constant([0.2989, 0.5870, 0.1140], dtypes.float32)
        gray = tf.expand_dims(tf.reduce_sum(flt * weights, axis=-1), -1)
        return convert_image_dtype(gray, images.dtype)


@api_function("image.grayscale_to_rgb")
def grayscale_to_rgb(images, name=None):
    """The single channel repeated three times."""
    with name_scope(name, "grayscale_to_rgb"):
        images = convert_to_tensor(images)
        rank = images.shape.ndims
        if rank is None or images.shape.dims[-1] not in (None, 1):
            raise ValueError(
                f"images must have a known rank and a last dimension of 1, got {format_shape(images.shape)}"
            )
        return tf.tile(images, [1] * (rank - 1) + [3])


# -- HSV: TensorFlow's fused kernels (no gradients) -----------------------------------------------


def _rgb_to_hsv(xp, rgb):
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = xp.max(rgb, axis=-1)
    rng = value - xp.min(rgb, axis=-1)
    safe_value = xp.where(value > 0, value, 1)
    saturation = xp.where(value > 0, rng / safe_value, 0)
    safe_rng = xp.where(rng > 0, rng, 1)
    hue = xp.where(
        value == r, (g - b) / safe_rng, xp.where(value == g, 2 + (b - r) / safe_rng, 4 + (r - g) / safe_rng)
    )
    hue = xp.where(rng > 0, hue / 6, 0)
    hue = xp.where(hue < 0, hue + 1, hue)
    return xp.stack([hue, saturation, value], axis=-1)


def _hsv_to_rgb(xp, hsv):
    h, s, v = hsv[..., 0:1], hsv[..., 1:2], hsv[..., 2:3]
    dh = h * 6
    r = xp.clip(xp.abs(dh - 3) - 1, 0, 1)
    g = xp.clip(2 - xp.abs(dh - 2), 0, 1)
    b = xp.clip(2 - xp.abs(dh - 4), 0, 1)
    return ((1 - s) + s * xp.concatenate([r, g, b], axis=-1)) * v


def _check_rgb(images, what="images"):
    check_dtype(images, "float", what)
    if images.shape.dims is not None and images.shape.dims[-1] not in (None, 3):
        raise ValueError(
            f"{what} must have 3 channels in its last dimension, got shape {format_shape(images.shape)}"
        )


class RGBToHSV(Op):
    """RGB in [0, 1] to hue, saturation and value in [0, 1] (last dimension 3)."""

    inputs = ("images",)
    api = "image.rgb_to_hsv"

    def infer(images):
        _check_rgb(images)
        return same(images)

    def kernel(xp, images):
        return _rgb_to_hsv(xp, images).astype(images.dtype)


class HSVToRGB(Op):
    """Hue, saturation and value in [0, 1] to RGB (last dimension 3)."""

    inputs = ("images",)
    api = "image.hsv_to_rgb"

    def infer(images):
        _check_rgb(images)
        return same(images)

    def kernel(xp, images):
        return _hsv_to_rgb(xp, images).astype(images.dtype)


class AdjustSaturation(Op):
    """Saturation multiplied by `scale` (clipped to [0, 1]) in HSV space."""

    inputs = ("images", "scale")

    def infer(images, scale):
        _check_rgb(images)
        return same(images)

    def kernel(xp, images, scale):
        hsv = _rgb_to_hsv(xp, images.astype(np.float32))
        hsv[..., 1] = xp.clip(hsv[..., 1] * scale, 0, 1)
        return _hsv_to_rgb(xp, hsv).astype(images.dtype)


class AdjustHue(Op):
    """Hue rotated by `delta` (in [-1, 1], a fraction of the colour circle) in HSV space."""

    inputs = ("images", "delta")

    def infer(images, delta):
        _check_rgb(images)
        return same(images)

    def kernel(xp, images, delta):
        hsv = _rgb_to_hsv(xp, images.astype(np.float32))
        hue = hsv[..., 0] + np.float32(delta)
        hsv[..., 0] = hue - xp.floor(hue)
        return _hsv_to_rgb(xp, hsv).astype(images.dtype)


for _op in ("RGBToHSV", "HSVToRGB", "AdjustSaturation", "AdjustHue"):
    NotDifferentiable(_op)


def _adjust_hsv(op_type, image, amount, scope):
    with name_scope(None, scope):
        flt, orig = _to_float(image)
        adjusted = build(op_type, [flt, tf.cast(amount, dtypes.float32)])
        return convert_image_dtype(adjusted, orig, saturate=True)


@api_function("image.adjust_saturation")
def adjust_saturation(image, saturation_factor, name=None):
    """Saturation (in HSV) multiplied by saturation_factor."""
    return _adjust_hsv("AdjustSaturation", image, saturation_factor, name or "adjust_saturation")


@api_function("image.adjust_hue")
def adjust_hue(image, delta, name=None):
    """Hue (in HSV) rotated by delta, in [-1, 1]."""
    if not _is_tensor(delta) and not -1 <= delta <= 1:
        raise ValueError(f"delta must be in [-1, 1], got {delta}")
    return _adjust_hsv("AdjustHue", image, delta, name or "adjust_hue")


@api_function("image.random_saturation")
def random_saturation(image, lower, upper, seed=None):
    """adjust_saturation by a factor drawn uniformly from [lower, upper)."""
    if upper <= lower:
        raise ValueError("upper must be > lower.")
    if lower < 0:
        raise ValueError("lower must be non-negative.")
    return adjust_saturation(image, tf.random_uniform([], lower, upper, seed=seed))


@api_function("image.random_hue")
def random_hue(image, max_delta, seed=None):
    """adjust_hue by a delta drawn uniformly from [-max_delta, max_delta), max_delta <= 0.5."""
    if not 0 <= max_delta <= 0.5:
        raise ValueError("max_delta must be in the interval [0, 0.5].")
    return adjust_hue(image, tf.random_uniform([], -max_delta, max_delta, seed=seed))
