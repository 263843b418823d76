"""More convolutions: depthwise (and separable), 1-D, atrous, transposed variants, 1-D and N-D pooling.

DepthwiseConv2dNative convolves each input channel c with its own filters
filter[:, :, c, :] ([KH, KW, C, M]), giving C * M channels ordered c * M + m. Its
kernel and its two gradient ops reuse ops/nn_conv.py's window taps: per tap, the
forward pass adds view[..., c, None] * filter[i, j] into an [N, OH, OW, C, M]
accumulator; the input gradient folds the tap's share back (`_fold`), and the
filter gradient is one einsum per tap. The gradient ops are linear in each input,
so their own gradients are each other and the forward op (as for Conv2D).

Everything else is a composite of existing ops, as TensorFlow builds it:
- conv1d: conv2d on the input with a unit height ([N, W, C] -> [N, 1, W, C]),
  the filter likewise ([KW, C, O] -> [1, KW, C, O]); conv1d_transpose and the 1-D
  poolings the same way;
- atrous_conv2d(_transpose): conv2d (conv2d_transpose) with dilations [1, r, r, 1];
- separable_conv2d: depthwise_conv2d then a 1x1 conv2d;
- convolution, conv_transpose and pool dispatch on the number of spatial dims
  (1 or 2).
"""

from __future__ import annotations

from ops import api as tf
from ops.common import check_dtype
from ops.nn_conv import (
    _check_depth,
    _check_out,
    _conv_window,
    _fold,
    _four,
    _nhwc,
    _output_shape,
    _pad,
    _padding,
    _rank4_dims,
    _restore,
    _shape_of,
    _sizes,
    _sizes_value,
    _taps,
    to_nhwc,
)
from ops.registry import REQUIRED, Op, api_function, build
from raygraph.graph import convert_to_tensor, name_scope

DEPTHWISE_ATTRS = {
    "strides": REQUIRED,
    "padding": REQUIRED,
    "explicit_paddings": (),
    "data_format": "NHWC",
    "dilations": (1, 1, 1, 1),
}


def _attrs_of(op) -> dict:
    return {k: op.attrs[k] for k in DEPTHWISE_ATTRS}


def _depthwise_flops(filter_shape, out_shape) -> float:
    """2 * output elements * the window's taps (each output channel reads one input channel)."""
    f, y = filter_shape.as_list() if filter_shape.dims is not None else None, out_shape.num_elements()
    if not f or None in f[:2] or y is None:
        return 0.0
    return 2.0 * y * f[0] * f[1]


def _depthwise_out_channels(c, filter_dims):
    m = filter_dims[3]
    channels = filter_dims[2] if filter_dims[2] is not None else c
    return None if channels is None or m is None else channels * m


class DepthwiseConv2dNative(Op):
    """Depthwise 2-D convolution: input channel c by filter[:, :, c, :], outputs C * M channels."""

    inputs = ("input", "filter")
    attrs = DEPTHWISE_ATTRS
    same_dtype = ("input", "filter")
    cost = "flops"

    def infer(input, filter, **attrs):
        check_dtype(input, "float", "input")
        x = _rank4_dims(input, "input", attrs["data_format"])
        f = _rank4_dims(filter, "filter") or (None,) * 4
        _check_depth(x[3] if x else None, f[2])
        return input.dtype, _output_shape(x, f[:2], attrs, _depthwise_out_channels(x[3] if x else None, f))

    def kernel(xp, input, filter, **attrs):
        df = attrs["data_format"]
        x = _nhwc(xp, input, df)
        n, c = x.shape[0], x.shape[3]
        if filter.shape[2] != c:
            raise ValueError(
                f"Depth of input ({c}) does not match the input depth of the filter ({filter.shape[2]})"
            )
        win = _conv_window(x.shape, filter.shape, attrs)
        m = filter.shape[3]
        out = xp.zeros((n, *win.out, c, m), dtype=x.dtype)
        for i, j, view in _taps(_pad(xp, x, win.pads), win):
            out += view[..., None] * filter[i, j]
        return _restore(xp, out.reshape(n, *win.out, c * m), df)

    def flops(op):
        return _depthwise_flops(op.inputs[1].shape, op.outputs[0].shape)

    def grad(op, dy):
        x, w = op.inputs
        attrs = _attrs_of(op)
        return [
            build("DepthwiseConv2dNativeBackpropInput", [_shape_of(x), w, dy], attrs),
            build("DepthwiseConv2dNativeBackpropFilter", [x, _shape_of(w), dy], attrs),
        ]


