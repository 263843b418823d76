"""Op test cases for the nn family (see cases.py for the contract).

The numpy references are written independently of the kernels: convolutions and
poolings loop over output positions (see `_windows_of`), so they are slow but
plainly right, which is why their shapes are small.
"""

from __future__ import annotations

import numpy as np

import raygraph as tf
from tests.ops.cases import Case, positive, uniform  # noqa: F401

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717
UNARY = [((3, 4),), ((2, 3, 4),)]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _softmax(x, axis=-1):
    return np.exp(_log_softmax(x, axis))


def _raw(op_type, **fixed):
    """A build function calling tf.raw_ops.<op_type> with its inputs in order."""
    from ops import registry

    names = registry.get(op_type).input_names()
    free = [n for n in names if n not in fixed]

    def build(*tensors):
        return getattr(tf.raw_ops, op_type)(**dict(zip(free, tensors)), **fixed)

    return build


# -- activations -----------------------------------------------------------------------

ACTIVATIONS = [
    Case("Relu", tf.nn.relu, lambda x: np.maximum(x, 0), UNARY),
    Case(
        "Relu",
        tf.nn.relu,
        lambda x: np.maximum(x, 0),
        [((5,),)],
        dtypes=("int32",),
        grad=False,
        label="int32",
    ),
    Case("Relu6", tf.nn.relu6, lambda x: np.clip(x, 0, 6), UNARY, inputs=uniform(-3, 9)),
    Case("Elu", tf.nn.elu, lambda x: np.where(x > 0, x, np.expm1(x)), UNARY),
    Case("Selu", tf.nn.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)), UNARY),
    Case("LeakyRelu", tf.nn.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x), UNARY),
    Case(
        "LeakyRelu",
        lambda x: tf.nn.leaky_relu(x, alpha=0.01),
        lambda x: np.where(x > 0, x, 0.01 * x),
        [((3, 4),)],
        label="alpha",
    ),
    Case("Softplus", tf.nn.softplus, lambda x: np.log1p(np.exp(x)), UNARY),
    Case(
        "Softplus",
        tf.nn.softplus,
        lambda x: np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))),
        [((4, 5),)],
        inputs=uniform(-80, 80),
        grad=False,
        label="large",
    ),
    Case("Softsign", tf.nn.softsign, lambda x: x / (1 + np.abs(x)), UNARY),
]

ACTIVATION_GRADS = [
    Case("ReluGrad", _raw("ReluGrad"), lambda g, y: g * (y > 0), [((3, 4), (3, 4))]),
    Case(
        "Relu6Grad",
        _raw("Relu6Grad"),
        lambda g, x: g * ((x > 0) & (x < 6)),
        [((3, 4), (3, 4))],
        inputs=uniform(-3, 9),
    ),
    Case("EluGrad", _raw("EluGrad"), lambda g, y: np.where(y > 0, g, g * (y + 1)), [((3, 4), (3, 4))]),
    Case(
        "SeluGrad",
        _raw("SeluGrad"),
        lambda g, y: np.where(y > 0, g * SELU_SCALE, g * (y + SELU_SCALE * SELU_ALPHA)),
        [((3, 4), (3, 4))],
    ),
    Case(
        "LeakyReluGrad",
        _raw("LeakyReluGrad", alpha=0.3),
        lambda g, x: np.where(x > 0, g, 0.3 * g),
        [((3, 4), (3, 4))],
    ),
    Case("SoftplusGrad", _raw("SoftplusGrad"), lambda g, x: g * _sigmoid(x), [((3, 4), (3, 4))]),
    Case("SoftsignGrad", _raw("SoftsignGrad"), lambda g, x: g / (1 + np.abs(x)) ** 2, [((3, 4), (3, 4))]),
]

# -- the LSTM cell's update (ops.nn_rnn) ---------------------------------------------------


def _lstm_update(gates, c, forget_bias=0.5):
    i, j, f, o = np.split(gates, 4, axis=1)
    new_c = c * _sigmoid(f + forget_bias) + _sigmoid(i) * np.tanh(j)
    return [new_c, np.tanh(new_c) * _sigmoid(o)]


