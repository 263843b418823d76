"""Candidate sampling: the tf.nn.*_candidate_sampler ops, compute_accidental_hits,
nce_loss and sampled_softmax_loss.

A sampler draws `num_sampled` class ids from a fixed distribution P over
[0, range_max) and reports, for the true classes and for each sampled one, the
expected number of times it would be drawn ("expected count"):
- unique=False: num_sampled draws with replacement; expected count num_sampled * p;
- unique=True: draws repeat until num_sampled distinct ids are seen, after
  `tries` draws in all; expected count 1 - (1 - p) ** tries (p * tries when no
  draw was repeated), as TensorFlow's RangeSampler computes it.
The samplers are stateful ops: they draw from the session's generator for the
node (`ctx.rng(seed, seed2)`, see ops/random.py), so their values differ from
TensorFlow's (a different generator) while their distributions agree. Each
sampler's kernel draws on the host with numpy and hands the arrays to `ctx.xp`.

The sampled losses are composites, built as TensorFlow builds them: the true and
sampled classes' weights and biases are looked up (embedding_lookup, so
partitioned weights work), their logits computed, accidental hits (a sampled id
equal to one of the row's true ids) pushed to -FLT_MAX when asked, and log of
the expected counts subtracted ("log Q"); then a sigmoid (NCE) or softmax
cross-entropy against labels 1 / num_true for the true columns and 0 for the
sampled ones. Passing `sampled_values` makes them deterministic.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops.common import check_dtype
from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.shapes import format_shape

FLOAT32_MAX = float(np.finfo(np.float32).max)


# -- the distributions ----------------------------------------------------------------------


class _Uniform:
    def __init__(self, range_max: int):
        self.range_max = range_max

    def probability(self, ids: np.ndarray) -> np.ndarray:
        return np.full(ids.shape, 1.0 / self.range_max)

    def draw(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return gen.integers(0, self.range_max, n)


class _LogUniform:
    """Zipf-like: P(k) = log((k + 2) / (k + 1)) / log(range_max + 1)."""

    def __init__(self, range_max: int):
        self.range_max = range_max
        self.log_range = np.log(range_max + 1.0)

    def probability(self, ids: np.ndarray) -> np.ndarray:
        ids = ids.astype(np.float64)
        return np.log((ids + 2.0) / (ids + 1.0)) / self.log_range

    def draw(self, gen: np.random.Generator, n: int) -> np.ndarray:
        values = np.floor(np.exp(gen.random(n) * self.log_range)).astype(np.int64) - 1
        return np.clip(values, 0, self.range_max - 1)


class _Weighted:
    """P(k) proportional to weights[k] (fixed_unigram's distorted counts)."""

    def __init__(self, weights: np.ndarray):
        self.p = weights / weights.sum()
        self.cdf = np.cumsum(self.p)

    def probability(self, ids: np.ndarray) -> np.ndarray:
        inside = (ids >= 0) & (ids < len(self.p))
        return np.where(inside, self.p[np.clip(ids, 0, len(self.p) - 1)], 0.0)

    def draw(self, gen: np.random.Generator, n: int) -> np.ndarray:
        index = np.searchsorted(self.cdf, gen.random(n) * self.cdf[-1], side="right")
        return np.minimum(index, len(self.p) - 1)


def _expected_count(p: np.ndarray, num_sampled: int, tries: int, unique: bool) -> np.ndarray:
    if not unique or tries == num_sampled:
        return p * num_sampled if not unique else p * tries
    return -np.expm1(tries * np.log1p(-p))


def _draw_unique(dist, gen, num_sampled: int) -> tuple[np.ndarray, int]:
    """num_sampled distinct ids in order of first appearance, and how many draws that took."""
    seen: dict[int, None] = {}
    tries = 0
    while len(seen) < num_sampled:
        for value in dist.draw(gen, max(2 * (num_sampled - len(seen)), 16)).tolist():
            tries += 1
            if value not in seen:
                seen[value] = None
                if len(seen) == num_sampled:
                    break
    return np.fromiter(seen, dtype=np.int64, count=num_sampled), tries


def _sample(ctx, dist, true_classes, num_sampled: int, unique: bool, seed, seed2):
    gen = ctx.rng(seed, seed2)
    if unique:
        sampled, tries = _draw_unique(dist, gen, num_sampled)
    else:
        sampled, tries = dist.draw(gen, num_sampled).astype(np.int64), num_sampled
    true = _on_host(true_classes).astype(np.int64)
    true_count = _expected_count(dist.probability(true), num_sampled, tries, unique)
    sampled_count = _expected_count(dist.probability(sampled), num_sampled, tries, unique)
    xp = ctx.xp
    return [
        xp.asarray(sampled),
        xp.asarray(true_count.astype(np.float32)),
        xp.asarray(sampled_count.astype(np.float32)),
    ]


def _on_host(x) -> np.ndarray:
    return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else np.asarray(x)


# -- sampler ops -------------------------------------------------------------------------------

SAMPLER_ATTRS = {"num_true": 1, "num_sampled": 1, "unique": True, "range_max": 1, "seed": None, "seed2": None}


class _CandidateSampler(Op, register=False):
    """Outputs (sampled_candidates [num_sampled] int64, true_expected_count [batch, num_true],
    sampled_expected_count [num_sampled]), both counts float32."""

    inputs = ("true_classes",)
    stateful = True
    multi_output = True
    differentiable = False

    def infer(true_classes, num_true, num_sampled, unique, **attrs):
        check_dtype(true_classes, "int", "true_classes")
        shape = true_classes.shape
        if shape.ndims not in (None, 2):
            raise ValueError(f"true_classes must be 2-D [batch, num_true], got {format_shape(shape)}")
        if shape.dims is not None and shape.dims[1] not in (None, num_true):
            raise ValueError(f"true_classes {format_shape(shape)} must have num_true={num_true} columns")
        range_max = attrs.get("range_max")
        if unique and range_max is not None and num_sampled > range_max:
            raise ValueError(
                f"With unique=True, num_sampled ({num_sampled}) must be <= range_max ({range_max})"
            )
        batch = shape.dims[0] if shape.dims is not None else None
        return [
            (dtypes.int64, [num_sampled]),
            (dtypes.float32, [batch, num_true]),
            (dtypes.float32, [num_sampled]),
        ]


class UniformCandidateSampler(_CandidateSampler):
    """Samples classes uniformly from [0, range_max)."""

    attrs = SAMPLER_ATTRS

    def kernel(ctx, true_classes, num_true, num_sampled, unique, range_max, seed, seed2):
        return _sample(ctx, _Uniform(range_max), true_classes, num_sampled, unique, seed, seed2)


class LogUniformCandidateSampler(_CandidateSampler):
    """Samples classes from the log-uniform (Zipfian) distribution over [0, range_max)."""

    attrs = SAMPLER_ATTRS

    def kernel(ctx, true_classes, num_true, num_sampled, unique, range_max, seed, seed2):
        return _sample(ctx, _LogUniform(range_max), true_classes, num_sampled, unique, seed, seed2)


class FixedUnigramCandidateSampler(_CandidateSampler):
    """Samples classes with probability proportional to unigram counts ** distortion."""

    attrs = {
        **SAMPLER_ATTRS,
        "vocab_file": "",
        "distortion": 1.0,
        "num_reserved_ids": 0,
        "num_shards": 1,
        "shard": 0,
        "unigrams": (),
    }

    def kernel(ctx, true_classes, num_true, num_sampled, unique, range_max, seed, seed2, **unigram):
        weights = _unigram_weights(range_max=range_max, **unigram)
        return _sample(ctx, _Weighted(weights), true_classes, num_sampled, unique, seed, seed2)


def _unigram_weights(range_max, vocab_file, distortion, num_reserved_ids, num_shards, shard, unigrams):
    """The sampling weights of fixed_unigram: reserved ids weigh 0, then counts ** distortion,
    keeping the ids of this shard (id % num_shards == shard)."""
    if vocab_file:
        with open(vocab_file) as f:
            counts = [float(line.strip().split(",")[-1]) for line in f if line.strip()]
    else:
        counts = [float(c) for c in unigrams]
    weights = np.concatenate(
        [np.zeros(num_reserved_ids), np.power(np.asarray(counts, np.float64), distortion)]
    )
    if len(weights) != range_max:
        raise ValueError(
            f"fixed_unigram_candidate_sampler: num_reserved_ids + the unigram counts make {len(weights)} "
            f"ids, expected range_max={range_max}"
        )
    return weights[shard::num_shards]


class AllCandidateSampler(_CandidateSampler):
    """'Samples' every class 0..num_sampled-1, each with expected count 1 (for evaluation)."""

    attrs = {k: v for k, v in SAMPLER_ATTRS.items() if k != "range_max"}

    def kernel(ctx, true_classes, num_true, num_sampled, unique, seed, seed2):
        xp = ctx.xp
        return [
            xp.arange(num_sampled, dtype=np.int64),
            xp.ones(true_classes.shape, dtype=np.float32),
            xp.ones(num_sampled, dtype=np.float32),
        ]


def _sampler_call(op_type, true_classes, num_true, num_sampled, unique, seed, name, **attrs):
    from ops.random import get_seed

    seed1, seed2 = get_seed(seed)
    attrs = {
        "num_true": int(num_true),
        "num_sampled": int(num_sampled),
        "unique": bool(unique),
        "seed": seed1,
        "seed2": seed2,
        **attrs,
    }
    true_classes = convert_to_tensor(true_classes, name="true_classes")
    return tuple(build(op_type, [true_classes], attrs, name=name or op_type))


@api_function("nn.uniform_candidate_sampler", "random.uniform_candidate_sampler")
def uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None):
    """Class ids drawn uniformly from [0, range_max), and the expected counts.

    >>> sampled, true_count, sampled_count = tf.nn.uniform_candidate_sampler(labels, 1, 64, True, vocab)
    """
    return _sampler_call(
        "UniformCandidateSampler",
        true_classes,
        num_true,
        num_sampled,
        unique,
        seed,
        name,
        range_max=int(range_max),
    )


