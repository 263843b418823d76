"""TF1's cosine learning-rate schedules and natural_exp_decay (`tf.train.cosine_decay`...).

    step = tf.train.get_or_create_global_step()
    lr = tf.train.cosine_decay(0.1, step, decay_steps=10000, alpha=0.01)

Each returns a scalar tensor of the learning rate's dtype, recomputed from the
step at every run. Unlike the schedules of training_util.py (one op each), these
are composed from math ops, in the order TF's learning_rate_schedule.py uses, so
float32 results agree with TF's to rounding: they are each a few elementwise ops
on scalars, and noisy_linear_cosine_decay needs a random op anyway.
"""

from __future__ import annotations

import math

from ops import api
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.train.training_util import _as, _require_step, exponential_decay

__all__ = [
    "cosine_decay",
    "cosine_decay_restarts",
    "linear_cosine_decay",
    "noisy_linear_cosine_decay",
    "natural_exp_decay",
]


def _cosine(fraction):
    """0.5 * (1 + cos(pi * fraction))."""
    return 0.5 * (1.0 + api.cos(math.pi * fraction))


def cosine_decay(learning_rate, global_step, decay_steps, alpha=0.0, name=None):
    """learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * t)) + alpha), t = min(step, decay_steps) / decay_steps.

    >>> lr = tf.train.cosine_decay(0.1, step, decay_steps=1000, alpha=0.0)
    """
    _require_step(global_step, "cosine_decay")
    with name_scope(name, "CosineDecay"):
        lr = convert_to_tensor(learning_rate, name="initial_learning_rate")
        decay_steps = _as(decay_steps, lr.dtype)
        step = api.minimum(_as(global_step, lr.dtype), decay_steps)
        decayed = (1 - alpha) * _cosine(step / decay_steps) + alpha
        return api.multiply(lr, decayed)


def cosine_decay_restarts(
    learning_rate, global_step, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name=None
):
    """Cosine decay with warm restarts (SGDR): the i-th period lasts first_decay_steps * t_mul**i
    steps and starts from learning_rate * m_mul**i.

    >>> lr = tf.train.cosine_decay_restarts(0.1, step, first_decay_steps=1000, t_mul=2.0, m_mul=0.9)
    """
    _require_step(global_step, "cosine_decay_restarts")
    with name_scope(name, "SGDRDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="initial_learning_rate")
        first_decay_steps, alpha, t_mul, m_mul = (
            _as(v, lr.dtype) for v in (first_decay_steps, alpha, t_mul, m_mul)
        )
        fraction = _as(global_step, lr.dtype) / first_decay_steps
        # t_mul == 1: periods of equal length; else a geometric series of lengths
        same_restart = api.floor(fraction)
        same_fraction = fraction - same_restart
        geo_restart = api.floor(api.log(1.0 - fraction * (1.0 - t_mul)) / api.log(t_mul))
        geo_done = (1.0 - t_mul**geo_restart) / (1.0 - t_mul)
        geo_fraction = (fraction - geo_done) / t_mul**geo_restart
        constant = api.equal(t_mul, 1.0)
        restart = api.where(constant, same_restart, geo_restart)
        fraction = api.where(constant, same_fraction, geo_fraction)
        cosine_decayed = 0.5 * m_mul**restart * (1.0 + api.cos(math.pi * fraction))
        decayed = (1 - alpha) * cosine_decayed + alpha
        return api.multiply(lr, decayed, name=scope)


def _linear_cosine(lr, global_step, decay_steps, num_periods, alpha, beta, noise_std=None):
    decay_steps, num_periods, alpha, beta = (
        _as(v, lr.dtype) for v in (decay_steps, num_periods, alpha, beta)
    )
    step = api.minimum(_as(global_step, lr.dtype), decay_steps)
    linear_decayed = (decay_steps - step) / decay_steps
    if noise_std is not None:
        linear_decayed = linear_decayed + api.random_normal([], stddev=noise_std(step), dtype=lr.dtype)
    cosine_decayed = _cosine(2.0 * num_periods * (step / decay_steps))
    return (alpha + linear_decayed) * cosine_decayed + beta


def linear_cosine_decay(
    learning_rate, global_step, decay_steps, num_periods=0.5, alpha=0.0, beta=0.001, name=None
):
    """learning_rate * ((alpha + linear) * cosine + beta), with linear = 1 - t and
    cosine = 0.5 * (1 + cos(2 pi num_periods t)), t = min(step, decay_steps) / decay_steps.

    >>> lr = tf.train.linear_cosine_decay(0.1, step, decay_steps=1000, num_periods=2)
    """
    _require_step(global_step, "linear_cosine_decay")
    with name_scope(name, "LinearCosineDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="initial_learning_rate")
        decayed = _linear_cosine(lr, global_step, decay_steps, num_periods, alpha, beta)
        return api.multiply(lr, decayed, name=scope)


def noisy_linear_cosine_decay(
    learning_rate,
    global_step,
    decay_steps,
    initial_variance=1.0,
    variance_decay=0.55,
    num_periods=0.5,
    alpha=0.0,
    beta=0.001,
    name=None,
):
    """linear_cosine_decay with Gaussian noise added to its linear part, of variance
    initial_variance / (1 + step) ** variance_decay: a new draw at every run.

    >>> lr = tf.train.noisy_linear_cosine_decay(0.1, step, decay_steps=1000)
    """
    _require_step(global_step, "noisy_linear_cosine_decay")
    with name_scope(name, "NoisyLinearCosineDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="initial_learning_rate")
        variance0, decay = _as(initial_variance, lr.dtype), _as(variance_decay, lr.dtype)

        def std(step):
            return api.sqrt(variance0 / api.pow(1.0 + step, decay))

        decayed = _linear_cosine(lr, global_step, decay_steps, num_periods, alpha, beta, noise_std=std)
        return api.multiply(lr, decayed, name=scope)


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None):
    """learning_rate * exp(-decay_rate * global_step / decay_steps), the ratio floored if staircase.

    >>> lr = tf.train.natural_exp_decay(0.1, step, decay_steps=1000, decay_rate=0.5)
    """
    _require_step(global_step, "natural_exp_decay")
    with name_scope(name, "NaturalExpDecay"):
        lr = convert_to_tensor(learning_rate, name="initial_learning_rate")
        rate = api.exp(-_as(decay_rate, lr.dtype))
        return exponential_decay(lr, global_step, decay_steps, rate, staircase=staircase)
