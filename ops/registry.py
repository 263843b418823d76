"""The op registry: every op type is declared once, as a subclass of `Op`.

A declaration holds everything raygraph knows about an op, side by side:

    class MatMul(Op):
        '''Matrix product of the last two dimensions.'''
        inputs = ("a", "b")
        attrs = {"transpose_a": False, "transpose_b": False}
        same_dtype = ("a", "b")
        api = "matmul"

        def infer(a, b, transpose_a, transpose_b):   # at graph construction
            return a.dtype, matmul_shape(...)

        def kernel(xp, a, b, transpose_a, transpose_b):   # xp is numpy or cupy
            return xp.matmul(...)

        def grad(op, dz):   # graph ops; one tensor or None per input
            return [...]

Defining the class registers it; a second op of the same type fails at import and
names the file and line of the first. The methods are plain functions (no `self`).

- `inputs` names the inputs in order; a name ending in "*" takes a list (AddN).
- `attrs` maps attribute names to defaults (`REQUIRED` for none). Attributes are
  static Python values fixed when the graph is built (axes, flags, dtypes).
- `infer(*inputs, **attrs)` gets the input Tensors (dtype, shape, and
  `constant_value` for shape arguments) and returns `(dtype, shape)`, or a list of
  them for several outputs. It raises ValueError/TypeError on bad input; the graph
  adds the op's name, type and the user's source line.
- `kernel(xp, *inputs, **attrs)` computes the outputs from arrays. A `stateful` op
  gets the executor's `KernelContext` instead of `xp` (it has `.xp`, variables and
  random generators). Ops with `multi_output = True` return a sequence.
- `blocking = True` marks stateful ops that may wait for another run (a
  dequeue from an empty queue): they wait with `ctx.wait(cond, what)`, which
  a cancelled run ends, and the runner gives them a thread of their own.
- `grad(op, *output_grads)` builds gradient ops (see raygraph.gradients).
- `broadcasts = True` marks ops whose inputs broadcast numpy-style; their `grad`
  returns gradients of the output's shape and the gradient driver sums them
  back to each input's shape.
- `read_at_use = True` marks ops that read state (VariableV2): they run just
  before their first consumer instead of where they were created, so a read
  ordered after an assignment (control dependencies) sees the new value.
- `ref_inputs` names inputs taken by reference (Assign's variable): the kernel gets
  the variable's name, not its value, and the variable is not read.
- `plan_attrs(op, consumed)` (rare) returns attrs the scheduler derives when it
  plans a run: `consumed` holds the keys of the tensors the run reads, so a
  loop can keep the values its gradient needs only when the gradient runs.
  Attrs holding a sub-graph (raygraph.func_graph.Function) reach the kernel as
  a FunctionPlan, which a stateful kernel runs with `ctx.function(plan)`.
- `api` lists the public names (`"nn.relu"`); `raygraph` exposes a function per
  name, generated from the declaration, unless the family module defines a
  hand-written wrapper with `@api_function`.
- `cost` says how the scheduler estimates the kernel's run time from static
  shapes (scheduler.engine.cost): "elementwise" (the default: its largest
  tensor's elements), "transcendental" (the same, times a few: exp, tanh),
  "free" (no work: Const, Identity, Reshape) or "flops", for ops that also
  declare `flops(op)`, their arithmetic from the op's static shapes (MatMul,
  Conv2D). `heavy = True` (or False) overrides the estimate: a custom op
  wrapping a slow library call.

User code declares ops the same way (examples/custom_op.py); their kernels travel
to the device actors with the plan (`KernelSpec`), so nothing needs installing on
the workers. The built-in ops are those of the families `ops.load_all()` imports
(`is_builtin`); every device actor imports them itself.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass

from raygraph import graph as _graph

REQUIRED = inspect.Parameter.empty

COSTS = ("elementwise", "transcendental", "free", "flops")
"""The values of `Op.cost`: how scheduler.engine.cost estimates a kernel's run time."""

_OPS: dict[str, type[Op]] = {}
_API: dict[str, Callable] = {}
_API_SOURCE: dict[str, str] = {}
_BUILTIN_MODULES: set[str] = set()  # the op families ops.load_all() imported


