"""Random ops: normal, truncated normal, uniform, shuffle, multinomial; TF1's seed rules.

Every random op is `stateful`: its kernel gets the executor's KernelContext and
draws from `ctx.rng(seed, seed2)`, one numpy Generator per op per session, made
on the op's first run and advancing run after run. So within a session successive
runs give new values, and a new Session over the same graph replays them.

Seeds follow tf.compat.v1's `get_seed`, evaluated when the op is built:
- graph seed and op seed both set: (graph seed, op seed);
- graph seed only (`tf.set_random_seed`): the op seed is the number of ops in the
  graph so far, so rebuilding the same program reproduces every op's stream;
- op seed only: the graph seed is DEFAULT_GRAPH_SEED;
- neither: (None, None), fresh entropy for each session.
Values do not equal TensorFlow's (its generator is Philox); their distributions do.

Kernels generate with numpy on the host and hand the array to `ctx.xp`, so GPU
devices (cupy) get the same streams as CPU ones. The shape argument is a tensor
(it may be computed, `tf.shape(x)`); mean, stddev, minval and maxval are applied
by ordinary multiply/add ops, as in TensorFlow.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops.common import check_dtype, constant_value, partial_shape_value
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import Tensor, convert_to_tensor, get_default_graph, name_scope
from raygraph.shapes import TensorShape, format_shape

DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2**31 - 1


@api_function("set_random_seed", "random.set_random_seed")
def set_random_seed(seed) -> None:
    """Sets the default graph's seed, from which ops without a seed derive theirs.

    >>> tf.set_random_seed(42)
    >>> w = tf.Variable(tf.random_normal([784, 10]))   # same values in every run of the program
    """
    get_default_graph().seed = None if seed is None else int(seed)


@api_function("get_seed", "random.get_seed")
def get_seed(op_seed):
    """The (graph seed, op seed) pair an op built now uses, by TF1's rules (see module doc)."""
    graph = get_default_graph()
    if graph.seed is not None:
        seeds = (int(graph.seed), int(op_seed) if op_seed is not None else graph.version)
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, int(op_seed))
    else:
        return None, None
    return (0, _MAXINT32) if seeds == (0, 0) else seeds


def _draw_shape(shape) -> tuple[int, ...]:
    return tuple(int(d) for d in shape)


def _host_dtype(dtype) -> np.dtype:
    """The dtype numpy's generator draws in: float32 or float64 (float16 is cast after)."""
    return np.dtype(np.float64) if _np(dtype) == np.float64 else np.dtype(np.float32)


def _np(dtype) -> np.dtype:
    return dtypes.as_dtype(dtype).np


class _Random(Op, register=False):
    """A random op of float `dtype` whose output shape is the value of `shape`."""

    inputs = ("shape",)
    attrs = {"dtype": dtypes.float32, "seed": None, "seed2": None}
    stateful = True
    differentiable = False

    def infer(shape, dtype, seed, seed2):
        if not dtypes.as_dtype(dtype).is_floating:
            raise TypeError(f"dtype must be a floating type, got {dtypes.as_dtype(dtype).name}")
        return dtypes.as_dtype(dtype), _output_shape(shape)


def _output_shape(shape: Tensor) -> TensorShape:
    check_dtype(shape, "int", "shape")
    if shape.shape.ndims not in (None, 1):
        raise ValueError(f"shape must be a 1-D tensor, got one of shape {format_shape(shape.shape)}")
    return partial_shape_value(shape)


class RandomStandardNormal(_Random):
    """Samples of the standard normal distribution (mean 0, stddev 1)."""

    def kernel(ctx, shape, dtype, seed, seed2):
        gen = ctx.rng(seed, seed2)
        values = gen.standard_normal(_draw_shape(shape), dtype=_host_dtype(dtype))
        return ctx.xp.asarray(values.astype(_np(dtype), copy=False))


class TruncatedNormal(_Random):
    """Standard normal samples, redrawn until they lie within 2 standard deviations."""

    def kernel(ctx, shape, dtype, seed, seed2):
        gen = ctx.rng(seed, seed2)
        host = _host_dtype(dtype)
        values = gen.standard_normal(_draw_shape(shape), dtype=host)
        outside = np.abs(values) > 2
        while outside.any():
            values[outside] = gen.standard_normal(int(outside.sum()), dtype=host)
            outside = np.abs(values) > 2
        return ctx.xp.asarray(values.astype(_np(dtype), copy=False))


