"""Convolution and pooling over 2-D images: conv2d, max_pool, avg_pool and their gradients.

Geometry, per spatial dimension, as TensorFlow computes it: a window of k taps
spaced `dilation` apart spans eff = (k - 1) * dilation + 1 inputs.
- VALID: no padding; out = (size - eff) // stride + 1.
- SAME: out = ceil(size / stride); the padding needed, (out - 1) * stride + eff - size,
  is split with the extra element at the bottom/right.
- EXPLICIT (conv2d only): the user's [[0, 0], [top, bottom], [left, right], [0, 0]].
Max pooling pads with -inf, so padding never wins; average pooling divides by the
number of real (non-padding) inputs in each window.

Kernels work on NHWC arrays (NCHW inputs are transposed in and out) through one
idea, the window tap: `_taps` yields, for each of the KH * KW taps (i, j), the
strided view of the padded input that tap reads for every output position, an
[N, OH, OW, C] slice. So
- a convolution is an im2col copy ([N*OH*OW, KH*KW*C], `_im2col`) and one matrix
  product; its filter gradient is the same copy and one product;
- a pooling is one elementwise max (or add) per tap;
- `_fold`, the adjoint, adds an [N, OH, OW, C] array into each tap's view of a
  zero input: the input gradients of strided convolutions and of both poolings.
  Stride-1 convolutions get their input gradient as a convolution instead (the
  filter flipped, `_transposed_correlate`): one product, no scattered adds.
Loops run over the KH * KW taps, never over pixels.

The gradient ops are TensorFlow's: Conv2DBackpropInput and Conv2DBackpropFilter
(also public, as tf.nn.conv2d_backprop_input/_filter), MaxPoolGrad (routing each
window's gradient to its first maximum), MaxPoolGradGrad and AvgPoolGrad. They are
linear in their gradient input, so their own gradients are each other.
"""

from __future__ import annotations

from typing import NamedTuple

from ops import api as tf
from ops.common import check_dtype, partial_shape_value
from ops.registry import REQUIRED, Op, api_function, build
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.shapes import format_shape

# -- geometry ------------------------------------------------------------------


class Window(NamedTuple):
    """Where the windows of a conv or pool lie on an NHWC input."""

    kernel: tuple[int, int]  # taps (kh, kw)
    strides: tuple[int, int]
    dilations: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, bottom, left, right
    out: tuple[int, int]  # output (height, width)


