"""The dataflow graph: `Graph`, `Operation` and `Tensor`, as plain data.

A Graph is an append-only list of Operations. Each Operation has a type (a key of
the op registry in `ops/`), input Tensors, control inputs, static attributes, a
requested device and the user's source line that created it. Building a graph
touches no Ray and runs no kernel: `create_op` converts the inputs, checks dtypes,
runs the op's shape-and-dtype function and records the result on its output
Tensors, so a mistake fails on the line that made it.

Invariants:
- Operations are stored in creation order, which is a topological order: an op's
  inputs and control inputs always exist before it.
- Names are unique in a graph; `unique_name` appends _1, _2, ... as TensorFlow does.
- `graph.version` counts the ops; sessions compare it between runs to notice a
  training loop that keeps adding ops.

Scopes (`name_scope`, `device`, `control_dependencies`, `colocate_with`) are
stacks on the graph, entered with `with`.

Layering. This module is the graph core, with dtypes, shapes, errors and device
specs: it imports nothing from `ops/`, `scheduler/` or the user API. What it
needs from above comes through `hooks`, filled by the layer that provides it:
the op registry (`ops.registry` installs `op_def`, `build` and `api` when it is
imported), the default session (`raygraph.session` installs `session_for`) and the
drawing of a graph in Jupyter (`raygraph.viz` installs `render_svg`).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import threading
from collections.abc import Iterator

import numpy as np

from raygraph import dtypes as _dtypes
from raygraph.device import DeviceSpec
from raygraph.shapes import TensorShape, as_shape, format_shape


class _Hooks:
    """What the graph core needs from the layers above it, installed by them.

    - `op_def(op_type)`: the op's declaration (ops.registry.get);
    - `build(op_type, inputs, attrs, name)`: adds an op (ops.registry.build);
    - `api`: the public op functions by name (ops.registry's table), for the
      Tensor operators and for packing lists of tensors with `stack`;
    - `session_for(graph, session)`: the session that `Tensor.eval` and
      `Operation.run` use (raygraph.session);
    - `graph_def(graph, add_shapes)`: the graph as a GraphDef protocol buffer, for
      `Graph.as_graph_def` (raygraph.graph_def);
    - `render_svg(graph)`: the graph drawn as SVG text, for `Graph._repr_svg_`, which
      Jupyter calls to show a graph (raygraph.viz). Optional: without it Jupyter
      shows the repr.
    - `gradients(ys, xs, grad_ys=...)`: tf.gradients (raygraph.gradients), which the
      gradients of control-flow ops apply inside their sub-graphs.
    """

    def __init__(self):
        self.op_def = self.build = self.session_for = self.graph_def = self.render_svg = None
        self.gradients = None
        self.api: dict = {}

    def require(self, name: str):
        hook = getattr(self, name)
        if hook is None or hook == {}:
            layer = {
                "session_for": "raygraph.session",
                "graph_def": "raygraph.graph_def",
                "gradients": "raygraph.gradients",
            }.get(name, "ops.registry")
            raise RuntimeError(
                f"The graph core has no {name!r} yet: import raygraph (or {layer}) before "
                "building or running ops."
            )
        return hook


hooks = _Hooks()
"""Filled by ops.registry and raygraph.session when they are imported."""

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_INTERNAL = tuple(os.path.join(_ROOT, pkg) + os.sep for pkg in ("raygraph", "ops", "scheduler"))


def user_location() -> tuple[str, int, str]:
    """(file, line, function) of the innermost frame outside raygraph's packages."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_INTERNAL) and "contextlib" not in filename:
            return filename, frame.f_lineno, frame.f_code.co_name
        frame = frame.f_back
    return "<unknown>", 0, ""


def format_location(location) -> str:
    filename, line, _ = location
    return f"{os.path.basename(filename)}:{line}"


class Tensor:
    """One output of an Operation: a symbolic handle to a value computed at run time.

    >>> x = tf.placeholder(tf.float32, [None, 3], name="x")
    >>> x.name, x.shape.as_list()
    ('x:0', [None, 3])
    """

    __slots__ = ("op", "value_index", "dtype", "_shape", "__weakref__")
    __array_priority__ = 100  # numpy defers `array + tensor` to Tensor.__radd__

    def __init__(self, op: Operation, value_index: int, dtype, shape):
        self.op = op
        self.value_index = value_index
        self.dtype = _dtypes.as_dtype(dtype)
        self._shape = as_shape(shape)

    @property
    def name(self) -> str:
        return f"{self.op.name}:{self.value_index}"

    @property
    def graph(self) -> Graph:
        return self.op.graph

    @property
    def device(self) -> str:
        return self.op.device

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    def set_shape(self, shape) -> None:
        """Refines the static shape; raises ValueError if incompatible."""
        try:
            self._shape = self._shape.merge_with(shape)
        except ValueError:
            raise ValueError(
                f"Tensor {self.name!r} has shape {format_shape(self._shape)}, which is "
                f"incompatible with {format_shape(shape)}"
            ) from None

    def consumers(self) -> list[Operation]:
        return [op for op in self.graph._consumers.get(self, ())]

    def eval(self, feed_dict=None, session=None):
        """Runs the default (or given) session to compute this tensor."""
        return hooks.require("session_for")(self.graph, session).run(self, feed_dict)

    def __repr__(self) -> str:
        return f"<tf.Tensor '{self.name}' shape={self._shape} dtype={self.dtype.name}>"

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other):  # identity, as in TensorFlow 1.x (use tf.equal for values)
        return self is other

    def __ne__(self, other):
        return self is not other

    def __bool__(self):
        raise TypeError(
            f"Using a tf.Tensor ({self.name}) as a Python bool is not allowed: the value is "
            "only known when the graph runs. Use tf.cond or compute it with Session.run."
        )

    def __iter__(self):
        raise TypeError(f"Tensor {self.name} is not iterable in a graph; use tf.unstack or slicing.")

    def __len__(self):
        raise TypeError(f"len() is not defined for Tensor {self.name}; use tf.shape.")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"Cannot convert the symbolic Tensor {self.name} to a numpy array; run it with Session.run first."
        )

    def __reduce__(self):
        raise TypeError(f"Tensor {self.name} cannot be pickled; fetch its value with Session.run.")

    def _api(name, convert=True):  # noqa: N805 - builds the operator methods below
        def method(self, *args):
            if convert:
                args = [_operand(a, self) for a in args]
            return hooks.require("api")[name](self, *args)

        method.__name__ = name
        return method

    def _rapi(name):  # noqa: N805
        def method(self, other):
            return hooks.require("api")[name](_operand(other, self), self)

        return method

    __add__, __radd__ = _api("add"), _rapi("add")
    __sub__, __rsub__ = _api("subtract"), _rapi("subtract")
    __mul__, __rmul__ = _api("multiply"), _rapi("multiply")
    __truediv__, __rtruediv__ = _api("truediv"), _rapi("truediv")
    __floordiv__, __rfloordiv__ = _api("floordiv"), _rapi("floordiv")
    __mod__, __rmod__ = _api("floormod"), _rapi("floormod")
    __pow__, __rpow__ = _api("pow"), _rapi("pow")
    __matmul__, __rmatmul__ = _api("matmul"), _rapi("matmul")
    __lt__, __le__ = _api("less"), _api("less_equal")
    __gt__, __ge__ = _api("greater"), _api("greater_equal")
    __and__, __rand__ = _api("logical_and"), _rapi("logical_and")
    __or__, __ror__ = _api("logical_or"), _rapi("logical_or")
    __xor__, __rxor__ = _api("logical_xor"), _rapi("logical_xor")
    __invert__ = _api("logical_not")
    __neg__ = _api("negative")
    __abs__ = _api("abs")
    __getitem__ = _api("_slice_helper", convert=False)
    del _api, _rapi


