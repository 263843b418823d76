"""Op test cases for the array family (see cases.py for the contract).

Composite functions (zeros, meshgrid, boolean_mask, ...) have cases under the op
type they build, with a label. Slicing through `Tensor.__getitem__` is tested at
length in test_slicing.py.
"""

from __future__ import annotations

import numpy as np

import raygraph as tf
from tests.ops.cases import Case

# -- input generators: one maker per input, (rng, shape, dtype) -> array ------


def per_input(*makers):
    """Input generator with one maker per input."""

    def make(rng, shapes, dtypes):
        return [m(rng, s, d) for m, s, d in zip(makers, shapes, dtypes)]

    return make


def floats(low=-2.0, high=2.0):
    return lambda rng, shape, dtype: rng.uniform(low, high, size=shape).astype(dtype)


def ints(low, high):
    """Integers in [low, high)."""
    return lambda rng, shape, dtype: rng.integers(low, high, size=shape).astype(dtype)


def bools():
    return lambda rng, shape, dtype: rng.random(shape) < 0.5


def fixed(value):
    return lambda rng, shape, dtype: np.asarray(value, dtype=dtype)


def nd_indices(*bounds):
    """Index vectors (last dimension) whose column j lies in [0, bounds[j])."""

    def make(rng, shape, dtype):
        columns = [rng.integers(0, b, size=shape[:-1]) for b in bounds]
        return np.stack(columns, axis=-1).astype(dtype)

    return make


# -- numpy references ---------------------------------------------------------


def segment_sum(data, ids, n):
    out = np.zeros((int(n),) + data.shape[ids.ndim :], data.dtype)
    for index in np.ndindex(*ids.shape):
        if ids[index] >= 0:
            out[ids[index]] += data[index]
    return out


def scatter_nd(indices, updates, shape):
    out = np.zeros(shape, updates.dtype)
    for index in np.ndindex(*indices.shape[:-1]):
        out[tuple(indices[index])] += updates[index]
    return out


def mirror_pad_grad(dy, paddings, mode):
    """The adjoint of np.pad(mode): each input element sums the outputs copied from it."""
    shape = tuple(d - a - b for d, (a, b) in zip(dy.shape, paddings))
    source = np.pad(np.arange(int(np.prod(shape))).reshape(shape), paddings, mode=mode.lower())
    summed = np.bincount(source.reshape(-1), weights=dy.reshape(-1), minlength=int(np.prod(shape)))
    return summed.reshape(shape).astype(dy.dtype)


def strided_slice_grad(dy, shape, index):
    out = np.zeros(shape, dy.dtype)
    out[index] = dy.reshape(out[index].shape)
    return out


def one_hot(i, depth, on=1.0, off=0.0, axis=-1, dtype=np.float32):
    hot = i[..., None] == np.arange(depth)
    return np.moveaxis(np.where(hot, on, off).astype(dtype), -1, axis)


# -- constants, shapes, creation ----------------------------------------------

