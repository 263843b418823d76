"""Builds a checked graph document (raygraph.saved_model.format) into a Graph.

`import_checked(checked, graph, import_scope)` adds every op with its recorded
name (under `import_scope/` if given), inputs, control inputs, device and
colocation, through `Graph.create_op`, so each op's own shape function checks it
again; an op whose inferred dtype or shape contradicts the recorded one raises
InvalidArgumentError. Control-flow sub-graphs are built when the first op that
calls them is, with their captures; `Function` objects keep their `saved`
tensors and gradient so a loaded loop can be differentiated and trained. Then the
collections are filled: tf.Variable objects are made again around their ops.

Only the document is read; nothing here evaluates or imports anything it names.
"""

from __future__ import annotations

from ops import registry
from raygraph import errors
from raygraph.func_graph import FuncGraph, Function
from raygraph.graph import Graph
from raygraph.saved_model.format import CheckedGraph, CheckedOp, FunctionRef
from raygraph.variables import Variable


class Imported:
    """The result of an import: name lookups that take the import scope into account."""

    def __init__(self, graph: Graph, scope: str):
        self.graph = graph
        self.scope = scope
        self.variables: dict[str, Variable] = {}

    def name(self, name: str) -> str:
        return f"{self.scope}/{name}" if self.scope else name

    def tensor(self, name: str):
        return self.graph.get_tensor_by_name(self.name(name))

    def operation(self, name: str):
        return self.graph.get_operation_by_name(self.name(name))


def import_checked(checked: CheckedGraph, graph: Graph, import_scope: str | None = None) -> Imported:
    """Adds the checked document's ops and collections to `graph`; see the module docstring."""
    scope = (import_scope or "").rstrip("/")
    clashes = [op.name for op in checked.ops if _scoped(scope, op.name) in graph._by_name]
    if clashes:
        raise ValueError(
            f"Cannot load the SavedModel into {graph.describe()}: it already has ops named "
            f"{clashes[:5]}; load into a new graph or pass import_scope"
        )
    builder = _Builder(checked, graph, scope)
    builder.build_ops(graph, checked.ops)
    imported = Imported(graph, scope)
    imported.variables = _variables(checked, imported)
    _collections(checked, imported)
    return imported


def _scoped(scope: str, name: str) -> str:
    return f"{scope}/{name}" if scope else name