def _operand(value, tensor: Tensor):
    """The other operand of a Tensor operator, converted to the tensor's dtype as TF does.

    So `2 * x`, `x - 1` and `np.ones(3) * x` take x's dtype; a Tensor stays as it is.
    """
    if isinstance(_unwrap(value), Tensor | Operation) or hasattr(value, "_as_tensor"):
        return value
    return convert_to_tensor(value, dtype=tensor.dtype)


class NodeDef:
    """A read-only view of an op as TensorFlow's NodeDef: name, op, input, device, attr."""

    def __init__(self, op: Operation):
        self.name = op.name
        self.op = op.type
        self.input = [t.name for t in op.inputs] + [f"^{c.name}" for c in op.control_inputs]
        self.device = op.device
        self.attr = dict(op.attrs)

    def __repr__(self) -> str:
        return f"NodeDef(name={self.name!r}, op={self.op!r}, input={self.input}, device={self.device!r})"


class Operation:
    """A node of the graph: an op type applied to input tensors.

    >>> y = tf.matmul(a, b, name="y")
    >>> y.op.type, [t.name for t in y.op.inputs]
    ('MatMul', ['a:0', 'b:0'])
    """

    def __init__(self, graph, op_type, name, inputs, input_arity, attrs, control_inputs, device, location):
        self.graph = graph
        self.type = op_type
        self.name = name
        self.inputs = tuple(inputs)
        self.input_arity = tuple(input_arity)  # how many flat inputs each declared input took
        self.attrs = attrs
        self._control_inputs = list(control_inputs)
        self.device = device
        self.location = location
        self.outputs: list[Tensor] = []
        self.colocation_groups: list[str] = []
        self._id = len(graph._ops)

    @property
    def op_def(self):
        """The op's declaration in the registry (an ops.registry.Op subclass)."""
        return hooks.require("op_def")(self.type)

    @property
    def creation_order(self) -> int:
        """The op's position in its graph, in creation order (a topological order)."""
        return self._id

    @property
    def control_inputs(self) -> list[Operation]:
        return list(self._control_inputs)

    @property
    def node_def(self) -> NodeDef:
        return NodeDef(self)

    @property
    def traceback(self) -> list[tuple[str, int, str]]:
        return [self.location]

    def values(self) -> tuple[Tensor, ...]:
        return tuple(self.outputs)

    def get_attr(self, name: str):
        try:
            return self.attrs[name]
        except KeyError:
            raise ValueError(f"Operation {self.name!r} ({self.type}) has no attr {name!r}") from None

    def run(self, feed_dict=None, session=None) -> None:
        """Runs this op with the default (or given) session."""
        hooks.require("session_for")(self.graph, session).run(self, feed_dict)

    def describe(self) -> str:
        """`MatMul 'dense/MatMul' (created at train.py:31)`: how errors name an op."""
        return f"{self.type} '{self.name}' (created at {format_location(self.location)})"

    def __repr__(self) -> str:
        return f"<tf.Operation '{self.name}' type={self.type}>"


