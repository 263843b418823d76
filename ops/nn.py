"""Neural-network ops: activations, softmax, cross-entropy losses, bias and norms.

Each activation is one op, and its gradient is one op too (`ReluGrad`,
`EluGrad`, ...) as in TensorFlow, so a backward pass costs one kernel per
activation instead of a chain of elementwise ops. The gradient ops have
gradients of their own (built from graph ops), so second derivatives work.

Softmax, log-softmax and the cross-entropy ops subtract the maximum before
exponentiating, and softplus and the sigmoid cross-entropy use the
`max(x, 0) + log1p(exp(-|x|))` form: no overflow for large logits. The softmax
cross-entropy ops have two outputs, TensorFlow's (loss, backprop): the gradient
with respect to the logits is computed by the forward kernel, and the public
functions return the loss only.

Composites (dropout, moments, batch_normalization, l2_normalize, crelu) are
built from other families' ops, as TensorFlow builds them. Convolution and
pooling are a family of their own, ops/nn_conv.py.
"""

from __future__ import annotations

from ops import api as tf
from ops.common import check_dtype, normalize_axis, reduction_axes, same
from ops.registry import Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, format_shape

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def _sigmoid(xp, x):
    """1 / (1 + exp(-x)) without overflow for large |x|."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _is_zeros(t) -> bool:
    """Whether `t` is the gradient driver's zero filler for an unused output."""
    return t is None or t.op.type == "ZerosLike"


class _Elementwise(Op, register=False):
    """y = f(features), same dtype and shape; `kind` is the dtypes allowed."""

    inputs = ("features",)
    kind = "float"

    def __init_subclass__(cls, **kwargs):
        kind = cls.kind

        def infer(features, **attrs):
            check_dtype(features, kind, "features")
            return same(features)

        if cls.__dict__.get("infer") is None:
            cls.infer = staticmethod(infer)
        super().__init_subclass__(**kwargs)


class _ActivationGrad(Op, register=False):
    """The gradient op of an activation: dx = f'(x) * gradients, elementwise.

    The second input is the activation's input (`features`) or its output
    (`outputs`), whichever the derivative is cheaper from.
    """

    inputs = ("gradients", "features")
    same_dtype = ("gradients", "features")

    def infer(gradients, features, **attrs):
        check_dtype(gradients, "numeric", "gradients")
        if not gradients.shape.is_compatible_with(features.shape):
            raise ValueError(
                f"gradients {format_shape(gradients.shape)} and {features.name} "
                f"{format_shape(features.shape)} must have the same shape"
            )
        return gradients.dtype, gradients.shape.merge_with(features.shape)


# -- activations --------------------------------------------------------------


class Relu(_Elementwise):
    """max(features, 0), elementwise: `tf.nn.relu(tf.matmul(x, w) + b)`."""

    api = "nn.relu"
    kind = "numeric"

    def kernel(xp, features):
        return xp.maximum(features, 0)

    def grad(op, dy):
        return [build("ReluGrad", [dy, op.outputs[0]])]


class ReluGrad(_ActivationGrad):
    """Relu's gradient: `gradients` where the relu's output is positive, else 0."""

    def kernel(xp, gradients, features):
        return gradients * (features > 0)

    def grad(op, g):
        return [build("ReluGrad", [g, op.inputs[1]]), tf.zeros_like(op.inputs[1])]


class Relu6(_Elementwise):
    """min(max(features, 0), 6), elementwise."""

    api = "nn.relu6"
    kind = "numeric"

    def kernel(xp, features):
        return xp.clip(features, 0, 6)

    def grad(op, dy):
        return [build("Relu6Grad", [dy, op.inputs[0]])]


class Relu6Grad(_ActivationGrad):
    """Relu6's gradient: `gradients` where 0 < features < 6, else 0."""

    def kernel(xp, gradients, features):
        return gradients * ((features > 0) & (features < 6))

    def grad(op, g):
        return [build("Relu6Grad", [g, op.inputs[1]]), tf.zeros_like(op.inputs[1])]


