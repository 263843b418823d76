"""Matrices: diagonals and bands, inverses, determinants, solves and decompositions.

Every op works on the last two dimensions and batches over the leading ones
(TensorFlow's linalg ops do not broadcast batch dimensions, and neither do these).
Kernels call the array module's `linalg` (numpy's LAPACK, or cupy's cuSOLVER); a
matrix that LAPACK cannot factor is an InvalidArgumentError, with TensorFlow's
message. Gradients are TensorFlow's, built from these ops:

- diagonal ops (MatrixDiag, MatrixDiagPart, MatrixSetDiag, Diag, DiagPart) and
  MatrixBandPart move gradients between the diagonal (or band) and the matrix;
- inverse, determinant and solves use the matrix inverse or a second solve;
- Cholesky's gradient is symmetric (the input is taken to be symmetric, as in TF);
  SelfAdjointEigV2's is lower-triangular (its kernel reads the lower triangle);
- Svd and Qr follow the standard reverse-mode formulas (reduced decompositions).

Decompositions return factors whose signs LAPACK chooses: compare products such as
U diag(s) V^T, not the factors, across libraries.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops.args import plain
from ops.common import check_dtype, check_scalar, constant_value
from ops.registry import Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import Tensor, convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, format_shape

# -- shape helpers ------------------------------------------------------------------------------


def _matrix_shape(x, what: str, square: bool = False) -> TensorShape:
    """x's static shape, checked to be a (batch of) matrices: rank >= 2, square if asked."""
    shape = x.shape
    if shape.ndims is not None and shape.ndims < 2:
        raise ValueError(f"{what} must have rank >= 2, got shape {format_shape(shape)}")
    if square and shape.ndims is not None:
        m, n = shape.dims[-2:]
        if m is not None and n is not None and m != n:
            raise ValueError(f"{what} must be a (batch of) square matrices, got shape {format_shape(shape)}")
    return shape


def _check_square(x, what: str) -> None:
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise errors.InvalidArgumentError(
            None, None, f"{what} must be a (batch of) square matrices, got shape {list(x.shape)}"
        )


def _lapack(xp, message: str, fn, *args, **kwargs):
    """fn(*args), with LAPACK's failure turned into TensorFlow's InvalidArgumentError."""
    try:
        return fn(*args, **kwargs)
    except xp.linalg.LinAlgError:
        raise errors.InvalidArgumentError(None, None, message) from None


def _diag_indices(xp, n: int):
    i = xp.arange(n)
    return i, i


def _adjoint(x):
    return tf.matrix_transpose(x)


# -- diagonals and bands ------------------------------------------------------------------------


class MatrixDiag(Op):
    """A batch of square matrices with `diagonal` ([..., N]) on their diagonals ([..., N, N])."""

    inputs = ("diagonal",)

    def infer(diagonal):
        shape = diagonal.shape
        if shape.ndims is not None and shape.ndims < 1:
            raise ValueError(f"diagonal must have rank >= 1, got shape {format_shape(shape)}")
        if shape.dims is None:
            return diagonal.dtype, None
        return diagonal.dtype, shape.concatenate([shape.dims[-1]])

    def kernel(xp, diagonal):
        n = diagonal.shape[-1]
        out = xp.zeros(diagonal.shape + (n,), diagonal.dtype)
        out[(..., *_diag_indices(xp, n))] = diagonal
        return out

    def grad(op, dz):
        return [build("MatrixDiagPart", [dz])]


class MatrixDiagPart(Op):
    """The main diagonals of a batch of matrices: [..., M, N] -> [..., min(M, N)]."""

    inputs = ("input",)

    def infer(input):  # noqa: A002
        shape = _matrix_shape(input, "input")
        if shape.dims is None:
            return input.dtype, None
        m, n = shape.dims[-2:]
        k = None if m is None or n is None else min(m, n)
        return input.dtype, TensorShape(shape.dims[:-2] + (k,))

    def kernel(xp, input):  # noqa: A002
        return xp.ascontiguousarray(xp.diagonal(input, axis1=-2, axis2=-1))

    def grad(op, dz):
        return [build("MatrixSetDiag", [tf.zeros_like(op.inputs[0]), dz])]


