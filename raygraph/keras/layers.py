"""`tf.keras.layers`: Keras's layer classes over raygraph's `tf.layers`, plus a few of its own.

    model = tf.keras.models.Sequential([
        tf.keras.layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dropout(0.5),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])

Dense, Conv1D/2D, pooling, Flatten, Dropout and BatchNormalization are the `tf.layers`
classes with Keras's defaults and names (engine.Layer); Dropout and BatchNormalization
follow the learning phase when called without `training`. The rest (Activation,
Reshape, Embedding, merge layers, global pooling, Lambda, ...) are written here.
"""

from __future__ import annotations

from ops import api
from raygraph import dtypes
from raygraph import layers as _tf
from raygraph import layers_conv as _tf_conv
from raygraph.keras import activations, backend, initializers, regularizers
from raygraph.keras.engine import Input, InputLayer, Layer

__all__ = [
    "Activation",
    "Add",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "BatchNormalization",
    "Concatenate",
    "Conv1D",
    "Conv2D",
    "Conv2DTranspose",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "Lambda",
    "Layer",
    "LeakyReLU",
    "MaxPooling1D",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "Multiply",
    "Permute",
    "ReLU",
    "Reshape",
    "SeparableConv2D",
    "Softmax",
    "Subtract",
    "ZeroPadding2D",
    "add",
    "average",
    "concatenate",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
]


# -- tf.layers classes with Keras's defaults ----------------------------------------------------


class Dense(Layer, _tf.Dense):
    """A fully connected layer: `Dense(64, activation="relu", input_shape=(784,))`."""

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(units, activation, use_bias, kernel_initializer, bias_initializer, **kwargs)


class Conv2D(Layer, _tf.Conv2D):
    """2-D convolution: `Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))`."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, **kwargs):
        kwargs.setdefault("kernel_initializer", "glorot_uniform")
        super().__init__(filters, kernel_size, strides, padding, data_format=data_format, **kwargs)


Convolution2D = Conv2D


class Conv1D(Layer, _tf_conv.Conv1D):
    """1-D convolution over [batch, steps, channels]: `Conv1D(64, 5, padding="same")`."""

    def __init__(
        self, filters, kernel_size, strides=1, padding="valid", data_format="channels_last", **kwargs
    ):
        kwargs.setdefault("kernel_initializer", "glorot_uniform")
        super().__init__(filters, kernel_size, strides, padding, data_format=data_format, **kwargs)


class Conv2DTranspose(Layer, _tf_conv.Conv2DTranspose):
    """Transposed 2-D convolution: `Conv2DTranspose(32, 3, strides=2, padding="same")`."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, **kwargs):
        kwargs.setdefault("kernel_initializer", "glorot_uniform")
        super().__init__(filters, kernel_size, strides, padding, data_format=data_format, **kwargs)


class SeparableConv2D(Layer, _tf_conv.SeparableConv2D):
    """Depthwise then pointwise 2-D convolution: `SeparableConv2D(64, 3)`."""


def _pooling(base, doc, default_pool):
    class Pooling(Layer, base):
        __doc__ = doc

        def __init__(self, pool_size=default_pool, strides=None, padding="valid", data_format=None, **kwargs):
            super().__init__(pool_size, strides or pool_size, padding, data_format=data_format, **kwargs)

    Pooling.__name__ = Pooling.__qualname__ = base.__name__
    return Pooling


MaxPooling2D = _pooling(_tf.MaxPooling2D, "Max pooling: `MaxPooling2D()` halves height and width.", (2, 2))
AveragePooling2D = _pooling(_tf.AveragePooling2D, "Average pooling: `AveragePooling2D((2, 2))`.", (2, 2))
MaxPooling1D = _pooling(_tf_conv.MaxPooling1D, "Max pooling over steps: `MaxPooling1D(2)`.", 2)
AveragePooling1D = _pooling(
    _tf_conv.AveragePooling1D, "Average pooling over steps: `AveragePooling1D(2)`.", 2
)
MaxPool2D, AvgPool2D, MaxPool1D, AvgPool1D = MaxPooling2D, AveragePooling2D, MaxPooling1D, AveragePooling1D