class Elu(_Elementwise):
    """features if > 0, else exp(features) - 1."""

    api = "nn.elu"
    cost = "transcendental"

    def kernel(xp, features):
        return xp.where(features > 0, features, xp.expm1(xp.minimum(features, 0)))

    def grad(op, dy):
        return [build("EluGrad", [dy, op.outputs[0]])]


class EluGrad(_ActivationGrad):
    """Elu's gradient from its output y: gradients * (y + 1) where y < 0."""

    inputs = ("gradients", "outputs")
    same_dtype = ("gradients", "outputs")

    def kernel(xp, gradients, outputs):
        return xp.where(outputs > 0, gradients, gradients * (outputs + 1))

    def grad(op, g):
        dy, y = op.inputs
        return [build("EluGrad", [g, y]), _where_negative(y, g * dy)]


class Selu(_Elementwise):
    """scale * (features if > 0 else alpha * (exp(features) - 1)), self-normalizing."""

    api = "nn.selu"
    cost = "transcendental"

    def kernel(xp, features):
        negative = SELU_ALPHA * xp.expm1(xp.minimum(features, 0))
        return SELU_SCALE * xp.where(features > 0, features, negative)

    def grad(op, dy):
        return [build("SeluGrad", [dy, op.outputs[0]])]


class SeluGrad(_ActivationGrad):
    """Selu's gradient from its output y: gradients * (y + scale * alpha) where y < 0."""

    inputs = ("gradients", "outputs")
    same_dtype = ("gradients", "outputs")

    def kernel(xp, gradients, outputs):
        return xp.where(outputs > 0, gradients * SELU_SCALE, gradients * (outputs + SELU_SCALE * SELU_ALPHA))

    def grad(op, g):
        dy, y = op.inputs
        return [build("SeluGrad", [g, y]), _where_negative(y, g * dy)]


def _where_negative(y, value):
    """`value` where y < 0, else 0 (the EluGrad/SeluGrad derivative in y)."""
    return value * tf.cast(tf.less(y, tf.zeros_like(y)), value.dtype)


class LeakyRelu(_Elementwise):
    """features if > 0, else alpha * features: `tf.nn.leaky_relu(x, alpha=0.2)`."""

    attrs = {"alpha": 0.2}
    api = "nn.leaky_relu"

    def kernel(xp, features, alpha):
        return xp.where(features > 0, features, features * float(alpha))

    def grad(op, dy):
        return [build("LeakyReluGrad", [dy, op.inputs[0]], {"alpha": op.attrs["alpha"]})]


class LeakyReluGrad(_ActivationGrad):
    """LeakyRelu's gradient: gradients where features > 0, else alpha * gradients."""

    attrs = {"alpha": 0.2}

    def kernel(xp, gradients, features, alpha):
        return xp.where(features > 0, gradients, gradients * float(alpha))

    def grad(op, g):
        x = op.inputs[1]
        return [build("LeakyReluGrad", [g, x], {"alpha": op.attrs["alpha"]}), tf.zeros_like(x)]


class Softplus(_Elementwise):
    """log(exp(features) + 1), computed without overflow."""

    api = ("nn.softplus", "math.softplus")
    cost = "transcendental"

    def kernel(xp, features):
        return xp.maximum(features, 0) + xp.log1p(xp.exp(-xp.abs(features)))

    def grad(op, dy):
        return [build("SoftplusGrad", [dy, op.inputs[0]])]


class SoftplusGrad(_ActivationGrad):
    """Softplus's gradient: gradients * sigmoid(features)."""

    def kernel(xp, gradients, features):
        return gradients * _sigmoid(xp, features)

    def grad(op, g):
        dy, x = op.inputs
        # d/dx sigmoid(x) = 1 / (exp(-x) + 2 + exp(x))
        return [build("SoftplusGrad", [g, x]), g * dy / (tf.exp(tf.negative(x)) + 2 + tf.exp(x))]