CREATION = [
    Case("Identity", tf.identity, lambda x: x, [((3, 4),), ((),)]),
    Case("StopGradient", tf.stop_gradient, lambda x: x, [((3,),)], grad=False),
    Case(
        "PlaceholderWithDefault",
        lambda x: tf.placeholder_with_default(x, [None, 4]),
        lambda x: x,
        [((3, 4),)],
        dynamic=False,
    ),
    Case("Shape", tf.shape, lambda x: np.array(x.shape, np.int32), [((3, 4),), ((),)], grad=False),
    Case(
        "Shape",
        lambda x: tf.shape(x, out_type=tf.int64),
        lambda x: np.array(x.shape, np.int64),
        [((2, 0, 3),)],
        grad=False,
        label="int64",
    ),
    Case("Size", tf.size, lambda x: np.array(x.size, np.int32), [((3, 4),), ((),)], grad=False),
    Case("Rank", tf.rank, lambda x: np.array(x.ndim, np.int32), [((3, 4),), ((),)], grad=False),
    Case("Fill", lambda v: tf.fill([2, 3], v), lambda v: np.full((2, 3), v), [((),)]),
    Case(
        "Fill",
        lambda x, v: tf.fill(tf.shape(x), v),
        lambda x, v: np.full(x.shape, v),
        [((3, 4), ())],
        grad_inputs=(1,),
        label="dims-from-shape",
    ),
    Case(
        "Fill",
        lambda x: tf.zeros(tf.shape(x), tf.int32),
        lambda x: np.zeros(x.shape, np.int32),
        [((3, 4),)],
        grad=False,
        label="zeros",
    ),
    Case(
        "Fill",
        lambda x: tf.ones_like(x, dtype=tf.int64),
        lambda x: np.ones(x.shape, np.int64),
        [((3, 4),)],
        grad=False,
        label="ones_like-dtype",
    ),
    Case("ZerosLike", tf.zeros_like, np.zeros_like, [((3, 4),)], grad=False),
    Case("OnesLike", tf.ones_like, np.ones_like, [((3, 4),)], grad=False),
    Case("OnesLike", tf.ones_like, np.ones_like, [((3,),)], dtypes=("bool",), grad=False, label="bool"),
    Case(
        "Range",
        tf.range,
        lambda s, lim, d: np.arange(s, lim, d, dtype=np.int32),
        [((), (), ())],
        dtypes=("int32",),
        inputs=per_input(fixed(2), fixed(11), fixed(3)),
        grad=False,
    ),
    Case(
        "Range",
        tf.range,
        lambda s, lim, d: np.arange(s, lim, d, dtype=np.int64),
        [((), (), ())],
        dtypes=("int64",),
        inputs=per_input(fixed(10), fixed(2), fixed(-3)),
        grad=False,
        label="negative",
    ),
    Case(
        "Range",
        tf.range,
        lambda s, lim, d: s + np.arange(6, dtype=np.float32) * d,
        [((), (), ())],
        inputs=per_input(fixed(0.5), fixed(2.0), fixed(0.25)),
        grad=False,
        label="float",
    ),
    Case("LinSpace", lambda a, b: tf.linspace(a, b, 5), lambda a, b: np.linspace(a, b, 5), [((), ())]),
    Case(
        "LinSpace",
        lambda a, b: tf.linspace(a, b, 4, axis=1),
        lambda a, b: np.linspace(a, b, 4, axis=1),
        [((2,), (2,))],
        label="axis",
    ),
    Case(
        "OneHot",
        lambda i: tf.one_hot(i, 4),
        lambda i: one_hot(i, 4),
        [((2, 3),)],
        dtypes=("int32",),
        inputs=per_input(ints(-1, 5)),
        grad=False,
    ),
    Case(
        "OneHot",
        lambda i: tf.one_hot(i, 3, on_value=5, off_value=-1, axis=0),
        lambda i: one_hot(i, 3, 5, -1, axis=0, dtype=np.int32),
        [((4,),)],
        dtypes=("int64",),
        inputs=per_input(ints(0, 3)),
        grad=False,
        label="axis0",
    ),
    Case(
        "SequenceMask",
        lambda n: tf.sequence_mask(n, 5),
        lambda n: np.arange(5) < n[:, None],
        [((4,),)],
        dtypes=("int32",),
        inputs=per_input(ints(0, 6)),
        grad=False,
    ),
    Case(
        "SequenceMask",
        lambda n: tf.sequence_mask(n, dtype=tf.float32),
        lambda n: (np.arange(n.max()) < n[..., None]).astype(np.float32),
        [((2, 3),)],
        dtypes=("int32",),
        inputs=per_input(ints(1, 6)),
        grad=False,
        label="maxlen-None",
    ),
    Case(
        "BroadcastTo",
        lambda a, b: tf.meshgrid(a, b),
        lambda a, b: np.meshgrid(a, b),
        [((3,), (4,))],
        label="meshgrid",
    ),
    Case(
        "BroadcastTo",
        lambda a, b: tf.meshgrid(a, b, indexing="ij"),
        lambda a, b: np.meshgrid(a, b, indexing="ij"),
        [((3,), (4,))],
        label="meshgrid-ij",
    ),
]

# -- reshaping and permuting --------------------------------------------------

