"""`tf.layers`: TensorFlow 1.x layers (dense, conv2d, pooling, flatten, dropout, batch norm).

    h = tf.layers.dense(x, 256, activation=tf.nn.relu)        # variables dense/kernel, dense/bias
    h = tf.layers.dropout(h, rate=0.5, training=is_training)  # is_training: bool or bool tensor
    y = tf.layers.dense(h, 10)                                # dense_1/kernel, dense_1/bias

Each function makes a layer object and calls it once; the classes (`Dense`,
`Conv2D`, ...) can be called many times and share their variables.

Naming follows TensorFlow 1.x exactly. A layer's variables live in a variable
scope: for an unnamed layer `variable_scope(None, default_name="dense")`, so
"dense", "dense_1", ... unique under the current variable scope; the functional
form with `name="fc"` uses scope "fc" as it is (a second layer named "fc" is an
error unless reuse=True or tf.AUTO_REUSE). Variables are made by `get_variable`,
so scope reuse, initializers and regularizers apply. Ops go in the scope's original
name scope ("dense/MatMul"), re-entered on each call.

`training` of dropout and batch normalization may be a bool tensor; there is no
tf.cond, so both branches are computed and combined with arithmetic on the
flag cast to a number (t * a + (1 - t) * b, exact for t in {0, 1}). Batch
normalization adds its moving-average updates (AssignSub ops) to UPDATE_OPS
when training may be true; with a tensor flag the update uses momentum 1 (no
change) when the flag is false.
"""

from __future__ import annotations

import re

from ops import api
from raygraph import dtypes
from raygraph import initializers as init_ops
from raygraph.graph import GraphKeys, add_to_collection, convert_to_tensor, get_default_graph
from raygraph.shapes import TensorShape
from raygraph.variable_scope import get_variable, variable_scope

__all__ = [
    "AveragePooling2D",
    "BatchNormalization",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "MaxPooling2D",
    "average_pooling2d",
    "batch_normalization",
    "conv2d",
    "dense",
    "dropout",
    "flatten",
    "max_pooling2d",
]


_ZEROS = init_ops.zeros_initializer()  # the default initializers (stateless, so shared)
_ONES = init_ops.ones_initializer()


