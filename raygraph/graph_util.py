"""`tf.graph_util`: passes over GraphDef protos, e.g. freezing a trained graph.

    frozen = tf.graph_util.convert_variables_to_constants(sess, sess.graph_def, ["probs"])
    tf.train.write_graph(frozen, "export", "frozen.pb", as_text=False)

Each function takes a GraphDef and returns a new one; none touches a Graph
(plain data in, plain data out). Node order is kept, so a topologically ordered
GraphDef stays one.
"""

from __future__ import annotations

from tensorboard.compat.proto import graph_pb2

from raygraph import graph_def as gd
from raygraph import importer

__all__ = [
    "convert_variables_to_constants",
    "extract_sub_graph",
    "remove_training_nodes",
    "tensor_shape_from_node_def_name",
]

_VARIABLE_OPS = ("VariableV2", "Variable")


def _node_name(text: str) -> str:
    return importer._split_input(text)[0]


def extract_sub_graph(graph_def, dest_nodes) -> graph_pb2.GraphDef:
    """The nodes `dest_nodes` need (through data and control inputs), in their GraphDef order.

    >>> tf.graph_util.extract_sub_graph(graph_def, ["logits"])
    """
    graph_def = importer.as_graph_def_proto(graph_def)
    if isinstance(dest_nodes, str):
        raise TypeError("dest_nodes must be an iterable of strings.")
    by_name = {node.name: node for node in graph_def.node}
    for name in dest_nodes:
        if _node_name(name) not in by_name:
            raise AssertionError(f"{name} is not in graph")
    keep, stack = set(), [_node_name(n) for n in dest_nodes]
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        keep.add(name)
        stack.extend(_node_name(i) for i in by_name[name].input)
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.node.extend(node for node in graph_def.node if node.name in keep)
    return out


def convert_variables_to_constants(
    sess, input_graph_def, output_node_names, variable_names_whitelist=None, variable_names_blacklist=None
) -> graph_pb2.GraphDef:
    """The part of a graph `output_node_names` need, with its variables replaced by Consts of their values.

    >>> frozen = tf.graph_util.convert_variables_to_constants(sess, sess.graph_def, ["probs"])
    >>> with tf.Graph().as_default():
    ...     probs, = tf.import_graph_def(frozen, return_elements=["probs:0"], name="")

    The values are read with `sess.run`; `variable_names_whitelist` and
    `variable_names_blacklist` (node names) choose which variables are converted.
    """
    sub = extract_sub_graph(input_graph_def, output_node_names)
    chosen = [
        node
        for node in sub.node
        if node.op in _VARIABLE_OPS
        and (variable_names_whitelist is None or node.name in variable_names_whitelist)
        and (variable_names_blacklist is None or node.name not in variable_names_blacklist)
    ]
    values = sess.run([f"{node.name}:0" for node in chosen]) if chosen else []
    constants = {node.name: value for node, value in zip(chosen, values)}
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(sub.versions)
    for node in sub.node:
        if node.name in constants:
            value = constants[node.name]
            const = out.node.add(name=node.name, op="Const", device=node.device)
            const.attr["dtype"].CopyFrom(node.attr["dtype"])
            const.attr["value"].CopyFrom(gd.attr_value(value))
            if "_class" in node.attr:
                const.attr["_class"].CopyFrom(node.attr["_class"])
        else:
            out.node.add().CopyFrom(node)
    return out


def remove_training_nodes(input_graph, protected_nodes=None) -> graph_pb2.GraphDef:
    """The GraphDef without Identity and CheckNumerics nodes (their consumers read their inputs).

    Nodes named in `protected_nodes`, and Identities other nodes depend on by
    control input, are kept, as in TensorFlow.
    """
    graph_def = importer.as_graph_def_proto(input_graph)
    protected = set(protected_nodes or ())
    control_targets = {_node_name(i) for node in graph_def.node for i in node.input if i.startswith("^")}
    removable = {
        node.name: node.input[0]
        for node in graph_def.node
        if node.op in ("Identity", "CheckNumerics")
        and node.name not in protected
        and node.name not in control_targets
        and node.input
        and not node.input[0].startswith("^")
    }

    def resolve(text: str) -> str:
        seen = set()
        while _node_name(text) in removable and not text.startswith("^"):
            name, index = importer._split_input(text)
            if index != 0 or name in seen:
                break
            seen.add(name)
            text = removable[name]
        return text

    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    for node in graph_def.node:
        if node.name in removable:
            continue
        new = out.node.add()
        new.CopyFrom(node)
        del new.input[:]
        new.input.extend(resolve(i) for i in node.input)
    return out


def tensor_shape_from_node_def_name(graph, input_name: str):
    """The static shape of the tensor `input_name` ("x" means "x:0") in a Graph."""
    name = input_name if ":" in input_name else f"{input_name}:0"
    return graph.get_tensor_by_name(name).shape