def out_dim(size, k, stride, dilation, padding, before=0, after=0):
    """(output size, pad before, pad after) along one spatial dimension; size may be None."""
    if min(k, stride, dilation) < 1 or padding not in ("SAME", "VALID", "EXPLICIT"):
        raise ValueError(
            f"window size {k}, stride {stride} and dilation {dilation} must be positive and padding "
            f"'SAME', 'VALID' or 'EXPLICIT' (got {padding!r})"
        )
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        if size is None:
            return None, None, None
        out = -(-size // stride)
        total = max((out - 1) * stride + eff - size, 0)
        return out, total // 2, total - total // 2
    if padding == "VALID":
        before = after = 0
    if size is None:
        return None, before, after
    if size + before + after < eff:
        raise ValueError(
            f"Computed output size would be negative: input size {size} (padded "
            f"{size + before + after}) is smaller than the window's size {eff} "
            f"(k {k}, dilation {dilation}, padding {padding})"
        )
    return (size + before + after - eff) // stride + 1, before, after


def window(h, w, kernel, strides, dilations, padding, explicit=None) -> Window:
    """The Window of a conv or pool on an input of spatial size (h, w)."""
    explicit = explicit or (0, 0, 0, 0)
    oh, top, bottom = out_dim(h, kernel[0], strides[0], dilations[0], padding, *explicit[:2])
    ow, left, right = out_dim(w, kernel[1], strides[1], dilations[1], padding, *explicit[2:])
    return Window(tuple(kernel), tuple(strides), tuple(dilations), (top, bottom, left, right), (oh, ow))


def spatial(values, data_format: str) -> tuple:
    """The (height, width) entries of a 4-entry attr (strides, ksize, dilations)."""
    return (values[1], values[2]) if data_format == "NHWC" else (values[2], values[3])


def explicit_pads(explicit_paddings, data_format: str):
    """(top, bottom, left, right) from TF's flat 8-entry explicit_paddings, or None."""
    if not explicit_paddings:
        return None
    p = list(explicit_paddings)
    return tuple(p[2:6]) if data_format == "NHWC" else tuple(p[4:8])


def to_nhwc(dims, data_format: str):
    """A 4-entry shape (list, tuple or array) reordered from data_format to NHWC."""
    n, a, b, c = dims
    return (n, a, b, c) if data_format == "NHWC" else (n, b, c, a)


def from_nhwc(dims, data_format: str):
    n, h, w, c = dims
    return (n, h, w, c) if data_format == "NHWC" else (n, c, h, w)


# -- array helpers shared by the kernels ------------------------------------------------


def _nhwc(xp, x, data_format):
    return x if data_format == "NHWC" else xp.transpose(x, (0, 2, 3, 1))


def _restore(xp, y, data_format):
    return y if data_format == "NHWC" else xp.ascontiguousarray(xp.transpose(y, (0, 3, 1, 2)))


def _pad(xp, x, pads, value=0):
    """x with (top, bottom, left, right) padding around its spatial dims, filled with `value`."""
    top, bottom, left, right = pads
    if not (top or bottom or left or right):
        return x
    n, h, w, c = x.shape
    out = xp.full((n, h + top + bottom, w + left + right, c), value, dtype=x.dtype)
    out[:, top : top + h, left : left + w, :] = x
    return out


def _taps(x, win: Window):
    """Yields (i, j, view): view[n, oh, ow, c] is the padded NHWC x at tap (i, j) of
    window (oh, ow). Views are basic slices: adding into one writes x."""
    (oh, ow), (step_h, step_w), (dil_h, dil_w) = win.out, win.strides, win.dilations
    for i in range(win.kernel[0]):
        rows = slice(i * dil_h, i * dil_h + (oh - 1) * step_h + 1, step_h)
        for j in range(win.kernel[1]):
            cols = slice(j * dil_w, j * dil_w + (ow - 1) * step_w + 1, step_w)
            yield i, j, x[:, rows, cols, :]


def _windows(xp, x, win: Window):
    """The [N, OH, OW, KH, KW, C] windows of the padded NHWC input x: a strided view, no copy."""
    sn, sh, sw, sc = x.strides
    (step_h, step_w), (dil_h, dil_w) = win.strides, win.dilations
    shape = (x.shape[0], *win.out, *win.kernel, x.shape[3])
    strides = (sn, sh * step_h, sw * step_w, sh * dil_h, sw * dil_w, sc)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def _im2col(xp, x, win: Window):
    """The windows of the padded NHWC input x as an [N*OH*OW, KH*KW*C] matrix.

    One copy of the strided view when its contiguous runs (KW * C values) are
    long; else one copy per tap, whose runs are whole output rows (few channels,
    as in a first layer on grey images, copy about 2x faster that way).
    """
    n, c = x.shape[0], x.shape[3]
    (oh, ow), (kh, kw) = win.out, win.kernel
    if kw * c >= 32:
        return _windows(xp, x, win).reshape(n * oh * ow, kh * kw * c)
    cols = xp.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    for i, j, view in _taps(x, win):
        cols[:, :, :, i, j, :] = view
    return cols.reshape(n * oh * ow, kh * kw * c)


def _correlate(xp, x, filter, win: Window):
    """The convolution of the padded NHWC x by an [KH, KW, C, O] filter: [N, OH, OW, O]."""
    kh, kw, c, o = filter.shape
    out = xp.matmul(_im2col(xp, x, win), filter.reshape(kh * kw * c, o))
    return out.reshape(x.shape[0], *win.out, o)


def _fold(xp, tap, win: Window, shape, dtype):
    """The adjoint of taking windows: adds tap(i, j), an [N, OH, OW, C] array, onto
    the input positions that window tap (i, j) reads; returns an NHWC array of `shape`."""
    n, h, w, c = shape
    top, bottom, left, right = win.pads
    out = xp.zeros((n, h + top + bottom, w + left + right, c), dtype=dtype)
    for i, j, view in _taps(out, win):
        view += tap(i, j)
    if top or bottom or left or right:
        out = xp.ascontiguousarray(out[:, top : top + h, left : left + w, :])
    return out


def _pad_or_crop(xp, x, pads):
    """x padded with zeros by (top, bottom, left, right); negative entries crop instead."""
    top, bottom, left, right = pads
    h, w = x.shape[1], x.shape[2]
    x = x[:, max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0), :]
    return _pad(xp, x, tuple(max(p, 0) for p in pads))


