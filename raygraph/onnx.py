"""Export a trained graph's inference part as an ONNX model, for ONNX Runtime on mobile, web and C++.

    import raygraph.onnx
    raygraph.onnx.export(sess, "digits.onnx", inputs={"images": images}, outputs={"probs": probs})
    raygraph.onnx.export("export/1", "digits.onnx")      # a SavedModel: its serving signature

    import onnxruntime
    probs = onnxruntime.InferenceSession("digits.onnx").run(None, {"images": batch})[0]

How it works:
- The ops between `inputs` and `outputs` are collected. Those whose value does not
  depend on an input (variables, their reads, constants, shape arithmetic) are
  computed once with `sess.run` and become initializers: the model holds the
  session's current weights, and training-only ops never appear.
- Every other op is translated by a rule of `RULES` ({op type: function}) into
  ONNX nodes (opset `OPSET`). TensorFlow's NHWC convolutions and pools become
  ONNX's NCHW ones between two Transposes; a Conv2D filter (HWIO) is transposed to
  OIHW when it is a constant. An op without a rule raises NotImplementedError
  naming it and its type; rules refuse attrs they cannot express the same way.
- The model is built with the `onnx` package's helpers and checked with
  `onnx.checker.check_model` before it is written.

Needs the optional dependencies: `pip install raygraph[onnx]` (onnx; onnxruntime to run).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import numpy as np

from raygraph.graph import Operation, Tensor

OPSET = 17

_NHWC_TO_NCHW = [0, 3, 1, 2]
_NCHW_TO_NHWC = [0, 2, 3, 1]


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("raygraph.onnx needs the onnx package: pip install 'raygraph[onnx]'") from None
    return onnx


def export(
    sess_or_dir, path, inputs=None, outputs=None, opset: int = OPSET, tags=("serve",), signature_key=None
):
    """Writes the graph from `inputs` to `outputs` as an ONNX model at `path`; returns the ModelProto.

    `sess_or_dir` is a Session (its graph and current variable values) or a
    SavedModel directory (loaded with `tags`; inputs and outputs default to its
    signature `signature_key`, "serving_default"). `inputs` and `outputs` are
    dicts {ONNX name: tensor or tensor name} or lists of tensors (named after
    their ops). Raises NotImplementedError for an op with no ONNX mapping.
    """
    onnx = _onnx()
    if isinstance(sess_or_dir, str | os.PathLike):
        return _export_saved_model(os.fspath(sess_or_dir), path, inputs, outputs, opset, tags, signature_key)
    sess = sess_or_dir
    graph = sess.graph
    inputs = _named(graph, inputs, "inputs")
    outputs = _named(graph, outputs, "outputs")
    model = _Converter(sess, inputs, outputs).model(opset)
    onnx.checker.check_model(model)
    onnx.save(model, os.fspath(path))
    return model


def _export_saved_model(export_dir, path, inputs, outputs, opset, tags, signature_key):
    from raygraph.graph import Graph
    from raygraph.saved_model import loader, signature_constants
    from raygraph.session import Session

    with Session("local", graph=Graph()) as sess:
        meta = loader.load(sess, list(tags), export_dir)
        sig = meta.signature_def[signature_key or signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
        inputs = inputs or {k: v.name for k, v in sig.inputs.items()}
        outputs = outputs or {k: v.name for k, v in sig.outputs.items()}
        return export(sess, path, inputs, outputs, opset)


def _named(graph, tensors, what: str) -> dict[str, Tensor]:
    if not tensors:
        raise ValueError(f"raygraph.onnx.export needs {what}")
    if isinstance(tensors, Mapping):
        return {str(k): graph.as_graph_element(v, allow_operation=False) for k, v in tensors.items()}
    out = {}
    for t in tensors:
        t = graph.as_graph_element(t, allow_operation=False)
        out[t.op.name if t.value_index == 0 else t.name] = t
    return out


class _Converter:
    """The state of one export: ONNX nodes, initializers, and the name of each tensor's value."""

    def __init__(self, sess, inputs: dict[str, Tensor], outputs: dict[str, Tensor]):
        self.sess = sess
        self.inputs = inputs
        self.outputs = outputs
        self.nodes: list = []
        self.initializers: list = []
        self.names: dict[Tensor, str] = {t: name for name, t in inputs.items()}
        self.constants: dict[Tensor, np.ndarray] = {}
        self._count = 0

    # -- which ops: those between the inputs and the outputs --
    def model(self, opset: int):
        onnx = _onnx()
        ops = self._ops_to_convert()
        for op in ops:
            rule = RULES.get(op.type)
            if rule is None:
                raise NotImplementedError(
                    f"{op.describe()} has no ONNX mapping in raygraph.onnx (op type {op.type!r}); the ops "
                    f"with one are {sorted(RULES)}"
                )
            results = rule(self, op)
            for t, name in zip(op.outputs, results if isinstance(results, list) else [results]):
                self.names[t] = name
        graph_outputs = []
        for name, t in self.outputs.items():
            self.nodes.append(
                onnx.helper.make_node("Identity", [self.value(t)], [name], name=f"output/{name}")
            )
            graph_outputs.append(_value_info(name, t))
        graph = onnx.helper.make_graph(
            self.nodes,
            "raygraph",
            [_value_info(name, t) for name, t in self.inputs.items()],
            graph_outputs,
            self.initializers,
        )
        return onnx.helper.make_model(
            graph, opset_imports=[onnx.helper.make_opsetid("", opset)], producer_name="raygraph"
        )

    def _ops_to_convert(self) -> list[Operation]:
        """Ops that depend on an input, in creation order; the others' needed values are folded."""
        needed, stack = set(), [t.op for t in self.outputs.values()]
        input_ops = {t.op for t in self.inputs.values()}
        while stack:
            op = stack.pop()
            if op in needed or op in input_ops:
                continue
            needed.add(op)
            stack.extend(t.op for t in op.inputs)
        live = set(input_ops)
        for op in sorted(needed, key=lambda o: o.creation_order):
            if any(t.op in live for t in op.inputs):
                live.add(op)
        folded = [t for op in needed - live for t in op.outputs if any(c in live for c in t.consumers())]
        folded += [t for t in self.outputs.values() if t.op not in live and t not in self.inputs.values()]
        self._fold(folded)
        return sorted((live - input_ops) & needed, key=lambda o: o.creation_order)

    def _fold(self, tensors: list[Tensor]) -> None:
        for t in tensors:
            if t.op.type == "Placeholder":
                raise ValueError(
                    f"The outputs depend on placeholder {t.name!r}, which is not one of the inputs "
                    f"{sorted(self.inputs)}"
                )
        values = self.sess.run(tensors) if tensors else []
        for t, v in zip(tensors, values):
            self.constants[t] = np.asarray(v, dtype=t.dtype.np)

    # -- helpers for the rules --
    def value(self, t: Tensor) -> str:
        """The ONNX name of `t`'s value (an initializer for a folded one)."""
        if t in self.names:
            return self.names[t]
        if t in self.constants:
            return self.constant(self.constants[t], t.name)
        raise AssertionError(f"no ONNX value for {t.name}")

    def constant(self, array: np.ndarray, hint: str) -> str:
        onnx = _onnx()
        name = self.fresh(hint)
        self.initializers.append(onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}__{self._count}"

    def node(self, op_type: str, inputs: list[str], hint: str, **attrs) -> str:
        out = self.fresh(hint)
        self.nodes.append(_onnx().helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def const_input(self, op: Operation, index: int) -> np.ndarray:
        t = op.inputs[index]
        if t not in self.constants:
            raise NotImplementedError(
                f"{op.describe()}: raygraph.onnx needs input {index} ({t.name}) to be a constant, "
                "but it depends on the model's inputs"
            )
        return self.constants[t]


def _value_info(name: str, t: Tensor):
    onnx = _onnx()
    dims = None if t.shape.dims is None else [d if d is not None else None for d in t.shape.as_list()]
    return onnx.helper.make_tensor_value_info(name, _onnx_dtype(t.dtype), dims)


def _onnx_dtype(dtype) -> int:
    onnx = _onnx()
    if dtype.name == "string":
        return onnx.TensorProto.STRING
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype.np))