@api_function("nn.log_uniform_candidate_sampler", "random.log_uniform_candidate_sampler")
def log_uniform_candidate_sampler(
    true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None
):
    """Class ids drawn from the log-uniform distribution (for ids sorted by falling frequency)."""
    return _sampler_call(
        "LogUniformCandidateSampler",
        true_classes,
        num_true,
        num_sampled,
        unique,
        seed,
        name,
        range_max=int(range_max),
    )


@api_function("nn.fixed_unigram_candidate_sampler", "random.fixed_unigram_candidate_sampler")
def fixed_unigram_candidate_sampler(
    true_classes,
    num_true,
    num_sampled,
    unique,
    range_max,
    vocab_file="",
    distortion=1.0,
    num_reserved_ids=0,
    num_shards=1,
    shard=0,
    unigrams=(),
    seed=None,
    name=None,
):
    """Class ids drawn with probability proportional to count ** distortion (counts from
    `unigrams` or the last comma-separated column of `vocab_file`)."""
    if bool(vocab_file) == bool(len(unigrams)):
        raise ValueError("fixed_unigram_candidate_sampler needs exactly one of vocab_file and unigrams")
    return _sampler_call(
        "FixedUnigramCandidateSampler",
        true_classes,
        num_true,
        num_sampled,
        unique,
        seed,
        name,
        range_max=int(range_max),
        vocab_file=str(vocab_file),
        distortion=float(distortion),
        num_reserved_ids=int(num_reserved_ids),
        num_shards=int(num_shards),
        shard=int(shard),
        unigrams=tuple(float(u) for u in unigrams),
    )