class MatrixSetDiag(Op):
    """`input` with the main diagonals of its matrices replaced by `diagonal`."""

    inputs = ("input", "diagonal")
    same_dtype = ("input", "diagonal")

    def infer(input, diagonal):  # noqa: A002
        shape = _matrix_shape(input, "input")
        if shape.dims is not None and diagonal.shape.dims is not None:
            m, n = shape.dims[-2:]
            k = None if m is None or n is None else min(m, n)
            expected = TensorShape(shape.dims[:-2] + (k,))
            if not expected.is_compatible_with(diagonal.shape):
                raise ValueError(
                    f"diagonal must have shape {format_shape(expected)} for input of shape "
                    f"{format_shape(shape)}, got {format_shape(diagonal.shape)}"
                )
        return input.dtype, shape

    def kernel(xp, input, diagonal):  # noqa: A002
        k = min(input.shape[-2:])
        if diagonal.shape != input.shape[:-2] + (k,):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"diagonal must have shape {list(input.shape[:-2]) + [k]} for input of shape "
                f"{list(input.shape)}, got {list(diagonal.shape)}",
            )
        out = input.copy()
        out[(..., *_diag_indices(xp, k))] = diagonal
        return out

    def grad(op, dz):
        diagonal = op.inputs[1]
        return [build("MatrixSetDiag", [dz, tf.zeros_like(diagonal)]), build("MatrixDiagPart", [dz])]


class MatrixBandPart(Op):
    """Zeroes entries outside a band: keeps (i, j) with i - j <= num_lower and j - i <= num_upper.

    A negative num_lower (num_upper) keeps the whole lower (upper) triangle.
    """

    inputs = ("input", "num_lower", "num_upper")
    api = ("matrix_band_part", "linalg.band_part")

    def infer(input, num_lower, num_upper):  # noqa: A002
        check_scalar(num_lower, "num_lower", "int")
        check_scalar(num_upper, "num_upper", "int")
        return input.dtype, _matrix_shape(input, "input")

    def kernel(xp, input, num_lower, num_upper):  # noqa: A002
        m, n = input.shape[-2:]
        lower, upper = int(num_lower), int(num_upper)
        if lower > m or upper > n:
            raise errors.InvalidArgumentError(
                None,
                None,
                f"num_lower ({lower}) must not exceed the rows ({m}), num_upper ({upper}) the columns ({n})",
            )
        i = xp.arange(m)[:, None]
        j = xp.arange(n)[None, :]
        keep = ((i - j <= lower) | (lower < 0)) & ((j - i <= upper) | (upper < 0))
        return xp.where(keep, input, xp.zeros((), input.dtype))

    def grad(op, dz):
        _, lower, upper = op.inputs
        return [build("MatrixBandPart", [dz, lower, upper]), None, None]


class Diag(Op):
    """A tensor of rank 2k with `diagonal` (rank k) on its diagonal: out[i.., i..] = diagonal[i..]."""

    inputs = ("diagonal",)
    api = ("diag", "linalg.tensor_diag")

    def infer(diagonal):
        shape = diagonal.shape
        if shape.ndims == 0:
            raise ValueError("diagonal must have rank >= 1, got a scalar")
        return diagonal.dtype, None if shape.dims is None else shape.concatenate(shape)

    def kernel(xp, diagonal):
        if diagonal.ndim == 0:
            raise errors.InvalidArgumentError(None, None, "diagonal must have rank >= 1, got a scalar")
        flat = diagonal.reshape(-1)
        out = xp.zeros((flat.size, flat.size), diagonal.dtype)
        out[_diag_indices(xp, flat.size)] = flat
        return out.reshape(diagonal.shape + diagonal.shape)

    def grad(op, dz):
        return [build("DiagPart", [dz])]


