"""Training ops: TensorFlow's fused optimizer updates, and learning-rate schedules.

The Apply* ops are TF's, with its input names, attrs and update rules (the
formulas of tensorflow/core/kernels/training_ops.cc, evaluated in the same order
so results agree to float32 rounding):

    ApplyGradientDescent  var -= alpha * delta
    ApplyMomentum         accum = accum * momentum + grad
                          var -= lr * accum     (nesterov: grad * lr + accum * momentum * lr)
    ApplyAdam             alpha = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
                          m += (grad - m) * (1 - beta1);  v += (grad**2 - v) * (1 - beta2)
                          var -= m * alpha / (sqrt(v) + epsilon)
                          (nesterov: (grad * (1 - beta1) + beta1 * m) in place of m)
    ApplyRMSProp          ms += (grad**2 - ms) * (1 - rho)
                          mom = mom * momentum + grad * lr / sqrt(ms + epsilon);  var -= mom
    ApplyCenteredRMSProp  as RMSProp, with mg += (grad - mg) * (1 - rho) and
                          sqrt(ms - mg**2 + epsilon) as the denominator
    ApplyAdagrad          accum += grad**2 (when update_slots);  var -= grad * lr / sqrt(accum)
    ApplyAdadelta         accum = rho * accum + (1 - rho) * grad**2
                          update = sqrt(accum_update + epsilon) / sqrt(accum + epsilon) * grad
                          var -= update * lr;  accum_update = rho * accum_update + (1 - rho) * update**2

The variable and its slots are taken by reference (`ref_inputs`): the kernel gets
their names and updates their arrays in the session's state. Every other input
is a value: hyperparameters are scalars of the variable's dtype, and the
gradient has the variable's shape. The output is the updated variable.

This is the hot path of every training step, so kernels update the arrays in
place with `out=` ufuncs and at most two temporaries. In-place is safe only for
an array that nothing else holds: a variable may share its array with the
constant it was initialized from, with another variable (`v.assign(w)`), or with
a value still alive in the running partition (a fetched read of the variable),
and a fed or transferred array is a read-only view. `_writable` checks this (a
view, a read-only array, or more references than the variable table's, by
CPython's reference count) and gives the variable a private copy first (in
practice on the first step only); after that its array is referenced by the
session's variable table alone and every update is in place.
Callers order every update after all the step's gradients (raygraph.train's
optimizers create the updates under control dependencies on the gradients), so
an update never changes a value a gradient still has to read.

With `use_locking=True` an update holds the session's state lock on its device,
so concurrent runs of one session apply their updates one at a time.

The schedule ops (ExponentialDecay, InverseTimeDecay, PolynomialDecay,
PiecewiseConstant) compute TF1's learning-rate decay functions
(raygraph.train.exponential_decay and friends) in one small kernel each, with
TF's float32 arithmetic; their inputs share the learning rate's dtype. One op
per schedule rather than a chain of math ops: the rate is recomputed every
step, and the schedule depends on no other op family.
"""

from __future__ import annotations

import contextlib
import sys

from ops.common import broadcast_shape, check_dtype
from ops.registry import Op
from raygraph import errors
from raygraph.shapes import format_shape

_NO_LOCK = contextlib.nullcontext()


def _refcount(array) -> int:
    return sys.getrefcount(array)


def _unshared_refs() -> int:
    """The references `_writable` counts to an array that only the variable table holds.

    Measured the way `_writable` counts (a table entry, a local, an argument),
    not assumed: the interpreter's own references differ between Python versions.
    """
    table = {"array": object()}
    value = table["array"]
    return _refcount(value)


_UNSHARED_REFS = _unshared_refs()


def _writable(ctx, name: str):
    """The array of variable `name`, safe to update in place (copied first if shared)."""
    value = ctx.read_variable(name)
    shared = (
        value.base is not None
        or not getattr(value.flags, "writeable", True)
        or _refcount(value) > _UNSHARED_REFS
    )
    if shared:
        value = ctx.assign_variable(name, value.copy())
    return value


def _lock(ctx, use_locking: bool):
    return ctx.state.lock if use_locking else _NO_LOCK


def _check_grad(var, grad, name: str = "grad") -> None:
    if grad.shape != var.shape:
        raise errors.InvalidArgumentError(
            None, None, f"var and {name} do not have the same shape: {list(var.shape)} {list(grad.shape)}"
        )


