"""`Tensor.__getitem__` (one StridedSlice op) against numpy's basic indexing.

Each index expression is applied to a numpy array and to a placeholder holding
it, once with the placeholder's static shape and once with every dimension
unknown. Checked: the values, the static shape inferred when the graph is built
(exact when the shape and the indices are known), and the gradient of slicing
(dense: the output's gradient placed at the sliced positions, zeros elsewhere).
Also covers tf.strided_slice's masks directly, StridedSliceGrad, index tensors,
boolean masks, and the errors for bad indices at construction and at run time.
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf
from raygraph import errors

SHAPE = (4, 5, 6)

# Expressions applied alike to a numpy array and to a Tensor (`x`).
INDEXES = [
    "x[1]",
    "x[-1]",
    "x[1:3]",
    "x[:, 2]",
    "x[..., 1]",
    "x[..., -2:]",
    "x[::2]",
    "x[::-1]",
    "x[3:0:-2]",
    "x[-1:-5:-1]",
    "x[:, ::-2, 1:5:3]",
    "x[None]",
    "x[:, None, 2]",
    "x[..., None]",
    "x[1, ..., None, 2]",
    "x[None, ..., None]",
    "x[1:-1, None, ..., ::-3]",
    "x[10:]",
    "x[:100]",
    "x[-100:2]",
    "x[2:1]",
    "x[::-1, ::-1, ::-1]",
    "x[0, 0, 0]",
    "x[-4, -5, -6]",
    "x[5:-7:-1]",
    "x[..., 0, 0]",
    "x[:, :, :]",
    "x[...]",
    "x[()]",
    "x[1:2, 3]",
    "x[np.int64(2)]",
    "x[2::-1]",
    "x[:-7:-1]",
    "x[4:]",
    "x[:0]",
    "x[1, None, None, -1, ...]",
    "x[..., 5:0:-2, None]",
    "x[:, 1:4, ...]",
    "x[-2:, ..., ::4]",
    "x[None, 1, None, 2]",
]


def _run(fetches, feeds=None):
    with tf.Session("local") as sess:
        return sess.run(fetches, feeds)


def _value(shape=SHAPE, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "unknown-dims"])
def test_indexing_matches_numpy(dynamic):
    value = _value()
    x = tf.placeholder(tf.float32, [None] * 3 if dynamic else SHAPE)
    tensors = [eval(e, {"x": x, "np": np}) for e in INDEXES]  # noqa: S307 - our own expressions
    got = _run(tensors, {x: value})
    for expr, t, g in zip(INDEXES, tensors, got):
        expected = eval(expr, {"x": value, "np": np})  # noqa: S307
        np.testing.assert_array_equal(g, expected, err_msg=expr)
        assert t.shape.ndims == expected.ndim, f"{expr}: static rank {t.shape}"
        if dynamic:
            assert t.shape.is_compatible_with(expected.shape), f"{expr}: static {t.shape} vs {expected.shape}"
        else:
            assert t.shape.as_list() == list(expected.shape), f"{expr}: static {t.shape} vs {expected.shape}"


def test_indexing_scalars_and_vectors():
    v = np.arange(7, dtype=np.int32)
    x = tf.placeholder(tf.int32, [7])
    s = tf.placeholder(tf.float64, [])
    cases = {
        "x[3]": x[3],
        "x[-2:]": x[-2:],
        "x[::-3]": x[::-3],
        "x[None, 1:2]": x[None, 1:2],
        "s[None]": s[None],
        "s[...]": s[...],
        "s[None, ..., None]": s[None, ..., None],
    }
    got = _run(list(cases.values()), {x: v, s: 2.5})
    for (expr, t), g in zip(cases.items(), got):
        expected = eval(expr, {"x": v, "s": np.float64(2.5)})  # noqa: S307
        np.testing.assert_array_equal(g, expected, err_msg=expr)
        assert t.shape.as_list() == list(np.shape(expected)), expr
        assert g.dtype == t.dtype.as_numpy_dtype


def test_tensor_indices_and_bounds():
    value = _value()
    x = tf.placeholder(tf.float32, SHAPE)
    i = tf.placeholder(tf.int32, [])
    j = tf.placeholder(tf.int64, [])
    c = tf.constant(2)
    exprs = {
        "x[i]": (lambda: x[i], lambda v: v[1]),
        "x[i:j]": (lambda: x[i:j], lambda v: v[1:3]),
        "x[:, i:]": (lambda: x[:, i:], lambda v: v[:, 1:]),
        "x[i, ::-1, j]": (lambda: x[i, ::-1, j], lambda v: v[1, ::-1, 3]),
        "x[-i]": (lambda: x[-i], lambda v: v[-1]),
        "x[..., j - 1:j + 1]": (lambda: x[..., j - 1 : j + 1], lambda v: v[..., 2:4]),
        "x[c]": (lambda: x[c], lambda v: v[2]),
        "x[c:, None, ::c]": (lambda: x[c:, None, ::c], lambda v: v[2:, None, ::2]),
        "x[::i + 1]": (lambda: x[:: i + 1], lambda v: v[::2]),
    }
    tensors = [build() for build, _ in exprs.values()]
    got = _run(tensors, {x: value, i: 1, j: 3})
    for (expr, (_, reference)), t, g in zip(exprs.items(), tensors, got):
        expected = reference(value)
        np.testing.assert_array_equal(g, expected, err_msg=expr)
        assert t.shape.is_compatible_with(expected.shape), f"{expr}: static {t.shape}"
    # A constant tensor index is as good as an int; a fed one leaves its dimension unknown.
    assert tensors[6].shape.as_list() == [5, 6]
    assert tensors[7].shape.as_list() == [2, 1, 3, 6]
    assert tensors[2].shape.as_list() == [4, None, 6]
    assert tensors[0].shape.as_list() == [5, 6]


def test_static_shape_of_partially_known_input():
    x = tf.placeholder(tf.float32, [None, 5, 6])
    assert x[:, 2].shape.as_list() == [None, 6]
    assert x[0].shape.as_list() == [5, 6]
    assert x[1:, ::2, None].shape.as_list() == [None, 3, 1, 6]
    assert x[..., -1].shape.as_list() == [None, 5]
    unknown = tf.placeholder(tf.float32)
    assert unknown[1:, 0].shape.ndims is None


def test_slicing_builds_one_strided_slice():
    x = tf.placeholder(tf.float32, SHAPE)
    y = x[1:, None, ..., -1]
    assert y.op.type == "StridedSlice"
    assert y.op.name == "strided_slice"
    attrs = y.op.attrs
    assert (attrs["begin_mask"], attrs["end_mask"], attrs["ellipsis_mask"]) == (0, 1, 4)
    assert (attrs["new_axis_mask"], attrs["shrink_axis_mask"]) == (2, 8)
    assert [t.op.type for t in y.op.inputs[1:]] == ["Const"] * 3
    assert x[()].op.inputs[1].shape.as_list() == [0]


GRAD_INDEXES = [
    "x[1]",
    "x[1:3, ::-2]",
    "x[..., None, -1]",
    "x[::-1, 1:4:2, None, 0]",
    "x[3:0:-2, -1]",
    "x[None, 2:, ..., 1:5:3]",
    "x[...]",
]


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "unknown-dims"])
def test_gradient_of_slicing(dynamic):
    value = _value().astype(np.float64)
    x = tf.placeholder(tf.float64, [None] * 3 if dynamic else SHAPE)
    rng = np.random.default_rng(3)
    grads, expected = [], []
    for expr in GRAD_INDEXES:
        y_np = eval(expr, {"x": value})  # noqa: S307
        w = rng.uniform(-1, 1, y_np.shape)
        y = eval(expr, {"x": x})  # noqa: S307
        grads.append(tf.gradients(tf.reduce_sum(y * tf.constant(w)), x)[0])
        g = np.zeros_like(value)
        view = eval(expr, {"x": g})  # noqa: S307 - a view of g at the sliced positions
        view += w
        expected.append(g)
    got = _run(grads, {x: value})
    for expr, g, e in zip(GRAD_INDEXES, got, expected):
        np.testing.assert_allclose(g, e, err_msg=expr)


def test_gradient_with_tensor_bounds():
    value = _value((5, 3)).astype(np.float64)
    x = tf.placeholder(tf.float64, [None, 3])
    i = tf.placeholder(tf.int32, [])
    y = x[i : i + 2, ::-1]
    g = tf.gradients(tf.reduce_sum(y * tf.constant(np.array([[1.0, 2, 3], [4, 5, 6]]))), x)[0]
    expected = np.zeros_like(value)
    expected[2:4, ::-1] = [[1, 2, 3], [4, 5, 6]]
    np.testing.assert_allclose(_run(g, {x: value, i: 2}), expected)


MASKED = [
    # (begin, end, strides, masks, numpy index)
    ([1, 0], [3, 0], [1, 1], {"end_mask": 2}, np.s_[1:3, :]),
    ([0, 2], [0, 0], [1, -1], {"begin_mask": 1, "end_mask": 3}, np.s_[:, 2::-1]),
    ([0, 0], [0, 0], [1, -1], {"begin_mask": 3, "end_mask": 3}, np.s_[:, ::-1]),
    ([0, 2], [0, 0], [1, -1], {"begin_mask": 1, "end_mask": 1}, np.s_[:, 2:0:-1]),
    ([0, 1], [0, 0], [1, 1], {"ellipsis_mask": 1, "shrink_axis_mask": 2}, np.s_[..., 1]),
    (
        [0, 0, -1],
        [0, 0, 0],
        [1, 1, 1],
        {"new_axis_mask": 1, "ellipsis_mask": 2, "shrink_axis_mask": 4},
        np.s_[None, ..., -1],
    ),
    ([1], [2], [1], {"new_axis_mask": 1}, np.s_[None]),
    ([-1, 0], [0, 0], [1, 1], {"shrink_axis_mask": 1, "begin_mask": 2, "end_mask": 2}, np.s_[-1, :]),
    ([2, 1, 0], [4, 5, 0], [1, 2, 1], {"ellipsis_mask": 4}, np.s_[2:4, 1:5:2, ...]),
]


@pytest.mark.parametrize("begin,end,strides,masks,index", MASKED)
def test_strided_slice_masks(begin, end, strides, masks, index):
    value = _value()
    x = tf.placeholder(tf.float32, SHAPE)
    y = tf.strided_slice(x, begin, end, strides, **masks)
    expected = value[index]
    np.testing.assert_array_equal(_run(y, {x: value}), expected)
    assert y.shape.as_list() == list(expected.shape)


def test_strided_slice_default_strides_and_tensor_bounds():
    value = _value((4, 5))
    x = tf.placeholder(tf.float32, [4, 5])
    begin = tf.placeholder(tf.int32, [2])
    y = tf.strided_slice(x, begin, [4, 5])
    assert y.shape.as_list() == [None, None]
    np.testing.assert_array_equal(_run(y, {x: value, begin: [1, 2]}), value[1:4, 2:5])
    np.testing.assert_array_equal(_run(tf.strided_slice(x, [1], [3]), {x: value}), value[1:3])


def test_strided_slice_grad_op():
    dy = np.arange(8, dtype=np.float32).reshape(4, 2)
    g = tf.raw_ops.StridedSliceGrad(
        shape=[4, 5], begin=[0, 4], end=[0, 0], strides=[1, -2], begin_mask=1, end_mask=1, dy=tf.constant(dy)
    )
    expected = np.zeros((4, 5), np.float32)
    expected[:, 4:0:-2] = dy
    assert g.shape.as_list() == [4, 5]
    np.testing.assert_array_equal(_run(g), expected)


def test_boolean_mask_indexing():
    value = _value((4, 3))
    x = tf.placeholder(tf.float32, [None, 3])
    got = _run([x[x > 0], x[np.array([True, False, True, False])]], {x: value})
    np.testing.assert_array_equal(got[0], value[value > 0])
    np.testing.assert_array_equal(got[1], value[[0, 2]])


@pytest.mark.parametrize(
    "expr,error,match",
    [
        ("x[4]", ValueError, "slice index 4 of dimension 0 out of bounds"),
        ("x[0, -6]", ValueError, "slice index -6 of dimension 1 out of bounds"),
        ("x[1, 2, 3, 4]", ValueError, "Index out of range using input dim 3"),
        ("x[..., 1, ...]", ValueError, "Multiple ellipses"),
        ("x[::0]", ValueError, "must be non-zero"),
        ("x[1.5]", TypeError, "Only integers, slices"),
        ("x['a']", TypeError, "Only integers, slices"),
        ("x[:, tf.constant(1.0)]", TypeError, "Only integers, slices"),
        ("x[tf.constant([1, 2])]", TypeError, "Only integers, slices"),
    ],
)
def test_bad_indices_fail_at_construction(expr, error, match):
    x = tf.placeholder(tf.float32, SHAPE)
    with pytest.raises(error, match=match):
        eval(expr, {"x": x, "tf": tf})  # noqa: S307


def test_out_of_range_index_fails_at_run_time():
    x = tf.placeholder(tf.float32, [None, 3])
    i = tf.placeholder(tf.int32, [])
    with pytest.raises(errors.InvalidArgumentError, match="out of bounds"):
        _run(x[i], {x: np.zeros((2, 3), np.float32), i: 2})
    with pytest.raises(errors.InvalidArgumentError, match="out of bounds"):
        _run(x[5], {x: np.zeros((2, 3), np.float32)})


# -- run-time index checks of the other indexing ops ---------------------------


@pytest.mark.parametrize(
    "build,feed,match",
    [
        (lambda x, i: tf.gather(x, i), [0, 5], r"indices\[1\] = 5 is not in \[0, 2\)"),
        (lambda x, i: tf.gather(x, i, axis=1), [-1], r"indices\[0\] = -1 is not in \[0, 3\)"),
        (lambda x, i: tf.gather_nd(x, tf.reshape(i, [-1, 2])), [0, 1, 1, 3], r"indices\[1\] = \[1, 3\]"),
        (lambda x, i: tf.unsorted_segment_sum(x, i, 2), [0, 2], r"segment_ids\[1\] = 2 is out of range"),
        (
            lambda x, i: tf.slice(x, tf.concat([i, [0]], 0), [1, 3]),
            [2],
            r"Expected begin\[0\] in \[0, 2\]|size\[0\]",
        ),
        (
            lambda x, i: tf.reshape(x, tf.concat([i, [2]], 0)),
            [4],
            "tensor with 6 values, but the requested shape",
        ),
    ],
)
def test_index_errors_at_run_time_name_the_value(build, feed, match):
    x = tf.placeholder(tf.float32, [None, 3])
    i = tf.placeholder(tf.int32, [None])
    y = build(x, i)
    with pytest.raises(errors.InvalidArgumentError, match=match) as info:
        _run(y, {x: np.zeros((2, 3), np.float32), i: feed})
    assert y.op.name in str(info.value)