class Softsign(_Elementwise):
    """features / (|features| + 1)."""

    api = ("nn.softsign", "math.softsign")

    def kernel(xp, features):
        return features / (xp.abs(features) + 1)

    def grad(op, dy):
        return [build("SoftsignGrad", [dy, op.inputs[0]])]


class SoftsignGrad(_ActivationGrad):
    """Softsign's gradient: gradients / (1 + |features|) ** 2."""

    def kernel(xp, gradients, features):
        d = xp.abs(features) + 1
        return gradients / (d * d)

    def grad(op, g):
        dy, x = op.inputs
        d = tf.abs(x) + 1
        return [build("SoftsignGrad", [g, x]), -2 * g * dy * tf.sign(x) / (d * d * d)]


@api_function("nn.crelu")
def crelu(features, name=None, axis=-1):
    """relu of [features, -features] concatenated along `axis` (doubles that dim)."""
    with name_scope(name, "CRelu", [features]):
        features = convert_to_tensor(features, name="features")
        return tf.nn.relu(tf.concat([features, tf.negative(features)], axis))


# -- softmax --------------------------------------------------------------------


class _OverAxis(Op, register=False):
    """A float op over one axis of `logits` (default the last); same shape out."""

    inputs = ("logits",)
    attrs = {"axis": -1}

    def infer(logits, axis):
        check_dtype(logits, "float", "logits")
        normalize_axis(axis, logits.shape.ndims)
        return same(logits)


class Softmax(_OverAxis):
    """exp(logits) / sum(exp(logits), axis), with the max subtracted first."""

    cost = "transcendental"

    def kernel(xp, logits, axis):
        e = xp.exp(logits - xp.max(logits, axis=axis, keepdims=True))
        e /= xp.sum(e, axis=axis, keepdims=True)
        return e

    def grad(op, dy):
        y, axis = op.outputs[0], op.attrs["axis"]
        return [(dy - tf.reduce_sum(dy * y, axis, keepdims=True)) * y]


