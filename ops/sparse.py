"""Sparse tensors: SparseTensor, SparseTensorValue, IndexedSlices, and the SparseToDense op.

A `SparseTensor` is three dense tensors, as in TensorFlow: `indices` (int64
[N, rank]), `values` ([N]) and `dense_shape` (int64 [rank]). It is no graph
node: ops take its parts. `Session.run` fetches one as a `SparseTensorValue`
and feeds one (a `sparse_placeholder`) from a SparseTensorValue or an
`(indices, values, dense_shape)` tuple, through the `_fetch_parts` /
`_feed_parts` hooks raygraph.session looks for.

The one op, SparseToDense, scatters the values into a tensor filled with a
default; sparse.to_dense, sparse.reduce_sum and sparse_retain are built on it
and on dense ops. With `validate_indices` it checks, as TensorFlow does, that
the indices are in bounds, sorted in row-major order and not repeated.
"""

from __future__ import annotations

import collections

import numpy as np

from ops import api as tf
from ops.common import check_vector, partial_shape_value
from ops.registry import Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import Tensor, convert_to_tensor, hooks, name_scope
from raygraph.shapes import TensorShape, unknown_shape


class SparseToDense(Op):
    """A dense tensor of `output_shape` holding `sparse_values` at `sparse_indices`, else `default_value`."""

    inputs = ("sparse_indices", "output_shape", "sparse_values", "default_value")
    attrs = {"validate_indices": True}

    def infer(sparse_indices, output_shape, sparse_values, default_value, validate_indices):
        if output_shape.shape.ndims != 0:
            check_vector(output_shape, "output_shape")
        if sparse_values.dtype != default_value.dtype:
            raise TypeError(
                f"sparse_values ({sparse_values.dtype.name}) and default_value ({default_value.dtype.name}) "
                "must have one dtype"
            )
        if sparse_indices.shape.ndims not in (None, 0, 1, 2):
            raise ValueError(f"sparse_indices must be at most 2-D, got shape {sparse_indices.shape}")
        shape = partial_shape_value(output_shape) if output_shape.shape.ndims == 1 else unknown_shape()
        return sparse_values.dtype, shape

    def kernel(xp, sparse_indices, output_shape, sparse_values, default_value, validate_indices):
        shape = tuple(int(d) for d in np.reshape(_host(output_shape), [-1]))
        indices = np.asarray(_host(sparse_indices)).astype(np.int64)
        indices = indices.reshape(-1, 1) if indices.ndim < 2 else indices
        if indices.shape[1] != len(shape):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"sparse_indices has {indices.shape[1]} columns but output_shape has rank {len(shape)}",
            )
        if validate_indices:
            _validate(indices, shape)
        out = xp.full(shape, default_value, dtype=sparse_values.dtype)
        if indices.shape[0]:
            out[tuple(xp.asarray(indices.T))] = sparse_values
        return out

    def grad(op, dy):
        indices = op.inputs[0]
        values_grad = tf.gather_nd(dy, indices if indices.shape.ndims == 2 else tf.reshape(indices, [-1, 1]))
        if op.inputs[2].shape.ndims == 0:
            values_grad = tf.reduce_sum(values_grad)
        default_grad = tf.reduce_sum(dy) - tf.reduce_sum(values_grad)
        return [None, None, values_grad, default_grad]


def _host(value):
    return value.get() if hasattr(value, "get") and not isinstance(value, np.ndarray) else value


def _validate(indices: np.ndarray, shape: tuple) -> None:
    bounds = np.array(shape, dtype=np.int64)
    previous = None
    for i, index in enumerate(indices):
        text = "[" + ",".join(str(v) for v in index) + "]"
        if np.any(index < 0) or np.any(index >= bounds):
            raise errors.InvalidArgumentError(
                None, None, f"indices[{i}] = {text} is out of bounds: need 0 <= index < {list(shape)}"
            )
        if previous is not None:
            key, prev = tuple(index), tuple(previous)
            if key == prev:
                raise errors.InvalidArgumentError(None, None, f"indices[{i}] = {text} is repeated")
            if key < prev:
                raise errors.InvalidArgumentError(None, None, f"indices[{i}] = {text} is out of order")
        previous = index