class DiagPart(Op):
    """The diagonal of a tensor of rank 2k whose shape is [d1..dk, d1..dk]: out[i..] = input[i.., i..]."""

    inputs = ("input",)
    api = ("diag_part", "linalg.tensor_diag_part")

    def infer(input):  # noqa: A002
        shape = input.shape
        if shape.dims is None:
            return input.dtype, None
        k, odd = divmod(shape.ndims, 2)
        if odd or k == 0 or not TensorShape(shape.dims[:k]).is_compatible_with(TensorShape(shape.dims[k:])):
            raise ValueError(
                f"input must have an even rank >= 2 and shape [d1..dk, d1..dk], got {format_shape(shape)}"
            )
        return input.dtype, TensorShape(shape.dims[:k]).merge_with(TensorShape(shape.dims[k:]))

    def kernel(xp, input):  # noqa: A002
        k = input.ndim // 2
        if input.ndim % 2 or k == 0 or input.shape[:k] != input.shape[k:]:
            raise errors.InvalidArgumentError(
                None, None, f"input must have shape [d1..dk, d1..dk], got {list(input.shape)}"
            )
        size = int(np.prod(input.shape[:k]))
        return xp.ascontiguousarray(xp.diagonal(input.reshape(size, size))).reshape(input.shape[:k])

    def grad(op, dz):
        return [build("Diag", [dz])]


@api_function("matrix_diag", "linalg.diag")
def matrix_diag(diagonal, name="diag", k=0, num_rows=-1, num_cols=-1, padding_value=0, align="RIGHT_LEFT"):
    """Square matrices with `diagonal` on the main diagonal: `tf.matrix_diag([1., 2.])` is diag(1, 2).

    Only the main diagonal (k=0, default num_rows/num_cols and padding 0) is supported.
    """
    if np.any(np.asarray(k) != 0) or num_rows != -1 or num_cols != -1 or padding_value != 0:
        raise NotImplementedError("matrix_diag supports only the main diagonal (k=0) of square matrices")
    return build("MatrixDiag", [convert_to_tensor(diagonal)], name=name)


@api_function("matrix_diag_part", "linalg.diag_part")
def matrix_diag_part(input, name="diag_part", k=0, padding_value=0, align="RIGHT_LEFT"):  # noqa: A002
    """The main diagonals of a batch of matrices: [..., M, N] -> [..., min(M, N)].

    Only the main diagonal (k=0) is supported.
    """
    if np.any(np.asarray(k) != 0):
        raise NotImplementedError("matrix_diag_part supports only the main diagonal (k=0)")
    return build("MatrixDiagPart", [convert_to_tensor(input)], name=name)


@api_function("matrix_set_diag", "linalg.set_diag")
def matrix_set_diag(input, diagonal, name="set_diag", k=0, align="RIGHT_LEFT"):  # noqa: A002
    """`input` with its main diagonals replaced: `tf.matrix_set_diag(x, tf.zeros([n]))`.

    Only the main diagonal (k=0) is supported.
    """
    if np.any(np.asarray(k) != 0):
        raise NotImplementedError("matrix_set_diag supports only the main diagonal (k=0)")
    input = convert_to_tensor(input)  # noqa: A001
    diagonal = convert_to_tensor(diagonal, dtype=input.dtype)
    return build("MatrixSetDiag", [input, diagonal], name=name)


@api_function("eye", "linalg.eye")
def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    """An identity matrix (or a batch of them): `tf.eye(3)`, `tf.eye(2, 3, batch_shape=[4])`.

    Sizes may be Python ints or scalar tensors computed at run time.
    """
    dtype = dtypes.as_dtype(dtype)
    with name_scope(name, "eye"):
        known = [_static(v) for v in (num_rows, num_columns, batch_shape)]
        if all(k is not None or v is None for k, v in zip(known, (num_rows, num_columns, batch_shape))):
            n = int(known[0])
            m = n if num_columns is None else int(known[1])
            batch = () if batch_shape is None else tuple(int(d) for d in np.reshape(known[2], [-1]))
            return tf.constant(np.broadcast_to(np.eye(n, m, dtype=dtype.np), batch + (n, m)).copy())
        n = tf.cast(num_rows, dtypes.int32)
        m = n if num_columns is None else tf.cast(num_columns, dtypes.int32)
        matrix = tf.cast(tf.equal(tf.range(n)[:, None], tf.range(m)[None, :]), dtype)
        if batch_shape is None:
            return matrix
        batch = tf.cast(batch_shape, dtypes.int32)
        return tf.broadcast_to(matrix, tf.concat([batch, tf.shape(matrix)], 0))