class LogSoftmax(_OverAxis):
    """logits - log(sum(exp(logits), axis)), computed stably."""

    cost = "transcendental"

    def kernel(xp, logits, axis):
        shifted = logits - xp.max(logits, axis=axis, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    def grad(op, dy):
        y, axis = op.outputs[0], op.attrs["axis"]
        return [dy - tf.reduce_sum(dy, axis, keepdims=True) * tf.exp(y)]


def _axis_or_dim(axis, dim, default=-1):
    """TF1's deprecated `dim` spelling of `axis`."""
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'axis' and 'dim'.")
    value = axis if axis is not None else dim
    return default if value is None else int(value)


@api_function("nn.softmax", "math.softmax")
def softmax(logits, axis=None, name=None, dim=None):
    """Softmax over `axis` (default the last): `probs = tf.nn.softmax(logits)`."""
    axis = _axis_or_dim(axis, dim)
    return build("Softmax", [convert_to_tensor(logits, name="logits")], {"axis": axis}, name=name)


@api_function("nn.log_softmax", "math.log_softmax")
def log_softmax(logits, axis=None, name=None, dim=None):
    """log(softmax(logits)) over `axis`, computed stably: `tf.nn.log_softmax(logits)`."""
    axis = _axis_or_dim(axis, dim)
    return build("LogSoftmax", [convert_to_tensor(logits, name="logits")], {"axis": axis}, name=name)


# -- cross-entropy losses ---------------------------------------------------------


def _softmax_and_log(xp, x, axis):
    """(softmax(x), log_softmax(x)) along axis, from one exp."""
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    e = xp.exp(shifted)
    total = xp.sum(e, axis=axis, keepdims=True)
    e /= total
    return e, shifted - xp.log(total)


def _without_axis(shape: TensorShape, axis: int) -> TensorShape:
    if shape.dims is None:
        return shape
    dims = list(shape.dims)
    del dims[normalize_axis(axis, len(dims))]
    return TensorShape(dims)


class SoftmaxCrossEntropyWithLogits(Op):
    """-sum(labels * log_softmax(features), axis), and its gradient (softmax - labels).

    Outputs (loss, backprop), as TensorFlow's op; tf.nn.softmax_cross_entropy_with_logits
    returns the loss.
    """

    inputs = ("features", "labels")
    attrs = {"axis": -1}
    same_dtype = ("features", "labels")
    multi_output = True

    def infer(features, labels, axis):
        check_dtype(features, "float", "logits")
        if not features.shape.is_compatible_with(labels.shape):
            raise ValueError(
                f"logits and labels must have the same shape, got logits "
                f"{format_shape(features.shape)} and labels {format_shape(labels.shape)}"
            )
        shape = features.shape.merge_with(labels.shape)
        if shape.ndims == 0:
            raise ValueError("logits and labels must have rank >= 1, got scalars")
        normalize_axis(axis, shape.ndims)
        return [(features.dtype, _without_axis(shape, axis)), (features.dtype, shape)]

    def kernel(xp, features, labels, axis):
        p, log_p = _softmax_and_log(xp, features, axis)
        loss = -xp.sum(labels * log_p, axis=axis)
        return [xp.asarray(loss), p - labels]

    def grad(op, dloss, dbackprop):
        features, labels = op.inputs
        axis = op.attrs["axis"]
        g = tf.expand_dims(dloss, axis)
        dfeatures = g * op.outputs[1]
        if not _is_zeros(dbackprop):  # a second derivative: backprop = softmax(features) - labels
            p = tf.nn.softmax(features, axis=axis)
            dfeatures += (dbackprop - tf.reduce_sum(dbackprop * p, axis, keepdims=True)) * p
        dlabels = None
        if labels.op.type not in ("StopGradient", "Const"):
            dlabels = g * tf.negative(tf.nn.log_softmax(features, axis=axis))
            if not _is_zeros(dbackprop):
                dlabels -= dbackprop
        return [dfeatures, dlabels]


class SparseSoftmaxCrossEntropyWithLogits(Op):
    """-log_softmax(features)[label] over the last axis, and its gradient.

    `labels` holds class indices (int32/int64) with the shape of features minus the
    last axis; a label outside [0, classes) fails at run time.
    Outputs (loss, backprop).
    """

    inputs = ("features", "labels")
    multi_output = True

    def infer(features, labels):
        check_dtype(features, "float", "logits")
        check_dtype(labels, "int", "labels")
        f, lab = features.shape, labels.shape
        if f.ndims == 0:
            raise ValueError("logits must have rank >= 1, got a scalar")
        if f.dims is not None and lab.dims is not None:
            if lab.ndims != f.ndims - 1 or not TensorShape(f.dims[:-1]).is_compatible_with(lab):
                raise ValueError(
                    f"labels must have the shape of logits without its last dimension: logits "
                    f"{format_shape(f)}, labels {format_shape(lab)}"
                )
            f = TensorShape(lab.merge_with(TensorShape(f.dims[:-1])).dims + (f.dims[-1],))
        loss_shape = lab if f.dims is None else TensorShape(f.dims[:-1])
        return [(features.dtype, loss_shape), (features.dtype, f)]

    def kernel(xp, features, labels):
        classes = features.shape[-1]
        if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= classes):
            bad = labels[(labels < 0) | (labels >= classes)].reshape(-1)[0]
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Received a label value of {int(bad)} which is outside the valid range of "
                f"[0, {classes}).  Label values: {' '.join(str(int(v)) for v in labels.reshape(-1))}",
            )
        # In place on one buffer: shifted logits, then exp, then softmax, then softmax - onehot
        # (a fifth of the passes of the textbook form; BENCHMARKS.md, recurrent workloads).
        at = labels[..., None].astype(xp.intp)
        p = features - xp.max(features, axis=-1, keepdims=True)
        picked = xp.take_along_axis(p, at, axis=-1)[..., 0]
        xp.exp(p, out=p)
        total = xp.sum(p, axis=-1, keepdims=True)
        p /= total
        xp.put_along_axis(p, at, xp.take_along_axis(p, at, axis=-1) - 1, axis=-1)
        return [xp.log(total[..., 0]) - picked, p]

    def grad(op, dloss, dbackprop):
        features = op.inputs[0]
        dfeatures = tf.expand_dims(dloss, -1) * op.outputs[1]
        if not _is_zeros(dbackprop):
            p = tf.nn.softmax(features)
            dfeatures += (dbackprop - tf.reduce_sum(dbackprop * p, -1, keepdims=True)) * p
        return [dfeatures, None]


