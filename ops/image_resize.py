"""Image resizing: ResizeBilinear, ResizeNearestNeighbor, ResizeBicubic, ResizeArea and gradients.

Every method maps rows and columns independently and linearly, so a resize is
two small matrices: out[n] = Wh @ image[n] @ Ww^T per channel, with Wh of shape
[new height, height]. `resize_weights` builds one such matrix from the sizes and
TensorFlow's coordinate conventions, in float32 as TF's kernels compute them:

- align_corners: the corner pixels' centres map onto each other, scale
  (in - 1) / (out - 1); otherwise scale = in / out.
- half_pixel_centers: pixel centres sit at +0.5 (TF2's tf.image.resize); without
  it the legacy mapping out * scale (TF1's tf.image.resize_images) is used.
- bilinear: the two nearest source rows, by floor and ceil of the source
  coordinate; nearest: floor (round with align_corners); bicubic: Keys' cubic
  with a = -0.75 (legacy) or a = -0.5 with out-of-image taps dropped (half pixel),
  its weights read from TF's 1024-entry table; area: the overlap of each output
  pixel's box with the input pixels.

The gradient of a resize is the transposed map (W^T), applied by the *Grad ops,
which are linear too and so differentiable in turn. Bilinear, bicubic and area
resizes return float32 whatever the input dtype, nearest keeps it, as in TF.
"""

from __future__ import annotations

import math

import numpy as np

from ops.common import check_dtype, check_vector, partial_values
from ops.registry import NotDifferentiable, Op, build
from raygraph import dtypes, errors
from raygraph.shapes import TensorShape, format_shape

_TABLE_SIZE = 1024


def _resize_scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    if align_corners and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


def _source(out_size: int, scale: np.float32, half_pixel: bool, offset: float = 0.5) -> np.ndarray:
    """The source coordinate of each output pixel, in float32."""
    o = np.arange(out_size, dtype=np.float32)
    if half_pixel:
        return (o + np.float32(0.5)) * scale - np.float32(offset)
    return o * scale


def _bilinear(in_size, out_size, align_corners, half_pixel) -> np.ndarray:
    src = _source(out_size, _resize_scale(in_size, out_size, align_corners), half_pixel)
    lower_f = np.floor(src)
    lower = np.maximum(lower_f.astype(np.int64), 0)
    upper = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    lerp = (src - lower_f).astype(np.float32)
    w = np.zeros((out_size, in_size), np.float32)
    rows = np.arange(out_size)
    np.add.at(w, (rows, lower), 1 - lerp)
    np.add.at(w, (rows, upper), lerp)
    return w


def nearest_indices(in_size, out_size, align_corners, half_pixel) -> np.ndarray:
    """The source row of each output row (TF rounds half away from zero with align_corners)."""
    src = _source(out_size, _resize_scale(in_size, out_size, align_corners), half_pixel, offset=0.0)
    index = np.floor(src + np.float32(0.5)) if align_corners else np.floor(src)
    return np.clip(index.astype(np.int64), 0, in_size - 1)


def _nearest(in_size, out_size, align_corners, half_pixel) -> np.ndarray:
    w = np.zeros((out_size, in_size), np.float32)
    w[np.arange(out_size), nearest_indices(in_size, out_size, align_corners, half_pixel)] = 1
    return w


def _cubic_table(a: float) -> np.ndarray:
    """TF's coefficient table: [i, 0] for |x| = i/1024 in [0, 1], [i, 1] for |x| = 1 + i/1024."""
    x = np.arange(_TABLE_SIZE + 1, dtype=np.float64) / _TABLE_SIZE
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far_x = x + 1
    far = ((a * far_x - 5 * a) * far_x + 8 * a) * far_x - 4 * a
    return np.stack([near, far], axis=1).astype(np.float32)


def _bicubic(in_size, out_size, align_corners, half_pixel) -> np.ndarray:
    table = _cubic_table(-0.5 if half_pixel else -0.75)
    src = _source(out_size, _resize_scale(in_size, out_size, align_corners), half_pixel)
    w = np.zeros((out_size, in_size), np.float32)
    for o, s in enumerate(src):
        base = math.floor(s)
        offset = int(np.rint(np.float32(s - base) * _TABLE_SIZE))
        weights = np.array(
            [
                table[offset, 1],
                table[offset, 0],
                table[_TABLE_SIZE - offset, 0],
                table[_TABLE_SIZE - offset, 1],
            ],
            np.float32,
        )
        taps = np.arange(base - 1, base + 3)
        if half_pixel:  # taps outside the image are dropped and the rest renormalized
            weights = np.where((taps >= 0) & (taps < in_size), weights, 0)
            weights = weights / weights.sum()
        np.add.at(w[o], np.clip(taps, 0, in_size - 1), weights)
    return w


