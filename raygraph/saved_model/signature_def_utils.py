"""`tf.saved_model.signature_def_utils`: SignatureDefs, the named inputs and outputs of a model.

>>> sig = tf.saved_model.signature_def_utils.predict_signature_def(
...     inputs={"images": images}, outputs={"scores": scores})
>>> sig.method_name, sig.inputs["images"].name
('tensorflow/serving/predict', 'images:0')

SignatureDef is TensorFlow's proto (tensorboard.compat.proto.meta_graph_pb2);
the checks and messages are TensorFlow's.
"""

from __future__ import annotations

from tensorboard.compat.proto import meta_graph_pb2, types_pb2

from raygraph.graph import Operation, Tensor
from raygraph.saved_model import signature_constants as sc
from raygraph.saved_model import utils

__all__ = [
    "build_signature_def",
    "classification_signature_def",
    "is_valid_signature",
    "predict_signature_def",
    "regression_signature_def",
]


def build_signature_def(
    inputs=None, outputs=None, method_name=None, defaults=None
) -> meta_graph_pb2.SignatureDef:
    """A SignatureDef from {key: TensorInfo} inputs and outputs and a method name.

    `defaults` maps input names to Const tensors whose values become the defaults.
    """
    signature_def = meta_graph_pb2.SignatureDef()
    for key, info in (inputs or {}).items():
        signature_def.inputs[key].CopyFrom(info)
    for key, info in (outputs or {}).items():
        signature_def.outputs[key].CopyFrom(info)
    if method_name is not None:
        signature_def.method_name = method_name
    for key, default in (defaults or {}).items():
        if not isinstance(default, Tensor) or default.op.type != "Const":
            raise ValueError(f"Unable to convert object {default} of type {type(default)} to TensorProto.")
        from tensorboard.util import tensor_util

        signature_def.defaults[key].CopyFrom(tensor_util.make_tensor_proto(default.op.get_attr("value")))
    return signature_def


def predict_signature_def(inputs, outputs) -> meta_graph_pb2.SignatureDef:
    """A Predict signature: {name: tensor} inputs and outputs, any dtypes."""
    if not inputs:
        raise ValueError("Prediction `inputs` cannot be None or empty.")
    if not outputs:
        raise ValueError("Prediction `outputs` cannot be None or empty.")
    return build_signature_def(
        {k: utils.build_tensor_info(t) for k, t in inputs.items()},
        {k: utils.build_tensor_info(t) for k, t in outputs.items()},
        sc.PREDICT_METHOD_NAME,
    )


def regression_signature_def(examples, predictions) -> meta_graph_pb2.SignatureDef:
    """A Regress signature: a string tensor of serialized tf.Examples in, a float tensor out."""
    if examples is None:
        raise ValueError("Regression `examples` cannot be None.")
    if not isinstance(examples, Tensor):
        raise ValueError(
            f"Expected regression `examples` to be of type Tensor. Found `examples` of type {type(examples)}."
        )
    if predictions is None:
        raise ValueError("Regression `predictions` cannot be None.")
    inputs = utils.build_tensor_info(examples)
    if inputs.dtype != types_pb2.DT_STRING:
        raise ValueError(
            f"Regression input tensors must be of type string. Found tensors with type {inputs.dtype}."
        )
    output = utils.build_tensor_info(predictions)
    if output.dtype != types_pb2.DT_FLOAT:
        raise ValueError(
            f"Regression output tensors must be of type float. Found tensors with type {output.dtype}."
        )
    return build_signature_def(
        {sc.REGRESS_INPUTS: inputs}, {sc.REGRESS_OUTPUTS: output}, sc.REGRESS_METHOD_NAME
    )


def classification_signature_def(examples, classes, scores) -> meta_graph_pb2.SignatureDef:
    """A Classify signature: serialized tf.Examples in; string `classes` and/or float `scores` out."""
    if examples is None:
        raise ValueError("Classification `examples` cannot be None.")
    if not isinstance(examples, Tensor):
        raise ValueError(
            f"Classification `examples` must be a string Tensor. Found `examples` of type {type(examples)}."
        )
    if classes is None and scores is None:
        raise ValueError("Classification `classes` and `scores` cannot both be None.")
    inputs = utils.build_tensor_info(examples)
    if inputs.dtype != types_pb2.DT_STRING:
        raise ValueError(
            f"Classification input tensors must be of type string. Found tensors of type {inputs.dtype}"
        )
    outputs = {}
    if classes is not None:
        info = utils.build_tensor_info(classes)
        if info.dtype != types_pb2.DT_STRING:
            raise ValueError(
                f"Classification classes must be of type string Tensor. Found tensors of type {info.dtype}."
            )
        outputs[sc.CLASSIFY_OUTPUT_CLASSES] = info
    if scores is not None:
        info = utils.build_tensor_info(scores)
        if info.dtype != types_pb2.DT_FLOAT:
            raise ValueError("Classification scores must be a float Tensor.")
        outputs[sc.CLASSIFY_OUTPUT_SCORES] = info
    return build_signature_def({sc.CLASSIFY_INPUTS: inputs}, outputs, sc.CLASSIFY_METHOD_NAME)


def is_valid_signature(signature_def) -> bool:
    """Whether a SignatureDef has a method name and, for the serving methods, their keys and dtypes."""
    if signature_def is None or not signature_def.method_name:
        return False
    method = signature_def.method_name
    if method == sc.PREDICT_METHOD_NAME:
        return bool(signature_def.inputs) and bool(signature_def.outputs)
    if method == sc.REGRESS_METHOD_NAME:
        return (
            set(signature_def.inputs) == {sc.REGRESS_INPUTS}
            and set(signature_def.outputs) == {sc.REGRESS_OUTPUTS}
            and signature_def.inputs[sc.REGRESS_INPUTS].dtype == types_pb2.DT_STRING
            and signature_def.outputs[sc.REGRESS_OUTPUTS].dtype == types_pb2.DT_FLOAT
        )
    if method == sc.CLASSIFY_METHOD_NAME:
        outs = set(signature_def.outputs)
        return (
            set(signature_def.inputs) == {sc.CLASSIFY_INPUTS}
            and signature_def.inputs[sc.CLASSIFY_INPUTS].dtype == types_pb2.DT_STRING
            and bool(outs)
            and outs <= {sc.CLASSIFY_OUTPUT_CLASSES, sc.CLASSIFY_OUTPUT_SCORES}
        )
    return True


def op_signature_def(op, key: str) -> meta_graph_pb2.SignatureDef:
    """A signature whose one output names an op (TensorFlow stores init and train ops this way)."""
    if not isinstance(op, Operation):
        op = op.op
    return build_signature_def(outputs={key: meta_graph_pb2.TensorInfo(name=op.name)})