def _lstm_update_grad(gates, c, dc, dh, forget_bias=0.5):
    i, j, f, o = np.split(gates, 4, axis=1)
    si, tj, sf, so = _sigmoid(i), np.tanh(j), _sigmoid(f + forget_bias), _sigmoid(o)
    tc = np.tanh(c * sf + si * tj)
    total = dc + dh * so * (1 - tc**2)
    d_gates = [
        total * tj * si * (1 - si),
        total * si * (1 - tj**2),
        total * c * sf * (1 - sf),
        dh * tc * so * (1 - so),
    ]
    return [np.concatenate(d_gates, axis=1), total * sf]


def _lstm_update_grad_op(gates, c, dc, dh):
    new_c, _ = tf.raw_ops.LSTMCellUpdate(gates=gates, c_prev=c, forget_bias=0.5)
    return tf.raw_ops.LSTMCellUpdateGrad(gates=gates, c_prev=c, new_c=new_c, dc=dc, dh=dh, forget_bias=0.5)


RNN = [
    Case(
        "LSTMCellUpdate",
        _raw("LSTMCellUpdate", forget_bias=0.5),
        _lstm_update,
        [((3, 8), (3, 2)), ((1, 20), (1, 5))],
    ),
    Case(
        "LSTMCellUpdate",
        _raw("LSTMCellUpdate", forget_bias=0.5),
        _lstm_update,
        [((2, 8), (2, 2))],
        dtypes=("float64",),
        label="float64",
    ),
    Case(
        "LSTMCellUpdateGrad",
        _lstm_update_grad_op,
        _lstm_update_grad,
        [((3, 8), (3, 2), (3, 2), (3, 2))],
        grad=False,
        rtol=1e-4,
        atol=1e-5,
    ),
]

# -- softmax and losses -------------------------------------------------------------------


def _labels_then_logits(rng, shapes, dtypes, axis=-1):
    """Probability-like labels (summing to 1 along `axis`) and logits.

    TensorFlow's gradient for the logits, softmax - labels, assumes such labels.
    """
    labels = rng.uniform(0, 1, shapes[0])
    labels = labels / labels.sum(axis=axis, keepdims=True)
    return [labels.astype(dtypes[0]), rng.uniform(-3, 3, shapes[1]).astype(dtypes[1])]


def _logits_then_labels(rng, shapes, dtypes):
    return _labels_then_logits(rng, shapes[::-1], dtypes[::-1])[::-1]


def _logits_then_class_labels(rng, shapes, dtypes):
    logits = rng.uniform(-3, 3, shapes[0]).astype(dtypes[0])
    return [logits, rng.integers(0, shapes[0][-1], shapes[1]).astype(dtypes[1])]


def _binary_labels_then_logits(rng, shapes, dtypes):
    return [rng.uniform(0, 1, shapes[0]).astype(dtypes[0]), rng.uniform(-4, 4, shapes[1]).astype(dtypes[1])]


def _xent(labels, logits, axis=-1):
    return -(labels * _log_softmax(logits, axis)).sum(axis=axis)


def _sparse_xent(logits, labels):
    return -np.take_along_axis(_log_softmax(logits), labels[..., None], -1)[..., 0]


def _onehot(labels, n):
    return np.eye(n)[labels]


