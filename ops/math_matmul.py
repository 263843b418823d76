"""Tensor products: MatMul, Einsum, and tensordot (built as an einsum).

MatMul multiplies the last two dimensions and broadcasts the leading (batch)
ones. Einsum equations are made explicit when the graph is built
(`parse_equation`), and the gradient of an einsum is an einsum of the output
gradient with the other operands. MatMul declares its arithmetic (`flops`) for
the scheduler's cost estimate; an Einsum is estimated by its size, like an
elementwise op. On the CPU a 2-D MatMul runs through ops.intra_op: a big product
split over the device's spare cores, a thin a @ b.T reordered.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops import intra_op
from ops.common import broadcast_shape, check_dtype, constant_value, normalize_axis
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import Tensor, convert_pair, convert_to_tensor
from raygraph.shapes import TensorShape, unknown_shape


class MatMul(Op):
    """Matrix product of the last two dimensions (batched over leading ones, which broadcast)."""

    inputs = ("a", "b")
    attrs = {"transpose_a": False, "transpose_b": False}
    same_dtype = ("a", "b")
    broadcasts = True  # over batch dimensions
    cost = "flops"

    def infer(a, b, transpose_a, transpose_b):
        check_dtype(a, "numeric", "a")
        if a.shape.ndims is not None and a.shape.ndims < 2:
            raise ValueError(f"a must have rank >= 2, got shape {a.shape}")
        if b.shape.ndims is not None and b.shape.ndims < 2:
            raise ValueError(f"b must have rank >= 2, got shape {b.shape}")
        if a.shape.dims is None or b.shape.dims is None:
            return a.dtype, None
        m, k = a.shape.dims[-2:][:: -1 if transpose_a else 1]
        k2, n = b.shape.dims[-2:][:: -1 if transpose_b else 1]
        if k is not None and k2 is not None and k != k2:
            raise ValueError(
                f"Dimensions must be equal, but are {k} and {k2}: a is "
                f"{a.shape.as_list()}{' transposed' if transpose_a else ''}, b is "
                f"{b.shape.as_list()}{' transposed' if transpose_b else ''}"
            )
        batch = broadcast_shape(TensorShape(a.shape.dims[:-2]), TensorShape(b.shape.dims[:-2]))
        return a.dtype, batch.concatenate([m, n])

    def kernel(xp, a, b, transpose_a, transpose_b):
        if xp is np and a.ndim == 2 and b.ndim == 2:  # split over the device's cores, or reordered
            return intra_op.matmul(a, b, transpose_a, transpose_b)
        if transpose_a:
            a = xp.swapaxes(a, -1, -2)
        if transpose_b:
            b = xp.swapaxes(b, -1, -2)
        return xp.matmul(a, b)

    def flops(op):
        """2 * output elements * the contracted dimension (for the scheduler's cost estimate)."""
        out = op.outputs[0].shape.num_elements()
        a = op.inputs[0].shape
        if out is None or a.ndims is None or a.ndims < 2:
            return 0.0
        inner = a.as_list()[-2 if op.attrs["transpose_a"] else -1]
        return 0.0 if inner is None else 2.0 * out * inner

    def grad(op, dz):
        a, b = op.inputs
        ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
        if not ta and not tb:
            return [tf.matmul(dz, b, transpose_b=True), tf.matmul(a, dz, transpose_a=True)]
        if not ta and tb:
            return [tf.matmul(dz, b), tf.matmul(dz, a, transpose_a=True)]
        if ta and not tb:
            return [tf.matmul(b, dz, transpose_b=True), tf.matmul(a, dz)]
        return [
            tf.matmul(b, dz, transpose_a=True, transpose_b=True),
            tf.matmul(dz, a, transpose_a=True, transpose_b=True),
        ]


@api_function("matmul", "linalg.matmul")
def matmul(
    a,
    b,
    transpose_a=False,
    transpose_b=False,
    adjoint_a=False,
    adjoint_b=False,
    a_is_sparse=False,
    b_is_sparse=False,
    output_type=None,
    name=None,
):
    """Matrix product of the last two dimensions: `tf.matmul(x, w)`, `tf.matmul(q, k, transpose_b=True)`.

    Leading (batch) dimensions broadcast. For real tensors `adjoint_*` is `transpose_*`;
    the sparsity hints are accepted and ignored.
    """
    a, b = convert_pair(a, b)
    if output_type is not None and dtypes.as_dtype(output_type) != a.dtype:
        raise TypeError(
            f"matmul: output_type {dtypes.as_dtype(output_type).name} differs from the "
            f"inputs' dtype {a.dtype.name}"
        )
    attrs = {"transpose_a": bool(transpose_a or adjoint_a), "transpose_b": bool(transpose_b or adjoint_b)}
    return build("MatMul", [a, b], attrs, name=name or "MatMul")


def _labels(subscripts: str) -> list[str]:
    """'...ij' -> ['...', 'i', 'j']."""
    head, ellipsis, tail = subscripts.partition("...")
    return list(head) + ([ellipsis] if ellipsis else []) + list(tail)


def parse_equation(equation: str, n_operands: int) -> tuple[list[str], str]:
    """An einsum equation as (operand subscripts, output subscripts), made explicit.

    >>> parse_equation("ij,jk", 2)
    (['ij', 'jk'], 'ik')
    """
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != n_operands:
        raise ValueError(f"einsum equation {equation!r} names {len(subs)} operands, got {n_operands} tensors")
    for s in subs + ([out] if arrow else []):
        core = s.replace("...", "", 1)
        if core and not core.isalpha():
            raise ValueError(f"einsum subscripts {s!r} in {equation!r} must be letters and at most one '...'")
    if not arrow:
        counts = {c: lhs.count(c) for c in lhs if c.isalpha()}
        out = ("..." if "..." in lhs else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
    elif len(set(out.replace("...", ""))) != len(out.replace("...", "")):
        raise ValueError(f"einsum output subscripts {out!r} repeat a letter")
    return subs, out


class Einsum(Op):
    """Sums of products over the subscripts of an equation: `tf.einsum("bij,bjk->bik", a, b)`."""

    inputs = ("inputs*",)
    attrs = {"equation": ""}
    same_dtype = ("inputs",)
    broadcasts = True  # '...' dimensions broadcast

    def infer(inputs, equation):
        subs, out = parse_equation(equation, len(inputs))
        check_dtype(inputs[0], "numeric", "inputs")
        sizes: dict[str, int | None] = {}
        ellipsis = TensorShape([])
        for i, (t, sub) in enumerate(zip(inputs, subs)):
            labels = _labels(sub)
            if t.shape.dims is None:
                if "..." in labels:
                    ellipsis = unknown_shape()
                continue
            n_ellipsis = t.shape.ndims - len(labels) + 1 if "..." in labels else 0
            if n_ellipsis < 0 or ("..." not in labels and t.shape.ndims != len(labels)):
                raise ValueError(f"operand {i} has shape {t.shape}, which subscripts {sub!r} do not fit")
            dims = list(t.shape.dims)
            for label in labels:
                if label == "...":
                    ellipsis = broadcast_shape(ellipsis, TensorShape(dims[:n_ellipsis]))
                    dims = dims[n_ellipsis:]
                    continue
                d, dims = dims[0], dims[1:]
                known = sizes.get(label)
                if known is not None and d is not None and known != d:
                    raise ValueError(f"subscript {label!r} has size {known} and {d} in {equation!r}")
                sizes[label] = d if known is None else known
        shape = []
        for label in _labels(out):
            if label == "...":
                if ellipsis.dims is None:
                    return inputs[0].dtype, None
                shape += ellipsis.dims
            elif not any(label in s for s in subs):
                raise ValueError(f"output subscript {label!r} of {equation!r} is on no operand")
            else:
                shape.append(sizes.get(label))
        return inputs[0].dtype, TensorShape(shape)

    def kernel(xp, inputs, equation):
        return xp.asarray(xp.einsum(equation, *inputs, optimize=len(inputs) > 1))

    def grad(op, dz):
        equation = op.attrs["equation"]
        subs, out = parse_equation(equation, len(op.inputs))
        if any(len(set(s.replace("...", ""))) != len(s.replace("...", "")) for s in subs):
            raise NotImplementedError(
                f"the gradient of einsum {equation!r} is not supported: a subscript repeats "
                "within one operand (a diagonal or trace)"
            )
        return [_einsum_grad(op.inputs, subs, out, dz, i) for i in range(len(op.inputs))]


def _einsum_grad(inputs, subs, out, dz, i):
    """d/d inputs[i]: the product of the output gradient and the other operands."""
    terms = [(dz, out)] + [(t, s) for j, (t, s) in enumerate(zip(inputs, subs)) if j != i]
    present = set().union(*(_labels(s) for _, s in terms))
    if not set(_labels(subs[i])) <= present:  # a label summed away: broadcast it back
        terms.append((tf.ones_like(inputs[i]), subs[i]))
    equation = ",".join(s for _, s in terms) + "->" + subs[i]
    return build("Einsum", [[t for t, _ in terms]], {"equation": equation})


@api_function("einsum", "linalg.einsum")
def einsum(equation, *inputs, **kwargs):
    """Sums of products named by subscripts: `tf.einsum("ij,jk->ik", a, b)`.

    Implicit outputs ("ij,jk") and broadcasting '...' follow numpy's rules.
    """
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"einsum got unexpected arguments {sorted(kwargs)}")
    tensors = [convert_to_tensor(t) for t in inputs]
    subs, out = parse_equation(equation, len(tensors))
    explicit = ",".join(subs) + "->" + out
    return build("Einsum", [tensors], {"equation": explicit}, name=name or "einsum")


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@api_function("tensordot", "linalg.tensordot")
def tensordot(a, b, axes, name=None):
    """Contracts `axes` of a with those of b: `tf.tensordot(x, w, [[2], [0]])`.

    `axes` is an int N (a's last N axes with b's first N) or a pair of axis lists.
    Both ranks must be known when the graph is built. Built as an einsum.
    """
    a, b = convert_pair(a, b)
    ra, rb = a.shape.ndims, b.shape.ndims
    if ra is None or rb is None:
        raise ValueError(f"tensordot needs tensors of known rank, got shapes {a.shape} and {b.shape}")
    a_axes, b_axes = _tensordot_axes(axes, ra, rb)
    for i, j in zip(a_axes, b_axes):
        m, n = a.shape.dims[i], b.shape.dims[j]
        if m is not None and n is not None and m != n:
            raise ValueError(
                f"tensordot: axis {i} of a (size {m}) and axis {j} of b (size {n}) differ; "
                f"shapes {a.shape} and {b.shape}"
            )
    a_sub = _LETTERS[:ra]
    b_sub = list(_LETTERS[ra : ra + rb])
    for i, j in zip(a_axes, b_axes):
        b_sub[j] = a_sub[i]
    out = [c for k, c in enumerate(a_sub) if k not in a_axes]
    out += [c for k, c in enumerate(b_sub) if k not in b_axes]
    equation = f"{a_sub},{''.join(b_sub)}->{''.join(out)}"
    return build("Einsum", [[a, b]], {"equation": equation}, name=name or "Tensordot")


def _tensordot_axes(axes, ra: int, rb: int) -> tuple[list[int], list[int]]:
    if isinstance(axes, Tensor):
        value = constant_value(axes)
        if value is None:
            raise ValueError("tensordot axes must be known when the graph is built")
        axes = value.tolist()
    if np.ndim(axes) == 0:
        n = int(axes)
        if not 0 <= n <= min(ra, rb):
            raise ValueError(f"tensordot axes={n} is out of range for ranks {ra} and {rb}")
        return list(range(ra - n, ra)), list(range(n))
    if len(axes) != 2:
        raise ValueError(f"tensordot axes must be an int or a pair of axis lists, got {axes!r}")
    a_axes, b_axes = ([x] if np.ndim(x) == 0 else list(x) for x in axes)
    if len(a_axes) != len(b_axes):
        raise ValueError(f"tensordot contracts {len(a_axes)} axes of a with {len(b_axes)} of b")
    return ([normalize_axis(x, ra) for x in a_axes], [normalize_axis(x, rb) for x in b_axes])