def _caller_location(depth: int = 2) -> str:
    frame = sys._getframe(depth)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _class_statement_location() -> str:
    """file:line of the `class` statement being executed (past any __init_subclass__)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name == "__init_subclass__":
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else "<unknown>"


class Op:
    """Base class of op declarations; subclassing it registers a new op type."""

    type: str = ""
    inputs: tuple[str, ...] = ()
    attrs: dict = {}
    same_dtype: tuple[str, ...] = ()
    ref_inputs: tuple[str, ...] = ()
    api: str | tuple[str, ...] = ()
    stateful: bool = False
    multi_output: bool = False
    differentiable: bool = True
    broadcasts: bool = False
    read_at_use: bool = False
    blocking: bool = False
    cost: str = "elementwise"
    heavy: bool | None = None
    defined_at: str = ""

    infer: Callable = None
    kernel: Callable = None
    grad: Callable = None
    flops: Callable = None
    plan_attrs: Callable = None

    def __init_subclass__(cls, register: bool = True, **kwargs):
        super().__init_subclass__(**kwargs)
        # A class made by a declaration table (ops.math_unary) names its table row.
        cls.defined_at = cls.__dict__.get("defined_at") or _class_statement_location()
        if register:
            cls.type = cls.__dict__.get("type") or cls.__name__
            _register(cls)

    @classmethod
    def input_names(cls) -> list[str]:
        return [name.rstrip("*") for name in cls.inputs]

    @classmethod
    def is_list_input(cls, index: int) -> bool:
        return cls.inputs[index].endswith("*")


def _register(cls: type[Op]) -> None:
    if not cls.type.isidentifier():
        raise ValueError(f"Op type {cls.type!r} ({cls.defined_at}) must be an identifier")
    if cls.type in _OPS and _OPS[cls.type].defined_at != cls.defined_at:  # a re-run cell may redefine
        first = _OPS[cls.type]
        raise KeyError(
            f"Op type {cls.type!r} is declared twice: at {cls.defined_at} and first at {first.defined_at}"
        )
    missing = [m for m in ("infer", "kernel") if cls.__dict__.get(m) is None and getattr(cls, m) is None]
    if cls.cost == "flops" and cls.flops is None:
        missing.append("flops (it declares cost = 'flops')")
    if missing:
        raise TypeError(f"Op {cls.type!r} ({cls.defined_at}) does not define {', '.join(missing)}")
    if cls.cost not in COSTS:
        raise ValueError(f"Op {cls.type!r} ({cls.defined_at}) has cost {cls.cost!r}; expected one of {COSTS}")
    _OPS[cls.type] = cls
    names = (cls.api,) if isinstance(cls.api, str) else tuple(cls.api)
    for name in names:
        if name not in _API:  # a hand-written wrapper, if any, takes precedence
            _API[name] = _generated_function(cls, name)
            _API_SOURCE[name] = _GENERATED


def get(op_type: str) -> type[Op]:
    """The declaration of `op_type`; a KeyError suggests near names for typos."""
    try:
        return _OPS[op_type]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(op_type, _OPS, n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise KeyError(f"No op type {op_type!r} is registered{hint}") from None


def registered_ops() -> dict[str, type[Op]]:
    """All registered op types, by type name."""
    return dict(_OPS)


def add_builtin_family(module_name: str) -> None:
    """Records that the ops declared by `module_name` are built in (called by ops.load_all)."""
    _BUILTIN_MODULES.add(module_name)


def is_builtin(op_type: str) -> bool:
    """Whether `op_type` is one of raygraph's own ops, declared by a family ops.load_all imports.

    Every device actor runs ops.load_all() and so has the built-in ops; a user
    op (declared anywhere else: a script, a test, a notebook) is not, and its
    kernel travels to the actors with the plan as a KernelSpec.

    >>> registry.is_builtin("MatMul")   # False for Swish, declared in examples/custom_op.py
    True
    """
    return get(op_type).__module__ in _BUILTIN_MODULES


def api_functions(prefix: str = "") -> dict[str, Callable]:
    """Public functions whose name sits directly under `prefix` ("" or "nn.")."""
    out = {}
    for name, fn in _API.items():
        if name.startswith(prefix) and "." not in name[len(prefix) :]:
            out[name[len(prefix) :]] = fn
    return out


_GENERATED = "generated from an op declaration"


def namespace(module_globals: dict, prefix: str) -> Callable:
    """Fills a public module (raygraph, raygraph.nn, ...) with the functions under `prefix`.

    Returns the module's `__getattr__`, which finds names registered later (user ops):

        __getattr__ = registry.namespace(globals(), "nn.")
    """
    module_globals.update(api_functions(prefix))
    module = module_globals["__name__"]

    def __getattr__(name: str):  # noqa: N807 - a module's attribute hook
        fn = _API.get(prefix + name)
        if fn is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return fn

    return __getattr__


def _add_api(name: str, fn: Callable, where: str) -> None:
    first = _API_SOURCE.get(name, _GENERATED)
    if name in _API and first != _GENERATED and first != where:
        raise KeyError(f"API name {name!r} is defined twice: at {where} and first at {first}")
    _API[name] = fn
    _API_SOURCE[name] = where


def api_function(*names: str):
    """Registers a hand-written public function under one or more names.

    Use it where TensorFlow's signature differs from the op's declaration:

        @api_function("reduce_sum")
        def reduce_sum(input_tensor, axis=None, keepdims=False, name=None): ...
    """

    def decorate(fn):
        where = _caller_location(2)
        for name in names:
            _add_api(name, fn, where)
        return fn

    return decorate


class _RegisterGradient:
    """Decorator registering the gradient of an op type, TensorFlow style.

    @RegisterGradient("MyOp")
    def _my_op_grad(op, grad):
        return [grad * 2.0]

    A name that is no op type registers a gradient for Graph.gradient_override_map:
    `with g.gradient_override_map({"Identity": "MyOp"})` gives the Identity ops
    made inside this gradient.
    """

    def __init__(self, op_type: str):
        self.op_type = op_type

    def __call__(self, fn: Callable) -> Callable:
        if self.op_type not in _OPS:  # a name for Graph.gradient_override_map
            where, first = _caller_location(2), _OVERRIDE_AT.get(self.op_type)
            if first is not None and first != where:  # a re-run cell may redefine
                raise KeyError(f"Gradient {self.op_type!r} registered twice: at {where} and first at {first}")
            _OVERRIDE_GRADIENTS[self.op_type] = fn
            _OVERRIDE_AT[self.op_type] = where
            return fn
        cls = get(self.op_type)
        if cls.__dict__.get("grad") is not None:
            first = getattr(cls, "_grad_at", cls.defined_at)
            raise KeyError(
                f"Gradient for {self.op_type!r} registered twice: at {_caller_location(2)} "
                f"and first at {first}"
            )
        cls.grad = staticmethod(fn)
        cls._grad_at = _caller_location(2)
        return fn


RegisterGradient = _RegisterGradient

_OVERRIDE_GRADIENTS: dict[str, Callable] = {}
_OVERRIDE_AT: dict[str, str] = {}


def gradient_function(op_type: str) -> Callable | None:
    """The gradient registered under `op_type`: an op type's, or a name that
    Graph.gradient_override_map maps op types to (None if the op has none)."""
    if op_type in _OVERRIDE_GRADIENTS:
        return _OVERRIDE_GRADIENTS[op_type]
    if op_type in _OPS:
        return _OPS[op_type].grad
    raise LookupError(f"No gradient is registered under {op_type!r} (use @tf.RegisterGradient({op_type!r}))")


def NotDifferentiable(op_type: str) -> None:  # noqa: N802 - TensorFlow's name
    """Declares that `op_type` has no gradient (its inputs get None)."""
    get(op_type).differentiable = False


def build(op_type: str, inputs, attrs=None, name=None):
    """Adds an op of `op_type` to the default graph; returns its output(s)."""
    op = _graph.get_default_graph().create_op(op_type, inputs, attrs or {}, name=name)
    cls = _OPS[op_type]
    if cls.multi_output:
        return list(op.outputs)
    if not op.outputs:
        return op
    return op.outputs[0]


def _generated_function(cls: type[Op], api_name: str) -> Callable:
    """A public function with TensorFlow's argument names: inputs, attrs, name."""
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in cls.input_names()]
    required = [a for a, d in cls.attrs.items() if d is REQUIRED]
    optional = [a for a, d in cls.attrs.items() if d is not REQUIRED]
    params += [inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in required]
    params += [
        inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=cls.attrs[a]) for a in optional
    ]
    params.append(inspect.Parameter("name", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None))
    signature = inspect.Signature(params)
    n_inputs = len(cls.inputs)

    def fn(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = list(bound.arguments.values())
        attrs = dict(zip(list(bound.arguments)[n_inputs:-1], values[n_inputs:-1]))
        return build(cls.type, values[:n_inputs], attrs, name=values[-1])

    fn.__signature__ = signature
    fn.__name__ = fn.__qualname__ = api_name.rsplit(".", 1)[-1]
    fn.__doc__ = cls.__doc__
    fn.__module__ = "raygraph"
    return fn


@dataclass(frozen=True)
class KernelSpec:
    """The run-time part of an op declaration, as plain data.

    User-declared ops travel to the device actors as a KernelSpec (their kernel
    function pickled by value), not as their class: the actor needs only this.
    """

    type: str
    inputs: tuple[str, ...]
    kernel: Callable
    stateful: bool
    multi_output: bool

    def is_list_input(self, index: int) -> bool:
        return self.inputs[index].endswith("*")


def kernel_spec(cls: type[Op]) -> KernelSpec:
    return KernelSpec(cls.type, tuple(cls.inputs), cls.kernel, cls.stateful, cls.multi_output)


def bind_kernel(cls: type[Op], backend, attrs: dict) -> Callable:
    """The kernel of `cls` with its array module (or context) and attrs bound."""
    kernel = cls.kernel
    attrs = {k: v for k, v in attrs.items() if not k.startswith("_")}
    if attrs:
        return functools.partial(kernel, backend, **attrs)
    return functools.partial(kernel, backend)


_graph.hooks.op_def = get
_graph.hooks.build = build
_graph.hooks.api = _API
