"""Slicing: Slice, StridedSlice (and its gradient) and `_slice_helper`, behind `Tensor.__getitem__`.

`x[1:, ::-1, None, i]` becomes one StridedSlice op: begin, end and strides are
int vectors (tensors where an index is a tensor) and five bit masks say which
entries are `...`, new axes, single indices or open bounds. `_dense_spec`
expands that sparse spec against the input's rank once; the static shape and the
kernel's numpy index both come from it, and the kernel's index is cached per
(shape, bounds), since a plan slices the same way run after run.
"""

from __future__ import annotations

import builtins
import functools

import numpy as np

from ops import api as tf
from ops.args import int_arg
from ops.common import check_vector, constant_value, partial_shape_value, partial_values
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import Tensor, name_scope
from raygraph.shapes import Dimension, TensorShape, format_shape


class Slice(Op):
    """The block of `size` elements from `begin` (size -1: to the end of the dimension)."""

    inputs = ("input", "begin", "size")

    def infer(input, begin, size):  # noqa: A002
        check_vector(begin, "begin")
        check_vector(size, "size")
        begins, sizes = partial_values(begin), partial_values(size)
        rank = next((len(v) for v in (begins, sizes) if v is not None), input.shape.ndims)
        if rank is None:
            return input.dtype, None
        for what, v in (("begin", begins), ("size", sizes)):
            if (v is not None and len(v) != rank) or input.shape.ndims not in (None, rank):
                raise ValueError(
                    f"{what} must have one entry per dimension of input {format_shape(input.shape)}"
                )
        dims = input.shape.dims or [None] * rank
        begins, sizes = begins or [None] * rank, sizes or [None] * rank
        return input.dtype, [_slice_size(d, b, s, i) for i, (d, b, s) in enumerate(zip(dims, begins, sizes))]

    def kernel(xp, input, begin, size):  # noqa: A002
        begin, size = begin.tolist(), size.tolist()
        if len(begin) != input.ndim or len(size) != input.ndim:
            raise ValueError(f"begin {begin} and size {size} must have {input.ndim} entries")
        index = []
        for i, (d, b, s) in enumerate(zip(input.shape, begin, size)):
            s = _slice_size(d, b, s, i)
            index.append(builtins.slice(b, b + s))
        return input[tuple(index)]

    def grad(op, dy):
        x, begin, size_ = op.inputs
        values = constant_value(begin)
        if values is not None and x.shape.is_fully_defined() and dy.shape.is_fully_defined():
            before = values.astype(np.int64)
            after = np.array(x.shape.as_list()) - before - np.array(dy.shape.as_list())
            paddings = np.stack([before, after], axis=1)
        else:
            before = tf.reshape(begin, [-1, 1])
            after = tf.shape(x, out_type=begin.dtype) - begin - tf.shape(dy, out_type=begin.dtype)
            paddings = tf.concat([before, tf.reshape(after, [-1, 1])], 1)
        return [tf.pad(dy, paddings), None, None]


def _slice_size(d, b, s, i):
    """The size of Slice's dimension i (of size d) from begin b and size s; None if unknown."""
    if b is not None and (b < 0 or (d is not None and b > d)):
        raise ValueError(f"Expected begin[{i}] in [0, {'?' if d is None else d}], but got {b}")
    if s is None:
        return None
    if s == -1:
        return None if d is None or b is None else d - b
    if s < 0 or (d is not None and b is not None and b + s > d):
        raise ValueError(
            f"Expected size[{i}] in [0, {'?' if d is None or b is None else d - b}], but got {s}"
        )
    return s


@api_function("slice")
def slice(input_, begin, size, name=None):  # noqa: A001 - TensorFlow's name
    """`tf.slice(x, [1, 0], [2, -1])`: rows 1 and 2, all columns."""
    return build("Slice", [input_, int_arg(begin), int_arg(size)], name=name or "Slice")


_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


def _bit(mask: int, i: int) -> bool:
    return bool(mask >> i & 1)