LOSSES = [
    Case("Softmax", tf.nn.softmax, _softmax, UNARY),
    Case("Softmax", lambda x: tf.nn.softmax(x, axis=0), lambda x: _softmax(x, 0), [((3, 4),)], label="axis0"),
    Case("Softmax", lambda x: tf.nn.softmax(x, dim=1), lambda x: _softmax(x, 1), [((2, 3, 4),)], label="dim"),
    Case(
        "Softmax",
        tf.nn.softmax,
        _softmax,
        [((2, 3),)],
        inputs=uniform(500, 900),
        grad=False,
        rtol=1e-4,
        label="large",
    ),
    Case("LogSoftmax", tf.nn.log_softmax, _log_softmax, UNARY),
    Case(
        "LogSoftmax",
        lambda x: tf.nn.log_softmax(x, axis=0),
        lambda x: _log_softmax(x, 0),
        [((3, 4),)],
        label="axis0",
    ),
    Case(
        "SoftmaxCrossEntropyWithLogits",
        lambda y, z: tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=z),
        _xent,
        [((4, 5), (4, 5)), ((2, 3, 4), (2, 3, 4))],
        inputs=_labels_then_logits,
    ),
    Case(
        "SoftmaxCrossEntropyWithLogits",
        lambda y, z: tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=z, dim=0),
        lambda y, z: _xent(y, z, 0),
        [((4, 5), (4, 5))],
        grad_inputs=(1,),
        label="v1-dim0",
        inputs=lambda rng, shapes, dtypes: _labels_then_logits(rng, shapes, dtypes, axis=0),
    ),
    Case(
        "SoftmaxCrossEntropyWithLogits",
        _raw("SoftmaxCrossEntropyWithLogits"),
        lambda z, y: [_xent(y, z), _softmax(z) - y],
        [((4, 5), (4, 5))],
        inputs=_logits_then_labels,
        label="both-outputs",
    ),
    Case(
        "SparseSoftmaxCrossEntropyWithLogits",
        lambda z, y: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z),
        _sparse_xent,
        [((4, 5), (4,)), ((2, 3, 4), (2, 3))],
        dtypes=("float32", "int32"),
        inputs=_logits_then_class_labels,
    ),
    Case(
        "SparseSoftmaxCrossEntropyWithLogits",
        _raw("SparseSoftmaxCrossEntropyWithLogits"),
        lambda z, y: [_sparse_xent(z, y), _softmax(z) - _onehot(y, z.shape[-1])],
        [((4, 5), (4,))],
        dtypes=("float32", "int64"),
        inputs=_logits_then_class_labels,
        label="both-outputs",
    ),
    Case(
        "SigmoidCrossEntropyWithLogits",
        lambda y, z: tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z),
        lambda z_, x: np.maximum(x, 0) - x * z_ + np.log1p(np.exp(-np.abs(x))),
        [((4, 5), (4, 5))],
        inputs=_binary_labels_then_logits,
    ),
    Case(
        "SigmoidCrossEntropyWithLogits",
        lambda y, z: tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=z),
        lambda z_, x: np.maximum(x, 0) - x * z_ + np.log1p(np.exp(-np.abs(x))),
        [((6,), (6,))],
        inputs=lambda rng, s, d: [
            rng.uniform(0, 1, s[0]).astype(d[0]),
            rng.uniform(-200, 200, s[1]).astype(d[1]),
        ],
        grad=False,
        label="large",
    ),
]

# -- bias, norms, top-k --------------------------------------------------------------------


def _in_top_k(k):
    def ref(predictions, targets):
        target = np.take_along_axis(predictions, targets[:, None], 1)
        return (predictions > target).sum(axis=1) < k

    return ref


def _predictions_then_targets(rng, shapes, dtypes):
    predictions = rng.uniform(-1, 1, shapes[0]).astype(dtypes[0])
    return [predictions, rng.integers(0, shapes[0][1], shapes[1]).astype(dtypes[1])]


