"""Op test cases for the linalg family (see cases.py for the contract).

Matrices that are inverted, solved or factored are made well conditioned
(diagonally dominant, or x x^T + 3I for Cholesky). Decompositions are checked
through quantities that do not depend on LAPACK's choice of signs (u * u, and
u times a row of v) so that finite differences stay on one branch.
"""

from __future__ import annotations

import numpy as np

import raygraph as tf
from tests.ops.cases import Case, uniform

MATRICES = [((3, 3),), ((2, 4, 4),)]


def dominant(rng, shapes, dtypes):
    """Matrices with a dominant diagonal (well conditioned), then any further inputs uniform."""
    out = []
    for i, (shape, dtype) in enumerate(zip(shapes, dtypes)):
        x = rng.uniform(-1, 1, shape)
        if i == 0:
            x = x + 4 * np.eye(shape[-1])
        out.append(x.astype(dtype))
    return out


def spd(x):
    n = x.shape[-1]
    return x @ np.swapaxes(x, -1, -2) + 3 * np.eye(n)


def tf_spd(x):
    return tf.matmul(x, x, transpose_b=True) + 3 * tf.eye(tf.shape(x)[-1], dtype=x.dtype)


def sym(x):
    return x + np.swapaxes(x, -1, -2)


def band(x, lower, upper):
    m, n = x.shape[-2:]
    i, j = np.arange(m)[:, None], np.arange(n)[None, :]
    keep = ((i - j <= lower) | (lower < 0)) & ((j - i <= upper) | (upper < 0))
    return np.where(keep, x, 0)


def set_diag(x, d):
    out = x.copy()
    k = min(x.shape[-2:])
    out[..., np.arange(k), np.arange(k)] = d
    return out


def matrix_diag(d):
    out = np.zeros(d.shape + d.shape[-1:], d.dtype)
    out[..., np.arange(d.shape[-1]), np.arange(d.shape[-1])] = d
    return out


def svd_parts(s, u, v):
    return [s, u * u, v * v, u * v[..., :1, :]]


def np_svd(x):
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    return svd_parts(s, u, np.swapaxes(vt, -1, -2))


def tf_svd(x):
    return svd_parts(*tf.svd(x))


def np_eigh(x):
    e, v = np.linalg.eigh(sym(x))
    return [e, v * v, v * v[..., :1, :]]


def tf_eigh(x):
    e, v = tf.self_adjoint_eig(x + tf.matrix_transpose(x))
    return [e, v * v, v * v[..., :1, :]]


def cross_inputs(rng, shapes, dtypes):
    return [rng.uniform(-2, 2, s).astype(d) for s, d in zip(shapes, dtypes)]