def _lowest(xp, dtype):
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


def _sizes(value) -> tuple[int, ...]:
    return tuple(int(d) for d in value)


def _shape_of(t):
    """t's shape as a constant when the graph knows it, else a Shape op."""
    return t.shape.as_list() if t.shape.is_fully_defined() else tf.shape(t)


# -- static shapes -----------------------------------------------------------------------


def _rank4_dims(t, what: str, data_format: str | None = None):
    """t's static dims (NHWC order when data_format is given); None for unknown rank."""
    if data_format is not None and data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    if t.shape.dims is None:
        return None
    if t.shape.ndims != 4:
        raise ValueError(f"{what} must be 4-D, got shape {format_shape(t.shape)}")
    return to_nhwc(t.shape.dims, data_format) if data_format else t.shape.dims


def _output_shape(input_dims, kernel, attrs, channels):
    """Static output shape (in data_format order) of a conv/pool on input_dims (NHWC)."""
    data_format = attrs["data_format"]
    if input_dims is None:
        return None
    n, h, w, c = input_dims
    strides = spatial(attrs["strides"], data_format)
    dilations = spatial(attrs.get("dilations") or (1, 1, 1, 1), data_format)
    explicit = explicit_pads(attrs.get("explicit_paddings"), data_format) or (0, 0, 0, 0)
    oh = ow = None
    if kernel[0] is not None:
        oh = out_dim(h, kernel[0], strides[0], dilations[0], attrs["padding"], *explicit[:2])[0]
    if kernel[1] is not None:
        ow = out_dim(w, kernel[1], strides[1], dilations[1], attrs["padding"], *explicit[2:])[0]
    return list(from_nhwc((n, oh, ow, channels if channels is not None else c), data_format))


def _check_depth(c, filter_c, what: str = "input"):
    if c is not None and filter_c is not None and c != filter_c:
        raise ValueError(f"Depth of {what} ({c}) does not match the input depth of the filter ({filter_c})")


def _sizes_value(t, what: str) -> list:
    """What the graph knows of a shape-like input (input_sizes, filter_sizes): 4 dims,
    None where unknown (`tf.stack([tf.shape(x)[0], 8, 8, 2])` gives [None, 8, 8, 2])."""
    if t.shape.ndims not in (None, 1) or t.shape.dims not in (None, (None,), (4,)):
        raise ValueError(f"{what} must be a 1-D tensor of 4 entries, got shape {format_shape(t.shape)}")
    value = partial_shape_value(t)
    if value.dims is None:
        return [None] * 4
    if value.ndims != 4:
        raise ValueError(f"{what} must have 4 entries, got {format_shape(value)}")
    return list(value.dims)


# -- convolution ------------------------------------------------------------------------

CONV_ATTRS = {
    "strides": REQUIRED,
    "padding": REQUIRED,
    "explicit_paddings": (),
    "data_format": "NHWC",
    "dilations": (1, 1, 1, 1),
    "use_cudnn_on_gpu": True,
}


def _conv_window(x_shape, filter_shape, attrs) -> Window:
    """The Window of a convolution on an NHWC input of x_shape."""
    df = attrs["data_format"]
    return window(
        x_shape[1],
        x_shape[2],
        filter_shape[:2],
        spatial(attrs["strides"], df),
        spatial(attrs["dilations"], df),
        attrs["padding"],
        explicit_pads(attrs["explicit_paddings"], df),
    )


def _conv_attrs(op):
    return {k: op.attrs[k] for k in CONV_ATTRS}


def _conv_flops(filter_shape, out_shape) -> float:
    """2 * output (or output-gradient) elements * the filter's window (kh * kw * cin).

    The arithmetic of a convolution and of both its gradients, for the scheduler's
    cost estimate; 0.0 when a shape is not fully known.
    """
    f, y = filter_shape.num_elements(), out_shape.num_elements()
    if f is None or y is None or not filter_shape.as_list() or not filter_shape.as_list()[-1]:
        return 0.0
    return 2.0 * y * f / filter_shape.as_list()[-1]


