"""ExtractImagePatches: each output pixel holds the (dilated) patch of the input around it.

Output [batch, out_rows, out_cols, ksize_rows * ksize_cols * depth], the patch
flattened row, column, then depth, as TensorFlow lays it out. A patch spans
ksize + (ksize - 1) * (rate - 1) input pixels per axis; out_rows and padding
follow convolution's "SAME"/"VALID" rules, and padded positions read zeros.

The kernel gathers every patch with one fancy index into the zero-padded input;
its gradient, ExtractImagePatchesGrad, adds each patch's gradient back to the
pixels it read with one `np.add.at` over the same indices.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops.common import check_dtype, partial_values
from ops.registry import Op, api_function, build
from raygraph import errors
from raygraph.graph import convert_to_tensor
from raygraph.shapes import TensorShape, format_shape

_ATTRS = {"ksizes": None, "strides": None, "rates": None, "padding": None}


def _check_attrs(ksizes, strides, rates, padding) -> None:
    for what, value in (("ksizes", ksizes), ("strides", strides), ("rates", rates)):
        if value is None or len(value) != 4 or value[0] != 1 or value[3] != 1:
            raise ValueError(f"{what} must be [1, rows, cols, 1], got {value}")
        if min(value) < 1:
            raise ValueError(f"{what} must be positive, got {value}")
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")


def _axis(size: int | None, k: int, stride: int, rate: int, padding: str):
    """(output size, padding before) along one axis; None where size is unknown."""
    if size is None:
        return None, None
    span = k + (k - 1) * (rate - 1)
    if padding == "VALID":
        return max(0, -(-(size - span + 1) // stride)), 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + span - size, 0) // 2


def _indices(shape, ksizes, strides, rates, padding):
    """Row and column indices [out_rows, out_cols, k_rows, k_cols] into the input (-1 is padding)."""
    out = []
    for axis in (1, 2):
        size, k, stride, rate = shape[axis], ksizes[axis], strides[axis], rates[axis]
        n, before = _axis(size, k, stride, rate, padding)
        index = np.arange(n)[:, None] * stride + np.arange(k)[None, :] * rate - before
        out.append(np.where((index >= 0) & (index < size), index, -1))
    rows, cols = out
    return rows[:, None, :, None], cols[None, :, None, :]


class ExtractImagePatches(Op):
    """Patches of `images` [batch, rows, cols, depth] as the depth of the output."""

    inputs = ("images",)
    attrs = _ATTRS

    def infer(images, ksizes, strides, rates, padding):
        check_dtype(images, "real_or_bool", "images")
        _check_attrs(ksizes, strides, rates, padding)
        if images.shape.ndims not in (None, 4):
            raise ValueError(f"images must be 4-D, got shape {format_shape(images.shape)}")
        if images.shape.ndims is None:
            return images.dtype, TensorShape([None] * 4)
        batch, rows, cols, depth = images.shape.dims
        out_rows, _ = _axis(rows, ksizes[1], strides[1], rates[1], padding)
        out_cols, _ = _axis(cols, ksizes[2], strides[2], rates[2], padding)
        patch = None if depth is None else ksizes[1] * ksizes[2] * depth
        return images.dtype, TensorShape([batch, out_rows, out_cols, patch])

    def kernel(xp, images, ksizes, strides, rates, padding):
        batch, _, _, depth = images.shape
        rows, cols = _indices(images.shape, ksizes, strides, rates, padding)
        padded = xp.pad(images, [(0, 0), (0, 1), (0, 1), (0, 0)])  # index -1 reads the zero row/column
        patches = padded[:, xp.asarray(rows), xp.asarray(cols)]  # [b, out_r, out_c, k_r, k_c, depth]
        out_rows, out_cols = patches.shape[1:3]
        return patches.reshape(batch, out_rows, out_cols, -1)

    def grad(op, dy):
        attrs = {k: op.attrs[k] for k in _ATTRS}
        return [build("ExtractImagePatchesGrad", [dy, tf.shape(op.inputs[0])], attrs)]


class ExtractImagePatchesGrad(Op):
    """The gradient of ExtractImagePatches: each patch's gradient added back to the pixels it read."""

    inputs = ("grad", "input_shape")
    attrs = _ATTRS
    differentiable = False

    def infer(grad, input_shape, ksizes, strides, rates, padding):
        return grad.dtype, TensorShape(partial_values(input_shape) or [None] * 4)

    def kernel(xp, grad, input_shape, ksizes, strides, rates, padding):
        shape = [
            int(v) for v in np.asarray(input_shape.get() if hasattr(input_shape, "get") else input_shape)
        ]
        rows, cols = _indices(shape, ksizes, strides, rates, padding)
        batch, out_rows, out_cols, _ = grad.shape
        if (out_rows, out_cols) != rows.shape[:1] + cols.shape[1:2]:
            raise errors.InvalidArgumentError(
                None, None, f"grad has shape {list(grad.shape)} for input {shape}"
            )
        g = np.asarray(grad.get() if hasattr(grad, "get") else grad)
        g = g.reshape(batch, out_rows, out_cols, ksizes[1], ksizes[2], shape[3])
        out = np.zeros((batch, shape[1] + 1, shape[2] + 1, shape[3]), g.dtype)
        r, c = np.broadcast_arrays(rows, cols)
        for b in range(batch):
            np.add.at(out[b], (r, c), g[b])
        return xp.asarray(out[:, : shape[1], : shape[2]])


@api_function("extract_image_patches", "image.extract_image_patches", "image.extract_patches")
def extract_image_patches(images, ksizes=None, strides=None, rates=None, padding=None, name=None, sizes=None):
    """Patches of `images` gathered into the depth dimension, as for a convolution.

    >>> p = tf.extract_image_patches(x, ksizes=[1, 3, 3, 1], strides=[1, 1, 1, 1],
    ...                              rates=[1, 1, 1, 1], padding="SAME")   # [b, h, w, 9 * depth]

    `sizes` is the newer name of `ksizes`; `rates` dilates the patch.
    """
    ksizes = sizes if ksizes is None else ksizes
    attrs = {
        "ksizes": [int(v) for v in ksizes] if ksizes is not None else None,
        "strides": [int(v) for v in strides] if strides is not None else None,
        "rates": [int(v) for v in rates] if rates is not None else None,
        "padding": padding,
    }
    return build("ExtractImagePatches", [convert_to_tensor(images, name="images")], attrs, name=name)
