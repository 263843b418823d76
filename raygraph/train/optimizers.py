"""TensorFlow 1.x optimizers: `tf.train.Optimizer` and its classic subclasses.

    opt = tf.train.AdamOptimizer(1e-3)
    train_op = opt.minimize(loss, global_step=tf.train.get_or_create_global_step())

`minimize` is `compute_gradients` (tf.gradients of the loss for each trainable
variable) followed by `apply_gradients`, which builds, as TF1 does:

    w/Adam, w/Adam_1, beta1_power ...   slot and extra variables, created once per
                                        variable, outside any control dependency
    Adam/update_w/ApplyAdam             one fused update op per variable (ops/training.py)
    Adam                                a group of the updates (NoOp), or, with a
                                        global step, its AssignAdd after them

Invariants:
- Every update runs after every gradient of the step: the updates are created
  under control dependencies on all the gradients (and after them, so the
  executor's creation order agrees). The fused kernels update arrays in place,
  so an update that ran early would change a value another gradient still reads.
- The global step is incremented after the updates (and Adam's beta powers are
  scaled after them), as in TF.
- Slots are non-trainable variables named "<var>/<optimizer name>[_N]" whatever
  the current name scope, colocated with their variable and in GLOBAL_VARIABLES,
  so `global_variables_initializer` initializes them. Extra variables (Adam's
  beta1_power, beta2_power) are named in the name scope open at the first
  `apply_gradients`, colocated with the first variable by name.
- Hyperparameters (floats, tensors or callables) become tensors once per
  `apply_gradients` ("Adam/learning_rate") and are cast to each variable's dtype.

Subclasses implement TF1's protected hooks: `_create_slots(var_list)`,
`_prepare()`, `_apply_dense(grad, var)` and optionally `_finish(update_ops, name)`.
"""

from __future__ import annotations

from ops import api
from ops.registry import build
from raygraph.gradients import gradients
from raygraph.graph import (
    GraphKeys,
    Operation,
    Tensor,
    colocate_with,
    control_dependencies,
    convert_to_tensor,
    get_default_graph,
    name_scope,
)
from raygraph.variables import Variable, trainable_variables

__all__ = [
    "Optimizer",
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "AdamOptimizer",
    "RMSPropOptimizer",
    "AdagradOptimizer",
    "AdadeltaOptimizer",
]


