"""Padding, tiling and reversing: PadV2, MirrorPad (and its gradient), Tile, ReverseV2.

Paddings and multiples are input tensors (one [before, after] pair, or one
multiple, per dimension) that may be computed at run time; shape functions use
what the graph knows of them. MirrorPad's gradient folds the padded borders back
onto the input (MirrorPadGrad), and is itself differentiable.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops.args import int_arg, static_ints
from ops.common import (
    check_dtype,
    check_scalar,
    check_vector,
    constant_value,
    dims_of,
    format_values,
    normalize_axis,
    partial_values,
    same,
)
from ops.registry import REQUIRED, Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_to_tensor
from raygraph.shapes import format_shape


class Tile(Op):
    """`input` repeated `multiples[i]` times along each dimension i."""

    inputs = ("input", "multiples")

    def infer(input, multiples):  # noqa: A002
        check_vector(multiples, "multiples")
        values = partial_values(multiples)
        dims = input.shape.dims
        if values is not None and dims is not None and len(values) != len(dims):
            raise ValueError(
                f"multiples must have one entry per dimension of input: input has rank "
                f"{len(dims)}, multiples has {len(values)} entries"
            )
        if values is not None and any(v is not None and v < 0 for v in values):
            raise ValueError(f"multiples must be non-negative, got {format_values(values)}")
        if dims is None:
            return input.dtype, None if values is None else [None] * len(values)
        if values is None:
            return input.dtype, [None] * len(dims)
        return input.dtype, [None if d is None or m is None else d * m for d, m in zip(dims, values)]

    def kernel(xp, input, multiples):  # noqa: A002
        multiples = multiples.tolist()
        if len(multiples) != input.ndim or any(m < 0 for m in multiples):
            raise ValueError(
                f"multiples must have {input.ndim} non-negative entries for an input of shape "
                f"{list(input.shape)}, got {multiples}"
            )
        return xp.tile(input, multiples)

    def grad(op, dy):
        x, multiples = op.inputs
        rank = x.shape.ndims
        if rank is None:
            raise ValueError(f"the gradient of {op.name} needs an input of known rank")
        # dy viewed as [m0, d0, m1, d1, ...], summed over the m axes.
        m = partial_values(multiples) or [None] * rank
        dims = dims_of(x)
        pairs = []
        for i in range(rank):
            pairs += [m[i] if m[i] is not None else tf.cast(multiples[i], dtypes.int32), dims[i]]
        summed = tf.reduce_sum(tf.reshape(dy, pairs), axis=list(range(0, 2 * rank, 2)))
        return [summed, None]


@api_function("tile", "manip.tile")
def tile(input, multiples, name=None):  # noqa: A002
    """`input` repeated along each dimension: `tf.tile(x, [2, 1])` doubles the rows."""
    return build("Tile", [input, int_arg(multiples)], name=name or "Tile")


class PadV2(Op):
    """`input` padded with `constant_values`: paddings[i] = [before, after] for dim i."""

    inputs = ("input", "paddings", "constant_values")
    same_dtype = ("input", "constant_values")

    def infer(input, paddings, constant_values):  # noqa: A002
        check_scalar(constant_values, "constant_values")
        return input.dtype, _padded_shape(input, paddings)

    def kernel(xp, input, paddings, constant_values):  # noqa: A002
        pads = _check_paddings(input, paddings)
        return xp.pad(input, pads, mode="constant", constant_values=constant_values.item())

    def grad(op, dy):
        return [_unpad(dy, op.inputs[0], op.inputs[1]), None, None]


class MirrorPad(Op):
    """`input` padded with its own reflection: mode REFLECT (edge not repeated) or SYMMETRIC."""

    inputs = ("input", "paddings")
    attrs = {"mode": "REFLECT"}

    def infer(input, paddings, mode):  # noqa: A002
        out = _padded_shape(input, paddings)
        values = constant_value(paddings)
        if values is not None and input.shape.dims is not None:
            for i, (d, pad) in enumerate(zip(input.shape.dims, values.tolist())):
                _check_mirror(d, pad, mode, i)
        return input.dtype, out

    def kernel(xp, input, paddings, mode):  # noqa: A002
        pads = _check_paddings(input, paddings)
        for i, (d, pad) in enumerate(zip(input.shape, pads)):
            _check_mirror(d, pad, mode, i)
        return xp.pad(input, pads, mode=mode.lower())

    def grad(op, dy):
        return [build("MirrorPadGrad", [dy, op.inputs[1]], {"mode": op.attrs["mode"]}), None]


class MirrorPadGrad(Op):
    """The gradient of MirrorPad: folds the padded borders back onto the input."""

    inputs = ("input", "paddings")
    attrs = {"mode": "REFLECT"}

    def infer(input, paddings, mode):  # noqa: A002
        _check_vector_pairs(paddings, input.shape.ndims)
        values = constant_value(paddings)
        if input.shape.dims is None:
            return input.dtype, None
        if values is None:
            return input.dtype, [None] * input.shape.ndims
        return input.dtype, [
            None if d is None else d - a - b for d, (a, b) in zip(input.shape.dims, values.tolist())
        ]

    def kernel(xp, input, paddings, mode):  # noqa: A002
        offset = 1 if mode == "REFLECT" else 0
        out = input
        for axis, (before, after) in enumerate(paddings.tolist()):
            padded = xp.moveaxis(out, axis, 0)
            n = padded.shape[0] - before - after
            core = padded[before : before + n].copy()
            if before:
                core[offset : offset + before] += padded[:before][::-1]
            if after:
                core[n - offset - after : n - offset] += padded[before + n :][::-1]
            out = xp.moveaxis(core, 0, axis)
        return out

    def grad(op, dy):
        return [build("MirrorPad", [dy, op.inputs[1]], {"mode": op.attrs["mode"]}), None]


def _check_vector_pairs(paddings, rank) -> None:
    check_dtype(paddings, "int", "paddings")
    if not paddings.shape.is_compatible_with([rank, 2]):
        raise ValueError(
            f"paddings must have shape [{'?' if rank is None else rank}, 2] (one [before, after] "
            f"pair per dimension), got {format_shape(paddings.shape)}"
        )


def _padded_shape(input, paddings):  # noqa: A002
    _check_vector_pairs(paddings, input.shape.ndims)
    values = constant_value(paddings)
    if values is not None and (values < 0).any():
        raise ValueError(f"paddings must be non-negative, got {values.tolist()}")
    rank = input.shape.ndims
    if rank is None and paddings.shape.ndims is not None:
        rank = paddings.shape.dims[0]
    if rank is None:
        return None
    if values is None or input.shape.dims is None:
        return [None] * rank
    return [None if d is None else d + a + b for d, (a, b) in zip(input.shape.dims, values.tolist())]


def _check_paddings(input, paddings) -> list:  # noqa: A002
    pads = paddings.tolist()
    if len(pads) != input.ndim or any(p < 0 for pair in pads for p in pair):
        raise ValueError(
            f"paddings must be {input.ndim} non-negative [before, after] pairs for an input of "
            f"shape {list(input.shape)}, got {pads}"
        )
    return pads


def _check_mirror(d, pad, mode, axis) -> None:
    limit = d if mode == "SYMMETRIC" else None if d is None else d - 1
    if limit is not None and max(pad) > limit:
        raise ValueError(
            f"paddings {pad} of dimension {axis} (size {d}) must be at most {limit} in {mode} mode"
        )


def _unpad(dy, x, paddings):
    """dy without the padding: the gradient of a constant pad."""
    values = constant_value(paddings)
    if values is not None:
        begin = values[:, 0].astype(np.int32)
    else:
        begin = tf.reshape(tf.slice(paddings, [0, 0], [-1, 1]), [-1])
    return tf.slice(dy, begin, tf.shape(x, out_type=paddings.dtype) if values is None else tf.shape(x))


@api_function("pad")
def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0):
    """Pads a tensor: `tf.pad(x, [[1, 1], [2, 2]])`; mode CONSTANT, REFLECT or SYMMETRIC."""
    mode = str(mode).upper()
    if mode == "CONSTANT":
        tensor = convert_to_tensor(tensor)
        value = convert_to_tensor(constant_values, preferred_dtype=tensor.dtype)
        return build("PadV2", [tensor, int_arg(paddings), value], name=name or "Pad")
    if mode in ("REFLECT", "SYMMETRIC"):
        return build("MirrorPad", [tensor, int_arg(paddings)], {"mode": mode}, name=name or "MirrorPad")
    raise ValueError(f"Unknown padding mode: {mode}")


class ReverseV2(Op):
    """Reverses the order of elements along the dimensions in `axis`."""

    inputs = ("tensor",)
    attrs = {"axis": REQUIRED}

    def infer(tensor, axis):
        if tensor.shape.ndims is not None:
            axes = [normalize_axis(a, tensor.shape.ndims) for a in axis]
            if len(set(axes)) != len(axes):
                raise ValueError(f"axis {list(axis)} names a dimension twice")
        return same(tensor)

    def kernel(xp, tensor, axis):
        return xp.flip(tensor, axis=tuple(axis)) if axis else tensor

    def grad(op, dy):
        return [build("ReverseV2", [dy], {"axis": op.attrs["axis"]})]


@api_function("reverse", "reverse_v2", "manip.reverse")
def reverse(tensor, axis, name=None):
    """Reverses along the given dimensions: `tf.reverse(x, [1])`."""
    axis = static_ints(axis, "axis")
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return build("ReverseV2", [tensor], {"axis": axis}, name=name or "ReverseV2")
