"""PNG, JPEG, GIF and BMP coding (DecodePng, DecodeJpeg, DecodeAndCropJpeg, DecodeImage,
ExtractJpegShape, EncodePng, EncodeJpeg) and the random image functions, in-process."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import raygraph as tf

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (6, 8, 3)).astype(np.uint8)
_Y, _X = np.mgrid[0:16, 0:16]
SMOOTH = np.stack([_Y * 12, _X * 12, (_X + _Y) * 6], axis=-1).astype(np.uint8)  # JPEG keeps it well


def _file(array, fmt, **kw):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def run(fetches, feeds=None):
    with tf.Session("local") as sess:
        return sess.run(fetches, feeds)


def test_png_round_trip_is_exact_for_each_channel_count():
    for channels in (1, 3, 4):
        image = RNG.integers(0, 256, (5, 7, channels)).astype(np.uint8)
        data = tf.image.encode_png(tf.constant(image))
        decoded = tf.image.decode_png(data)
        assert decoded.shape.as_list() == [None, None, None]
        np.testing.assert_array_equal(run(decoded), image)


def test_decode_png_converts_channels_like_libpng():
    contents = tf.placeholder(tf.string, [])
    gray, rgba = tf.image.decode_png(contents, channels=1), tf.image.decode_png(contents, channels=4)
    assert gray.shape.as_list() == [None, None, 1]
    g, a = run([gray, rgba], {contents: _file(RGB, "PNG")})
    r, gr, b = (RGB[..., i].astype(np.int64) for i in range(3))
    np.testing.assert_array_equal(g[..., 0], (9797 * r + 19234 * gr + 3737 * b) >> 15)
    np.testing.assert_array_equal(a[..., :3], RGB)
    assert (a[..., 3] == 255).all()


def test_decode_png_uint16():
    image = RNG.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    wide = run(tf.image.decode_png(_file(image, "PNG"), dtype=tf.uint16))
    assert wide.dtype == np.uint16
    np.testing.assert_array_equal(wide, image.astype(np.uint16) * 257)


def test_jpeg_round_trip_is_close_and_shape_is_read_without_decoding():
    data = tf.image.encode_jpeg(tf.constant(SMOOTH), quality=95)
    decoded, shape, gray = run(
        [
            tf.image.decode_jpeg(data),
            tf.image.extract_jpeg_shape(data),
            tf.image.decode_jpeg(data, channels=1),
        ]
    )
    assert decoded.shape == SMOOTH.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - SMOOTH).max() <= 8
    assert shape.tolist() == [16, 16, 3] and gray.shape == (16, 16, 1)


def test_decode_and_crop_jpeg_is_a_crop_of_decode_jpeg():
    data = _file(RGB, "JPEG", quality=90)
    full, crop = run([tf.image.decode_jpeg(data), tf.image.decode_and_crop_jpeg(data, [1, 2, 3, 4])])
    np.testing.assert_array_equal(crop, full[1:4, 2:6])


def test_decode_image_by_header():
    gif = io.BytesIO()
    frames = [Image.fromarray(RGB), Image.fromarray(255 - RGB)]
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    png, bmp = _file(RGB, "PNG"), _file(RGB, "BMP")
    out_png, out_bmp, out_gif, first = run(
        [
            tf.image.decode_image(png),
            tf.image.decode_image(bmp),
            tf.image.decode_image(gif.getvalue()),
            tf.image.decode_image(gif.getvalue(), expand_animations=False),
        ]
    )
    np.testing.assert_array_equal(out_png, RGB)
    np.testing.assert_array_equal(out_bmp, RGB)
    assert out_gif.shape == (2, 6, 8, 3) and first.shape == (6, 8, 3)
    as_float = run(tf.image.decode_image(png, dtype=tf.float32))
    np.testing.assert_allclose(as_float, RGB / 255.0, rtol=1e-6)


def test_bad_data_is_an_invalid_argument_error():
    with pytest.raises(tf.errors.InvalidArgumentError, match="PNG"):
        run(tf.image.decode_png(b"not an image"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        run(tf.image.decode_image(b"not an image"))
    with pytest.raises(TypeError, match="uint8"):
        tf.image.encode_jpeg(tf.zeros([2, 2, 3]))


def test_random_flips_and_crops_are_seeded_and_valid():
    images = tf.constant(RNG.uniform(size=(8, 4, 5, 3)).astype(np.float32))
    flipped = tf.image.random_flip_left_right(images, seed=3)
    crop = tf.random_crop(images, [8, 2, 3, 3], seed=5)
    single = tf.image.random_flip_up_down(images[0], seed=1)
    assert crop.shape.as_list() == [8, 2, 3, 3]
    x, f, c, s = run([images, flipped, crop, single])
    for i in range(8):
        assert np.array_equal(f[i], x[i]) or np.array_equal(f[i], x[i, :, ::-1])
    assert any(np.array_equal(c, x[:, a : a + 2, b : b + 3]) for a in range(3) for b in range(3))
    assert np.array_equal(s, x[0]) or np.array_equal(s, x[0, ::-1])
    np.testing.assert_array_equal(run(flipped), f)  # a new session replays the seeded stream
    brightness = tf.image.random_brightness(images, 0.2, seed=1) - images
    delta = run(brightness)
    assert np.allclose(delta, delta.flat[0], atol=1e-6) and abs(delta.flat[0]) <= 0.2