class Conv2D(Op):
    """2-D convolution (a cross-correlation, as in TensorFlow) of NHWC input by an
    [KH, KW, C_in, C_out] filter."""

    inputs = ("input", "filter")
    attrs = CONV_ATTRS
    same_dtype = ("input", "filter")
    cost = "flops"

    def infer(input, filter, **attrs):
        check_dtype(input, "float", "input")
        x = _rank4_dims(input, "input", attrs["data_format"])
        f = _rank4_dims(filter, "filter") or (None,) * 4
        _check_depth(x[3] if x else None, f[2])
        return input.dtype, _output_shape(x, f[:2], attrs, f[3])

    def kernel(xp, input, filter, **attrs):
        x = _nhwc(xp, input, attrs["data_format"])
        c = filter.shape[2]
        if x.shape[3] != c:
            raise ValueError(
                f"Depth of input ({x.shape[3]}) does not match the input depth of the filter ({c})"
            )
        win = _conv_window(x.shape, filter.shape, attrs)
        return _restore(xp, _correlate(xp, _pad(xp, x, win.pads), filter, win), attrs["data_format"])

    def flops(op):
        return _conv_flops(op.inputs[1].shape, op.outputs[0].shape)

    def grad(op, dy):
        x, w = op.inputs
        attrs = _conv_attrs(op)
        return [
            build("Conv2DBackpropInput", [_shape_of(x), w, dy], attrs),
            build("Conv2DBackpropFilter", [x, _shape_of(w), dy], attrs),
        ]


class Conv2DBackpropInput(Op):
    """The gradient of Conv2D for its input: out_backprop folded back through the filter."""

    inputs = ("input_sizes", "filter", "out_backprop")
    attrs = CONV_ATTRS
    same_dtype = ("filter", "out_backprop")
    cost = "flops"

    def infer(input_sizes, filter, out_backprop, **attrs):
        check_dtype(out_backprop, "float", "out_backprop")
        check_dtype(input_sizes, "int", "input_sizes")
        sizes = _sizes_value(input_sizes, "input_sizes")
        f = _rank4_dims(filter, "filter") or (None,) * 4
        _check_depth(to_nhwc(sizes, attrs["data_format"])[3], f[2], "input_sizes")
        dy = _rank4_dims(out_backprop, "out_backprop", attrs["data_format"])
        if dy is not None and None not in (dy[3], f[3]) and dy[3] != f[3]:
            raise ValueError(f"out_backprop has {dy[3]} channels, but the filter has {f[3]} output channels")
        if dy is not None and sizes[0] is None:
            sizes[0] = dy[0]
        return out_backprop.dtype, sizes

    def kernel(xp, input_sizes, filter, out_backprop, **attrs):
        df = attrs["data_format"]
        shape = to_nhwc(_sizes(input_sizes), df)
        dy = _nhwc(xp, out_backprop, df)
        win = _conv_window(shape, filter.shape, attrs)
        _check_out(dy.shape, win, shape, "out_backprop")
        _check_channels(shape, filter.shape, dy.shape)
        if win.strides == (1, 1):
            return _restore(xp, _transposed_correlate(xp, dy, filter, win), df)
        kh, kw, c, o = filter.shape
        n, oh, ow = dy.shape[:3]
        cols = xp.matmul(dy.reshape(n * oh * ow, o), filter.reshape(kh * kw * c, o).T)
        cols = cols.reshape(n, oh, ow, kh, kw, c)
        dx = _fold(xp, lambda i, j: cols[:, :, :, i, j, :], win, shape, dy.dtype)
        return _restore(xp, dx, df)

    def flops(op):
        return _conv_flops(op.inputs[1].shape, op.inputs[2].shape)

    def grad(op, g):
        _, w, dy = op.inputs
        attrs = _conv_attrs(op)
        return [
            None,
            build("Conv2DBackpropFilter", [g, _shape_of(w), dy], attrs),
            build("Conv2D", [g, w], attrs),
        ]


def _transposed_correlate(xp, dy, filter, win: Window):
    """Conv2D's input gradient for stride 1, as one convolution: dy, padded by
    eff - 1 minus the forward padding on each side, by the filter flipped in space
    with its channels swapped. Faster than a fold (one matmul, no scattered adds)."""
    (kh, kw), (dil_h, dil_w) = win.kernel, win.dilations
    eff_h, eff_w = (kh - 1) * dil_h, (kw - 1) * dil_w
    top, bottom, left, right = win.pads
    padded = _pad_or_crop(xp, dy, (eff_h - top, eff_h - bottom, eff_w - left, eff_w - right))
    flipped = xp.ascontiguousarray(xp.transpose(filter[::-1, ::-1], (0, 1, 3, 2)))
    out = (padded.shape[1] - eff_h, padded.shape[2] - eff_w)
    return _correlate(xp, padded, flipped, Window(win.kernel, (1, 1), win.dilations, (0, 0, 0, 0), out))