@api_function("sparse_to_dense")
def sparse_to_dense(
    sparse_indices, output_shape, sparse_values, default_value=0, validate_indices=True, name=None
):
    """A dense tensor with `sparse_values` at `sparse_indices` and `default_value` elsewhere."""
    values = convert_to_tensor(sparse_values, name="sparse_values")
    default = convert_to_tensor(default_value, preferred_dtype=values.dtype, name="default_value")
    if default.dtype != values.dtype:
        default = tf.cast(default, values.dtype)
    return build(
        "SparseToDense",
        [sparse_indices, output_shape, values, default],
        {"validate_indices": bool(validate_indices)},
        name=name,
    )


# -- the sparse containers -----------------------------------------------------

SparseTensorValue = collections.namedtuple("SparseTensorValue", ["indices", "values", "dense_shape"])
SparseTensorValue.__doc__ = (
    "A SparseTensor's value, as Session.run returns it: (indices, values, dense_shape)."
)
api_function("SparseTensorValue")(SparseTensorValue)


@api_function("SparseTensor", "sparse.SparseTensor")
class SparseTensor:
    """A sparse tensor: `values[i]` sits at `indices[i]` of a tensor of shape `dense_shape`.

    >>> sp = tf.SparseTensor(indices=[[0, 0], [1, 2]], values=[1.0, 2.0], dense_shape=[3, 4])
    >>> tf.sparse.to_dense(sp)
    """

    def __init__(self, indices, values, dense_shape):
        with name_scope(None, "SparseTensor", [indices, values, dense_shape]):
            self._indices = convert_to_tensor(
                indices, dtype=None, name="indices", preferred_dtype=dtypes.int64
            )
            self._values = convert_to_tensor(values, name="values")
            self._dense_shape = convert_to_tensor(
                dense_shape, name="dense_shape", preferred_dtype=dtypes.int64
            )
        for what, t in (("indices", self._indices), ("dense_shape", self._dense_shape)):
            if t.dtype != dtypes.int64:
                raise TypeError(f"SparseTensor {what} must be int64, got {t.dtype.name}")
        self._static_shape = partial_shape_value(self._dense_shape)
        if self._indices.shape.ndims not in (None, 2) or self._values.shape.ndims not in (None, 1):
            raise ValueError(
                f"SparseTensor needs indices of rank 2 and values of rank 1, got {self._indices.shape} "
                f"and {self._values.shape}"
            )

    @classmethod
    def from_value(cls, sparse_tensor_value):
        if isinstance(sparse_tensor_value, SparseTensor):
            return sparse_tensor_value
        return cls(*sparse_tensor_value)

    indices = property(lambda self: self._indices, doc="int64 [N, rank]: where the values sit.")
    values = property(lambda self: self._values, doc="[N]: the values.")
    dense_shape = property(lambda self: self._dense_shape, doc="int64 [rank]: the dense tensor's shape.")
    dtype = property(lambda self: self._values.dtype)
    op = property(lambda self: self._values.op)
    graph = property(lambda self: self._values.graph)

    @property
    def shape(self) -> TensorShape:
        """The static dense shape (dimensions known where dense_shape is)."""
        return self._static_shape

    def get_shape(self) -> TensorShape:
        return self._static_shape

    def eval(self, feed_dict=None, session=None):
        return hooks.require("session_for")(self.graph, session).run(self, feed_dict)

    def _fetch_parts(self):
        return (self._indices, self._values, self._dense_shape), SparseTensorValue

    def _feed_parts(self, value):
        if isinstance(value, SparseTensor):
            raise TypeError("The value of a feed cannot be a tf.SparseTensor; feed a SparseTensorValue")
        if not isinstance(value, tuple) or len(value) != 3:
            raise TypeError(
                f"A SparseTensor is fed with a SparseTensorValue or an (indices, values, dense_shape) "
                f"tuple, got {type(value).__name__}"
            )
        return list(zip((self._indices, self._values, self._dense_shape), value))

    def __repr__(self) -> str:
        return (
            f"SparseTensor(indices={self._indices}, values={self._values}, dense_shape={self._dense_shape})"
        )