RESHAPING = [
    Case("Reshape", lambda x: tf.reshape(x, [-1, 2]), lambda x: x.reshape(-1, 2), [((3, 4),)]),
    Case(
        "Reshape",
        lambda x: tf.reshape(x, [tf.shape(x)[0], -1]),
        lambda x: x.reshape(x.shape[0], -1),
        [((2, 3, 4),)],
        label="dynamic-shape",
    ),
    Case("Reshape", lambda x: tf.reshape(x, []), lambda x: x.reshape([]), [((1, 1),)], label="scalar"),
    Case(
        "Reshape",
        lambda x: tf.reshape(x, [-1, x.shape[0]]),
        lambda x: x.reshape(-1, x.shape[0]),
        [((2, 3, 2),)],
        dynamic=False,
        label="dimension",
    ),
    Case("ExpandDims", lambda x: tf.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), [((3, 4),)]),
    Case(
        "ExpandDims",
        lambda x: tf.expand_dims(x, -1),
        lambda x: np.expand_dims(x, -1),
        [((3,),), ((),)],
        label="last",
    ),
    Case("Squeeze", tf.squeeze, np.squeeze, [((3, 1, 4, 1),)]),
    Case(
        "Squeeze", lambda x: tf.squeeze(x, [1]), lambda x: np.squeeze(x, 1), [((3, 1, 4, 1),)], label="axis"
    ),
    Case("Squeeze", lambda x: tf.squeeze(x, axis=[]), np.squeeze, [((1, 2, 1),)], label="empty-axis"),
    Case(
        "Transpose",
        lambda x: tf.transpose(x, [1, 2, 0]),
        lambda x: np.transpose(x, [1, 2, 0]),
        [((2, 3, 4),)],
    ),
    Case("Transpose", tf.transpose, np.transpose, [((2, 3, 4),), ((3,),)], label="reverse"),
    Case(
        "Transpose",
        tf.linalg.transpose if hasattr(tf, "linalg") else tf.matrix_transpose,
        lambda x: np.swapaxes(x, -1, -2),
        [((2, 3, 4),)],
        label="matrix",
    ),
    Case(
        "BroadcastTo",
        lambda x: tf.broadcast_to(x, [3, 4]),
        lambda x: np.broadcast_to(x, (3, 4)),
        [((4,),), ((3, 1),)],
    ),
    Case("Tile", lambda x: tf.tile(x, [2, 3]), lambda x: np.tile(x, [2, 3]), [((2, 3),)]),
    Case(
        "Tile",
        lambda x: tf.tile(x, tf.stack([tf.shape(x)[1], 1, 2])),
        lambda x: np.tile(x, [x.shape[1], 1, 2]),
        [((2, 3, 1),)],
        label="dynamic-multiples",
    ),
    Case(
        "PadV2",
        lambda x: tf.pad(x, [[1, 2], [0, 1]], constant_values=1.5),
        lambda x: np.pad(x, [[1, 2], [0, 1]], constant_values=1.5),
        [((3, 4),)],
    ),
    Case(
        "PadV2",
        lambda x, p: tf.pad(x, p),
        lambda x, p: np.pad(x, p),
        [((3, 4), (2, 2))],
        dtypes=("float32", "int32"),
        inputs=per_input(floats(), fixed([[0, 1], [2, 0]])),
        label="fed-paddings",
    ),
    Case(
        "MirrorPad",
        lambda x: tf.pad(x, [[1, 2], [3, 0]], "REFLECT"),
        lambda x: np.pad(x, [[1, 2], [3, 0]], "reflect"),
        [((4, 5),)],
    ),
    Case(
        "MirrorPad",
        lambda x: tf.pad(x, [[2, 1], [0, 3]], "SYMMETRIC"),
        lambda x: np.pad(x, [[2, 1], [0, 3]], "symmetric"),
        [((2, 3),)],
        label="symmetric",
    ),
    Case(
        "MirrorPadGrad",
        lambda dy: tf.raw_ops.MirrorPadGrad(input=dy, paddings=[[1, 2], [3, 0]], mode="REFLECT"),
        lambda dy: mirror_pad_grad(dy, [[1, 2], [3, 0]], "REFLECT"),
        [((7, 8),)],
    ),
    Case(
        "MirrorPadGrad",
        lambda dy: tf.raw_ops.MirrorPadGrad(input=dy, paddings=[[2, 1], [0, 3]], mode="SYMMETRIC"),
        lambda dy: mirror_pad_grad(dy, [[2, 1], [0, 3]], "SYMMETRIC"),
        [((5, 6),)],
        label="symmetric",
    ),
    Case("ReverseV2", lambda x: tf.reverse(x, [0, -1]), lambda x: x[::-1, :, ::-1], [((2, 3, 4),)]),
]

