"""tf.image against TensorFlow 2's tf.compat.v1: resizes (values and gradients), flips,
crops, pads, dtype and colour adjustments, PNG and JPEG decoding.

Each program is built with raygraph and with `tensorflow.compat.v1` in graph mode
from the same inputs. Resizes are checked for every method and both pixel
mappings (TF1's legacy one, and half-pixel centres where the op takes it), with
static and run-time sizes; ResizeArea (no gradient in TF) is tested only here. Decoded PNGs must be identical; decoded JPEGs (Pillow's
libjpeg against TensorFlow's) may differ by a few levels.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat
v1 = tf1.compat.v1

RNG = np.random.default_rng(0)
IMG = RNG.integers(0, 256, (6, 8, 3)).astype(np.uint8)
FIMG = RNG.uniform(0, 1, (2, 6, 8, 3)).astype(np.float32)
BIG = RNG.uniform(0, 255, (2, 5, 7, 3)).astype(np.float32)


def run_both(program, grad_of=None):
    """program(tf) -> tensors (and, with grad_of, the input to differentiate), on TF and on raygraph."""
    results = []
    for tf, make_session in ((v1, v1.Session), (raygraph, lambda: raygraph.Session("local"))):
        with tf.Graph().as_default():
            if grad_of is not None:
                x = tf.constant(grad_of)
                y = program(tf, x)
                w = np.random.default_rng(1).uniform(-1, 1, y.shape.as_list()).astype(np.float32)
                fetches = [y, tf.gradients(tf.reduce_sum(y * w), x)[0]]
            else:
                out = program(tf)
                fetches = list(out) if isinstance(out, list | tuple) else [out]
            with make_session() as sess:
                results.append(sess.run(fetches))
    return results


def assert_same(ours, theirs, atol=1e-5, rtol=1e-5):
    for a, b in zip(ours, theirs, strict=True):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, f"{a.shape} {a.dtype} vs {b.shape} {b.dtype}"
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol)


RESIZE_OPS = ["resize_bilinear", "resize_nearest_neighbor", "resize_bicubic", "resize_area"]
MAPPINGS = [(False, False), (True, False), (False, True)]
SIZES = [(9, 4), (3, 11), (1, 1), (10, 14)]


RESIZE_PARAMS = [
    (op, align, half) for op in RESIZE_OPS for align, half in MAPPINGS if not (op == "resize_area" and half)
]  # ResizeArea has no half_pixel_centers attribute


@pytest.mark.parametrize("op,align_corners,half_pixel", RESIZE_PARAMS)
def test_resize_ops_and_gradients_match(op, align_corners, half_pixel):
    for size in SIZES:
        kw = {"align_corners": align_corners}
        if op != "resize_area":
            kw["half_pixel_centers"] = half_pixel

        def program(tf, x, size=size, kw=kw):
            return getattr(tf.image, op)(x, size, **kw)

        if op == "resize_area":  # not differentiable in TensorFlow either
            ours, theirs = run_both(lambda tf, size=size, kw=kw: getattr(tf.image, op)(BIG, size, **kw))
        else:
            ours, theirs = run_both(program, grad_of=BIG)
        assert_same(ours, theirs, atol=2e-3)  # pixel values up to 255 in float32


@pytest.mark.parametrize("method", ["BILINEAR", "NEAREST_NEIGHBOR", "BICUBIC", "AREA"])
def test_resize_images_matches_for_each_method(method):
    def program(tf):
        m = getattr(tf.image.ResizeMethod, method)
        dynamic = tf.placeholder_with_default(IMG, [None, None, 3])
        return [
            tf.image.resize_images(IMG, [4, 5], method=m),
            tf.image.resize_images(FIMG, [12, 3], method=m, align_corners=True),
            tf.image.resize(FIMG, [6, 8], method=m),  # same size: returned as is
            tf.image.resize_images(dynamic, tf.constant([7, 7]), method=m),
            tf.image.resize_images(FIMG, [12, 12], method=m, preserve_aspect_ratio=True),
        ]

    ours, theirs = run_both(program)
    assert_same(ours, theirs, atol=1e-3)


def test_resize_static_shapes_match():
    shapes = []
    for tf in (v1, raygraph):
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float32, [None, None, None, 3])
            size = tf.placeholder(tf.int32, [2])
            shapes.append(
                [
                    tf.image.resize_images(x, [5, 6]).shape.as_list(),
                    tf.image.resize_images(x[0], size).shape.as_list(),
                    tf.image.resize_nearest_neighbor(x, [2, 3]).dtype.name,
                    tf.image.resize_bilinear(tf.cast(x, tf.uint8), [2, 3]).dtype.name,
                ]
            )
    assert shapes[0] == shapes[1]


GEOMETRY = {
    "flips": lambda tf: [
        tf.image.flip_left_right(IMG),
        tf.image.flip_up_down(FIMG),
        tf.image.flip_left_right(FIMG),
    ],
    "transpose_rot90": lambda tf: (
        [tf.image.transpose_image(IMG)] + [tf.image.rot90(IMG, k) for k in range(4)]
    ),
    "crop_pad": lambda tf: [
        tf.image.crop_to_bounding_box(IMG, 1, 2, 3, 4),
        tf.image.pad_to_bounding_box(FIMG, 1, 2, 9, 12),
    ],
    "crop_or_pad": lambda tf: [
        tf.image.resize_image_with_crop_or_pad(image, h, w)
        for image in (IMG, tf.placeholder_with_default(IMG, [None, None, 3]))
        for h, w in [(3, 5), (9, 11), (3, 12), (7, 7)]
    ],
    "central_crop": lambda tf: (
        [tf.image.central_crop(IMG, f) for f in (0.5, 0.33, 0.9)]
        + [tf.image.central_crop(tf.placeholder_with_default(FIMG, [None, None, None, 3]), 0.5)]
    ),
}


@pytest.mark.parametrize("name", sorted(GEOMETRY))
def test_geometry_matches(name):
    ours, theirs = run_both(GEOMETRY[name])
    assert_same(ours, theirs, atol=0)


@pytest.mark.parametrize(
    "fn",
    [
        lambda tf, x: tf.image.flip_left_right(x),
        lambda tf, x: tf.image.flip_up_down(x),
        lambda tf, x: tf.image.transpose_image(x[0]),
        lambda tf, x: tf.image.resize_image_with_crop_or_pad(x, 4, 11),
        lambda tf, x: tf.image.per_image_standardization(x),
        lambda tf, x: tf.image.adjust_brightness(x, 0.2),
    ],
)
def test_gradients_of_composed_image_functions_match(fn):
    ours, theirs = run_both(fn, grad_of=FIMG)
    assert_same(ours, theirs, atol=1e-5)


COLOR = {
    "standardize": lambda tf: [
        tf.image.per_image_standardization(IMG),
        tf.image.per_image_standardization(FIMG),
    ],
    "convert_dtype": lambda tf: [
        tf.image.convert_image_dtype(IMG, tf.float32),
        tf.image.convert_image_dtype(FIMG * 1.2, tf.uint8, saturate=True),
        tf.image.convert_image_dtype(FIMG, tf.uint8),
        tf.image.convert_image_dtype(IMG, tf.int32),
        tf.image.convert_image_dtype(tf.constant([70000, -5, 3], tf.int32), tf.uint8),
        tf.image.convert_image_dtype(tf.constant([65535, 0, 3], tf.uint16), tf.uint8),
        tf.image.convert_image_dtype(IMG, tf.float16),
        tf.image.convert_image_dtype(FIMG, tf.float64),
    ],
    "saturate_cast": lambda tf: [
        tf.saturate_cast(tf.constant([-3.0, 300.0, 7.5]), tf.uint8),
        tf.saturate_cast(tf.constant([1e12, -1e12]), tf.int32),
        tf.saturate_cast(tf.constant([70000, -70000]), tf.int16),
    ],
    "brightness_contrast": lambda tf: [
        tf.image.adjust_brightness(IMG, 0.1),
        tf.image.adjust_brightness(FIMG, -0.2),
        tf.image.adjust_contrast(IMG, 1.7),
        tf.image.adjust_contrast(FIMG, 0.3),
    ],
    "saturation_hue": lambda tf: [
        tf.image.adjust_saturation(IMG, 1.7),
        tf.image.adjust_saturation(FIMG, 0.3),
        tf.image.adjust_hue(IMG, 0.2),
        tf.image.adjust_hue(FIMG, -0.4),
        tf.image.rgb_to_hsv(FIMG),
        tf.image.hsv_to_rgb(FIMG),
    ],
    "grayscale": lambda tf: [
        tf.image.rgb_to_grayscale(IMG),
        tf.image.rgb_to_grayscale(FIMG),
        tf.image.grayscale_to_rgb(tf.constant(FIMG[..., :1])),
    ],
}


@pytest.mark.parametrize("name", sorted(COLOR))
def test_dtype_and_colour_functions_match(name):
    ours, theirs = run_both(COLOR[name])
    assert_same(ours, theirs, atol=1e-5)


def _file(array, fmt, **kw):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def test_png_decoding_is_identical():
    rgba = RNG.integers(0, 256, (6, 8, 4)).astype(np.uint8)
    files = [_file(IMG, "PNG"), _file(rgba, "PNG"), _file(IMG[..., 0], "PNG")]

    def program(tf):
        out = []
        for data in files:
            out += [tf.image.decode_png(data, channels=c) for c in (0, 1, 3, 4)]
            out += [tf.image.decode_png(data, dtype=tf.uint16), tf.image.decode_image(data)]
        return out

    ours, theirs = run_both(program)
    assert_same(ours, theirs, atol=0)
    ours, theirs = run_both(lambda tf: tf.image.decode_png(tf.image.encode_png(IMG)))
    assert_same(ours, theirs, atol=0)


def test_jpeg_decoding_is_close():
    y, x = np.mgrid[0:32, 0:40]
    smooth = np.stack([y * 7, x * 6, (x + y) * 3], axis=-1).astype(np.uint8)
    files = [_file(smooth, "JPEG", quality=q) for q in (75, 95)]

    def program(tf):
        out = []
        for data in files:
            out += [tf.image.decode_jpeg(data), tf.image.decode_jpeg(data, channels=1)]
            out += [tf.image.extract_jpeg_shape(data), tf.image.decode_and_crop_jpeg(data, [1, 2, 3, 4])]
        return out

    ours, theirs = run_both(program)
    assert_same(
        ours, theirs, atol=5, rtol=0
    )  # TF decodes with libjpeg's fast integer DCT, Pillow with the slow one
    noisy = _file(IMG, "JPEG", quality=90)  # chroma upsampling of noise differs the most
    ours, theirs = run_both(lambda tf: tf.image.decode_jpeg(noisy))
    assert ours[0].shape == theirs[0].shape
    assert np.abs(ours[0].astype(int) - theirs[0]).mean() < 2
