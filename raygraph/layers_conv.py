"""More of `tf.layers`: Conv1D, Conv2DTranspose, SeparableConv1D/2D and the 1-D poolings.

    h = tf.layers.conv1d(sequence, 64, 5, padding="same")            # conv1d/kernel [5, C, 64]
    up = tf.layers.conv2d_transpose(h, 32, 3, strides=2, padding="same")   # [N, 2H, 2W, 32]
    s = tf.layers.separable_conv2d(x, 64, 3, depth_multiplier=2)     # depthwise_kernel, pointwise_kernel

Built on raygraph.layers' `Layer` (variable scopes, reuse and naming as TF1); the
layers' variables and ops are TensorFlow's: a transposed convolution's kernel is
[kh, kw, filters, in_channels] and its output size per spatial dimension is
size * stride ("same") or size * stride + max(k - stride, 0) ("valid"); a
separable layer has depthwise_kernel [kh, kw, in, depth_multiplier] and
pointwise_kernel [1, 1, in * depth_multiplier, filters] (1-D: without the
leading 1 of each). raygraph.layers re-exports every name here.
"""

from __future__ import annotations

from ops import api
from raygraph.layers import _ZEROS, Layer, _data_format, _dim, _padding, _weight_options

__all__ = [
    "AveragePooling1D",
    "Conv1D",
    "Conv2DTranspose",
    "MaxPooling1D",
    "SeparableConv1D",
    "SeparableConv2D",
    "average_pooling1d",
    "conv1d",
    "conv2d_transpose",
    "max_pooling1d",
    "separable_conv1d",
    "separable_conv2d",
]


def _ints(value, n: int, what: str) -> tuple[int, ...]:
    values = (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) != n:
        raise ValueError(f"The `{what}` argument must be an int or a tuple of {n} ints, got {value!r}")
    return values


def _channel_axis(data_format: str) -> int:
    return 1 if data_format == "NCHW" else -1


def _channels(layer, input_shape, axis: int) -> int:
    channels = input_shape.dims[axis] if input_shape.dims is not None else None
    if channels is None:
        raise ValueError(
            f"The channel dimension of the inputs to layer {layer.name!r} should be defined. "
            f"Found None in input shape {input_shape}."
        )
    layer._input_axes = {axis: channels}
    return channels