def _area(in_size, out_size, align_corners, half_pixel) -> np.ndarray:
    scale = _resize_scale(in_size, out_size, align_corners)
    w = np.zeros((out_size, in_size), np.float32)
    for o in range(out_size):
        start, end = np.float32(o) * scale, np.float32(o + 1) * scale
        for i in range(int(math.floor(start)), int(math.ceil(end))):
            overlap = min(i + 1, end) - max(i, start)
            w[o, min(i, in_size - 1)] += overlap / scale
    return w


_WEIGHTS = {"bilinear": _bilinear, "nearest": _nearest, "bicubic": _bicubic, "area": _area}


def resize_weights(method: str, in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """The [out_size, in_size] float32 matrix that resizes one axis by `method`."""
    return _WEIGHTS[method](in_size, out_size, align_corners, half_pixel)


def _apply(xp, images, wh, ww):
    """out[n, o, p, c] = sum_hw wh[o, h] images[n, h, w, c] ww[p, w]."""
    rows = xp.einsum("oh,nhwc->nowc", xp.asarray(wh), images)
    return xp.ascontiguousarray(xp.einsum("pw,nowc->nopc", xp.asarray(ww), rows))


# -- shape functions -----------------------------------------------------------------------------


def _images_shape(images, what="images") -> TensorShape:
    shape = images.shape
    if shape.ndims not in (None, 4):
        raise ValueError(
            f"{what} must be 4-D [batch, height, width, channels], got shape {format_shape(shape)}"
        )
    return shape if shape.dims is not None else TensorShape([None] * 4)


def _resized_shape(images, size) -> TensorShape:
    check_vector(size, "size")
    if size.shape.dims is not None and size.shape.dims[0] not in (None, 2):
        raise ValueError(
            f"size must have 2 elements (new_height, new_width), got shape {format_shape(size.shape)}"
        )
    shape = _images_shape(images)
    values = partial_values(size) or [None, None]
    for v in values:
        if v is not None and v <= 0:
            raise ValueError(f"size must be positive, got {values}")
    return TensorShape([shape.dims[0], values[0], values[1], shape.dims[3]])


def _check_size(images, size) -> tuple[int, int]:
    if images.ndim != 4:
        raise errors.InvalidArgumentError(
            None, None, f"images must be 4-dimensional, got shape {list(images.shape)}"
        )
    height, width = (int(v) for v in size.tolist())
    if height <= 0 or width <= 0 or images.shape[1] <= 0 or images.shape[2] <= 0:
        raise errors.InvalidArgumentError(
            None,
            None,
            f"input and output sizes must be positive: input {list(images.shape)}, size {[height, width]}",
        )
    return height, width


class _Resize(Op, register=False):
    """A resize by one method: images [N, H, W, C] and size [new_height, new_width]."""

    inputs = ("images", "size")
    attrs = {"align_corners": False, "half_pixel_centers": False}
    method = ""

    @classmethod
    def resize(cls, xp, images, height, width, align_corners, half_pixel_centers):
        if align_corners and half_pixel_centers:
            raise errors.InvalidArgumentError(
                None, None, "If half_pixel_centers is True, align_corners must be False."
            )
        wh = resize_weights(cls.method, images.shape[1], height, align_corners, half_pixel_centers)
        ww = resize_weights(cls.method, images.shape[2], width, align_corners, half_pixel_centers)
        return _apply(xp, images.astype(np.float32), wh, ww)


class ResizeBilinear(_Resize):
    """Images resized by bilinear interpolation; float32 output."""

    method = "bilinear"
    api = "image.resize_bilinear"

    def infer(images, size, align_corners, half_pixel_centers):
        check_dtype(images, "numeric", "images")
        return dtypes.float32, _resized_shape(images, size)

    def kernel(xp, images, size, align_corners, half_pixel_centers):
        return ResizeBilinear.resize(
            xp, images, *_check_size(images, size), align_corners, half_pixel_centers
        )

    def grad(op, dz):
        images = op.inputs[0]
        return [build("ResizeBilinearGrad", [dz, images], dict(op.attrs)), None]


class ResizeBicubic(_Resize):
    """Images resized by bicubic (Keys) interpolation; float32 output."""

    method = "bicubic"
    api = "image.resize_bicubic"

    def infer(images, size, align_corners, half_pixel_centers):
        check_dtype(images, "numeric", "images")
        return dtypes.float32, _resized_shape(images, size)

    def kernel(xp, images, size, align_corners, half_pixel_centers):
        return ResizeBicubic.resize(xp, images, *_check_size(images, size), align_corners, half_pixel_centers)

    def grad(op, dz):
        return [build("ResizeBicubicGrad", [dz, op.inputs[0]], dict(op.attrs)), None]


class ResizeArea(_Resize):
    """Images resized by averaging the input area under each output pixel; float32 output.

    Not differentiable, as in TensorFlow.
    """

    attrs = {"align_corners": False}
    method = "area"
    api = "image.resize_area"

    def infer(images, size, align_corners):
        check_dtype(images, "numeric", "images")
        return dtypes.float32, _resized_shape(images, size)

    def kernel(xp, images, size, align_corners):
        return ResizeArea.resize(xp, images, *_check_size(images, size), align_corners, False)


NotDifferentiable("ResizeArea")


class ResizeNearestNeighbor(_Resize):
    """Images resized by picking the nearest input pixel; keeps the dtype."""

    method = "nearest"
    api = "image.resize_nearest_neighbor"

    def infer(images, size, align_corners, half_pixel_centers):
        check_dtype(images, "numeric", "images")
        return images.dtype, _resized_shape(images, size)

    def kernel(xp, images, size, align_corners, half_pixel_centers):
        height, width = _check_size(images, size)
        if align_corners and half_pixel_centers:
            raise errors.InvalidArgumentError(
                None, None, "If half_pixel_centers is True, align_corners must be False."
            )
        rows = nearest_indices(images.shape[1], height, align_corners, half_pixel_centers)
        cols = nearest_indices(images.shape[2], width, align_corners, half_pixel_centers)
        return xp.ascontiguousarray(images[:, xp.asarray(rows)][:, :, xp.asarray(cols)])

    def grad(op, dz):
        images = op.inputs[0]
        size = _dims_hw(images)
        return [build("ResizeNearestNeighborGrad", [dz, size], dict(op.attrs)), None]


def _dims_hw(images):
    """[height, width] of images, as a constant when known."""
    from ops import api as tf

    dims = images.shape.dims
    if dims is not None and dims[1] is not None and dims[2] is not None:
        return tf.constant([dims[1], dims[2]], dtype=dtypes.int32)
    return tf.shape(images, out_type=dtypes.int32)[1:3]


# -- gradients: the transposed maps -----------------------------------------------------------------


def _transposed(xp, method, grads, height, width, align_corners, half_pixel):
    wh = resize_weights(method, height, grads.shape[1], align_corners, half_pixel)
    ww = resize_weights(method, width, grads.shape[2], align_corners, half_pixel)
    return _apply(xp, grads, wh.T, ww.T)


class ResizeBilinearGrad(Op):
    """The gradient of ResizeBilinear: `grads` mapped back onto `original_image`'s pixels."""

    inputs = ("grads", "original_image")
    attrs = {"align_corners": False, "half_pixel_centers": False}

    def infer(grads, original_image, align_corners, half_pixel_centers):
        check_dtype(grads, "float", "grads")
        return original_image.dtype, _images_shape(original_image, "original_image")

    def kernel(xp, grads, original_image, align_corners, half_pixel_centers):
        _, h, w, _ = original_image.shape
        out = _transposed(xp, "bilinear", grads.astype(np.float32), h, w, align_corners, half_pixel_centers)
        return out.astype(original_image.dtype)

    def grad(op, dz):
        grads, image = op.inputs
        size = _dims_hw(grads)
        return [build("ResizeBilinear", [dz, size], dict(op.attrs)), None]


class ResizeBicubicGrad(Op):
    """The gradient of ResizeBicubic: `grads` mapped back onto `original_image`'s pixels."""

    inputs = ("grads", "original_image")
    attrs = {"align_corners": False, "half_pixel_centers": False}

    def infer(grads, original_image, align_corners, half_pixel_centers):
        check_dtype(grads, "float", "grads")
        return original_image.dtype, _images_shape(original_image, "original_image")

    def kernel(xp, grads, original_image, align_corners, half_pixel_centers):
        _, h, w, _ = original_image.shape
        out = _transposed(xp, "bicubic", grads.astype(np.float32), h, w, align_corners, half_pixel_centers)
        return out.astype(original_image.dtype)

    def grad(op, dz):
        return [build("ResizeBicubic", [dz, _dims_hw(op.inputs[0])], dict(op.attrs)), None]


class ResizeNearestNeighborGrad(Op):
    """The gradient of ResizeNearestNeighbor: `grads` summed onto the pixels they were read from."""

    inputs = ("grads", "size")
    attrs = {"align_corners": False, "half_pixel_centers": False}

    def infer(grads, size, align_corners, half_pixel_centers):
        check_dtype(grads, "float", "grads")
        return grads.dtype, _resized_shape(grads, size)

    def kernel(xp, grads, size, align_corners, half_pixel_centers):
        h, w = (int(v) for v in size.tolist())
        return _transposed(xp, "nearest", grads, h, w, align_corners, half_pixel_centers).astype(grads.dtype)

    def grad(op, dz):
        return [build("ResizeNearestNeighbor", [dz, _dims_hw(op.inputs[0])], dict(op.attrs)), None]