class Conv2DBackpropFilter(Op):
    """The gradient of Conv2D for its filter: input windows times out_backprop."""

    inputs = ("input", "filter_sizes", "out_backprop")
    attrs = CONV_ATTRS
    same_dtype = ("input", "out_backprop")
    cost = "flops"

    def infer(input, filter_sizes, out_backprop, **attrs):
        check_dtype(input, "float", "input")
        check_dtype(filter_sizes, "int", "filter_sizes")
        sizes = _sizes_value(filter_sizes, "filter_sizes")
        x = _rank4_dims(input, "input", attrs["data_format"])
        _check_depth(x[3] if x else None, sizes[2])
        return input.dtype, sizes

    def kernel(xp, input, filter_sizes, out_backprop, **attrs):
        df = attrs["data_format"]
        fshape = _sizes(filter_sizes)
        x = _nhwc(xp, input, df)
        dy = _nhwc(xp, out_backprop, df)
        win = _conv_window(x.shape, fshape, attrs)
        _check_out(dy.shape, win, x.shape, "out_backprop")
        _check_channels(x.shape, fshape, dy.shape)
        cols = _im2col(xp, _pad(xp, x, win.pads), win)
        dw = xp.matmul(cols.T, dy.reshape(cols.shape[0], fshape[3]))
        return dw.reshape(fshape)

    def flops(op):
        return _conv_flops(op.outputs[0].shape, op.inputs[2].shape)

    def grad(op, g):
        x, _, dy = op.inputs
        attrs = _conv_attrs(op)
        return [
            build("Conv2DBackpropInput", [_shape_of(x), g, dy], attrs),
            None,
            build("Conv2D", [x, g], attrs),
        ]


def _check_channels(x_shape, filter_shape, dy_shape):
    """The input's depth is the filter's input channels, out_backprop's its output channels."""
    if len(filter_shape) != 4 or x_shape[3] != filter_shape[2] or dy_shape[3] != filter_shape[3]:
        raise ValueError(
            f"an input of depth {x_shape[3]} and out_backprop of {dy_shape[3]} channels (NHWC) do not "
            f"fit a filter of shape {list(filter_shape)} ([height, width, in_channels, out_channels])"
        )


def _check_out(dy_shape, win: Window, x_shape, what: str):
    if tuple(dy_shape[1:3]) != tuple(win.out) or dy_shape[0] != x_shape[0]:
        raise ValueError(
            f"{what} has shape {list(dy_shape)} (NHWC), but the op's output for an input of "
            f"{list(x_shape)} has batch {x_shape[0]} and spatial size {list(win.out)}"
        )


# -- pooling ---------------------------------------------------------------------------------

POOL_ATTRS = {"ksize": REQUIRED, "strides": REQUIRED, "padding": REQUIRED, "data_format": "NHWC"}


def _pool_window(x_shape, attrs) -> Window:
    df = attrs["data_format"]
    return window(
        x_shape[1],
        x_shape[2],
        spatial(attrs["ksize"], df),
        spatial(attrs["strides"], df),
        (1, 1),
        attrs["padding"],
    )


def _pool_infer(x, attrs):
    dims = _rank4_dims(x, "input", attrs["data_format"])
    return x.dtype, _output_shape(dims, spatial(attrs["ksize"], attrs["data_format"]), attrs, None)


def _pool_attrs(op):
    return {k: op.attrs[k] for k in POOL_ATTRS}


def _window_max(xp, x, win: Window):
    """The maximum of each window of the padded NHWC x: one elementwise max per tap."""
    taps = _taps(x, win)
    out = next(taps)[2].copy()
    for _, _, view in taps:
        xp.maximum(out, view, out=out)
    return out


def _window_sum(xp, x, win: Window):
    taps = _taps(x, win)
    out = next(taps)[2].copy()
    for _, _, view in taps:
        xp.add(out, view, out=out)
    return out