# -- joining and splitting ----------------------------------------------------

JOINING = [
    Case("Pack", lambda a, b: tf.stack([a, b], axis=1), lambda a, b: np.stack([a, b], 1), [((3, 4), (3, 4))]),
    Case(
        "Pack",
        lambda a: tf.stack([a, 2.0, a]),
        lambda a: np.stack([a, np.full_like(a, 2), a]),
        [((),)],
        label="with-number",
    ),
    Case(
        "Pack",
        lambda a, b: tf.stack([[a, 1], [b, 2]]),
        lambda a, b: np.array([[a, 1], [b, 2]]),
        [((), ())],
        dtypes=("int32",),
        grad=False,
        label="nested",
    ),
    Case(
        "Unpack",
        lambda x: tf.unstack(x, num=3, axis=1),
        lambda x: [x[:, i] for i in range(3)],
        [((2, 3, 4),)],
        dynamic=False,
    ),
    Case(
        "Unpack",
        lambda x: tf.unstack(x, axis=-1),
        lambda x: [x[..., i] for i in range(2)],
        [((3, 2),)],
        dynamic=False,
        label="last",
    ),
    Case(
        "ConcatV2",
        lambda a, b: tf.concat([a, b], -1),
        lambda a, b: np.concatenate([a, b], -1),
        [((2, 3), (2, 4))],
    ),
    Case(
        "ConcatV2",
        lambda a, b, c: tf.concat([a, b, c], 0),
        lambda a, b, c: np.concatenate([a, b, c], 0),
        [((1, 3), (2, 3), (3, 3))],
        label="three",
    ),
    Case("Split", lambda x: tf.split(x, 3, axis=1), lambda x: np.split(x, 3, axis=1), [((2, 6),)]),
    Case(
        "SplitV",
        lambda x: tf.split(x, [1, -1, 2], axis=1),
        lambda x: np.split(x, [1, 4], axis=1),
        [((2, 6),)],
    ),
    Case(
        "SplitV",
        lambda x: tf.split(x, [2, 1], axis=-2),
        lambda x: np.split(x, [2], axis=-2),
        [((3, 2),)],
        label="negative-axis",
    ),
]

# -- slicing, gathering, selecting --------------------------------------------

SLICE_INDEX = (slice(3, 0, -2), None, slice(None, None, 2), 1)