class Graph:
    """A TensorFlow 1.x dataflow graph.

    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     c = tf.constant(1.0)
    >>> c.graph is g
    True
    """

    def __init__(self):
        self._ops: list[Operation] = []
        self._by_name: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._consumers: dict[Tensor, list[Operation]] = {}
        self._collections: dict[str, list] = {}
        self._finalized = False
        self._lock = threading.RLock()
        self._scopes = threading.local()
        self.seed: int | None = None
        self._created_at = user_location()
        self._feed_derivers: list = []  # callables that add feeds following from a run's feeds (Session.run)

    # -- scope state (per thread, as in TensorFlow) --
    @property
    def _state(self):
        s = self._scopes
        if not hasattr(s, "name_stack"):
            s.name_stack = ""
            s.device_stack = []
            s.control_stack = []
            s.colocation_stack = []
            s.gradient_overrides = {}
        return s

    @property
    def version(self) -> int:
        """The number of ops in the graph; it grows by one per op added."""
        return len(self._ops)

    @property
    def finalized(self) -> bool:
        return self._finalized

    def finalize(self) -> None:
        """Makes the graph read-only: adding an op afterwards raises RuntimeError."""
        self._finalized = True

    def _unsafe_unfinalize(self) -> None:
        self._finalized = False

    def as_graph_def(self, from_version: int | None = None, add_shapes: bool = False):
        """The graph as TensorFlow's GraphDef protocol buffer (what TensorBoard draws).

        >>> [n.name for n in tf.get_default_graph().as_graph_def().node]
        ['x', 'w', 'MatMul']
        """
        graph_def = hooks.require("graph_def")(self, add_shapes)
        if from_version is not None:
            del graph_def.node[:from_version]
        return graph_def

    def describe(self) -> str:
        return f"<Graph {id(self):#x} created at {format_location(self._created_at)}>"

    def __repr__(self) -> str:
        return self.describe()

    def _repr_svg_(self) -> str | None:
        """Jupyter's rich display: the graph as SVG, scopes collapsed (raygraph.viz.to_svg)."""
        render = hooks.render_svg
        return render(self) if render is not None else None

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        """Makes this graph the default for ops created in the `with` block."""
        _default_stack().append(self)
        try:
            yield self
        finally:
            _default_stack().pop()

    # -- names --
    def get_name_scope(self) -> str:
        return self._state.name_stack

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """`name` under the current name scope, made unique with a _N suffix."""
        stack = self._state.name_stack
        if stack:
            name = f"{stack}/{name}"
        key = name.lower()
        count = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = count + 1
        if count > 0:
            base = key
            while key in self._names_in_use:
                key = f"{base}_{count}"
                count += 1
            if mark_as_used:
                self._names_in_use[key] = 1
            name = f"{name}_{count - 1}"
        return name

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """Prefixes the names of ops created inside with `name/`; yields the scope."""
        state = self._state
        old = state.name_stack
        if not name:
            new = ""
        elif name.endswith("/"):
            new = name[:-1]
        else:
            new = self.unique_name(name)
        state.name_stack = new
        try:
            yield f"{new}/" if new else ""
        finally:
            state.name_stack = old

    # -- devices, control dependencies, colocation --
    @contextlib.contextmanager
    def device(self, device_name_or_function) -> Iterator[None]:
        """Requests a device for ops created inside: "/cpu:0", "/gpu:1", "/job:w/task:1"."""
        state = self._state
        if device_name_or_function is not None and not callable(device_name_or_function):
            device_name_or_function = DeviceSpec.from_string(device_name_or_function)
        state.device_stack.append(device_name_or_function)
        try:
            yield
        finally:
            state.device_stack.pop()

    def _device_for(self, op: Operation) -> str:
        spec = DeviceSpec()
        for entry in self._state.device_stack:
            if entry is None:
                spec = DeviceSpec()
            elif callable(entry) and not isinstance(entry, DeviceSpec):
                spec = spec.make_merged_spec(DeviceSpec.from_string(entry(op) or ""))
            else:
                spec = spec.make_merged_spec(entry)
        return spec.to_string()

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs) -> Iterator[None]:
        """Ops created inside run only after `control_inputs`; None clears outer ones."""
        state = self._state
        if control_inputs is None:
            saved, state.control_stack = state.control_stack, []
            try:
                yield
            finally:
                state.control_stack = saved
            return
        ops = []
        for c in control_inputs:
            element = self.as_graph_element(c, allow_tensor=True, allow_operation=True)
            ops.append(element.op if isinstance(element, Tensor) else element)
        state.control_stack.append(ops)
        try:
            yield
        finally:
            state.control_stack.pop()

    @contextlib.contextmanager
    def colocate_with(self, op, ignore_existing: bool = False) -> Iterator[None]:
        """Places ops created inside on the same device as `op`."""
        state = self._state
        if op is None:
            saved, state.colocation_stack = state.colocation_stack, []
            try:
                yield
            finally:
                state.colocation_stack = saved
            return
        element = self.as_graph_element(_unwrap(op), allow_tensor=True, allow_operation=True)
        target = element.op if isinstance(element, Tensor) else element
        state.colocation_stack.append(target)
        try:
            yield
        finally:
            state.colocation_stack.pop()

    @contextlib.contextmanager
    def gradient_override_map(self, op_type_map: dict) -> Iterator[None]:
        """Ops of the types in `op_type_map` made inside take the gradient registered
        (with tf.RegisterGradient) under the mapped name instead of their own.

        >>> @tf.RegisterGradient("ClipGrad")
        ... def _clip(op, dy):
        ...     return [tf.clip_by_value(dy, -1.0, 1.0)]
        >>> with g.gradient_override_map({"Identity": "ClipGrad"}):
        ...     y = tf.identity(x)
        """
        if not isinstance(op_type_map, dict):
            raise TypeError("op_type_map must be a dictionary mapping strings to strings")
        for key, value in op_type_map.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("op_type_map must be a dictionary mapping strings to strings")
        state = self._state
        saved = getattr(state, "gradient_overrides", {})
        state.gradient_overrides = {**saved, **op_type_map}
        try:
            yield
        finally:
            state.gradient_overrides = saved

    # -- building --
    def create_op(self, op_type: str, inputs, attrs=None, name: str | None = None) -> Operation:
        """Adds an op of a registered type; see ops/registry.py for the contract."""
        if self._finalized:
            raise RuntimeError(
                f"Graph is finalized and cannot be modified (adding a {op_type} op at "
                f"{format_location(user_location())})."
            )
        op_def = hooks.require("op_def")(op_type)
        attrs = dict(attrs or {})
        for key, default in op_def.attrs.items():
            if key not in attrs:
                if default is inspect.Parameter.empty:  # ops.registry.REQUIRED
                    raise TypeError(f"{op_type} is missing the required attr {key!r}")
                attrs[key] = default
        with self._lock:
            return self._create_op(op_def, list(inputs), attrs, name)

    def _create_op(self, op_def, inputs, attrs, name) -> Operation:
        location = user_location()
        if name and name.endswith("/"):
            op_name = name[:-1]
            self._names_in_use.setdefault(op_name.lower(), 1)  # the scope that made it counted it
        else:
            op_name = self.unique_name(name or op_def.type)
        with self.name_scope(op_name + "/"):  # constants made from inputs: "<op>/<input>"
            flat, arity = _convert_inputs(self, op_def, inputs, location)
        control = []
        for ops in self._state.control_stack:
            control.extend(c for c in ops if c not in control)
        op = Operation(self, op_def.type, op_name, flat, arity, attrs, control, "", location)
        op.device = self._device_for(op)
        if self._state.colocation_stack:
            target = self._state.colocation_stack[-1]
            op.colocation_groups = target.colocation_groups or [target.name]
        specs = _infer(op_def, op, flat, arity, attrs)
        override = getattr(self._state, "gradient_overrides", {}).get(op_def.type)
        if override is not None:  # after infer: attrs starting "_" reach no shape function or kernel
            attrs["_gradient_op_type"] = override
        op.outputs = [Tensor(op, i, dtype, shape) for i, (dtype, shape) in enumerate(specs)]
        self._ops.append(op)
        self._by_name[op_name] = op
        for t in flat:
            self._consumers.setdefault(t, []).append(op)
        return op

    # -- lookup --
    def get_operations(self) -> list[Operation]:
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        return self.as_graph_element(name, allow_tensor=False, allow_operation=True)

    def get_tensor_by_name(self, name: str) -> Tensor:
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def as_graph_element(self, obj, allow_tensor: bool = True, allow_operation: bool = True):
        """Resolves a Tensor, Operation, Variable or name ("x:0", "x") in this graph."""
        obj = _unwrap(obj)
        if isinstance(obj, str):
            return self._element_by_name(obj, allow_tensor, allow_operation)
        if isinstance(obj, Tensor) and allow_tensor:
            self._check_same_graph(obj)
            return obj
        if isinstance(obj, Operation) and allow_operation:
            self._check_same_graph(obj)
            return obj
        kinds = " or ".join(k for k, ok in (("Tensor", allow_tensor), ("Operation", allow_operation)) if ok)
        raise TypeError(f"Can not convert a {type(obj).__name__} into a {kinds}: {obj!r}")

    def _element_by_name(self, name, allow_tensor, allow_operation):
        if ":" in name:
            if not allow_tensor:
                raise ValueError(f"Name {name!r} looks like a Tensor name, but an Operation was asked for")
            op_name, _, index = name.rpartition(":")
            op = self._by_name.get(op_name)
            if op is None:
                raise KeyError(
                    f"The name {name!r} refers to a Tensor which does not exist: no operation {op_name!r} in {self.describe()}"
                )
            try:
                return op.outputs[int(index)]
            except (ValueError, IndexError):
                raise KeyError(
                    f"The name {name!r} refers to a Tensor which does not exist: {op_name!r} has {len(op.outputs)} outputs"
                ) from None
        if not allow_operation:
            raise ValueError(
                f"The name {name!r} refers to an Operation, not a Tensor. Tensor names look like '<op name>:<output index>', e.g. '{name}:0'."
            )
        op = self._by_name.get(name)
        if op is None:
            raise KeyError(f"The name {name!r} refers to an Operation not in {self.describe()}")
        return op

    def _capture(self, t: Tensor) -> Tensor:
        """`t` as an input of an op of this graph: only its own tensors (FuncGraph
        captures those of the graphs it is nested in)."""
        raise ValueError(foreign_graph_message(t, self))

    @property
    def root(self) -> Graph:
        """The outermost graph (this one; a FuncGraph's is the graph it is nested in)."""
        return self

    def _check_same_graph(self, element) -> None:
        if element.graph is not self:
            raise ValueError(foreign_graph_message(element, self))

    # -- collections --
    def add_to_collection(self, name: str, value) -> None:
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value) -> None:
        for name in [names] if isinstance(names, str) else names:
            self.add_to_collection(name, value)

    def get_collection(self, name: str, scope: str | None = None) -> list:
        items = list(self._collections.get(name, []))
        if scope is None:
            return items
        import re

        pattern = re.compile(scope)
        return [i for i in items if hasattr(i, "name") and pattern.match(i.name)]

    def get_collection_ref(self, name: str) -> list:
        return self._collections.setdefault(name, [])

    def get_all_collection_keys(self) -> list[str]:
        return list(self._collections)

    def clear_collection(self, name: str) -> None:
        self._collections.pop(name, None)