def _first_max_hits(xp, x, win: Window) -> list:
    """Per tap, in row-major order, where that tap holds its window's first maximum
    ([N, OH, OW, C] bools; exactly one tap is hit per window and channel)."""
    best = _window_max(xp, x, win)
    free = xp.ones(best.shape, dtype=bool)  # windows whose maximum no tap has claimed yet
    hits = []
    for _, _, view in _taps(x, win):
        hit = xp.equal(view, best)
        hit &= free
        free ^= hit
        hits.append(hit)
    return hits


class MaxPool(Op):
    """The maximum of each ksize window: `tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")`."""

    inputs = ("input",)
    attrs = POOL_ATTRS

    def infer(input, **attrs):
        check_dtype(input, "numeric", "input")
        return _pool_infer(input, attrs)

    def kernel(xp, input, **attrs):
        x = _nhwc(xp, input, attrs["data_format"])
        win = _pool_window(x.shape, attrs)
        return _restore(
            xp, _window_max(xp, _pad(xp, x, win.pads, _lowest(xp, x.dtype)), win), attrs["data_format"]
        )

    def grad(op, dy):
        return [build("MaxPoolGrad", [op.inputs[0], op.outputs[0], dy], _pool_attrs(op))]


class MaxPoolGrad(Op):
    """MaxPool's gradient: each window's gradient goes to its (first) maximum input."""

    inputs = ("orig_input", "orig_output", "grad")
    attrs = POOL_ATTRS
    same_dtype = ("orig_input", "orig_output", "grad")

    def infer(orig_input, orig_output, grad, **attrs):
        check_dtype(grad, "float", "grad")
        return orig_input.dtype, orig_input.shape

    def kernel(xp, orig_input, orig_output, grad, **attrs):
        df = attrs["data_format"]
        x, dy = _nhwc(xp, orig_input, df), _nhwc(xp, grad, df)
        win = _pool_window(x.shape, attrs)
        _check_out(dy.shape, win, x.shape, "grad")
        hits = _first_max_hits(xp, _pad(xp, x, win.pads, _lowest(xp, x.dtype)), win)
        kw = win.kernel[1]
        dx = _fold(xp, lambda i, j: dy * hits[i * kw + j], win, x.shape, dy.dtype)
        return _restore(xp, dx, df)

    def grad(op, g):
        x, y, _ = op.inputs
        gg = build("MaxPoolGradGrad", [x, y, g], _pool_attrs(op))
        return [tf.zeros_like(x), tf.zeros_like(y), gg]


class MaxPoolGradGrad(Op):
    """MaxPoolGrad's gradient: `grad` (input-shaped) read at each window's maximum."""

    inputs = ("orig_input", "orig_output", "grad")
    attrs = POOL_ATTRS
    same_dtype = ("orig_input", "orig_output", "grad")

    def infer(orig_input, orig_output, grad, **attrs):
        check_dtype(grad, "float", "grad")
        return _pool_infer(orig_input, attrs)

    def kernel(xp, orig_input, orig_output, grad, **attrs):
        df = attrs["data_format"]
        x, g = _nhwc(xp, orig_input, df), _nhwc(xp, grad, df)
        win = _pool_window(x.shape, attrs)
        hits = _first_max_hits(xp, _pad(xp, x, win.pads, _lowest(xp, x.dtype)), win)
        out = xp.zeros((x.shape[0], *win.out, x.shape[3]), dtype=g.dtype)
        for hit, (_, _, view) in zip(hits, _taps(_pad(xp, g, win.pads), win)):
            out += view * hit
        return _restore(xp, out, df)

    def grad(op, h):
        x, y, _ = op.inputs
        return [tf.zeros_like(x), tf.zeros_like(y), build("MaxPoolGrad", [x, y, h], _pool_attrs(op))]


def _window_counts(xp, win: Window, h: int, w: int, dtype):
    """How many real (non-padding) inputs each window covers, as an [OH, OW, 1] array."""

    def along(size, out, k, step, before):
        start = xp.arange(out) * step - before
        return xp.minimum(start + k, size) - xp.maximum(start, 0)

    top, _, left, _ = win.pads
    rows = along(h, win.out[0], win.kernel[0], win.strides[0], top)
    cols = along(w, win.out[1], win.kernel[1], win.strides[1], left)
    return (rows[:, None] * cols[None, :]).astype(dtype)[:, :, None]


