"""Rearranging and counting: DepthToSpace, SpaceToDepth, ReverseSequence, Unique,
HistogramFixedWidth, and the small functions TF1 programs use beside them
(saturate_cast, parallel_stack, floor_div, tf.container).

DepthToSpace and SpaceToDepth are each other's inverse permutation and so each
other's gradient; ReverseSequence is its own. Unique and HistogramFixedWidth
count, and have no gradient (their outputs are integers or indices).
"""

from __future__ import annotations

import contextlib

import numpy as np

from ops import api as tf
from ops.common import check_dtype, check_scalar, check_vector, normalize_axis
from ops.registry import REQUIRED, NotDifferentiable, Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.shapes import format_shape


def _check_nhwc(data_format: str, op: str) -> None:
    if data_format != "NHWC":
        raise NotImplementedError(f"{op} supports data_format='NHWC' only, got {data_format!r}")


class DepthToSpace(Op):
    """Blocks of depth moved into space: [N, H, W, C*b*b] -> [N, H*b, W*b, C]."""

    inputs = ("input",)
    attrs = {"block_size": REQUIRED, "data_format": "NHWC"}
    api = ("depth_to_space", "nn.depth_to_space")

    def infer(input, block_size, data_format):  # noqa: A002
        _check_nhwc(data_format, "depth_to_space")
        if block_size < 2:
            raise ValueError(f"block_size must be at least 2, got {block_size}")
        shape = input.shape
        if shape.ndims not in (None, 4):
            raise ValueError(f"input must be 4-D, got shape {format_shape(shape)}")
        if shape.dims is None:
            return input.dtype, [None] * 4
        n, h, w, c = shape.dims
        if c is not None and c % (block_size * block_size):
            raise ValueError(f"depth {c} is not divisible by block_size * block_size = {block_size**2}")
        scale = lambda d, f: None if d is None else f(d)  # noqa: E731
        return input.dtype, [
            n,
            scale(h, lambda d: d * block_size),
            scale(w, lambda d: d * block_size),
            scale(c, lambda d: d // block_size**2),
        ]

    def kernel(xp, input, block_size, data_format):  # noqa: A002
        n, h, w, c = input.shape
        b = block_size
        if c % (b * b):
            raise errors.InvalidArgumentError(
                None, None, f"depth {c} is not divisible by block_size^2 = {b * b}"
            )
        x = input.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
        return xp.ascontiguousarray(x.reshape(n, h * b, w * b, c // (b * b)))

    def grad(op, dz):
        return [build("SpaceToDepth", [dz], dict(op.attrs))]


class SpaceToDepth(Op):
    """Blocks of space moved into depth: [N, H*b, W*b, C] -> [N, H, W, C*b*b]."""

    inputs = ("input",)
    attrs = {"block_size": REQUIRED, "data_format": "NHWC"}
    api = ("space_to_depth", "nn.space_to_depth")

    def infer(input, block_size, data_format):  # noqa: A002
        _check_nhwc(data_format, "space_to_depth")
        if block_size < 2:
            raise ValueError(f"block_size must be at least 2, got {block_size}")
        shape = input.shape
        if shape.ndims not in (None, 4):
            raise ValueError(f"input must be 4-D, got shape {format_shape(shape)}")
        if shape.dims is None:
            return input.dtype, [None] * 4
        n, h, w, c = shape.dims
        for what, d in (("height", h), ("width", w)):
            if d is not None and d % block_size:
                raise ValueError(f"{what} {d} is not divisible by block_size {block_size}")
        return input.dtype, [
            n,
            None if h is None else h // block_size,
            None if w is None else w // block_size,
            None if c is None else c * block_size**2,
        ]

    def kernel(xp, input, block_size, data_format):  # noqa: A002
        n, h, w, c = input.shape
        b = block_size
        if h % b or w % b:
            raise errors.InvalidArgumentError(
                None, None, f"height {h} and width {w} must be divisible by block_size {b}"
            )
        x = input.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
        return xp.ascontiguousarray(x.reshape(n, h // b, w // b, c * b * b))

    def grad(op, dz):
        return [build("DepthToSpace", [dz], dict(op.attrs))]


class ReverseSequence(Op):
    """Each slice along batch_dim reversed along seq_dim in its first seq_lengths[i] entries."""

    inputs = ("input", "seq_lengths")
    attrs = {"seq_dim": 1, "batch_dim": 0}

    def infer(input, seq_lengths, seq_dim, batch_dim):  # noqa: A002
        check_vector(seq_lengths, "seq_lengths")
        rank = input.shape.ndims
        if rank is not None:
            normalize_axis(seq_dim, rank, "seq_dim")
            normalize_axis(batch_dim, rank, "batch_dim")
            if seq_dim % rank == batch_dim % rank:
                raise ValueError(f"seq_dim and batch_dim must differ, both are {seq_dim}")
            b, n = input.shape.dims[batch_dim], seq_lengths.shape.dims[0]
            if b is not None and n is not None and b != n:
                raise ValueError(f"seq_lengths has {n} entries, input's batch dimension {batch_dim} has {b}")
        return input.dtype, input.shape

    def kernel(xp, input, seq_lengths, seq_dim, batch_dim):  # noqa: A002
        seq_dim %= input.ndim
        batch_dim %= input.ndim
        lengths = seq_lengths.astype(np.int64)
        if (
            lengths.shape != (input.shape[batch_dim],)
            or (lengths < 0).any()
            or (lengths > input.shape[seq_dim]).any()
        ):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"seq_lengths must have {input.shape[batch_dim]} entries in [0, {input.shape[seq_dim]}], "
                f"got {lengths.tolist()}",
            )
        t = xp.arange(input.shape[seq_dim])
        source = xp.where(t[None, :] < lengths[:, None], lengths[:, None] - 1 - t[None, :], t[None, :])
        x = xp.moveaxis(input, (batch_dim, seq_dim), (0, 1))
        index = source.reshape(source.shape + (1,) * (x.ndim - 2))
        out = xp.take_along_axis(x, xp.broadcast_to(index, x.shape), axis=1)
        return xp.ascontiguousarray(xp.moveaxis(out, (0, 1), (batch_dim, seq_dim)))

    def grad(op, dz):
        return [build("ReverseSequence", [dz, op.inputs[1]], dict(op.attrs)), None]


@api_function("reverse_sequence")
def reverse_sequence(
    input, seq_lengths, seq_axis=None, batch_axis=None, name=None, seq_dim=None, batch_dim=None
):  # noqa: A002
    """Reverses the first seq_lengths[i] entries of each sequence: `tf.reverse_sequence(x, lens, 1, 0)`."""
    seq = seq_axis if seq_axis is not None else seq_dim
    batch = batch_axis if batch_axis is not None else (batch_dim if batch_dim is not None else 0)
    if seq is None:
        raise ValueError("reverse_sequence needs seq_axis")
    x = convert_to_tensor(input)
    lengths = convert_to_tensor(seq_lengths)
    if not lengths.dtype.is_integer:
        raise TypeError(f"seq_lengths must be int32 or int64, got {lengths.dtype.name}")
    attrs = {"seq_dim": int(seq), "batch_dim": int(batch)}
    return build("ReverseSequence", [x, lengths], attrs, name=name or "ReverseSequence")


class Unique(Op):
    """The distinct values of a vector in order of first appearance, and each entry's index into them."""

    inputs = ("x",)
    attrs = {"out_idx": dtypes.int32}
    multi_output = True

    def infer(x, out_idx):
        if x.shape.ndims not in (None, 1):
            raise ValueError(f"unique expects a 1-D vector, got shape {format_shape(x.shape)}")
        return [(x.dtype, [None]), (dtypes.as_dtype(out_idx), x.shape if x.shape.dims else [None])]

    def kernel(xp, x, out_idx):
        if x.ndim != 1:
            raise errors.InvalidArgumentError(
                None, None, f"unique expects a 1-D vector, got shape {list(x.shape)}"
            )
        values, first, inverse = np.unique(x, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return [values[order], rank[inverse.reshape(-1)].astype(dtypes.as_dtype(out_idx).np)]


NotDifferentiable("Unique")


@api_function("unique")
def unique(x, out_idx=dtypes.int32, name=None):
    """(y, idx): x's distinct values in order of first appearance, and x == y[idx]."""
    return tuple(build("Unique", [convert_to_tensor(x)], {"out_idx": dtypes.as_dtype(out_idx)}, name=name))


class HistogramFixedWidth(Op):
    """Counts of `values` in `nbins` equal bins over value_range; outside values go to the end bins."""

    inputs = ("values", "value_range", "nbins")
    attrs = {"dtype": dtypes.int32}
    same_dtype = ("values", "value_range")

    def infer(values, value_range, nbins, dtype):
        check_dtype(values, "numeric", "values")
        check_scalar(nbins, "nbins", "int")
        from ops.common import scalar_value

        return dtypes.as_dtype(dtype), [scalar_value(nbins)]

    def kernel(xp, values, value_range, nbins, dtype):
        nbins = int(nbins)
        if nbins <= 0:
            raise errors.InvalidArgumentError(None, None, f"nbins should be a positive number, got {nbins}")
        lo, hi = (float(v) for v in value_range.reshape(-1)[:2])
        if not lo < hi:
            raise errors.InvalidArgumentError(
                None, None, f"value_range should satisfy [0] < [1], got {[lo, hi]}"
            )
        step = (values.astype(np.float64).reshape(-1) - lo) / (hi - lo)
        bins = xp.clip(xp.floor(step * nbins), 0, nbins - 1).astype(np.int64)
        return xp.bincount(bins, minlength=nbins).astype(dtypes.as_dtype(dtype).np)


NotDifferentiable("HistogramFixedWidth")


@api_function("histogram_fixed_width")
def histogram_fixed_width(values, value_range, nbins=100, dtype=dtypes.int32, name=None):
    """Counts of values in nbins equal-width bins of value_range = [low, high]."""
    values = convert_to_tensor(values)
    value_range = convert_to_tensor(value_range, dtype=values.dtype)
    nbins = convert_to_tensor(nbins, dtype=dtypes.int32)
    return build(
        "HistogramFixedWidth", [values, value_range, nbins], {"dtype": dtypes.as_dtype(dtype)}, name=name
    )


# -- small functions ----------------------------------------------------------------------------


@api_function("saturate_cast", "dtypes.saturate_cast")
def saturate_cast(value, dtype, name=None):
    """`value` cast to dtype, clipped first to dtype's range: saturate_cast(300., tf.uint8) is 255."""
    value = convert_to_tensor(value)
    dtype = dtypes.as_dtype(dtype)
    with name_scope(name, "saturate_cast"):
        if value.dtype.is_numeric and dtype.is_numeric and not dtype.is_bool:
            src = np.iinfo(value.dtype.np) if value.dtype.is_integer else np.finfo(value.dtype.np)
            dst = np.iinfo(dtype.np) if dtype.is_integer else np.finfo(dtype.np)
            low, high = max(src.min, dst.min), min(src.max, dst.max)
            if low > src.min:
                value = tf.maximum(value, tf.constant(np.asarray(low).astype(value.dtype.np)))
            if high < src.max:
                # The largest value of `value`'s dtype not above dst.max (int64 max is not a float).
                top = np.asarray(high).astype(value.dtype.np)
                if value.dtype.is_floating and float(top) > float(high):
                    top = np.nextafter(top, value.dtype.np.type(0))
                value = tf.minimum(value, tf.constant(top))
        return tf.cast(value, dtype)


@api_function("parallel_stack")
def parallel_stack(values, name="parallel_stack"):
    """tf.stack along a new first axis (TF copies in parallel; the result is the same)."""
    return tf.stack(values, axis=0, name=name)


@api_function("floor_div")
def floor_div(x, y, name=None):
    """Division rounded toward negative infinity (tf.floordiv)."""
    return tf.floordiv(x, y, name=name)


@api_function("container")
@contextlib.contextmanager
def container(container_name):
    """Names a resource container for stateful ops; raygraph keeps variables per session, so a no-op."""
    del container_name
    yield