def foreign_graph_message(element, graph: Graph) -> str:
    kind = "Tensor" if isinstance(element, Tensor) else "Operation"
    where = getattr(element, "op", element).location
    return (
        f"{kind} {element.name!r} (created at {format_location(where)}) belongs to "
        f"{element.graph.describe()}, not to {graph.describe()}. Build it in the same graph "
        "(create it inside `with graph.as_default():`, or avoid tf.reset_default_graph() "
        "between building and running), or run it with a Session on its own graph."
    )


def _unwrap(obj):
    """Variables (and other graph-element wrappers) stand for their tensor."""
    as_element = getattr(obj, "_as_graph_element", None)
    return as_element() if as_element is not None else obj


def _convert_inputs(graph, op_def, inputs, location):
    """Flattens and converts the inputs; shared-dtype inputs take one dtype."""
    names = op_def.input_names()
    if len(inputs) != len(names):
        raise TypeError(f"{op_def.type} takes inputs {names}, got {len(inputs)} values")
    hint = None
    for name, value in zip(names, inputs):
        if name in op_def.same_dtype:
            hint = hint or _dtype_of(value)
    flat, arity = [], []
    for i, (name, value) in enumerate(zip(names, inputs)):
        group = list(value) if op_def.is_list_input(i) else [value]
        dtype_hint = hint if name in op_def.same_dtype else None
        for v in group:
            if name in op_def.ref_inputs:
                flat.append(_ref_input(op_def, name, v, location))
                continue
            try:
                t = convert_to_tensor(v, preferred_dtype=dtype_hint, name=name)
            except (TypeError, ValueError) as e:
                raise type(e)(f"{op_def.type} input {name!r} (at {format_location(location)}): {e}") from None
            if t.graph is not graph:
                t = graph._capture(t)  # a control-flow body takes outer values as inputs
            flat.append(t)
        arity.append(len(group))
    if op_def.same_dtype:
        group = [(n, t) for n, t, k in _named(names, flat, arity) if n in op_def.same_dtype]
        first_name, first = group[0]
        for n, t in group[1:]:
            if t.dtype != first.dtype:
                raise TypeError(
                    f"Input {n!r} of {op_def.type} op (at {format_location(location)}) has type "
                    f"{t.dtype.name} that does not match type {first.dtype.name} of argument "
                    f"{first_name!r}. Cast one with tf.cast."
                )
    return flat, arity


