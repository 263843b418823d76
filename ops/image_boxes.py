"""tf.image's bounding-box ops: crop_and_resize, draw_bounding_boxes, non-max suppression,
sample_distorted_bounding_box.

Boxes are [y1, x1, y2, x2] in coordinates normalized to [0, 1] over an image's
height - 1 and width - 1, as in TensorFlow.

CropAndResize samples a crop_size grid over each box of its image (bilinear or
nearest); grid points outside the image get `extrapolation_value`. Its gradient
has two ops, as TensorFlow's: CropAndResizeGradImage scatters the output's
gradient back onto the image with the sampling weights, and
CropAndResizeGradBoxes differentiates the bilinear sampling with respect to the
box corners (for both methods, as TensorFlow does).

NonMaxSuppression (V3, V4 padded, V5 with scores and soft-NMS) greedily keeps the
highest-scoring box and drops those whose IoU with a kept box exceeds the
threshold; equal scores keep the lower index first. Soft-NMS (sigma > 0) decays
scores by exp(-0.5 * iou^2 / sigma) instead, re-queueing boxes still above the
score threshold.

SampleDistortedBoundingBoxV2 draws a crop of random aspect ratio and area that
covers at least `min_object_covered` of one of the given boxes, trying
`max_attempts` times before falling back to the whole image. It is stateful and
seeded like the random ops (ops.random); its draws differ from TensorFlow's.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from ops import api as tf
from ops.common import check_dtype, partial_values, scalar_value
from ops.registry import Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, format_shape


def _invalid(message: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(None, None, message)


def _host(value) -> np.ndarray:
    return np.asarray(value.get() if hasattr(value, "get") and not isinstance(value, np.ndarray) else value)


def _check_rank(t, rank: int, what: str) -> None:
    if t.shape.ndims not in (None, rank):
        raise ValueError(f"{what} must be {rank}-D, got shape {format_shape(t.shape)}")


# -- crop_and_resize ---------------------------------------------------------------------------------


def _grid(box, size: int, extent: int):
    """Sample positions along one axis of a box, and which of them fall inside the image.

    In float32 arithmetic, as TensorFlow's kernel: positions that land exactly on
    a pixel then agree, and with them the one-sided gradients there.
    """
    f32 = np.float32
    start, end, span = f32(box[0]), f32(box[1]), f32(extent - 1)
    if size > 1:
        scale = (end - start) * span / f32(size - 1)
        pos = start * span + np.arange(size, dtype=f32) * scale
    else:
        pos = np.full(1, f32(0.5) * (start + end) * span, f32)
    inside = (pos >= 0) & (pos <= span)
    return pos, inside


def _corners(pos: np.ndarray, extent: int):
    low = np.clip(np.floor(pos), 0, extent - 1).astype(np.int64)
    high = np.clip(np.ceil(pos), 0, extent - 1).astype(np.int64)
    return low, high, (pos - np.floor(pos)).astype(np.float64)


def _boxes_of(boxes, box_ind, batch: int):
    boxes, box_ind = _host(boxes).astype(np.float32), _host(box_ind).reshape(-1)
    for i, b in enumerate(box_ind):
        if not 0 <= b < batch:
            raise _invalid(f"box_index has values outside [0, batch_size): box_index[{i}] = {b}")
    return boxes, box_ind


class CropAndResize(Op):
    """Crops of `image` at `boxes`, each resized to `crop_size`: [num_boxes, h, w, depth] float32."""

    inputs = ("image", "boxes", "box_ind", "crop_size")
    attrs = {"method": "bilinear", "extrapolation_value": 0.0}

    def infer(image, boxes, box_ind, crop_size, method, extrapolation_value):
        check_dtype(image, "numeric", "image")
        _check_rank(image, 4, "image")
        _check_rank(boxes, 2, "boxes")
        _check_rank(box_ind, 1, "box_ind")
        if method not in ("bilinear", "nearest"):
            raise ValueError(f"method must be 'bilinear' or 'nearest', got {method!r}")
        size = partial_values(crop_size) or [None, None]
        if len(size) != 2:
            raise ValueError(f"crop_size must have 2 elements, got {len(size)}")
        depth = image.shape.dims[3] if image.shape.ndims == 4 else None
        count = boxes.shape.dims[0] if boxes.shape.ndims == 2 else None
        return dtypes.float32, TensorShape([count, *size, depth])

    def kernel(xp, image, boxes, box_ind, crop_size, method, extrapolation_value):
        image = _host(image)
        batch, height, width, depth = image.shape
        boxes, box_ind = _boxes_of(boxes, box_ind, batch)
        crop_h, crop_w = (int(v) for v in _host(crop_size))
        if crop_h <= 0 or crop_w <= 0:
            raise _invalid(f"crop dimensions must be positive, got {[crop_h, crop_w]}")
        out = np.full((len(boxes), crop_h, crop_w, depth), extrapolation_value, np.float32)
        for n, (box, b) in enumerate(zip(boxes, box_ind)):
            ys, y_in = _grid(box[[0, 2]], crop_h, height)
            xs, x_in = _grid(box[[1, 3]], crop_w, width)
            img = image[b].astype(np.float64)
            if method == "nearest":
                rows = np.clip(_round_half_away(ys), 0, height - 1)
                cols = np.clip(_round_half_away(xs), 0, width - 1)
                crop = img[rows][:, cols]
            else:
                top, bottom, fy = _corners(ys, height)
                left, right, fx = _corners(xs, width)
                fx = fx[None, :, None]
                upper = img[top][:, left] + (img[top][:, right] - img[top][:, left]) * fx
                lower = img[bottom][:, left] + (img[bottom][:, right] - img[bottom][:, left]) * fx
                crop = upper + (lower - upper) * fy[:, None, None]
            inside = y_in[:, None] & x_in[None, :]
            out[n][inside] = crop[inside]
        return xp.asarray(out)

    def grad(op, dy):
        image, boxes, box_ind, _ = op.inputs
        method = op.attrs["method"]
        dimage = None
        if image.dtype.is_floating:
            dimage = build(
                "CropAndResizeGradImage",
                [dy, boxes, box_ind, tf.shape(image)],
                {"T": image.dtype, "method": method},
            )
        dboxes = build("CropAndResizeGradBoxes", [dy, image, boxes, box_ind])
        return [dimage, dboxes, None, None]


def _round_half_away(v: np.ndarray) -> np.ndarray:
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


class CropAndResizeGradImage(Op):
    """The gradient of CropAndResize with respect to its image."""

    inputs = ("grads", "boxes", "box_ind", "image_size")
    attrs = {"T": dtypes.float32, "method": "bilinear"}
    differentiable = False

    def infer(grads, boxes, box_ind, image_size, T, method):  # noqa: N803 - TensorFlow's attr name
        return dtypes.as_dtype(T), TensorShape(partial_values(image_size) or [None] * 4)

    def kernel(xp, grads, boxes, box_ind, image_size, T, method):  # noqa: N803
        grads = _host(grads).astype(np.float64)
        batch, height, width, depth = (int(v) for v in _host(image_size))
        boxes, box_ind = _boxes_of(boxes, box_ind, batch)
        out = np.zeros((batch, height, width, depth))
        crop_h, crop_w = grads.shape[1:3]
        for n, (box, b) in enumerate(zip(boxes, box_ind)):
            ys, y_in = _grid(box[[0, 2]], crop_h, height)
            xs, x_in = _grid(box[[1, 3]], crop_w, width)
            g = grads[n] * (y_in[:, None] & x_in[None, :])[:, :, None]
            if method == "nearest":
                rows = np.clip(_round_half_away(ys), 0, height - 1)
                cols = np.clip(_round_half_away(xs), 0, width - 1)
                np.add.at(out[b], (rows[:, None], cols[None, :]), g)
                continue
            top, bottom, fy = _corners(ys, height)
            left, right, fx = _corners(xs, width)
            wy = [(top, 1 - fy), (bottom, fy)]
            wx = [(left, 1 - fx), (right, fx)]
            for rows, ry in wy:
                for cols, rx in wx:
                    np.add.at(
                        out[b], (rows[:, None], cols[None, :]), g * (ry[:, None] * rx[None, :])[:, :, None]
                    )
        return xp.asarray(out.astype(dtypes.as_dtype(T).np))


class CropAndResizeGradBoxes(Op):
    """The gradient of (bilinear) CropAndResize with respect to its boxes."""

    inputs = ("grads", "image", "boxes", "box_ind")
    attrs = {"method": "bilinear"}
    differentiable = False

    def infer(grads, image, boxes, box_ind, method):
        return dtypes.float32, boxes.shape

    def kernel(xp, grads, image, boxes, box_ind, method):
        grads, image = _host(grads).astype(np.float64), _host(image).astype(np.float64)
        batch, height, width, _ = image.shape
        boxes, box_ind = _boxes_of(boxes, box_ind, batch)
        crop_h, crop_w = grads.shape[1:3]
        out = np.zeros(boxes.shape)
        for n, (box, b) in enumerate(zip(boxes, box_ind)):
            ys, y_in = _grid(box[[0, 2]], crop_h, height)
            xs, x_in = _grid(box[[1, 3]], crop_w, width)
            top, bottom, fy = _corners(ys, height)
            left, right, fx = _corners(xs, width)
            img = image[b]
            tl, tr = img[top][:, left], img[top][:, right]
            bl, br = img[bottom][:, left], img[bottom][:, right]
            fx3, fy3 = fx[None, :, None], fy[:, None, None]
            d_y = (1 - fx3) * (bl - tl) + fx3 * (br - tr)  # d output / d sample row
            d_x = (1 - fy3) * (tr - tl) + fy3 * (br - bl)  # d output / d sample column
            g = grads[n] * (y_in[:, None] & x_in[None, :])[:, :, None]
            gy, gx = (g * d_y).sum(axis=(1, 2)), (g * d_x).sum(axis=(0, 2))
            wy = np.arange(crop_h) / (crop_h - 1) if crop_h > 1 else np.full(1, 0.5)
            wx = np.arange(crop_w) / (crop_w - 1) if crop_w > 1 else np.full(1, 0.5)
            out[n, 0] = (gy * (1 - wy if crop_h > 1 else wy)).sum() * (height - 1)
            out[n, 2] = (gy * wy).sum() * (height - 1)
            out[n, 1] = (gx * (1 - wx if crop_w > 1 else wx)).sum() * (width - 1)
            out[n, 3] = (gx * wx).sum() * (width - 1)
        return xp.asarray(out.astype(np.float32))


@api_function("image.crop_and_resize")
def crop_and_resize(
    image,
    boxes,
    box_ind=None,
    crop_size=None,
    method="bilinear",
    extrapolation_value=0,
    name=None,
    box_indices=None,
):
    """Crops `boxes` out of the images and resizes each to `crop_size`: [num_boxes, h, w, depth] float32.

    >>> crops = tf.image.crop_and_resize(images, boxes, box_ind, crop_size=[14, 14])

    `boxes` [num_boxes, 4] are [y1, x1, y2, x2] normalized (y2 < y1 flips the
    crop); `box_ind` [num_boxes] says which image each box is in. Sample points
    outside the image get `extrapolation_value`. Differentiable with respect to
    the image and the boxes.
    """
    if box_ind is None:
        box_ind = box_indices
    if box_ind is None or crop_size is None:
        raise ValueError("crop_and_resize needs box_ind and crop_size")
    with name_scope(name, "CropAndResize", [image, boxes, box_ind]):
        inputs = [
            convert_to_tensor(image, name="image"),
            convert_to_tensor(boxes, dtypes.float32, name="boxes"),
            convert_to_tensor(box_ind, dtypes.int32, name="box_ind"),
            convert_to_tensor(crop_size, dtypes.int32, name="crop_size"),
        ]
        attrs = {"method": method, "extrapolation_value": float(extrapolation_value)}
        return build("CropAndResize", inputs, attrs)


# -- draw_bounding_boxes -------------------------------------------------------------------------------

_COLORS = np.array(
    [
        [1, 1, 0, 1],
        [0, 0, 1, 1],
        [1, 0, 0, 1],
        [0, 1, 0, 1],
        [0.5, 0, 0.5, 1],
        [0.5, 0.5, 0, 1],
        [0.5, 0, 0, 1],
        [0, 0, 0.5, 1],
        [0, 1, 1, 1],
        [1, 0, 1, 1],
    ]
)


class DrawBoundingBoxes(Op):
    """`images` with the outline of each box drawn, in a colour per box (TensorFlow's table)."""

    inputs = ("images", "boxes")
    differentiable = False

    def infer(images, boxes):
        check_dtype(images, "float", "images")
        _check_rank(images, 4, "images")
        _check_rank(boxes, 3, "boxes")
        depth = images.shape.dims[3] if images.shape.ndims == 4 else None
        if depth is not None and not 1 <= depth <= 4:
            raise ValueError(f"images must have 1 to 4 channels, got {depth}")
        return images.dtype, images.shape

    def kernel(xp, images, boxes):
        out = np.array(_host(images), copy=True)
        boxes = _host(boxes).astype(np.float32)
        _, height, width, depth = out.shape
        colors = _COLORS.copy()
        if depth == 1:
            colors[:, 0] = 1  # every box white on a grayscale image
        for b in range(out.shape[0]):
            for k, box in enumerate(boxes[b]):
                color = colors[k % len(colors), :depth]
                top, bottom = int(box[0] * (height - 1)), int(box[2] * (height - 1))
                left, right = int(box[1] * (width - 1)), int(box[3] * (width - 1))
                if top > bottom or left > right:
                    continue  # an inverted box is not drawn
                if top >= height or bottom < 0 or left >= width or right < 0:
                    continue
                rows = slice(max(top, 0), min(bottom, height - 1) + 1)
                cols = slice(max(left, 0), min(right, width - 1) + 1)
                if top >= 0:
                    out[b, top, cols] = color
                if bottom < height:
                    out[b, bottom, cols] = color
                if left >= 0:
                    out[b, rows, left] = color
                if right < width:
                    out[b, rows, right] = color
        return xp.asarray(out)


@api_function("image.draw_bounding_boxes")
def draw_bounding_boxes(images, boxes, name=None, colors=None):
    """Draws the outline of each box of `boxes` [batch, num_boxes, 4] on float `images` [batch, h, w, depth].

    >>> tf.summary.image("boxes", tf.image.draw_bounding_boxes(images, boxes))

    Box k gets colour k of TensorFlow's table of ten (white on grayscale images).
    """
    if colors is not None:
        raise ValueError("draw_bounding_boxes: colors is TensorFlow 2's argument; TF1 uses its colour table")
    images = convert_to_tensor(images, name="images")
    return build(
        "DrawBoundingBoxes", [images, convert_to_tensor(boxes, dtypes.float32, name="boxes")], name=name
    )


# -- non-max suppression ---------------------------------------------------------------------------


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ay0, ay1 = sorted((a[0], a[2]))
    ax0, ax1 = sorted((a[1], a[3]))
    by0, by1 = sorted((b[0], b[2]))
    bx0, bx1 = sorted((b[1], b[3]))
    area_a, area_b = (ay1 - ay0) * (ax1 - ax0), (by1 - by0) * (bx1 - bx0)
    if area_a <= 0 or area_b <= 0:
        return 0.0
    inter = max(0.0, min(ay1, by1) - max(ay0, by0)) * max(0.0, min(ax1, bx1) - max(ax0, bx0))
    return inter / (area_a + area_b - inter)


def _nms(boxes, scores, max_output: int, iou_threshold: float, score_threshold: float, sigma: float = 0.0):
    """Indices and scores kept by greedy (soft) non-max suppression, best first."""
    boxes, scores = _host(boxes).astype(np.float64), _host(scores).astype(np.float64)
    if not 0 <= iou_threshold <= 1:
        raise _invalid(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    if max_output < 0:
        raise _invalid(f"max_output_size must be non-negative, got {max_output}")
    scale = -0.5 / sigma if sigma > 0 else 0.0
    queue = [(-s, i, 0) for i, s in enumerate(scores) if s > score_threshold]
    heapq.heapify(queue)  # the best score first; among equal scores the lower index
    kept, kept_scores = [], []
    while queue and len(kept) < max_output:
        neg, i, checked = heapq.heappop(queue)
        score = original = -neg
        suppressed = False
        for j in range(checked, len(kept)):
            iou = _iou(boxes[i], boxes[kept[j]])
            if iou > iou_threshold:
                suppressed = True
                break
            if scale:
                score *= math.exp(scale * iou * iou)
                if score <= score_threshold:
                    break
        if suppressed:
            continue
        if score == original:
            kept.append(i)
            kept_scores.append(score)
        elif score > score_threshold:
            heapq.heappush(queue, (-score, i, len(kept)))
    return np.array(kept, np.int32), np.array(kept_scores)


def _check_nms_inputs(boxes, scores) -> None:
    _check_rank(boxes, 2, "boxes")
    _check_rank(scores, 1, "scores")
    if boxes.shape.ndims == 2 and boxes.shape.dims[1] not in (None, 4):
        raise ValueError(f"boxes must be [num_boxes, 4], got {format_shape(boxes.shape)}")


class NonMaxSuppressionV3(Op):
    """The indices of the boxes greedy non-max suppression keeps, best first (at most max_output_size)."""

    inputs = ("boxes", "scores", "max_output_size", "iou_threshold", "score_threshold")
    differentiable = False

    def infer(boxes, scores, max_output_size, iou_threshold, score_threshold):
        _check_nms_inputs(boxes, scores)
        return dtypes.int32, TensorShape([None])

    def kernel(xp, boxes, scores, max_output_size, iou_threshold, score_threshold):
        kept, _ = _nms(boxes, scores, int(max_output_size), float(iou_threshold), float(score_threshold))
        return xp.asarray(kept)


class NonMaxSuppressionV4(Op):
    """NonMaxSuppressionV3's indices, padded with zeros to max_output_size if asked, and how many are valid."""

    inputs = ("boxes", "scores", "max_output_size", "iou_threshold", "score_threshold")
    attrs = {"pad_to_max_output_size": False}
    multi_output = True
    differentiable = False

    def infer(boxes, scores, max_output_size, iou_threshold, score_threshold, pad_to_max_output_size):
        _check_nms_inputs(boxes, scores)
        size = scalar_value(max_output_size) if pad_to_max_output_size else None
        return [(dtypes.int32, TensorShape([size])), (dtypes.int32, TensorShape([]))]

    def kernel(xp, boxes, scores, max_output_size, iou_threshold, score_threshold, pad_to_max_output_size):
        size = int(max_output_size)
        kept, _ = _nms(boxes, scores, size, float(iou_threshold), float(score_threshold))
        valid = len(kept)
        if pad_to_max_output_size:
            kept = np.concatenate([kept, np.zeros(size - valid, np.int32)])
        return [xp.asarray(kept), xp.asarray(np.int32(valid))]


class NonMaxSuppressionV5(Op):
    """Indices and (soft-NMS decayed) scores of the kept boxes, and how many are valid."""

    inputs = ("boxes", "scores", "max_output_size", "iou_threshold", "score_threshold", "soft_nms_sigma")
    attrs = {"pad_to_max_output_size": False}
    multi_output = True
    differentiable = False

    def infer(
        boxes, scores, max_output_size, iou_threshold, score_threshold, soft_nms_sigma, pad_to_max_output_size
    ):
        _check_nms_inputs(boxes, scores)
        return [
            (dtypes.int32, TensorShape([None])),
            (scores.dtype, TensorShape([None])),
            (dtypes.int32, TensorShape([])),
        ]

    def kernel(
        xp,
        boxes,
        scores,
        max_output_size,
        iou_threshold,
        score_threshold,
        soft_nms_sigma,
        pad_to_max_output_size,
    ):
        size = int(max_output_size)
        kept, kept_scores = _nms(
            boxes, scores, size, float(iou_threshold), float(score_threshold), float(soft_nms_sigma)
        )
        valid = len(kept)
        if pad_to_max_output_size:
            kept = np.concatenate([kept, np.zeros(size - valid, np.int32)])
            kept_scores = np.concatenate([kept_scores, np.zeros(size - valid)])
        dtype = _host(scores).dtype
        return [xp.asarray(kept), xp.asarray(kept_scores.astype(dtype)), xp.asarray(np.int32(valid))]


def _nms_inputs(boxes, scores, max_output_size, iou_threshold, score_threshold):
    boxes = convert_to_tensor(boxes, name="boxes")
    scores = convert_to_tensor(scores, dtype=boxes.dtype, name="scores")
    return [
        boxes,
        scores,
        convert_to_tensor(max_output_size, dtypes.int32, name="max_output_size"),
        convert_to_tensor(iou_threshold, dtypes.float32, name="iou_threshold"),
        convert_to_tensor(score_threshold, dtypes.float32, name="score_threshold"),
    ]


@api_function("image.non_max_suppression")
def non_max_suppression(
    boxes, scores, max_output_size, iou_threshold=0.5, score_threshold=float("-inf"), name=None
):
    """Indices (int32) of at most `max_output_size` boxes, best score first, none overlapping another
    kept box by IoU > `iou_threshold`; only boxes scoring above `score_threshold`.

    >>> keep = tf.image.non_max_suppression(boxes, scores, max_output_size=10)
    >>> tf.gather(boxes, keep)
    """
    with name_scope(name, "non_max_suppression"):
        return build(
            "NonMaxSuppressionV3", _nms_inputs(boxes, scores, max_output_size, iou_threshold, score_threshold)
        )


@api_function("image.non_max_suppression_padded")
def non_max_suppression_padded(
    boxes,
    scores,
    max_output_size,
    iou_threshold=0.5,
    score_threshold=float("-inf"),
    pad_to_max_output_size=False,
    name=None,
):
    """non_max_suppression's indices, padded with zeros to max_output_size if asked, and how many are valid.

    >>> keep, n = tf.image.non_max_suppression_padded(boxes, scores, 10, pad_to_max_output_size=True)
    """
    with name_scope(name, "non_max_suppression_padded"):
        inputs = _nms_inputs(boxes, scores, max_output_size, iou_threshold, score_threshold)
        indices, valid = build(
            "NonMaxSuppressionV4", inputs, {"pad_to_max_output_size": bool(pad_to_max_output_size)}
        )
        return indices, valid


@api_function("image.non_max_suppression_with_scores")
def non_max_suppression_with_scores(
    boxes,
    scores,
    max_output_size,
    iou_threshold=0.5,
    score_threshold=float("-inf"),
    soft_nms_sigma=0.0,
    name=None,
):
    """The kept indices and their scores; with soft_nms_sigma > 0, Soft-NMS (Bodla et al.) decays the
    scores of overlapping boxes by exp(-0.5 * iou^2 / sigma) instead of dropping them."""
    with name_scope(name, "non_max_suppression_with_scores"):
        inputs = _nms_inputs(boxes, scores, max_output_size, iou_threshold, score_threshold)
        inputs.append(convert_to_tensor(soft_nms_sigma, dtypes.float32, name="soft_nms_sigma"))
        indices, kept_scores, _ = build("NonMaxSuppressionV5", inputs)
        return indices, kept_scores


# -- sample_distorted_bounding_box ------------------------------------------------------------------


def _lrint(v: float) -> int:
    return int(np.rint(v))


def _random_crop(gen, width: int, height: int, min_area: float, max_area: float, ratio: float):
    """A (y, x, h, w) crop of about aspect `ratio` and area in [min_area, max_area], or None."""
    min_h = _lrint(math.sqrt(min_area / ratio))
    max_h = _lrint(math.sqrt(max_area / ratio))
    if _lrint(max_h * ratio) > width:
        max_h = int((width + 0.5 - 1e-7) / ratio)
        if _lrint(max_h * ratio) > width:
            max_h -= 1
    max_h = min(max_h, height)
    min_h = min(min_h, max_h)
    h = min_h + int(gen.integers(0, max_h - min_h + 1)) if min_h < max_h else min_h
    w = _lrint(h * ratio)
    if w * h < min_area:
        h += 1
        w = _lrint(h * ratio)
    elif w * h > max_area:
        h -= 1
        w = _lrint(h * ratio)
    if not (min_area <= w * h <= max_area) or not (0 < w <= width) or not (0 < h <= height):
        return None
    y = int(gen.integers(0, height - h + 1))
    x = int(gen.integers(0, width - w + 1))
    return y, x, h, w


def _covers(crop, boxes, min_covered: float) -> bool:
    y, x, h, w = crop
    for y0, x0, y1, x1 in boxes:
        area = (y1 - y0) * (x1 - x0)
        if area <= 0:
            continue
        inter = max(0, min(y + h, y1) - max(y, y0)) * max(0, min(x + w, x1) - max(x, x0))
        if inter / area >= min_covered:
            return True
    return False


class SampleDistortedBoundingBoxV2(Op):
    """A random crop (begin, size, its box) of an image that covers part of one of the given boxes."""

    inputs = ("image_size", "bounding_boxes", "min_object_covered")
    attrs = {
        "seed": None,
        "seed2": None,
        "aspect_ratio_range": (0.75, 1.33),
        "area_range": (0.05, 1.0),
        "max_attempts": 100,
        "use_image_if_no_bounding_boxes": False,
    }
    multi_output = True
    stateful = True
    differentiable = False

    def infer(image_size, bounding_boxes, min_object_covered, **attrs):
        check_dtype(image_size, "int", "image_size")
        if image_size.shape.ndims not in (None, 1) or image_size.shape.dims not in (None, (3,), (None,)):
            raise ValueError(
                f"image_size must be [height, width, channels], got shape {format_shape(image_size.shape)}"
            )
        if bounding_boxes.shape.ndims not in (None, 3) or (
            bounding_boxes.shape.ndims == 3 and bounding_boxes.shape.dims[2] not in (None, 4)
        ):
            raise ValueError(
                f"bounding_boxes must be [batch, N, 4], got shape {format_shape(bounding_boxes.shape)}"
            )
        low, high = attrs["aspect_ratio_range"]
        if not 0 < low <= high:
            raise ValueError(
                f"aspect_ratio_range must be positive and increasing, got {attrs['aspect_ratio_range']}"
            )
        low, high = attrs["area_range"]
        if not 0 < low <= high <= 1:
            raise ValueError(f"area_range must be within (0, 1], got {attrs['area_range']}")
        if attrs["max_attempts"] <= 0:
            raise ValueError(f"max_attempts must be positive, got {attrs['max_attempts']}")
        return [
            (image_size.dtype, TensorShape([3])),
            (image_size.dtype, TensorShape([3])),
            (dtypes.float32, TensorShape([1, 1, 4])),
        ]

    def kernel(ctx, image_size, bounding_boxes, min_object_covered, seed, seed2, **attrs):
        size = _host(image_size).reshape(-1)
        height, width = int(size[0]), int(size[1])
        if height <= 0 or width <= 0:
            raise _invalid(f"image height and width must be positive, got {[height, width]}")
        boxes = _host(bounding_boxes).reshape(-1, 4).astype(np.float64)
        if not len(boxes):
            if not attrs["use_image_if_no_bounding_boxes"]:
                raise _invalid(
                    "No bounding boxes provided as input. One must enable use_image_if_no_bounding_boxes "
                    "if you wish to not provide any bounding boxes."
                )
            boxes = np.array([[0.0, 0.0, 1.0, 1.0]])
        if np.any((boxes < 0) | (boxes > 1)):
            raise _invalid(f"All bounding box coordinates must be in [0.0, 1.0], got {boxes.tolist()}")
        pixel_boxes = boxes * [height, width, height, width]
        gen = ctx.rng(seed, seed2)
        covered = float(min_object_covered)
        min_area, max_area = (a * height * width for a in attrs["area_range"])
        crop = None
        for _ in range(attrs["max_attempts"]):
            ratio = gen.uniform(*attrs["aspect_ratio_range"])
            candidate = _random_crop(gen, width, height, min_area, max_area, ratio)
            if candidate is not None and _covers(candidate, pixel_boxes, covered):
                crop = candidate
                break
        y, x, h, w = crop if crop is not None else (0, 0, height, width)
        dtype = _host(image_size).dtype
        begin = np.array([y, x, 0], dtype)
        extent = np.array([h, w, -1], dtype)
        box = np.array([[[y / height, x / width, (y + h) / height, (x + w) / width]]], np.float32)
        return [ctx.xp.asarray(begin), ctx.xp.asarray(extent), ctx.xp.asarray(box)]


@api_function("image.sample_distorted_bounding_box")
def sample_distorted_bounding_box(
    image_size,
    bounding_boxes,
    seed=None,
    seed2=None,
    min_object_covered=0.1,
    aspect_ratio_range=None,
    area_range=None,
    max_attempts=None,
    use_image_if_no_bounding_boxes=None,
    name=None,
):
    """A random crop for data augmentation: `(begin, size, bbox_for_draw)`, to use with tf.slice.

    >>> begin, size, _ = tf.image.sample_distorted_bounding_box(tf.shape(image), boxes, min_object_covered=0.5)
    >>> crop = tf.slice(image, begin, size)

    The crop's aspect ratio lies in `aspect_ratio_range` (default [0.75, 1.33]),
    its area in `area_range` (default [0.05, 1.0]) of the image's, and it holds at
    least `min_object_covered` of one of `bounding_boxes` ([batch, N, 4]
    normalized); after `max_attempts` (100) failed draws it is the whole image.
    Seeded like the random ops; the draws differ from TensorFlow's.
    """
    from ops.random import get_seed

    if seed2 is None:
        seed, seed2 = get_seed(seed)
    attrs = {
        "seed": seed,
        "seed2": seed2,
        "aspect_ratio_range": tuple(float(v) for v in (aspect_ratio_range or (0.75, 1.33))),
        "area_range": tuple(float(v) for v in (area_range or (0.05, 1.0))),
        "max_attempts": int(max_attempts or 100),
        "use_image_if_no_bounding_boxes": bool(use_image_if_no_bounding_boxes),
    }
    with name_scope(name, "sample_distorted_bounding_box"):
        image_size = convert_to_tensor(image_size, name="image_size")
        inputs = [
            image_size,
            convert_to_tensor(bounding_boxes, dtypes.float32, name="bounding_boxes"),
            convert_to_tensor(min_object_covered, dtypes.float32, name="min_object_covered"),
        ]
        begin, size, box = build("SampleDistortedBoundingBoxV2", inputs, attrs)
        return begin, size, box