MISC = [
    Case("BiasAdd", tf.nn.bias_add, lambda x, b: x + b, [((3, 4), (4,)), ((2, 3, 5, 4), (4,))]),
    Case(
        "BiasAdd",
        lambda x, b: tf.nn.bias_add(x, b, data_format="NCHW"),
        lambda x, b: x + b[:, None, None],
        [((2, 3, 4, 5), (3,))],
        label="NCHW",
    ),
    Case("BiasAddGrad", _raw("BiasAddGrad"), lambda g: g.sum(axis=(0, 1)), [((2, 3, 4),)]),
    Case(
        "BiasAddGrad",
        _raw("BiasAddGrad", data_format="NCHW"),
        lambda g: g.sum(axis=(0, 2, 3)),
        [((2, 3, 4, 5),)],
        label="NCHW",
    ),
    Case("L2Loss", tf.nn.l2_loss, lambda t: np.sum(t * t) / 2, [((3, 4),), ((7,),)]),
    Case(
        "InTopKV2",
        lambda p, t: tf.nn.in_top_k(p, t, 2),
        _in_top_k(2),
        [((6, 5), (6,))],
        dtypes=("float32", "int32"),
        inputs=_predictions_then_targets,
        grad=False,
    ),
    Case(
        "InTopKV2",
        lambda p, t: tf.nn.in_top_k(p, t, 1),
        _in_top_k(1),
        [((6, 5), (6,))],
        dtypes=("float32", "int64"),
        inputs=_predictions_then_targets,
        grad=False,
        label="int64",
    ),
]

# -- convolution and pooling ------------------------------------------------------------------


def _pads(size, k, stride, dilation, padding):
    """(out, before) of one spatial dim by TF's rule (extra SAME padding after)."""
    eff = (k - 1) * dilation + 1
    if padding == "VALID":
        return (size - eff) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + eff - size, 0) // 2


def _windows_of(shape, k, strides, padding, dilations=(1, 1)):
    """For each output (oh, ow): the input rows, cols of its taps (maybe out of range)."""
    _, h, w, _ = shape
    oh, top = _pads(h, k[0], strides[0], dilations[0], padding)
    ow, left = _pads(w, k[1], strides[1], dilations[1], padding)
    for i in range(oh):
        for j in range(ow):
            rows = i * strides[0] - top + dilations[0] * np.arange(k[0])
            cols = j * strides[1] - left + dilations[1] * np.arange(k[1])
            yield i, j, rows, cols


def _out_shape(shape, k, strides, padding, dilations=(1, 1), channels=None):
    oh = _pads(shape[1], k[0], strides[0], dilations[0], padding)[0]
    ow = _pads(shape[2], k[1], strides[1], dilations[1], padding)[0]
    return (shape[0], oh, ow, shape[3] if channels is None else channels)


def _inside(rows, cols, shape):
    r = (rows >= 0) & (rows < shape[1])
    c = (cols >= 0) & (cols < shape[2])
    return rows[r], cols[c], r, c


def conv2d_ref(x, w, strides=(1, 1), padding="SAME", dilations=(1, 1)):
    out = np.zeros(_out_shape(x.shape, w.shape[:2], strides, padding, dilations, w.shape[3]), x.dtype)
    for i, j, rows, cols in _windows_of(x.shape, w.shape[:2], strides, padding, dilations):
        rr, cc, r, c = _inside(rows, cols, x.shape)
        patch = x[:, rr][:, :, cc]  # [N, kh', kw', C]
        out[:, i, j] = np.einsum("nhwc,hwco->no", patch, w[r][:, c])
    return out


def conv2d_input_ref(shape, w, dy, strides=(1, 1), padding="SAME", dilations=(1, 1)):
    dx = np.zeros(shape, dy.dtype)
    for i, j, rows, cols in _windows_of(shape, w.shape[:2], strides, padding, dilations):
        rr, cc, r, c = _inside(rows, cols, shape)
        dx[:, rr[:, None], cc[None, :]] += np.einsum("no,hwco->nhwc", dy[:, i, j], w[r][:, c])
    return dx


def conv2d_filter_ref(x, fshape, dy, strides=(1, 1), padding="SAME", dilations=(1, 1)):
    dw = np.zeros(fshape, dy.dtype)
    for i, j, rows, cols in _windows_of(x.shape, fshape[:2], strides, padding, dilations):
        rr, cc, r, c = _inside(rows, cols, x.shape)
        dw[np.ix_(r, c)] += np.einsum("nhwc,no->hwco", x[:, rr][:, :, cc], dy[:, i, j])
    return dw