def _ref_input(op_def, name, value, location) -> Tensor:
    """A by-reference input: the variable itself (its VariableV2 output), not its value."""
    t = _unwrap(value)
    if not (isinstance(t, Tensor) and hooks.op_def(t.op.type).stateful and t.op.type.startswith("Variable")):
        got = f"Tensor {t.name!r} from a {t.op.type} op" if isinstance(t, Tensor) else repr(t)
        raise TypeError(
            f"Input {name!r} of {op_def.type} (at {format_location(location)}) must be a Variable, got {got}"
        )
    return t


def _named(names, flat, arity):
    i = 0
    for name, n in zip(names, arity):
        for k in range(n):
            yield name, flat[i], k
            i += 1


def _dtype_of(value):
    value = _unwrap(value)
    if isinstance(value, Tensor):
        return value.dtype
    if isinstance(value, np.ndarray | np.generic):
        return _dtypes.as_dtype(value.dtype)
    return None


def _infer(op_def, op, flat, arity, attrs):
    grouped, i = [], 0
    for k, n in enumerate(arity):
        grouped.append(flat[i : i + n] if op_def.is_list_input(k) else flat[i])
        i += n
    try:
        result = op_def.infer(*grouped, **attrs)
    except (ValueError, TypeError, IndexError) as e:
        shapes = ", ".join(f"{t.name.split(':')[0]}: {format_shape(t.shape)} {t.dtype.name}" for t in flat)
        cls = TypeError if isinstance(e, TypeError) else ValueError
        raise cls(f"{op.describe()}: {e} (inputs: {shapes})") from None
    if result is None:
        return []
    if isinstance(result, tuple) and len(result) == 2 and not isinstance(result[0], tuple):
        return [result]
    return list(result)