def _split_channels(dy, c: int, m: int):
    """An NHWC out_backprop of C * M channels as [N, OH, OW, C, M]."""
    return dy.reshape(dy.shape[0], dy.shape[1], dy.shape[2], c, m)


class DepthwiseConv2dNativeBackpropInput(Op):
    """DepthwiseConv2dNative's gradient for its input, of shape `input_sizes`."""

    inputs = ("input_sizes", "filter", "out_backprop")
    attrs = DEPTHWISE_ATTRS
    same_dtype = ("filter", "out_backprop")
    cost = "flops"

    def infer(input_sizes, filter, out_backprop, **attrs):
        check_dtype(out_backprop, "float", "out_backprop")
        check_dtype(input_sizes, "int", "input_sizes")
        sizes = _sizes_value(input_sizes, "input_sizes")
        f = _rank4_dims(filter, "filter") or (None,) * 4
        _check_depth(to_nhwc(sizes, attrs["data_format"])[3], f[2], "input_sizes")
        dy = _rank4_dims(out_backprop, "out_backprop", attrs["data_format"])
        if dy is not None and sizes[0] is None:
            sizes[0] = dy[0]
        return out_backprop.dtype, sizes

    def kernel(xp, input_sizes, filter, out_backprop, **attrs):
        df = attrs["data_format"]
        shape = to_nhwc(_sizes(input_sizes), df)
        dy = _nhwc(xp, out_backprop, df)
        win = _conv_window(shape, filter.shape, attrs)
        _check_out(dy.shape, win, shape, "out_backprop")
        dy5 = _split_channels(dy, filter.shape[2], filter.shape[3])
        dx = _fold(xp, lambda i, j: xp.sum(dy5 * filter[i, j], axis=-1), win, shape, dy.dtype)
        return _restore(xp, dx, df)

    def flops(op):
        return _depthwise_flops(op.inputs[1].shape, op.inputs[2].shape)

    def grad(op, g):
        _, w, dy = op.inputs
        attrs = _attrs_of(op)
        return [
            None,
            build("DepthwiseConv2dNativeBackpropFilter", [g, _shape_of(w), dy], attrs),
            build("DepthwiseConv2dNative", [g, w], attrs),
        ]


class DepthwiseConv2dNativeBackpropFilter(Op):
    """DepthwiseConv2dNative's gradient for its filter, of shape `filter_sizes`."""

    inputs = ("input", "filter_sizes", "out_backprop")
    attrs = DEPTHWISE_ATTRS
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
        dy5 = _split_channels(dy, fshape[2], fshape[3])
        dw = xp.empty(fshape, dtype=dy.dtype)
        for i, j, view in _taps(_pad(xp, x, win.pads), win):
            dw[i, j] = xp.einsum("nhwc,nhwcm->cm", view, dy5)
        return dw

    def flops(op):
        return _depthwise_flops(op.outputs[0].shape, op.inputs[2].shape)

    def grad(op, g):
        x, _, dy = op.inputs
        attrs = _attrs_of(op)
        return [
            build("DepthwiseConv2dNativeBackpropInput", [_shape_of(x), g, dy], attrs),
            None,
            build("DepthwiseConv2dNative", [x, g], attrs),
        ]


# -- argument helpers -------------------------------------------------------------------------


def _data_format(data_format, default="NHWC") -> str:
    data_format = data_format or default
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    return data_format


def _depthwise_attrs(strides, padding, data_format, dilations) -> dict:
    data_format = _data_format(data_format)
    padding, explicit = _padding(padding, data_format, allow_explicit=True)
    return {
        "strides": _four(strides, "strides", data_format),
        "padding": padding,
        "explicit_paddings": explicit,
        "data_format": data_format,
        "dilations": _four(dilations, "dilations", data_format),
    }


def _rate_or_dilations(rate, dilations):
    if rate is not None and dilations is not None:
        raise ValueError("Cannot specify both 'rate' and 'dilations'.")
    value = rate if rate is not None else dilations
    return (1, 1) if value is None else value


# -- depthwise and separable ----------------------------------------------------------------------