@api_function("nn.all_candidate_sampler", "random.all_candidate_sampler")
def all_candidate_sampler(true_classes, num_true, num_sampled, unique, seed=None, name=None):
    """Every class id 0..num_sampled-1, with expected counts 1."""
    return _sampler_call("AllCandidateSampler", true_classes, num_true, num_sampled, unique, seed, name)


# -- accidental hits --------------------------------------------------------------------------


class ComputeAccidentalHits(Op):
    """Where a sampled id equals one of its row's true ids: (row indices int32, positions
    in sampled_candidates int64, weights -FLT_MAX), one entry per true id that hits."""

    inputs = ("true_classes", "sampled_candidates")
    attrs = {"num_true": 1, "seed": None, "seed2": None}
    multi_output = True
    differentiable = False

    def infer(true_classes, sampled_candidates, num_true, seed, seed2):
        check_dtype(true_classes, "int", "true_classes")
        check_dtype(sampled_candidates, "int", "sampled_candidates")
        if true_classes.shape.ndims not in (None, 2):
            raise ValueError(f"true_classes must be 2-D, got {format_shape(true_classes.shape)}")
        if sampled_candidates.shape.ndims not in (None, 1):
            raise ValueError(f"sampled_candidates must be 1-D, got {format_shape(sampled_candidates.shape)}")
        return [(dtypes.int32, [None]), (dtypes.int64, [None]), (dtypes.float32, [None])]

    def kernel(xp, true_classes, sampled_candidates, num_true, seed, seed2):
        # [batch, num_true, num_sampled]: one entry per true id (a repeated true id repeats it)
        rows, _, positions = xp.nonzero(sampled_candidates[None, None, :] == true_classes[:, :, None])
        weights = xp.full(rows.shape, -FLOAT32_MAX, dtype=np.float32)
        return [rows.astype(np.int32), positions.astype(np.int64), weights]