class RandomUniform(_Random):
    """Samples uniform in [0, 1)."""

    def kernel(ctx, shape, dtype, seed, seed2):
        gen = ctx.rng(seed, seed2)
        values = gen.random(_draw_shape(shape), dtype=_host_dtype(dtype)).astype(_np(dtype), copy=False)
        if values.dtype.itemsize < 4:  # rounding to float16 can reach 1.0
            values = np.minimum(values, np.nextafter(values.dtype.type(1), values.dtype.type(0)))
        return ctx.xp.asarray(values)


class RandomUniformInt(Op):
    """Integers uniform in [minval, maxval), of minval's dtype."""

    inputs = ("shape", "minval", "maxval")
    attrs = {"seed": None, "seed2": None}
    same_dtype = ("minval", "maxval")
    stateful = True
    differentiable = False

    def infer(shape, minval, maxval, seed, seed2):
        check_dtype(minval, "int", "minval")
        for t in (minval, maxval):
            if t.shape.ndims not in (None, 0):
                raise ValueError(f"{t.name} must be a scalar, got shape {format_shape(t.shape)}")
        low, high = constant_value(minval), constant_value(maxval)
        if low is not None and high is not None and low >= high:
            raise ValueError(f"Need minval < maxval: {low} >= {high}")
        return minval.dtype, _output_shape(shape)

    def kernel(ctx, shape, minval, maxval, seed, seed2):
        low, high = int(minval), int(maxval)
        if low >= high:
            raise ValueError(f"Need minval < maxval: {low} >= {high}")
        values = ctx.rng(seed, seed2).integers(low, high, _draw_shape(shape), dtype=minval.dtype)
        return ctx.xp.asarray(values)


class RandomShuffle(Op):
    """`value` with its first dimension randomly permuted."""

    inputs = ("value",)
    attrs = {"seed": None, "seed2": None}
    stateful = True
    differentiable = False

    def infer(value, seed, seed2):
        return value.dtype, value.shape

    def kernel(ctx, value, seed, seed2):
        if value.ndim == 0:
            return value
        order = ctx.rng(seed, seed2).permutation(value.shape[0])
        return value[ctx.xp.asarray(order)]


class Multinomial(Op):
    """`num_samples` class indices per row, drawn with probabilities softmax(logits)."""

    inputs = ("logits", "num_samples")
    attrs = {"seed": None, "seed2": None, "output_dtype": dtypes.int64}
    stateful = True
    differentiable = False

    def infer(logits, num_samples, seed, seed2, output_dtype):
        check_dtype(logits, "float", "logits")
        check_dtype(num_samples, "int", "num_samples")
        if logits.shape.ndims not in (None, 2):
            raise ValueError(f"logits must be 2-D [batch, classes], got {format_shape(logits.shape)}")
        n = constant_value(num_samples)
        batch = logits.shape.dims[0] if logits.shape.dims else None
        return dtypes.as_dtype(output_dtype), [batch, None if n is None else int(n)]

    def kernel(ctx, logits, num_samples, seed, seed2, output_dtype):
        gen = ctx.rng(seed, seed2)
        x = _on_host(logits).astype(np.float64)
        batch, classes = x.shape
        cdf = np.cumsum(np.exp(x - x.max(axis=1, keepdims=True)), axis=1)
        cdf /= cdf[:, -1:]
        # one searchsorted for every row: row r's cdf and draws are shifted by r
        rows = np.arange(batch)[:, None]
        draws = gen.random((batch, int(num_samples))) + rows
        index = np.searchsorted((cdf + rows).reshape(-1), draws.reshape(-1), side="right")
        index = index.reshape(draws.shape) - rows * classes
        return ctx.xp.asarray(np.minimum(index, classes - 1).astype(_np(output_dtype)))


def _on_host(x) -> np.ndarray:
    """A numpy copy of a device array (cupy's .get()), or the numpy array itself."""
    return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else np.asarray(x)


# -- public functions -----------------------------------------------------------------------