@api_function("nn.depthwise_conv2d_native")
def depthwise_conv2d_native(
    input, filter, strides, padding, data_format="NHWC", dilations=(1, 1, 1, 1), name=None
):
    """Depthwise convolution by a [kh, kw, in_channels, multiplier] filter (4-entry strides)."""
    attrs = _depthwise_attrs(strides, padding, data_format, dilations)
    return build("DepthwiseConv2dNative", [input, filter], attrs, name=name or "DepthwiseConv2dNative")


@api_function("nn.depthwise_conv2d_native_backprop_input", "nn.depthwise_conv2d_backprop_input")
def depthwise_conv2d_native_backprop_input(
    input_sizes, filter, out_backprop, strides, padding, data_format="NHWC", dilations=(1, 1, 1, 1), name=None
):
    """The gradient of depthwise_conv2d_native for its input."""
    attrs = _depthwise_attrs(strides, padding, data_format, dilations)
    return build("DepthwiseConv2dNativeBackpropInput", [input_sizes, filter, out_backprop], attrs, name=name)


@api_function("nn.depthwise_conv2d_native_backprop_filter", "nn.depthwise_conv2d_backprop_filter")
def depthwise_conv2d_native_backprop_filter(
    input, filter_sizes, out_backprop, strides, padding, data_format="NHWC", dilations=(1, 1, 1, 1), name=None
):
    """The gradient of depthwise_conv2d_native for its filter."""
    attrs = _depthwise_attrs(strides, padding, data_format, dilations)
    return build("DepthwiseConv2dNativeBackpropFilter", [input, filter_sizes, out_backprop], attrs, name=name)


@api_function("nn.depthwise_conv2d")
def depthwise_conv2d(input, filter, strides, padding, rate=None, name=None, data_format=None, dilations=None):
    """Each input channel convolved with its own `channel_multiplier` filters.

    >>> h = tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "SAME")   # w [3, 3, C, 2] -> 2C channels
    """
    with name_scope(name, "depthwise", [input, filter]) as scope:
        attrs = _depthwise_attrs(strides, padding, data_format, _rate_or_dilations(rate, dilations))
        input = convert_to_tensor(input, name="tensor_in")
        filter = convert_to_tensor(filter, dtype=input.dtype, name="filter_in")
        return build("DepthwiseConv2dNative", [input, filter], attrs, name=scope)


@api_function("nn.separable_conv2d")
def separable_conv2d(
    input,
    depthwise_filter,
    pointwise_filter,
    strides,
    padding,
    rate=None,
    name=None,
    data_format=None,
    dilations=None,
):
    """depthwise_conv2d, then a 1x1 convolution by pointwise_filter [1, 1, C * M, out].

    >>> h = tf.nn.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "SAME")
    """
    with name_scope(name, "separable_conv2d", [input, depthwise_filter, pointwise_filter]) as scope:
        input = convert_to_tensor(input, name="tensor_in")
        depthwise_filter = convert_to_tensor(depthwise_filter, name="depthwise_filter")
        pointwise_filter = convert_to_tensor(pointwise_filter, name="pointwise_filter")
        depthwise = depthwise_conv2d(
            input, depthwise_filter, strides, padding, rate=rate, data_format=data_format, dilations=dilations
        )
        fmt = _data_format(data_format)
        return tf.nn.conv2d(depthwise, pointwise_filter, [1, 1, 1, 1], "VALID", data_format=fmt, name=scope)


# -- 1-D convolution and pooling -------------------------------------------------------------------


def _one_d(data_format, default="NWC"):
    """(2-D data format, axis to expand) for a 1-D data format NWC / NCW."""
    data_format = data_format or default
    if data_format in ("NWC", "NHWC"):
        return "NHWC", 1
    if data_format in ("NCW", "NCHW"):
        return "NCHW", 2
    raise ValueError(f"data_format must be 'NWC' or 'NCW', got {data_format!r}")


def _spatial_1d(value, what: str, fmt: str) -> list[int]:
    """A 1-D op's int-or-list (1 or 3 entries) as conv2d's 4 entries with height 1."""
    values = [int(value)] if isinstance(value, int) else [int(v) for v in value]
    if len(values) == 3:
        values = [values[1]] if fmt == "NHWC" else [values[2]]
    if len(values) != 1:
        raise ValueError(f"{what} must be an int or a list of 1 or 3 ints, got {value!r}")
    return [1, 1, values[0], 1] if fmt == "NHWC" else [1, 1, 1, values[0]]