@api_function("nn.compute_accidental_hits", "random.compute_accidental_hits")
def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None, name=None):
    """(indices, ids, weights) of the sampled candidates that are true classes of a row.

    Adding the -FLT_MAX weights at (indices, ids) to sampled logits removes those hits.
    """
    attrs = {"num_true": int(num_true), "seed": seed, "seed2": None}
    with name_scope(name, "ComputeAccidentalHits", [true_classes, sampled_candidates]) as scope:
        true_classes = convert_to_tensor(true_classes, name="true_classes")
        sampled = convert_to_tensor(sampled_candidates, name="sampled_candidates")
        return tuple(build("ComputeAccidentalHits", [true_classes, sampled], attrs, name=scope))


# -- sampled losses ------------------------------------------------------------------------------


def _sampled_logits(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true,
    sampled_values,
    subtract_log_q,
    remove_accidental_hits,
    partition_strategy,
    seed,
):
    """(logits [batch, num_true + num_sampled], labels of the same shape), as TensorFlow builds them."""
    labels = convert_to_tensor(labels, name="labels")
    if labels.dtype != dtypes.int64:
        labels = tf.cast(labels, dtypes.int64)
    if labels.shape.ndims not in (None, 2):
        raise ValueError(f"labels must be 2-D [batch, num_true], got {format_shape(labels.shape)}")
    if sampled_values is None:
        sampled_values = log_uniform_candidate_sampler(
            true_classes=labels,
            num_true=num_true,
            num_sampled=num_sampled,
            unique=True,
            range_max=num_classes,
            seed=seed,
        )
    sampled, true_count, sampled_count = (tf.stop_gradient(convert_to_tensor(s)) for s in sampled_values)
    sampled = tf.cast(sampled, dtypes.int64) if sampled.dtype != dtypes.int64 else sampled
    inputs = convert_to_tensor(inputs, name="inputs")
    true_w = tf.nn.embedding_lookup(weights, tf.reshape(labels, [-1]), partition_strategy=partition_strategy)
    sampled_w = tf.nn.embedding_lookup(weights, sampled, partition_strategy=partition_strategy)
    true_b = tf.nn.embedding_lookup(biases, labels, partition_strategy=partition_strategy)
    sampled_b = tf.nn.embedding_lookup(biases, sampled, partition_strategy=partition_strategy)
    if true_w.dtype != inputs.dtype:
        true_w, sampled_w = tf.cast(true_w, inputs.dtype), tf.cast(sampled_w, inputs.dtype)
    dim = inputs.shape.dims[-1] if inputs.shape.dims is not None else None
    true_w = tf.reshape(true_w, [-1, int(num_true), dim if dim is not None else -1])
    true_logits = tf.reduce_sum(tf.expand_dims(inputs, 1) * true_w, 2) + tf.cast(true_b, inputs.dtype)
    sampled_logits = tf.matmul(inputs, sampled_w, transpose_b=True) + tf.cast(sampled_b, inputs.dtype)
    if remove_accidental_hits:
        rows, positions, hit_weights = compute_accidental_hits(labels, sampled, num_true=num_true)
        # the hit weights (-FLT_MAX) added once where any true id hits (TensorFlow's sparse_to_dense
        # keeps one of repeated entries; summing them would overflow to -inf)
        where = tf.stack([rows, tf.cast(positions, dtypes.int32)], 1)
        counts = tf.scatter_nd(where, tf.ones_like(hit_weights), tf.shape(sampled_logits))
        hit = tf.cast(tf.greater(counts, tf.zeros_like(counts)), sampled_logits.dtype)
        sampled_logits += hit * tf.constant(-FLOAT32_MAX, sampled_logits.dtype)
    if subtract_log_q:
        true_logits -= tf.log(tf.cast(true_count, true_logits.dtype))
        sampled_logits -= tf.log(tf.cast(sampled_count, sampled_logits.dtype))
    logits = tf.concat([true_logits, sampled_logits], 1)
    targets = tf.concat([tf.ones_like(true_logits) / float(num_true), tf.zeros_like(sampled_logits)], 1)
    return logits, targets