# -- the rules: one function per op type, returning the ONNX name of each output ----------------

Rule = Callable[[_Converter, Operation], "str | list[str]"]
RULES: dict[str, Rule] = {}


def _rule(*types: str):
    def register(fn):
        for t in types:
            RULES[t] = fn
        return fn

    return register


def _same(onnx_type: str) -> Rule:
    def rule(c: _Converter, op: Operation) -> str:
        return c.node(onnx_type, [c.value(t) for t in op.inputs], op.name)

    return rule


for _tf, _ox in {
    "Identity": "Identity",
    "StopGradient": "Identity",
    "Add": "Add",
    "AddV2": "Add",
    "Sub": "Sub",
    "Mul": "Mul",
    "RealDiv": "Div",
    "Maximum": "Max",
    "Minimum": "Min",
    "Relu": "Relu",
    "Sigmoid": "Sigmoid",
    "Tanh": "Tanh",
    "Exp": "Exp",
    "Log": "Log",
    "Sqrt": "Sqrt",
    "Neg": "Neg",
    "Abs": "Abs",
    "Reciprocal": "Reciprocal",
    "Floor": "Floor",
    "Ceil": "Ceil",
}.items():
    RULES[_tf] = _same(_ox)


@_rule("BiasAdd")
def _bias_add(c: _Converter, op: Operation) -> str:
    if op.attrs.get("data_format", "NHWC") not in ("NHWC", "N...C"):
        raise NotImplementedError(f"{op.describe()}: raygraph.onnx exports BiasAdd in NHWC only")
    return c.node("Add", [c.value(op.inputs[0]), c.value(op.inputs[1])], op.name)