def _first_max(x, i, j, rows, cols):
    """Per (n, c): the input (row, col) of the window's first maximum."""
    rr, cc, _, _ = _inside(rows, cols, x.shape)
    patch = x[:, rr][:, :, cc].reshape(x.shape[0], -1, x.shape[3])
    flat = patch.argmax(axis=1)
    return rr[flat // len(cc)], cc[flat % len(cc)], patch.max(axis=1)


def max_pool_ref(x, k, strides, padding):
    out = np.zeros(_out_shape(x.shape, k, strides, padding), x.dtype)
    for i, j, rows, cols in _windows_of(x.shape, k, strides, padding):
        out[:, i, j] = _first_max(x, i, j, rows, cols)[2]
    return out


def max_pool_grad_ref(x, dy, k, strides, padding):
    dx = np.zeros_like(x)
    n, c = np.meshgrid(np.arange(x.shape[0]), np.arange(x.shape[3]), indexing="ij")
    for i, j, rows, cols in _windows_of(x.shape, k, strides, padding):
        r, cc, _ = _first_max(x, i, j, rows, cols)
        np.add.at(dx, (n, r, cc, c), dy[:, i, j])
    return dx


def max_pool_grad_grad_ref(x, g, k, strides, padding):
    out = np.zeros(_out_shape(x.shape, k, strides, padding), g.dtype)
    n, c = np.meshgrid(np.arange(x.shape[0]), np.arange(x.shape[3]), indexing="ij")
    for i, j, rows, cols in _windows_of(x.shape, k, strides, padding):
        r, cc, _ = _first_max(x, i, j, rows, cols)
        out[:, i, j] = g[n, r, cc, c]
    return out


def avg_pool_ref(x, k, strides, padding):
    out = np.zeros(_out_shape(x.shape, k, strides, padding), x.dtype)
    for i, j, rows, cols in _windows_of(x.shape, k, strides, padding):
        rr, cc, _, _ = _inside(rows, cols, x.shape)
        out[:, i, j] = x[:, rr][:, :, cc].mean(axis=(1, 2))
    return out


def avg_pool_grad_ref(shape, dy, k, strides, padding):
    dx = np.zeros(shape, dy.dtype)
    for i, j, rows, cols in _windows_of(shape, k, strides, padding):
        rr, cc, _, _ = _inside(rows, cols, shape)
        dx[:, rr[:, None], cc[None, :]] += dy[:, i, j][:, None, None, :] / (len(rr) * len(cc))
    return dx


def _nchw(fn):
    """A reference on NHWC arrays applied to NCHW ones."""
    return lambda x, *rest: np.transpose(fn(np.transpose(x, (0, 2, 3, 1)), *rest), (0, 3, 1, 2))


def _conv_case(strides, padding, x_shape, w_shape, dilations=(1, 1), label=""):
    s4, d4 = [1, *strides, 1], [1, *dilations, 1]
    return Case(
        "Conv2D",
        lambda x, w: tf.nn.conv2d(x, w, s4, padding, dilations=d4),
        lambda x, w: conv2d_ref(x, w, strides, padding, dilations),
        [(x_shape, w_shape)],
        rtol=1e-4,
        atol=1e-5,
        label=label,
    )


def _pool_cases(op, fn, ref, grad_op, grad_build, grad_ref, k, strides, padding, shape, label):
    k4, s4 = [1, *k, 1], [1, *strides, 1]
    out = _out_shape(shape, k, strides, padding)
    return [
        Case(
            op,
            lambda x: fn(x, k4, s4, padding),
            lambda x: ref(x, k, strides, padding),
            [(shape,)],
            rtol=1e-5,
            atol=1e-5,
            label=label,
        ),
        Case(
            grad_op,
            grad_build(shape, k4, s4, padding),
            grad_ref(shape, k, strides, padding),
            [grad_shapes(grad_op, shape, out)],
            rtol=1e-5,
            atol=1e-5,
            label=label,
        ),
    ]


def grad_shapes(grad_op, shape, out):
    if grad_op == "MaxPoolGrad":
        return (shape, out, out)
    return (out,)


def _max_pool_grad_build(shape, k4, s4, padding):
    return _raw("MaxPoolGrad", ksize=tuple(k4), strides=tuple(s4), padding=padding)


def _max_pool_grad_ref(shape, k, strides, padding):
    return lambda x, y, dy: max_pool_grad_ref(x, dy, k, strides, padding)


def _avg_pool_grad_build(shape, k4, s4, padding):
    return _raw(
        "AvgPoolGrad", orig_input_shape=list(shape), ksize=tuple(k4), strides=tuple(s4), padding=padding
    )


def _avg_pool_grad_ref(shape, k, strides, padding):
    return lambda dy: avg_pool_grad_ref(shape, dy, k, strides, padding)


def _max_pool(x, k, s, padding):
    return tf.nn.max_pool(x, k, s, padding)


def _avg_pool(x, k, s, padding):
    return tf.nn.avg_pool(x, k, s, padding)


CONV = [
    _conv_case((1, 1), "SAME", (2, 5, 5, 3), (3, 3, 3, 4), label="same"),
    _conv_case((1, 1), "VALID", (2, 5, 6, 2), (3, 2, 2, 3), label="valid"),
    _conv_case((2, 2), "SAME", (2, 6, 7, 2), (3, 3, 2, 3), label="same-stride2"),
    _conv_case((2, 3), "VALID", (1, 7, 8, 2), (2, 3, 2, 2), label="valid-stride"),
    _conv_case((1, 1), "SAME", (1, 6, 6, 2), (3, 3, 2, 2), dilations=(2, 2), label="dilated"),
    _conv_case((1, 1), "VALID", (1, 4, 4, 3), (1, 1, 3, 2), label="1x1"),
    Case(
        "Conv2D",
        lambda x, w: tf.nn.conv2d(x, w, [1, 1, 2, 2], "SAME", data_format="NCHW"),
        lambda x, w: _nchw(lambda a: conv2d_ref(a, w, (2, 2), "SAME"))(x),
        [((2, 2, 5, 6), (3, 3, 2, 3))],
        rtol=1e-4,
        atol=1e-5,
        label="NCHW",
    ),
    Case(
        "Conv2D",
        lambda x, w: tf.nn.conv2d(x, w, 1, [[0, 0], [1, 2], [0, 1], [0, 0]]),
        lambda x, w: conv2d_ref(np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0))), w, (1, 1), "VALID"),
        [((1, 4, 4, 2), (3, 3, 2, 2))],
        rtol=1e-4,
        atol=1e-5,
        label="explicit",
    ),
    Case(
        "Conv2D",
        lambda x, w: tf.nn.conv2d(x, w, 1, [[0, 0], [3, 0], [0, 2], [0, 0]]),
        lambda x, w: conv2d_ref(np.pad(x, ((0, 0), (3, 0), (0, 2), (0, 0))), w, (1, 1), "VALID"),
        [((1, 3, 3, 2), (2, 2, 2, 2))],
        rtol=1e-4,
        atol=1e-5,
        label="explicit-wide",
    ),
    Case(
        "Conv2DBackpropInput",
        lambda w, dy: tf.nn.conv2d_backprop_input([2, 6, 7, 2], w, dy, [1, 2, 2, 1], "SAME"),
        lambda w, dy: conv2d_input_ref((2, 6, 7, 2), w, dy, (2, 2), "SAME"),
        [((3, 3, 2, 3), (2, 3, 4, 3))],
        rtol=1e-4,
        atol=1e-5,
    ),
    Case(
        "Conv2DBackpropInput",
        lambda w, dy: tf.nn.conv2d_backprop_input(
            [1, 6, 6, 2], w, dy, [1, 1, 1, 1], "VALID", dilations=[1, 2, 2, 1]
        ),
        lambda w, dy: conv2d_input_ref((1, 6, 6, 2), w, dy, (1, 1), "VALID", (2, 2)),
        [((2, 2, 2, 3), (1, 4, 4, 3))],
        rtol=1e-4,
        atol=1e-5,
        label="valid-dilated",
    ),
    Case(
        "Conv2DBackpropFilter",
        lambda x, dy: tf.nn.conv2d_backprop_filter(x, [3, 3, 2, 3], dy, [1, 2, 2, 1], "SAME"),
        lambda x, dy: conv2d_filter_ref(x, (3, 3, 2, 3), dy, (2, 2), "SAME"),
        [((2, 6, 7, 2), (2, 3, 4, 3))],
        rtol=1e-4,
        atol=1e-5,
    ),
    Case(
        "Conv2DBackpropFilter",
        lambda x, dy: tf.nn.conv2d_backprop_filter(x, [2, 3, 2, 2], dy, [1, 2, 3, 1], "VALID"),
        lambda x, dy: conv2d_filter_ref(x, (2, 3, 2, 2), dy, (2, 3), "VALID"),
        [((1, 7, 8, 2), (1, 3, 2, 2))],
        rtol=1e-4,
        atol=1e-5,
        label="valid-stride",
    ),
]

