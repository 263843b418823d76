"""Constants, placeholders and identities: the tensors a graph starts from.

A Const holds its value as an attr of the graph (a numpy array); a Placeholder
has no kernel that runs: Session.run feeds its value, and an unfed placeholder is
an error before anything runs. PlaceholderWithDefault runs its input unless fed.
Identity and StopGradient pass their input through (StopGradient has no gradient).
"""

from __future__ import annotations

import numpy as np

from ops.common import same
from ops.registry import REQUIRED, Op, api_function, build
from raygraph import dtypes
from raygraph.graph import to_numpy
from raygraph.shapes import as_shape, format_shape


class Const(Op):
    """A constant tensor; its value is an attr of the graph."""

    attrs = {"value": REQUIRED, "dtype": REQUIRED}
    differentiable = False
    cost = "free"

    def infer(value, dtype):
        return dtype, value.shape

    def kernel(xp, value, dtype):
        return xp.asarray(value)


@api_function("constant")
def constant(value, dtype=None, shape=None, name="Const", verify_shape=False):
    """A constant tensor: `tf.constant([[1., 2.]], dtype=tf.float32)`.

    With `shape`, a value with fewer elements is filled out with its last element
    (a scalar fills the whole shape), as in TensorFlow 1.x:

    >>> tf.constant([1, 2], shape=[4])   # [1, 2, 2, 2]
    """
    array = to_numpy(value, dtype)
    if shape is not None:
        array = _constant_to_shape(array, [int(d) for d in as_shape(shape).as_list()], verify_shape)
    return build("Const", [], {"value": array, "dtype": dtypes.as_dtype(array.dtype)}, name=name)


def _constant_to_shape(array: np.ndarray, shape: list, verify_shape: bool) -> np.ndarray:
    if verify_shape and list(array.shape) != shape:
        raise TypeError(f"Expected Tensor's shape: {tuple(shape)}, but got {array.shape}.")
    n = int(np.prod(shape))
    if array.size > n:
        raise ValueError(f"Too many elements provided. Takes at most {n}, but got {array.size}.")
    flat = array.reshape(-1)
    if array.size == 0:
        flat = np.zeros([1], array.dtype)
    if flat.size < n:
        flat = np.concatenate([flat, np.full([n - flat.size], flat[-1], array.dtype)])
    return flat.reshape(shape)


class Placeholder(Op):
    """A tensor whose value must be fed to Session.run."""

    attrs = {"dtype": REQUIRED, "shape": None}
    differentiable = False
    cost = "free"

    def infer(dtype, shape):
        return dtype, as_shape(shape)

    def kernel(xp, dtype, shape):
        raise AssertionError("placeholders are fed, never run")


@api_function("placeholder")
def placeholder(dtype, shape=None, name=None):
    """A tensor to feed: `x = tf.placeholder(tf.float32, [None, 784])`."""
    return build("Placeholder", [], {"dtype": dtypes.as_dtype(dtype), "shape": as_shape(shape)}, name=name)


class PlaceholderWithDefault(Op):
    """`input` unless a value is fed for this tensor."""

    inputs = ("input",)
    attrs = {"shape": REQUIRED}

    def infer(input, shape):  # noqa: A002 - TensorFlow's name
        shape = as_shape(shape)
        if not input.shape.is_compatible_with(shape):
            raise ValueError(
                f"default value of shape {format_shape(input.shape)} is not compatible with "
                f"the placeholder's shape {format_shape(shape)}"
            )
        return input.dtype, shape

    def kernel(xp, input, shape):  # noqa: A002
        if not as_shape(shape).is_compatible_with(input.shape):  # an input of unknown static shape
            raise ValueError(
                f"default value of shape {format_shape(input.shape)} is not compatible with "
                f"the placeholder's shape {format_shape(as_shape(shape))}"
            )
        return input

    def grad(op, dy):
        return [dy]


@api_function("placeholder_with_default")
def placeholder_with_default(input, shape, name=None):  # noqa: A002
    """`input` unless fed: `keep = tf.placeholder_with_default(1.0, [])`."""
    return build("PlaceholderWithDefault", [input], {"shape": as_shape(shape)}, name=name)


class Identity(Op):
    """Returns its input unchanged (a named alias, or a copy point between devices)."""

    inputs = ("input",)
    api = "identity"
    cost = "free"

    def infer(input):  # noqa: A002
        return same(input)

    def kernel(xp, input):  # noqa: A002
        return input

    def grad(op, dy):
        return [dy]


class StopGradient(Op):
    """Returns its input; gradients do not flow through it."""

    inputs = ("input",)
    api = "stop_gradient"
    differentiable = False
    cost = "free"

    def infer(input):  # noqa: A002
        return same(input)

    def kernel(xp, input):  # noqa: A002
        return input
