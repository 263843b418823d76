"""tf.linalg and the matrix ops against TensorFlow 2's tf.compat.v1, values and gradients.

Each program is built with raygraph and with `tensorflow.compat.v1` in graph mode
from the same inputs; outputs and the gradients of a weighted sum of the outputs
must agree. Decompositions are compared through sign-free quantities (u * u,
q * q), since LAPACK and Eigen may choose opposite signs for a factor's columns.
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat
v1 = tf1.compat.v1

RNG = np.random.default_rng(0)
A = (RNG.uniform(-1, 1, (2, 4, 4)) + 4 * np.eye(4)).astype(np.float64)
B = RNG.uniform(-1, 1, (2, 4, 3))
W = RNG.uniform(-1, 1, (4, 3))


def run_both(program, *inputs, grad=True):
    """program(tf, *input tensors) -> list of tensors, run on TensorFlow and on raygraph."""
    results = []
    for tf, make_session in ((v1, v1.Session), (raygraph, lambda: raygraph.Session("local"))):
        with tf.Graph().as_default():
            xs = [tf.constant(x) for x in inputs]
            ys = program(tf, *xs)
            ys = list(ys) if isinstance(ys, list | tuple) else [ys]
            fetches = list(ys)
            if grad:
                weights = [np.random.default_rng(1).uniform(-1, 1, y.shape.as_list()) for y in ys]
                loss = tf.add_n([tf.reduce_sum(y * tf.constant(w, y.dtype)) for y, w in zip(ys, weights)])
                fetches += tf.gradients(loss, xs)
            with make_session() as sess:
                results.append(sess.run(fetches))
    return results


def assert_same(ours, theirs, rtol=1e-6, atol=1e-8):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def spd(tf, a):
    return tf.matmul(a, a, transpose_b=True) + 3 * tf.eye(4, dtype=a.dtype)


PROGRAMS = {
    "diag": (lambda tf, a: [tf.diag(a[0, 0]), tf.diag_part(tf.reshape(a[0], [2, 2, 2, 2]))], (A,)),
    "matrix_diag": (
        lambda tf, a: [
            tf.matrix_diag(a[:, 0]),
            tf.matrix_diag_part(a[:, :, :3]),
            tf.matrix_set_diag(a, a[:, 1]),
        ],
        (A,),
    ),
    "band_part": (lambda tf, a: [tf.matrix_band_part(a, 1, 0), tf.linalg.band_part(a, -1, 1)], (A,)),
    "eye_trace": (
        lambda tf, a: [
            tf.eye(3, 4, batch_shape=[2], dtype=a.dtype) * a[0, 0, 0],
            tf.trace(a),
            tf.linalg.trace(a[0]),
        ],
        (A,),
    ),
    "inverse": (
        lambda tf, a: [tf.matrix_inverse(a), tf.matrix_inverse(a, adjoint=True), tf.linalg.inv(a[0])],
        (A,),
    ),
    "determinant": (
        lambda tf, a: [tf.matrix_determinant(a), *tf.linalg.slogdet(a - 4 * tf.eye(4, dtype=a.dtype))],
        (A,),
    ),
    "logdet": (lambda tf, a: tf.linalg.logdet(spd(tf, a)), (A,)),
    "cholesky": (lambda tf, a: tf.cholesky(spd(tf, a)), (A,)),
    "cholesky_solve": (lambda tf, a, b: tf.cholesky_solve(tf.cholesky(spd(tf, a)), b), (A, B)),
    "solve": (
        lambda tf, a, b: [tf.matrix_solve(a, b), tf.matrix_solve(a, b, adjoint=True), tf.linalg.solve(a, b)],
        (A, B),
    ),
    "triangular_solve": (
        lambda tf, a, b: [
            tf.matrix_triangular_solve(a, b),
            tf.matrix_triangular_solve(a, b, lower=False, adjoint=True),
            tf.linalg.triangular_solve(a, b, lower=True, adjoint=True),
        ],
        (A, B),
    ),
    "eigh": (
        lambda tf, a: (
            [
                (lambda e, v: [e, v * v])(*tf.self_adjoint_eig(a + tf.matrix_transpose(a))),
                tf.linalg.eigvalsh(a),
            ][0]
            + [tf.self_adjoint_eigvals(a)]
        ),
        (A,),
    ),
    "svd": (
        lambda tf, w: (
            [(lambda s, u, v: [s, u * u, v * v, u * v[:1]])(*tf.svd(w)), tf.svd(w, compute_uv=False)][0]
            + [tf.linalg.svd(tf.transpose(w), compute_uv=False)]
        ),
        (W,),
    ),
    "qr": (
        lambda tf, w: (
            [
                (lambda q, r: [q * q, r * r])(*tf.qr(w)),
                (lambda q, r: [q * q, r * r])(*tf.linalg.qr(tf.transpose(w))),
            ][0]
            + []
        ),
        (W,),
    ),
    "qr_wide": (lambda tf, w: (lambda q, r: [q * q, r * r])(*tf.qr(tf.transpose(w))), (W,)),
    "cross": (lambda tf, a, b: tf.cross(a[..., :3], b), (A, B)),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_linalg_program_matches_tensorflow(name):
    program, inputs = PROGRAMS[name]
    ours, theirs = run_both(program, *inputs)
    assert_same(ours, theirs, rtol=1e-6, atol=1e-9)


def test_float32_inverse_and_determinant_match_to_float32_rounding():
    a = A.astype(np.float32)
    ours, theirs = run_both(lambda tf, x: [tf.matrix_inverse(x), tf.matrix_determinant(x)], a)
    assert_same(ours, theirs, rtol=2e-5, atol=1e-6)


def test_static_shapes_match_tensorflow():
    shapes = []
    for tf in (v1, raygraph):
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float32, [None, 5, 3])
            s, u, v = tf.svd(x)
            q, r = tf.qr(x)
            e, ev = tf.self_adjoint_eig(x[:, :3])
            shapes.append(
                [
                    t.shape.as_list()
                    for t in (
                        s,
                        u,
                        v,
                        q,
                        r,
                        e,
                        ev,
                        tf.matrix_diag_part(x),
                        tf.matrix_diag(x),
                        tf.trace(x),
                        tf.diag(x[0]),
                    )
                ]
            )
    assert shapes[0] == shapes[1]


def test_singular_matrix_is_an_invalid_argument_error():
    with raygraph.Graph().as_default():
        inv = raygraph.matrix_inverse(raygraph.zeros([3, 3]))
        chol = raygraph.cholesky(-raygraph.eye(2))
        with raygraph.Session("local") as sess:
            with pytest.raises(raygraph.errors.InvalidArgumentError, match="not invertible"):
                sess.run(inv)
            with pytest.raises(raygraph.errors.InvalidArgumentError, match="Cholesky"):
                sess.run(chol)