class Flatten(Layer, _tf.Flatten):
    """[batch, ...] -> [batch, product of the rest]: `Flatten()`."""


class Dropout(Layer, _tf.Dropout):
    """Zeroes inputs with probability `rate` in training (fit), passes them in inference."""

    _takes_training = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(rate, noise_shape, seed, **kwargs)


class BatchNormalization(Layer, _tf.BatchNormalization):
    """Batch normalization; fit runs its moving-average updates (Model.updates)."""

    _takes_training = True


# -- layers written here -------------------------------------------------------------------------


class Activation(Layer):
    """Applies an activation: `Activation("relu")`."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)


class ReLU(Layer):
    """max(x, 0), leaky by `negative_slope`, capped at `max_value`."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs):
        return backend.relu(
            inputs, alpha=self.negative_slope, max_value=self.max_value, threshold=self.threshold
        )


class LeakyReLU(Layer):
    """x for x > 0, alpha * x otherwise: `LeakyReLU(alpha=0.3)`."""

    def __init__(self, alpha=0.3, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, inputs):
        return api.nn.leaky_relu(inputs, alpha=self.alpha)


class Softmax(Layer):
    """Softmax over `axis`: `Softmax()`."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return api.nn.softmax(inputs, axis=self.axis)


class Reshape(Layer):
    """Reshapes all but the batch axis: `Reshape((7, 7, 64))` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs):
        if -1 in self.target_shape:
            shape = api.stack([api.shape(inputs)[0], *[api.constant(d) for d in self.target_shape]])
            outputs = api.reshape(inputs, shape)
            known = [inputs.shape.dims[0] if inputs.shape.dims else None]
            outputs.set_shape(known + [None if d == -1 else d for d in self.target_shape])
            return outputs
        return api.reshape(inputs, [-1, *self.target_shape])


class Permute(Layer):
    """Permutes the non-batch axes (1-based): `Permute((2, 1))`."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(dims)

    def call(self, inputs):
        return api.transpose(inputs, [0, *self.dims])


class Embedding(Layer):
    """Rows of an [input_dim, output_dim] matrix "embedding/embeddings:0" picked by integer ids.

    >>> Embedding(10000, 128, input_length=100)     # [batch, 100] ids -> [batch, 100, 128]
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        activity_regularizer=None,
        embeddings_constraint=None,
        mask_zero=False,
        input_length=None,
        **kwargs,
    ):
        if "input_shape" not in kwargs and "batch_input_shape" not in kwargs and input_length is not None:
            length = input_length if isinstance(input_length, list | tuple) else [input_length]
            kwargs["input_shape"] = tuple(length)
        kwargs.setdefault("dtype", backend.floatx())
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.embeddings_constraint = embeddings_constraint
        self.mask_zero = mask_zero
        self.input_length = input_length

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            "embeddings",
            (self.input_dim, self.output_dim),
            dtype=backend.floatx() if self.dtype is None or not self.dtype.is_floating else self.dtype,
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )

    def call(self, inputs):
        if inputs.dtype not in (dtypes.int32, dtypes.int64):
            inputs = api.cast(inputs, dtypes.int32)
        return api.nn.embedding_lookup(self.embeddings, inputs)


class Lambda(Layer):
    """Wraps a function of tensors as a layer: `Lambda(lambda x: x ** 2)`."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        self.function = function
        self.arguments = arguments or {}

    def call(self, inputs):
        return self.function(inputs, **self.arguments)


class ZeroPadding2D(Layer):
    """Pads height and width with zeros: `ZeroPadding2D((1, 1))` (channels_last)."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = ((padding, padding), (padding, padding))
        elif isinstance(padding[0], int):
            padding = ((padding[0], padding[0]), (padding[1], padding[1]))
        self.padding = tuple(tuple(p) for p in padding)
        self.data_format = data_format or backend.image_data_format()

    def call(self, inputs):
        (top, bottom), (left, right) = self.padding
        if self.data_format == "channels_first":
            return api.pad(inputs, [[0, 0], [0, 0], [top, bottom], [left, right]])
        return api.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]])


