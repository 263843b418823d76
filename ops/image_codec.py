"""PNG, JPEG, GIF and BMP coding through Pillow: DecodePng, DecodeJpeg, DecodeImage,
DecodeAndCropJpeg, ExtractJpegShape, EncodePng, EncodeJpeg.

Each op reads or writes one scalar string tensor (the file's bytes) on the host
and hands the pixels to the device's array module. Decoded images are
[height, width, channels] uint8 (or uint16 for 16-bit PNGs); height and width
are known only when the graph runs. `channels` 0 keeps the file's channels,
1 gives grayscale, 3 RGB, 4 RGBA. Decoded PNGs equal TensorFlow's exactly;
JPEG pixels come from Pillow's libjpeg and may differ from TensorFlow's by a
little, and encoded bytes differ from TensorFlow's while decoding to the same
(PNG) or nearly the same (JPEG) pixels. None of these ops has a gradient.
"""

from __future__ import annotations

import io

import numpy as np

from ops import api
from ops.common import check_dtype, check_scalar
from ops.registry import NotDifferentiable, Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import convert_to_tensor
from raygraph.shapes import format_shape

_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _bytes(contents) -> bytes:
    value = contents.item() if hasattr(contents, "item") else contents
    if isinstance(value, str):
        value = value.encode("latin-1")
    if not isinstance(value, bytes):
        raise errors.InvalidArgumentError(
            None, None, f"contents must be a scalar string, got {type(value).__name__}"
        )
    return value


def _open(data: bytes, what: str):
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as e:  # noqa: BLE001 - Pillow raises several types for bad data
        raise errors.InvalidArgumentError(
            None, None, f"{what}: the contents are not a valid image ({e})"
        ) from None
    return image


def _format(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:3] == b"GIF":
        return "gif"
    if data[:2] == b"BM":
        return "bmp"
    return "unknown"


def _native(image) -> np.ndarray:
    """The image's own pixels as [H, W, C]: uint8, or uint16 for 16-bit grayscale PNGs."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L"):
        return np.asarray(image).astype(np.uint16)[..., None]
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGB")
    array = np.asarray(image)
    return array[..., None] if array.ndim == 2 else array


def _to_gray(rgb: np.ndarray) -> np.ndarray:
    """libpng's RGB to gray, as TensorFlow's PNG decoder asks for it: 0.299, 0.587, 0.114 in 15-bit
    fixed point, truncated; pixels with equal R, G and B stay as they are."""
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    gray = (9797 * r + 19234 * g + 3737 * b) >> 15
    gray = np.where((r == g) & (g == b), r, gray)
    return gray.astype(rgb.dtype)[..., None]


def _convert_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    have = pixels.shape[-1]
    if channels in (0, have):
        return pixels
    color = pixels[..., :1].repeat(3, axis=-1) if have <= 2 else pixels[..., :3]
    if channels == 1:
        return pixels[..., :1] if have <= 2 else _to_gray(color)
    if channels == 3:
        return color
    alpha = pixels[..., -1:] if have in (2, 4) else np.full_like(pixels[..., :1], np.iinfo(pixels.dtype).max)
    return np.concatenate([color, alpha], axis=-1)


def _pixels(image, channels: int, dtype) -> np.ndarray:
    """The image's pixels as [H, W, C] of `dtype` (uint8 or uint16), converted to `channels`."""
    pixels = _convert_channels(_native(image), channels)
    if pixels.dtype == dtype:
        return np.ascontiguousarray(pixels)
    if dtype == np.uint16:  # 8 to 16 bits replicates the byte, as libpng's expand_16
        return pixels.astype(np.uint16) * 257
    return (pixels >> 8).astype(np.uint8)  # 16 to 8 bits keeps the high byte (libpng's strip_16)


def _check_channels(channels: int, allowed=(0, 1, 3, 4)) -> None:
    if channels not in allowed:
        raise ValueError(f"channels must be one of {list(allowed)}, got {channels}")


