"""A raygraph Graph as TensorFlow's GraphDef protocol buffer, and attr values back from it.

`graph_def(graph)` (installed as `Graph.as_graph_def()`) makes one NodeDef per op, in
creation order: its name (TensorBoard groups by the "/" of name scopes), op type,
inputs as TF names them ("x" for output 0, "x:1" for the others, "^x" for a control
input), requested device, and the attrs a GraphDef can hold: dtypes, shapes, ints,
floats, bools, strings, lists of those, and Const values (as TensorProtos; the
summary writer passes `max_const_bytes=MAX_CONST_BYTES` so that large values are
left out of event files). With `add_shapes=True` each node also gets TF's
"_output_shapes", which TensorBoard uses to label edges. Attributes whose names
start with "_" are raygraph's own and are not written, with three exceptions that
`raygraph.importer` reads back:
- "_class": ["loc:@w"], TF's colocation groups;
- "_input_arity": how many inputs each declared input took, only for the few op
  types with two list inputs (the one list input of the others is what is left);
- an attr whose value is None where the op's default is not is written as an
  empty AttrValue, so that it imports as None.

Values a GraphDef cannot hold (a control-flow op's sub-graph functions) are left
out: such a GraphDef draws in TensorBoard but does not import.

The reverse direction, `python_value(attr_value, default)`, gives the Python value
an op declaration expects (DType, TensorShape, int, str, numpy array, list...).

The protos are TensorBoard's copies of TF's (tensorboard.compat.proto), so no
TensorFlow is needed. This module is the user-API layer: the graph core reaches it
through `raygraph.graph.hooks.graph_def`, installed when this module is imported.
"""

from __future__ import annotations

import numpy as np
from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_shape_pb2, types_pb2

from raygraph import dtypes, graph, version
from raygraph.shapes import TensorShape

MAX_CONST_BYTES = 1 << 20
"""Const values larger than this (in bytes) are left out of the GraphDefs written to event files."""

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
    "bool": types_pb2.DT_BOOL,
    "string": types_pb2.DT_STRING,
    "variant": types_pb2.DT_VARIANT,
}
_DTYPE_OF_ENUM = {enum: name for name, enum in _DT.items()}
_REF_OFFSET = 100  # TF's reference types: DT_FLOAT_REF == DT_FLOAT + 100


def data_type(dtype) -> int:
    """TF's DataType enum value of a raygraph dtype."""
    return _DT[dtypes.as_dtype(dtype).name]


def dtype_of(enum: int) -> dtypes.DType:
    """The raygraph dtype of TF's DataType enum value (a reference type gives its base type)."""
    if enum > _REF_OFFSET:
        enum -= _REF_OFFSET
    name = _DTYPE_OF_ENUM.get(enum)
    if name is None:
        raise TypeError(f"raygraph has no dtype for TensorFlow's {types_pb2.DataType.Name(enum)}")
    return dtypes.as_dtype(name)


def shape_of(proto: tensor_shape_pb2.TensorShapeProto) -> TensorShape:
    """The TensorShape of a TensorShapeProto (-1 dims are unknown)."""
    if proto.unknown_rank:
        return TensorShape(None)
    return TensorShape([None if d.size < 0 else int(d.size) for d in proto.dim])


def shape_proto(shape: TensorShape) -> tensor_shape_pb2.TensorShapeProto:
    """A TensorShapeProto; unknown dims are -1, an unknown rank is unknown_rank."""
    if shape.dims is None:
        return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else int(d)) for d in shape.dims]
    return tensor_shape_pb2.TensorShapeProto(dim=dims)


def input_name(tensor) -> str:
    """TF's name of an input in a NodeDef: "op" for output 0, "op:i" otherwise."""
    return tensor.op.name if tensor.value_index == 0 else f"{tensor.op.name}:{tensor.value_index}"


def attr_value(value, max_const_bytes: int | None = None) -> attr_value_pb2.AttrValue | None:
    """The AttrValue of a static attr, or None for a value a GraphDef cannot hold
    (or an array over `max_const_bytes`)."""
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
        if max_const_bytes is not None and value.nbytes > max_const_bytes:
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


def node_def(op, add_shapes: bool = False, max_const_bytes: int | None = None) -> node_def_pb2.NodeDef:
    """One Operation as a NodeDef."""
    node = node_def_pb2.NodeDef(name=op.name, op=op.type, device=op.device or "")
    node.input.extend(input_name(t) for t in op.inputs)
    node.input.extend(f"^{c.name}" for c in op.control_inputs)
    defaults = op.op_def.attrs
    for key, value in op.attrs.items():
        if key.startswith("_"):
            continue
        if value is None:
            if defaults.get(key) is not None:
                node.attr[key].CopyFrom(attr_value_pb2.AttrValue())
            continue
        converted = attr_value(value, max_const_bytes)
        if converted is not None:
            node.attr[key].CopyFrom(converted)
    if op.colocation_groups:
        node.attr["_class"].list.s.extend(f"loc:@{name}".encode() for name in op.colocation_groups)
    if sum(name.endswith("*") for name in op.op_def.inputs) > 1:
        node.attr["_input_arity"].list.i.extend(op.input_arity)
    if add_shapes:
        shapes = [shape_proto(t.shape) for t in op.outputs]
        node.attr["_output_shapes"].list.shape.extend(shapes)
    return node


def graph_def(
    g: graph.Graph, add_shapes: bool = False, max_const_bytes: int | None = None
) -> graph_pb2.GraphDef:
    """Every op of `g`, in creation order, as a GraphDef (see the module docstring).

    Const values over `max_const_bytes` (None: no limit) are left out.
    """
    out = graph_pb2.GraphDef()
    out.node.extend(node_def(op, add_shapes, max_const_bytes) for op in g.get_operations())
    out.versions.producer = version.GRAPH_DEF_VERSION
    return out


def python_value(value: attr_value_pb2.AttrValue, default=None):
    """The Python value of an AttrValue, as an op declaration holds it.

    `default` (the declared default) settles what the proto cannot say: whether a
    string is `str` or `bytes`, a list a list or (as raygraph's ops hold them) a tuple. An empty AttrValue is None.
    A function attr (TF's control flow) raises NotImplementedError.
    """
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "type":
        return dtype_of(value.type)
    if kind == "shape":
        return shape_of(value.shape)
    if kind == "s":
        return _string(value.s, default)
    if kind == "tensor":
        from tensorboard.util import tensor_util

        return tensor_util.make_ndarray(value.tensor)
    if kind == "list":
        items = _python_list(value.list, default)
        return items if isinstance(default, list) else tuple(items)
    if kind in ("b", "i", "f"):
        return getattr(value, kind)
    raise NotImplementedError(f"raygraph cannot import an attr holding a {kind}")


def _string(raw: bytes, default):
    if isinstance(default, bytes):
        return raw
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw


def _python_list(items: attr_value_pb2.AttrValue.ListValue, default) -> list:
    item_default = default[0] if isinstance(default, list | tuple) and default else None
    if items.type:
        return [dtype_of(t) for t in items.type]
    if items.shape:
        return [shape_of(s) for s in items.shape]
    if items.s:
        return [_string(s, item_default) for s in items.s]
    for field in ("i", "f", "b"):
        if getattr(items, field):
            return list(getattr(items, field))
    if items.tensor or items.func:
        raise NotImplementedError("raygraph cannot import an attr holding a list of tensors or functions")
    return []


graph.hooks.graph_def = graph_def