CASES = [
    Case("MatrixDiag", tf.matrix_diag, matrix_diag, [((3,),), ((2, 4),)]),
    Case(
        "MatrixDiagPart",
        tf.matrix_diag_part,
        lambda x: np.diagonal(x, axis1=-2, axis2=-1),
        [((3, 4),), ((2, 4, 3),)],
    ),
    Case("MatrixSetDiag", tf.matrix_set_diag, set_diag, [((3, 4), (3,)), ((2, 4, 4), (2, 4))]),
    Case(
        "MatrixBandPart",
        lambda x: tf.matrix_band_part(x, 1, 0),
        lambda x: band(x, 1, 0),
        [((4, 5),), ((2, 3, 3),)],
    ),
    Case(
        "MatrixBandPart",
        lambda x: tf.linalg.band_part(x, -1, 2),
        lambda x: band(x, -1, 2),
        [((4, 5),)],
        label="upper",
    ),
    Case("Diag", tf.diag, lambda d: np.diag(d.reshape(-1)).reshape(d.shape * 2), [((3,),), ((2, 3),)]),
    Case(
        "DiagPart",
        tf.diag_part,
        lambda x: np.diagonal(x.reshape(6, 6)).reshape(2, 3),
        [((2, 3, 2, 3),)],
        dynamic=False,
    ),
    Case("MatrixInverse", tf.matrix_inverse, np.linalg.inv, MATRICES, inputs=dominant),
    Case(
        "MatrixInverse",
        lambda x: tf.matrix_inverse(x, adjoint=True),
        lambda x: np.swapaxes(np.linalg.inv(x), -1, -2),
        MATRICES,
        inputs=dominant,
        label="adjoint",
    ),
    Case("MatrixDeterminant", tf.matrix_determinant, np.linalg.det, MATRICES, inputs=dominant),
    Case(
        "LogMatrixDeterminant",
        lambda x: list(tf.linalg.slogdet(x)),
        lambda x: list(np.linalg.slogdet(x)),
        MATRICES,
        grad_inputs=(0,),
        inputs=uniform(-2, 2),
    ),
    Case(
        "Cholesky",
        lambda x: tf.cholesky(tf_spd(x)),
        lambda x: np.linalg.cholesky(spd(x)),
        MATRICES,
        rtol=1e-4,
        atol=1e-5,
    ),
    Case(
        "MatrixSolve",
        tf.matrix_solve,
        np.linalg.solve,
        [((3, 3), (3, 2)), ((2, 4, 4), (2, 4, 1))],
        inputs=dominant,
        rtol=1e-4,
    ),
    Case(
        "MatrixSolve",
        lambda a, b: tf.matrix_solve(a, b, adjoint=True),
        lambda a, b: np.linalg.solve(np.swapaxes(a, -1, -2), b),
        [((3, 3), (3, 2))],
        inputs=dominant,
        rtol=1e-4,
        label="adjoint",
    ),
    Case(
        "MatrixTriangularSolve",
        tf.matrix_triangular_solve,
        lambda a, b: np.linalg.solve(np.tril(a), b),
        [((3, 3), (3, 2)), ((2, 4, 4), (2, 4, 1))],
        inputs=dominant,
        rtol=1e-4,
    ),
    Case(
        "MatrixTriangularSolve",
        lambda a, b: tf.matrix_triangular_solve(a, b, lower=False, adjoint=True),
        lambda a, b: np.linalg.solve(np.swapaxes(np.triu(a), -1, -2), b),
        [((3, 3), (3, 2))],
        inputs=dominant,
        rtol=1e-4,
        label="upper-adjoint",
    ),
    Case("SelfAdjointEigV2", tf_eigh, np_eigh, [((4, 4),), ((2, 3, 3),)], rtol=1e-4, atol=1e-5),
    Case(
        "SelfAdjointEigV2",
        lambda x: tf.self_adjoint_eigvals(x + tf.matrix_transpose(x)),
        lambda x: np.linalg.eigvalsh(sym(x)),
        [((4, 4),)],
        rtol=1e-4,
        label="values",
    ),
    Case("Svd", tf_svd, np_svd, [((4, 3),), ((3, 4),), ((2, 3, 3),)], rtol=1e-4, atol=1e-5),
    Case(
        "Svd",
        lambda x: tf.svd(x, compute_uv=False),
        lambda x: np.linalg.svd(x, compute_uv=False),
        [((4, 3),), ((3, 5),)],
        rtol=1e-4,
        label="values",
    ),
    Case(
        "Qr",
        lambda x: list(tf.qr(x)),
        lambda x: list(np.linalg.qr(x)),
        [((4, 3),), ((3, 3),)],
        dynamic=False,
        rtol=1e-4,
        atol=1e-5,
    ),
    Case(
        "Qr",
        lambda x: list(tf.qr(x)),
        lambda x: list(np.linalg.qr(x)),
        [((3, 5),)],
        dynamic=False,
        rtol=1e-4,
        atol=1e-5,
        label="wide",
    ),
    Case("Cross", tf.cross, np.cross, [((3,), (3,)), ((4, 3), (4, 3))], inputs=cross_inputs),
]