# -- conversion ---------------------------------------------------------------


def convert_to_tensor(value, dtype=None, name=None, preferred_dtype=None) -> Tensor:
    """Converts a Tensor, Variable, Python number or list, or numpy array to a Tensor.

    Python floats become float32 and ints int32, as in TensorFlow; numpy arrays keep
    their dtype. Lists that hold Tensors are packed with tf.stack.
    """
    as_tensor = getattr(value, "_as_tensor", None)
    value = as_tensor() if as_tensor is not None else _unwrap(value)
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype != _dtypes.as_dtype(dtype):
            raise ValueError(
                f"Tensor conversion requested dtype {_dtypes.as_dtype(dtype).name} for Tensor "
                f"{value.name!r} with dtype {value.dtype.name}"
            )
        return value
    if isinstance(value, Operation):
        raise TypeError(f"Can't convert Operation {value.name!r} to Tensor (use one of its outputs)")
    if isinstance(value, list | tuple) and _contains_tensor(value):
        return hooks.require("api")["stack"](
            [convert_to_tensor(v, dtype, preferred_dtype=preferred_dtype) for v in value]
        )
    array = to_numpy(value, dtype if dtype is not None else preferred_dtype, strict=dtype is not None)
    return constant_op(array, name=name or "Const")


def convert_pair(x, y) -> tuple[Tensor, Tensor]:
    """Converts the operands of a binary op; a Python number takes the other's dtype."""
    hint = _dtype_of(x) or _dtype_of(y)
    return (
        convert_to_tensor(x, preferred_dtype=hint, name="x"),
        convert_to_tensor(y, preferred_dtype=hint, name="y"),
    )