def as_sparse(sp_input, what: str = "sp_input") -> SparseTensor:
    if isinstance(sp_input, SparseTensorValue):
        return SparseTensor.from_value(sp_input)
    if not isinstance(sp_input, SparseTensor):
        raise TypeError(f"{what} must be a SparseTensor, got {type(sp_input).__name__}")
    return sp_input


@api_function("IndexedSlices")
class IndexedSlices:
    """Rows `values` of a tensor at row `indices` (of shape `dense_shape`): a sparse gradient.

    Converted to a dense tensor where an op needs one (rows at one index summed).
    """

    def __init__(self, values, indices, dense_shape=None):
        self._values = convert_to_tensor(values, name="values")
        self._indices = convert_to_tensor(indices, name="indices")
        self._dense_shape = (
            None if dense_shape is None else convert_to_tensor(dense_shape, name="dense_shape")
        )

    values = property(lambda self: self._values)
    indices = property(lambda self: self._indices)
    dense_shape = property(lambda self: self._dense_shape)
    dtype = property(lambda self: self._values.dtype)
    op = property(lambda self: self._values.op)
    graph = property(lambda self: self._values.graph)
    name = property(lambda self: self._values.name)
    device = property(lambda self: self._values.device)

    def _as_tensor(self) -> Tensor:
        if self._dense_shape is None:
            raise ValueError("Cannot convert IndexedSlices without a dense_shape to a Tensor")
        rows = tf.gather(tf.cast(self._dense_shape, dtypes.int32), 0)
        return tf.unsorted_segment_sum(self._values, self._indices, rows)

    def __repr__(self) -> str:
        return (
            f"IndexedSlices(indices={self._indices}, values={self._values}, dense_shape={self._dense_shape})"
        )


# -- functions on sparse tensors -------------------------------------------------


@api_function("sparse_tensor_to_dense", "sparse.to_dense")
def sparse_tensor_to_dense(sp_input, default_value=None, validate_indices=True, name=None):
    """The dense tensor of `sp_input`, `default_value` (0) where it has no value."""
    sp_input = as_sparse(sp_input)
    if default_value is None:
        default_value = np.zeros([], sp_input.dtype.np) if sp_input.dtype != dtypes.string else b""
    return sparse_to_dense(
        sp_input.indices, sp_input.dense_shape, sp_input.values, default_value, validate_indices, name=name
    )


@api_function("sparse_reduce_sum", "sparse.reduce_sum")
def sparse_reduce_sum(sp_input, axis=None, keepdims=None, reduction_axes=None, keep_dims=None, name=None):
    """The sum of `sp_input`'s values over `axis` (default all), as a dense tensor."""
    sp_input = as_sparse(sp_input)
    axis = reduction_axes if axis is None else axis
    keepdims = bool(keep_dims if keepdims is None else keepdims)
    with name_scope(name, "SparseReduceSum"):
        dense = sparse_to_dense(
            sp_input.indices, sp_input.dense_shape, sp_input.values, 0, validate_indices=False
        )
        return tf.reduce_sum(dense, axis, keepdims=keepdims)


@api_function("sparse_retain", "sparse.retain")
def sparse_retain(sp_input, to_retain):
    """The entries of `sp_input` where the bool vector `to_retain` is true (same dense_shape)."""
    sp_input = as_sparse(sp_input)
    to_retain = convert_to_tensor(to_retain, name="to_retain")
    if to_retain.shape.ndims not in (None, 1):
        raise ValueError(f"to_retain must be a vector, got shape {to_retain.shape}")
    keep = tf.reshape(tf.where(to_retain), [-1])
    return SparseTensor(
        tf.gather(sp_input.indices, keep), tf.gather(sp_input.values, keep), sp_input.dense_shape
    )