def _snake_case(name: str) -> str:
    """A layer class's default name, as Keras spells it: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower().lstrip("_")


class Layer:
    """Base of the layers: a variable scope, variables made once, ops made per call.

    Subclasses define `build(input_shape)` (make variables with `add_weight`) and
    `call(inputs, ...)` (make ops).

    >>> layer = tf.layers.Dense(10)
    >>> y1, y2 = layer(x1), layer(x2)      # one kernel, used twice
    >>> [v.name for v in layer.variables]
    ['dense/kernel:0', 'dense/bias:0']
    """

    min_ndim: int | None = None
    ndim: int | None = None

    def __init__(self, trainable=True, name=None, dtype=None, _scope=None, _reuse=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(kwargs)}")
        self.trainable = trainable
        self.built = False
        self.dtype = dtypes.as_dtype(dtype) if dtype is not None else None
        self._base_name = name or _snake_case(type(self).__name__)
        self._named = bool(name)
        self.name = self._base_name
        self._reuse = _reuse
        self._scope = None
        self._input_axes: dict[int, int] = {}  # axis -> size, fixed by build
        self._weights = []
        self._updates = []
        self._losses = []
        if _scope:
            with variable_scope(_scope) as captured:
                self._scope = captured

    # -- variables --
    @property
    def scope_name(self) -> str:
        if self._scope is None:
            raise ValueError(
                f"No name available for layer scope because the layer {self.name!r} has not been used yet."
            )
        return self._scope.name

    @property
    def variables(self) -> list:
        """All the layer's variables, in creation order."""
        return list(self._weights)

    weights = variables

    @property
    def trainable_variables(self) -> list:
        return [v for v in self._weights if v.trainable] if self.trainable else []

    trainable_weights = trainable_variables

    @property
    def non_trainable_variables(self) -> list:
        if not self.trainable:
            return list(self._weights)
        return [v for v in self._weights if not v.trainable]

    non_trainable_weights = non_trainable_variables

    @property
    def updates(self) -> list:
        """The update ops made by calls (batch normalization's moving averages)."""
        return list(self._updates)

    @property
    def losses(self) -> list:
        """The activity regularization losses made by calls."""
        return list(self._losses)

    def add_weight(
        self, name, shape, dtype=None, initializer=None, regularizer=None, trainable=True, constraint=None
    ):
        """Gets or creates variable `<scope>/<name>` with `get_variable` in the layer's scope."""
        reuse = True if self.built else self._reuse
        with variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False):
            variable = get_variable(
                name,
                shape,
                dtype=dtypes.as_dtype(dtype or self.dtype or dtypes.float32),
                initializer=initializer,
                regularizer=regularizer,
                trainable=trainable and self.trainable,
                constraint=constraint,
            )
        if variable not in self._weights:
            self._weights.append(variable)
        return variable

    # -- calling --
    def __call__(self, inputs, *args, **kwargs):
        scope = kwargs.pop("scope", None)
        self._set_scope(scope)
        reuse = True if self.built else self._reuse
        with variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as vs:
            with get_default_graph().name_scope(vs.original_name_scope or None):
                inputs = convert_to_tensor(inputs)
                self._check_input(inputs)
                if not self.built:
                    self.dtype = self.dtype or inputs.dtype
                    self.build(inputs.shape)
                    self.built = True
                n_updates = len(self._updates)
                outputs = self.call(inputs, *args, **kwargs)
                self._activity_regularization(outputs)
        for update in self._updates[n_updates:]:
            add_to_collection(GraphKeys.UPDATE_OPS, update)
        return outputs

    apply = __call__

    def _set_scope(self, scope=None) -> None:
        if self._scope is not None:
            return
        if self._reuse:
            with variable_scope(scope if scope is not None else self._base_name) as captured:
                self._scope = captured
        else:
            with variable_scope(scope, default_name=self._base_name) as captured:
                self._scope = captured
        if not self._named:
            self.name = captured.name.split("/")[-1]

    def build(self, input_shape) -> None:
        pass

    def call(self, inputs, **kwargs):
        return inputs

    def _check_input(self, inputs) -> None:
        """TensorFlow's InputSpec checks: rank, and the axes fixed by build."""
        rank = inputs.shape.ndims
        if rank is None:
            return
        problem = None
        if self.ndim is not None and rank != self.ndim:
            problem = f"expected ndim={self.ndim}, found ndim={rank}"
        elif self.min_ndim is not None and rank < self.min_ndim:
            problem = f"expected min_ndim={self.min_ndim}, found ndim={rank}"
        else:
            for axis, size in self._input_axes.items():
                got = inputs.shape.dims[axis]
                if got is not None and got != size:
                    problem = f"expected axis {axis} of input shape to have value {size}, but received input with shape {inputs.shape}"
                    break
        if problem:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: {problem}. '
                f"Full shape received: {inputs.shape}"
            )

    def _activity_regularization(self, outputs) -> None:
        regularizer = getattr(self, "activity_regularizer", None)
        if regularizer is None:
            return
        with get_default_graph().name_scope("ActivityRegularizer"):
            loss = regularizer(outputs)
            batch_size = api.cast(_dim(outputs, 0), loss.dtype)
            loss = api.truediv(loss, batch_size)
        self._losses.append(loss)
        add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)


def _dim(x, axis: int):
    """x.shape[axis] as a scalar tensor: a constant when known, else from tf.shape."""
    size = x.shape.dims[axis] if x.shape.dims is not None else None
    return api.constant(size) if size is not None else api.shape(x)[axis]


def _pair(value, what: str) -> tuple[int, int]:
    values = (value, value) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) != 2:
        raise ValueError(f"The `{what}` argument must be an int or a tuple of 2 ints, got {value!r}")
    return values


def _padding(padding: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f'The `padding` argument must be one of "valid", "same". Received: {padding!r}')
    return padding.upper()


def _data_format(data_format: str) -> str:
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(
            f'The `data_format` argument must be one of "channels_first", "channels_last". Received: {data_format!r}'
        )
    return "NHWC" if data_format == "channels_last" else "NCHW"


# -- dense --------------------------------------------------------------------------------