def _contains_tensor(values) -> bool:
    for v in values:
        v = getattr(v, "_as_tensor", lambda v=v: _unwrap(v))()
        if isinstance(v, Tensor) or (isinstance(v, list | tuple) and _contains_tensor(v)):
            return True
    return False


def to_numpy(value, dtype=None, strict: bool = True) -> np.ndarray:
    """A numpy array for a constant, with TensorFlow's default dtypes.

    Python floats become float32 and ints int32 (int64 when too large); numpy values
    keep their dtype. With a `dtype` the value is converted, but never lossily (1.5
    to int32 raises TypeError); with `strict=False` the dtype is only a preference,
    dropped when it does not fit, so the op's dtype check can name both dtypes.
    """
    array = np.asarray(value)
    if not isinstance(value, np.ndarray | np.generic):
        if array.dtype.kind in "US":  # built from the values: numpy's "S" strips trailing NUL bytes
            array = np.array(value, dtype=object)
        elif array.dtype == np.float64:
            array = array.astype(np.float32) if dtype is None else array
        elif array.dtype.kind == "i" and dtype is None:
            array = array.astype(np.int32 if _fits(array, np.int32) else np.int64)
    if dtype is None:
        _dtypes.as_dtype(array.dtype)  # raises TypeError for unsupported dtypes
        return array
    target = _dtypes.as_dtype(dtype)
    if _cast_ok(array, target):
        return array if array.dtype == target.np else array.astype(target.np)
    if not strict:
        return to_numpy(value)
    raise TypeError(f"Expected {target.name}, got {value!r} of type {type(value).__name__} instead.")


