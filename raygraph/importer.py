"""`tf.import_graph_def`: the ops of a GraphDef rebuilt in the default graph.

    with tf.Graph().as_default():
        y, = tf.import_graph_def(graph_def, input_map={"x:0": my_x}, return_elements=["y:0"])

How it works:
- The NodeDefs are put in topological order (a GraphDef need not be in one; a
  cycle is a ValueError). Op types raygraph lacks, and control-flow ops, fail
  before any op is added, so a failed import leaves the graph as it was, except
  when an op's own shape check fails half-way (as in TensorFlow).
- Each NodeDef becomes one `Graph.create_op`: its inputs are the tensors already
  imported (or those `input_map` substitutes), its control inputs become control
  dependencies, its attrs are decoded by `graph_def.python_value` against the op
  declaration's defaults. Attrs the declaration does not hold (TF's "T",
  "_output_shapes") are dropped; the op's shape function recomputes them.
- Names get the prefix `name` ("import/" by default, none for name=""); a name
  already taken in the graph gets a _N suffix, as TF's importer does. Devices are
  kept; "_class" colocation groups are mapped to the imported names.

GraphDefs written by TensorFlow import when their op types are raygraph's. A few
TF ops take as an input tensor what raygraph's op holds as an attr (the axes of
Sum, Transpose's perm, ConcatV2's axis): `_TF_INPUT_ATTRS` reads those from their
Const inputs; a non-constant one is a ValueError naming the node. Old op names map
to raygraph's (`_TF_LEGACY`: Add is AddV2). Control flow (raygraph's If and While,
whose sub-graphs a GraphDef does not carry, and TF's Switch/Merge/Enter... loops)
raises NotImplementedError naming the node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from tensorboard.compat.proto import graph_pb2

from ops import registry
from ops.common import normalize_axis, reduction_axes
from raygraph import graph_def as gd
from raygraph.graph import Operation, Tensor, get_default_graph

__all__ = ["import_graph_def"]

CONTROL_FLOW_OPS = frozenset(
    {"If", "While", "IfGrad", "WhileGrad", "StatelessIf", "StatelessWhile", "PartitionedCall"}
    | {"StatefulPartitionedCall", "Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond"}
    | {"RefSwitch", "RefMerge", "RefEnter", "RefExit", "RefNextIteration"}
)
"""Op types that hold or make up sub-graphs: a GraphDef of raygraph's does not carry
their functions, and TF's v1 loops are cycles raygraph does not run."""

_TF_LEGACY = {"Add": "AddV2", "BiasAddV1": "BiasAdd", "Variable": "VariableV2", "Concat": "ConcatV2"}
_TF_LEGACY.update(BatchMatMul="MatMul", BatchMatMulV2="MatMul", BatchMatMulV3="MatMul")

_TF_ATTR_NAMES = {
    "keep_dims": "keepdims",
    "squeeze_dims": "axis",
    "adj_x": "transpose_a",
    "adj_y": "transpose_b",
}
"""TF's attr names where raygraph's op calls the attr otherwise."""


def _int(value: np.ndarray, _rank) -> int:
    return int(np.reshape(value, []))


def _ints(value: np.ndarray, _rank) -> tuple[int, ...]:
    return tuple(int(v) for v in np.reshape(value, [-1]))


def _axes(value: np.ndarray, rank) -> tuple[int, ...] | None:
    return reduction_axes(value.tolist(), rank)


def _split_axis(value: np.ndarray, rank) -> int:
    axis = _int(value, rank)
    return axis if rank is None else normalize_axis(axis, rank)


# {TF op type: {TF input index (negative: from the end): (raygraph attr, convert(value, rank of input 0))}}
_TF_INPUT_ATTRS: dict[str, dict[int, tuple[str, Callable]]] = {
    **{op: {1: ("axis", _axes)} for op in ("Sum", "Mean", "Max", "Min", "Prod", "All", "Any")},
    **{op: {1: ("axis", _int)} for op in ("ArgMax", "ArgMin", "Cumsum", "Cumprod", "ExpandDims")},
    "ConcatV2": {-1: ("axis", _int)},
    "GatherV2": {2: ("axis", _int)},
    "ReverseV2": {1: ("axis", _ints)},
    "Transpose": {1: ("perm", _ints)},
    "Split": {0: ("axis", _split_axis)},
    "SplitV": {2: ("axis", _split_axis)},
}
_TF_LEGACY_INPUT_ATTRS = {"Concat": {0: ("axis", _int)}}