def _divisor(xp, win: Window, h, w, dtype):
    """What each window's sum is divided by: a Python int without padding, else counts."""
    if not any(win.pads):
        return win.kernel[0] * win.kernel[1]
    return _window_counts(xp, win, h, w, dtype)


class AvgPool(Op):
    """The mean of each ksize window (padding excluded from the mean)."""

    inputs = ("value",)
    attrs = POOL_ATTRS

    def infer(value, **attrs):
        check_dtype(value, "float", "value")
        return _pool_infer(value, attrs)

    def kernel(xp, value, **attrs):
        x = _nhwc(xp, value, attrs["data_format"])
        win = _pool_window(x.shape, attrs)
        total = _window_sum(xp, _pad(xp, x, win.pads), win)
        mean = total / _divisor(xp, win, x.shape[1], x.shape[2], x.dtype)
        return _restore(xp, mean.astype(x.dtype, copy=False), attrs["data_format"])

    def grad(op, dy):
        x = op.inputs[0]
        return [build("AvgPoolGrad", [_shape_of(x), dy], _pool_attrs(op))]


class AvgPoolGrad(Op):
    """AvgPool's gradient: each window's gradient shared equally by its real inputs."""

    inputs = ("orig_input_shape", "grad")
    attrs = POOL_ATTRS

    def infer(orig_input_shape, grad, **attrs):
        check_dtype(grad, "float", "grad")
        return grad.dtype, _sizes_value(orig_input_shape, "orig_input_shape")

    def kernel(xp, orig_input_shape, grad, **attrs):
        df = attrs["data_format"]
        shape = to_nhwc(_sizes(orig_input_shape), df)
        dy = _nhwc(xp, grad, df)
        win = _pool_window(shape, attrs)
        _check_out(dy.shape, win, shape, "grad")
        share = (dy / _divisor(xp, win, shape[1], shape[2], dy.dtype)).astype(dy.dtype, copy=False)
        return _restore(xp, _fold(xp, lambda i, j: share, win, shape, dy.dtype), df)

    def grad(op, g):
        return [None, build("AvgPool", [g], _pool_attrs(op))]


# -- public functions ---------------------------------------------------------------------------


def _four(value, what: str, data_format: str, spatial_only: bool = True) -> tuple[int, ...]:
    """TF's int-or-list argument (1, 2 or 4 entries) as 4 entries in data_format order."""
    values = [int(value)] if isinstance(value, int) else [int(v) for v in value]
    if len(values) == 1:
        values = values * 2
    if len(values) == 2:
        h, w = values
        values = [1, h, w, 1] if data_format == "NHWC" else [1, 1, h, w]
    if len(values) != 4:
        raise ValueError(f"{what} must be an int or a list of 1, 2 or 4 ints, got {value!r}")
    other = (values[0], values[3]) if data_format == "NHWC" else (values[0], values[1])
    if spatial_only and other != (1, 1):
        raise ValueError(
            f"{what} {values}: the batch and depth entries must be 1 (only spatial {what} are supported)"
        )
    if min(values) < 1:
        raise ValueError(f"{what} must be positive, got {values}")
    return tuple(values)


def _data_format(data_format) -> str:
    data_format = data_format or "NHWC"
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    return data_format


def _padding(padding, data_format: str, allow_explicit: bool):
    """(padding, explicit_paddings) from "SAME", "VALID" or a list of 4 [before, after] pairs."""
    if isinstance(padding, str | bytes):
        padding = padding.decode() if isinstance(padding, bytes) else padding
        if padding.upper() not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
        return padding.upper(), ()
    if not allow_explicit or padding is None:
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    pairs = [[int(a) for a in pair] for pair in padding]
    if len(pairs) != 4 or any(len(p) != 2 or min(p) < 0 for p in pairs):
        raise ValueError(f"explicit padding must be 4 pairs of non-negative ints, got {padding!r}")
    batch, channels = (pairs[0], pairs[3]) if data_format == "NHWC" else (pairs[0], pairs[1])
    if batch != [0, 0] or channels != [0, 0]:
        raise ValueError(f"explicit padding of the batch and depth dimensions must be 0, got {padding!r}")
    return "EXPLICIT", tuple(v for pair in pairs for v in pair)


