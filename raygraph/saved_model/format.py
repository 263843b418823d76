"""A raygraph Graph as a declarative JSON document, and the checks a document must pass.

This is the graph part of a SavedModel (raygraph.saved_model). The document names
only registered, built-in op types; every attribute is plain, tagged data; nothing
in it is code, a pickle or a lambda. Reading it back (raygraph.saved_model.rebuild)
runs nothing but the built-in ops' shape functions.

    {"ops": [op, ...],                  the root graph's ops, in creation order
     "subgraphs": [subgraph, ...],      control-flow bodies (FuncGraphs); id = index + 1
     "functions": [function, ...],      sub-graphs with inputs and outputs (If/While attrs)
     "variables": [variable, ...],      the tf.Variable objects of the collections
     "collections": {key: [item, ...]}}

    op        {"name", "type", "inputs": ["x:0", ...], "arity": [1, ...],
               "control_inputs": ["init", ...], "device": "", "colocation": [...],
               "attrs": {name: value}, "outputs": [{"dtype": "float32", "shape": [null, 3]}]}
    subgraph  {"outer": graph id (0: root), "prefix": "while/body", "ops": [...],
               "captures": [{"graph": id, "tensor": "x:0", "placeholder": "while/body/x_captured:0",
                             "outer": "name in the outer graph" or null}],
               "control_captures": [{"graph": id, "op": "init"}]}
    function  {"graph": id, "inputs": [...], "outputs": [...], "saved": [...],
               "gradient": null or {"outputs": [i...], "inputs": [j...], "function": id}}
    variable  {"name": "w", "initializer": "w/Assign", "initial_value": "w/initial_value:0",
               "snapshot": "w/read:0", "trainable": true}
    item      {"variable": "w"} | {"tensor": "x:0"} | {"operation": "init"} | {"value": 1}

Attribute values are JSON scalars (null, true, 1, 1.5, "SAME") or objects with one
tag: {"bytes": base64}, {"dtype": "float32"}, {"shape": [2, null] or null},
{"tensor": {"dtype", "shape", "data": base64 little-endian bytes}} (strings:
"strings": [base64, ...]), {"list": [...]}, {"tuple": [...]}, {"function": id}.

`encode_graph` refuses, naming the op, a user-declared op (its kernel is code) and
an attribute holding anything else (tf.py_func's Python function). `check_graph`
validates a parsed document completely (op types, attr names and values, dtypes,
shapes, every name it refers to) and returns it with attribute values decoded, so
a document that passes builds; one that fails raises before anything is built.
"""

from __future__ import annotations

import base64
import binascii
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from ops import registry
from raygraph import dtypes, errors
from raygraph.func_graph import FuncGraph, Function
from raygraph.graph import Graph, Operation, Tensor
from raygraph.shapes import TensorShape

_TAGS = ("bytes", "dtype", "shape", "tensor", "list", "tuple", "function")


# -- encoding ------------------------------------------------------------------------


def encode_graph(graph: Graph) -> dict:
    """The document of `graph` (see the module docstring); ValueError for what it cannot hold."""
    custom = sorted({op.type for op in _all_ops(graph) if not registry.is_builtin(op.type)})
    if custom:
        raise ValueError(
            f"Cannot export user-declared op types {custom}: a SavedModel holds only raygraph's "
            "built-in ops (a user op's kernel is code). Rewrite the model with built-in ops."
        )
    return _Encoder(graph).document()


def _all_ops(graph: Graph):
    """The ops of `graph` and of every sub-graph its ops call."""
    seen, stack = set(), [graph]
    while stack:
        g = stack.pop()
        for op in g.get_operations():
            yield op
            for value in op.attrs.values():
                for fn in _functions_in(value):
                    if id(fn.graph) not in seen:
                        seen.add(id(fn.graph))
                        stack.append(fn.graph)


def _functions_in(value):
    if isinstance(value, Function):
        yield value
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _functions_in(v)


