"""Op test cases for nn_extra, nn_sampled and nn_conv_extra (see cases.py for the contract).

Depthwise convolution's references are cases_nn's plain-loop conv2d references
applied channel by channel; LRN's loop over the depth window.
"""

from __future__ import annotations

import numpy as np

import raygraph as tf
from tests.ops.cases import Case, uniform
from tests.ops.cases_nn import _raw, conv2d_filter_ref, conv2d_input_ref, conv2d_ref

# -- top_k ----------------------------------------------------------------------------------------


def _top_k_ref(k):
    def ref(x):
        order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
        return [np.take_along_axis(x, order, -1), order.astype(np.int32)]

    return ref


def _distinct(rng, shapes, dtypes):
    """Distinct values (no ties), so finite differences do not reorder them."""
    return [(rng.permutation(int(np.prod(s))).reshape(s) / 3.0).astype(d) for s, d in zip(shapes, dtypes)]


TOP_K = [
    Case(
        "TopKV2",
        lambda x: list(tf.nn.top_k(x, 3)),
        _top_k_ref(3),
        [((2, 5),), ((2, 3, 4),)],
        inputs=_distinct,
        grad=False,
    ),
    Case(
        "TopKV2",
        lambda x: tf.nn.top_k(x, 3)[0],
        lambda x: _top_k_ref(3)(x)[0],
        [((2, 3, 4),)],
        inputs=_distinct,
        label="values",
    ),
    Case(
        "TopKV2",
        lambda x: list(tf.nn.top_k(x, 2)),
        _top_k_ref(2),
        [((3, 6),)],
        dtypes=("int32",),
        inputs=uniform(-2, 2),
        grad=False,
        label="int-ties",
    ),
]

# -- LRN ------------------------------------------------------------------------------------------


def _window_sum(v, r):
    c = v.shape[-1]
    return np.stack([v[..., max(d - r, 0) : d + r + 1].sum(-1) for d in range(c)], -1)


def _lrn_ref(r, bias, alpha, beta):
    return lambda x: x / (bias + alpha * _window_sum(x * x, r)) ** beta


def _lrn_grad_ref(r, bias, alpha, beta):
    """dx_j = sum_i dy_i d(y_i)/d(x_j), the derivative written out per pair (i, j)."""

    def ref(dy, x, y):
        norm = bias + alpha * _window_sum(x * x, r)
        dx = np.zeros_like(x)
        c = x.shape[-1]
        for j in range(c):
            for i in range(max(j - r, 0), min(j + r, c - 1) + 1):
                d = -beta * x[..., i] * norm[..., i] ** (-beta - 1) * 2 * alpha * x[..., j]
                if i == j:
                    d = d + norm[..., i] ** (-beta)
                dx[..., j] += dy[..., i] * d
        return dx

    return ref


def _lrn_grad_inputs(r, bias, alpha, beta):
    """dy and x random, and y = lrn(x): the op reads the forward output."""

    def make(rng, shapes, dtypes):
        dy, x = (rng.uniform(-2, 2, s).astype(d) for s, d in zip(shapes[:2], dtypes[:2]))
        return [dy, x, _lrn_ref(r, bias, alpha, beta)(x).astype(dtypes[2])]

    return make


LRN = [
    Case("LRN", lambda x: tf.nn.lrn(x, 2, 1.5, 0.3, 0.75), _lrn_ref(2, 1.5, 0.3, 0.75), [((2, 2, 3, 7),)]),
    Case(
        "LRN",
        lambda x: tf.nn.lrn(x, 5, 1.0, 1.0, 0.5),
        _lrn_ref(5, 1.0, 1.0, 0.5),
        [((1, 2, 2, 3),)],
        label="wide",
    ),
    Case(
        "LRNGrad",
        _raw("LRNGrad", depth_radius=2, bias=1.5, alpha=0.3, beta=0.75),
        _lrn_grad_ref(2, 1.5, 0.3, 0.75),
        [((2, 2, 2, 6), (2, 2, 2, 6), (2, 2, 2, 6))],
        inputs=_lrn_grad_inputs(2, 1.5, 0.3, 0.75),
        grad=False,
        rtol=1e-4,
    ),
]

# -- depthwise convolution --------------------------------------------------------------------------


def depthwise_ref(x, w, strides, padding, dilations=(1, 1)):
    return np.concatenate(
        [
            conv2d_ref(x[..., c : c + 1], w[:, :, c : c + 1], strides, padding, dilations)
            for c in range(x.shape[3])
        ],
        -1,
    )


