"""Sequence losses and decoders: CTC loss, the greedy CTC decoder, and edit distance.

CTCLoss takes time-major logits [max_time, batch, num_classes] (the last class
is the blank), the labels as a SparseTensor's indices and values, and each
sequence's length. For each batch entry it runs the forward-backward recursion
of Graves et al. (2006) in log space over the label sequence with blanks
interleaved (l' = [blank, l1, blank, l2, ..., blank]):

    alpha[t, u] = log y[t, l'u] + logsumexp(alpha[t-1, u], alpha[t-1, u-1],
                                            alpha[t-1, u-2] if l'u is no blank and
                                            (not ctc_merge_repeated or l'u != l'[u-2]))

and beta the same way backwards (beta excludes y at t). The loss is
-log p(l | x) = -logsumexp(alpha[T-1, L-1], alpha[T-1, L-2]); its gradient with
respect to the logits, y - exp(logsumexp_{u: l'u = k} alpha + beta - log p),
is the op's second output (zero past each sequence's length), which CTCLoss's
gradient scales by the loss's gradient, as TensorFlow's does. The recursions run
in float64 and are cast back to the logits' dtype.

With ctc_merge_repeated=False a repeated label is a new label, so only blank
states may last several steps. Labels are read as TensorFlow reads them: a value
>= num_classes - 1 ends a sequence, an empty sequence is an error, and a
sequence longer than its input raises InvalidArgumentError, or gives a zero loss
and gradient with ignore_longer_outputs_than_inputs. Labels that no path can
produce in time (repeats need blanks between them) give an infinite loss and
the gradient y, as in TensorFlow.

CTCGreedyDecoder takes the most likely class at each step, drops blanks and
(with merge_repeated) repeats, and returns the paths as a SparseTensor's parts
with -sum(max logit) per sequence. EditDistance is the Levenshtein distance
between the sequences of two SparseTensors grouped by all but their last index.
"""

from __future__ import annotations

import numpy as np

from ops import api as tf
from ops.common import check_dtype
from ops.registry import Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, format_shape, unknown_shape