class Optimizer:
    """Base class of the optimizers: computes gradients and applies them to variables.

    >>> opt = tf.train.GradientDescentOptimizer(0.1)
    >>> grads_and_vars = opt.compute_gradients(loss)
    >>> train_op = opt.apply_gradients(grads_and_vars, global_step=step)
    """

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking: bool, name: str):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots: dict[str, dict[Operation, Variable]] = {}
        self._non_slot_dict: dict[tuple, Variable] = {}

    def get_name(self) -> str:
        """The optimizer's name: the name scope of its ops and the suffix of its slots."""
        return self._name

    # -- the public API ------------------------------------------------------

    def minimize(
        self,
        loss,
        global_step=None,
        var_list=None,
        gate_gradients=GATE_OP,
        aggregation_method=None,
        colocate_gradients_with_ops=False,
        name=None,
        grad_loss=None,
    ):
        """An op that takes one step to decrease `loss`; increments `global_step` if given.

        >>> train_op = tf.train.AdamOptimizer(1e-3).minimize(loss)
        """
        grads_and_vars = self.compute_gradients(
            loss,
            var_list=var_list,
            gate_gradients=gate_gradients,
            aggregation_method=aggregation_method,
            colocate_gradients_with_ops=colocate_gradients_with_ops,
            grad_loss=grad_loss,
        )
        if not any(g is not None for g, _ in grads_and_vars):
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not "
                f"support gradients, between variables {[str(v) for _, v in grads_and_vars]} "
                f"and loss {loss}."
            )
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(
        self,
        loss,
        var_list=None,
        gate_gradients=GATE_OP,
        aggregation_method=None,
        colocate_gradients_with_ops=False,
        grad_loss=None,
    ):
        """[(gradient, variable)] for `var_list` (default: the trainable variables).

        A variable the loss does not depend on gets None as its gradient.

        >>> [(g, v.name) for g, v in opt.compute_gradients(loss)]
        """
        if callable(loss):
            loss = loss()
        loss = convert_to_tensor(loss)
        if gate_gradients not in (self.GATE_NONE, self.GATE_OP, self.GATE_GRAPH):
            raise ValueError(
                "gate_gradients must be one of: Optimizer.GATE_NONE, Optimizer.GATE_OP, "
                f"Optimizer.GATE_GRAPH.  Not {gate_gradients}"
            )
        self._assert_valid_dtypes([loss])
        var_list = trainable_variables() if var_list is None else _flatten(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        for v in var_list:
            _check_variable(v)
        grads = gradients(
            loss,
            var_list,
            grad_ys=grad_loss,
            gate_gradients=gate_gradients == self.GATE_OP,
            aggregation_method=aggregation_method,
            colocate_gradients_with_ops=colocate_gradients_with_ops,
        )
        if gate_gradients == self.GATE_GRAPH:
            grads = _gated(grads)
        grads_and_vars = list(zip(grads, var_list))
        self._assert_valid_dtypes([v for g, v in grads_and_vars if g is not None])
        return grads_and_vars

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """An op that applies the gradients (None gradients are skipped).

        With `global_step`, the op is its increment, run after every update.

        >>> train_op = opt.apply_gradients([(dw, w), (db, b)], global_step=step)
        """
        pairs = _checked_pairs(grads_and_vars)
        var_list = [v for g, v in pairs if g is not None]
        if not var_list:
            raise ValueError(f"No gradients provided for any variable: {[str(v) for _, v in pairs]}.")
        with control_dependencies(None):
            self._create_slots(var_list)
        graph = get_default_graph()
        with name_scope(name, self._name) as scope:
            self._prepare()
            update_ops = []
            with control_dependencies([g for g, _ in pairs if g is not None]):
                for grad, var in pairs:
                    if grad is None:
                        continue
                    with name_scope("update_" + var.op.name), colocate_with(var.op):
                        update_ops.append(_as_op(self._apply_dense(grad, var)))
            if global_step is None:
                apply_updates = _as_op(self._finish(update_ops, scope))
            else:
                with control_dependencies([self._finish(update_ops, "update")]):
                    with colocate_with(global_step):
                        apply_updates = api.assign_add(global_step, 1, name=scope).op
        train_ops = graph.get_collection_ref(GraphKeys.TRAIN_OP)
        if apply_updates not in train_ops:
            train_ops.append(apply_updates)
        return apply_updates

    def get_slot(self, var, name: str):
        """The slot variable `name` made for `var` ("m" of Adam, "momentum"...), or None."""
        return self._slots.get(name, {}).get(_var_key(var))

    def get_slot_names(self) -> list[str]:
        """The names of the slots this optimizer creates, sorted: ["m", "v"] for Adam."""
        return sorted(self._slots)

    def variables(self) -> list[Variable]:
        """The optimizer's variables in the default graph (slots and extras), by name."""
        graph = get_default_graph()
        found = [v for (_, g), v in self._non_slot_dict.items() if g is graph]
        found += [v for slots in self._slots.values() for v in slots.values() if v.graph is graph]
        return sorted(found, key=lambda v: v.name)

    # -- hooks for subclasses ------------------------------------------------

    def _create_slots(self, var_list: list[Variable]) -> None:
        """Creates the slot (and extra) variables the updates need."""

    def _prepare(self) -> None:
        """Converts the hyperparameters to tensors, once per apply_gradients."""

    def _apply_dense(self, grad: Tensor, var: Variable):
        raise NotImplementedError(f"{type(self).__name__} does not implement _apply_dense")

    def _finish(self, update_ops: list, name_scope: str):
        """The op that completes a step: by default a group of the updates."""
        return api.group(*update_ops, name=name_scope)

    # -- helpers for subclasses ----------------------------------------------

    def _zeros_slot(self, var: Variable, slot_name: str, op_name: str) -> Variable:
        return self._get_or_make_slot(var, _filled(var, 0), slot_name, op_name)

    def _get_or_make_slot(self, var: Variable, initial_value, slot_name: str, op_name: str) -> Variable:
        """The slot `slot_name` of `var`, created from `initial_value` (a callable) if new."""
        slots = self._slots.setdefault(slot_name, {})
        key = _var_key(var)
        if key not in slots:
            slots[key] = _create_slot(var, initial_value, op_name)
        return slots[key]

    def _create_non_slot_variable(self, initial_value, name: str, colocate_with: Variable) -> Variable:
        """An extra variable of the optimizer (Adam's beta1_power), one per graph."""
        graph = colocate_with.graph
        key = (name, graph)
        if key not in self._non_slot_dict:
            with graph.as_default(), control_dependencies(None), graph.colocate_with(colocate_with.op):
                self._non_slot_dict[key] = Variable(initial_value, name=name, trainable=False)
        return self._non_slot_dict[key]

    def _get_non_slot_variable(self, name: str, graph=None) -> Variable | None:
        return self._non_slot_dict.get((name, graph or get_default_graph()))

    def _hyper(self, value, name: str) -> Tensor:
        """A hyperparameter as a tensor: a float, a tensor, or a callable returning either."""
        return convert_to_tensor(self._call_if_callable(value), name=name)

    @staticmethod
    def _call_if_callable(param):
        return param() if callable(param) else param

    @staticmethod
    def _assert_valid_dtypes(tensors) -> None:
        for t in tensors:
            if not t.dtype.is_floating:
                raise ValueError(
                    f"Invalid type {t.dtype.name} for {t.name}, expected: float16, float32, float64."
                )


# -- the optimizers -------------------------------------------------------------


class GradientDescentOptimizer(Optimizer):
    """Plain gradient descent: var -= learning_rate * grad.

    >>> train_op = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    """

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _prepare(self):
        self._learning_rate_tensor = self._hyper(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad, var):
        lr = api.cast(self._learning_rate_tensor, var.dtype)
        return _apply("ApplyGradientDescent", [var, lr, grad], use_locking=self._use_locking)


class MomentumOptimizer(Optimizer):
    """Gradient descent with momentum (slot "momentum", variable "<var>/Momentum").

    accum = momentum * accum + grad; var -= learning_rate * accum, or with
    use_nesterov: var -= learning_rate * (grad + momentum * accum).

    >>> opt = tf.train.MomentumOptimizer(0.01, momentum=0.9, use_nesterov=True)
    """

    def __init__(self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = self._hyper(self._learning_rate, "learning_rate")
        self._momentum_tensor = self._hyper(self._momentum, "momentum")

    def _apply_dense(self, grad, var):
        lr = api.cast(self._learning_rate_tensor, var.dtype)
        momentum = api.cast(self._momentum_tensor, var.dtype)
        accum = self.get_slot(var, "momentum")
        return _apply(
            "ApplyMomentum",
            [var, accum, lr, grad, momentum],
            use_locking=self._use_locking,
            use_nesterov=self._use_nesterov,
        )


class AdamOptimizer(Optimizer):
    """Adam (Kingma and Ba): slots "m" and "v" ("<var>/Adam", "<var>/Adam_1"), and the
    extra variables beta1_power and beta2_power, scaled by beta1 and beta2 after
    each step.

    >>> train_op = tf.train.AdamOptimizer(learning_rate=1e-3).minimize(loss)
    """

    def __init__(
        self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08, use_locking=False, name="Adam"
    ):
        super().__init__(use_locking, name)
        self._lr = learning_rate
        self._beta1 = beta1
        self._beta2 = beta2
        self._epsilon = epsilon

    def _get_beta_accumulators(self) -> tuple[Variable, Variable]:
        return self._get_non_slot_variable("beta1_power"), self._get_non_slot_variable("beta2_power")

    def _create_slots(self, var_list):
        first_var = min(var_list, key=lambda v: v.name)
        self._create_non_slot_variable(self._beta1, "beta1_power", first_var)
        self._create_non_slot_variable(self._beta2, "beta2_power", first_var)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _prepare(self):
        self._lr_t = self._hyper(self._lr, "learning_rate")
        self._beta1_t = self._hyper(self._beta1, "beta1")
        self._beta2_t = self._hyper(self._beta2, "beta2")
        self._epsilon_t = self._hyper(self._epsilon, "epsilon")

    def _apply_dense(self, grad, var):
        beta1_power, beta2_power = self._get_beta_accumulators()
        inputs = [var, self.get_slot(var, "m"), self.get_slot(var, "v")]
        inputs += [
            api.cast(t, var.dtype)
            for t in (beta1_power, beta2_power, self._lr_t, self._beta1_t, self._beta2_t, self._epsilon_t)
        ]
        return _apply("ApplyAdam", inputs + [grad], use_locking=self._use_locking)

    def _finish(self, update_ops, name_scope):
        beta1_power, beta2_power = self._get_beta_accumulators()
        with control_dependencies(update_ops), colocate_with(beta1_power.op):
            update_beta1 = beta1_power.assign(beta1_power * self._beta1_t, use_locking=self._use_locking)
            update_beta2 = beta2_power.assign(beta2_power * self._beta2_t, use_locking=self._use_locking)
        return api.group(*update_ops, update_beta1, update_beta2, name=name_scope)


class RMSPropOptimizer(Optimizer):
    """RMSProp (Hinton): slots "rms" (initialized to ones), "momentum" and, when
    centered, "mg" ("<var>/RMSProp", "<var>/RMSProp_1", ...).

    >>> opt = tf.train.RMSPropOptimizer(0.001, decay=0.9, momentum=0.9, centered=True)
    """

    def __init__(
        self,
        learning_rate,
        decay=0.9,
        momentum=0.0,
        epsilon=1e-10,
        use_locking=False,
        centered=False,
        name="RMSProp",
    ):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._decay = decay
        self._momentum = momentum
        self._epsilon = epsilon
        self._centered = centered

    def _create_slots(self, var_list):
        for v in var_list:
            self._get_or_make_slot(v, _filled(v, 1), "rms", self._name)
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = self._hyper(self._learning_rate, "learning_rate")
        self._decay_tensor = self._hyper(self._decay, "decay")
        self._momentum_tensor = self._hyper(self._momentum, "momentum")
        self._epsilon_tensor = self._hyper(self._epsilon, "epsilon")

    def _apply_dense(self, grad, var):
        hyper = [
            api.cast(t, var.dtype)
            for t in (
                self._learning_rate_tensor,
                self._decay_tensor,
                self._momentum_tensor,
                self._epsilon_tensor,
            )
        ]
        rms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        if self._centered:
            mg = self.get_slot(var, "mg")
            return _apply(
                "ApplyCenteredRMSProp", [var, mg, rms, mom, *hyper, grad], use_locking=self._use_locking
            )
        return _apply("ApplyRMSProp", [var, rms, mom, *hyper, grad], use_locking=self._use_locking)


class AdagradOptimizer(Optimizer):
    """Adagrad: slot "accumulator" ("<var>/Adagrad"), starting at initial_accumulator_value.

    >>> opt = tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.1)
    """

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False, name="Adagrad"):
        if initial_accumulator_value <= 0.0:
            raise ValueError(f"initial_accumulator_value must be positive: {initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list):
        for v in var_list:
            initial = _filled(v, self._initial_accumulator_value)
            self._get_or_make_slot(v, initial, "accumulator", self._name)

    def _prepare(self):
        self._learning_rate_tensor = self._hyper(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad, var):
        lr = api.cast(self._learning_rate_tensor, var.dtype)
        accum = self.get_slot(var, "accumulator")
        return _apply("ApplyAdagrad", [var, accum, lr, grad], use_locking=self._use_locking)


class AdadeltaOptimizer(Optimizer):
    """Adadelta (Zeiler): slots "accum" and "accum_update" ("<var>/Adadelta",
    "<var>/Adadelta_1"), both starting at zeros.

    >>> opt = tf.train.AdadeltaOptimizer(learning_rate=1.0, rho=0.95, epsilon=1e-6)
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-8, use_locking=False, name="Adadelta"):
        super().__init__(use_locking, name)
        self._lr = learning_rate
        self._rho = rho
        self._epsilon = epsilon

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "accum", self._name)
            self._zeros_slot(v, "accum_update", self._name)

    def _prepare(self):
        self._lr_t = self._hyper(self._lr, "lr")
        self._rho_t = self._hyper(self._rho, "rho")
        self._epsilon_t = self._hyper(self._epsilon, "epsilon")

    def _apply_dense(self, grad, var):
        slots = [self.get_slot(var, "accum"), self.get_slot(var, "accum_update")]
        hyper = [api.cast(t, var.dtype) for t in (self._lr_t, self._rho_t, self._epsilon_t)]
        return _apply("ApplyAdadelta", [var, *slots, *hyper, grad], use_locking=self._use_locking)


# -- helpers ----------------------------------------------------------------------


def _apply(op_type: str, inputs: list, **attrs) -> Operation:
    """Builds a fused update op (ops/training.py), named after its type."""
    return build(op_type, inputs, attrs, name=op_type).op


def _create_slot(var: Variable, initial_value, op_name: str) -> Variable:
    """A slot variable "<var>/<op_name>" (made unique), colocated with `var`.

    Named from the root scope, as TF's slot creator names slots by variable scope.
    """
    graph = var.graph
    with graph.as_default(), graph.name_scope(None), graph.colocate_with(var.op):
        return Variable(
            initial_value,
            trainable=False,
            name=f"{var.op.name}/{op_name}",
            validate_shape=var.shape.is_fully_defined(),
        )


_FILL_NAMES = {0: "zeros", 1: "ones"}


def _filled(var: Variable, value):
    """A callable making the initial value of a slot: `value` in var's shape and dtype."""

    def make():
        scalar = api.constant(value, dtype=var.dtype)
        if var.shape.is_fully_defined():
            shape = var.shape.as_list()
        else:
            shape = api.shape(var.initial_value)
        return api.broadcast_to(scalar, shape, name=_FILL_NAMES.get(value, "Const"))

    return make


def _var_key(var):
    return var.op if isinstance(var, Variable) else var


def _check_variable(var) -> None:
    if not isinstance(var, Variable):
        raise TypeError(
            f"Trying to optimize unsupported type {type(var).__name__}: {var!r}. "
            "Optimizers update tf.Variable objects."
        )


def _checked_pairs(grads_and_vars) -> list[tuple[Tensor | None, Variable]]:
    pairs = []
    for pair in tuple(grads_and_vars):
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise TypeError(f"grads_and_vars must be (gradient, variable) pairs, got {pair!r}")
        g, v = pair
        _check_variable(v)
        if g is not None:
            try:
                g = convert_to_tensor(g)
            except (TypeError, ValueError):
                raise TypeError(f"Gradient must be convertible to a Tensor, or None: {g!r}") from None
        pairs.append((g, v))
    if not pairs:
        raise ValueError("No variables provided.")
    return pairs


def _gated(grads: list) -> list:
    """GATE_GRAPH: each gradient available only once all of them are computed."""
    present = [g for g in grads if g is not None]
    with name_scope("tuple"), control_dependencies(present):
        return [api.identity(g) if g is not None else None for g in grads]


def _flatten(values) -> list:
    """var_list as TensorFlow takes it: a Variable or any iterable of them (a set, dict values)."""
    if isinstance(values, list | tuple | set | frozenset) or type(values).__name__ in (
        "dict_values",
        "dict_keys",
    ):
        return [x for v in values for x in _flatten(v)]
    return [values]


def _as_op(value) -> Operation:
    return value.op if isinstance(value, Tensor) else value
