"""More of tf.nn: top_k, local response normalization, fused batch norm and small composites.

TopKV2 sorts the last axis once (a stable sort of the negated values, so among
equal values the lower index comes first, as in TensorFlow) and returns the k
largest values and their indices. Its gradient scatters the values' gradient
back to those indices with one segment sum over the flattened input.

LRN normalizes each element by the sum of squares of its neighbours along the
depth (last) axis: out = x / (bias + alpha * sum(x[d-r..d+r] ** 2)) ** beta. The
kernel and its gradient op, LRNGrad, each add 2r + 1 shifted slices; LRNGrad has
no gradient of its own (as in TensorFlow).

fused_batch_norm, batch_norm_with_global_normalization, swish, zero_fraction,
log_poisson_loss and the moment helpers are composites of other families' ops,
so their gradients come from those ops.
"""

from __future__ import annotations

import math

from ops import api as tf
from ops.common import check_dtype, check_scalar, reduction_axes, same, scalar_value
from ops.registry import Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, format_shape

# -- top_k ---------------------------------------------------------------------------


class TopKV2(Op):
    """The k largest entries of the last axis of `input`, and their indices.

    >>> values, indices = tf.nn.top_k(scores, k=5)    # scores [batch, n] -> [batch, 5] each
    """

    inputs = ("input", "k")
    attrs = {"sorted": True, "index_type": dtypes.int32}
    multi_output = True

    def infer(input, k, sorted, index_type):
        check_dtype(input, "numeric", "input")
        check_scalar(k, "k", "int")
        index_type = dtypes.as_dtype(index_type)
        kv = scalar_value(k)
        if kv is not None and kv < 0:
            raise ValueError(f"k must be non-negative, got {kv}")
        dims = input.shape.dims
        if dims is None:
            return [(input.dtype, None), (index_type, None)]
        if not dims:
            raise ValueError(f"input must have rank >= 1, got shape {format_shape(input.shape)}")
        if kv is not None and dims[-1] is not None and dims[-1] < kv:
            raise ValueError(
                f"input must have at least k={kv} columns, got shape {format_shape(input.shape)}"
            )
        shape = TensorShape(list(dims[:-1]) + [kv])
        return [(input.dtype, shape), (index_type, shape)]

    def kernel(xp, input, k, sorted, index_type):
        k = int(k)
        if k > input.shape[-1]:
            raise errors.InvalidArgumentError(
                None, None, f"input must have at least k={k} columns, got shape {list(input.shape)}"
            )
        key = -input if input.dtype.kind == "f" else ~input  # descending; ~ never overflows
        order = xp.argsort(key, axis=-1, kind="stable")[..., :k]
        values = xp.take_along_axis(input, order, axis=-1)
        return [values, order.astype(dtypes.as_dtype(index_type).np)]

    def grad(op, dvalues, dindices):
        x, indices = op.inputs[0], op.outputs[1]
        n = tf.cast(tf.shape(x)[-1], indices.dtype)
        k = tf.shape(indices)[-1]
        rows = tf.reshape(indices, tf.stack([-1, k]))
        offsets = tf.range(tf.cast(0, indices.dtype), tf.cast(tf.size(x), indices.dtype), n)
        positions = tf.reshape(rows + tf.expand_dims(offsets, 1), [-1])
        dx = tf.unsorted_segment_sum(tf.reshape(dvalues, [-1]), positions, tf.size(x))
        return [tf.reshape(dx, tf.shape(x)), None]


@api_function("nn.top_k", "math.top_k")
def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):
    """The `k` largest entries of the last axis and their indices: `values, indices = tf.nn.top_k(x, 3)`.

    Among equal values the lower index comes first.
    """
    input = convert_to_tensor(input, name="input")
    k = convert_to_tensor(k, dtype=dtypes.int32, name="k")
    attrs = {"sorted": bool(sorted), "index_type": dtypes.as_dtype(index_type)}
    return tuple(build("TopKV2", [input, k], attrs, name=name or "TopKV2"))


# -- local response normalization ------------------------------------------------------------