def _one_of(value, alias, names: str):
    if value is not None and alias is not None:
        raise ValueError(f"Cannot specify both {names}.")
    return value if value is not None else alias


@api_function("nn.conv1d")
def conv1d(
    value=None,
    filters=None,
    stride=None,
    padding=None,
    use_cudnn_on_gpu=None,
    data_format=None,
    name=None,
    input=None,
    dilations=None,
):
    """1-D convolution of [batch, width, in] by a [kw, in, out] filter.

    >>> h = tf.nn.conv1d(sequence, w, stride=1, padding="SAME")
    """
    value = _one_of(value, input, "'value' and 'input'")
    fmt, axis = _one_d(data_format)
    with name_scope(name, "conv1d", [value, filters]) as scope:
        value = tf.expand_dims(convert_to_tensor(value, name="value"), axis)
        filters = tf.expand_dims(convert_to_tensor(filters, name="filters"), 0)
        out = tf.nn.conv2d(
            value,
            filters,
            _spatial_1d(stride, "stride", fmt),
            padding,
            use_cudnn_on_gpu=True if use_cudnn_on_gpu is None else use_cudnn_on_gpu,
            data_format=fmt,
            dilations=_spatial_1d(1 if dilations is None else dilations, "dilations", fmt),
        )
        return tf.squeeze(out, [axis], name=scope)


def _insert_unit(shape, axis: int):
    """A 3-entry output_shape (list or tensor) with a 1 inserted at `axis`."""
    if isinstance(shape, list | tuple):
        shape = list(shape)
        return shape[:axis] + [1] + shape[axis:]
    shape = convert_to_tensor(shape, name="output_shape")
    return tf.concat([shape[:axis], tf.ones([1], shape.dtype), shape[axis:]], 0)


@api_function("nn.conv1d_transpose")
def conv1d_transpose(
    input, filters, output_shape, strides, padding="SAME", data_format="NWC", dilations=None, name=None
):
    """The transpose of conv1d: [batch, width, out] -> output_shape by a [kw, in, out] filter."""
    fmt, axis = _one_d(data_format)
    with name_scope(name, "conv1d_transpose", [input, filters, output_shape]) as scope:
        input = tf.expand_dims(convert_to_tensor(input, name="input"), axis)
        filters = tf.expand_dims(convert_to_tensor(filters, name="filters"), 0)
        out = tf.nn.conv2d_transpose(
            input,
            filters,
            _insert_unit(output_shape, axis),
            _spatial_1d(strides, "strides", fmt),
            padding=padding,
            data_format=fmt,
            dilations=_spatial_1d(1 if dilations is None else dilations, "dilations", fmt),
        )
        return tf.squeeze(out, [axis], name=scope)


def _pool1d(pool, input, ksize, strides, padding, data_format, name, default_name):
    fmt, axis = _one_d(data_format)
    with name_scope(name, default_name, [input]) as scope:
        input = tf.expand_dims(convert_to_tensor(input, name="input"), axis)
        out = pool(
            input,
            _spatial_1d(ksize, "ksize", fmt),
            _spatial_1d(strides, "strides", fmt),
            padding,
            data_format=fmt,
        )
        return tf.squeeze(out, [axis], name=scope)


@api_function("nn.max_pool1d")
def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """Max pooling over 1-D windows of [batch, width, channels]."""
    return _pool1d(tf.nn.max_pool, input, ksize, strides, padding, data_format, name, "MaxPool1d")


@api_function("nn.avg_pool1d")
def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):
    """Average pooling over 1-D windows of [batch, width, channels]."""
    return _pool1d(tf.nn.avg_pool, input, ksize, strides, padding, data_format, name, "AvgPool1D")


# -- atrous and the transposes ---------------------------------------------------------------------


@api_function("nn.atrous_conv2d")
def atrous_conv2d(value, filters, rate, padding, name=None):
    """Dilated ("atrous") 2-D convolution: taps `rate` pixels apart, stride 1 (NHWC)."""
    with name_scope(name, "convolution", [value, filters]) as scope:
        rate = int(rate)
        if rate < 1:
            raise ValueError(f"rate {rate} cannot be less than one")
        return tf.nn.conv2d(value, filters, [1, 1, 1, 1], padding, dilations=[1, rate, rate, 1], name=scope)


