"""`tf.distributions`: Normal, Bernoulli and Categorical, and kl_divergence (TF1's basics).

Each distribution holds its parameters as tensors and builds graph ops for its
methods, as TensorFlow's do; batch shapes broadcast numpy-style.

    dist = tf.distributions.Normal(loc=mu, scale=sigma)
    nll = -tf.reduce_mean(dist.log_prob(x))
    z = dist.sample(seed=1)                  # one draw per batch member
    kl = tf.distributions.kl_divergence(dist, tf.distributions.Normal(0.0, 1.0))

Samples come from raygraph's random ops, so with a seed they repeat run to run
but are not TensorFlow's numbers.
"""

from __future__ import annotations

import math

import ops as _ops
from ops import api
from raygraph import dtypes
from raygraph.graph import convert_to_tensor, name_scope

_ops.load_all()  # imported alone (`tf.metrics` before any op): the ops must exist

__all__ = ["Bernoulli", "Categorical", "Distribution", "Normal", "kl_divergence"]


def _sample_shape(sample_shape):
    if isinstance(sample_shape, int):
        return [sample_shape]
    return list(sample_shape)


class Distribution:
    """The base class: `sample`, `log_prob`, `prob`, `entropy`, `mean`, `stddev`, `variance`."""

    def __init__(self, dtype, parameters: dict, name: str, validate_args=False, allow_nan_stats=True):
        self._dtype = dtype
        self._parameters = parameters
        self._name = name
        self.validate_args = validate_args
        self.allow_nan_stats = allow_nan_stats

    dtype = property(lambda self: self._dtype)
    name = property(lambda self: self._name)
    parameters = property(lambda self: dict(self._parameters))

    def prob(self, value, name="prob"):
        with name_scope(f"{self._name}/", None):
            return api.exp(self.log_prob(value), name=name)

    def stddev(self, name="stddev"):
        return api.sqrt(self.variance(), name=name)

    def sample(self, sample_shape=(), seed=None, name="sample"):
        with name_scope(f"{self._name}/"), name_scope(name):
            return self._sample(_sample_shape(sample_shape), seed)


class Normal(Distribution):
    """The normal distribution with mean `loc` and standard deviation `scale`.

    >>> tf.distributions.Normal(0.0, 1.0).log_prob(0.0)   # -0.9189385
    """

    def __init__(self, loc, scale, validate_args=False, allow_nan_stats=True, name="Normal"):
        with name_scope(name, values=[loc, scale]) as scope:
            self._loc = convert_to_tensor(loc, name="loc")
            self._scale = convert_to_tensor(scale, name="scale", preferred_dtype=self._loc.dtype)
        super().__init__(
            self._loc.dtype, {"loc": loc, "scale": scale}, scope[:-1], validate_args, allow_nan_stats
        )

    loc = property(lambda self: self._loc)
    scale = property(lambda self: self._scale)

    def _batch(self):
        return api.shape(self._loc + self._scale)

    def batch_shape_tensor(self, name="batch_shape_tensor"):
        return self._batch()

    def _sample(self, sample_shape, seed):
        shape = api.concat([api.constant(sample_shape, dtype=dtypes.int32), self._batch()], 0)
        return self._loc + self._scale * api.random_normal(shape, dtype=self._dtype, seed=seed)

    def log_prob(self, value, name="log_prob"):
        with name_scope(f"{self._name}/"), name_scope(name):
            z = (convert_to_tensor(value, preferred_dtype=self._dtype) - self._loc) / self._scale
            return -0.5 * api.square(z) - (0.5 * math.log(2.0 * math.pi) + api.log(self._scale))

    def cdf(self, value, name="cdf"):
        with name_scope(f"{self._name}/"), name_scope(name):
            z = (convert_to_tensor(value, preferred_dtype=self._dtype) - self._loc) / self._scale
            return 0.5 * (1.0 + api.erf(z / math.sqrt(2.0)))

    def entropy(self, name="entropy"):
        with name_scope(f"{self._name}/"), name_scope(name):
            scale = self._scale * api.ones_like(self._loc)
            return 0.5 * math.log(2.0 * math.pi * math.e) + api.log(scale)

    def mean(self, name="mean"):
        with name_scope(f"{self._name}/"), name_scope(name):
            return self._loc * api.ones_like(self._scale)

    def mode(self, name="mode"):
        return self.mean(name)

    def stddev(self, name="stddev"):
        with name_scope(f"{self._name}/"), name_scope(name):
            return self._scale * api.ones_like(self._loc)

    def variance(self, name="variance"):
        with name_scope(f"{self._name}/"), name_scope(name):
            return api.square(self._scale * api.ones_like(self._loc))