def _shape_tensor(shape) -> Tensor:
    """A 1-D int shape tensor from a list, TensorShape or tensor."""
    if isinstance(shape, TensorShape):
        if not shape.is_fully_defined():
            raise ValueError(f"shape {format_shape(shape)} must be fully defined")
        shape = shape.as_list()
    if isinstance(shape, list | tuple) and len(shape) == 0:
        shape = np.zeros([0], np.int32)
    return convert_to_tensor(shape, name="shape")


def _seed_attrs(seed) -> dict:
    seed1, seed2 = get_seed(seed)
    return {"seed": seed1, "seed2": seed2}


@api_function("random_normal", "random.normal")
def random_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal samples: `tf.random_normal([784, 256], stddev=0.01, seed=1)`."""
    dtype = dtypes.as_dtype(dtype)
    with name_scope(name, "random_normal", [shape, mean, stddev]) as scope:
        shape = _shape_tensor(shape)
        mean = convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev = convert_to_tensor(stddev, dtype=dtype, name="stddev")
        attrs = {"dtype": dtype, **_seed_attrs(seed)}
        rnd = build("RandomStandardNormal", [shape], attrs, name="RandomStandardNormal")
        return tf.add(tf.multiply(rnd, stddev, name="mul"), mean, name=scope)


@api_function("truncated_normal", "random.truncated_normal")
def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal samples redrawn beyond 2 stddev: `tf.truncated_normal([5, 5, 1, 32], stddev=0.1)`."""
    dtype = dtypes.as_dtype(dtype)
    with name_scope(name, "truncated_normal", [shape, mean, stddev]) as scope:
        shape = _shape_tensor(shape)
        mean = convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev = convert_to_tensor(stddev, dtype=dtype, name="stddev")
        attrs = {"dtype": dtype, **_seed_attrs(seed)}
        rnd = build("TruncatedNormal", [shape], attrs, name="TruncatedNormal")
        return tf.add(tf.multiply(rnd, stddev, name="mul"), mean, name=scope)


def _is_number(value, number) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == number


@api_function("random_uniform", "random.uniform")
def random_uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """Uniform samples in [minval, maxval) (maxval defaults to 1 for floats; ints need it).

    >>> tf.random_uniform([2, 3], -1.0, 1.0, seed=7)
    >>> tf.random_uniform([10], 0, 6, dtype=tf.int32)
    """
    dtype = dtypes.as_dtype(dtype)
    if dtype.is_integer and maxval is None:
        raise ValueError(f"Must specify maxval for integer dtype {dtype!r}")
    if not (dtype.is_integer or dtype.is_floating):
        raise ValueError(f"Invalid dtype {dtype!r} for random_uniform: use a floating or integer dtype")
    maxval = 1 if maxval is None else maxval
    with name_scope(name, "random_uniform", [shape, minval, maxval]) as scope:
        shape = _shape_tensor(shape)
        unit = _is_number(minval, 0) and _is_number(maxval, 1)
        minval = convert_to_tensor(minval, dtype=dtype, name="min")
        maxval = convert_to_tensor(maxval, dtype=dtype, name="max")
        seeds = _seed_attrs(seed)
        if dtype.is_integer:
            return build("RandomUniformInt", [shape, minval, maxval], seeds, name=scope)
        rnd = build("RandomUniform", [shape], {"dtype": dtype, **seeds}, name="RandomUniform")
        if unit:
            return rnd
        return tf.add(tf.multiply(rnd, maxval - minval, name="mul"), minval, name=scope)


@api_function("random_shuffle", "random.shuffle")
def random_shuffle(value, seed=None, name=None):
    """`value` with its first dimension shuffled: `tf.random_shuffle(examples)`."""
    return build("RandomShuffle", [value], _seed_attrs(seed), name=name)


@api_function("multinomial", "random.multinomial")
def multinomial(logits, num_samples, seed=None, name=None, output_dtype=None):
    """Class indices drawn from softmax(logits), per row: [batch, num_samples] int64."""
    attrs = {**_seed_attrs(seed), "output_dtype": dtypes.as_dtype(output_dtype or dtypes.int64)}
    return build("Multinomial", [logits, num_samples], attrs, name=name)


@api_function("random.categorical")
def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """Class indices drawn from softmax(logits), per row: `tf.random.categorical(logits, 1)`."""
    return multinomial(logits, num_samples, seed=seed, name=name, output_dtype=dtype)
