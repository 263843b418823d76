"""The global step and TF1's learning-rate schedules (`tf.train.exponential_decay`...).

The global step counts training steps: an int64 scalar variable named
"global_step", not trainable, in GLOBAL_VARIABLES and in the GLOBAL_STEP
collection, created from the root name scope outside any control dependency.
There is at most one per graph; `get_global_step` finds it by collection, else
by the tensor name "global_step:0". `Optimizer.minimize(global_step=...)`
increments it after the step's updates.

The schedules return a scalar tensor of the learning rate's dtype, recomputed
at every run from the step (cast to that dtype, as TF does), so they can be
passed to an optimizer as its learning rate:

    step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(0.1, step, decay_steps=1000, decay_rate=0.96)
    train_op = tf.train.GradientDescentOptimizer(lr).minimize(loss, global_step=step)

Each schedule is one op of ops/training.py (ExponentialDecay, InverseTimeDecay,
PolynomialDecay, PiecewiseConstant) computing TF's formula in its dtype.
"""

from __future__ import annotations

import numpy as np

from ops import api
from ops.registry import build
from raygraph import dtypes
from raygraph.graph import GraphKeys, Tensor, convert_to_tensor, get_default_graph, name_scope
from raygraph.variables import Variable

__all__ = [
    "get_global_step",
    "get_or_create_global_step",
    "create_global_step",
    "assert_global_step",
    "global_step",
    "exponential_decay",
    "inverse_time_decay",
    "polynomial_decay",
    "piecewise_constant",
]


# -- the global step ---------------------------------------------------------------


def get_global_step(graph=None):
    """The graph's global step variable, or None if it has none.

    >>> step = tf.train.get_global_step()
    """
    graph = graph or get_default_graph()
    found = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(found) > 1:
        raise ValueError(f"Multiple tensors in the global_step collection: {found}")
    if found:
        step = found[0]
    else:
        try:
            step = graph.get_tensor_by_name("global_step:0")
        except KeyError:
            return None
    assert_global_step(step)
    return step


def create_global_step(graph=None) -> Variable:
    """Creates the global step: an int64 scalar variable "global_step", starting at 0.

    Raises ValueError if the graph already has one.

    >>> step = tf.train.create_global_step()
    """
    graph = graph or get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    with graph.as_default(), graph.name_scope(None):
        return Variable(
            lambda: api.constant(0, dtype=dtypes.int64, name="zeros"),
            trainable=False,
            name=GraphKeys.GLOBAL_STEP,
            collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP],
        )


def get_or_create_global_step(graph=None):
    """The graph's global step, created first if it has none.

    >>> train_op = opt.minimize(loss, global_step=tf.train.get_or_create_global_step())
    """
    graph = graph or get_default_graph()
    step = get_global_step(graph)
    return step if step is not None else create_global_step(graph)


def assert_global_step(global_step_tensor) -> None:
    """Raises TypeError unless `global_step_tensor` is an integer scalar Variable or Tensor."""
    if not isinstance(global_step_tensor, Variable | Tensor):
        raise TypeError(f'Existing "global_step" must be a Variable or Tensor: {global_step_tensor}.')
    if not global_step_tensor.dtype.is_integer:
        raise TypeError(f'Existing "global_step" does not have integer type: {global_step_tensor.dtype.name}')
    shape = global_step_tensor.shape
    if shape.ndims not in (None, 0) and shape.is_fully_defined():
        raise TypeError(f'Existing "global_step" is not scalar: {shape}')


def global_step(sess, global_step_tensor) -> int:
    """The global step's current value, as a Python int.

    >>> tf.train.global_step(sess, step)
    10
    """
    return int(sess.run(global_step_tensor))


# -- learning-rate schedules ------------------------------------------------------------


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """learning_rate * decay_rate ** (global_step / decay_steps), the exponent floored if staircase.

    >>> lr = tf.train.exponential_decay(0.1, step, 100000, 0.96, staircase=True)
    """
    _require_step(global_step, "exponential_decay")
    with name_scope(name, "ExponentialDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="initial_learning_rate")
        inputs = [lr, *(_as(v, lr.dtype) for v in (global_step, decay_steps, decay_rate))]
        return build("ExponentialDecay", inputs, {"staircase": staircase}, name=scope)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """learning_rate / (1 + decay_rate * global_step / decay_steps), the ratio floored if staircase.

    >>> lr = tf.train.inverse_time_decay(0.1, step, decay_steps=1000, decay_rate=0.5)
    """
    _require_step(global_step, "inverse_time_decay")
    with name_scope(name, "InverseTimeDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="initial_learning_rate")
        inputs = [lr, *(_as(v, lr.dtype) for v in (global_step, decay_steps, decay_rate))]
        return build("InverseTimeDecay", inputs, {"staircase": staircase}, name=scope)


def polynomial_decay(
    learning_rate, global_step, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False, name=None
):
    """From learning_rate to end_learning_rate in decay_steps steps, along (1 - t) ** power.

    With `cycle`, the decay restarts from a higher point every decay_steps steps.

    >>> lr = tf.train.polynomial_decay(0.1, step, 10000, end_learning_rate=0.01, power=0.5)
    """
    _require_step(global_step, "polynomial_decay")
    with name_scope(name, "PolynomialDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="initial_learning_rate")
        rest = (global_step, decay_steps, end_learning_rate, power)
        inputs = [lr, *(_as(v, lr.dtype) for v in rest)]
        return build("PolynomialDecay", inputs, {"cycle": cycle}, name=scope)


def piecewise_constant(x, boundaries, values, name=None):
    """values[0] while x <= boundaries[0], values[1] while x <= boundaries[1], ...,
    values[-1] past the last boundary.

    >>> lr = tf.train.piecewise_constant(step, [100000, 110000], [1.0, 0.5, 0.1])
    """
    if len(boundaries) != len(values) - 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    with name_scope(name, "PiecewiseConstant") as scope:
        x = convert_to_tensor(x)
        bounds = [_boundary(b, x.dtype) for b in boundaries]
        values = [convert_to_tensor(v) for v in values]
        for v in values[1:]:
            if v.dtype != values[0].dtype:
                raise ValueError(
                    f"Values must have elements all with the same dtype ({values[0].dtype.name} "
                    f"vs {v.dtype.name})."
                )
        return build("PiecewiseConstant", [x, bounds, values], name=scope)


def _require_step(step, schedule: str) -> None:
    if step is None:
        raise ValueError(f"global_step is required for {schedule}.")


def _as(value, dtype) -> Tensor:
    """`value` as a tensor of `dtype`: numbers converted directly, tensors cast (tf.cast)."""
    if isinstance(value, Tensor | Variable):
        return api.cast(value, dtype)
    return convert_to_tensor(np.asarray(value).astype(dtype.as_numpy_dtype))


def _boundary(value, dtype) -> Tensor:
    """A boundary in x's dtype: numbers that fit are converted, int32 tensors cast to int64."""
    b = convert_to_tensor(value, preferred_dtype=dtype)
    if b.dtype != dtype:
        if b.dtype == dtypes.int32 and dtype == dtypes.int64:
            return api.cast(b, dtype)
        raise ValueError(f"Boundaries ({b.dtype.name}) must have the same dtype as x ({dtype.name}).")
    return b