def _static(value):
    """A Python or constant-tensor value as a numpy array; None if only the running graph knows it."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        return constant_value(value)
    return np.asarray(plain(value))


@api_function("trace", "linalg.trace")
def trace(x, name=None):
    """Sum of the main diagonal of each matrix: [..., M, N] -> [...]."""
    with name_scope(name, "Trace"):
        return tf.reduce_sum(matrix_diag_part(x), axis=-1)


@api_function("linalg.adjoint")
def adjoint(matrix, name=None):
    """The conjugate transpose of each matrix (the transpose, for real tensors)."""
    return tf.matrix_transpose(matrix, name=name or "adjoint")


# -- inverse and determinants -------------------------------------------------------------------


class MatrixInverse(Op):
    """The inverse of each square matrix (of its adjoint, with adjoint=True)."""

    inputs = ("input",)
    attrs = {"adjoint": False}
    api = ("matrix_inverse", "linalg.inv")

    def infer(input, adjoint):  # noqa: A002
        check_dtype(input, "float", "input")
        return input.dtype, _matrix_shape(input, "input", square=True)

    def kernel(xp, input, adjoint):  # noqa: A002
        _check_square(input, "input")
        if adjoint:
            input = xp.swapaxes(input, -1, -2)  # noqa: A001
        return _lapack(xp, "Input is not invertible.", xp.linalg.inv, input).astype(input.dtype)

    def grad(op, dz):
        inv = op.outputs[0]
        if op.attrs["adjoint"]:  # y = inv(a)^T: da = -y dz^T y
            return [-tf.matmul(inv, tf.matmul(dz, inv, transpose_a=True))]
        return [-tf.matmul(inv, tf.matmul(dz, inv, transpose_b=True), transpose_a=True)]


class MatrixDeterminant(Op):
    """The determinant of each square matrix: [..., N, N] -> [...]."""

    inputs = ("input",)
    api = ("matrix_determinant", "linalg.det")

    def infer(input):  # noqa: A002
        check_dtype(input, "float", "input")
        shape = _matrix_shape(input, "input", square=True)
        return input.dtype, None if shape.dims is None else TensorShape(shape.dims[:-2])

    def kernel(xp, input):  # noqa: A002
        _check_square(input, "input")
        return xp.asarray(xp.linalg.det(input), input.dtype)

    def grad(op, dz):
        scale = (dz * op.outputs[0])[..., None, None]
        return [scale * build("MatrixInverse", [op.inputs[0]], {"adjoint": True})]


class LogMatrixDeterminant(Op):
    """Sign and log of the absolute value of each determinant: log|det| without overflow."""

    inputs = ("input",)
    multi_output = True

    def infer(input):  # noqa: A002
        check_dtype(input, "float", "input")
        shape = _matrix_shape(input, "input", square=True)
        out = None if shape.dims is None else TensorShape(shape.dims[:-2])
        return [(input.dtype, out), (input.dtype, out)]

    def kernel(xp, input):  # noqa: A002
        _check_square(input, "input")
        sign, logdet = xp.linalg.slogdet(input)
        return [xp.asarray(sign, input.dtype), xp.asarray(logdet, input.dtype)]

    def grad(op, dsign, dlogdet):
        return [dlogdet[..., None, None] * build("MatrixInverse", [op.inputs[0]], {"adjoint": True})]


@api_function("log_matrix_determinant", "linalg.slogdet")
def log_matrix_determinant(input, name=None):  # noqa: A002
    """(sign, log|det|) of each square matrix: `sign, logdet = tf.linalg.slogdet(a)`."""
    return tuple(build("LogMatrixDeterminant", [convert_to_tensor(input)], name=name))


@api_function("linalg.logdet")
def logdet(matrix, name=None):
    """log(det(matrix)) of Hermitian positive definite matrices, from their Cholesky factors."""
    with name_scope(name, "logdet"):
        chol = build("Cholesky", [convert_to_tensor(matrix)])
        return 2.0 * tf.reduce_sum(tf.log(matrix_diag_part(chol)), axis=-1)


# -- solves and factorizations ------------------------------------------------------------------


class Cholesky(Op):
    """The lower-triangular L with L L^T = input, for symmetric positive definite matrices.

    Only the lower triangle of the input is read.
    """

    inputs = ("input",)
    api = ("cholesky", "linalg.cholesky")

    def infer(input):  # noqa: A002
        check_dtype(input, "float", "input")
        return input.dtype, _matrix_shape(input, "input", square=True)

    def kernel(xp, input):  # noqa: A002
        _check_square(input, "input")
        message = "Cholesky decomposition was not successful. The input might not be valid."
        out = _lapack(xp, message, xp.linalg.cholesky, input)
        if not bool(xp.all(xp.isfinite(out))):  # cupy reports failure as NaNs
            raise errors.InvalidArgumentError(None, None, message)
        return out.astype(input.dtype)

    def grad(op, dl):
        chol = op.outputs[0]
        chol_inv = build(
            "MatrixTriangularSolve", [chol, _identity_like(chol)], {"lower": True, "adjoint": False}
        )
        middle = tf.matmul(chol, dl, transpose_a=True)
        middle = matrix_set_diag(middle, 0.5 * matrix_diag_part(middle))
        middle = tf.matrix_band_part(middle, -1, 0)
        da = tf.matmul(tf.matmul(chol_inv, middle, transpose_a=True), chol_inv)
        return [0.5 * (da + _adjoint(da))]


def _identity_like(x):
    """Identity matrices of x's (square) shape, for shapes known only at run time."""
    return matrix_set_diag(tf.zeros_like(x), tf.ones_like(matrix_diag_part(x)))


