"""`tf.estimator.export`: the serving-input and export-output classes of an EstimatorSpec.

These are checked containers, as in TF: `ServingInputReceiver` pairs the
features a model_fn receives with the tensors a server feeds, and the
ExportOutput classes name what a signature returns. Writing a SavedModel
(`Estimator.export_saved_model`) is not implemented in raygraph yet.
"""

from __future__ import annotations

from typing import NamedTuple

from raygraph import dtypes
from raygraph.graph import Tensor
from raygraph.variables import Variable

__all__ = [
    "ClassificationOutput",
    "ExportOutput",
    "PredictOutput",
    "RegressionOutput",
    "ServingInputReceiver",
]

_NOT_DONE = (
    "raygraph cannot write SavedModels yet: export_saved_model / as_signature_def are not implemented. "
    "Save variables with tf.train.Saver (the Estimator's checkpoints in model_dir) instead."
)


def _tensor_dict(value, default_key: str, what: str) -> dict:
    if not isinstance(value, dict):
        value = {default_key: value}
    for key, tensor in value.items():
        if not isinstance(key, str):
            raise ValueError(f"{what} keys must be strings: {key!r}.")
        if not isinstance(tensor, Tensor | Variable) and not hasattr(tensor, "_fetch_parts"):
            raise ValueError(f"{what} {key!r} must be a Tensor or SparseTensor: {tensor!r}.")
    return value


class ServingInputReceiver(
    NamedTuple(
        "ServingInputReceiver",
        [("features", dict), ("receiver_tensors", dict), ("receiver_tensors_alternatives", object)],
    )
):
    """The features a served model_fn gets and the placeholders a server feeds.

    >>> x = tf.placeholder(tf.float32, [None, 4])
    >>> tf.estimator.export.ServingInputReceiver({"x": x}, {"x": x})
    """

    def __new__(cls, features, receiver_tensors, receiver_tensors_alternatives=None):
        if features is None:
            raise ValueError("features must be defined.")
        features = _tensor_dict(features, "feature", "feature")
        receiver_tensors = _tensor_dict(receiver_tensors, "input", "receiver_tensor")
        if receiver_tensors_alternatives is not None:
            if not isinstance(receiver_tensors_alternatives, dict):
                raise ValueError(
                    f"receiver_tensors_alternatives must be a dict: {receiver_tensors_alternatives}."
                )
            receiver_tensors_alternatives = {
                key: _tensor_dict(value, "input", "receiver_tensor")
                for key, value in receiver_tensors_alternatives.items()
            }
        return super().__new__(cls, features, receiver_tensors, receiver_tensors_alternatives)


class ExportOutput:
    """Base of the outputs a serving signature returns."""

    def as_signature_def(self, receiver_tensors):
        raise NotImplementedError(_NOT_DONE)


class PredictOutput(ExportOutput):
    """Returns arbitrary tensors: a dict {name: tensor} (a single tensor becomes {"output": t})."""

    def __init__(self, outputs):
        self._outputs = _tensor_dict(outputs, "output", "Prediction output")

    @property
    def outputs(self) -> dict:
        return self._outputs


class ClassificationOutput(ExportOutput):
    """Returns class `scores` (float32, [batch, classes]) and/or `classes` (string)."""

    def __init__(self, scores=None, classes=None):
        if scores is not None and not (
            isinstance(scores, Tensor | Variable) and scores.dtype == dtypes.float32
        ):
            raise ValueError(f"Classification scores must be a float32 Tensor; got {scores}")
        if classes is not None and not (
            isinstance(classes, Tensor | Variable) and classes.dtype == dtypes.string
        ):
            raise ValueError(f"Classification classes must be a string Tensor; got {classes}")
        if scores is None and classes is None:
            raise ValueError("At least one of scores and classes must be set.")
        self._scores = scores
        self._classes = classes

    @property
    def scores(self):
        return self._scores

    @property
    def classes(self):
        return self._classes


class RegressionOutput(ExportOutput):
    """Returns a float32 regression `value`."""

    def __init__(self, value):
        if not (isinstance(value, Tensor | Variable) and value.dtype == dtypes.float32):
            raise ValueError(f"Regression output value must be a float32 Tensor; got {value}")
        self._value = value

    @property
    def value(self):
        return self._value


def not_implemented(*args, **kwargs):
    raise NotImplementedError(_NOT_DONE)