def _dense_spec(rank: int, n: int, begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask):
    """StridedSlice's sparse spec (n entries, masks) expanded against an input of `rank`.

    Returns (dims, layout): dims[i] describes input dimension i as (k, begin_masked,
    end_masked, shrink), k indexing begin/end/strides, or None for a dimension the
    ellipsis covers; layout lists the output's dimensions in order, each ("dim", i),
    ("new",) or ("shrink", i), the last of which do not appear in the output.
    """
    ellipses = [i for i in range(n) if _bit(ellipsis_mask, i)]
    if len(ellipses) > 1:
        raise ValueError("Multiple ellipses in slice spec not allowed")
    if not ellipses:
        ellipses, n_ext = [n], n + 1  # an implicit ellipsis at the end
    else:
        n_ext = n
    new_after = sum(_bit(new_axis_mask, j) for j in range(ellipses[0] + 1, n))
    dims, layout = [], []
    full = 0
    for i in range(n_ext):
        if i == ellipses[0]:
            stop = max(min(rank - (n_ext - i) + 1 + new_after, rank), full)
            for j in range(full, stop):
                dims.append((None, True, True, False))
                layout.append(("dim", j))
            full = stop
        elif _bit(new_axis_mask, i):
            layout.append(("new",))
        else:
            if full == rank:
                raise ValueError(f"Index out of range using input dim {full}; input has only {rank} dims")
            shrink = _bit(shrink_axis_mask, i)
            dims.append((i, _bit(begin_mask, i), _bit(end_mask, i), shrink))
            layout.append(("shrink" if shrink else "dim", full))
            full += 1
    return dims, layout


def _dense_bounds(d, spec, begin, end, stride, axis):
    """(begin, end) of one dense dimension of size d, canonicalized as TensorFlow does.

    For a shrunk dimension, begin is the index (checked) and end is begin + 1. Values
    may be None when unknown; the result is then None where it depends on them.
    """
    k, begin_masked, end_masked, shrink = spec
    if stride == 0:
        raise ValueError(f"strides[{k}] must be non-zero")
    if shrink:
        if stride is not None and stride < 0:
            raise ValueError("only stride 1 allowed on non-range indexing.")
        if begin is None or d is None:
            return None, None
        index = begin + d if begin < 0 else begin
        if not 0 <= index < d:
            raise IndexError(f"slice index {begin} of dimension {axis} out of bounds.")
        return index, index + 1
    if d is None or stride is None:
        return None, None
    low, high = (0, d) if stride > 0 else (-1, d - 1)

    def canonical(x, masked, which):
        if masked:
            return (low, high)[which] if stride > 0 else (high, low)[which]
        if x is None:
            return None
        x = x + d if x < 0 else x
        return min(max(x, low), high)

    return canonical(begin, begin_masked, 0), canonical(end, end_masked, 1)