def _solve_shape(matrix, rhs):
    m = _matrix_shape(matrix, "matrix", square=True)
    r = _matrix_shape(rhs, "rhs")
    if m.dims is not None and r.dims is not None:
        if m.ndims != r.ndims or not TensorShape(m.dims[:-1]).is_compatible_with(TensorShape(r.dims[:-1])):
            raise ValueError(
                f"matrix and rhs must have the same batch dimensions and rows: matrix "
                f"{format_shape(m)}, rhs {format_shape(r)}"
            )
        return TensorShape(r.dims[:-2]).merge_with(TensorShape(m.dims[:-2])).concatenate(r.dims[-2:])
    return r


def _check_solve(matrix, rhs) -> None:
    _check_square(matrix, "matrix")
    if rhs.ndim != matrix.ndim or rhs.shape[:-1] != matrix.shape[:-1]:
        raise errors.InvalidArgumentError(
            None,
            None,
            f"matrix and rhs must have the same batch dimensions and rows: matrix "
            f"{list(matrix.shape)}, rhs {list(rhs.shape)}",
        )


class MatrixSolve(Op):
    """X with matrix X = rhs (adjoint(matrix) X = rhs with adjoint=True), for each matrix."""

    inputs = ("matrix", "rhs")
    attrs = {"adjoint": False}
    same_dtype = ("matrix", "rhs")
    api = ("matrix_solve", "linalg.solve")

    def infer(matrix, rhs, adjoint):
        check_dtype(matrix, "float", "matrix")
        return matrix.dtype, _solve_shape(matrix, rhs)

    def kernel(xp, matrix, rhs, adjoint):
        _check_solve(matrix, rhs)
        if adjoint:
            matrix = xp.swapaxes(matrix, -1, -2)
        return _lapack(xp, "Input matrix is not invertible.", xp.linalg.solve, matrix, rhs).astype(rhs.dtype)

    def grad(op, dx):
        matrix = op.inputs[0]
        adj = op.attrs["adjoint"]
        x = op.outputs[0]
        drhs = build("MatrixSolve", [matrix, dx], {"adjoint": not adj})
        if adj:
            return [-tf.matmul(x, drhs, transpose_b=True), drhs]
        return [-tf.matmul(drhs, x, transpose_b=True), drhs]