@api_function("nn.atrous_conv2d_transpose")
def atrous_conv2d_transpose(value, filters, output_shape, rate, padding, name=None):
    """The transpose of atrous_conv2d: filters [kh, kw, out_channels, in_channels]."""
    with name_scope(name, "atrous_conv2d_transpose", [value, filters, output_shape]) as scope:
        rate = int(rate)
        if rate < 1:
            raise ValueError(f"rate {rate} cannot be less than one")
        return tf.nn.conv2d_transpose(
            value,
            filters,
            output_shape,
            [1, 1, 1, 1],
            padding=padding,
            dilations=[1, rate, rate, 1],
            name=scope,
        )


@api_function("nn.deconv2d")
def deconv2d(value, filter, output_shape, strides, padding="SAME", data_format="NHWC", name=None):
    """The pre-1.0 name of conv2d_transpose."""
    return tf.nn.conv2d_transpose(value, filter, output_shape, strides, padding, data_format, name)


# -- N-D dispatch ---------------------------------------------------------------------------------------


def _spatial_rank(input, filter_rank=None) -> int:
    rank = convert_to_tensor(input).shape.ndims
    if rank is None and filter_rank is not None:
        rank = filter_rank
    if rank is None:
        raise ValueError("the rank of input must be known")
    n = rank - 2
    if n not in (1, 2):
        raise NotImplementedError(f"only 1-D and 2-D spatial dimensions are supported, got {n}-D")
    return n


def _per_dim(value, n: int, what: str) -> list[int]:
    values = (
        [1] * n if value is None else [int(value)] * n if isinstance(value, int) else [int(v) for v in value]
    )
    if len(values) != n:
        raise ValueError(f"{what} must have {n} entries, got {value!r}")
    return values


@api_function("nn.convolution")
def convolution(
    input,
    filter=None,
    padding=None,
    strides=None,
    dilation_rate=None,
    name=None,
    data_format=None,
    filters=None,
    dilations=None,
):
    """N-D convolution for N = 1 or 2 spatial dims (conv1d or conv2d)."""
    filter = _one_of(filter, filters, "'filter' and 'filters'")
    dilation_rate = _one_of(dilation_rate, dilations, "'dilation_rate' and 'dilations'")
    input = convert_to_tensor(input, name="input")
    n = _spatial_rank(input)
    strides, dilation_rate = _per_dim(strides, n, "strides"), _per_dim(dilation_rate, n, "dilation_rate")
    if n == 1:
        return conv1d(
            input,
            filter,
            strides,
            padding,
            data_format=data_format,
            dilations=dilation_rate,
            name=name or "convolution",
        )
    return tf.nn.conv2d(
        input,
        filter,
        strides,
        padding,
        data_format=_data_format(data_format),
        dilations=dilation_rate,
        name=name or "convolution",
    )


@api_function("nn.pool")
def pool(
    input,
    window_shape,
    pooling_type,
    padding,
    dilation_rate=None,
    strides=None,
    name=None,
    data_format=None,
    dilations=None,
):
    """Max or average pooling ("MAX" / "AVG") over 1-D or 2-D windows; dilation must be 1."""
    dilation_rate = _one_of(dilation_rate, dilations, "'dilation_rate' and 'dilations'")
    input = convert_to_tensor(input, name="input")
    n = _spatial_rank(input)
    window = _per_dim(window_shape, n, "window_shape")
    strides = _per_dim(strides, n, "strides")
    if _per_dim(dilation_rate, n, "dilation_rate") != [1] * n:
        raise NotImplementedError("tf.nn.pool with dilation_rate > 1 is not supported")
    if pooling_type not in ("MAX", "AVG"):
        raise ValueError(f"Unsupported pooling type {pooling_type!r} (use 'MAX' or 'AVG')")
    with name_scope(name, f"{pooling_type.lower()}_pool", [input]) as scope:
        if n == 1:
            pool1 = max_pool1d if pooling_type == "MAX" else avg_pool1d
            return pool1(input, window, strides, padding, data_format=data_format or "NWC", name=scope)
        pool2 = tf.nn.max_pool if pooling_type == "MAX" else tf.nn.avg_pool
        return pool2(input, window, strides, padding, data_format=_data_format(data_format), name=scope)
