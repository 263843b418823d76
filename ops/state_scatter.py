"""Sparse updates of variables: tf.scatter_update, scatter_add ... scatter_nd_sub.

    tf.scatter_sub(w, [0, 2], [[1., 1.], [2., 2.]])   # w[0] -= 1, w[2] -= 2

Each op takes the variable by reference (`ref_inputs`, as Assign does) and
changes the rows named by `indices`; its output is the variable's new value,
as TF1's `output_ref` reads right after the update.

- Scatter<Kind>: indices name rows along the first axis; `updates` has shape
  indices.shape + ref.shape[1:] (or is a scalar, applied to every named row).
- ScatterNd<Kind>: the last axis of `indices` holds index vectors of length K
  into the first K axes of ref; `updates` has shape indices.shape[:-1] + ref.shape[K:].

Repeated indices accumulate for add, sub, mul, div, min and max (the ufunc's
`.at`); for update the last one wins (TF leaves the order undefined). An index
out of range fails the run with InvalidArgumentError, changing nothing.

The kernel writes into a copy of the variable's array and stores the copy, so
a value fetched or read before the update never changes. The ops have no
gradient, as in TF (they change state; read the variable for its value).
"""

from __future__ import annotations

import contextlib

import numpy as np

from ops.common import check_dtype
from ops.registry import Op
from raygraph import errors
from raygraph.shapes import TensorShape, format_shape

# kind -> how updates combine with the rows they land on: (ufunc name or None for assignment)
_KINDS = {
    "Update": None,
    "Add": "add",
    "Sub": "subtract",
    "Mul": "multiply",
    "Div": "divide",
    "Min": "minimum",
    "Max": "maximum",
}


def _combine(xp, kind: str, target, index, updates) -> None:
    """target[index] <op>= updates, repeated indices accumulating (assignment: last wins).

    `updates` has the shape of target[index]: one entry per index, then the rows' shape.
    """
    ufunc = _KINDS[kind]
    if ufunc is None:
        target[index] = updates
    elif ufunc == "divide" and target.dtype.kind in "iu":
        _truncating_divide_at(target, index, updates)
    else:
        getattr(xp, ufunc).at(target, index, updates)


def _truncating_divide_at(target, index, updates) -> None:
    """Integer division rounding toward zero (C++'s), one index at a time so repeats compound."""
    parts = index if isinstance(index, tuple) else (index,)
    flat = [np.asarray(i).reshape(-1) for i in parts]
    rows = np.asarray(updates).reshape((flat[0].size,) + target.shape[len(flat) :])
    for n in range(flat[0].size):
        at = tuple(int(i[n]) for i in flat)
        quotient = np.abs(target[at]) // np.abs(rows[n])
        target[at] = np.where((target[at] < 0) != (rows[n] < 0), -quotient, quotient)


def _check_rows(xp, indices, n_rows: int) -> None:
    bad = (indices < 0) | (indices >= n_rows)
    if bool(bad.any()):
        position = np.unravel_index(int(xp.argmax(bad.reshape(-1))), bad.shape)
        where = ",".join(str(int(p)) for p in position)
        raise errors.InvalidArgumentError(
            None, None, f"indices[{where}] = {int(indices[position])} is not in [0, {n_rows})"
        )


def _check_vectors(xp, indices, shape) -> tuple:
    k = indices.shape[-1]
    bounds = xp.asarray(shape[:k], dtype=indices.dtype)
    bad = ((indices < 0) | (indices >= bounds)).any(axis=-1)
    if bool(bad.any()):
        position = np.unravel_index(int(xp.argmax(bad.reshape(-1))), bad.shape)
        where = ",".join(str(int(p)) for p in position)
        raise errors.InvalidArgumentError(
            None,
            None,
            f"indices[{where}] = {indices[position].tolist()} does not index into shape {list(shape)}",
        )
    return tuple(indices[..., j] for j in range(k))