class _Encoder:
    def __init__(self, root: Graph):
        self.root = root
        self.graph_ids: dict[int, int] = {id(root): 0}
        self.subgraphs: list[dict | None] = []
        self.function_ids: dict[int, int] = {}
        self.functions: list[dict | None] = []

    def document(self) -> dict:
        ops = [self.op(op) for op in self.root.get_operations()]
        variables, collections = _encode_collections(self.root)
        return {
            "ops": ops,
            "subgraphs": self.subgraphs,
            "functions": self.functions,
            "variables": variables,
            "collections": collections,
        }

    def graph_id(self, g: Graph) -> int:
        if id(g) in self.graph_ids:
            return self.graph_ids[id(g)]
        if not isinstance(g, FuncGraph):
            raise ValueError(f"A sub-graph belongs to another graph: {g.describe()}")
        gid = len(self.subgraphs) + 1
        self.graph_ids[id(g)] = gid
        self.subgraphs.append(None)
        outer = self.graph_id(g.outer)
        entry = {"outer": outer, "prefix": g.prefix, "ops": [self.op(op) for op in g.get_operations()]}
        entry["captures"] = [
            {
                "graph": self.graph_id(t.graph),
                "tensor": t.name,
                "placeholder": placeholder.name,
                "outer": g._outer_of[placeholder].name if placeholder in g._outer_of else None,
            }
            for t, placeholder in g.captures.items()
        ]
        entry["control_captures"] = [
            {"graph": self.graph_id(c.graph), "op": c.name} for c in g.control_captures
        ]
        self.subgraphs[gid - 1] = entry
        return gid

    def function(self, fn: Function) -> int:
        if id(fn) in self.function_ids:
            return self.function_ids[id(fn)]
        fid = len(self.functions)
        self.function_ids[id(fn)] = fid
        self.functions.append(None)
        entry = {
            "graph": self.graph_id(fn.graph),
            "inputs": [t.name for t in fn.inputs],
            "outputs": [t.name for t in fn.outputs],
            "saved": [t.name for t in fn.saved],
            "gradient": None,
        }
        if fn.gradient is not None:
            diff_out, diff_in, grad_fn = fn.gradient
            entry["gradient"] = {
                "outputs": list(diff_out),
                "inputs": list(diff_in),
                "function": self.function(grad_fn),
            }
        self.functions[fid] = entry
        return fid

    def op(self, op: Operation) -> dict:
        return {
            "name": op.name,
            "type": op.type,
            "inputs": [t.name for t in op.inputs],
            "arity": list(op.input_arity),
            "control_inputs": [c.name for c in op.control_inputs],
            "device": op.device or "",
            "colocation": list(op.colocation_groups),
            "attrs": {key: self.value(op, key, value) for key, value in sorted(op.attrs.items())},
            "outputs": [{"dtype": t.dtype.name, "shape": _shape_json(t.shape)} for t in op.outputs],
        }

    def value(self, op: Operation, key: str, value):
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, int | np.integer):
            return int(value)
        if isinstance(value, float | np.floating):
            return float(value)
        if isinstance(value, bytes):
            return {"bytes": _b64(value)}
        if isinstance(value, dtypes.DType):
            return {"dtype": value.name}
        if isinstance(value, TensorShape):
            return {"shape": _shape_json(value)}
        if isinstance(value, np.ndarray):
            return {"tensor": _tensor_json(op, key, value)}
        if isinstance(value, Function):
            return {"function": self.function(value)}
        if isinstance(value, list | tuple):
            tag = "list" if isinstance(value, list) else "tuple"
            return {tag: [self.value(op, key, v) for v in value]}
        raise ValueError(
            f"Cannot export {op.describe()}: its attr {key!r} holds a {type(value).__name__} "
            f"({_short(value)}); a SavedModel holds only numbers, strings, dtypes, shapes, arrays, "
            "lists of those and control-flow sub-graphs, never Python code."
        )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _shape_json(shape: TensorShape):
    return None if shape.dims is None else [None if d is None else int(d) for d in shape.dims]


def _tensor_json(op: Operation, key: str, array: np.ndarray) -> dict:
    if array.dtype == object:
        items = [v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1)]
        return {"dtype": "string", "shape": list(array.shape), "strings": [_b64(v) for v in items]}
    try:
        dtype = dtypes.as_dtype(array.dtype)
    except TypeError:
        raise ValueError(
            f"Cannot export {op.describe()}: attr {key!r} is an array of dtype {array.dtype}"
        ) from None
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return {"dtype": dtype.name, "shape": list(array.shape), "data": _b64(data)}