class SigmoidCrossEntropyWithLogits(Op):
    """max(x, 0) - x * z + log(1 + exp(-|x|)) for logits x and labels z, elementwise.

    The logistic loss of independent binary labels, without overflow for large |x|.
    """

    inputs = ("labels", "logits")
    same_dtype = ("labels", "logits")

    def infer(labels, logits):
        check_dtype(logits, "float", "logits")
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(
                f"logits and labels must have the same shape ({format_shape(logits.shape)} vs "
                f"{format_shape(labels.shape)})"
            )
        return logits.dtype, logits.shape.merge_with(labels.shape)

    def kernel(xp, labels, logits):
        return xp.maximum(logits, 0) - logits * labels + xp.log1p(xp.exp(-xp.abs(logits)))

    def grad(op, dy):
        labels, logits = op.inputs
        return [dy * tf.negative(logits), dy * (tf.sigmoid(logits) - labels)]


def _named_xent_args(fn_name, sentinel, labels, logits):
    """TF1's rule: these losses take labels and logits by keyword only."""
    if sentinel is not None:
        raise ValueError(f"Only call `{fn_name}` with named arguments (labels=..., logits=..., ...)")
    if labels is None or logits is None:
        raise ValueError("Both labels and logits must be provided.")


@api_function("nn.softmax_cross_entropy_with_logits_v2")
def softmax_cross_entropy_with_logits_v2(labels, logits, axis=None, name=None, dim=None):
    """Softmax cross-entropy per example; gradients flow into `labels` too.

    >>> loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=z))
    """
    axis = _axis_or_dim(axis, dim)
    with name_scope(name, "softmax_cross_entropy_with_logits", [logits, labels]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=logits.dtype, name="labels")
        loss, _ = build("SoftmaxCrossEntropyWithLogits", [logits, labels], {"axis": axis}, name=scope)
        return loss


@api_function("nn.softmax_cross_entropy_with_logits")
def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1, name=None, axis=None):
    """Softmax cross-entropy per example; `labels` are constants (no gradient).

    >>> tf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=scores)
    """
    _named_xent_args("softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    axis = axis if axis is not None else dim
    with name_scope(name, "softmax_cross_entropy_with_logits_sg", [logits, labels]) as scope:
        labels = tf.stop_gradient(labels, name="labels_stop_gradient")
        return softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, axis=axis, name=scope)


@api_function("nn.sparse_softmax_cross_entropy_with_logits")
def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Softmax cross-entropy against integer class labels (one per example).

    >>> loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=digits, logits=scores)
    """
    _named_xent_args("sparse_softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    with name_scope(name, "SparseSoftmaxCrossEntropyWithLogits", [labels, logits]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, name="labels")
        loss, _ = build("SparseSoftmaxCrossEntropyWithLogits", [logits, labels], name=scope)
        return loss


@api_function("nn.sigmoid_cross_entropy_with_logits")
def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Logistic loss of binary `labels` given `logits`, elementwise.

    >>> tf.nn.sigmoid_cross_entropy_with_logits(labels=is_cat, logits=scores)
    """
    _named_xent_args("sigmoid_cross_entropy_with_logits", _sentinel, labels, logits)
    with name_scope(name, "logistic_loss", [logits, labels]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=logits.dtype, name="labels")
        return build("SigmoidCrossEntropyWithLogits", [labels, logits], name=scope)