def _invalid(message: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(None, None, message)


def _host(value) -> np.ndarray:
    return np.asarray(value.get() if hasattr(value, "get") and not isinstance(value, np.ndarray) else value)


def _label_sequences(indices, values, batch: int) -> list[list[int]]:
    """The label sequence of each batch entry from a SparseTensor's indices and values."""
    indices, values = _host(indices).reshape(-1, 2), _host(values).reshape(-1)
    order = np.lexsort((indices[:, 1], indices[:, 0]))
    sequences = [[] for _ in range(batch)]
    for i in order:
        b = int(indices[i, 0])
        if not 0 <= b < batch:
            raise _invalid(
                f"labels_indices[{i}] = {indices[i].tolist()}: batch {b} is out of range [0, {batch})"
            )
        sequences[b].append(int(values[i]))
    return sequences


def _collapse(labels: list[int]) -> list[int]:
    return [v for i, v in enumerate(labels) if i == 0 or v != labels[i - 1]]


# -- CTC loss --------------------------------------------------------------------------------------


def _ctc_one(log_y: np.ndarray, labels: list[int], blank: int, merge_repeated: bool):
    """-log p(labels | one sequence) and its gradient wrt the logits, for log_y [T, C]."""
    steps, classes = log_y.shape
    extended = np.full(2 * len(labels) + 1, blank, np.int64)
    extended[1::2] = labels
    size = len(extended)
    stay = np.ones(size, bool)  # may alpha[u] come from alpha[u] (the same state)?
    if not merge_repeated:  # a repeated label is a new label: only blanks last
        stay = extended == blank
    skip = np.zeros(size, bool)  # may alpha[u] come from alpha[u - 2]?
    skip[2:] = extended[2:] != blank
    if merge_repeated:
        skip[2:] &= extended[2:] != extended[:-2]
    ly = log_y[:, extended]  # [T, L]

    alpha = np.full((steps, size), -np.inf)
    alpha[0, : min(2, size)] = ly[0, : min(2, size)]
    for t in range(1, steps):
        prev = alpha[t - 1]
        s = np.where(stay, prev, -np.inf)
        s[1:] = np.logaddexp(s[1:], prev[:-1])
        s[2:] = np.where(skip[2:], np.logaddexp(s[2:], prev[:-2]), s[2:])
        alpha[t] = s + ly[t]

    beta = np.full((steps, size), -np.inf)
    beta[steps - 1, max(0, size - 2) :] = 0.0
    for t in range(steps - 2, -1, -1):
        nxt = beta[t + 1] + ly[t + 1]
        s = np.where(stay, nxt, -np.inf)
        s[:-1] = np.logaddexp(s[:-1], nxt[1:])
        s[:-2] = np.where(skip[2:], np.logaddexp(s[:-2], nxt[2:]), s[:-2])
        beta[t] = s

    log_p = np.logaddexp.reduce(alpha[steps - 1, max(0, size - 2) :])
    if log_p == -np.inf:  # no path gives the labels (too little time): TensorFlow's inf and y
        return np.inf, np.exp(log_y)
    occupancy = np.zeros((steps, classes))
    with np.errstate(under="ignore"):
        np.add.at(occupancy, (slice(None), extended), np.exp(alpha + beta - log_p))
    return -log_p, np.exp(log_y) - occupancy


def _ctc_labels(raw: list[int], b: int, classes: int, collapse: bool) -> list[int]:
    """The labels of batch entry b as TensorFlow reads them: a value >= num_classes - 1 ends them."""
    if not raw:
        raise _invalid(f"Labels length is zero in batch {b}")
    labels, finished = [], False
    for i, v in enumerate(raw):
        if collapse and i and v == raw[i - 1]:
            continue
        if v >= classes - 1:
            finished = True
        elif finished:
            raise _invalid(
                f"Saw a non-null label (index >= num_classes - 1) following a null label, batch: {b} "
                f"num_classes: {classes} labels: {','.join(map(str, raw))}"
            )
        else:
            labels.append(v)
    if any(v < 0 for v in labels):
        raise _invalid(
            f"All labels must be nonnegative integers, batch: {b} labels: {','.join(map(str, labels))}"
        )
    return labels


class CTCLoss(Op):
    """Connectionist temporal classification loss of time-major logits, and its gradient."""

    inputs = ("inputs", "labels_indices", "labels_values", "sequence_length")
    attrs = {
        "preprocess_collapse_repeated": False,
        "ctc_merge_repeated": True,
        "ignore_longer_outputs_than_inputs": False,
    }
    multi_output = True

    def infer(inputs, labels_indices, labels_values, sequence_length, **attrs):
        check_dtype(inputs, "float", "inputs")
        if inputs.shape.ndims not in (None, 3):
            raise ValueError(
                f"inputs must be 3-D [max_time, batch, num_classes], got {format_shape(inputs.shape)}"
            )
        if labels_indices.shape.ndims not in (None, 2) or labels_values.shape.ndims not in (None, 1):
            raise ValueError(
                f"labels must be a SparseTensor of rank 2: indices {format_shape(labels_indices.shape)}, "
                f"values {format_shape(labels_values.shape)}"
            )
        if labels_values.dtype != dtypes.int32 or sequence_length.dtype != dtypes.int32:
            raise TypeError(
                f"labels and sequence_length must be int32, got {labels_values.dtype.name} and "
                f"{sequence_length.dtype.name}"
            )
        batch = inputs.shape.dims[1] if inputs.shape.ndims == 3 else None
        if sequence_length.shape.ndims not in (None, 1) or not sequence_length.shape.is_compatible_with(
            [batch]
        ):
            raise ValueError(
                f"sequence_length must be a vector of the batch size {batch}, got {format_shape(sequence_length.shape)}"
            )
        return [(inputs.dtype, TensorShape([batch])), (inputs.dtype, inputs.shape)]

    def kernel(
        xp,
        inputs,
        labels_indices,
        labels_values,
        sequence_length,
        preprocess_collapse_repeated,
        ctc_merge_repeated,
        ignore_longer_outputs_than_inputs,
    ):
        logits = _host(inputs).astype(np.float64)
        steps, batch, classes = logits.shape
        lengths = _host(sequence_length).reshape(-1)
        if lengths.shape[0] != batch:
            raise _invalid(
                f"len(sequence_length) != batch_size. len(sequence_length): {lengths.shape[0]} batch_size: {batch}"
            )
        shifted = logits - logits.max(axis=2, keepdims=True)
        log_y = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
        loss, grad = np.zeros(batch), np.zeros_like(logits)
        for b, raw in enumerate(_label_sequences(labels_indices, labels_values, batch)):
            length = int(lengths[b])
            if not 0 <= length <= steps:
                raise _invalid(f"seq_len({b}) < 0" if length < 0 else f"seq_len({b}) > num_time_steps")
            labels = _ctc_labels(raw, b, classes, preprocess_collapse_repeated)
            if len(raw) > length and not ignore_longer_outputs_than_inputs:
                raise _invalid(
                    f"Not enough time for target transition sequence (required: {len(raw)}, available: "
                    f"{length}){b}You can turn this error into a warning by using the flag "
                    "ignore_longer_outputs_than_inputs"
                )
            if length == 0 or len(raw) > length:  # a zero loss and gradient, as TensorFlow gives
                continue
            loss[b], grad[:length, b] = _ctc_one(log_y[:length, b], labels, classes - 1, ctc_merge_repeated)
        dtype = _host(inputs).dtype
        return [xp.asarray(loss.astype(dtype)), xp.asarray(grad.astype(dtype))]

    def grad(op, dloss, _dgrad):
        scale = tf.reshape(dloss, [1, -1, 1])
        return [scale * tf.stop_gradient(op.outputs[1]), None, None, None]


@api_function("nn.ctc_loss")
def ctc_loss(
    labels,
    inputs=None,
    sequence_length=None,
    preprocess_collapse_repeated=False,
    ctc_merge_repeated=True,
    ignore_longer_outputs_than_inputs=False,
    time_major=True,
    logits=None,
):
    """CTC loss per sequence: -log p(labels | inputs), the blank being the last class.

    >>> loss = tf.nn.ctc_loss(labels_sparse, logits, seq_len)   # logits [max_time, batch, classes]
    >>> tf.reduce_mean(loss)

    `labels` is an int32 SparseTensor [batch, max_label_length] with values in
    [0, num_classes - 1); `inputs` (or `logits`) are unnormalized log
    probabilities, time-major unless time_major=False; `sequence_length` the
    int32 length of each sequence.
    """
    from ops.sparse import SparseTensor, SparseTensorValue

    if isinstance(labels, SparseTensorValue):
        labels = SparseTensor.from_value(labels)
    if not isinstance(labels, SparseTensor):
        raise TypeError("Expected labels (first argument) to be a SparseTensor")
    if (inputs is None) == (logits is None):
        raise ValueError("ctc_loss takes exactly one of inputs and logits")
    inputs = convert_to_tensor(inputs if logits is None else logits, name="inputs")
    if sequence_length is None:
        raise ValueError("ctc_loss needs sequence_length")
    with name_scope(None, "CTCLoss", [inputs, sequence_length]):
        if not time_major:
            inputs = tf.transpose(inputs, [1, 0, 2])
        values = labels.values if labels.dtype == dtypes.int32 else tf.cast(labels.values, dtypes.int32)
        loss, _ = build(
            "CTCLoss",
            [
                inputs,
                labels.indices,
                values,
                convert_to_tensor(sequence_length, dtypes.int32, name="sequence_length"),
            ],
            {
                "preprocess_collapse_repeated": bool(preprocess_collapse_repeated),
                "ctc_merge_repeated": bool(ctc_merge_repeated),
                "ignore_longer_outputs_than_inputs": bool(ignore_longer_outputs_than_inputs),
            },
        )
        return loss


# -- greedy decoder --------------------------------------------------------------------------------


class CTCGreedyDecoder(Op):
    """The best path of each sequence (blanks and, with merge_repeated, repeats dropped)."""

    inputs = ("inputs", "sequence_length")
    attrs = {"merge_repeated": True}
    multi_output = True
    differentiable = False

    def infer(inputs, sequence_length, merge_repeated):
        check_dtype(inputs, "float", "inputs")
        if inputs.shape.ndims not in (None, 3):
            raise ValueError(
                f"inputs must be 3-D [max_time, batch, num_classes], got {format_shape(inputs.shape)}"
            )
        batch = inputs.shape.dims[1] if inputs.shape.ndims == 3 else None
        return [
            (dtypes.int64, TensorShape([None, 2])),
            (dtypes.int64, TensorShape([None])),
            (dtypes.int64, TensorShape([2])),
            (inputs.dtype, TensorShape([batch, 1])),
        ]

    def kernel(xp, inputs, sequence_length, merge_repeated):
        logits = _host(inputs)
        steps, batch, classes = logits.shape
        lengths = _host(sequence_length).reshape(-1)
        best = logits.argmax(axis=2)
        paths, scores = [], np.zeros((batch, 1), logits.dtype)
        for b in range(batch):
            length = int(lengths[b])
            if not 0 <= length <= steps:
                raise _invalid(f"sequence_length({b}) <= {steps}, got {length}")
            path, previous = [], -1
            for t in range(length):
                k = int(best[t, b])
                if k != classes - 1 and not (merge_repeated and k == previous):
                    path.append(k)
                previous = k
            scores[b, 0] = -logits[:length, b].max(axis=1).sum()
            paths.append(path)
        indices = np.array([(b, j) for b, path in enumerate(paths) for j in range(len(path))], np.int64)
        values = np.array([k for path in paths for k in path], np.int64)
        shape = np.array([batch, max((len(p) for p in paths), default=0)], np.int64)
        return [indices.reshape(-1, 2), values, shape, xp.asarray(scores)]


@api_function("nn.ctc_greedy_decoder")
def ctc_greedy_decoder(inputs, sequence_length, merge_repeated=True):
    """Greedy (best path) CTC decoding: `(decoded, neg_sum_logits) = tf.nn.ctc_greedy_decoder(logits, seq_len)`.

    `decoded` is a list of one int64 SparseTensor [batch, max_decoded_length];
    `neg_sum_logits` [batch, 1] is minus the sum of each step's largest logit.
    """
    from ops.sparse import SparseTensor

    inputs = convert_to_tensor(inputs, name="inputs")
    sequence_length = convert_to_tensor(sequence_length, dtypes.int32, name="sequence_length")
    indices, values, shape, log_probabilities = build(
        "CTCGreedyDecoder", [inputs, sequence_length], {"merge_repeated": bool(merge_repeated)}
    )
    return [SparseTensor(indices, values, shape)], log_probabilities


# -- edit distance ---------------------------------------------------------------------------------


class EditDistance(Op):
    """Levenshtein distances between the sequences of two SparseTensors (grouped by all but the last index)."""

    inputs = (
        "hypothesis_indices",
        "hypothesis_values",
        "hypothesis_shape",
        "truth_indices",
        "truth_values",
        "truth_shape",
    )
    attrs = {"normalize": True}
    differentiable = False

    def infer(
        hypothesis_indices,
        hypothesis_values,
        hypothesis_shape,
        truth_indices,
        truth_values,
        truth_shape,
        normalize,
    ):
        if hypothesis_values.dtype != truth_values.dtype:
            raise TypeError(
                f"hypothesis and truth must have one dtype, got {hypothesis_values.dtype.name} and "
                f"{truth_values.dtype.name}"
            )
        rank = None
        for shape in (hypothesis_shape, truth_shape):
            if shape.shape.ndims == 1 and shape.shape.dims[0] is not None:
                rank = shape.shape.dims[0]
        return dtypes.float32, unknown_shape(None if rank is None else rank - 1)

    def kernel(
        xp,
        hypothesis_indices,
        hypothesis_values,
        hypothesis_shape,
        truth_indices,
        truth_values,
        truth_shape,
        normalize,
    ):
        hyp_shape, truth_shape_ = _host(hypothesis_shape).reshape(-1), _host(truth_shape).reshape(-1)
        if hyp_shape.shape != truth_shape_.shape:
            raise _invalid(
                f"hypothesis and truth must have one rank, got {hyp_shape.shape[0]} and {truth_shape_.shape[0]}"
            )
        hyp = _groups(hypothesis_indices, hypothesis_values, hyp_shape.shape[0])
        truth = _groups(truth_indices, truth_values, truth_shape_.shape[0])
        out = np.zeros(np.maximum(hyp_shape[:-1], truth_shape_[:-1]).astype(np.int64), np.float32)
        for key in set(hyp) | set(truth):
            h, t = hyp.get(key, []), truth.get(key, [])
            distance = _levenshtein(h, t)
            if normalize:
                distance = distance / len(t) if t else (np.inf if h else 0.0)
            out[key] = distance
        return xp.asarray(out)


def _groups(indices, values, rank: int) -> dict:
    indices, values = _host(indices).reshape(-1, rank), _host(values).reshape(-1)
    order = np.lexsort(indices.T[::-1]) if len(indices) else []
    groups: dict = {}
    for i in order:
        groups.setdefault(tuple(int(v) for v in indices[i, :-1]), []).append(values[i])
    return groups


def _levenshtein(a: list, b: list) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


@api_function("edit_distance")
def edit_distance(hypothesis, truth, normalize=True, name="edit_distance"):
    """Levenshtein distance between the sequences of two SparseTensors, by all but their last index.

    >>> tf.edit_distance(decoded[0], tf.cast(labels, tf.int64))   # [batch] float32

    With `normalize`, divided by the truth's length (inf where the truth is
    empty and the hypothesis not).
    """
    from ops.sparse import SparseTensor, SparseTensorValue

    parts = []
    for what, sp in (("hypothesis", hypothesis), ("truth", truth)):
        if isinstance(sp, SparseTensorValue):
            sp = SparseTensor.from_value(sp)
        if not isinstance(sp, SparseTensor):
            raise TypeError(f"{what} must be a SparseTensor, got {type(sp).__name__}")
        parts += [sp.indices, sp.values, sp.dense_shape]
    return build("EditDistance", parts, {"normalize": bool(normalize)}, name=name)