def _check_updates(updates, expected: TensorShape, ref, indices, allow_scalar: bool) -> None:
    if allow_scalar and updates.shape.ndims == 0:
        return
    if not updates.shape.is_compatible_with(expected):
        raise ValueError(
            f"updates must have shape {format_shape(expected)} (from indices {format_shape(indices.shape)} "
            f"and ref {format_shape(ref.shape)}), got {format_shape(updates.shape)}"
        )


class _Scatter(Op, register=False):
    inputs = ("ref", "indices", "updates")
    ref_inputs = ("ref",)
    same_dtype = ("ref", "updates")
    stateful = True
    differentiable = False

    def infer(ref, indices, updates, use_locking):
        check_dtype(indices, "int", "indices")
        expected = TensorShape(None)
        if indices.shape.ndims is not None and ref.shape.ndims is not None:
            if ref.shape.ndims == 0:
                raise ValueError(f"ref must be at least 1-D, got a scalar variable {ref.op.name!r}")
            expected = indices.shape.concatenate(ref.shape[1:])
        _check_updates(updates, expected, ref, indices, allow_scalar=True)
        return ref.dtype, ref.shape


class _ScatterNd(_Scatter, register=False):
    def infer(ref, indices, updates, use_locking):
        check_dtype(indices, "int", "indices")
        expected = TensorShape(None)
        k = indices.shape.dims[-1] if indices.shape.ndims else None
        if indices.shape.ndims == 0:
            raise ValueError("indices must be at least 1-D (the last axis holds index vectors)")
        if k is not None and ref.shape.ndims is not None:
            if k > ref.shape.ndims:
                raise ValueError(
                    f"the last dimension of indices ({k}) must be at most the rank of ref "
                    f"{format_shape(ref.shape)}"
                )
            expected = indices.shape[:-1].concatenate(ref.shape[k:])
        _check_updates(updates, expected, ref, indices, allow_scalar=False)
        return ref.dtype, ref.shape


def _scatter_kernel(kind: str, nd: bool):
    def kernel(ctx, ref, indices, updates, use_locking):
        xp = ctx.xp
        with ctx.state.lock if use_locking else contextlib.nullcontext():
            new = ctx.read_variable(ref).copy()
            if nd:
                index = _check_vectors(xp, indices, new.shape)
                if not index:  # vectors of length 0: each update covers the whole variable
                    for u in xp.reshape(updates, (-1,) + new.shape):
                        _combine(xp, kind, new, (), u)
                    return ctx.assign_variable(ref, new, True)
            else:
                _check_rows(xp, indices, new.shape[0])
                index = indices
                updates = xp.broadcast_to(updates, indices.shape + new.shape[1:])
            _combine(xp, kind, new, index, updates)
            return ctx.assign_variable(ref, new, True)

    return kernel


def _declare(kind: str, nd: bool, use_locking: bool) -> None:
    base = _ScatterNd if nd else _Scatter
    op_type = f"ScatterNd{kind}" if nd else f"Scatter{kind}"
    api = f"scatter_nd_{kind.lower()}" if nd else f"scatter_{kind.lower()}"
    where = "at the index vectors in `indices`" if nd else "at the rows `indices`"
    verb = "Sets" if kind == "Update" else f"Applies {kind.lower()} to"
    doc = (
        f"{verb} the variable `ref` {where} with `updates`; outputs the new value.\n\n"
        f"    >>> tf.{api}(w, {'[[0], [2]]' if nd else '[0, 2]'}, updates)\n"
    )
    namespace = {
        "__doc__": doc,
        "__module__": __name__,
        "defined_at": f"{__file__}:_declare({kind!r}, nd={nd})",
        "api": api,
        "attrs": {"use_locking": use_locking},
        "kernel": staticmethod(_scatter_kernel(kind, nd)),
    }
    globals()[op_type] = type(op_type, (base,), namespace)


for _kind in _KINDS:
    _declare(_kind, nd=False, use_locking=_kind == "Update")
for _kind in ("Update", "Add", "Sub"):
    _declare(_kind, nd=True, use_locking=_kind == "Update")
del _kind