def _interval_size(begin, end, stride) -> int | None:
    if begin is None or end is None or stride is None:
        return None
    length = end - begin
    if length == 0 or (length < 0) != (stride < 0):
        return 0
    return -(-abs(length) // abs(stride))


def _strided_dims(shape: TensorShape, begins, ends, strides, masks: dict) -> list | None:
    """Static output dims of StridedSlice (None entries unknown); None for unknown rank."""
    if shape.dims is None:
        return None
    n = len(strides)
    dims, layout = _dense_spec(shape.ndims, n, **masks)
    sizes = []
    for axis, (spec, d) in enumerate(zip(dims, shape.dims)):
        k = spec[0]
        if k is None:
            sizes.append(d)
            continue
        b, e = _dense_bounds(d, spec, begins[k], ends[k], strides[k], axis)
        sizes.append(1 if spec[3] else _interval_size(b, e, strides[k]))
    return [1 if entry[0] == "new" else sizes[entry[1]] for entry in layout if entry[0] != "shrink"]


def _strided_index(shape, begin, end, strides, masks: dict, new_axes: bool = True) -> tuple:
    """The numpy index tuple equal to a StridedSlice of an array of `shape` (arrays in)."""
    key = (tuple(shape), tuple(begin.tolist()), tuple(end.tolist()), tuple(strides.tolist()))
    return _numpy_index(*key, tuple(masks[m] for m in _MASKS), new_axes)


@functools.lru_cache(maxsize=4096)  # a plan slices the same way run after run
def _numpy_index(
    shape: tuple, begin: tuple, end: tuple, strides: tuple, masks: tuple, new_axes: bool
) -> tuple:
    """The numpy index tuple equal to a StridedSlice (checked against `shape`)."""
    dims, layout = _dense_spec(len(shape), len(strides), *masks)
    per_dim = []
    for axis, (spec, d) in enumerate(zip(dims, shape)):
        k = spec[0]
        if k is None:
            per_dim.append(builtins.slice(None))
            continue
        b, e = _dense_bounds(d, spec, begin[k], end[k], strides[k], axis)
        if spec[3]:
            per_dim.append(b)
        elif strides[k] < 0 and b == -1:
            per_dim.append(builtins.slice(0, 0))
        else:
            per_dim.append(builtins.slice(b, None if e == -1 else e, strides[k]))
    index = []
    for entry in layout:
        if entry[0] == "new":
            if new_axes:
                index.append(None)
        else:
            index.append(per_dim[entry[1]])
    return tuple(index)


class StridedSlice(Op):
    """Python-style slicing `x[begin:end:stride, ...]` with TensorFlow's masks.

    Bit i of a mask refers to entry i of begin/end/strides: begin_mask/end_mask
    ignore the bound (the slice runs from/to the edge), ellipsis_mask makes the
    entry `...`, new_axis_mask inserts a size-1 dimension, shrink_axis_mask takes
    the single index begin[i] and drops the dimension. Use `x[...]` to build one.
    """

    inputs = ("input", "begin", "end", "strides")
    attrs = dict.fromkeys(_MASKS, 0)
    same_dtype = ("begin", "end", "strides")

    def infer(input, begin, end, strides, **masks):  # noqa: A002
        return input.dtype, _strided_slice_shape(input.shape, begin, end, strides, masks)

    def kernel(xp, input, begin, end, strides, **masks):  # noqa: A002
        return input[_strided_index(input.shape, begin, end, strides, masks)]

    def grad(op, dy):
        x, begin, end, strides = op.inputs
        shape_x = x.shape.as_list() if x.shape.is_fully_defined() else tf.shape(x, out_type=begin.dtype)
        return [
            build("StridedSliceGrad", [shape_x, begin, end, strides, dy], dict(op.attrs)),
            None,
            None,
            None,
        ]


def _strided_slice_shape(shape: TensorShape, begin, end, strides, masks: dict):
    for t, what in ((begin, "begin"), (end, "end"), (strides, "strides")):
        check_vector(t, what)
    values = [partial_values(t) for t in (begin, end, strides)]
    n = next((len(v) for v in values if v is not None), None)
    if n is None or shape.dims is None:
        return None
    for v, what in zip(values, ("begin", "end", "strides")):
        if v is not None and len(v) != n:
            raise ValueError(f"begin, end and strides must have one length, got {len(v)} entries in {what}")
    return _strided_dims(shape, *[v or [None] * n for v in values], masks)


class StridedSliceGrad(Op):
    """The gradient of StridedSlice: dy placed into zeros of the input's `shape`."""

    inputs = ("shape", "begin", "end", "strides", "dy")
    attrs = dict.fromkeys(_MASKS, 0)
    same_dtype = ("shape", "begin", "end", "strides")

    def infer(shape, begin, end, strides, dy, **masks):
        check_vector(shape, "shape")
        return dy.dtype, partial_shape_value(shape)

    def kernel(xp, shape, begin, end, strides, dy, **masks):
        out = xp.zeros(shape.tolist(), dtype=dy.dtype)
        index = _strided_index(shape.tolist(), begin, end, strides, masks, new_axes=False)
        out[index] = xp.reshape(dy, out[index].shape)
        return out

    def grad(op, ddy):
        _, begin, end, strides, _ = op.inputs
        return [None, None, None, None, build("StridedSlice", [ddy, begin, end, strides], dict(op.attrs))]


@api_function("strided_slice")
def strided_slice(
    input_,
    begin,
    end,
    strides=None,
    begin_mask=0,
    end_mask=0,
    ellipsis_mask=0,
    new_axis_mask=0,
    shrink_axis_mask=0,
    var=None,
    name=None,
):
    """`tf.strided_slice(x, [0, 1], [2, 3], [1, 1])` is `x[0:2, 1:3]`; see StridedSlice."""
    if strides is None:
        strides = [1] * len(begin) if isinstance(begin, list | tuple) else tf.ones_like(begin)
    masks = dict(zip(_MASKS, (begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask)))
    bounds = [int_arg(v) for v in (begin, end, strides)]
    return build("StridedSlice", [input_, *bounds], masks, name=name or "StridedSlice")


_SLICE_TYPE_ERROR = (
    "Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar "
    "tf.int32/tf.int64 tensors are valid indices"
)


def _check_index(index) -> None:
    if isinstance(index, int | np.integer | Dimension) and not isinstance(index, bool | np.bool_):
        return
    if (
        isinstance(index, Tensor)
        and index.dtype in (dtypes.int32, dtypes.int64)
        and index.shape.ndims in (None, 0)
    ):
        return
    raise TypeError(f"{_SLICE_TYPE_ERROR}, got {index!r}")


def _bound(value):
    """A slice bound: an int, a scalar int tensor, or None (absent)."""
    if isinstance(value, Dimension):
        return value.value
    if value is not None:
        _check_index(value)
    return int(value) if isinstance(value, np.integer) else value


@api_function("_slice_helper")
def _slice_helper(tensor, slice_spec, var=None):
    """`tensor[slice_spec]`: numpy-style basic indexing as one StridedSlice op.

    Ints (negative ones count from the end), slices with any step, `...`, None
    (tf.newaxis) and scalar int32/int64 tensors, as indices and as slice bounds.
    A bool tensor or array is a mask: `x[x > 0]` is `tf.boolean_mask(x, x > 0)`.

    >>> x[:, -1]           # the last column
    >>> x[::-1, None, i]   # rows reversed, a new axis, column i (a tensor)
    """
    if _is_bool_mask(slice_spec):
        return tf.boolean_mask(tensor, slice_spec)
    spec = list(slice_spec) if isinstance(slice_spec, list | tuple) else [slice_spec]
    begin, end, strides = [], [], []
    masks = dict.fromkeys(_MASKS, 0)
    for i, s in enumerate(spec):
        if isinstance(s, builtins.slice):
            start, stop, step = _bound(s.start), _bound(s.stop), _bound(s.step)
            begin.append(0 if start is None else start)
            end.append(0 if stop is None else stop)
            strides.append(1 if step is None else step)
            masks["begin_mask"] |= (start is None) << i
            masks["end_mask"] |= (stop is None) << i
        elif s is Ellipsis or s is None:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["ellipsis_mask" if s is Ellipsis else "new_axis_mask"] |= 1 << i
        else:
            _check_index(s)
            s = int(s) if isinstance(s, np.integer | Dimension) else s
            begin.append(s)
            end.append(s + 1)
            strides.append(1)
            masks["shrink_axis_mask"] |= 1 << i
    with name_scope(None, "strided_slice") as scope:
        packed = _pack_indices(begin, end, strides)
        return build("StridedSlice", [tensor, *packed], masks, name=scope)


def _is_bool_mask(spec) -> bool:
    if isinstance(spec, bool | np.bool_):
        return True
    if isinstance(spec, np.ndarray):
        return spec.dtype == np.bool_
    return isinstance(spec, Tensor) and spec.dtype == dtypes.bool


def _pack_indices(*lists):
    """begin, end and strides as vectors of one index dtype (int64 if any index is)."""
    entries = [v for entry_list in lists for v in entry_list]
    if not any(isinstance(v, Tensor) for v in entries):
        dtype = np.int64 if any(abs(v) >= 2**31 for v in entries) else np.int32
        return [np.array(entry_list, dtype=dtype).reshape([-1]) for entry_list in lists]
    wide = any(isinstance(v, Tensor) and v.dtype == dtypes.int64 for v in entries)
    dtype = dtypes.int64 if wide else dtypes.int32
    return [
        tf.stack([tf.cast(v, dtype) if isinstance(v, Tensor) else np.array(v, dtype.np) for v in entry_list])
        for entry_list in lists
    ]