def _conv_call_attrs(strides, padding, data_format, dilations, use_cudnn_on_gpu) -> dict:
    data_format = _data_format(data_format)
    padding, explicit = _padding(padding, data_format, allow_explicit=True)
    return {
        "strides": _four(strides, "strides", data_format),
        "padding": padding,
        "explicit_paddings": explicit,
        "data_format": data_format,
        "dilations": _four(dilations, "dilations", data_format),
        "use_cudnn_on_gpu": bool(use_cudnn_on_gpu),
    }


def _one_of(value, alias, names: str):
    if value is not None and alias is not None:
        raise ValueError(f"Cannot specify both {names}.")
    return value if value is not None else alias


@api_function("nn.conv2d")
def conv2d(
    input,
    filter=None,
    strides=None,
    padding=None,
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
    filters=None,
):
    """2-D convolution of a 4-D input by a [height, width, in, out] filter.

    >>> h = tf.nn.conv2d(images, w, strides=[1, 1, 1, 1], padding="SAME")
    """
    filter = _one_of(filter, filters, "'filter' and 'filters'")
    attrs = _conv_call_attrs(strides, padding, data_format, dilations, use_cudnn_on_gpu)
    return build("Conv2D", [input, filter], attrs, name=name)


@api_function("nn.conv2d_backprop_input")
def conv2d_backprop_input(
    input_sizes,
    filter=None,
    out_backprop=None,
    strides=None,
    padding=None,
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
    filters=None,
):
    """The gradient of conv2d for its input, of shape `input_sizes`."""
    filter = _one_of(filter, filters, "'filter' and 'filters'")
    attrs = _conv_call_attrs(strides, padding, data_format, dilations, use_cudnn_on_gpu)
    return build("Conv2DBackpropInput", [input_sizes, filter, out_backprop], attrs, name=name)


@api_function("nn.conv2d_backprop_filter")
def conv2d_backprop_filter(
    input,
    filter_sizes,
    out_backprop,
    strides,
    padding,
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
):
    """The gradient of conv2d for its filter, of shape `filter_sizes`."""
    attrs = _conv_call_attrs(strides, padding, data_format, dilations, use_cudnn_on_gpu)
    return build("Conv2DBackpropFilter", [input, filter_sizes, out_backprop], attrs, name=name)


@api_function("nn.conv2d_transpose")
def conv2d_transpose(
    value=None,
    filter=None,
    output_shape=None,
    strides=None,
    padding="SAME",
    data_format="NHWC",
    name=None,
    input=None,
    filters=None,
    dilations=None,
):
    """The transpose (gradient) of conv2d: upsamples `value` to `output_shape`.

    >>> up = tf.nn.conv2d_transpose(h, w, [batch, 16, 16, 3], [1, 2, 2, 1])   # w: [kh, kw, 3, C]
    """
    value = _one_of(value, input, "'value' and 'input'")
    filter = _one_of(filter, filters, "'filter' and 'filters'")
    attrs = _conv_call_attrs(strides, padding, data_format, dilations or (1, 1, 1, 1), True)
    with name_scope(name, "conv2d_transpose", [value, filter, output_shape]) as scope:
        return build("Conv2DBackpropInput", [output_shape, filter, value], attrs, name=scope)


def _pool(op_type, value, ksize, strides, padding, data_format, name):
    data_format = _data_format(data_format)
    attrs = {
        "ksize": _four(ksize, "ksize", data_format),
        "strides": _four(strides, "strides", data_format),
        "padding": _padding(padding, data_format, allow_explicit=False)[0],
        "data_format": data_format,
    }
    return build(op_type, [convert_to_tensor(value, name="input")], attrs, name=name)


@api_function("nn.max_pool")
def max_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):
    """Max pooling: `tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")`."""
    value = _one_of(value, input, "'value' and 'input'")
    return _pool("MaxPool", value, ksize, strides, padding, data_format, name)


@api_function("nn.max_pool2d")
def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):
    """Max pooling over 2-D windows (the same as max_pool)."""
    return _pool("MaxPool", input, ksize, strides, padding, data_format, name)


@api_function("nn.avg_pool", "nn.avg_pool2d")
def avg_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):
    """Average pooling: `tf.nn.avg_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")`."""
    value = _one_of(value, input, "'value' and 'input'")
    return _pool("AvgPool", value, ksize, strides, padding, data_format, name)