# -- bias, norms, normalization -----------------------------------------------------


def _channel_axis(data_format: str, rank: int | None) -> int:
    if data_format.startswith("NC"):
        return 1
    return -1 if rank is None else rank - 1


class BiasAdd(Op):
    """value + bias, bias along the channel dimension (last, or 1 for NC.. formats)."""

    inputs = ("value", "bias")
    attrs = {"data_format": "NHWC"}
    same_dtype = ("value", "bias")

    def infer(value, bias, data_format):
        check_dtype(value, "numeric", "value")
        if bias.shape.ndims not in (None, 1):
            raise ValueError(f"bias must be 1-D, got shape {format_shape(bias.shape)}")
        rank = value.shape.ndims
        if rank is not None and rank < 2:
            raise ValueError(f"value must have rank >= 2, got shape {format_shape(value.shape)}")
        if rank is None or bias.shape.dims is None:
            return same(value)
        axis = _channel_axis(data_format, rank)
        channels, size = value.shape.dims[axis], bias.shape.dims[0]
        if channels is not None and size is not None and channels != size:
            raise ValueError(
                f"bias of size {size} does not match the channel dimension of value "
                f"{format_shape(value.shape)} ({data_format}): {channels}"
            )
        dims = list(value.shape.dims)
        dims[axis] = channels if channels is not None else size
        return value.dtype, dims

    def kernel(xp, value, bias, data_format):
        if data_format.startswith("NC"):
            bias = bias.reshape((-1,) + (1,) * (value.ndim - 2))
        return value + bias

    def grad(op, dy):
        return [dy, build("BiasAddGrad", [dy], {"data_format": op.attrs["data_format"]})]


class BiasAddGrad(Op):
    """BiasAdd's gradient for the bias: out_backprop summed over all but the channels."""

    inputs = ("out_backprop",)
    attrs = {"data_format": "NHWC"}

    def infer(out_backprop, data_format):
        shape = out_backprop.shape
        if shape.dims is None:
            return out_backprop.dtype, [None]
        return out_backprop.dtype, [shape.dims[_channel_axis(data_format, shape.ndims)]]

    def kernel(xp, out_backprop, data_format):
        g = out_backprop
        if data_format.startswith("NC"):  # [N, C, rest]: sum the outer and inner axes
            return xp.sum(g.reshape(g.shape[0], g.shape[1], -1), axis=(0, 2), dtype=g.dtype)
        # a [rows, C] matrix summed down its rows as ones @ matrix: one BLAS call, ~15x
        # faster than numpy's sum over axis 0 for conv-sized gradients
        rows = g.reshape(-1, g.shape[-1])
        return xp.matmul(xp.ones(rows.shape[0], dtype=g.dtype), rows)

    def grad(op, g):
        dy = op.inputs[0]
        return [build("BiasAdd", [tf.zeros_like(dy), g], {"data_format": op.attrs["data_format"]})]


@api_function("nn.bias_add")
def bias_add(value, bias, data_format=None, name=None):
    """value + bias along the channels: `tf.nn.bias_add(conv, b)` (NHWC or NCHW)."""
    data_format = data_format or "NHWC"
    if data_format not in ("NHWC", "NCHW", "N..C", "NC.."):
        raise ValueError(f"data_format must be NHWC, NCHW, N..C or NC.., got {data_format!r}")
    with name_scope(name, "BiasAdd", [value, bias]) as scope:
        value = convert_to_tensor(value, name="input")
        bias = convert_to_tensor(bias, dtype=value.dtype, name="bias")
        return build("BiasAdd", [value, bias], {"data_format": data_format}, name=scope)