def _cast_ok(array: np.ndarray, target) -> bool:
    """Whether converting a constant to `target` keeps its meaning."""
    src = array.dtype.kind
    dst = target.np.kind
    if array.dtype == target.np or array.size == 0:  # no values: tf.constant([], tf.string)
        return True
    if "O" in (src, dst) or ("b" in (src, dst) and src != dst):
        return False
    if src == "f":
        return dst == "f"
    if dst in "iu":
        return _fits(array, target.np)
    return True


def _fits(array, np_dtype) -> bool:
    info = np.iinfo(np_dtype)
    return array.size == 0 or (array.min() >= info.min and array.max() <= info.max)


def constant_op(array: np.ndarray, name: str = "Const") -> Tensor:
    return hooks.require("build")(
        "Const", [], {"value": array, "dtype": _dtypes.as_dtype(array.dtype)}, name=name
    )


# -- the default graph ---------------------------------------------------------

_global_default = Graph()
_local = threading.local()


def _default_stack() -> list[Graph]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def get_default_graph() -> Graph:
    """The graph that new ops go into: the innermost `as_default`, else the global one."""
    stack = _default_stack()
    return stack[-1] if stack else _global_default


def reset_default_graph() -> None:
    """Replaces the global default graph with a new, empty one."""
    global _global_default
    if _default_stack():
        raise AssertionError(
            "Do not use tf.reset_default_graph() to clear nested graphs. If you need a "
            "cleared graph, exit the nesting and create a new graph."
        )
    _global_default = Graph()


def name_scope(name, default_name=None, values=None):
    """TensorFlow 1.x `tf.name_scope(name, default_name=None, values=None)`."""
    graph = get_default_graph()
    if values:
        for v in values:
            element = _unwrap(v)
            if isinstance(element, Tensor | Operation):
                graph = element.graph
                break
    return graph.name_scope(name if name is not None else default_name)


def device(device_name_or_function):
    """`with tf.device("/gpu:0"):` requests a device for the ops created inside."""
    return get_default_graph().device(device_name_or_function)


def control_dependencies(control_inputs):
    """`with tf.control_dependencies([a, b]):` ops inside run after a and b."""
    return get_default_graph().control_dependencies(control_inputs)


def colocate_with(op, ignore_existing: bool = False):
    return get_default_graph().colocate_with(op, ignore_existing)


def get_collection(key: str, scope: str | None = None) -> list:
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key: str) -> list:
    return get_default_graph().get_collection_ref(key)


def add_to_collection(name: str, value) -> None:
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value) -> None:
    get_default_graph().add_to_collections(names, value)


class GraphKeys:
    """Standard collection names, as in TensorFlow."""

    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    LOSSES = "losses"
    UPDATE_OPS = "update_ops"
    GLOBAL_STEP = "global_step"
    TRAIN_OP = "train_op"
    INIT_OP = "init_op"
    SAVERS = "savers"
    READY_OP = "ready_op"
    READY_FOR_LOCAL_INIT_OP = "ready_for_local_init_op"
    LOCAL_INIT_OP = "local_init_op"
    SUMMARY_OP = "summary_op"
    VARIABLES = GLOBAL_VARIABLES