def _weight_options(
    layer,
    activation,
    use_bias,
    kernel_initializer,
    bias_initializer,
    kernel_regularizer,
    bias_regularizer,
    activity_regularizer,
    kernel_constraint,
    bias_constraint,
) -> None:
    """Stores the options every kernel-and-bias layer (Dense, Conv2D) takes, under TF's names."""
    layer.activation = activation
    layer.use_bias = use_bias
    layer.kernel_initializer = kernel_initializer
    layer.bias_initializer = bias_initializer
    layer.kernel_regularizer = kernel_regularizer
    layer.bias_regularizer = bias_regularizer
    layer.activity_regularizer = activity_regularizer
    layer.kernel_constraint = kernel_constraint
    layer.bias_constraint = bias_constraint


class Dense(Layer):
    """outputs = activation(inputs @ kernel + bias), over the last axis of `inputs`.

    >>> layer = tf.layers.Dense(10, activation=tf.nn.relu)
    >>> y = layer(x)     # x: [batch, 784] -> y: [batch, 10]
    """

    min_ndim = 2

    def __init__(
        self,
        units,
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
        self.units = int(units)
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

    def build(self, input_shape) -> None:
        last = input_shape.dims[-1] if input_shape.dims else None
        if last is None:
            raise ValueError(
                "The last dimension of the inputs to a Dense layer should be defined. Found None. "
                f"Full input shape received: {input_shape} (layer {self.name!r})"
            )
        self._input_axes = {-1: last}
        self.kernel = self.add_weight(
            "kernel",
            [last, self.units],
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                [self.units],
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, inputs):
        rank = inputs.shape.ndims
        if rank is None or rank == 2:
            outputs = api.matmul(inputs, self.kernel)
        else:
            outputs = api.tensordot(inputs, self.kernel, [[rank - 1], [0]])
            outputs.set_shape(inputs.shape.as_list()[:-1] + [self.units])
        if self.bias is not None:
            outputs = api.nn.bias_add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs


def dense(
    inputs,
    units,
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
    reuse=None,
):
    """A fully connected layer: `tf.layers.dense(x, 256, activation=tf.nn.relu)`.

    Inputs of rank > 2 are contracted over their last axis ([b, t, d] -> [b, t, units]).
    """
    layer = Dense(
        units,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint,
        trainable=trainable,
        name=name,
        _scope=name,
        _reuse=reuse,
    )
    return layer(inputs)


# -- convolution and pooling ----------------------------------------------------------------


class Conv2D(Layer):
    """2-D convolution: kernel [kh, kw, in_channels, filters], then bias and activation.

    >>> conv = tf.layers.Conv2D(32, 3, padding="same", activation=tf.nn.relu)
    >>> h = conv(images)     # [batch, 28, 28, 1] -> [batch, 28, 28, 32]
    """

    ndim = 4

    def __init__(
        self,
        filters,
        kernel_size,
        strides=(1, 1),
        padding="valid",
        data_format="channels_last",
        dilation_rate=(1, 1),
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
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.data_format = _data_format(data_format)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
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

    def build(self, input_shape) -> None:
        axis = 1 if self.data_format == "NCHW" else -1
        channels = input_shape.dims[axis]
        if channels is None:
            raise ValueError(
                f"The channel dimension of the inputs to layer {self.name!r} should be defined. "
                f"Found None in input shape {input_shape}."
            )
        self._input_axes = {axis: channels}
        shape = list(self.kernel_size) + [channels, self.filters]
        self.kernel = self.add_weight(
            "kernel",
            shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                [self.filters],
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def call(self, inputs):
        outputs = api.nn.conv2d(
            inputs,
            self.kernel,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilations=self.dilation_rate,
        )
        if self.bias is not None:
            outputs = api.nn.bias_add(outputs, self.bias, data_format=self.data_format)
        return self.activation(outputs) if self.activation is not None else outputs


def conv2d(
    inputs,
    filters,
    kernel_size,
    strides=(1, 1),
    padding="valid",
    data_format="channels_last",
    dilation_rate=(1, 1),
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
    reuse=None,
):
    """A 2-D convolution layer: `tf.layers.conv2d(images, 32, 5, padding="same")`."""
    layer = Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
        activation=activation,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint,
        trainable=trainable,
        name=name,
        _scope=name,
        _reuse=reuse,
    )
    return layer(inputs)


class _Pooling2D(Layer):
    ndim = 4
    _pool = ""

    def __init__(self, pool_size, strides, padding="valid", data_format="channels_last", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides, "strides")
        self.padding = _padding(padding)
        self.data_format = _data_format(data_format)

    def call(self, inputs):
        pool = getattr(api.nn, self._pool)
        return pool(
            inputs,
            ksize=self.pool_size,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
        )


class MaxPooling2D(_Pooling2D):
    """The maximum over pool_size windows: `tf.layers.MaxPooling2D(2, 2)`."""

    _pool = "max_pool"


class AveragePooling2D(_Pooling2D):
    """The mean over pool_size windows: `tf.layers.AveragePooling2D(2, 2)`."""

    _pool = "avg_pool"


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Max pooling: `tf.layers.max_pooling2d(h, pool_size=2, strides=2)`."""
    return MaxPooling2D(pool_size, strides, padding=padding, data_format=data_format, name=name)(inputs)


def average_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
    """Average pooling: `tf.layers.average_pooling2d(h, pool_size=2, strides=2)`."""
    return AveragePooling2D(pool_size, strides, padding=padding, data_format=data_format, name=name)(inputs)


# -- flatten and dropout ---------------------------------------------------------------------


class Flatten(Layer):
    """Flattens all but the batch dimension: [batch, h, w, c] -> [batch, h * w * c].

    >>> tf.layers.Flatten()(h)
    """

    min_ndim = 1

    def __init__(self, data_format="channels_last", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        _data_format(data_format)
        self.data_format = data_format

    def call(self, inputs):
        rank = inputs.shape.ndims
        if self.data_format == "channels_first" and rank is not None and rank > 2:
            inputs = api.transpose(inputs, [0] + list(range(2, rank)) + [1])
        if rank == 1:
            return api.expand_dims(inputs, 1)
        return api.reshape(inputs, self._flat_shape(inputs))

    @staticmethod
    def _flat_shape(inputs):
        """A shape for reshape that keeps what the graph knows of the result's shape."""
        dims = inputs.shape.dims
        rest = TensorShape(dims[1:]) if dims is not None else TensorShape(None)
        if rest.is_fully_defined():
            return api.constant([-1, rest.num_elements()])
        if dims is not None and dims[0] is not None:
            return api.constant([dims[0], -1])
        return api.stack([api.shape(inputs)[0], -1])


def flatten(inputs, name=None, data_format="channels_last"):
    """Flattens all but the batch dimension: `tf.layers.flatten(pool)`."""
    return Flatten(data_format=data_format, name=name)(inputs)


def _training_flag(training, layer_name: str):
    """`training` as a Python bool, or as a bool tensor when it is only known at run time."""
    if isinstance(training, bool) or training is None:
        return bool(training)
    training = convert_to_tensor(training)
    if training.dtype != dtypes.bool or training.shape.ndims not in (None, 0):
        raise TypeError(
            f"Layer {layer_name!r}: `training` must be a Python bool or a scalar bool tensor, got "
            f"{training.dtype.name} tensor {training.name!r} of shape {training.shape}"
        )
    return training


def _select(flag, if_true, if_false):
    """flag ? if_true : if_false for a scalar bool tensor, as t * a + (1 - t) * b."""
    t = api.cast(flag, convert_to_tensor(if_true).dtype)
    return t * if_true + (1 - t) * if_false


class Dropout(Layer):
    """In training, zeroes each element with probability `rate` and scales the rest by 1 / (1 - rate).

    >>> drop = tf.layers.Dropout(0.5)
    >>> h = drop(h, training=is_training)    # a Python bool or a bool tensor
    """

    def __init__(self, rate=0.5, noise_shape=None, seed=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs, training=False):
        training = _training_flag(training, self.name)
        if training is False:
            return api.identity(inputs)
        rate = self.rate
        if training is not True:  # a tensor: rate 0 (the identity) when the flag is false
            rate = api.cast(training, inputs.dtype) * api.constant(self.rate, dtype=inputs.dtype)
        return api.nn.dropout(inputs, noise_shape=self.noise_shape, seed=self.seed, rate=rate)


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """Dropout, applied only when `training`: `tf.layers.dropout(h, 0.5, training=is_training)`."""
    return Dropout(rate=rate, noise_shape=noise_shape, seed=seed, name=name)(inputs, training=training)


# -- batch normalization ---------------------------------------------------------------------


class BatchNormalization(Layer):
    """Normalizes each channel by batch statistics (training) or moving averages (inference).

    Variables: gamma, beta (trainable), moving_mean, moving_variance (not trainable).
    In training the moving averages are updated by ops added to UPDATE_OPS, so run them:

    >>> h = tf.layers.batch_normalization(h, training=is_training)
    >>> with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
    ...     train_op = optimizer.minimize(loss)

    As TensorFlow's fused kernel does, 4-D inputs normalized over axis 1 or 3 update
    the moving variance with the unbiased (n - 1) batch variance; other inputs with
    the biased one.
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer=_ZEROS,
        gamma_initializer=_ONES,
        moving_mean_initializer=_ZEROS,
        moving_variance_initializer=_ONES,
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        fused=None,
        trainable=True,
        virtual_batch_size=None,
        adjustment=None,
        name=None,
        **kwargs,
    ):
        super().__init__(trainable=trainable, name=name, **kwargs)
        for flag, what in (
            (renorm, "renorm"),
            (virtual_batch_size, "virtual_batch_size"),
            (adjustment, "adjustment"),
        ):
            if flag:
                raise NotImplementedError(f"BatchNormalization: `{what}` is not supported by raygraph")
        self.axis = list(axis) if isinstance(axis, list | tuple) else axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.initializers = dict(
            beta=beta_initializer,
            gamma=gamma_initializer,
            moving_mean=moving_mean_initializer,
            moving_variance=moving_variance_initializer,
        )
        self.regularizers = dict(beta=beta_regularizer, gamma=gamma_regularizer)
        self.constraints = dict(beta=beta_constraint, gamma=gamma_constraint)
        self.fused = fused

    def build(self, input_shape) -> None:
        rank = input_shape.ndims
        if rank is None:
            raise ValueError(f"Input to layer {self.name!r} has undefined rank.")
        axes = [self.axis] if isinstance(self.axis, int) else self.axis
        self._axes = sorted({a % rank if -rank <= a < rank else _bad_axis(self.name, a, rank) for a in axes})
        param_shape = [input_shape.dims[a] for a in self._axes]
        if None in param_shape:
            raise ValueError(
                f"Input to layer {self.name!r} has undefined `axis` dimension. Received input with "
                f"shape {input_shape}."
            )
        self._input_axes = dict(zip(self._axes, param_shape))
        self._rank = rank
        self._use_fused = (
            self.fused is not False
            and rank == 4
            and self._axes in ([1], [3])
            and self.dtype in (dtypes.float16, dtypes.float32)
        )
        param_dtype = dtypes.float32 if self.dtype == dtypes.float16 else self.dtype
        self.gamma = self._param("gamma", param_shape, param_dtype) if self.scale else None
        self.beta = self._param("beta", param_shape, param_dtype) if self.center else None
        self.moving_mean = self._param("moving_mean", param_shape, param_dtype, trainable=False)
        self.moving_variance = self._param("moving_variance", param_shape, param_dtype, trainable=False)

    def _param(self, name, shape, dtype, trainable=True):
        return self.add_weight(
            name,
            shape,
            dtype=dtype,
            initializer=self.initializers[name],
            regularizer=self.regularizers.get(name),
            trainable=trainable,
            constraint=self.constraints.get(name),
        )

    def call(self, inputs, training=False):
        training = _training_flag(training, self.name)
        reduction_axes = [a for a in range(self._rank) if a not in self._axes]
        if training is False:
            mean, variance = self.moving_mean.value(), self.moving_variance.value()
        else:
            batch_mean, batch_variance = api.nn.moments(inputs, reduction_axes)
            param_dtype = self.moving_mean.dtype  # float32 for float16 inputs
            batch_mean, batch_variance = (
                api.cast(batch_mean, param_dtype),
                api.cast(batch_variance, param_dtype),
            )
            if training is True:
                mean, variance = batch_mean, batch_variance
            else:
                mean = _select(training, batch_mean, self.moving_mean)
                variance = _select(training, batch_variance, self.moving_variance)
            self._add_updates(inputs, batch_mean, batch_variance, reduction_axes, training)
        return api.nn.batch_normalization(
            inputs,
            self._broadcast(mean),
            self._broadcast(variance),
            self._broadcast(self.beta),
            self._broadcast(self.gamma),
            self.epsilon,
        )

    def _broadcast(self, value):
        """A per-channel value reshaped to broadcast against the inputs (when the axis is not last)."""
        if value is None or self._axes == [self._rank - 1]:
            return value
        shape = [1] * self._rank
        for a, size in self._input_axes.items():
            shape[a] = size
        return api.reshape(value, shape)

    def _add_updates(self, inputs, batch_mean, batch_variance, reduction_axes, training) -> None:
        momentum = api.constant(self.momentum, dtype=batch_mean.dtype)
        if training is not True:
            momentum = _select(training, momentum, api.constant(1.0, dtype=batch_mean.dtype))
        if self._use_fused:
            batch_variance = batch_variance * _bessel_factor(inputs, reduction_axes, batch_variance.dtype)
        self._updates.append(_assign_moving_average(self.moving_mean, batch_mean, momentum))
        self._updates.append(_assign_moving_average(self.moving_variance, batch_variance, momentum))


def _bad_axis(layer_name, axis, rank):
    raise ValueError(f"Layer {layer_name!r}: invalid axis {axis} for an input of rank {rank}.")


def _bessel_factor(inputs, reduction_axes, dtype):
    """n / (n - 1), n the number of values per channel (known statically or counted at run time)."""
    dims = [inputs.shape.dims[a] for a in reduction_axes]
    if None not in dims:
        n = 1
        for d in dims:
            n *= d
        return api.constant(n / max(n - 1, 1), dtype=dtype)
    n = api.cast(api.reduce_sum(api.ones_like(inputs), reduction_axes), dtype)
    return n / api.maximum(n - 1, api.constant(1, dtype=dtype))


def _assign_moving_average(variable, value, momentum):
    """variable -= (variable - value) * (1 - momentum); returns the AssignSub op."""
    with get_default_graph().name_scope("AssignMovingAvg") as scope:
        decay = api.constant(1.0, dtype=value.dtype) - momentum
        delta = (variable.value() - value) * decay
        return variable.assign_sub(delta, name=scope).op


def batch_normalization(
    inputs,
    axis=-1,
    momentum=0.99,
    epsilon=1e-3,
    center=True,
    scale=True,
    beta_initializer=_ZEROS,
    gamma_initializer=_ONES,
    moving_mean_initializer=_ZEROS,
    moving_variance_initializer=_ONES,
    beta_regularizer=None,
    gamma_regularizer=None,
    beta_constraint=None,
    gamma_constraint=None,
    training=False,
    trainable=True,
    name=None,
    reuse=None,
    renorm=False,
    renorm_clipping=None,
    renorm_momentum=0.99,
    fused=None,
    virtual_batch_size=None,
    adjustment=None,
):
    """Batch normalization: `tf.layers.batch_normalization(h, training=is_training)`.

    Run the ops in tf.GraphKeys.UPDATE_OPS with the training step to update the moving
    mean and variance that inference uses.
    """
    layer = BatchNormalization(
        axis=axis,
        momentum=momentum,
        epsilon=epsilon,
        center=center,
        scale=scale,
        beta_initializer=beta_initializer,
        gamma_initializer=gamma_initializer,
        moving_mean_initializer=moving_mean_initializer,
        moving_variance_initializer=moving_variance_initializer,
        beta_regularizer=beta_regularizer,
        gamma_regularizer=gamma_regularizer,
        beta_constraint=beta_constraint,
        gamma_constraint=gamma_constraint,
        renorm=renorm,
        renorm_clipping=renorm_clipping,
        renorm_momentum=renorm_momentum,
        fused=fused,
        trainable=trainable,
        virtual_batch_size=virtual_batch_size,
        adjustment=adjustment,
        name=name,
        _scope=name,
        _reuse=reuse,
    )
    return layer(inputs, training=training)


# -- more layers, in raygraph/layers_conv.py (Conv1D, Conv2DTranspose, separable convs, 1-D pooling) --
# It builds on the classes above, so it is imported on first use, not here (no import cycle).


def __getattr__(name: str):
    from raygraph import layers_conv

    if name in layers_conv.__all__:
        return getattr(layers_conv, name)
    raise AttributeError(f"module 'raygraph.layers' has no attribute {name!r}")


def __dir__() -> list[str]:
    from raygraph import layers_conv

    return sorted(set(globals()) | set(layers_conv.__all__))
