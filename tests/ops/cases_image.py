"""Op test cases for the image families (image_resize, image, array_misc; see cases.py).

Resize references are written per output pixel from TensorFlow's definitions
(tests/compat/test_image_vs_tf.py compares the kernels with TensorFlow itself);
a resize's gradient is the transposed map, so the *Grad references apply the
transpose of the matrix that the forward reference gives on unit vectors.
"""

from __future__ import annotations

import math

import numpy as np

import raygraph as tf
from tests.ops.cases import Case, uniform

TESTED_ELSEWHERE = {
    op: "tests/ops/test_image_codec.py"
    for op in (
        "DecodePng",
        "DecodeJpeg",
        "DecodeAndCropJpeg",
        "DecodeImage",
        "ExtractJpegShape",
        "EncodePng",
        "EncodeJpeg",
    )
}
TESTED_ELSEWHERE["ResizeArea"] = "tests/compat/test_image_vs_tf.py"


def _scale(n_in, n_out, align):
    return np.float32((n_in - 1) / (n_out - 1)) if align and n_out > 1 else np.float32(n_in / n_out)


def bilinear_1d(n_in, n_out, align=False, half=False):
    """Rows: output pixels; columns: their weights on the input pixels."""
    w = np.zeros((n_out, n_in))
    scale = _scale(n_in, n_out, align)
    for o in range(n_out):
        src = (np.float32(o) + np.float32(0.5)) * scale - np.float32(0.5) if half else np.float32(o) * scale
        lo = math.floor(src)
        frac = float(src) - lo
        w[o, max(lo, 0)] += 1 - frac
        w[o, min(math.ceil(src), n_in - 1)] += frac
    return w


def nearest_1d(n_in, n_out, align=False, half=False):
    w = np.zeros((n_out, n_in))
    scale = _scale(n_in, n_out, align)
    for o in range(n_out):
        src = (np.float32(o) + np.float32(0.5)) * scale if half else np.float32(o) * scale
        i = math.floor(src + 0.5) if align else math.floor(src)
        w[o, min(max(i, 0), n_in - 1)] = 1
    return w


def _cubic(x, a):
    x = abs(x)
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a if x < 2 else 0.0


def bicubic_1d(n_in, n_out, align=False, half=False):
    """Keys' cubic at offsets rounded to 1/1024 (TF's table); half-pixel drops outside taps."""
    a = -0.5 if half else -0.75
    w = np.zeros((n_out, n_in))
    scale = _scale(n_in, n_out, align)
    for o in range(n_out):
        src = (np.float32(o) + np.float32(0.5)) * scale - np.float32(0.5) if half else np.float32(o) * scale
        base = math.floor(src)
        t = round(float(src - base) * 1024) / 1024
        taps = [base - 1, base, base + 1, base + 2]
        weights = [_cubic(t + 1, a), _cubic(t, a), _cubic(1 - t, a), _cubic(2 - t, a)]
        if half:
            weights = [wt if 0 <= i < n_in else 0.0 for i, wt in zip(taps, weights)]
            weights = [wt / sum(weights) for wt in weights]
        for i, wt in zip(taps, weights):
            w[o, min(max(i, 0), n_in - 1)] += wt
    return w


def resize(weights, size, **kw):
    def reference(images):
        wh = weights(images.shape[1], size[0], **kw)
        ww = weights(images.shape[2], size[1], **kw)
        return np.einsum("oh,nhwc,pw->nopc", wh, images.astype(np.float64), ww)

    return reference


def resize_grad(weights, size, **kw):
    def reference(grads, image):
        wh = weights(size[0], grads.shape[1], **kw)
        ww = weights(size[1], grads.shape[2], **kw)
        return np.einsum("oh,nopc,pw->nhwc", wh, grads, ww)

    return reference


def rgb_to_hsv(rgb):
    import colorsys

    flat = rgb.reshape(-1, 3).astype(np.float64)
    return np.array([colorsys.rgb_to_hsv(*p) for p in flat]).reshape(rgb.shape)


def hsv_to_rgb(hsv):
    import colorsys

    flat = hsv.reshape(-1, 3).astype(np.float64)
    return np.array([colorsys.hsv_to_rgb(*p) for p in flat]).reshape(hsv.shape)


def unit(rng, shapes, dtypes):
    return [rng.uniform(0, 1, s).astype(d) for s, d in zip(shapes, dtypes)]


