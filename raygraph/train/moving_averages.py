"""`tf.train.ExponentialMovingAverage`: shadow copies of variables that trail their values.

    ema = tf.train.ExponentialMovingAverage(decay=0.999)
    with tf.control_dependencies([train_op]):
        train_op = ema.apply(tf.trainable_variables())
    ...
    saver = tf.train.Saver(ema.variables_to_restore())   # evaluate with the averages

`apply` creates, once per variable `w`, a non-trainable shadow variable
`w/ExponentialMovingAverage` (the name a Saver maps), colocated with `w`, in
GLOBAL_VARIABLES and initialized to `w`'s initial value, and adds `w` to
MOVING_AVERAGE_VARIABLES. The returned op updates every shadow by

    shadow -= (1 - decay) * (shadow - w)

with `decay = min(decay, (1 + num_updates) / (10 + num_updates))` when
`num_updates` is given. Tensors (not variables) get zero-initialized shadows,
debiased (Adam-style, variables `<shadow>/biased` and `<shadow>/local_step`)
when `zero_debias=True`, as in TensorFlow.
"""

from __future__ import annotations

from ops import api
from raygraph import dtypes
from raygraph.graph import (
    GraphKeys,
    Tensor,
    add_to_collection,
    colocate_with,
    control_dependencies,
    convert_to_tensor,
    get_default_graph,
    name_scope,
)
from raygraph.train.optimizers import _create_slot
from raygraph.variables import Variable, global_variables, trainable_variables

__all__ = ["ExponentialMovingAverage"]


def _key(value):
    return value if isinstance(value, Variable | Tensor) else convert_to_tensor(value)


class ExponentialMovingAverage:
    """Maintains moving averages of variables (or tensors) with exponential decay.

    >>> ema = tf.train.ExponentialMovingAverage(0.99, num_updates=global_step)
    >>> update = ema.apply([w, b]); w_avg = ema.average(w)
    """

    def __init__(self, decay, num_updates=None, zero_debias=False, name="ExponentialMovingAverage"):
        self._decay = decay
        self._num_updates = num_updates
        self._zero_debias = zero_debias
        self._name = name
        self._averages: dict = {}

    @property
    def name(self) -> str:
        return self._name

    def apply(self, var_list=None):
        """Creates the shadows of `var_list` (default: trainable variables); returns the update op."""
        if var_list is None:
            var_list = trainable_variables()
        var_list = list(var_list)
        debiased = set()
        for var in var_list:
            if var.dtype.base_dtype not in (dtypes.float16, dtypes.float32, dtypes.float64):
                raise TypeError(
                    f"The variables must be half, float, or double: {var.name} has dtype {var.dtype.name}"
                )
            if var in self._averages:
                raise ValueError(f"Moving average already computed for: {var.name}")
            if isinstance(var, Variable):
                avg = _create_slot(var, var.initial_value, self._name)
                add_to_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, var)
            else:
                tensor = _key(var)
                avg = _create_slot(tensor, _zeros_like_static(tensor), self._name)
                if self._zero_debias:
                    debiased.add(avg)
            self._averages[var] = avg
        with name_scope(self._name) as scope:
            decay = convert_to_tensor(self._decay, dtype=dtypes.float32, name="decay")
            if self._num_updates is not None:
                num_updates = api.cast(self._num_updates, dtypes.float32, name="num_updates")
                decay = api.minimum(decay, (1.0 + num_updates) / (10.0 + num_updates))
            updates = [
                _assign_moving_average(self._averages[var], var, decay, self._averages[var] in debiased)
                for var in var_list
            ]
            return api.group(*updates, name=scope)

    def average(self, var):
        """The shadow Variable of `var`, or None if `apply` has not seen it."""
        return self._averages.get(var)

    def average_name(self, var) -> str:
        """The name of `var`'s shadow ("w/ExponentialMovingAverage"), created or not."""
        if var in self._averages:
            return self._averages[var].op.name
        return f"{var.op.name}/{self._name}"

    def variables_to_restore(self, moving_avg_variables=None) -> dict:
        """{checkpoint name: variable} restoring the averages into the variables themselves.

        Averaged variables map from their shadow's name; every other global
        variable maps from its own name.
        """
        if moving_avg_variables is None:
            moving_avg_variables = trainable_variables()
            moving_avg_variables += get_default_graph().get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES)
        averaged = []
        for v in moving_avg_variables:
            if v not in averaged:
                averaged.append(v)
        name_map = {self.average_name(v): v for v in averaged}
        for v in global_variables():
            if v not in averaged and v.op.name not in name_map:
                name_map[v.op.name] = v
        return name_map


def _zeros_like_static(tensor):
    if not tensor.shape.is_fully_defined():
        raise ValueError(f"ExponentialMovingAverage: tensor {tensor.name} needs a fully defined shape")
    shape, dtype = tensor.shape.as_list(), tensor.dtype
    return lambda: api.zeros(shape, dtype)


def _assign_moving_average(shadow: Variable, value, decay, zero_debias: bool):
    """shadow -= (shadow - value) * (1 - decay), or its debiased form."""
    with name_scope(None, "AssignMovingAvg", [shadow, value, decay]):
        with colocate_with(shadow.op):
            one_minus_decay = 1.0 - api.cast(decay, shadow.dtype)
            value = convert_to_tensor(value)
            if not zero_debias:
                return shadow.assign_sub((shadow.value() - value) * one_minus_decay)
            return _debiased_update(shadow, value, api.cast(decay, shadow.dtype), one_minus_decay)


def _debiased_update(shadow: Variable, value, decay, one_minus_decay):
    graph = shadow.graph
    with graph.name_scope(None), control_dependencies(None):
        shape, dtype = shadow.shape.as_list(), shadow.dtype
        biased = Variable(lambda: api.zeros(shape, dtype), trainable=False, name=f"{shadow.op.name}/biased")
        local_step = Variable(
            lambda: api.zeros([], dtype), trainable=False, name=f"{shadow.op.name}/local_step"
        )
    update_biased = biased.assign_sub((biased.value() - value) * one_minus_decay)
    update_step = local_step.assign_add(1.0)
    bias_factor = 1.0 - api.pow(decay, update_step)
    return shadow.assign_sub(shadow.value() - update_biased / bias_factor)
