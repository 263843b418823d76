"""`tf.keras.optimizers`: SGD, Adam, RMSprop, Adagrad with Keras's defaults and arithmetic.

    model.compile(tf.keras.optimizers.SGD(lr=0.01, momentum=0.9, nesterov=True), "mse")
    tf.keras.backend.set_value(model.optimizer.lr, 0.001)     # lr is a variable

Each optimizer keeps its learning rate ("<Name>/learning_rate") and step count
("<Name>/iterations") as variables, made in the default graph on first use, and builds
its updates with one of raygraph's tf.train optimizers (SGD -> GradientDescent or
Momentum, Adam -> Adam) or, where Keras's arithmetic differs from TF1's (RMSprop's
zero-initialized accumulator and epsilon outside the square root, Adagrad's epsilon),
with the small optimizers below. `decay` is Keras's time-based decay
lr / (1 + decay * iterations). `compile` also takes any tf.train optimizer.
"""

from __future__ import annotations

from ops import api
from raygraph import dtypes
from raygraph.gradients import gradients
from raygraph.graph import get_default_graph, name_scope
from raygraph.train import optimizers as _train
from raygraph.variables import Variable


class Optimizer:
    """Base of the Keras optimizers: `get_updates(loss, params)` returns the update ops."""

    _default_name = "Optimizer"

    def __init__(
        self, learning_rate=0.01, name=None, lr=None, decay=0.0, clipnorm=None, clipvalue=None, **kwargs
    ):
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected arguments {sorted(kwargs)}")
        self._name = name or self._default_name
        self._initial_lr = float(lr if lr is not None else learning_rate)
        self._initial_decay = float(decay)
        self.clipnorm, self.clipvalue = clipnorm, clipvalue
        self._variables: dict = {}  # (graph, name) -> Variable

    def _variable(self, name: str, value, dtype):
        key = (get_default_graph(), name)
        if key not in self._variables:
            with name_scope(None):
                self._variables[key] = Variable(
                    value, dtype=dtype, trainable=False, name=f"{self._name}/{name}"
                )
        return self._variables[key]

    @property
    def lr(self):
        """The learning rate, a float32 variable (`K.set_value(opt.lr, 0.01)`)."""
        return self._variable("learning_rate", self._initial_lr, dtypes.float32)

    learning_rate = lr

    @property
    def iterations(self):
        """The number of update steps taken, an int64 variable."""
        return self._variable("iterations", 0, dtypes.int64)

    @property
    def decay(self):
        return self._variable("decay", self._initial_decay, dtypes.float32)

    def _lr_t(self):
        if not self._initial_decay:
            return self.lr
        steps = api.cast(self.iterations, dtypes.float32)
        return self.lr * (1.0 / (1.0 + self.decay * steps))

    def _clip(self, grads):
        if self.clipnorm is not None:
            grads = [api.clip_by_norm(g, self.clipnorm) if g is not None else None for g in grads]
        if self.clipvalue is not None:
            grads = [
                api.clip_by_value(g, -self.clipvalue, self.clipvalue) if g is not None else None
                for g in grads
            ]
        return grads

    def get_gradients(self, loss, params):
        grads = gradients(loss, list(params))
        if any(g is None for g in grads):
            missing = [p.name for p, g in zip(params, grads, strict=True) if g is None]
            raise ValueError(f"An operation has `None` for gradient: no gradient for variables {missing}.")
        return self._clip(grads)

    def get_updates(self, loss, params):
        """The ops that take one step on `params` to lower `loss` (and count the step)."""
        params = list(params)
        grads = self.get_gradients(loss, params)
        with name_scope(self._name):
            optimizer = self._tf_optimizer(self._lr_t())
            return [
                optimizer.apply_gradients(list(zip(grads, params, strict=True)), global_step=self.iterations)
            ]

    def minimize(self, loss, var_list=None, **kwargs):
        from raygraph.variables import trainable_variables

        return api.group(*self.get_updates(loss, var_list or trainable_variables()))

    def _tf_optimizer(self, lr):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self._name, "learning_rate": self._initial_lr, "decay": self._initial_decay}