class MatrixTriangularSolve(Op):
    """X with matrix X = rhs for triangular matrices; only the lower (upper) triangle is read."""

    inputs = ("matrix", "rhs")
    attrs = {"lower": True, "adjoint": False}
    same_dtype = ("matrix", "rhs")
    api = ("matrix_triangular_solve", "linalg.triangular_solve")

    def infer(matrix, rhs, lower, adjoint):
        check_dtype(matrix, "float", "matrix")
        return matrix.dtype, _solve_shape(matrix, rhs)

    def kernel(xp, matrix, rhs, lower, adjoint):
        _check_solve(matrix, rhs)
        matrix = xp.tril(matrix) if lower else xp.triu(matrix)
        if adjoint:
            matrix = xp.swapaxes(matrix, -1, -2)
        return _lapack(xp, "Input matrix is not invertible.", xp.linalg.solve, matrix, rhs).astype(rhs.dtype)

    def grad(op, dx):
        matrix = op.inputs[0]
        lower, adj = op.attrs["lower"], op.attrs["adjoint"]
        x = op.outputs[0]
        drhs = build("MatrixTriangularSolve", [matrix, dx], {"lower": lower, "adjoint": not adj})
        dmatrix = -tf.matmul(x, drhs, transpose_b=True) if adj else -tf.matmul(drhs, x, transpose_b=True)
        band = (-1, 0) if lower else (0, -1)
        return [tf.matrix_band_part(dmatrix, *band), drhs]


@api_function("cholesky_solve", "linalg.cholesky_solve")
def cholesky_solve(chol, rhs, name=None):
    """X with A X = rhs, given A's Cholesky factor `chol` (from tf.cholesky(A))."""
    with name_scope(name, "cholesky_solve"):
        y = build("MatrixTriangularSolve", [chol, rhs], {"lower": True, "adjoint": False})
        return build("MatrixTriangularSolve", [chol, y], {"lower": True, "adjoint": True})


class SelfAdjointEigV2(Op):
    """Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices' lower triangles."""

    inputs = ("input",)
    attrs = {"compute_v": True}
    multi_output = True

    def infer(input, compute_v):  # noqa: A002
        check_dtype(input, "float", "input")
        shape = _matrix_shape(input, "input", square=True)
        if shape.dims is None:
            return [(input.dtype, None), (input.dtype, None)]
        values = TensorShape(shape.dims[:-1])
        return [(input.dtype, values), (input.dtype, shape if compute_v else TensorShape([0]))]

    def kernel(xp, input, compute_v):  # noqa: A002
        _check_square(input, "input")
        if not compute_v:
            return [xp.linalg.eigvalsh(input).astype(input.dtype), xp.zeros((0,), input.dtype)]
        e, v = xp.linalg.eigh(input)
        return [e.astype(input.dtype), v.astype(input.dtype)]

    def grad(op, de, dv):
        e = op.outputs[0]
        if op.attrs["compute_v"]:
            v = op.outputs[1]
            f = matrix_set_diag(_safe_reciprocal(e[..., None, :] - e[..., :, None]), tf.zeros_like(e))
            inner = build("MatrixDiag", [de]) + f * tf.matmul(v, dv, transpose_a=True)
        else:
            v = build("SelfAdjointEigV2", [op.inputs[0]], {"compute_v": True})[1]
            inner = build("MatrixDiag", [de])
        da = tf.matmul(v, tf.matmul(inner, v, transpose_b=True))
        da = tf.matrix_band_part(da + _adjoint(da), -1, 0)
        return [matrix_set_diag(da, 0.5 * matrix_diag_part(da))]


def _safe_reciprocal(x, epsilon=1e-20):
    """1/x, and 0 (not inf) where x is 0: the gaps between repeated eigenvalues."""
    return x * tf.reciprocal(x * x + epsilon)


@api_function("self_adjoint_eig", "linalg.eigh")
def self_adjoint_eig(tensor, name=None):
    """(eigenvalues, eigenvectors) of symmetric matrices: `e, v = tf.self_adjoint_eig(a)`."""
    return tuple(build("SelfAdjointEigV2", [convert_to_tensor(tensor)], {"compute_v": True}, name=name))


@api_function("self_adjoint_eigvals", "linalg.eigvalsh")
def self_adjoint_eigvals(tensor, name=None):
    """The eigenvalues (ascending) of symmetric matrices."""
    return build("SelfAdjointEigV2", [convert_to_tensor(tensor)], {"compute_v": False}, name=name)[0]


