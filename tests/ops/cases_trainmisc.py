"""Op test cases for the debug, pyfunc and sparse families (ops/debug.py, ops/pyfunc.py, ops/sparse.py)."""

import numpy as np

import raygraph as tf
from tests.ops.cases import Case

_INDICES = np.array([[0, 1], [1, 0], [2, 2]], np.int64)


def _scatter(values):
    out = np.zeros((3, 4), values.dtype)
    out[tuple(_INDICES.T)] = values
    return out


CASES = [
    Case("CheckNumerics", lambda x: tf.check_numerics(x, "x"), lambda x: x, [((2, 3),), ((),)]),
    Case("Print", lambda x: tf.Print(x, [x], "x: ", first_n=0), lambda x: x, [((2, 3),)]),
    Case(
        "SparseToDense",
        lambda v: tf.sparse_to_dense(_INDICES, [3, 4], v, 0.0),
        _scatter,
        [((3,),)],
    ),
]

TESTED_ELSEWHERE = {
    "PrintV2": "tests/raygraph/test_trainmisc.py",
    "Assert": "tests/raygraph/test_trainmisc.py",
    "IsVariableInitialized": "tests/raygraph/test_trainmisc.py",
    "PyFunc": "tests/raygraph/test_trainmisc.py",
    "PyFuncStateless": "tests/raygraph/test_trainmisc.py",
}

TESTED_ELSEWHERE["Timestamp"] = "tests/ops/test_sparse_matmul_timestamp.py"