def _decoded_shape(contents, channels, rank=3):
    check_dtype(contents, "any", "contents")
    if contents.dtype != dtypes.string:
        raise TypeError(f"contents must be a string tensor, got {contents.dtype.name}")
    check_scalar(contents, "contents")
    return [None] * (rank - 1) + [channels or None]


class DecodePng(Op):
    """A PNG file's pixels: [height, width, channels] uint8 or uint16."""

    inputs = ("contents",)
    attrs = {"channels": 0, "dtype": dtypes.uint8}
    api = ("image.decode_png", "io.decode_png")

    def infer(contents, channels, dtype):
        _check_channels(channels)
        dtype = dtypes.as_dtype(dtype)
        if dtype not in (dtypes.uint8, dtypes.uint16):
            raise TypeError(f"decode_png gives uint8 or uint16, got dtype {dtype.name}")
        return dtype, _decoded_shape(contents, channels)

    def kernel(xp, contents, channels, dtype):
        data = _bytes(contents)
        if _format(data) != "png":
            raise errors.InvalidArgumentError(
                None, None, "Invalid PNG data: the header is not a PNG signature"
            )
        return xp.asarray(_pixels(_open(data, "decode_png"), channels, dtypes.as_dtype(dtype).np))


class DecodeJpeg(Op):
    """A JPEG file's pixels: [height, width, channels] uint8 (`ratio` 2, 4 or 8 scales it down)."""

    inputs = ("contents",)
    attrs = {
        "channels": 0,
        "ratio": 1,
        "fancy_upscaling": True,
        "try_recover_truncated": False,
        "acceptable_fraction": 1.0,
        "dct_method": "",
    }
    api = ("image.decode_jpeg", "io.decode_jpeg")

    def infer(
        contents, channels, ratio, fancy_upscaling, try_recover_truncated, acceptable_fraction, dct_method
    ):
        _check_channels(channels, (0, 1, 3))
        if ratio not in (1, 2, 4, 8):
            raise ValueError(f"ratio must be 1, 2, 4 or 8, got {ratio}")
        return dtypes.uint8, _decoded_shape(contents, channels)

    def kernel(
        xp, contents, channels, ratio, fancy_upscaling, try_recover_truncated, acceptable_fraction, dct_method
    ):
        return xp.asarray(_decode_jpeg(_bytes(contents), channels, ratio))