def depth_to_space(x, b=2):
    n, h, w, c = x.shape
    return x.reshape(n, h, w, b, b, c // 4).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * b, w * b, c // 4)


def space_to_depth(x, b=2):
    n, h, w, c = x.shape
    return x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h // b, w // b, c * 4)


def reverse_sequence(x, lengths):
    out = x.copy()
    for i, n in enumerate(lengths):
        out[:n, i] = x[:n, i][::-1]
    return out


IMAGE = [((2, 4, 5, 3),)]
RESIZE = [
    ("ResizeBilinear", tf.image.resize_bilinear, bilinear_1d),
    ("ResizeNearestNeighbor", tf.image.resize_nearest_neighbor, nearest_1d),
    ("ResizeBicubic", tf.image.resize_bicubic, bicubic_1d),
]
CASES = []
for op, fn, weights in RESIZE:
    for size, kw, label in [
        ((7, 3), {}, ""),
        ((3, 9), {"align_corners": True}, "align"),
        ((6, 6), {"half_pixel": True}, "half"),
    ]:
        flags = {
            "align_corners": kw.get("align_corners", False),
            "half_pixel_centers": kw.get("half_pixel", False),
        }
        ref_kw = {"align": flags["align_corners"], "half": flags["half_pixel_centers"]}
        CASES.append(
            Case(
                op,
                lambda x, fn=fn, size=size, flags=flags: fn(x, size, **flags),
                resize(weights, size, **ref_kw),
                IMAGE,
                label=label,
            )
        )
        CASES.append(
            Case(
                f"{op}Grad",
                lambda g, x, op=op, flags=flags: _grad_op(op, g, x, flags),
                lambda g, x, weights=weights, ref_kw=ref_kw: resize_grad(weights, x.shape[1:3], **ref_kw)(
                    g, x
                ),
                [((2,) + size + (3,), (2, 4, 5, 3))],
                grad_inputs=(0,),
                dynamic=False,
                label=label,
            )
        )


def _grad_op(op, grads, image, flags):
    from ops.registry import build

    if op in ("ResizeBilinear", "ResizeBicubic"):
        return build(f"{op}Grad", [grads, image], flags)
    return build("ResizeNearestNeighborGrad", [grads, tf.shape(image)[1:3]], flags)


CASES += [
    Case("RGBToHSV", tf.image.rgb_to_hsv, rgb_to_hsv, [((4, 5, 3),)], inputs=unit, grad=False),
    Case("HSVToRGB", tf.image.hsv_to_rgb, hsv_to_rgb, [((4, 5, 3),)], inputs=unit, grad=False),
    Case(
        "AdjustSaturation",
        lambda x: tf.image.adjust_saturation(x, 0.4),
        lambda x: hsv_to_rgb(rgb_to_hsv(x) * [1, 0.4, 1]),
        [((4, 5, 3),)],
        inputs=unit,
        grad=False,
    ),
    Case(
        "AdjustHue",
        lambda x: tf.image.adjust_hue(x, 0.3),
        lambda x: hsv_to_rgb(np.mod(rgb_to_hsv(x) + [0.3, 0, 0], [1, 2, 2])),
        [((4, 5, 3),)],
        inputs=unit,
        grad=False,
    ),
    Case("DepthToSpace", lambda x: tf.depth_to_space(x, 2), depth_to_space, [((2, 2, 3, 8),)]),
    Case("SpaceToDepth", lambda x: tf.space_to_depth(x, 2), space_to_depth, [((2, 4, 6, 3),)]),
    Case(
        "ReverseSequence",
        lambda x: tf.reverse_sequence(x, [3, 0, 5, 1], seq_axis=0, batch_axis=1),
        lambda x: reverse_sequence(x, [3, 0, 5, 1]),
        [((5, 4, 2),)],
    ),
    Case(
        "Unique",
        lambda x: list(tf.unique(x)),
        lambda x: [np.array([2, -1, 0, 1]), np.array([0, 1, 0, 2, 3, 1])],
        [((6,),)],
        dtypes=("int32",),
        inputs=lambda rng, shapes, dtypes: [np.array([2, -1, 2, 0, 1, -1], np.int32)],
        grad=False,
    ),
    Case(
        "HistogramFixedWidth",
        lambda x: tf.histogram_fixed_width(x, [0.0, 4.0], nbins=4),
        lambda x: np.bincount(np.clip(np.floor(x.reshape(-1)), 0, 3).astype(int), minlength=4),
        [((5, 7),)],
        inputs=uniform(-1, 5),
        grad=False,
    ),
]