class Svd(Op):
    """Singular values s (descending) and singular vectors u, v with input = u diag(s) v^T."""

    inputs = ("input",)
    attrs = {"compute_uv": True, "full_matrices": False}
    multi_output = True

    def infer(input, compute_uv, full_matrices):  # noqa: A002
        check_dtype(input, "float", "input")
        shape = _matrix_shape(input, "input")
        if shape.dims is None:
            return [(input.dtype, None)] * 3
        batch, (m, n) = list(shape.dims[:-2]), shape.dims[-2:]
        k = None if m is None or n is None else min(m, n)
        if not compute_uv:
            return [(input.dtype, batch + [k]), (input.dtype, [0]), (input.dtype, [0])]
        cols_u, cols_v = (m, n) if full_matrices else (k, k)
        return [
            (input.dtype, batch + [k]),
            (input.dtype, batch + [m, cols_u]),
            (input.dtype, batch + [n, cols_v]),
        ]

    def kernel(xp, input, compute_uv, full_matrices):  # noqa: A002
        # LAPACK's gesdd may never return on inf or nan (OpenBLAS 0.3.31): such a matrix
        # is decomposed as zeros, and its outputs are all nan, as TensorFlow's are
        bad = ~xp.isfinite(input).all(axis=(-2, -1)) if input.size else xp.zeros(input.shape[:-2], bool)
        if bad.any():
            input = xp.where(bad[..., None, None], 0, input)
        if not compute_uv:
            s = xp.linalg.svd(input, compute_uv=False)
            empty = xp.zeros((0,), input.dtype)
            return [_nan_where(xp, bad, s.astype(input.dtype)), empty, empty]
        u, s, vt = xp.linalg.svd(input, full_matrices=full_matrices)
        v = xp.swapaxes(vt, -1, -2)
        return [_nan_where(xp, bad, x.astype(input.dtype)) for x in (s, u, v)]

    def grad(op, ds, du, dv):
        a = op.inputs[0]
        if not op.attrs["compute_uv"]:
            _, u, v = build("Svd", [a], {"compute_uv": True, "full_matrices": False})
            return [tf.matmul(u * ds[..., None, :], v, transpose_b=True)]
        s, u, v = op.outputs
        if op.attrs["full_matrices"]:
            m, n = a.shape.dims[-2:] if a.shape.dims is not None else (None, None)
            if m is None or m != n:
                raise NotImplementedError(
                    f"the gradient of svd with full_matrices=True needs square matrices, got shape "
                    f"{format_shape(a.shape)}"
                )
        return [_svd_grad(s, u, v, ds, du, dv)]


def _svd_grad(s, u, v, ds, du, dv):
    """Reverse mode of the reduced SVD a = u diag(s) v^T (Townsend, 2016).

    With F[i, j] = 1 / (s_j^2 - s_i^2) off the diagonal:
    da = u [diag(ds) + (F o (u^T du - du^T u)) S + S (F o (v^T dv - dv^T v))] v^T
         + (du - u u^T du) S^-1 v^T + u S^-1 (dv - v v^T dv)^T.
    """
    s2 = tf.square(s)
    f = matrix_set_diag(_safe_reciprocal(s2[..., None, :] - s2[..., :, None]), tf.zeros_like(s))
    utdu = tf.matmul(u, du, transpose_a=True)
    vtdv = tf.matmul(v, dv, transpose_a=True)
    j = f * (utdu - _adjoint(utdu))
    k = f * (vtdv - _adjoint(vtdv))
    inner = build("MatrixDiag", [ds]) + j * s[..., None, :] + s[..., :, None] * k
    da = tf.matmul(u, tf.matmul(inner, v, transpose_b=True))
    inv_s = _safe_reciprocal(s)
    du_perp = du - tf.matmul(u, utdu)
    dv_perp = dv - tf.matmul(v, vtdv)
    da += tf.matmul(du_perp * inv_s[..., None, :], v, transpose_b=True)
    da += tf.matmul(u * inv_s[..., None, :], dv_perp, transpose_b=True)
    return da


def _nan_where(xp, bad, x):
    """x with every matrix (or vector) of a batch entry marked in `bad` set to nan."""
    if not bad.any():
        return x
    return xp.where(bad.reshape(bad.shape + (1,) * (x.ndim - bad.ndim)), xp.nan, x).astype(x.dtype)