class _GlobalPooling(Layer):
    _reduce = None
    _axes: tuple = ()

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or backend.image_data_format()

    def call(self, inputs):
        axes = list(self._axes)
        if self.data_format == "channels_first":
            axes = [a + 1 for a in axes]
        return type(self)._reduce(inputs, axis=axes)


class GlobalAveragePooling2D(_GlobalPooling):
    """The mean over height and width: [batch, h, w, c] -> [batch, c]."""

    _reduce, _axes = api.reduce_mean, (1, 2)


class GlobalMaxPooling2D(_GlobalPooling):
    """The maximum over height and width: [batch, h, w, c] -> [batch, c]."""

    _reduce, _axes = api.reduce_max, (1, 2)


class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over steps: [batch, steps, c] -> [batch, c]."""

    _reduce, _axes = api.reduce_mean, (1,)


class GlobalMaxPooling1D(_GlobalPooling):
    """The maximum over steps: [batch, steps, c] -> [batch, c]."""

    _reduce, _axes = api.reduce_max, (1,)


GlobalAvgPool2D, GlobalMaxPool2D = GlobalAveragePooling2D, GlobalMaxPooling2D


# -- merge layers -------------------------------------------------------------------------------


class _Merge(Layer):
    def call(self, inputs):
        if not isinstance(inputs, list) or len(inputs) < 2:
            raise ValueError(
                f"A merge layer ({type(self).__name__} {self.name!r}) should be called on a list of at least 2 inputs."
            )
        result = inputs[0]
        for x in inputs[1:]:
            result = self._merge(result, x)
        return self._finish(result, len(inputs))

    def _finish(self, result, n):
        return result


class Add(_Merge):
    """The elementwise sum of a list of tensors: `Add()([a, b])`."""

    _merge = staticmethod(api.add)


class Multiply(_Merge):
    """The elementwise product of a list of tensors."""

    _merge = staticmethod(api.multiply)


class Maximum(_Merge):
    """The elementwise maximum of a list of tensors."""

    _merge = staticmethod(api.maximum)


class Minimum(_Merge):
    """The elementwise minimum of a list of tensors."""

    _merge = staticmethod(api.minimum)


class Average(_Merge):
    """The elementwise mean of a list of tensors."""

    _merge = staticmethod(api.add)

    def _finish(self, result, n):
        return result / api.constant(float(n), dtype=result.dtype)


class Subtract(Layer):
    """a - b for `Subtract()([a, b])`."""

    def call(self, inputs):
        if not isinstance(inputs, list) or len(inputs) != 2:
            raise ValueError(f"A `Subtract` layer ({self.name!r}) should be called on exactly 2 inputs")
        return inputs[0] - inputs[1]


class Concatenate(Layer):
    """Concatenates a list of tensors along `axis`: `Concatenate()([a, b])`."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return backend.concatenate(inputs, axis=self.axis)


def _functional(cls, doc):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__doc__ = doc
    return merge


add = _functional(Add, "`add([a, b])`: the Add layer applied once.")
subtract = _functional(Subtract, "`subtract([a, b])`: a - b.")
multiply = _functional(Multiply, "`multiply([a, b])`: the elementwise product.")
average = _functional(Average, "`average([a, b])`: the elementwise mean.")
maximum = _functional(Maximum, "`maximum([a, b])`: the elementwise maximum.")
minimum = _functional(Minimum, "`minimum([a, b])`: the elementwise minimum.")


def concatenate(inputs, axis=-1, **kwargs):
    """`concatenate([a, b], axis=-1)`: the Concatenate layer applied once."""
    return Concatenate(axis=axis, **kwargs)(inputs)
