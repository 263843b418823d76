"""Identities with a twist: IdentityN (several tensors at once) and EnsureShape (a shape check).

IdentityN passes a list of tensors through unchanged; tf.custom_gradient puts one
over its results and inputs and gives it the user's gradient through
Graph.gradient_override_map (raygraph.gradients). Its own gradient passes each
output's gradient to its input.

EnsureShape is an identity whose static shape is the merge of the input's shape
with the expected one (a conflict fails when the graph is built), and whose
kernel checks the run-time shape: InvalidArgumentError on a mismatch, as
TensorFlow's. Its gradient is the identity.
"""

from __future__ import annotations

from ops.registry import Op, api_function, build
from raygraph import errors
from raygraph.graph import convert_to_tensor
from raygraph.shapes import TensorShape, as_shape, format_shape


class IdentityN(Op):
    """Returns its inputs unchanged, as a list: `tf.identity_n([a, b])`."""

    inputs = ("input*",)
    multi_output = True
    api = "identity_n"
    cost = "free"

    def infer(input):  # noqa: A002 - TensorFlow's name
        return [(t.dtype, t.shape) for t in input]

    def kernel(xp, input):  # noqa: A002
        return list(input)

    def grad(op, *dys):
        return list(dys)


class EnsureShape(Op):
    """`input`, checked at run time to have `shape` (None dims match any size)."""

    inputs = ("input",)
    attrs = {"shape": None}
    cost = "free"

    def infer(input, shape):  # noqa: A002
        expected = as_shape(shape)
        if not input.shape.is_compatible_with(expected):
            raise ValueError(
                f"Shape of tensor {input.name} {format_shape(input.shape)} is not compatible with "
                f"expected shape {format_shape(expected)}"
            )
        return input.dtype, input.shape.merge_with(expected)

    def kernel(xp, input, shape):  # noqa: A002
        if not as_shape(shape).is_compatible_with(TensorShape(list(input.shape))):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Shape of tensor {list(input.shape)} is not compatible with expected shape "
                f"{format_shape(as_shape(shape))}.",
            )
        return input

    def grad(op, dy):
        return [dy]


@api_function("ensure_shape", "debugging.ensure_shape")
def ensure_shape(x, shape, name=None):
    """`x` with its static shape merged with `shape`, and checked against it when it runs.

    >>> images = tf.ensure_shape(images, [None, 28, 28, 1])   # fails fast on [32, 28, 28, 3]

    A shape that cannot match fails when the graph is built; one that differs
    only in dimensions unknown then raises InvalidArgumentError at run time.
    """
    return build("EnsureShape", [convert_to_tensor(x, name="x")], {"shape": as_shape(shape)}, name=name)