@api_function("nn.xw_plus_b")
def xw_plus_b(x, weights, biases, name=None):
    """matmul(x, weights) + biases: `logits = tf.nn.xw_plus_b(h, w, b)`."""
    with name_scope(name, "xw_plus_b", [x, weights, biases]) as scope:
        return bias_add(tf.matmul(x, weights), biases, name=scope)


@api_function("nn.relu_layer")
def relu_layer(x, weights, biases, name=None):
    """relu(matmul(x, weights) + biases): a dense layer with ReLU."""
    with name_scope(name, "relu_layer", [x, weights, biases]) as scope:
        return tf.nn.relu(bias_add(tf.matmul(x, weights), biases), name=scope)


class L2Loss(Op):
    """sum(t ** 2) / 2: `weight_decay = 1e-4 * tf.nn.l2_loss(w)`."""

    inputs = ("t",)
    api = "nn.l2_loss"

    def infer(t):
        check_dtype(t, "float", "t")
        return t.dtype, []

    def kernel(xp, t):
        flat = t.reshape(-1)
        return xp.asarray(xp.dot(flat, flat) / 2, dtype=t.dtype)

    def grad(op, dy):
        return [op.inputs[0] * dy]


@api_function("nn.l2_normalize", "math.l2_normalize")
def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x ** 2, axis), epsilon)): unit L2 norm along `axis`."""
    axis = _axis_or_dim(axis, dim, default=None)
    with name_scope(name, "l2_normalize", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        square_sum = tf.reduce_sum(tf.square(x), axis, keepdims=True)
        inv_norm = tf.rsqrt(tf.maximum(square_sum, tf.constant(epsilon, dtype=x.dtype)))
        return tf.multiply(x, inv_norm, name=scope)


@api_function("nn.moments")
def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """Mean and variance of `x` over `axes`: `mean, var = tf.nn.moments(x, [0])`."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    with name_scope(name, "moments", [x, axes]):
        x = convert_to_tensor(x, name="x")
        y = tf.cast(x, dtypes.float32) if x.dtype == dtypes.float16 else x
        axes = list(reduction_axes(axes, x.shape.ndims))
        mean = tf.reduce_mean(y, axes, keepdims=True, name="mean")
        variance = tf.reduce_mean(
            tf.squared_difference(y, tf.stop_gradient(mean)), axes, keepdims=True, name="variance"
        )
        if not keep:
            mean = tf.squeeze(mean, axes)
            variance = tf.squeeze(variance, axes)
        if x.dtype == dtypes.float16:
            return tf.cast(mean, x.dtype), tf.cast(variance, x.dtype)
        return mean, variance


