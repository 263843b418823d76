"""TensorFlow 1.x initializers: callables that build a variable's initial value.

    w = tf.get_variable("w", [784, 256], initializer=tf.glorot_uniform_initializer(seed=1))
    b = tf.get_variable("b", [256], initializer=tf.zeros_initializer())

An initializer is an object called as `init(shape, dtype=None, partition_info=None)`;
it returns a Tensor built from ops (zeros, constant, random_uniform, ...), so the
value is computed on the variable's device when the initializer op runs. Random
initializers pass their `seed` to the random ops, which combine it with the graph
seed as TensorFlow does: the same seeds give the same values.

Variance scaling (glorot, he, lecun) computes fan-in and fan-out like TensorFlow:
for a kernel of shape [..., in, out] the receptive field (the product of the
leading dims) multiplies both, so conv kernels [h, w, in, out] are handled.

The module is also `tf.initializers` (`tf.initializers.zeros()`, `.glorot_uniform()`, ...);
`__all__` holds the top-level `tf.*_initializer` names.
"""

from __future__ import annotations

import math

import numpy as np

from ops import api
from raygraph import dtypes
from raygraph.graph import to_numpy
from raygraph.variables import (
    global_variables_initializer,
    local_variables_initializer,
    variables_initializer,
)

__all__ = [
    "constant_initializer",
    "glorot_normal_initializer",
    "glorot_uniform_initializer",
    "ones_initializer",
    "random_normal_initializer",
    "random_uniform_initializer",
    "truncated_normal_initializer",
    "variance_scaling_initializer",
    "zeros_initializer",
]