def _decode_jpeg(data: bytes, channels: int, ratio: int = 1) -> np.ndarray:
    from PIL import Image

    if _format(data) != "jpeg":
        raise errors.InvalidArgumentError(
            None, None, "Invalid JPEG data or crop window, data size " + str(len(data))
        )
    try:
        image = Image.open(io.BytesIO(data))
        mode = "L" if channels == 1 else "RGB" if channels == 3 else image.mode
        if ratio > 1 or mode != image.mode:  # libjpeg scales and converts colours while decoding
            image.draft(mode, (-(-image.width // ratio), -(-image.height // ratio)))
        image.load()
    except Exception as e:  # noqa: BLE001 - Pillow raises several types for bad data
        raise errors.InvalidArgumentError(None, None, f"decode_jpeg: invalid JPEG data ({e})") from None
    return _pixels(image, channels, np.uint8)


class DecodeAndCropJpeg(Op):
    """The crop_window [y, x, height, width] of a JPEG file's pixels."""

    inputs = ("contents", "crop_window")
    attrs = dict(DecodeJpeg.attrs)
    api = ("image.decode_and_crop_jpeg", "io.decode_and_crop_jpeg")

    def infer(contents, crop_window, **attrs):
        _check_channels(attrs["channels"], (0, 1, 3))
        return dtypes.uint8, _decoded_shape(contents, attrs["channels"])

    def kernel(xp, contents, crop_window, **attrs):
        pixels = _decode_jpeg(_bytes(contents), attrs["channels"], attrs["ratio"])
        y, x, h, w = (int(v) for v in np.asarray(crop_window).reshape(-1))
        if y < 0 or x < 0 or h <= 0 or w <= 0 or y + h > pixels.shape[0] or x + w > pixels.shape[1]:
            raise errors.InvalidArgumentError(
                None, None, f"Invalid JPEG data or crop window: window {[y, x, h, w]} on {list(pixels.shape)}"
            )
        return xp.asarray(np.ascontiguousarray(pixels[y : y + h, x : x + w]))


class ExtractJpegShape(Op):
    """[height, width, channels] of a JPEG file, without decoding its pixels."""

    inputs = ("contents",)
    attrs = {"output_type": dtypes.int32}
    api = ("image.extract_jpeg_shape", "io.extract_jpeg_shape")

    def infer(contents, output_type):
        _decoded_shape(contents, 0)
        return dtypes.as_dtype(output_type), [3]

    def kernel(xp, contents, output_type):
        from PIL import Image

        data = _bytes(contents)
        if _format(data) != "jpeg":
            raise errors.InvalidArgumentError(None, None, "Invalid JPEG data, size " + str(len(data)))
        image = Image.open(io.BytesIO(data))
        shape = [image.height, image.width, 1 if image.mode == "L" else 3]
        return xp.asarray(np.array(shape, dtypes.as_dtype(output_type).np))


class DecodeImage(Op):
    """A BMP, GIF, JPEG or PNG file's pixels, by its header; a GIF gives [frames, H, W, 3]."""

    inputs = ("contents",)
    attrs = {"channels": 0, "dtype": dtypes.uint8, "expand_animations": True}

    def infer(contents, channels, dtype, expand_animations):
        _check_channels(channels)
        _decoded_shape(contents, channels)
        if expand_animations:
            return dtypes.as_dtype(dtype), None
        return dtypes.as_dtype(dtype), [None, None, channels or None]

    def kernel(xp, contents, channels, dtype, expand_animations):
        data = _bytes(contents)
        kind = _format(data)
        if kind == "unknown":
            raise errors.InvalidArgumentError(
                None, None, "Unknown image file format. One of JPEG, PNG, GIF, BMP required."
            )
        if kind == "jpeg":
            return xp.asarray(_decode_jpeg(data, channels))
        image = _open(data, "decode_image")
        if kind == "gif":
            if channels not in (0, 3):
                raise errors.InvalidArgumentError(
                    None, None, f"channels must be 0 or 3 for GIF, got {channels}"
                )
            frames = []
            for i in range(getattr(image, "n_frames", 1)):
                image.seek(i)
                frames.append(np.asarray(image.convert("RGB"), np.uint8))
            pixels = np.stack(frames)
            return xp.asarray(pixels if expand_animations else pixels[0])
        return xp.asarray(_pixels(image, channels, dtypes.as_dtype(dtype).np))


@api_function("image.decode_image", "io.decode_image")
def decode_image(contents, channels=None, dtype=dtypes.uint8, name=None, expand_animations=True):
    """Pixels of a BMP, GIF, JPEG or PNG file, chosen by its header.

    [H, W, C] for still images; a GIF gives [frames, H, W, 3] unless
    expand_animations=False (its first frame). A float dtype is scaled to [0, 1].
    """
    dtype = dtypes.as_dtype(dtype)
    wanted = dtype if dtype in (dtypes.uint8, dtypes.uint16) else dtypes.uint8
    attrs = {"channels": int(channels or 0), "dtype": wanted, "expand_animations": bool(expand_animations)}
    pixels = build("DecodeImage", [convert_to_tensor(contents, dtype=dtypes.string)], attrs, name=name)
    if dtype != wanted:
        return api.image.convert_image_dtype(pixels, dtype)
    return pixels


class EncodePng(Op):
    """A [height, width, channels] uint8 or uint16 image as PNG bytes (a scalar string)."""

    inputs = ("image",)
    attrs = {"compression": -1}
    api = ("image.encode_png", "io.encode_png")

    def infer(image, compression):
        if image.dtype not in (dtypes.uint8, dtypes.uint16):
            raise TypeError(f"encode_png takes uint8 or uint16 images, got {image.dtype.name}")
        _check_image3(image, (1, 2, 3, 4))
        return dtypes.string, []

    def kernel(xp, image, compression):
        pixels = _host_image(image, (1, 2, 3, 4))
        level = 6 if compression == -1 else int(compression)
        buffer = io.BytesIO()
        _pil_image(pixels).save(buffer, format="PNG", compress_level=level)
        return np.array(buffer.getvalue(), dtype=object)


class EncodeJpeg(Op):
    """A [height, width, channels] uint8 image as JPEG bytes (a scalar string), at `quality`."""

    inputs = ("image",)
    attrs = {
        "format": "",
        "quality": 95,
        "progressive": False,
        "optimize_size": False,
        "chroma_downsampling": True,
        "density_unit": "in",
        "x_density": 300,
        "y_density": 300,
        "xmp_metadata": "",
    }
    api = ("image.encode_jpeg", "io.encode_jpeg")

    def infer(image, **attrs):
        if image.dtype != dtypes.uint8:
            raise TypeError(f"encode_jpeg takes uint8 images, got {image.dtype.name}")
        _check_image3(image, (1, 3))
        if attrs["format"] not in ("", "grayscale", "rgb"):
            raise ValueError(f"format must be '', 'grayscale' or 'rgb', got {attrs['format']!r}")
        return dtypes.string, []

    def kernel(xp, image, **attrs):
        pixels = _host_image(image, (1, 3))
        fmt = attrs["format"]
        if fmt == "grayscale" and pixels.shape[-1] != 1 or fmt == "rgb" and pixels.shape[-1] != 3:
            raise errors.InvalidArgumentError(
                None, None, f"format {fmt!r} does not fit {pixels.shape[-1]} channels"
            )
        buffer = io.BytesIO()
        _pil_image(pixels).save(
            buffer,
            format="JPEG",
            quality=int(attrs["quality"]),
            progressive=bool(attrs["progressive"]),
            optimize=bool(attrs["optimize_size"]),
            subsampling=2 if attrs["chroma_downsampling"] else 0,
            dpi=(attrs["x_density"], attrs["y_density"]),
        )
        return np.array(buffer.getvalue(), dtype=object)


def _check_image3(image, channels) -> None:
    shape = image.shape
    if shape.ndims not in (None, 3) or (shape.dims is not None and shape.dims[-1] not in (None, *channels)):
        raise ValueError(
            f"image must be [height, width, channels] with channels in {list(channels)}, got {format_shape(shape)}"
        )


def _host_image(image, channels) -> np.ndarray:
    pixels = image.get() if hasattr(image, "get") else np.asarray(image)  # cupy arrays come to the host
    if pixels.ndim != 3 or pixels.shape[-1] not in channels:
        raise errors.InvalidArgumentError(
            None,
            None,
            f"image must be [height, width, channels] with channels in {list(channels)}, got {list(pixels.shape)}",
        )
    return np.ascontiguousarray(pixels)


def _pil_image(pixels: np.ndarray):
    from PIL import Image

    c = pixels.shape[-1]
    if pixels.dtype == np.uint16:
        if c != 1:
            raise errors.InvalidArgumentError(None, None, "16-bit PNGs are written for 1 channel only")
        return Image.fromarray(pixels[..., 0].astype(np.uint16), mode="I;16")
    return Image.fromarray(pixels[..., 0] if c == 1 else pixels, mode=_MODES[c])


for _op in (
    "DecodePng",
    "DecodeJpeg",
    "DecodeAndCropJpeg",
    "ExtractJpegShape",
    "DecodeImage",
    "EncodePng",
    "EncodeJpeg",
):
    NotDifferentiable(_op)