class Bernoulli(Distribution):
    """A 0/1 outcome with P(1) = `probs` (or sigmoid(`logits`)); samples have `dtype` (int32)."""

    def __init__(
        self,
        logits=None,
        probs=None,
        dtype=dtypes.int32,
        validate_args=False,
        allow_nan_stats=True,
        name="Bernoulli",
    ):
        if (logits is None) == (probs is None):
            raise ValueError("Must pass probs or logits, but not both.")
        with name_scope(name, values=[logits, probs]) as scope:
            if logits is not None:
                self._logits = convert_to_tensor(logits, name="logits")
                self._probs = api.sigmoid(self._logits, name="probs")
            else:
                self._probs = convert_to_tensor(probs, name="probs")
                self._logits = api.log(self._probs) - api.log1p(-self._probs)
        super().__init__(
            dtypes.as_dtype(dtype),
            {"logits": logits, "probs": probs},
            scope[:-1],
            validate_args,
            allow_nan_stats,
        )

    logits = property(lambda self: self._logits)
    probs = property(lambda self: self._probs)

    def _sample(self, sample_shape, seed):
        shape = api.concat([api.constant(sample_shape, dtype=dtypes.int32), api.shape(self._probs)], 0)
        uniform = api.random_uniform(shape, dtype=self._probs.dtype, seed=seed)
        return api.cast(api.less(uniform, self._probs), self._dtype)

    def log_prob(self, value, name="log_prob"):
        with name_scope(f"{self._name}/"), name_scope(name):
            value = api.cast(value, self._logits.dtype)
            logits = self._logits * api.ones_like(value)
            value = value * api.ones_like(self._logits)
            return -api.nn.sigmoid_cross_entropy_with_logits(labels=value, logits=logits)

    def entropy(self, name="entropy"):
        with name_scope(f"{self._name}/"), name_scope(name):
            return api.nn.sigmoid_cross_entropy_with_logits(labels=self._probs, logits=self._logits)

    def mean(self, name="mean"):
        return api.identity(self._probs, name=name)

    def variance(self, name="variance"):
        return api.multiply(self._probs, 1.0 - self._probs, name=name)

    def mode(self, name="mode"):
        return api.cast(api.greater(self._probs, 0.5), self._dtype, name=name)


class Categorical(Distribution):
    """One of K classes with probabilities softmax(`logits`) (or `probs`), over the last axis."""

    def __init__(
        self,
        logits=None,
        probs=None,
        dtype=dtypes.int32,
        validate_args=False,
        allow_nan_stats=True,
        name="Categorical",
    ):
        if (logits is None) == (probs is None):
            raise ValueError("Must pass probs or logits, but not both.")
        with name_scope(name, values=[logits, probs]) as scope:
            if logits is not None:
                self._logits = convert_to_tensor(logits, name="logits")
                self._probs = api.nn.softmax(self._logits, name="probs")
            else:
                self._probs = convert_to_tensor(probs, name="probs")
                self._logits = api.log(self._probs, name="logits")
        super().__init__(
            dtypes.as_dtype(dtype),
            {"logits": logits, "probs": probs},
            scope[:-1],
            validate_args,
            allow_nan_stats,
        )

    logits = property(lambda self: self._logits)
    probs = property(lambda self: self._probs)

    def _log_softmax(self):
        return self._logits - api.reduce_logsumexp(self._logits, axis=-1, keepdims=True)

    def _sample(self, sample_shape, seed):
        n = int(math.prod(sample_shape)) if sample_shape else 1
        logits_2d = api.reshape(self._logits, [-1, api.shape(self._logits)[-1]])
        draws = api.multinomial(logits_2d, n, seed=seed, output_dtype=self._dtype)  # [batch, n]
        draws = api.transpose(draws)  # [n, batch]
        batch = api.shape(self._logits)[:-1]
        return api.reshape(draws, api.concat([api.constant(sample_shape, dtype=dtypes.int32), batch], 0))

    def log_prob(self, k, name="log_prob"):
        with name_scope(f"{self._name}/"), name_scope(name):
            k = api.cast(k, dtypes.int32)
            log_p = self._log_softmax()
            depth = api.shape(self._logits)[-1]
            return api.reduce_sum(api.one_hot(k, depth, dtype=log_p.dtype) * log_p, axis=-1)

    def entropy(self, name="entropy"):
        with name_scope(f"{self._name}/"), name_scope(name):
            return -api.reduce_sum(api.nn.softmax(self._logits) * self._log_softmax(), axis=-1)

    def mode(self, name="mode"):
        return api.cast(api.argmax(self._logits, axis=-1), self._dtype, name=name)

    @property
    def event_size(self):
        return api.shape(self._logits)[-1]


def kl_divergence(distribution_a, distribution_b, allow_nan_stats=True, name=None):
    """KL(a || b) for two Normals (or two Bernoullis), elementwise over the batch."""
    with name_scope(name, "KullbackLeibler"):
        if isinstance(distribution_a, Normal) and isinstance(distribution_b, Normal):
            a, b = distribution_a, distribution_b
            diff_log_scale = api.log(a.scale) - api.log(b.scale)
            return (
                0.5 * api.square(a.loc / b.scale - b.loc / b.scale)
                + 0.5 * api.expm1(2.0 * diff_log_scale)
                - diff_log_scale
            )
        if isinstance(distribution_a, Bernoulli) and isinstance(distribution_b, Bernoulli):
            a, b = distribution_a, distribution_b
            pa, pb = a.probs, b.probs
            return pa * (api.log(pa) - api.log(pb)) + (1.0 - pa) * (api.log1p(-pa) - api.log1p(-pb))
    raise NotImplementedError(
        f"No KL(distribution_a || distribution_b) registered for distribution_a type "
        f"{type(distribution_a).__name__} and distribution_b type {type(distribution_b).__name__}"
    )
