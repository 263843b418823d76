"""A raygraph Graph as TensorFlow's GraphDef protocol buffer, for TensorBoard's graph tab.

`graph_def(graph)` (installed as `Graph.as_graph_def()`) makes one NodeDef per op, in
creation order: its name (TensorBoard groups by the "/" of name scopes), op type,
inputs as TF names them ("x" for output 0, "x:1" for the others, "^x" for a control
input), requested device, and the attrs a GraphDef can hold: dtypes, shapes, ints,
floats, bools, strings, lists of those, and Const values (as TensorProtos; values
over `MAX_CONST_BYTES` are left out to keep the event file small). With
`add_shapes=True` each node also gets TF's "_output_shapes", which TensorBoard uses
to label edges. Attributes whose names start with "_" are raygraph's own and are
not written.

The protos are TensorBoard's copies of TF's (tensorboard.compat.proto), so no
TensorFlow is needed. This module is the user-API layer: the graph core reaches it
through `raygraph.graph.hooks.graph_def`, installed when this module is imported.
"""

from __future__ import annotations

import numpy as np
from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_shape_pb2, types_pb2

from raygraph import dtypes, graph
from raygraph.shapes import TensorShape

MAX_CONST_BYTES = 1 << 20
"""Const values larger than this (in bytes) are not copied into the GraphDef."""

_DT = {
    "float16": types_pb2.DT_HALF,
    "float32": types_pb2.DT_FLOAT,
    "float64": types_pb2.DT_DOUBLE,
    "int8": types_pb2.DT_INT8,
    "int16": types_pb2.DT_INT16,
    "int32": types_pb2.DT_INT32,
    "int64": types_pb2.DT_INT64,
    "uint8": types_pb2.DT_UINT8,
    "uint16": types_pb2.DT_UINT16,
    "uint32": types_pb2.DT_UINT32,
    "uint64": types_pb2.DT_UINT64,
    "complex64": types_pb2.DT_COMPLEX64,
    "complex128": types_pb2.DT_COMPLEX128,
    "bfloat16": types_pb2.DT_BFLOAT16,
    "variant": types_pb2.DT_VARIANT,
    "bool": types_pb2.DT_BOOL,
    "string": types_pb2.DT_STRING,
}


def data_type(dtype) -> int:
    """TF's DataType enum value of a raygraph dtype."""
    return _DT[dtypes.as_dtype(dtype).name]


def shape_proto(shape: TensorShape) -> tensor_shape_pb2.TensorShapeProto:
    """A TensorShapeProto; unknown dims are -1, an unknown rank is unknown_rank."""
    if shape.dims is None:
        return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else int(d)) for d in shape.dims]
    return tensor_shape_pb2.TensorShapeProto(dim=dims)


def input_name(tensor) -> str:
    """TF's name of an input in a NodeDef: "op" for output 0, "op:i" otherwise."""
    return tensor.op.name if tensor.value_index == 0 else f"{tensor.op.name}:{tensor.value_index}"


def attr_value(value) -> attr_value_pb2.AttrValue | None:
    """The AttrValue of a static attr, or None for a value a GraphDef cannot hold."""
    if isinstance(value, dtypes.DType):
        return attr_value_pb2.AttrValue(type=data_type(value))
    if isinstance(value, TensorShape):
        return attr_value_pb2.AttrValue(shape=shape_proto(value))
    if isinstance(value, bool | np.bool_):
        return attr_value_pb2.AttrValue(b=bool(value))
    if isinstance(value, int | np.integer):
        return attr_value_pb2.AttrValue(i=int(value))
    if isinstance(value, float | np.floating):
        return attr_value_pb2.AttrValue(f=float(value))
    if isinstance(value, str):
        return attr_value_pb2.AttrValue(s=value.encode())
    if isinstance(value, bytes):
        return attr_value_pb2.AttrValue(s=value)
    if isinstance(value, np.ndarray):
        if value.nbytes > MAX_CONST_BYTES:
            return None
        from tensorboard.util import tensor_util  # 0.2 s to import: only when a graph is written

        return attr_value_pb2.AttrValue(tensor=tensor_util.make_tensor_proto(value))
    if isinstance(value, list | tuple):
        return _list_value(value)
    return None


def _list_value(values) -> attr_value_pb2.AttrValue | None:
    items = attr_value_pb2.AttrValue.ListValue()
    for v in values:
        if isinstance(v, dtypes.DType):
            items.type.append(data_type(v))
        elif isinstance(v, bool | np.bool_):
            items.b.append(bool(v))
        elif isinstance(v, int | np.integer):
            items.i.append(int(v))
        elif isinstance(v, float | np.floating):
            items.f.append(float(v))
        elif isinstance(v, str | bytes):
            items.s.append(v.encode() if isinstance(v, str) else v)
        elif isinstance(v, TensorShape):
            items.shape.append(shape_proto(v))
        else:
            return None
    return attr_value_pb2.AttrValue(list=items)


def node_def(op, add_shapes: bool = False) -> node_def_pb2.NodeDef:
    """One Operation as a NodeDef."""
    node = node_def_pb2.NodeDef(name=op.name, op=op.type, device=op.device or "")
    node.input.extend(input_name(t) for t in op.inputs)
    node.input.extend(f"^{c.name}" for c in op.control_inputs)
    for key, value in op.attrs.items():
        if key.startswith("_") or value is None:
            continue
        converted = attr_value(value)
        if converted is not None:
            node.attr[key].CopyFrom(converted)
    if add_shapes:
        shapes = [shape_proto(t.shape) for t in op.outputs]
        node.attr["_output_shapes"].list.shape.extend(shapes)
    return node


def graph_def(g: graph.Graph, add_shapes: bool = False) -> graph_pb2.GraphDef:
    """Every op of `g`, in creation order, as a GraphDef (see the module docstring)."""
    out = graph_pb2.GraphDef()
    out.node.extend(node_def(op, add_shapes) for op in g.get_operations())
    return out


graph.hooks.graph_def = graph_def