class _Apply(Op, register=False):
    """A fused update of a variable (and its slots) by one gradient step.

    Subclasses list `inputs`, the `ref_inputs` (the variable first, then its
    slots) and `full_inputs` (value inputs with the variable's shape, the
    gradient); every other input is a scalar hyperparameter. All inputs share
    the variable's dtype.
    """

    stateful = True
    differentiable = False
    full_inputs: tuple[str, ...] = ("grad",)

    def __init_subclass__(cls, **kwargs):
        cls.same_dtype = tuple(cls.input_names())
        cls.infer = staticmethod(_update_shape_fn(cls))
        super().__init_subclass__(**kwargs)


def _update_shape_fn(cls):
    """The shape function of an update op: the variable's dtype and shape, checked."""
    names = cls.input_names()

    def infer(*inputs, **attrs):
        named = dict(zip(names, inputs))
        var = named[names[0]]
        check_dtype(var, "float", names[0])
        for name, t in named.items():
            if name in cls.ref_inputs or name in cls.full_inputs:
                if not var.shape.is_compatible_with(t.shape):
                    raise ValueError(
                        f"{names[0]} and {name} do not have the same shape: "
                        f"{format_shape(var.shape)} and {format_shape(t.shape)}"
                    )
            elif t.shape.ndims not in (None, 0):
                raise ValueError(f"{name} is not a scalar: {format_shape(t.shape)}")
        return var.dtype, var.shape

    return infer


class ApplyGradientDescent(_Apply):
    """var -= alpha * delta: one step of gradient descent (TF's ApplyGradientDescent)."""

    inputs = ("var", "alpha", "delta")
    ref_inputs = ("var",)
    full_inputs = ("delta",)
    attrs = {"use_locking": False}

    def kernel(ctx, var, alpha, delta, use_locking):
        xp = ctx.xp
        with _lock(ctx, use_locking):
            var = _writable(ctx, var)
            _check_grad(var, delta, "delta")
            step = xp.multiply(delta, alpha, out=xp.empty_like(var))
            return xp.subtract(var, step, out=var)


class ApplyMomentum(_Apply):
    """accum = accum * momentum + grad; var -= lr * accum (TF's ApplyMomentum).

    With use_nesterov: var -= grad * lr + accum * momentum * lr.
    """

    inputs = ("var", "accum", "lr", "grad", "momentum")
    ref_inputs = ("var", "accum")
    attrs = {"use_locking": False, "use_nesterov": False}

    def kernel(ctx, var, accum, lr, grad, momentum, use_locking, use_nesterov):
        xp = ctx.xp
        with _lock(ctx, use_locking):
            var, accum = _writable(ctx, var), _writable(ctx, accum)
            _check_grad(var, grad)
            xp.multiply(accum, momentum, out=accum)
            xp.add(accum, grad, out=accum)
            if use_nesterov:  # grad * lr + accum * momentum * lr
                step = xp.multiply(grad, lr, out=xp.empty_like(var))
                ahead = xp.multiply(accum, momentum, out=xp.empty_like(var))
                step += xp.multiply(ahead, lr, out=ahead)
            else:
                step = xp.multiply(accum, lr, out=xp.empty_like(var))
            return xp.subtract(var, step, out=var)


class ApplyAdam(_Apply):
    """One Adam step on var and its moments m, v (TF's ApplyAdam; see the module doc)."""

    inputs = ("var", "m", "v", "beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon", "grad")
    ref_inputs = ("var", "m", "v")
    attrs = {"use_locking": False, "use_nesterov": False}

    def kernel(
        ctx, var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, use_locking, use_nesterov
    ):
        xp = ctx.xp
        with _lock(ctx, use_locking):
            var, m, v = _writable(ctx, var), _writable(ctx, m), _writable(ctx, v)
            _check_grad(var, grad)
            alpha = lr * xp.sqrt(1 - beta2_power) / (1 - beta1_power)
            t = xp.subtract(grad, m, out=xp.empty_like(var))
            m += xp.multiply(t, 1 - beta1, out=t)  # m += (grad - m) * (1 - beta1)
            xp.multiply(grad, grad, out=t)
            t -= v
            v += xp.multiply(t, 1 - beta2, out=t)  # v += (grad**2 - v) * (1 - beta2)
            if use_nesterov:  # (grad * (1 - beta1) + beta1 * m) * alpha
                step = xp.multiply(grad, 1 - beta1, out=xp.empty_like(var))
                step += xp.multiply(m, beta1, out=t)
                step *= alpha
            else:
                step = xp.multiply(m, alpha, out=xp.empty_like(var))
            xp.sqrt(v, out=t)
            t += epsilon
            step /= t
            return xp.subtract(var, step, out=var)