LRN_ATTRS = {"depth_radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}


def _depth_window_sum(xp, v, radius: int):
    """sum(v[..., d - radius : d + radius + 1]) for every d of the last axis (zeros beyond it)."""
    out = v.copy()
    for s in range(1, min(radius, v.shape[-1] - 1) + 1):
        out[..., s:] += v[..., :-s]
        out[..., :-s] += v[..., s:]
    return out


def _check_4d(t, what: str) -> None:
    if t.shape.ndims not in (None, 4):
        raise ValueError(f"{what} must be 4-D, got shape {format_shape(t.shape)}")


class LRN(Op):
    """Local response normalization over the depth (last) axis of a 4-D input."""

    inputs = ("input",)
    attrs = LRN_ATTRS

    def infer(input, depth_radius, bias, alpha, beta):
        check_dtype(input, "float", "input")
        _check_4d(input, "input")
        return same(input)

    def kernel(xp, input, depth_radius, bias, alpha, beta):
        norm = bias + alpha * _depth_window_sum(xp, input * input, int(depth_radius))
        return (input * norm ** (-beta)).astype(input.dtype, copy=False)

    def grad(op, dy):
        attrs = {k: op.attrs[k] for k in LRN_ATTRS}
        return [build("LRNGrad", [dy, op.inputs[0], op.outputs[0]], attrs)]


class LRNGrad(Op):
    """LRN's gradient: input_grads taken back through the normalization of input_image."""

    inputs = ("input_grads", "input_image", "output_image")
    attrs = LRN_ATTRS
    same_dtype = ("input_grads", "input_image", "output_image")
    differentiable = False

    def infer(input_grads, input_image, output_image, depth_radius, bias, alpha, beta):
        check_dtype(input_grads, "float", "input_grads")
        for t, what in (
            (input_grads, "input_grads"),
            (input_image, "input_image"),
            (output_image, "output_image"),
        ):
            _check_4d(t, what)
        return input_grads.dtype, input_grads.shape.merge_with(input_image.shape)

    def kernel(xp, input_grads, input_image, output_image, depth_radius, bias, alpha, beta):
        r = int(depth_radius)
        dy, x, y = input_grads, input_image, output_image
        norm = bias + alpha * _depth_window_sum(xp, x * x, r)
        # y_i = x_i * N_i^-beta with N_i over the window of i; the windows are symmetric
        dx = dy * norm ** (-beta) - (2 * alpha * beta) * x * _depth_window_sum(xp, dy * y / norm, r)
        return dx.astype(dy.dtype, copy=False)


@api_function("nn.lrn", "nn.local_response_normalization")
def lrn(input, depth_radius=5, bias=1, alpha=1, beta=0.5, name=None):
    """x / (bias + alpha * sum of squares over 2 * depth_radius + 1 channels) ** beta.

    >>> h = tf.nn.lrn(conv, depth_radius=4, bias=1.0, alpha=0.001 / 9.0, beta=0.75)
    """
    attrs = {
        "depth_radius": int(depth_radius),
        "bias": float(bias),
        "alpha": float(alpha),
        "beta": float(beta),
    }
    return build("LRN", [convert_to_tensor(input, name="input")], attrs, name=name or "LRN")


# -- batch normalization -----------------------------------------------------------------------


def _channels_shape(x, data_format: str):
    """The shape mean/scale/offset broadcast to against x: [C] (channels last) or [C, 1, 1]."""
    if data_format in ("NHWC", "NDHWC"):
        return None
    return [-1] + [1] * (x.shape.ndims - 2)


@api_function("nn.fused_batch_norm")
def fused_batch_norm(
    x,
    scale,
    offset,
    mean=None,
    variance=None,
    epsilon=0.001,
    data_format="NHWC",
    is_training=True,
    name=None,
    exponential_avg_factor=1.0,
):
    """Batch normalization of a 4-D (or 5-D) input over all but its channel axis.

    Returns (y, mean, variance). Training: the batch's mean and its unbiased
    variance (or, with exponential_avg_factor < 1, those mixed into the given
    mean and variance); inference: normalizes with the given mean and variance.
    As in TensorFlow, gradients flow from y only, to x, scale and offset.

    >>> y, batch_mean, batch_var = tf.nn.fused_batch_norm(x, gamma, beta, epsilon=1e-3)
    """
    with name_scope(name, "FusedBatchNorm", [x, scale, offset]):
        x = convert_to_tensor(x, name="input")
        if x.shape.ndims not in (4, 5):
            raise ValueError(f"fused_batch_norm: x must be 4-D or 5-D, got shape {format_shape(x.shape)}")
        if data_format not in ("NHWC", "NCHW", "NDHWC", "NCDHW"):
            raise ValueError(f"fused_batch_norm: data_format must be NHWC or NCHW, got {data_format!r}")
        check_dtype(x, "float", "x")
        compute = dtypes.float32 if x.dtype == dtypes.float16 else x.dtype
        xc = tf.cast(x, compute) if compute != x.dtype else x
        scale = convert_to_tensor(scale, dtype=compute, name="scale")
        offset = convert_to_tensor(offset, dtype=compute, name="offset")
        epsilon = max(float(epsilon), 1.001e-5)  # cuDNN's smallest, which TensorFlow enforces
        rank = x.shape.ndims
        channel = 1 if data_format.startswith("NC") else rank - 1
        axes = [a for a in range(rank) if a != channel]
        shape = _channels_shape(x, data_format)

        def per_channel(t):
            return t if shape is None else tf.reshape(t, shape)

        if is_training:
            batch_mean, batch_var = tf.nn.moments(xc, axes)
            count = tf.cast(tf.size(xc) // tf.shape(xc)[channel], compute)
            unbiased = batch_var * count / tf.maximum(count - 1, tf.constant(1, compute))
            new_mean, new_var = batch_mean, unbiased
            if exponential_avg_factor != 1.0:
                if mean is None or variance is None:
                    raise ValueError("fused_batch_norm: exponential_avg_factor needs mean and variance")
                f = float(exponential_avg_factor)
                new_mean = (1 - f) * convert_to_tensor(mean, dtype=compute) + f * batch_mean
                new_var = (1 - f) * convert_to_tensor(variance, dtype=compute) + f * unbiased
            norm_mean, norm_var = batch_mean, batch_var
        else:
            if mean is None or variance is None:
                raise ValueError("fused_batch_norm: mean and variance must be given when is_training=False")
            # as TensorFlow's gradient: none for the given mean and variance
            new_mean = norm_mean = tf.stop_gradient(convert_to_tensor(mean, dtype=compute, name="mean"))
            new_var = norm_var = tf.stop_gradient(convert_to_tensor(variance, dtype=compute, name="variance"))
        y = tf.nn.batch_normalization(
            xc,
            per_channel(norm_mean),
            per_channel(norm_var),
            per_channel(offset),
            per_channel(scale),
            epsilon,
        )
        y = tf.cast(y, x.dtype) if compute != x.dtype else y
        # TensorFlow's FusedBatchNormGrad takes the gradient of y only: the statistics are outputs, not paths
        new_mean, new_var = tf.stop_gradient(new_mean), tf.stop_gradient(new_var)
        return (
            tf.identity(y, name="y"),
            tf.identity(new_mean, name="mean"),
            tf.identity(new_var, name="variance"),
        )


@api_function("nn.batch_norm_with_global_normalization")
def batch_norm_with_global_normalization(
    t=None,
    m=None,
    v=None,
    beta=None,
    gamma=None,
    variance_epsilon=None,
    scale_after_normalization=None,
    name=None,
    input=None,
    mean=None,
    variance=None,
):
    """The old batch norm: (t - m) / sqrt(v + eps) * gamma + beta, gamma only if scale_after_normalization."""
    t = input if input is not None else t
    m = mean if mean is not None else m
    v = variance if variance is not None else v
    with name_scope(name, "batchnorm", [t, m, v, beta, gamma]) as scope:
        scale = gamma if scale_after_normalization else None
        return tf.nn.batch_normalization(t, m, v, beta, scale, variance_epsilon, name=scope)


@api_function("nn.sufficient_statistics")
def sufficient_statistics(x, axes, shift=None, keep_dims=None, name=None, keepdims=None):
    """(count, sum of x - shift, sum of (x - shift) ** 2, shift) over `axes`, for normalize_moments."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    with name_scope(name, "sufficient_statistics", [x, shift]):
        x = convert_to_tensor(x, name="x")
        axes = list(reduction_axes(axes, x.shape.ndims))
        dims = x.shape.dims
        if dims is not None and all(dims[a] is not None for a in axes):
            count = tf.constant(float(math.prod(dims[a] for a in axes)), dtype=x.dtype, name="count")
        else:
            count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), axes)), x.dtype, name="count")
        if shift is not None:
            shift = convert_to_tensor(shift, dtype=x.dtype, name="shift")
            m_ss = tf.subtract(x, shift)
            v_ss = tf.squared_difference(x, shift)
        else:
            m_ss, v_ss = x, tf.square(x)
        m_ss = tf.reduce_sum(m_ss, axes, keepdims=keep, name="mean_ss")
        v_ss = tf.reduce_sum(v_ss, axes, keepdims=keep, name="var_ss")
        return count, m_ss, v_ss, shift


@api_function("nn.normalize_moments")
def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    """(mean, variance) from sufficient_statistics' sums."""
    with name_scope(name, "normalize", [counts, mean_ss, variance_ss, shift]):
        divisor = tf.reciprocal(counts, name="divisor")
        if shift is not None:
            shifted_mean = tf.multiply(mean_ss, divisor, name="shifted_mean")
            mean = tf.add(shifted_mean, shift, name="mean")
        else:
            shifted_mean = tf.multiply(mean_ss, divisor, name="mean")
            mean = shifted_mean
        variance = tf.subtract(tf.multiply(variance_ss, divisor), tf.square(shifted_mean), name="variance")
        return mean, variance


@api_function("nn.weighted_moments")
def weighted_moments(x, axes, frequency_weights, name=None, keep_dims=None, keepdims=None):
    """Mean and variance of x over `axes`, each element weighted by frequency_weights (broadcast)."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    with name_scope(name, "weighted_moments", [x, frequency_weights, axes]):
        x = convert_to_tensor(x, name="x")
        w = convert_to_tensor(frequency_weights, dtype=x.dtype, name="frequency_weights")
        axes = list(reduction_axes(axes, x.shape.ndims))
        weighted_sum = tf.reduce_sum(w * x, axes, keepdims=True)
        total = tf.reduce_sum(w + tf.zeros_like(x), axes, keepdims=True)
        divisor = tf.reciprocal(total)
        mean = weighted_sum * divisor
        variance = tf.reduce_sum(w * tf.squared_difference(x, mean), axes, keepdims=True) * divisor
        if not keep:
            mean, variance = tf.squeeze(mean, axes), tf.squeeze(variance, axes)
        return mean, variance


# -- small composites ----------------------------------------------------------------------------


@api_function("nn.swish")
def swish(features, beta=1.0):
    """features * sigmoid(beta * features) (SiLU for beta 1)."""
    with name_scope(None, "swish", [features]):
        features = convert_to_tensor(features, name="features")
        scaled = features if beta == 1.0 else features * tf.cast(beta, features.dtype)
        return tf.multiply(features, tf.sigmoid(scaled), name="swish")


@api_function("nn.zero_fraction", "math.zero_fraction")
def zero_fraction(value, name=None):
    """The fraction of zeros in `value`, a float32 scalar: `tf.summary.scalar("sparsity", tf.nn.zero_fraction(h))`."""
    with name_scope(name, "zero_fraction", [value]):
        value = convert_to_tensor(value, name="value")
        zero = tf.zeros([], dtype=value.dtype)
        return tf.reduce_mean(tf.cast(tf.equal(value, zero), dtypes.float32), name="fraction")


@api_function("nn.log_poisson_loss")
def log_poisson_loss(targets, log_input, compute_full_loss=False, name=None):
    """exp(log_input) - log_input * targets, plus Stirling's term for targets > 1 if compute_full_loss."""
    with name_scope(name, "log_poisson_loss", [log_input, targets]) as scope:
        log_input = convert_to_tensor(log_input, name="log_input")
        targets = convert_to_tensor(targets, dtype=log_input.dtype, name="targets")
        if not log_input.shape.is_compatible_with(targets.shape):
            raise ValueError(
                f"log_input and targets must have the same shape ({format_shape(log_input.shape)} vs "
                f"{format_shape(targets.shape)})"
            )
        result = tf.exp(log_input) - log_input * targets
        if not compute_full_loss:
            return tf.identity(result, name=scope)
        two_pi = tf.constant(2 * math.pi, dtype=targets.dtype)
        stirling = targets * tf.log(targets) - targets + 0.5 * tf.log(two_pi * targets)
        small = tf.logical_and(
            tf.greater_equal(targets, 0 * targets), tf.less_equal(targets, 0 * targets + 1)
        )
        return tf.add(result, tf.where(small, tf.zeros_like(targets), stirling), name=scope)


@api_function("nn.silu")
def silu(features, beta=1.0):
    """features * sigmoid(beta * features): swish's other name."""
    return swish(features, beta)


@api_function("nn.weighted_cross_entropy_with_logits")
def weighted_cross_entropy_with_logits(labels=None, logits=None, pos_weight=None, name=None, targets=None):
    """Sigmoid cross-entropy with the positive term weighted by pos_weight, computed stably."""
    labels = targets if labels is None else labels
    with name_scope(name, "logistic_loss", [logits, labels]) as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=logits.dtype, name="labels")
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(
                f"logits and labels must have the same shape ({format_shape(logits.shape)} vs "
                f"{format_shape(labels.shape)})"
            )
        log_weight = 1 + (tf.cast(pos_weight, logits.dtype) - 1) * labels
        softplus_neg = tf.log1p(tf.exp(tf.negative(tf.abs(logits)))) + tf.nn.relu(tf.negative(logits))
        return tf.add((1 - labels) * logits, log_weight * softplus_neg, name=scope)