@_rule("Relu6")
def _relu6(c: _Converter, op: Operation) -> str:
    dtype = op.inputs[0].dtype.np
    lo, hi = c.constant(np.array(0, dtype), "zero"), c.constant(np.array(6, dtype), "six")
    return c.node("Clip", [c.value(op.inputs[0]), lo, hi], op.name)


@_rule("Square")
def _square(c: _Converter, op: Operation) -> str:
    x = c.value(op.inputs[0])
    return c.node("Mul", [x, x], op.name)


@_rule("Rsqrt")
def _rsqrt(c: _Converter, op: Operation) -> str:
    return c.node("Reciprocal", [c.node("Sqrt", [c.value(op.inputs[0])], op.name)], op.name)


@_rule("MatMul")
def _matmul(c: _Converter, op: Operation) -> str:
    a, b = (c.value(t) for t in op.inputs)
    if op.attrs.get("transpose_a"):
        a = c.node("Transpose", [a], op.name, perm=[1, 0])
    if op.attrs.get("transpose_b"):
        b = c.node("Transpose", [b], op.name, perm=[1, 0])
    return c.node("MatMul", [a, b], op.name)


@_rule("Softmax", "LogSoftmax")
def _softmax(c: _Converter, op: Operation) -> str:
    return c.node(op.type, [c.value(op.inputs[0])], op.name, axis=int(op.attrs.get("axis", -1)))


@_rule("Cast")
def _cast(c: _Converter, op: Operation) -> str:
    return c.node("Cast", [c.value(op.inputs[0])], op.name, to=_onnx_dtype(op.outputs[0].dtype))


@_rule("ArgMax", "ArgMin")
def _argmax(c: _Converter, op: Operation) -> str:
    out = c.node(op.type, [c.value(op.inputs[0])], op.name, axis=int(op.attrs["axis"]), keepdims=0)
    if op.outputs[0].dtype.name != "int64":
        out = c.node("Cast", [out], op.name, to=_onnx_dtype(op.outputs[0].dtype))
    return out


@_rule("Reshape")
def _reshape(c: _Converter, op: Operation) -> str:
    if op.inputs[1] in c.constants:
        shape = c.constants[op.inputs[1]].astype(np.int64)
    else:  # a shape computed from the input (tf.shape(x)[0]): the static shape, with -1 for one unknown
        dims = op.outputs[0].shape.as_list() if op.outputs[0].shape.dims is not None else None
        if dims is None or sum(d is None for d in dims) > 1:
            raise NotImplementedError(f"{op.describe()}: its shape depends on the input and is not static")
        shape = np.array([-1 if d is None else d for d in dims], np.int64)
    return c.node("Reshape", [c.value(op.inputs[0]), c.constant(shape, op.name + "/shape")], op.name)


def _reduce_rule(onnx_type: str, axes_as_input: bool) -> Rule:
    def rule(c: _Converter, op: Operation) -> str:
        axis = op.attrs.get("axis")
        rank = op.inputs[0].shape.ndims
        if axis is None:
            if rank is None:
                raise NotImplementedError(f"{op.describe()}: reducing all axes of an input of unknown rank")
            axes = list(range(rank))
        else:
            axes = [int(a) for a in (axis if isinstance(axis, list | tuple | np.ndarray) else [axis])]
        keep = int(bool(op.attrs.get("keepdims", False)))
        x = c.value(op.inputs[0])
        if axes_as_input:
            return c.node(
                onnx_type,
                [x, c.constant(np.array(axes, np.int64), op.name + "/axes")],
                op.name,
                keepdims=keep,
            )
        return c.node(onnx_type, [x], op.name, axes=axes, keepdims=keep)

    return rule