class _Conv(Layer):
    """A convolution with kernel, optional bias and activation over `rank` spatial dims."""

    rank = 2

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format="channels_last",
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer=None,
        bias_initializer=_ZEROS,
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        trainable=True,
        name=None,
        **kwargs,
    ):
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.ndim = self.rank + 2
        self.filters = int(filters)
        self.kernel_size = _ints(kernel_size, self.rank, "kernel_size")
        self.strides = _ints(strides, self.rank, "strides")
        self.padding = _padding(padding)
        self.data_format = _data_format(data_format)
        self.dilation_rate = _ints(dilation_rate, self.rank, "dilation_rate")
        _weight_options(
            self,
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            activity_regularizer,
            kernel_constraint,
            bias_constraint,
        )

    def _kernel_shape(self, channels: int) -> list[int]:
        return list(self.kernel_size) + [channels, self.filters]

    def build(self, input_shape) -> None:
        channels = _channels(self, input_shape, _channel_axis(self.data_format))
        self.kernel = self.add_weight(
            "kernel",
            self._kernel_shape(channels),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self._build_bias()

    def _build_bias(self) -> None:
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                [self.filters],
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def _finish(self, outputs):
        if self.bias is not None:
            outputs = api.nn.bias_add(outputs, self.bias, data_format=self.data_format)
        return self.activation(outputs) if self.activation is not None else outputs


class Conv1D(_Conv):
    """1-D convolution: kernel [kernel_size, in_channels, filters], then bias and activation.

    >>> h = tf.layers.Conv1D(64, 5, padding="same")(sequence)   # [batch, steps, C] -> [batch, steps, 64]
    """

    rank = 1

    def call(self, inputs):
        outputs = api.nn.conv1d(
            inputs,
            self.kernel,
            self.strides[0],
            self.padding,
            data_format="NWC" if self.data_format == "NHWC" else "NCW",
            dilations=self.dilation_rate[0],
        )
        return self._finish(outputs)


def _transposed_length(size, k: int, stride: int, padding: str):
    """A transposed convolution's output size (an int, or a scalar tensor for a tensor size)."""
    if padding == "VALID":
        return size * stride + max(k - stride, 0)
    return size * stride


class Conv2DTranspose(_Conv):
    """Transposed 2-D convolution ("deconvolution"): kernel [kh, kw, filters, in_channels].

    >>> up = tf.layers.Conv2DTranspose(32, 3, strides=2, padding="same")(h)   # doubles height and width
    """

    rank = 2

    def __init__(
        self, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last", **kwargs
    ):
        if "dilation_rate" in kwargs:
            raise TypeError("Conv2DTranspose got unexpected arguments ['dilation_rate']")
        super().__init__(filters, kernel_size, strides, padding, data_format, **kwargs)

    def _kernel_shape(self, channels: int) -> list[int]:
        return list(self.kernel_size) + [self.filters, channels]

    def call(self, inputs):
        h_axis, w_axis = (1, 2) if self.data_format == "NHWC" else (2, 3)
        sizes = []
        for axis, k, s in zip((h_axis, w_axis), self.kernel_size, self.strides):
            sizes.append(_transposed_length(_dim_value(inputs, axis), k, s, self.padding))
        batch = _dim(inputs, 0)
        if self.data_format == "NHWC":
            output_shape = api.stack([batch, sizes[0], sizes[1], self.filters])
            strides = (1, *self.strides, 1)
        else:
            output_shape = api.stack([batch, self.filters, sizes[0], sizes[1]])
            strides = (1, 1, *self.strides)
        outputs = api.nn.conv2d_transpose(
            inputs, self.kernel, output_shape, strides, padding=self.padding, data_format=self.data_format
        )
        return self._finish(outputs)


def _dim_value(x, axis: int):
    """x.shape[axis] as an int when known, else as a scalar tensor."""
    size = x.shape.dims[axis] if x.shape.dims is not None else None
    return size if size is not None else api.shape(x)[axis]


class _SeparableConv(_Conv):
    """Depthwise then pointwise convolution: depthwise_kernel, pointwise_kernel and bias."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format="channels_last",
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer=None,
        pointwise_initializer=None,
        bias_initializer=_ZEROS,
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        trainable=True,
        name=None,
        **kwargs,
    ):
        super().__init__(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            data_format=data_format,
            dilation_rate=dilation_rate,
            activation=activation,
            use_bias=use_bias,
            bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer,
            activity_regularizer=activity_regularizer,
            bias_constraint=bias_constraint,
            trainable=trainable,
            name=name,
            **kwargs,
        )
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = depthwise_initializer
        self.pointwise_initializer = pointwise_initializer
        self.depthwise_regularizer = depthwise_regularizer
        self.pointwise_regularizer = pointwise_regularizer
        self.depthwise_constraint = depthwise_constraint
        self.pointwise_constraint = pointwise_constraint

    def build(self, input_shape) -> None:
        channels = _channels(self, input_shape, _channel_axis(self.data_format))
        ones = [1] * (self.rank - 1)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            list(self.kernel_size) + [channels, self.depth_multiplier],
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
        )
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel",
            ones + [1, channels * self.depth_multiplier, self.filters],
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
        )
        self._build_bias()

    def _separable(self, inputs, depthwise, pointwise, strides, dilations):
        four = (1, *strides, 1) if self.data_format == "NHWC" else (1, 1, *strides)
        return api.nn.separable_conv2d(
            inputs, depthwise, pointwise, four, self.padding, rate=dilations, data_format=self.data_format
        )


class SeparableConv2D(_SeparableConv):
    """Depthwise separable 2-D convolution.

    >>> h = tf.layers.SeparableConv2D(64, 3, padding="same", depth_multiplier=2)(x)
    """

    rank = 2

    def call(self, inputs):
        outputs = self._separable(
            inputs, self.depthwise_kernel, self.pointwise_kernel, self.strides, self.dilation_rate
        )
        return self._finish(outputs)


class SeparableConv1D(_SeparableConv):
    """Depthwise separable 1-D convolution (a 2-D one over a unit height)."""

    rank = 1

    def call(self, inputs):
        axis = 1 if self.data_format == "NHWC" else 2
        outputs = self._separable(
            api.expand_dims(inputs, axis),
            api.expand_dims(self.depthwise_kernel, 0),
            api.expand_dims(self.pointwise_kernel, 0),
            (1, self.strides[0]),
            (1, self.dilation_rate[0]),
        )
        return self._finish(api.squeeze(outputs, [axis]))


class _Pooling1D(Layer):
    ndim = 3
    _pool = ""

    def __init__(self, pool_size, strides, padding="valid", data_format="channels_last", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = _ints(pool_size, 1, "pool_size")
        self.strides = _ints(strides, 1, "strides")
        self.padding = _padding(padding)
        self.data_format = "NWC" if _data_format(data_format) == "NHWC" else "NCW"

    def call(self, inputs):
        pool = getattr(api.nn, self._pool)
        return pool(inputs, self.pool_size[0], self.strides[0], self.padding, data_format=self.data_format)


class MaxPooling1D(_Pooling1D):
    """The maximum over pool_size steps: `tf.layers.MaxPooling1D(2, 2)`."""

    _pool = "max_pool1d"


class AveragePooling1D(_Pooling1D):
    """The mean over pool_size steps: `tf.layers.AveragePooling1D(2, 2)`."""

    _pool = "avg_pool1d"


# -- functional forms ------------------------------------------------------------------------


def conv1d(inputs, filters, kernel_size, strides=1, padding="valid", data_format="channels_last", dilation_rate=1,
           activation=None, use_bias=True, kernel_initializer=None, bias_initializer=_ZEROS, kernel_regularizer=None,
           bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
           trainable=True, name=None, reuse=None):  # fmt: skip
    """A 1-D convolution layer: `tf.layers.conv1d(sequence, 64, 5, padding="same")`."""
    layer = Conv1D(
        filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
        dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
        kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint, trainable=trainable, name=name, _scope=name, _reuse=reuse,
    )  # fmt: skip
    return layer(inputs)


def conv2d_transpose(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                     activation=None, use_bias=True, kernel_initializer=None, bias_initializer=_ZEROS,
                     kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                     kernel_constraint=None, bias_constraint=None, trainable=True, name=None, reuse=None):  # fmt: skip
    """A transposed 2-D convolution layer: `tf.layers.conv2d_transpose(h, 32, 3, strides=2, padding="same")`."""
    layer = Conv2DTranspose(
        filters, kernel_size, strides=strides, padding=padding, data_format=data_format, activation=activation,
        use_bias=use_bias, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint, trainable=trainable, name=name, _scope=name, _reuse=reuse,
    )  # fmt: skip
    return layer(inputs)


def _separable(cls, inputs, filters, kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier,
               activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
               depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
               depthwise_constraint, pointwise_constraint, bias_constraint, trainable, name, reuse):  # fmt: skip
    layer = cls(
        filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
        dilation_rate=dilation_rate, depth_multiplier=depth_multiplier, activation=activation, use_bias=use_bias,
        depthwise_initializer=depthwise_initializer, pointwise_initializer=pointwise_initializer,
        bias_initializer=bias_initializer, depthwise_regularizer=depthwise_regularizer,
        pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer, depthwise_constraint=depthwise_constraint,
        pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint, trainable=trainable,
        name=name, _scope=name, _reuse=reuse,
    )  # fmt: skip
    return layer(inputs)


def separable_conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                     dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                     depthwise_initializer=None, pointwise_initializer=None, bias_initializer=_ZEROS,
                     depthwise_regularizer=None, pointwise_regularizer=None, bias_regularizer=None,
                     activity_regularizer=None, depthwise_constraint=None, pointwise_constraint=None,
                     bias_constraint=None, trainable=True, name=None, reuse=None):  # fmt: skip
    """A depthwise separable 2-D convolution layer: `tf.layers.separable_conv2d(x, 64, 3)`."""
    return _separable(
        SeparableConv2D, inputs, filters, kernel_size, strides, padding, data_format, dilation_rate,
        depth_multiplier, activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
        depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
        depthwise_constraint, pointwise_constraint, bias_constraint, trainable, name, reuse,
    )  # fmt: skip


def separable_conv1d(inputs, filters, kernel_size, strides=1, padding="valid", data_format="channels_last",
                     dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                     depthwise_initializer=None, pointwise_initializer=None, bias_initializer=_ZEROS,
                     depthwise_regularizer=None, pointwise_regularizer=None, bias_regularizer=None,
                     activity_regularizer=None, depthwise_constraint=None, pointwise_constraint=None,
                     bias_constraint=None, trainable=True, name=None, reuse=None):  # fmt: skip
    """A depthwise separable 1-D convolution layer: `tf.layers.separable_conv1d(seq, 64, 5)`."""
    return _separable(
        SeparableConv1D, inputs, filters, kernel_size, strides, padding, data_format, dilation_rate,
        depth_multiplier, activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
        depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer,
        depthwise_constraint, pointwise_constraint, bias_constraint, trainable, name, reuse,
    )  # fmt: skip


def max_pooling1d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Max pooling over steps: `tf.layers.max_pooling1d(h, pool_size=2, strides=2)`."""
    return MaxPooling1D(pool_size, strides, padding=padding, data_format=data_format, name=name)(inputs)


def average_pooling1d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Average pooling over steps: `tf.layers.average_pooling1d(h, pool_size=2, strides=2)`."""
    return AveragePooling1D(pool_size, strides, padding=padding, data_format=data_format, name=name)(inputs)