@api_function("svd", "linalg.svd")
def svd(tensor, full_matrices=False, compute_uv=True, name=None):
    """Singular value decomposition: `s, u, v = tf.svd(a)` with a = u diag(s) v^T; s alone
    with compute_uv=False.
    """
    s, u, v = build(
        "Svd",
        [convert_to_tensor(tensor)],
        {"compute_uv": bool(compute_uv), "full_matrices": bool(full_matrices)},
        name=name,
    )
    return (s, u, v) if compute_uv else s


class Qr(Op):
    """QR decomposition: input = q r, q with orthonormal columns, r upper-triangular."""

    inputs = ("input",)
    attrs = {"full_matrices": False}
    multi_output = True
    api = ("qr", "linalg.qr")

    def infer(input, full_matrices):  # noqa: A002
        check_dtype(input, "float", "input")
        shape = _matrix_shape(input, "input")
        if shape.dims is None:
            return [(input.dtype, None)] * 2
        batch, (m, n) = list(shape.dims[:-2]), shape.dims[-2:]
        k = None if m is None or n is None else min(m, n)
        rows = m if full_matrices else k
        return [(input.dtype, batch + [m, rows]), (input.dtype, batch + [rows, n])]

    def kernel(xp, input, full_matrices):  # noqa: A002
        q, r = xp.linalg.qr(input, mode="complete" if full_matrices else "reduced")
        return [q.astype(input.dtype), r.astype(input.dtype)]

    def grad(op, dq, dr):
        q, r = op.outputs
        if r.shape.dims is None or None in r.shape.dims[-2:] or None in q.shape.dims[-2:]:
            raise NotImplementedError(
                f"the gradient of qr needs static matrix shapes, got r {format_shape(r.shape)}"
            )
        m, n = q.shape.dims[-2], r.shape.dims[-1]
        if m >= n:
            if op.attrs["full_matrices"] and m > n:
                raise NotImplementedError("the gradient of qr with full_matrices=True needs rows <= columns")
            return [_qr_grad_deep(q, r, dq, dr)]
        # A wide matrix [x | y] = q [u | w]: x = q u is a square QR, y = q w.
        a = op.inputs[0]
        y = a[..., :, m:]
        u = r[..., :, :m]
        dw = dr[..., :, m:]
        dx = _qr_grad_deep(q, u, dq + tf.matmul(y, dw, transpose_b=True), dr[..., :, :m])
        return [tf.concat([dx, tf.matmul(q, dw)], axis=-1)]


def _qr_grad_deep(q, r, dq, dr):
    """Reverse mode of a = q r for rows >= columns (reduced q)."""

    def times_r_inv_t(x):  # x r^-T, r upper-triangular
        return _adjoint(build("MatrixTriangularSolve", [r, _adjoint(x)], {"lower": False, "adjoint": False}))

    qdq = tf.matmul(q, dq, transpose_a=True)
    rdr = tf.matmul(r, dr, transpose_b=True)
    tril = tf.matrix_band_part(qdq - _adjoint(qdq) + rdr - _adjoint(rdr), -1, 0)
    return tf.matmul(q, dr + times_r_inv_t(tril)) + times_r_inv_t(dq - tf.matmul(q, qdq))


class Cross(Op):
    """The cross product of 3-vectors along the last dimension."""

    inputs = ("a", "b")
    same_dtype = ("a", "b")
    api = ("cross", "linalg.cross")

    def infer(a, b):
        check_dtype(a, "numeric", "a")
        if a.shape.dims is not None and b.shape.dims is not None and not a.shape.is_compatible_with(b.shape):
            raise ValueError(
                f"a and b must have the same shape, got {format_shape(a.shape)} and {format_shape(b.shape)}"
            )
        shape = (
            a.shape.merge_with(b.shape) if a.shape.dims is not None and b.shape.dims is not None else a.shape
        )
        if shape.ndims is not None and shape.dims[-1] not in (None, 3):
            raise ValueError(f"the last dimension of a and b must be 3, got shape {format_shape(shape)}")
        return a.dtype, shape

    def kernel(xp, a, b):
        if a.shape != b.shape or a.shape[-1:] != (3,):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"a and b must have the same shape [..., 3], got {list(a.shape)} and {list(b.shape)}",
            )
        return xp.cross(a, b).astype(a.dtype)

    def grad(op, dz):
        a, b = op.inputs
        return [build("Cross", [b, dz]), build("Cross", [dz, a])]