def _encode_collections(graph: Graph) -> tuple[list, dict]:
    """(the variables, the collections) as JSON; items of other kinds are skipped with a warning."""
    from raygraph.variables import Variable

    variables: dict[str, dict] = {}
    collections: dict[str, list] = {}
    for key in graph.get_all_collection_keys():
        items = []
        for item in graph.get_collection(key):
            if isinstance(item, Variable):
                variables.setdefault(item.op.name, _variable_json(item))
                items.append({"variable": item.op.name})
            elif isinstance(item, Tensor) and item.graph is graph:
                items.append({"tensor": item.name})
            elif isinstance(item, Operation) and item.graph is graph:
                items.append({"operation": item.name})
            elif isinstance(item, bool | int | float | str) and not _is_nan(item):
                items.append({"value": item})
            else:
                warnings.warn(
                    f"SavedModel: skipping {type(item).__name__} {_short(item)} of collection {key!r} "
                    "(only variables, tensors, operations, numbers and strings are exported)",
                    stacklevel=4,
                )
        collections[str(key)] = items
    return list(variables.values()), collections


def _is_nan(value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _variable_json(v) -> dict:
    return {
        "name": v.op.name,
        "initializer": v.initializer.name,
        "initial_value": v.initial_value.name,
        "snapshot": v.value().name,
        "trainable": bool(v.trainable),
    }


# -- checking ------------------------------------------------------------------------


def invalid(where: str, what: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(None, None, f"Invalid SavedModel ({where}): {what}")


@dataclass
class CheckedOp:
    """An op of a checked document: its attrs decoded (functions as ids, see FunctionRef)."""

    name: str
    type: str
    inputs: list[str]
    arity: list[int]
    control_inputs: list[str]
    device: str
    colocation: list[str]
    attrs: dict
    outputs: list[tuple[dtypes.DType, TensorShape]]


@dataclass(frozen=True)
class FunctionRef:
    """A decoded {"function": id} attr value, resolved to a Function when the graph is built."""

    id: int


@dataclass
class CheckedGraph:
    """A document that passed `check_graph`: what rebuild needs, all names verified."""

    ops: list[CheckedOp]
    subgraphs: list[dict] = field(default_factory=list)  # each with "ops" as CheckedOps
    functions: list[dict] = field(default_factory=list)
    variables: list[dict] = field(default_factory=list)
    collections: dict = field(default_factory=dict)

    def outputs_of(self, graph_id: int) -> dict[str, list]:
        ops = self.ops if graph_id == 0 else self.subgraphs[graph_id - 1]["ops"]
        return {op.name: op.outputs for op in ops}


def check_graph(doc, where: str = "graph") -> CheckedGraph:
    """Validates a parsed graph document; InvalidArgumentError (NotFoundError for an
    unknown op type) naming the op and what is wrong. Builds nothing."""
    _expect(doc, dict, where)
    _keys(doc, {"ops", "subgraphs", "functions", "variables", "collections"}, where)
    functions = _expect(doc["functions"], list, f"{where}.functions")
    subgraphs = _expect(doc["subgraphs"], list, f"{where}.subgraphs")
    n_functions = len(functions)
    checked = CheckedGraph(_check_ops(doc["ops"], f"{where}.ops", n_functions))
    for i, sub in enumerate(subgraphs):
        checked.subgraphs.append(_check_subgraph(sub, i + 1, checked, f"{where}.subgraphs[{i}]", n_functions))
    for i, fn in enumerate(functions):
        checked.functions.append(_check_function(fn, checked, f"{where}.functions[{i}]", n_functions))
    checked.variables = _check_variables(doc["variables"], checked, f"{where}.variables")
    checked.collections = _check_collections(doc["collections"], checked, f"{where}.collections")
    return checked


def _expect(value, kind, where: str):
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise invalid(where, f"expected {name}, got {type(value).__name__} {_short(value)}")
    return value


def _keys(obj: dict, expected: set, where: str) -> None:
    if set(obj) != expected:
        missing, extra = sorted(expected - set(obj)), sorted(set(obj) - expected)
        raise invalid(where, f"fields {sorted(obj)}; missing {missing}, unexpected {extra}")


def _check_ops(ops, where: str, n_functions: int) -> list[CheckedOp]:
    _expect(ops, list, where)
    seen: dict[str, list] = {}
    checked = []
    for i, op in enumerate(ops):
        op_where = f"{where}[{i}]"
        _expect(op, dict, op_where)
        _keys(
            op,
            {"name", "type", "inputs", "arity", "control_inputs", "device", "colocation", "attrs", "outputs"},
            op_where,
        )
        name = _expect(op["name"], str, f"{op_where}.name")
        if not name or name in seen:
            raise invalid(op_where, f"op name {name!r} is empty or used twice")
        c = _check_op(op, f"op {name!r}", seen, n_functions)
        seen[name] = c.outputs
        checked.append(c)
    return checked


def _check_op(op: dict, where: str, seen: dict, n_functions: int) -> CheckedOp:
    op_type = _expect(op["type"], str, f"{where}.type")
    try:
        op_def = registry.get(op_type)
    except KeyError:
        raise errors.NotFoundError(
            None, None, f"Invalid SavedModel ({where}): Op type not registered '{op_type}' in raygraph"
        ) from None
    if not registry.is_builtin(op_type):
        raise invalid(
            where,
            f"op type {op_type!r} is a user-declared op, not one of raygraph's built-in ops; "
            "a SavedModel may hold only built-in ops (a user op's kernel is code)",
        )
    inputs = [_tensor_ref(t, seen, f"{where}.inputs") for t in _expect(op["inputs"], list, f"{where}.inputs")]
    arity = [_expect(n, int, f"{where}.arity") for n in _expect(op["arity"], list, f"{where}.arity")]
    if len(arity) != len(op_def.inputs) or sum(arity) != len(inputs) or min(arity, default=0) < 0:
        raise invalid(
            where, f"{op_type} takes inputs {op_def.input_names()}; arity {arity} for {len(inputs)} inputs"
        )
    for k, n in enumerate(arity):
        if n != 1 and not op_def.is_list_input(k):
            raise invalid(where, f"input {op_def.input_names()[k]!r} of {op_type} takes one tensor, got {n}")
    control = _expect(op["control_inputs"], list, f"{where}.control_inputs")
    for c in control:
        if not isinstance(c, str) or c not in seen:
            raise invalid(where, f"control input {_short(c)} is not an earlier op")
    attrs = _expect(op["attrs"], dict, f"{where}.attrs")
    unknown = sorted(set(attrs) - set(op_def.attrs))
    if unknown:
        raise invalid(where, f"{op_type} has no attrs {unknown}; its attrs are {sorted(op_def.attrs)}")
    missing = sorted(k for k, d in op_def.attrs.items() if d is registry.REQUIRED and k not in attrs)
    if missing:
        raise invalid(where, f"{op_type} needs the attrs {missing}")
    decoded = {k: decode_value(v, f"{where}.attrs[{k!r}]", n_functions) for k, v in attrs.items()}
    outputs = [_output(o, f"{where}.outputs[{j}]") for j, o in enumerate(_expect(op["outputs"], list, where))]
    return CheckedOp(
        op["name"],
        op_type,
        inputs,
        arity,
        control,
        _expect(op["device"], str, f"{where}.device"),
        [_expect(c, str, f"{where}.colocation") for c in _expect(op["colocation"], list, where)],
        decoded,
        outputs,
    )


def _tensor_ref(name, seen: dict, where: str) -> str:
    """`name` ("op:i") when op is in `seen` with an output i; else InvalidArgumentError."""
    if not isinstance(name, str) or ":" not in name:
        raise invalid(where, f"{_short(name)} is not a tensor name 'op:index'")
    op_name, _, index = name.rpartition(":")
    if op_name not in seen or not index.isdigit() or int(index) >= len(seen[op_name]):
        raise invalid(where, f"tensor {name!r} is not an output of an earlier op")
    return name


def _output(entry, where: str) -> tuple[dtypes.DType, TensorShape]:
    _expect(entry, dict, where)
    _keys(entry, {"dtype", "shape"}, where)
    return check_dtype(entry["dtype"], where), check_shape(entry["shape"], where)


def check_dtype(name, where: str) -> dtypes.DType:
    if not isinstance(name, str):
        raise invalid(where, f"dtype {_short(name)} is not a dtype name")
    try:
        dtype = dtypes.as_dtype(name)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name != name:
        raise invalid(where, f"unknown dtype {name!r}")
    return dtype


def check_shape(dims, where: str) -> TensorShape:
    if dims is None:
        return TensorShape(None)
    _expect(dims, list, where)
    for d in dims:
        if d is not None and (not isinstance(d, int) or isinstance(d, bool) or d < 0):
            raise invalid(where, f"shape {_short(dims)} has a dimension that is not a size or null")
    return TensorShape(dims)


def decode_value(value, where: str, n_functions: int):
    """An attr value from its JSON form (see the module docstring); InvalidArgumentError if malformed."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        raise invalid(where, "a bare JSON list; lists are tagged {'list': [...]}")
    _expect(value, dict, where)
    if len(value) != 1 or next(iter(value)) not in _TAGS:
        raise invalid(
            where, f"an object must have exactly one of the tags {list(_TAGS)}, got {sorted(value)}"
        )
    tag, body = next(iter(value.items()))
    if tag == "bytes":
        return _unb64(body, where)
    if tag == "dtype":
        return check_dtype(body, where)
    if tag == "shape":
        return check_shape(body, where)
    if tag == "tensor":
        return decode_tensor(body, where)
    if tag == "function":
        _expect(body, int, where)
        if not 0 <= body < n_functions:
            raise invalid(where, f"function id {body} is not one of the document's {n_functions} functions")
        return FunctionRef(body)
    items = [decode_value(v, where, n_functions) for v in _expect(body, list, where)]
    return items if tag == "list" else tuple(items)


def _unb64(text, where: str) -> bytes:
    try:
        return base64.b64decode(_expect(text, str, where), validate=True)
    except (binascii.Error, ValueError):
        raise invalid(where, "not valid base64") from None


def decode_tensor(body, where: str) -> np.ndarray:
    """A Const value: raw little-endian bytes of a numeric dtype, or base64 strings; never a pickle."""
    _expect(body, dict, where)
    dtype = check_dtype(body.get("dtype"), where)
    shape = check_shape(body.get("shape"), where)
    if not shape.is_fully_defined():
        raise invalid(where, f"a tensor's shape must be fully defined, got {body.get('shape')}")
    dims = tuple(shape.as_list())
    count = math.prod(dims)
    if dtype == dtypes.string:
        _keys(body, {"dtype", "shape", "strings"}, where)
        items = _expect(body["strings"], list, where)
        if len(items) != count:
            raise invalid(where, f"{len(items)} strings for shape {list(dims)}")
        array = np.empty(count, dtype=object)
        array[:] = [_unb64(s, where) for s in items]
        return array.reshape(dims)
    if dtype.np.kind not in "biufcV" or dtype.np == np.object_:
        raise invalid(where, f"a tensor of dtype {dtype.name} cannot be stored")
    _keys(body, {"dtype", "shape", "data"}, where)
    data = _unb64(body["data"], where)
    np_dtype = dtype.np.newbyteorder("<")
    if len(data) != count * np_dtype.itemsize:
        raise invalid(where, f"{len(data)} bytes for a {dtype.name} tensor of shape {list(dims)}")
    array = np.frombuffer(data, dtype=np_dtype).astype(dtype.np).reshape(dims)
    if dtype == dtypes.bool and array.size and array.view(np.uint8).max() > 1:
        raise invalid(where, "a bool tensor holds bytes other than 0 and 1")
    return array


def _check_subgraph(sub, gid: int, checked: CheckedGraph, where: str, n_functions: int) -> dict:
    _expect(sub, dict, where)
    _keys(sub, {"outer", "prefix", "ops", "captures", "control_captures"}, where)
    outer = _expect(sub["outer"], int, f"{where}.outer")
    if not 0 <= outer < gid:
        raise invalid(where, f"outer graph {outer} must be an earlier graph")
    ops = _check_ops(sub["ops"], f"{where}.ops", n_functions)
    own = {op.name: op.outputs for op in ops}
    entry = {"outer": outer, "prefix": _expect(sub["prefix"], str, where), "ops": ops, "captures": []}
    for k, cap in enumerate(_expect(sub["captures"], list, where)):
        cw = f"{where}.captures[{k}]"
        _expect(cap, dict, cw)
        _keys(cap, {"graph", "tensor", "placeholder", "outer"}, cw)
        source = _enclosing(cap["graph"], outer, checked, cw)
        _tensor_ref(cap["tensor"], checked.outputs_of(source), cw)
        _tensor_ref(cap["placeholder"], own, cw)
        if cap["outer"] is not None:
            _tensor_ref(cap["outer"], checked.outputs_of(outer), cw)
        entry["captures"].append(cap)
    entry["control_captures"] = []
    for k, cap in enumerate(_expect(sub["control_captures"], list, where)):
        cw = f"{where}.control_captures[{k}]"
        _expect(cap, dict, cw)
        _keys(cap, {"graph", "op"}, cw)
        source = _enclosing(cap["graph"], outer, checked, cw)
        if cap["op"] not in checked.outputs_of(source):
            raise invalid(cw, f"no op {_short(cap['op'])} in graph {source}")
        entry["control_captures"].append(cap)
    return entry


def _enclosing(graph_id, outer: int, checked: CheckedGraph, where: str) -> int:
    """`graph_id` when it names `outer` or a graph enclosing it; else InvalidArgumentError."""
    _expect(graph_id, int, where)
    chain, g = [outer], outer
    while g != 0:
        g = checked.subgraphs[g - 1]["outer"]
        chain.append(g)
    if graph_id not in chain:
        raise invalid(
            where, f"graph {graph_id} does not enclose this sub-graph (its enclosing graphs: {chain})"
        )
    return graph_id


def _check_function(fn, checked: CheckedGraph, where: str, n_functions: int) -> dict:
    _expect(fn, dict, where)
    _keys(fn, {"graph", "inputs", "outputs", "saved", "gradient"}, where)
    gid = _expect(fn["graph"], int, f"{where}.graph")
    if not 1 <= gid <= len(checked.subgraphs):
        raise invalid(where, f"graph {gid} is not a sub-graph of the document")
    names = checked.outputs_of(gid)
    for key in ("inputs", "outputs", "saved"):
        for t in _expect(fn[key], list, f"{where}.{key}"):
            _tensor_ref(t, names, f"{where}.{key}")
    grad = fn["gradient"]
    if grad is not None:
        _expect(grad, dict, f"{where}.gradient")
        _keys(grad, {"outputs", "inputs", "function"}, f"{where}.gradient")
        for key in ("outputs", "inputs"):
            for i in _expect(grad[key], list, f"{where}.gradient.{key}"):
                _expect(i, int, f"{where}.gradient.{key}")
        target = _expect(grad["function"], int, f"{where}.gradient.function")
        if not 0 <= target < n_functions:
            raise invalid(where, f"gradient function id {target} is not one of the {n_functions} functions")
    return fn


def _check_variables(variables, checked: CheckedGraph, where: str) -> list[dict]:
    root = checked.outputs_of(0)
    types = {op.name: op.type for op in checked.ops}
    out, seen = [], set()
    for i, v in enumerate(_expect(variables, list, where)):
        vw = f"{where}[{i}]"
        _expect(v, dict, vw)
        _keys(v, {"name", "initializer", "initial_value", "snapshot", "trainable"}, vw)
        if types.get(v["name"]) != "VariableV2" or v["name"] in seen:
            raise invalid(vw, f"{_short(v['name'])} is not a VariableV2 op of the graph (or is listed twice)")
        seen.add(v["name"])
        if v["initializer"] not in root:
            raise invalid(vw, f"initializer {_short(v['initializer'])} is not an op of the graph")
        _tensor_ref(v["initial_value"], root, vw)
        _tensor_ref(v["snapshot"], root, vw)
        _expect(v["trainable"], bool, vw)
        out.append(v)
    return out


def _check_collections(collections, checked: CheckedGraph, where: str) -> dict:
    root = checked.outputs_of(0)
    variables = {v["name"] for v in checked.variables}
    _expect(collections, dict, where)
    for key, items in collections.items():
        for k, item in enumerate(_expect(items, list, f"{where}[{key!r}]")):
            iw = f"{where}[{key!r}][{k}]"
            _expect(item, dict, iw)
            if len(item) != 1:
                raise invalid(
                    iw, f"an item has one of the keys variable, tensor, operation, value; got {sorted(item)}"
                )
            kind, ref = next(iter(item.items()))
            if kind == "variable" and ref not in variables:
                raise invalid(iw, f"variable {_short(ref)} is not in the document's variables")
            elif kind == "tensor":
                _tensor_ref(ref, root, iw)
            elif kind == "operation" and ref not in root:
                raise invalid(iw, f"operation {_short(ref)} is not an op of the graph")
            elif kind == "value":
                _expect(ref, (bool, int, float, str), iw)
            elif kind not in ("variable", "tensor", "operation", "value"):
                raise invalid(iw, f"unknown item kind {kind!r}")
    return collections
