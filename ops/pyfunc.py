"""tf.py_func and tf.numpy_function: a Python function as an op (PyFunc, PyFuncStateless).

The function is an attr of the node (`func`), so it travels to the device actor
with the plan, as a user op's kernel does (cloudpickled with the partition:
functions of the user's script by value); nothing is registered in the process
that runs it. It runs in that process (a device actor, or this one for
`Session("local")`) on numpy arrays and returns one array per `Tout`.

As in TensorFlow's graph mode, returned values are not cast: a float64 array
where Tout says float32 fails the run with InvalidArgumentError naming the op.
An exception in the function fails the run too: ValueError and TypeError as
InvalidArgumentError, StopIteration as OutOfRangeError, MemoryError as
ResourceExhaustedError, NotImplementedError as UnimplementedError, others as
UnknownError; the message names the node, the function and the exception.
The outputs' shapes are unknown and have no gradient.
"""

from __future__ import annotations

import itertools

import numpy as np

from ops.registry import REQUIRED, Op, api_function, build
from raygraph import dtypes, errors
from raygraph.shapes import unknown_shape

_tokens = itertools.count()

_ERRORS = (
    ((ValueError, TypeError), errors.InvalidArgumentError),
    ((StopIteration,), errors.OutOfRangeError),
    ((MemoryError,), errors.ResourceExhaustedError),
    ((NotImplementedError,), errors.UnimplementedError),
)


def _to_host(value):
    return value.get() if hasattr(value, "get") and not isinstance(value, np.ndarray) else value


def _as_array(value):
    """TensorFlow's conversion of a returned value: unicode becomes bytes objects."""
    array = np.asarray(value, order="C")
    if array.dtype.kind in "SU":
        return np.asarray(
            [v.encode("utf8") if isinstance(v, str) else v for v in array.reshape(-1)], dtype=object
        ).reshape(array.shape)
    return array


def call(func, token: str, Tout, args):  # noqa: N803 - TensorFlow's attr name
    """Runs `func` on `args` and checks its results against Tout; raises tf.errors."""
    try:
        result = func(*args)
    except errors.OpError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's function may raise anything
        error_class = next((cls for kinds, cls in _ERRORS if isinstance(e, kinds)), errors.UnknownError)
        what = getattr(func, "__qualname__", repr(func))
        raise error_class(
            None, None, f"{type(e).__name__}: {e} (in the Python function {what} of {token})"
        ) from e
    if isinstance(result, bytes):
        result = [result]
    values = [_as_array(v) for v in result] if isinstance(result, list | tuple) else [_as_array(result)]
    if result is None:
        values = []
    if len(values) != len(Tout):
        raise errors.InvalidArgumentError(
            None, None, f"{token} returns {len(values)} values, but expects to see {len(Tout)} values."
        )
    for i, (value, dtype) in enumerate(zip(values, Tout)):
        got = dtypes.as_dtype(value.dtype) if value.dtype != object else dtypes.string
        if got != dtype:
            raise errors.InvalidArgumentError(
                None, None, f"{i}-th value returned by {token} is {got.name}, but expects {dtype.name}"
            )
    return values


class PyFunc(Op):
    """Calls the Python function `func` on its inputs' values (tf.py_func, stateful)."""

    inputs = ("input*",)
    attrs = {"func": REQUIRED, "token": REQUIRED, "Tout": REQUIRED}
    multi_output = True
    differentiable = False
    heavy = True

    def infer(input, func, token, Tout):  # noqa: A002, N803 - TensorFlow's names
        return [(dtype, unknown_shape()) for dtype in Tout]

    def kernel(xp, input, func, token, Tout):  # noqa: A002, N803
        values = call(func, token, Tout, [np.asarray(_to_host(x)) for x in input])
        return [xp.asarray(v) if v.dtype != object else v for v in values]


class PyFuncStateless(PyFunc):
    """PyFunc for a function without side effects (`stateful=False`)."""


@api_function("py_func", "numpy_function")
def py_func(func, inp, Tout, stateful=True, name=None):  # noqa: N803 - TensorFlow's name
    """An op that calls `func(*values of inp)` when it runs; returns a Tensor per Tout.

    `Tout` is a dtype (one output, returned as a Tensor) or a list of dtypes (a
    list of Tensors). The function must return numpy arrays of exactly those
    dtypes (`np.float32(x)`, not a Python float, for tf.float32).

    >>> def clip(x): return np.clip(x, 0, 1).astype(np.float32)
    >>> y = tf.py_func(clip, [x], tf.float32)
    """
    single = not isinstance(Tout, list | tuple)
    types = tuple(dtypes.as_dtype(t) for t in ([Tout] if single else Tout))
    token = f"pyfunc_{next(_tokens)}"
    op_type = "PyFunc" if stateful else "PyFuncStateless"
    outputs = build(op_type, [list(inp)], {"func": func, "token": token, "Tout": types}, name=name)
    if single:
        return outputs[0]
    return outputs