@api_function("nn.batch_normalization")
def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) * scale / sqrt(variance + epsilon) + offset; offset/scale may be None."""
    with name_scope(name, "batchnorm", [x, mean, variance, scale, offset]):
        x = convert_to_tensor(x, name="x")
        inv = tf.rsqrt(variance + variance_epsilon)
        if scale is not None:
            inv = inv * scale
        shift = offset - mean * inv if offset is not None else tf.negative(mean) * inv
        return x * tf.cast(inv, x.dtype) + tf.cast(shift, x.dtype)


class InTopKV2(Op):
    """Whether each target's prediction is among the k largest of its row.

    Ties count in the target's favour (only strictly larger predictions rank above
    it); a row with a non-finite prediction or an out-of-range target gives False.
    """

    inputs = ("predictions", "targets", "k")
    same_dtype = ("targets", "k")
    api = ("nn.in_top_k", "math.in_top_k")
    differentiable = False

    def infer(predictions, targets, k):
        check_dtype(predictions, "float", "predictions")
        check_dtype(targets, "int", "targets")
        if predictions.shape.ndims not in (None, 2):
            raise ValueError(f"predictions must be 2-D, got {format_shape(predictions.shape)}")
        if targets.shape.ndims not in (None, 1):
            raise ValueError(f"targets must be 1-D, got {format_shape(targets.shape)}")
        batch = predictions.shape.dims[0] if predictions.shape.dims else None
        shape = TensorShape([batch]).merge_with(targets.shape) if targets.shape.dims else TensorShape([batch])
        return dtypes.bool, shape

    def kernel(xp, predictions, targets, k):
        classes = predictions.shape[1]
        valid = (targets >= 0) & (targets < classes)
        index = xp.clip(targets, 0, max(classes - 1, 0)).astype(xp.intp)[:, None]
        target = xp.take_along_axis(predictions, index, axis=1)
        larger = xp.sum(predictions > target, axis=1)
        finite = xp.all(xp.isfinite(predictions), axis=1)
        return valid & finite & (larger < int(k))


# -- dropout --------------------------------------------------------------------------


def _keep_probability(keep_prob, rate, dtype):
    """keep_prob as a Python float or a scalar tensor (TF1 accepts keep_prob or rate)."""
    if keep_prob is not None and rate is not None:
        raise ValueError("Cannot specify both 'keep_prob' and 'rate'.")
    if keep_prob is None and rate is None:
        raise ValueError("`rate` must be provided. Received: rate=None")
    value = keep_prob if keep_prob is not None else rate
    if isinstance(value, int | float):
        keep = float(keep_prob) if keep_prob is not None else 1.0 - float(rate)
        if not 0.0 < keep <= 1.0:
            raise ValueError(
                f"`rate` must be a scalar tensor or a float in the range [0, 1). Received: rate={1.0 - keep}"
            )
        return keep
    value = convert_to_tensor(value, dtype=dtype, name="keep_prob" if keep_prob is not None else "rate")
    if value.shape.ndims not in (None, 0):
        raise ValueError(f"keep_prob must be a scalar, got shape {format_shape(value.shape)}")
    return value if keep_prob is not None else tf.subtract(tf.constant(1, dtype=dtype), value)


def _noise_shape(x, noise_shape):
    """The shape of dropout's mask: x's, or noise_shape with None dims taken from x."""
    if noise_shape is None:
        return x.shape.as_list() if x.shape.is_fully_defined() else tf.shape(x)
    if isinstance(noise_shape, list | tuple) and any(d is None for d in noise_shape):
        dims = x.shape.dims
        if dims is None or len(dims) != len(noise_shape):
            raise ValueError(f"noise_shape {list(noise_shape)} does not match x {format_shape(x.shape)}")
        dynamic = None
        filled = []
        for i, (n, d) in enumerate(zip(noise_shape, dims)):
            if n is not None:
                filled.append(n)
            elif d is not None:
                filled.append(d)
            else:
                dynamic = tf.shape(x) if dynamic is None else dynamic
                filled.append(dynamic[i])
        return filled
    return noise_shape


@api_function("nn.dropout")
def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """Keeps each element with probability keep_prob, scaled by 1/keep_prob; else 0.

    >>> keep = tf.placeholder_with_default(1.0, [])
    >>> h = tf.nn.dropout(h, keep_prob=keep)
    """
    with name_scope(name, "dropout", [x]) as scope:
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise ValueError(
                f"x has to be a floating point tensor since it's going to be scaled. Got a "
                f"{x.dtype.name} tensor instead."
            )
        keep = _keep_probability(keep_prob, rate, x.dtype)
        if isinstance(keep, float) and keep == 1.0:
            return x
        uniform = tf.random_uniform(_noise_shape(x, noise_shape), seed=seed, dtype=x.dtype)
        if isinstance(keep, float):
            scale = tf.constant(1.0 / keep, dtype=x.dtype)
            keep = tf.constant(keep, dtype=x.dtype)
        else:
            scale = tf.realdiv(tf.constant(1, dtype=x.dtype), keep)
        mask = tf.cast(tf.less(uniform, keep), x.dtype)  # 1 with probability keep_prob
        return tf.multiply(x * scale, mask, name=scope)