RULES["Sum"] = _reduce_rule("ReduceSum", True)
RULES["Mean"] = _reduce_rule("ReduceMean", False)
RULES["Max"] = _reduce_rule("ReduceMax", False)
RULES["Min"] = _reduce_rule("ReduceMin", False)


def _nhwc(op: Operation, name: str) -> None:
    if op.attrs.get("data_format", "NHWC") != "NHWC":
        raise NotImplementedError(f"{op.describe()}: raygraph.onnx exports {name} in NHWC only")


def _auto_pad(op: Operation) -> str:
    padding = op.attrs["padding"]
    padding = padding.decode() if isinstance(padding, bytes) else padding
    if padding == "SAME":
        return "SAME_UPPER"  # TensorFlow pads the extra row/column at the end, as SAME_UPPER does
    if padding == "VALID":
        return "VALID"
    raise NotImplementedError(f"{op.describe()}: padding {padding!r} has no ONNX mapping")


@_rule("Conv2D")
def _conv2d(c: _Converter, op: Operation) -> str:
    _nhwc(op, "Conv2D")
    x = c.node("Transpose", [c.value(op.inputs[0])], op.name + "/to_nchw", perm=_NHWC_TO_NCHW)
    w = op.inputs[1]
    if w in c.constants:  # HWIO -> OIHW, done here
        kernel = c.constant(np.transpose(c.constants[w], [3, 2, 0, 1]), op.name + "/kernel")
    else:
        kernel = c.node("Transpose", [c.value(w)], op.name + "/kernel", perm=[3, 2, 0, 1])
    strides, dilations = op.attrs["strides"], op.attrs.get("dilations", (1, 1, 1, 1))
    y = c.node(
        "Conv",
        [x, kernel],
        op.name,
        auto_pad=_auto_pad(op),
        strides=[int(strides[1]), int(strides[2])],
        dilations=[int(dilations[1]), int(dilations[2])],
    )
    return c.node("Transpose", [y], op.name + "/to_nhwc", perm=_NCHW_TO_NHWC)


@_rule("MaxPool", "AvgPool")
def _pool(c: _Converter, op: Operation) -> str:
    _nhwc(op, op.type)
    ksize, strides = op.attrs["ksize"], op.attrs["strides"]
    x = c.node("Transpose", [c.value(op.inputs[0])], op.name + "/to_nchw", perm=_NHWC_TO_NCHW)
    onnx_type = "MaxPool" if op.type == "MaxPool" else "AveragePool"
    y = c.node(
        onnx_type,
        [x],
        op.name,
        auto_pad=_auto_pad(op),
        kernel_shape=[int(ksize[1]), int(ksize[2])],
        strides=[int(strides[1]), int(strides[2])],
    )
    return c.node("Transpose", [y], op.name + "/to_nhwc", perm=_NCHW_TO_NHWC)


# Dropout on an inference graph: tf.layers.dropout(training=<a placeholder with default False>)
# draws its mask even when the rate folds to 0, so its Shape, RandomUniform and Less are exported
# as they are (every mask element is then 1 and the output exact).


@_rule("Shape")
def _shape(c: _Converter, op: Operation) -> str:
    out = c.node("Shape", [c.value(op.inputs[0])], op.name)
    if op.outputs[0].dtype.name != "int64":
        out = c.node("Cast", [out], op.name + "/cast", to=_onnx_dtype(op.outputs[0].dtype))
    return out


@_rule("RandomUniform")
def _random_uniform(c: _Converter, op: Operation) -> str:
    """Uniform in [0, 1) of a run-time shape: RandomUniformLike over ConstantOfShape's zeros."""
    shape = c.node("Cast", [c.value(op.inputs[0])], op.name + "/shape", to=_onnx().TensorProto.INT64)
    zeros = c.node("ConstantOfShape", [shape], op.name + "/zeros")
    return c.node(
        "RandomUniformLike", [zeros], op.name, dtype=_onnx_dtype(op.outputs[0].dtype), low=0.0, high=1.0
    )


RULES["Less"] = _same("Less")