INDEXING = [
    Case("Slice", lambda x: tf.slice(x, [1, 0], [2, -1]), lambda x: x[1:3, 0:], [((4, 5),)]),
    Case(
        "Slice",
        lambda x: tf.slice(x, tf.stack([tf.shape(x)[0] - 2, 1]), [2, 2]),
        lambda x: x[-2:, 1:3],
        [((4, 5),)],
        label="dynamic-begin",
    ),
    Case("StridedSlice", lambda x: x[1:3, ::-2], lambda x: x[1:3, ::-2], [((4, 5),)]),
    Case(
        "StridedSlice",
        lambda x: x[None, ..., -1],
        lambda x: x[None, ..., -1],
        [((2, 3, 4),)],
        label="newaxis-ellipsis",
    ),
    Case(
        "StridedSlice",
        lambda x: x[tf.shape(x)[0] - 1, 1:],
        lambda x: x[-1, 1:],
        [((3, 4),)],
        label="tensor-index",
    ),
    Case(
        "StridedSliceGrad",
        lambda dy: tf.raw_ops.StridedSliceGrad(
            shape=[4, 3, 5],
            begin=[3, 0, 0, 1],
            end=[0, 0, 0, 2],
            strides=[-2, 1, 2, 1],
            begin_mask=4,
            end_mask=4,
            new_axis_mask=2,
            shrink_axis_mask=8,
            dy=dy,
        ),
        lambda dy: strided_slice_grad(dy, (4, 3, 5), SLICE_INDEX[:1] + SLICE_INDEX[2:]),
        [((2, 1, 2),)],
    ),
    Case(
        "GatherV2",
        tf.gather,
        lambda p, i: p[i],
        [((4, 3), (2, 5))],
        dtypes=("float32", "int32"),
        inputs=per_input(floats(), ints(0, 4)),
    ),
    Case(
        "GatherV2",
        lambda p, i: tf.gather(p, i, axis=1),
        lambda p, i: np.take(p, i, axis=1),
        [((2, 4, 3), (5,))],
        dtypes=("float32", "int64"),
        inputs=per_input(floats(), ints(0, 4)),
        label="axis1",
    ),
    Case(
        "GatherV2",
        lambda p, i: tf.gather(p, i, axis=-1),
        lambda p, i: np.take(p, i, axis=-1),
        [((2, 3), (2, 2))],
        dtypes=("float32", "int32"),
        inputs=per_input(floats(), ints(0, 3)),
        label="last-axis",
    ),
    Case(
        "GatherV2",
        tf.boolean_mask,
        lambda x, m: x[m],
        [((4, 3), (4,))],
        dtypes=("float32", "bool"),
        label="boolean_mask",
    ),
    Case(
        "GatherV2",
        tf.boolean_mask,
        lambda x, m: x[m],
        [((3, 4, 2), (3, 4))],
        dtypes=("float32", "bool"),
        label="boolean_mask-2d",
    ),
    Case(
        "GatherV2",
        lambda x, m: tf.boolean_mask(x, m, axis=1),
        lambda x, m: x[:, m],
        [((2, 4), (4,))],
        dtypes=("float32", "bool"),
        label="boolean_mask-axis",
    ),
    Case(
        "UnsortedSegmentSum",
        lambda d, i: tf.unsorted_segment_sum(d, i, 4),
        lambda d, i: segment_sum(d, i, 4),
        [((6, 3), (6,))],
        dtypes=("float32", "int32"),
        inputs=per_input(floats(), ints(-1, 4)),
    ),
    Case(
        "UnsortedSegmentSum",
        lambda d, i: tf.unsorted_segment_sum(d, i, 3),
        lambda d, i: segment_sum(d, i, 3),
        [((2, 3, 2), (2, 3))],
        dtypes=("float64", "int64"),
        inputs=per_input(floats(), ints(0, 3)),
        label="2d-ids",
    ),
    Case(
        "GatherNd",
        tf.gather_nd,
        lambda p, i: p[tuple(np.moveaxis(i, -1, 0))],
        [((3, 4, 5), (2, 2))],
        dtypes=("float32", "int32"),
        inputs=per_input(floats(), nd_indices(3, 4)),
    ),
    Case(
        "ScatterNd",
        lambda i, u: tf.scatter_nd(i, u, [5, 3]),
        lambda i, u: scatter_nd(i, u, (5, 3)),
        [((4, 1), (4, 3))],
        dtypes=("int32", "float32"),
        inputs=per_input(nd_indices(5), floats()),
    ),
    Case("Where", tf.where, np.argwhere, [((3, 4),)], dtypes=("bool",), grad=False),
    Case(
        "Where", tf.where, np.argwhere, [((5,),)], label="numeric", grad=False, inputs=per_input(ints(0, 2))
    ),
    Case("Select", tf.where, np.where, [((3, 4), (3, 4), (3, 4))], dtypes=("bool", "float32", "float32")),
    Case(
        "Select",
        tf.where,
        lambda c, x, y: np.where(c[:, None], x, y),
        [((3,), (3, 4), (3, 4))],
        dtypes=("bool", "float32", "float32"),
        label="row-vector",
    ),
    Case(
        "SelectV2", tf.where_v2, np.where, [((3, 1), (1, 4), (3, 4))], dtypes=("bool", "float32", "float32")
    ),
]

CASES = CREATION + RESHAPING + JOINING + INDEXING

TESTED_ELSEWHERE = {
    "Placeholder": "tests/raygraph/test_session.py",
    "Const": "tests/raygraph/test_graph.py",
}