@api_function("sparse_placeholder", "sparse.placeholder")
def sparse_placeholder(dtype, shape=None, name=None):
    """A SparseTensor of placeholders, fed with a SparseTensorValue or (indices, values, dense_shape).

    >>> sp = tf.sparse_placeholder(tf.float32)
    >>> sess.run(tf.sparse.to_dense(sp), {sp: ([[0, 1]], [5.0], [2, 2])})
    """
    suffix = (lambda s: f"{name}/{s}") if name is not None else (lambda s: None)
    if shape is None:
        dense_shape = tf.placeholder(dtypes.int64, [None], name=suffix("shape"))
        rank = None
    else:
        dims = [-1 if d is None or d == -1 else int(d) for d in TensorShape(shape).as_list()]
        rank = len(dims)
        default = convert_to_tensor(np.array(dims, np.int64), name=suffix("shape_default"))
        dense_shape = tf.placeholder_with_default(default, [rank], name=suffix("shape"))
    values = tf.placeholder(dtype, [None], name=suffix("values"))
    indices = tf.placeholder(dtypes.int64, [None, rank], name=suffix("indices"))
    sparse = SparseTensor(indices, values, dense_shape)
    if shape is not None:
        sparse._static_shape = TensorShape([None if d == -1 else d for d in dims])
    return sparse


@api_function("sparse_tensor_dense_matmul", "sparse.sparse_dense_matmul", "sparse.matmul")
def sparse_tensor_dense_matmul(sp_a, b, adjoint_a=False, adjoint_b=False, name=None):
    """The matrix product of the 2-D SparseTensor `sp_a` and the dense matrix `b`.

    `adjoint_a` / `adjoint_b` multiply by the (conjugate) transpose instead. Built
    from a gather of b's rows and a segment sum, so the gradient reaches `sp_a.values`
    and `b` (not the indices), as in TensorFlow.

    >>> sp = tf.SparseTensor([[0, 1], [2, 0]], [3.0, 4.0], dense_shape=[3, 2])
    >>> tf.sparse_tensor_dense_matmul(sp, tf.ones([2, 5]))   # shape [3, 5]
    """
    sp_a = as_sparse(sp_a, "sp_a")
    with name_scope(name, "SparseTensorDenseMatMul", [sp_a.indices, sp_a.values, b]) as scope:
        b = convert_to_tensor(b, name="b")
        if b.dtype != sp_a.dtype:
            raise TypeError(
                f"sparse_tensor_dense_matmul: sp_a has dtype {sp_a.dtype.name} but b has {b.dtype.name}"
            )
        a_shape = sp_a.shape
        if a_shape.ndims not in (None, 2) or b.shape.ndims not in (None, 2):
            raise ValueError(
                f"sparse_tensor_dense_matmul needs matrices: sp_a has shape {a_shape}, b has shape {b.shape}"
            )
        out_axis, inner_axis = (1, 0) if adjoint_a else (0, 1)
        inner_b = 1 if adjoint_b else 0
        if a_shape.ndims == 2 and b.shape.ndims == 2:
            inner, other = a_shape.dims[inner_axis], b.shape.dims[inner_b]
            if inner is not None and other is not None and inner != other:
                raise ValueError(
                    f"sparse_tensor_dense_matmul: inner dimensions differ: sp_a{' (adjoint)' * adjoint_a} "
                    f"has shape {a_shape}, b{' (adjoint)' * adjoint_b} has shape {b.shape}"
                )
        values = tf.conj(sp_a.values) if adjoint_a and sp_a.dtype.is_complex else sp_a.values
        if adjoint_b:
            b = tf.transpose(b, conjugate=b.dtype.is_complex)
        rows = tf.gather(sp_a.indices, out_axis, axis=1)
        cols = tf.gather(sp_a.indices, inner_axis, axis=1)
        terms = tf.expand_dims(values, 1) * tf.gather(b, cols)
        n_rows = a_shape.dims[out_axis] if a_shape.ndims == 2 else None
        if n_rows is None:
            n_rows = tf.gather(sp_a.dense_shape, out_axis)
        return tf.unsorted_segment_sum(terms, rows, n_rows, name=scope)