class SGD(Optimizer):
    """Gradient descent, with momentum and Nesterov momentum: `SGD(0.01, momentum=0.9)`."""

    _default_name = "SGD"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self._momentum, self.nesterov = float(momentum), bool(nesterov)

    def _tf_optimizer(self, lr):
        if not self._momentum:
            return _train.GradientDescentOptimizer(lr, name="SGD")
        return _train.MomentumOptimizer(lr, self._momentum, use_nesterov=self.nesterov, name="SGD")


class Adam(Optimizer):
    """Adam: `Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`."""

    _default_name = "Adam"

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        name="Adam",
        **kwargs,
    ):
        if amsgrad:
            raise NotImplementedError("tf.keras.optimizers.Adam(amsgrad=True) is not supported by raygraph")
        super().__init__(learning_rate, name, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _tf_optimizer(self, lr):
        return _train.AdamOptimizer(lr, self.beta_1, self.beta_2, self.epsilon, name="Adam")


class _KerasRMSProp(_train.Optimizer):
    """rms = rho * rms + (1 - rho) * g^2 (rms from 0); var -= lr * g / (sqrt(rms) + epsilon)."""

    def __init__(self, lr, rho, epsilon):
        super().__init__(False, "RMSprop")
        self._lr, self._rho, self._epsilon = lr, rho, epsilon

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "rms", self._name)

    def _apply_dense(self, grad, var):
        lr = api.cast(self._lr, var.dtype)
        rms = self.get_slot(var, "rms")
        new_rms = rms.assign(self._rho * rms + (1.0 - self._rho) * api.square(grad))
        return var.assign_sub(lr * grad / (api.sqrt(new_rms) + self._epsilon)).op


class RMSprop(Optimizer):
    """RMSprop: `RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7)`."""

    _default_name = "RMSprop"

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        name="RMSprop",
        **kwargs,
    ):
        super().__init__(learning_rate, name, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _tf_optimizer(self, lr):
        if self.momentum or self.centered:
            raise NotImplementedError(
                "tf.keras.optimizers.RMSprop: momentum and centered are not supported by raygraph"
            )
        return _KerasRMSProp(lr, self.rho, self.epsilon)


class _KerasAdagrad(_train.Optimizer):
    """accum += g^2 (from initial_accumulator_value); var -= lr * g / (sqrt(accum) + epsilon)."""

    def __init__(self, lr, initial, epsilon):
        super().__init__(False, "Adagrad")
        self._lr, self._initial, self._epsilon = lr, initial, epsilon

    def _create_slots(self, var_list):
        for v in var_list:
            self._get_or_make_slot(v, _train._filled(v, self._initial), "accumulator", self._name)

    def _apply_dense(self, grad, var):
        lr = api.cast(self._lr, var.dtype)
        accum = self.get_slot(var, "accumulator")
        new_accum = accum.assign_add(api.square(grad))
        return var.assign_sub(lr * grad / (api.sqrt(new_accum) + self._epsilon)).op


class Adagrad(Optimizer):
    """Adagrad: `Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)`."""

    _default_name = "Adagrad"

    def __init__(
        self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name="Adagrad", **kwargs
    ):
        super().__init__(learning_rate, name, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _tf_optimizer(self, lr):
        return _KerasAdagrad(lr, self.initial_accumulator_value, self.epsilon)


class TFOptimizer(Optimizer):
    """A tf.train optimizer given to `compile`: its own apply_gradients, Keras's step count."""

    def __init__(self, optimizer, iterations=None):
        super().__init__(0.0, name=optimizer.get_name())
        self.optimizer = optimizer

    def get_updates(self, loss, params):
        grads_and_vars = self.optimizer.compute_gradients(loss, list(params))
        return [self.optimizer.apply_gradients(grads_and_vars, global_step=self.iterations)]


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """An optimizer for a name ("sgd", "adam", "rmsprop", "adagrad"), a Keras or tf.train optimizer."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, _train.Optimizer):
        return TFOptimizer(identifier)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