class Initializer:
    """Base class: `__call__(shape, dtype=None, partition_info=None)` returns a Tensor."""

    def __call__(self, shape, dtype=None, partition_info=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments, so that `cls.from_config(init.get_config())` copies it."""
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _float_dtype(dtype, who: str):
    dtype = dtypes.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"{who} expects a floating point dtype, got {dtype.name}.")
    return dtype


def _shape_list(shape) -> list[int]:
    return [int(d) for d in (shape.as_list() if hasattr(shape, "as_list") else shape)]


class Zeros(Initializer):
    """All zeros.

    >>> tf.get_variable("b", [10], initializer=tf.zeros_initializer())
    """

    def __init__(self, dtype=dtypes.float32):
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return api.zeros(_shape_list(shape), dtype=dtype if dtype is not None else self.dtype)

    def get_config(self) -> dict:
        return {"dtype": self.dtype.name}


class Ones(Initializer):
    """All ones.

    >>> tf.get_variable("gamma", [10], initializer=tf.ones_initializer())
    """

    def __init__(self, dtype=dtypes.float32):
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return api.ones(_shape_list(shape), dtype=dtype if dtype is not None else self.dtype)

    def get_config(self) -> dict:
        return {"dtype": self.dtype.name}


class Constant(Initializer):
    """A constant value: a scalar fills the shape; a list of fewer elements is padded with its last.

    >>> tf.constant_initializer([1, 2])([4]).eval()   # [1., 2., 2., 2.]
    """

    def __init__(self, value=0, dtype=dtypes.float32, verify_shape=False):
        if not (np.isscalar(value) or isinstance(value, list | tuple | np.ndarray)):
            raise TypeError(
                f"Invalid type for initial value: {type(value).__name__} (expected Python scalar, "
                "list or tuple of values, or numpy.ndarray)."
            )
        self.value = value
        self.dtype = dtypes.as_dtype(dtype)
        self._verify_shape = verify_shape

    def __call__(self, shape, dtype=None, partition_info=None, verify_shape=None):
        dtype = dtypes.as_dtype(dtype if dtype is not None else self.dtype)
        verify = self._verify_shape if verify_shape is None else verify_shape
        return api.constant(_fill_constant(self.value, dtype, _shape_list(shape), verify), dtype=dtype)

    def get_config(self) -> dict:
        return {"value": self.value, "dtype": self.dtype.name}


def _fill_constant(value, dtype, shape: list[int], verify_shape: bool) -> np.ndarray:
    """TensorFlow 1.x constant filling: broadcast a scalar, pad a short list with its last value."""
    array = to_numpy(value, dtype)
    size = int(np.prod(shape))
    if verify_shape and list(array.shape) != shape:
        raise TypeError(f"Expected Tensor's shape: {tuple(shape)}, but got {array.shape}.")
    if array.size == size:
        return array.reshape(shape)
    if size == 0:
        return np.zeros(shape, dtype=array.dtype)
    if array.size == 1 or (0 < array.size < size):
        flat = array.reshape(-1)
        return np.concatenate([flat, np.repeat(flat[-1:], size - flat.size)]).reshape(shape)
    raise ValueError(
        f"Too many elements provided: the shape {shape} holds {size}, but the value has {array.size}."
    )


class RandomUniform(Initializer):
    """Uniform values in [minval, maxval) (maxval defaults to 1 for floats).

    >>> tf.random_uniform_initializer(-0.05, 0.05, seed=1)
    """

    def __init__(self, minval=0.0, maxval=None, seed=None, dtype=dtypes.float32):
        self.minval = minval
        self.maxval = maxval
        self.seed = seed
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = dtypes.as_dtype(dtype if dtype is not None else self.dtype)
        return api.random_uniform(_shape_list(shape), self.minval, self.maxval, dtype, seed=self.seed)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed, "dtype": self.dtype.name}


class RandomNormal(Initializer):
    """Normal values with `mean` and `stddev`.

    >>> tf.random_normal_initializer(stddev=0.01, seed=1)
    """

    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32):
        self.mean = mean
        self.stddev = stddev
        self.seed = seed
        self.dtype = _float_dtype(dtype, "random_normal_initializer")

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = dtypes.as_dtype(dtype if dtype is not None else self.dtype)
        return api.random_normal(_shape_list(shape), self.mean, self.stddev, dtype, seed=self.seed)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed, "dtype": self.dtype.name}


class TruncatedNormal(RandomNormal):
    """Normal values, redrawn when more than two standard deviations from the mean.

    >>> tf.truncated_normal_initializer(stddev=0.1, seed=1)
    """

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = dtypes.as_dtype(dtype if dtype is not None else self.dtype)
        return api.truncated_normal(_shape_list(shape), self.mean, self.stddev, dtype, seed=self.seed)


def _compute_fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape, as TensorFlow computes them."""
    shape = list(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive_field = int(np.prod(shape[:-2]))  # convolution kernels: [..., in, out]
    return int(shape[-2]) * receptive_field, int(shape[-1]) * receptive_field


_TRUNCATED_STDDEV = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


class VarianceScaling(Initializer):
    """Random values whose variance is `scale / n`, n the fan-in, fan-out or their mean.

    `distribution` is "truncated_normal" (or "normal", the same), "untruncated_normal"
    or "uniform".

    >>> tf.variance_scaling_initializer(scale=2.0, mode="fan_in")   # He initialization
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("normal", "uniform", "truncated_normal", "untruncated_normal")

    def __init__(
        self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, dtype=dtypes.float32
    ):
        if scale <= 0.0:
            raise ValueError(f"`scale` must be a positive float, got {scale}.")
        if mode not in self._MODES:
            raise ValueError(f"Invalid `mode` argument: {mode!r}; expected one of {self._MODES}.")
        distribution = distribution.lower()
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution!r}; expected one of {self._DISTRIBUTIONS}."
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed
        self.dtype = _float_dtype(dtype, type(self).__name__)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = dtypes.as_dtype(dtype if dtype is not None else self.dtype)
        shape = _shape_list(shape)
        full_shape = getattr(partition_info, "full_shape", None) or shape
        scale = self.scale / max(1.0, self._fan(full_shape))
        if self.distribution in ("normal", "truncated_normal"):
            stddev = math.sqrt(scale) / _TRUNCATED_STDDEV
            return api.truncated_normal(shape, 0.0, stddev, dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return api.random_normal(shape, 0.0, math.sqrt(scale), dtype, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return api.random_uniform(shape, -limit, limit, dtype, seed=self.seed)

    def _fan(self, shape) -> float:
        fan_in, fan_out = _compute_fans(shape)
        if self.mode == "fan_in":
            return fan_in
        if self.mode == "fan_out":
            return fan_out
        return (fan_in + fan_out) / 2.0

    def get_config(self) -> dict:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }


class GlorotUniform(VarianceScaling):
    """Xavier uniform: U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)).

    >>> tf.glorot_uniform_initializer(seed=1)   # the default of tf.get_variable
    """

    def __init__(self, seed=None, dtype=dtypes.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="uniform", seed=seed, dtype=dtype)

    def get_config(self) -> dict:
        return {"seed": self.seed, "dtype": self.dtype.name}


class GlorotNormal(VarianceScaling):
    """Xavier normal: truncated normal with stddev sqrt(2 / (fan_in + fan_out)).

    >>> tf.glorot_normal_initializer(seed=1)
    """

    def __init__(self, seed=None, dtype=dtypes.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="truncated_normal", seed=seed, dtype=dtype)

    def get_config(self) -> dict:
        return {"seed": self.seed, "dtype": self.dtype.name}


def he_normal(seed=None) -> VarianceScaling:
    """He normal: truncated normal with stddev sqrt(2 / fan_in). `tf.initializers.he_normal()`."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def he_uniform(seed=None) -> VarianceScaling:
    """He uniform: U(-limit, limit), limit = sqrt(6 / fan_in). `tf.initializers.he_uniform()`."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=seed)


def lecun_normal(seed=None) -> VarianceScaling:
    """LeCun normal: truncated normal with stddev sqrt(1 / fan_in)."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def lecun_uniform(seed=None) -> VarianceScaling:
    """LeCun uniform: U(-limit, limit), limit = sqrt(3 / fan_in)."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform", seed=seed)


# TensorFlow 1.x top-level names (classes, called to make an initializer).
zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
random_uniform_initializer = RandomUniform
random_normal_initializer = RandomNormal
truncated_normal_initializer = TruncatedNormal
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal

# The `tf.initializers` namespace.
zeros = Zeros
ones = Ones
constant = Constant
random_uniform = RandomUniform
random_normal = RandomNormal
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
global_variables = global_variables_initializer
local_variables = local_variables_initializer
variables = variables_initializer
