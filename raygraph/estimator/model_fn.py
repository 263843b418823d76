"""`tf.estimator.ModeKeys` and `tf.estimator.EstimatorSpec`: what a model_fn returns.

EstimatorSpec checks at construction what each mode needs (TRAIN: loss and
train_op; EVAL: loss; PREDICT: predictions), that the loss is a scalar (a
one-element loss is reshaped to a scalar), that eval_metric_ops are
(value, update_op) pairs and that hooks are SessionRunHooks.
"""

from __future__ import annotations

from typing import NamedTuple

from raygraph.estimator import export as _export
from raygraph.graph import Operation, Tensor
from raygraph.train.monitored_session import Scaffold
from raygraph.train.session_run_hook import SessionRunHook
from raygraph.variables import Variable

__all__ = ["EstimatorSpec", "ModeKeys"]


class ModeKeys:
    """The three modes of an Estimator's model_fn: "train", "eval" and "infer"."""

    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"


def _is_tensor(value) -> bool:
    return isinstance(value, Tensor | Variable)


def _check_hooks(hooks, what: str) -> tuple:
    hooks = tuple(hooks or ())
    for hook in hooks:
        if not isinstance(hook, SessionRunHook):
            raise TypeError(f"All hooks must be SessionRunHook instances, given: {hook!r} in {what}")
    return hooks


def _check_loss(loss):
    if loss is None:
        return None
    if not _is_tensor(loss):
        raise TypeError(f"loss must be Tensor, given: {loss!r}")
    shape = loss.shape
    if shape.ndims is not None and shape.is_fully_defined() and shape.num_elements() != 1:
        raise ValueError(f"Loss must be scalar, given: {loss}")
    if shape.ndims not in (0, None):
        from ops import api

        loss = api.reshape(loss, [])
    return loss


def _check_predictions(predictions):
    if predictions is None:
        return None
    if isinstance(predictions, dict):
        for key, value in predictions.items():
            if not _is_tensor(value):
                raise TypeError(f"predictions[{key!r}] must be Tensor, given: {value!r}")
    elif not _is_tensor(predictions):
        raise TypeError(f"predictions must be Tensor or dict of Tensor, given: {predictions!r}")
    return predictions


def _check_metric_ops(eval_metric_ops) -> dict:
    ops = dict(eval_metric_ops or {})
    for key, pair in ops.items():
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise TypeError(
                f"Values of eval_metric_ops must be (metric_value, update_op) tuples, given: {pair!r} for key: {key}"
            )
        value, update = pair
        if not _is_tensor(value) or not isinstance(update, Tensor | Operation | Variable):
            raise TypeError(
                f"Values of eval_metric_ops must be (metric_value, update_op) tuples of Tensors/Operations, "
                f"given: {pair!r} for key: {key}"
            )
    return ops


class EstimatorSpec(
    NamedTuple(
        "EstimatorSpec",
        [
            ("mode", str),
            ("predictions", object),
            ("loss", object),
            ("train_op", object),
            ("eval_metric_ops", dict),
            ("export_outputs", object),
            ("training_chief_hooks", tuple),
            ("training_hooks", tuple),
            ("scaffold", object),
            ("evaluation_hooks", tuple),
            ("prediction_hooks", tuple),
        ],
    )
):
    """What a model_fn returns: the ops an Estimator runs in one mode.

    >>> def model_fn(features, labels, mode):
    ...     logits = tf.layers.dense(features["x"], 3)
    ...     if mode == tf.estimator.ModeKeys.PREDICT:
    ...         return tf.estimator.EstimatorSpec(mode, predictions={"class": tf.argmax(logits, 1)})
    ...     loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    ...     train_op = tf.train.AdamOptimizer().minimize(loss, tf.train.get_global_step())
    ...     return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)
    """

    def __new__(
        cls,
        mode,
        predictions=None,
        loss=None,
        train_op=None,
        eval_metric_ops=None,
        export_outputs=None,
        training_chief_hooks=None,
        training_hooks=None,
        scaffold=None,
        evaluation_hooks=None,
        prediction_hooks=None,
    ):
        if mode not in (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT):
            raise ValueError(f"mode={mode!r} unrecognized: use tf.estimator.ModeKeys.TRAIN, EVAL or PREDICT")
        if mode == ModeKeys.TRAIN and train_op is None:
            raise ValueError("Missing train_op.")
        if mode in (ModeKeys.TRAIN, ModeKeys.EVAL) and loss is None:
            raise ValueError("Missing loss.")
        if mode == ModeKeys.PREDICT and predictions is None:
            raise ValueError("Missing predictions.")
        if train_op is not None and not isinstance(train_op, Tensor | Operation | Variable):
            raise TypeError(f"train_op must be Operation or Tensor, given: {train_op!r}")
        if scaffold is not None and not isinstance(scaffold, Scaffold):
            raise TypeError(f"scaffold must be tf.train.Scaffold. Given: {scaffold!r}")
        predictions = _check_predictions(predictions)
        if mode == ModeKeys.PREDICT and export_outputs is None:
            export_outputs = {"serving_default": _export.PredictOutput(predictions)}
        if export_outputs is not None:
            export_outputs = dict(export_outputs)
            for key, value in export_outputs.items():
                if not isinstance(value, _export.ExportOutput):
                    raise TypeError(
                        f"Values in export_outputs must be ExportOutput objects. Given: {key}: {value!r}"
                    )
        return super().__new__(
            cls,
            mode=mode,
            predictions=predictions,
            loss=_check_loss(loss),
            train_op=train_op,
            eval_metric_ops=_check_metric_ops(eval_metric_ops),
            export_outputs=export_outputs,
            training_chief_hooks=_check_hooks(training_chief_hooks, "training_chief_hooks"),
            training_hooks=_check_hooks(training_hooks, "training_hooks"),
            scaffold=scaffold or Scaffold(),
            evaluation_hooks=_check_hooks(evaluation_hooks, "evaluation_hooks"),
            prediction_hooks=_check_hooks(prediction_hooks, "prediction_hooks"),
        )

    def _replace(self, **kwargs):
        return EstimatorSpec(**{**self._asdict(), **kwargs})