def depthwise_input_ref(shape, w, dy, strides, padding):
    c, m = w.shape[2:]
    one = (*shape[:3], 1)
    parts = [
        conv2d_input_ref(one, w[:, :, k : k + 1], dy[..., k * m : (k + 1) * m], strides, padding)
        for k in range(c)
    ]
    return np.concatenate(parts, -1)


def depthwise_filter_ref(x, fshape, dy, strides, padding):
    c, m = fshape[2:]
    one = (*fshape[:2], 1, m)
    parts = [
        conv2d_filter_ref(x[..., k : k + 1], one, dy[..., k * m : (k + 1) * m], strides, padding)
        for k in range(c)
    ]
    return np.concatenate(parts, 2)


def _depthwise_case(strides, padding, x_shape, w_shape, dilations=(1, 1), label=""):
    s4, d4 = [1, *strides, 1], [1, *dilations, 1]
    return Case(
        "DepthwiseConv2dNative",
        lambda x, w: tf.nn.depthwise_conv2d_native(x, w, s4, padding, dilations=d4),
        lambda x, w: depthwise_ref(x, w, strides, padding, dilations),
        [(x_shape, w_shape)],
        rtol=1e-4,
        atol=1e-5,
        label=label,
    )


def _nchw(fn):
    return lambda x, w: np.transpose(fn(np.transpose(x, (0, 2, 3, 1)), w), (0, 3, 1, 2))


DEPTHWISE = [
    _depthwise_case((1, 1), "SAME", (2, 5, 5, 3), (3, 3, 3, 2), label="same"),
    _depthwise_case((2, 2), "VALID", (2, 6, 7, 2), (3, 2, 2, 3), label="valid-stride2"),
    _depthwise_case((2, 1), "SAME", (1, 6, 5, 2), (3, 3, 2, 1), label="same-stride"),
    _depthwise_case((1, 1), "SAME", (1, 6, 6, 2), (2, 2, 2, 2), dilations=(2, 2), label="dilated"),
    Case(
        "DepthwiseConv2dNative",
        lambda x, w: tf.nn.depthwise_conv2d_native(x, w, [1, 1, 2, 2], "SAME", data_format="NCHW"),
        _nchw(lambda x, w: depthwise_ref(x, w, (2, 2), "SAME")),
        [((2, 2, 5, 6), (3, 3, 2, 2))],
        rtol=1e-4,
        atol=1e-5,
        label="NCHW",
    ),
    Case(
        "DepthwiseConv2dNativeBackpropInput",
        lambda w, dy: tf.nn.depthwise_conv2d_native_backprop_input([2, 6, 7, 2], w, dy, [1, 2, 2, 1], "SAME"),
        lambda w, dy: depthwise_input_ref((2, 6, 7, 2), w, dy, (2, 2), "SAME"),
        [((3, 3, 2, 3), (2, 3, 4, 6))],
        rtol=1e-4,
        atol=1e-5,
    ),
    Case(
        "DepthwiseConv2dNativeBackpropFilter",
        lambda x, dy: tf.nn.depthwise_conv2d_native_backprop_filter(
            x, [3, 2, 2, 2], dy, [1, 1, 1, 1], "VALID"
        ),
        lambda x, dy: depthwise_filter_ref(x, (3, 2, 2, 2), dy, (1, 1), "VALID"),
        [((2, 5, 4, 2), (2, 3, 3, 4))],
        rtol=1e-4,
        atol=1e-5,
    ),
]

# -- accidental hits --------------------------------------------------------------------------------


def _classes(rng, shapes, dtypes):
    return [rng.integers(0, 6, s).astype(d) for s, d in zip(shapes, dtypes)]


def _hits_ref(true, sampled):
    rows, _, positions = np.nonzero(sampled[None, None, :] == true[:, :, None])
    return [
        rows.astype(np.int32),
        positions.astype(np.int64),
        np.full(rows.shape, -np.finfo(np.float32).max, np.float32),
    ]


SAMPLED = [
    Case(
        "ComputeAccidentalHits",
        lambda t, s: list(tf.nn.compute_accidental_hits(t, s, num_true=2)),
        _hits_ref,
        [((4, 2), (5,))],
        dtypes=("int64",),
        inputs=_classes,
        grad=False,
    ),
]

CASES = TOP_K + LRN + DEPTHWISE + SAMPLED

TESTED_ELSEWHERE = {
    op: "tests/ops/test_nn_sampled.py"
    for op in (
        "UniformCandidateSampler",
        "LogUniformCandidateSampler",
        "FixedUnigramCandidateSampler",
        "AllCandidateSampler",
    )
}