def import_graph_def(
    graph_def,
    input_map: Mapping | None = None,
    return_elements=None,
    name: str | None = None,
    op_dict=None,
    producer_op_list=None,
):
    """Imports the ops of a GraphDef into the default graph (TensorFlow 1.x `tf.import_graph_def`).

    >>> graph_def = tf.GraphDef()
    >>> graph_def.ParseFromString(open("model.pb", "rb").read())
    >>> logits, = tf.import_graph_def(graph_def, input_map={"x": images},
    ...                               return_elements=["logits:0"], name="model")

    `input_map` maps tensor names of the GraphDef ("x:0"; "x" means "x:0") to
    tensors of the default graph used in their place, and "^x" to an Operation
    that replaces a control input. `return_elements` names tensors ("y:0") and
    operations ("train") to return, as the imported objects, in order; None
    returns None. `name` prefixes every imported name ("import" if None; "" for
    none). `op_dict` and `producer_op_list` are accepted for compatibility.
    """
    imported = import_nodes(as_graph_def_proto(graph_def), input_map, "import" if name is None else name)
    if return_elements is None:
        return None
    return [returned_element(imported, e) for e in return_elements]


def import_nodes(graph_def: graph_pb2.GraphDef, input_map: Mapping | None, name: str) -> dict[str, Operation]:
    """Imports the nodes under the scope `name` ("": none); returns {node name: its new Operation}."""
    graph = get_default_graph()
    input_map = _normalized_input_map(graph, input_map or {})
    nodes = _ordered(graph_def)
    unused = set(input_map)
    with graph.name_scope(None):
        prefix = graph.unique_name(name) + "/" if name else ""
        imported: dict[str, Operation] = {}
        for node in nodes:
            imported[node.name] = _import_node(graph, node, prefix, imported, input_map, unused)
    if unused:
        raise ValueError(
            f"Attempted to map inputs that were not found in graph_def: [{', '.join(sorted(unused))}]"
        )
    return imported


def as_graph_def_proto(graph_def) -> graph_pb2.GraphDef:
    """`graph_def` as raygraph's GraphDef class (TensorFlow's own GraphDef is re-read); TypeError if not one."""
    if isinstance(graph_def, graph_pb2.GraphDef):
        return graph_def
    descriptor = getattr(graph_def, "DESCRIPTOR", None)
    if descriptor is not None and descriptor.full_name in ("tensorflow.GraphDef", "tensorboard.GraphDef"):
        return graph_pb2.GraphDef.FromString(graph_def.SerializeToString())
    raise TypeError(f"graph_def must be a GraphDef proto, got {type(graph_def).__name__}")


def _normalized_input_map(graph, input_map: Mapping) -> dict[str, object]:
    out = {}
    for key, value in input_map.items():
        if not isinstance(key, str):
            raise TypeError(f"input_map keys must be strings, got {key!r}")
        if key.startswith("^"):
            element = graph.as_graph_element(value, allow_tensor=False, allow_operation=True)
        else:
            element = graph.as_graph_element(value, allow_tensor=True, allow_operation=False)
            key = key if ":" in key else f"{key}:0"
        out[key] = element
    return out


def _ordered(graph_def) -> list:
    """The nodes in a topological order, as close to the given one as possible."""
    by_name = {}
    for node in graph_def.node:
        if node.name in by_name:
            raise ValueError(f"Duplicate node name in graph: '{node.name}'")
        by_name[node.name] = node
        _check_supported(node)
    order, state = [], {}  # state: 1 while visiting, 2 when done
    for root in graph_def.node:
        stack = [(root, iter(_source_names(root)))]
        if state.get(root.name):
            continue
        state[root.name] = 1
        while stack:
            node, sources = stack[-1]
            source = next(sources, None)
            if source is None:
                stack.pop()
                state[node.name] = 2
                order.append(node)
                continue
            if source not in by_name:
                raise ValueError(f"Node '{node.name}': Unknown input node '{source}'")
            if state.get(source) == 1:
                raise ValueError(
                    f"The GraphDef has a cycle through node '{source}'; raygraph imports only acyclic graphs"
                )
            if not state.get(source):
                state[source] = 1
                stack.append((by_name[source], iter(_source_names(by_name[source]))))
    return order


def _source_names(node) -> list[str]:
    return [_split_input(i)[0] for i in node.input]


def _split_input(text: str) -> tuple[str, int | None]:
    """("x", 0) for "x" and "x:0", ("x", 1) for "x:1", ("x", None) for the control input "^x"."""
    if text.startswith("^"):
        return text[1:], None
    name, sep, index = text.rpartition(":")
    if sep and index.isdigit():
        return name, int(index)
    return text, 0


def _check_supported(node) -> None:
    if node.op in CONTROL_FLOW_OPS:
        raise NotImplementedError(
            f"import_graph_def cannot rebuild node '{node.name}' of type {node.op}: control-flow ops "
            "(tf.cond, tf.while_loop) hold sub-graphs that raygraph does not write to or read from a GraphDef"
        )
    op_type = _TF_LEGACY.get(node.op, node.op)
    if op_type not in registry.registered_ops():
        raise ValueError(f"Op type not registered '{node.op}' (node '{node.name}'): raygraph has no such op")