class ApplyRMSProp(_Apply):
    """One RMSProp step on var, its mean square ms and momentum mom (TF's ApplyRMSProp)."""

    inputs = ("var", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad")
    ref_inputs = ("var", "ms", "mom")
    attrs = {"use_locking": False}

    def kernel(ctx, var, ms, mom, lr, rho, momentum, epsilon, grad, use_locking):
        xp = ctx.xp
        with _lock(ctx, use_locking):
            var, ms, mom = _writable(ctx, var), _writable(ctx, ms), _writable(ctx, mom)
            _check_grad(var, grad)
            t = _update_mean_square(xp, ms, grad, rho)
            xp.add(ms, epsilon, out=t)
            return _momentum_step(xp, var, mom, grad, lr, momentum, xp.sqrt(t, out=t))


class ApplyCenteredRMSProp(_Apply):
    """Centered RMSProp: also tracks the mean gradient mg (TF's ApplyCenteredRMSProp)."""

    inputs = ("var", "mg", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad")
    ref_inputs = ("var", "mg", "ms", "mom")
    attrs = {"use_locking": False}

    def kernel(ctx, var, mg, ms, mom, lr, rho, momentum, epsilon, grad, use_locking):
        xp = ctx.xp
        with _lock(ctx, use_locking):
            var, mg = _writable(ctx, var), _writable(ctx, mg)
            ms, mom = _writable(ctx, ms), _writable(ctx, mom)
            _check_grad(var, grad)
            t = _update_mean_square(xp, ms, grad, rho)
            xp.subtract(grad, mg, out=t)
            mg += xp.multiply(t, 1 - rho, out=t)  # mg += (grad - mg) * (1 - rho)
            xp.multiply(mg, mg, out=t)
            xp.subtract(ms, t, out=t)
            t += epsilon  # (ms - mg**2) + epsilon
            return _momentum_step(xp, var, mom, grad, lr, momentum, xp.sqrt(t, out=t))


def _update_mean_square(xp, ms, grad, rho):
    """ms += (grad**2 - ms) * (1 - rho); returns a scratch array of ms's shape."""
    t = xp.multiply(grad, grad, out=xp.empty_like(ms))
    t -= ms
    ms += xp.multiply(t, 1 - rho, out=t)
    return t


def _momentum_step(xp, var, mom, grad, lr, momentum, denominator):
    """mom = mom * momentum + grad * lr / denominator; var -= mom."""
    step = xp.multiply(grad, lr, out=xp.empty_like(var))
    step /= denominator
    xp.multiply(mom, momentum, out=mom)
    mom += step
    return xp.subtract(var, mom, out=var)


class ApplyAdagrad(_Apply):
    """accum += grad**2; var -= lr * grad / sqrt(accum) (TF's ApplyAdagrad)."""

    inputs = ("var", "accum", "lr", "grad")
    ref_inputs = ("var", "accum")
    attrs = {"use_locking": False, "update_slots": True}

    def kernel(ctx, var, accum, lr, grad, use_locking, update_slots):
        xp = ctx.xp
        with _lock(ctx, use_locking):
            var, accum = _writable(ctx, var), _writable(ctx, accum)
            _check_grad(var, grad)
            t = xp.multiply(grad, grad, out=xp.empty_like(var))
            if update_slots:
                accum += t
            step = xp.multiply(grad, lr, out=xp.empty_like(var))
            step /= xp.sqrt(accum, out=t)
            return xp.subtract(var, step, out=var)


class ApplyAdadelta(_Apply):
    """accum = rho * accum + (1 - rho) * grad**2;
    update = sqrt(accum_update + epsilon) / sqrt(accum + epsilon) * grad; var -= lr * update;
    accum_update = rho * accum_update + (1 - rho) * update**2 (TF's ApplyAdadelta)."""

    inputs = ("var", "accum", "accum_update", "lr", "rho", "epsilon", "grad")
    ref_inputs = ("var", "accum", "accum_update")
    attrs = {"use_locking": False}

    def kernel(ctx, var, accum, accum_update, lr, rho, epsilon, grad, use_locking):
        xp = ctx.xp
        with _lock(ctx, use_locking):
            var, accum = _writable(ctx, var), _writable(ctx, accum)
            accum_update = _writable(ctx, accum_update)
            _check_grad(var, grad)
            t = xp.multiply(grad, grad, out=xp.empty_like(var))
            xp.multiply(accum, rho, out=accum)
            accum += xp.multiply(t, 1 - rho, out=t)
            update = xp.add(accum_update, epsilon, out=xp.empty_like(var))
            xp.sqrt(update, out=update)
            xp.add(accum, epsilon, out=t)
            update /= xp.sqrt(t, out=t)
            update *= grad
            xp.multiply(update, lr, out=t)
            xp.subtract(var, t, out=var)
            xp.multiply(accum_update, rho, out=accum_update)
            accum_update += xp.multiply(xp.multiply(update, update, out=t), 1 - rho, out=t)
            return var


# -- learning-rate schedules ---------------------------------------------------


class _Schedule(Op, register=False):
    """A learning-rate schedule: scalar inputs of the learning rate's dtype."""

    differentiable = False

    def __init_subclass__(cls, **kwargs):
        cls.same_dtype = tuple(cls.input_names())

        def infer(*inputs, **attrs):
            check_dtype(inputs[0], "float", cls.inputs[0])
            shape = inputs[0].shape
            for t in inputs[1:]:
                shape = broadcast_shape(shape, t.shape)
            return inputs[0].dtype, shape

        cls.infer = staticmethod(infer)
        super().__init_subclass__(**kwargs)


def _decay_progress(xp, global_step, decay_steps, staircase):
    p = xp.true_divide(global_step, decay_steps)
    return xp.floor(p) if staircase else p


class ExponentialDecay(_Schedule):
    """learning_rate * decay_rate ** (global_step / decay_steps), floored when staircase."""

    inputs = ("learning_rate", "global_step", "decay_steps", "decay_rate")
    attrs = {"staircase": False}

    def kernel(xp, learning_rate, global_step, decay_steps, decay_rate, staircase):
        p = _decay_progress(xp, global_step, decay_steps, staircase)
        return xp.multiply(learning_rate, xp.power(decay_rate, p))


class InverseTimeDecay(_Schedule):
    """learning_rate / (1 + decay_rate * global_step / decay_steps), floored when staircase."""

    inputs = ("learning_rate", "global_step", "decay_steps", "decay_rate")
    attrs = {"staircase": False}

    def kernel(xp, learning_rate, global_step, decay_steps, decay_rate, staircase):
        p = _decay_progress(xp, global_step, decay_steps, staircase)
        return xp.true_divide(learning_rate, 1 + xp.multiply(decay_rate, p))


class PolynomialDecay(_Schedule):
    """(learning_rate - end_learning_rate) * (1 - step / decay_steps) ** power + end_learning_rate.

    The step stops at decay_steps, or with `cycle` decay_steps grows to the next
    multiple of itself past the step.
    """

    inputs = ("learning_rate", "global_step", "decay_steps", "end_learning_rate", "power")
    attrs = {"cycle": False}

    def kernel(xp, learning_rate, global_step, decay_steps, end_learning_rate, power, cycle):
        if cycle:
            multiplier = xp.where(global_step == 0, 1, xp.ceil(global_step / decay_steps))
            decay_steps = xp.multiply(decay_steps, multiplier.astype(decay_steps.dtype))
        else:
            global_step = xp.minimum(global_step, decay_steps)
        p = xp.true_divide(global_step, decay_steps)
        scale = xp.power(1 - p, power)
        return xp.add(xp.multiply(learning_rate - end_learning_rate, scale), end_learning_rate)


class PiecewiseConstant(Op):
    """values[i] where boundaries[i-1] < x <= boundaries[i] (values[0] up to the first
    boundary, values[-1] past the last): TF1's piecewise_constant."""

    inputs = ("x", "boundaries*", "values*")
    same_dtype = ("x", "boundaries")
    differentiable = False

    def infer(x, boundaries, values):
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                f"The length of boundaries should be 1 less than the length of values, got "
                f"{len(boundaries)} boundaries and {len(values)} values"
            )
        for t in [x, *boundaries, *values]:
            if t.shape.ndims not in (None, 0):
                raise ValueError(f"{t.name} must be a scalar, got shape {format_shape(t.shape)}")
        if any(v.dtype != values[0].dtype for v in values):
            raise ValueError("Values must have elements all with the same dtype")
        return values[0].dtype, ()

    def kernel(xp, x, boundaries, values):
        # TF's predicates: x <= b[0], x > b[-1], b[i-1] < x <= b[i]; none true (a nan) gives values[0]
        index = 0
        if x > boundaries[-1]:
            index = len(values) - 1
        elif not x <= boundaries[0]:
            index = next((i for i in range(1, len(boundaries)) if boundaries[i - 1] < x <= boundaries[i]), 0)
        return xp.array(values[index], copy=True)  # never the constant itself