class _Builder:
    def __init__(self, checked: CheckedGraph, root: Graph, scope: str):
        self.checked = checked
        self.scope = scope
        self.graphs: dict[int, Graph] = {0: root}
        self.functions: dict[int, Function] = {}

    def build_ops(self, graph: Graph, ops: list[CheckedOp]) -> None:
        with (
            graph.as_default(),
            graph.control_dependencies(None),
            graph.device(None),
            graph.colocate_with(None),
        ):
            for op in ops:
                self.build_op(graph, op)

    def build_op(self, graph: Graph, op: CheckedOp) -> None:
        flat = [graph.get_tensor_by_name(_scoped(self.scope, t)) for t in op.inputs]
        inputs, i = [], 0
        op_def = registry.get(op.type)
        for k, n in enumerate(op.arity):
            inputs.append(flat[i : i + n] if op_def.is_list_input(k) else flat[i])
            i += n
        attrs = {key: self.attr(value) for key, value in op.attrs.items()}
        control = [graph.get_operation_by_name(_scoped(self.scope, c)) for c in op.control_inputs]
        name = _scoped(self.scope, op.name)
        try:
            with graph.control_dependencies(control):
                made = graph.create_op(op.type, inputs, attrs, name=name + "/")
        except (TypeError, ValueError) as e:
            raise errors.InvalidArgumentError(
                None, None, f"Invalid SavedModel: op {op.name!r} ({op.type}): {e}"
            ) from None
        _mark_scopes_used(graph, name)
        made.device = op.device
        made.colocation_groups = [_scoped(self.scope, c) for c in op.colocation]
        self.check_outputs(made, op)

    @staticmethod
    def check_outputs(made, op: CheckedOp) -> None:
        if len(made.outputs) != len(op.outputs):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Invalid SavedModel: op {op.name!r} ({op.type}) has {len(made.outputs)} outputs, "
                f"the document records {len(op.outputs)}",
            )
        for t, (dtype, shape) in zip(made.outputs, op.outputs):
            if t.dtype != dtype or not t.shape.is_compatible_with(shape):
                raise errors.InvalidArgumentError(
                    None,
                    None,
                    f"Invalid SavedModel: tensor {op.name}:{t.value_index} ({op.type}) is "
                    f"{t.dtype.name} {t.shape} when built, but the document records {dtype.name} {shape}",
                )
            t.set_shape(shape)

    def attr(self, value):
        if isinstance(value, FunctionRef):
            return self.function(value.id)
        if isinstance(value, list | tuple):
            return type(value)(self.attr(v) for v in value)
        return value

    # -- sub-graphs and functions, built on first use --
    def graph(self, gid: int) -> Graph:
        if gid in self.graphs:
            return self.graphs[gid]
        sub = self.checked.subgraphs[gid - 1]
        outer = self.graph(sub["outer"])
        fg = FuncGraph(outer, _scoped(self.scope, sub["prefix"]))
        self.graphs[gid] = fg
        self.build_ops(fg, sub["ops"])
        for cap in sub["captures"]:
            source = self.graphs[cap["graph"]]
            key = source.get_tensor_by_name(_scoped(self.scope, cap["tensor"]))
            placeholder = fg.get_tensor_by_name(_scoped(self.scope, cap["placeholder"]))
            fg.captures[key] = placeholder
            if cap["outer"] is not None:
                fg._outer_of[placeholder] = outer.get_tensor_by_name(_scoped(self.scope, cap["outer"]))
        for cap in sub["control_captures"]:
            op = self.graphs[cap["graph"]].get_operation_by_name(_scoped(self.scope, cap["op"]))
            fg.control_captures.append(op)
        return fg

    def function(self, fid: int) -> Function:
        if fid in self.functions:
            return self.functions[fid]
        entry = self.checked.functions[fid]
        g = self.graph(entry["graph"])

        def tensors(key):
            return [g.get_tensor_by_name(_scoped(self.scope, t)) for t in entry[key]]

        fn = Function(g, tensors("inputs"), tensors("outputs"))
        self.functions[fid] = fn
        fn.saved = tensors("saved")
        grad = entry["gradient"]
        if grad is not None:
            fn.gradient = (list(grad["outputs"]), list(grad["inputs"]), self.function(grad["function"]))
        return fn


def _mark_scopes_used(graph: Graph, name: str) -> None:
    """Marks "a" and "a/b" of "a/b/c" as used, so later ops in scope "a" get a fresh name."""
    parts = name.split("/")
    for k in range(1, len(parts) + 1):
        graph._names_in_use.setdefault("/".join(parts[:k]).lower(), 1)


def _variables(checked: CheckedGraph, imported: Imported) -> dict[str, Variable]:
    """tf.Variable objects around the loaded VariableV2 ops, by op name."""
    out = {}
    for v in checked.variables:
        var = Variable.__new__(Variable)  # the ops exist already; Variable.__init__ would add them
        var._variable = imported.tensor(v["name"] + ":0")
        var._initializer_op = imported.operation(v["initializer"])
        var._initial_value = imported.tensor(v["initial_value"])
        var._snapshot = imported.tensor(v["snapshot"])
        var._trainable = v["trainable"]
        var.constraint = None
        out[v["name"]] = var
    return out


def _collections(checked: CheckedGraph, imported: Imported) -> None:
    graph = imported.graph
    for key, items in checked.collections.items():
        for item in items:
            kind, ref = next(iter(item.items()))
            if kind == "variable":
                value = imported.variables[ref]
            elif kind == "tensor":
                value = imported.tensor(ref)
            elif kind == "operation":
                value = imported.operation(ref)
            else:
                value = ref
            graph.add_to_collection(key, value)