def _import_node(graph, node, prefix, imported, input_map, unused) -> Operation:
    op_def = registry.get(_TF_LEGACY.get(node.op, node.op))
    data, control = [], []
    for text in node.input:
        source, index = _split_input(text)
        key = f"^{source}" if index is None else f"{source}:{index}"
        if key in input_map:
            unused.discard(key)
            element = input_map[key]
        elif index is None:
            element = imported[source]
        else:
            element = _output(imported[source], index, node)
        (control if index is None else data).append(element)
    attrs = _attrs(node, op_def)
    data = _inputs_as_attrs(node, op_def, data, attrs)
    inputs = _grouped(node, op_def, data)
    op_name = prefix + node.name
    if op_name in graph._by_name:
        op_name = graph.unique_name(op_name)
    with graph.control_dependencies(control):
        op = graph.create_op(op_def.type, inputs, attrs, name=op_name + "/")
    if node.device:
        op.device = node.device
    groups = [s.decode()[len("loc:@") :] for s in node.attr["_class"].list.s if s.startswith(b"loc:@")]
    if groups:
        op.colocation_groups = [prefix + g for g in groups]
    return op


def _output(op: Operation, index: int, node) -> Tensor:
    if index >= len(op.outputs):
        raise ValueError(
            f"Node '{node.name}': input refers to output {index} of '{op.name}' ({op.type}), "
            f"which has {len(op.outputs)} outputs"
        )
    return op.outputs[index]


def _attrs(node, op_def) -> dict:
    attrs = {}
    for key, value in node.attr.items():
        key = _TF_ATTR_NAMES.get(key, key)
        if key in op_def.attrs:
            default = op_def.attrs[key]
            attrs[key] = gd.python_value(value, None if default is registry.REQUIRED else default)
    return attrs


def _inputs_as_attrs(node, op_def, data: list, attrs: dict) -> list:
    """TF's inputs that raygraph's op holds as attrs, read from their Const producers."""
    table = _TF_LEGACY_INPUT_ATTRS.get(node.op) or _TF_INPUT_ATTRS.get(node.op)
    if not table or not _written_by_tf(node, op_def, data):
        return data
    positions = {i % len(data): spec for i, spec in table.items()}
    rank_source = data[1] if node.op == "Split" else data[0]
    kept = []
    for i, tensor in enumerate(data):
        if i in positions:
            attr, convert = positions[i]
            attrs[attr] = convert(_static_value(tensor, node, attr), rank_source.shape.ndims)
        else:
            kept.append(tensor)
    return kept


def _written_by_tf(node, op_def, data: list) -> bool:
    """Whether a node of a type in _TF_INPUT_ATTRS has TF's inputs rather than raygraph's."""
    if any(name.endswith("*") for name in op_def.inputs):  # ConcatV2: raygraph's always has its axis attr
        return node.op == "Concat" or "axis" not in node.attr
    return len(data) > len(op_def.inputs)


def _static_value(tensor: Tensor, node, attr: str) -> np.ndarray:
    from ops.common import constant_value

    value = constant_value(tensor)
    if value is None:
        raise ValueError(
            f"Node '{node.name}' ({node.op}): raygraph needs its {attr} when the graph is built, but input "
            f"{tensor.name} is computed at run time (only a constant works)"
        )
    return np.asarray(value)


def _grouped(node, op_def, data: list) -> list:
    """The flat inputs grouped per declared input (a list input takes a list)."""
    declared = op_def.inputs
    lists = [i for i, n in enumerate(declared) if n.endswith("*")]
    if not lists:
        if len(data) != len(declared):
            raise ValueError(
                f"Node '{node.name}' ({node.op}) has {len(data)} inputs; raygraph's {op_def.type} takes "
                f"{len(declared)} ({', '.join(declared)})"
            )
        return data
    if "_input_arity" in node.attr:
        arity = list(node.attr["_input_arity"].list.i)
    else:
        arity = [1] * len(declared)
        arity[lists[0]] = len(data) - (len(declared) - 1)
    if len(arity) != len(declared) or sum(arity) != len(data) or min(arity) < 0:
        raise ValueError(f"Node '{node.name}' ({node.op}): cannot match {len(data)} inputs to {declared}")
    grouped, at = [], 0
    for name, n in zip(declared, arity):
        grouped.append(data[at : at + n] if name.endswith("*") else data[at])
        at += n
    return grouped


def returned_element(imported: dict, name: str):
    """The imported Tensor ("y:0") or Operation ("y") a name of the GraphDef refers to."""
    if not isinstance(name, str):
        raise TypeError(f"return_elements must be names, got {name!r}")
    op_name, index = _split_input(name)
    op = imported.get(op_name)
    if op is None:
        raise ValueError(f"Requested return_element {name!r} not found in graph_def.")
    if ":" in name:
        return _output(op, index, op.node_def)
    return op