POOL = [
    *_pool_cases(
        "MaxPool",
        _max_pool,
        max_pool_ref,
        "MaxPoolGrad",
        _max_pool_grad_build,
        _max_pool_grad_ref,
        (2, 2),
        (2, 2),
        "VALID",
        (2, 4, 5, 3),
        "2x2",
    ),
    *_pool_cases(
        "MaxPool",
        _max_pool,
        max_pool_ref,
        "MaxPoolGrad",
        _max_pool_grad_build,
        _max_pool_grad_ref,
        (3, 3),
        (2, 2),
        "SAME",
        (2, 5, 6, 2),
        "3x3-same",
    ),
    *_pool_cases(
        "AvgPool",
        _avg_pool,
        avg_pool_ref,
        "AvgPoolGrad",
        _avg_pool_grad_build,
        _avg_pool_grad_ref,
        (2, 2),
        (2, 2),
        "VALID",
        (2, 4, 5, 3),
        "2x2",
    ),
    *_pool_cases(
        "AvgPool",
        _avg_pool,
        avg_pool_ref,
        "AvgPoolGrad",
        _avg_pool_grad_build,
        _avg_pool_grad_ref,
        (3, 3),
        (2, 2),
        "SAME",
        (2, 5, 6, 2),
        "3x3-same",
    ),
    Case(
        "MaxPool",
        lambda x: tf.nn.max_pool(x, [1, 1, 2, 2], [1, 1, 2, 2], "SAME", data_format="NCHW"),
        _nchw(lambda a: max_pool_ref(a, (2, 2), (2, 2), "SAME")),
        [((2, 3, 5, 5),)],
        label="NCHW",
    ),
    Case(
        "MaxPool",
        lambda x: tf.nn.max_pool(x, 3, 2, "SAME"),
        lambda x: max_pool_ref(x, (3, 3), (2, 2), "SAME"),
        [((2, 5, 5, 3),)],
        dtypes=("int32",),
        inputs=uniform(-50, 50),
        grad=False,
        label="int32",
    ),
    Case(
        "AvgPool",
        lambda x: tf.nn.avg_pool(x, 2, 1, "SAME", data_format="NCHW"),
        _nchw(lambda a: avg_pool_ref(a, (2, 2), (1, 1), "SAME")),
        [((2, 3, 4, 4),)],
        label="NCHW",
    ),
    Case(
        "MaxPoolGradGrad",
        _raw("MaxPoolGradGrad", ksize=(1, 3, 3, 1), strides=(1, 2, 2, 1), padding="SAME"),
        lambda x, y, g: max_pool_grad_grad_ref(x, g, (3, 3), (2, 2), "SAME"),
        [((2, 5, 6, 2), (2, 3, 3, 2), (2, 5, 6, 2))],
        rtol=1e-5,
        atol=1e-5,
    ),
]

CASES = ACTIVATIONS + ACTIVATION_GRADS + RNN + LOSSES + MISC + CONV + POOL

TESTED_ELSEWHERE: dict[str, str] = {}