@api_function("nn.nce_loss")
def nce_loss(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    remove_accidental_hits=False,
    partition_strategy="mod",
    name="nce_loss",
):
    """Noise-contrastive estimation loss per example ([batch]), over num_sampled negative classes.

    >>> loss = tf.reduce_mean(tf.nn.nce_loss(nce_w, nce_b, labels=targets, inputs=embed,
    ...                                      num_sampled=64, num_classes=vocab_size))
    """
    with name_scope(name, "nce_loss", [inputs, labels]):
        logits, targets = _sampled_logits(
            weights,
            biases,
            labels,
            inputs,
            num_sampled,
            num_classes,
            num_true,
            sampled_values,
            True,
            remove_accidental_hits,
            partition_strategy,
            None,
        )
        losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits, name="sampled_losses")
        return tf.reduce_sum(losses, 1)


@api_function("nn.sampled_softmax_loss")
def sampled_softmax_loss(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    remove_accidental_hits=True,
    partition_strategy="mod",
    name="sampled_softmax_loss",
    seed=None,
):
    """Softmax cross-entropy per example ([batch]) over the true and num_sampled sampled classes.

    >>> loss = tf.nn.sampled_softmax_loss(w, b, labels=next_words, inputs=h,
    ...                                   num_sampled=512, num_classes=vocab_size)
    """
    with name_scope(name, "sampled_softmax_loss", [inputs, labels]):
        logits, targets = _sampled_logits(
            weights,
            biases,
            labels,
            inputs,
            num_sampled,
            num_classes,
            num_true,
            sampled_values,
            True,
            remove_accidental_hits,
            partition_strategy,
            seed,
        )
        return tf.nn.softmax_cross_entropy_with_logits_v2(labels=tf.stop_gradient(targets), logits=logits)
