"""From a graph and a run request to a plan: prune, place, partition.

Everything here is a pure function of the graph and the request, testable
without Ray:

    plan = build_plan(graph, fetches, feeds, targets, devices)

1. `prune` keeps the ops the fetches and targets need, walking inputs and
   control inputs backwards and stopping at fed tensors. Inputs taken by
   reference (a variable into Assign) do not need the variable to run.
2. `place` (scheduler.placement) gives every kept op one of the session's devices.
3. `partition` splits the ops by device into `Partition`s: plain data (node
   names, op types, input keys, attrs) that a device actor compiles and keeps.
   Each edge that crosses devices becomes a transfer: the producer's partition
   lists the tensor in `sends`, the consumer's in `recvs`, once per (tensor,
   destination device) however many nodes there read it. A control dependency
   across devices becomes a transfer of a token ("^<op name>", no value): the
   consumer waits for it as it would for a tensor.

Tensor keys are tensor names ("dense/MatMul:0"). A ref input is written
"&<variable op name>" and carries the variable's name, not a value. A node's
`control` lists the names of its control inputs on the same device and the
tokens of those on other devices.

Each Node also records what the device's executor needs to decide, once, how
to run it (scheduler.segments): whether it is `heavy` (scheduler.cost, from
static shapes) and whether it reads state where it is used (`read_at_use`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ops import registry
from raygraph import errors
from raygraph.func_graph import Function
from raygraph.graph import Graph, Operation, Tensor
from raygraph.shapes import format_shape
from scheduler.engine import cost

TOKEN = "^"
"""Prefix of a control token's key: "^<op name>" means "that op has run"."""

_plan_ids = itertools.count(1)


@dataclass(frozen=True)
class Node:
    """One op as a device actor sees it."""

    name: str
    type: str
    inputs: tuple[str, ...]
    arity: tuple[int, ...]
    attrs: dict
    num_outputs: int
    control: tuple[str, ...] = ()  # same-device control inputs, and "^name" tokens
    heavy: bool = False  # worth a thread hop when other work is ready (scheduler.cost)
    read_at_use: bool = False  # reads state: runs just before its first consumer


@dataclass
class Partition:
    """The part of a plan that runs on one device, in topological order."""

    device: str
    nodes: list[Node]
    feeds: list[str] = field(default_factory=list)  # fed by the driver, in this order
    fetches: list[str] = field(default_factory=list)  # returned to the driver, in order
    sends: list[tuple[str, str]] = field(default_factory=list)  # (key, destination device)
    recvs: list[tuple[str, str]] = field(default_factory=list)  # (key, source device)
    custom_ops: dict = field(default_factory=dict)  # KernelSpecs of user ops (not registry.is_builtin)


@dataclass
class Plan:
    """How to run one (fetches, feeds, targets) request on the session's devices."""

    id: int
    partitions: dict[str, Partition]
    placement: dict[str, str]  # op name -> device
    fetch_keys: list[str]
    target_names: list[str] = field(default_factory=list)

    def fetch_location(self, key: str) -> tuple[str, int]:
        for device, part in self.partitions.items():
            if key in part.fetches:
                return device, part.fetches.index(key)
        raise KeyError(key)


def ref_input_indices(op: Operation) -> set[int]:
    """Flat indices of `op`'s inputs taken by reference (see ops.registry)."""
    op_def = registry.get(op.type)
    if not op_def.ref_inputs:
        return set()
    out, i = set(), 0
    for name, n in zip(op_def.input_names(), op.input_arity):
        if name in op_def.ref_inputs:
            out.update(range(i, i + n))
        i += n
    return out


def prune(fetches: list[Tensor], feeds: set[Tensor], targets: list[Operation]) -> list[Operation]:
    """The ops needed to compute `fetches` and run `targets`, in creation order."""
    needed: dict[Operation, None] = {}
    stack = [t.op for t in fetches if t not in feeds] + list(targets)
    while stack:
        op = stack.pop()
        if op in needed:
            continue
        needed[op] = None
        refs = ref_input_indices(op)
        for i, t in enumerate(op.inputs):
            if i not in refs and t not in feeds:
                stack.append(t.op)
        stack.extend(c for c in op.control_inputs if not fed_placeholder(c, feeds))
    return sorted(needed, key=lambda op: _run_position(op, needed))


def fed_placeholder(op: Operation, feeds: set[Tensor]) -> bool:
    """A Placeholder whose value is fed: as in TF, a control dependency on it is met by the feed."""
    return op.type == "Placeholder" and op.outputs[0] in feeds


def _run_position(op: Operation, needed) -> float:
    """Where `op` runs: its creation index, or just before its first consumer for ops
    that read state (`read_at_use`, e.g. VariableV2), so that a read ordered after an
    assignment by control dependencies sees the assigned value, as TF's refs do. A
    variable that only is fetched runs after the run's updates of it (`updaters`):
    TF1 fetches a ref variable's buffer when the run ends."""
    if not registry.get(op.type).read_at_use:
        return op.creation_order
    consumers = [
        c.creation_order
        for t in op.outputs
        for c in t.consumers()
        if c in needed and any(x is t for i, x in enumerate(c.inputs) if i not in ref_input_indices(c))
    ]
    if consumers:
        return min(consumers) - 0.5
    later = [c.creation_order for c in updaters(op, needed)]
    return max(later) + 0.5 if later else op.creation_order


def updaters(op: Operation, needed) -> list[Operation]:
    """The ops of the run that update variable `op` (take it by reference: Assign, Apply*)."""
    out = []
    for t in op.outputs:
        for c in t.consumers():
            if c in needed and any(x is t for i, x in enumerate(c.inputs) if i in ref_input_indices(c)):
                out.append(c)
    return out


def check_feeds(ops: list[Operation], feeds: set[Tensor]) -> None:
    """Every placeholder that runs must be fed: InvalidArgumentError naming it."""
    for op in ops:
        if op.type == "Placeholder" and op.outputs[0] not in feeds:
            t = op.outputs[0]
            raise errors.InvalidArgumentError(
                None,
                op,
                f"You must feed a value for placeholder tensor '{op.name}' with dtype "
                f"{t.dtype.name} and shape {format_shape(t.shape)} (placeholder created at "
                f"{_where(op)}).",
            )


def _where(op: Operation) -> str:
    from raygraph.graph import format_location

    return format_location(op.location)


def build_plan(
    graph: Graph,
    fetches: list[Tensor],
    feeds: list[Tensor],
    targets: list[Operation],
    placement_fn,
) -> Plan:
    """Prunes, places and partitions; `placement_fn(ops) -> {op name: device}`."""
    fed = set(feeds)
    ops = prune(fetches, fed, targets)
    check_feeds(ops, fed)
    placement = placement_fn(ops)
    fetch_keys = [t.name for t in fetches if t not in fed]
    partitions = partition(ops, placement, fed, fetch_keys)
    return Plan(next(_plan_ids), partitions, placement, fetch_keys, [t.name for t in targets])


def partition(
    ops: list[Operation], placement: dict[str, str], fed: set[Tensor], fetch_keys: list[str]
) -> dict[str, Partition]:
    """Splits placed ops into one Partition per device, with transfers between them."""
    parts: dict[str, Partition] = {}
    producer_device: dict[str, str] = {}
    fed_names = {t.name for t in fed}

    def part(device: str) -> Partition:
        if device not in parts:
            parts[device] = Partition(device, [])
        return parts[device]

    consumed = {t.name for op in ops for t in op.inputs} | set(fetch_keys)
    needed = set(ops)
    read = {t.name for c in ops for i, t in enumerate(c.inputs) if i not in ref_input_indices(c)}
    fetched_only = set(fetch_keys) - read
    fetched_only_updaters = {  # a variable fetched, not read, waits for the run's updates of it
        op.name: updaters(op, needed)
        for op in ops
        if registry.get(op.type).read_at_use and op.outputs[0].name in fetched_only
    }
    sinks = _sinks(ops)
    for op in ops:
        device = placement[op.name]
        p = part(device)
        refs = ref_input_indices(op)
        keys = []
        for i, t in enumerate(op.inputs):
            if i in refs:
                keys.append("&" + t.op.name)
                continue
            key = t.name
            keys.append(key)
            source = "driver" if key in fed_names else producer_device[key]
            if source == "driver":
                if key not in p.feeds:
                    p.feeds.append(key)
            elif source != device and (key, source) not in p.recvs:
                p.recvs.append((key, source))
                parts[source].sends.append((key, device))
        control = []
        extra = fetched_only_updaters.get(op.name, [])
        for c in list(op.control_inputs) + extra:
            if fed_placeholder(c, fed):
                continue
            source = placement[c.name]
            if source == device:
                control.append(c.name)
                continue
            if op in sinks:  # the run waits for c's device anyway
                continue
            token = TOKEN + c.name
            control.append(token)
            if (token, source) not in p.recvs:
                p.recvs.append((token, source))
                parts[source].sends.append((token, device))
        op_def = registry.get(op.type)
        p.nodes.append(
            Node(
                op.name,
                op.type,
                tuple(keys),
                op.input_arity,
                _plain_attrs(op, op_def, consumed),
                len(op.outputs),
                tuple(control),
                cost.is_heavy(op),
                bool(op_def.read_at_use),
            )
        )
        for t in op.outputs:
            producer_device[t.name] = device
        if not registry.is_builtin(op.type):  # a user op: the actors lack its kernel
            p.custom_ops[op.type] = registry.kernel_spec(op_def)
        for value in p.nodes[-1].attrs.values():  # user ops called inside a loop or branch
            for plan in value if isinstance(value, list) else [value]:
                if isinstance(plan, FunctionPlan):
                    p.custom_ops.update(plan.partition.custom_ops)

    for key in fetch_keys:
        device = producer_device[key]
        parts[device].fetches.append(key)
    return parts


def _sinks(ops: list[Operation]) -> set[Operation]:
    """The NoOps nothing else in the run waits for (a train op grouping updates).

    A run ends when every device has run its part, so a sink NoOp's control
    inputs on other devices are met when the run ends whether or not the sink
    waits for them: `partition` drops them, and with them a token sent between
    devices, a round trip at the very end of every step (BENCHMARKS.md,
    "Data parallelism: two replicas"). Its control inputs on its own device stay.
    """
    waited_for = {c for op in ops for c in op.control_inputs}
    return {op for op in ops if op.type == "NoOp" and op not in waited_for}


# -- functions: the sub-graphs of control-flow ops ----------------------------------


@dataclass(eq=False)
class FunctionPlan:
    """A control-flow op's sub-graph as plain data: one partition, run as a call.

    `inputs` are the keys of the function's placeholders, in argument order;
    `outputs` the keys of its results (an input's key when it returns an input
    unchanged); `saved` the keys whose values a gradient needs from each call
    (raygraph.func_graph.Function.saved). The executor compiles it once per
    session and device (scheduler.engine.executor.KernelContext.function).
    """

    name: str
    partition: Partition
    inputs: list[str]
    outputs: list[str]
    saved: list[str]


def function_plan(fn: Function) -> FunctionPlan:
    """Prunes and partitions a Function's graph for one device; see FunctionPlan."""
    inputs = list(fn.inputs)
    fed = set(inputs)
    wanted = list(fn.outputs) + list(fn.saved)
    ops = prune(wanted, fed, [])
    check_feeds(ops, fed)
    fetch_keys = list(dict.fromkeys(t.name for t in wanted if t not in fed))
    parts = partition(ops, dict.fromkeys((op.name for op in ops), fn.name), fed, fetch_keys)
    part = parts.get(fn.name) or Partition(fn.name, [])
    for t in inputs:  # every argument is passed, used or not
        if t.name not in part.feeds:
            part.feeds.append(t.name)
    return FunctionPlan(
        fn.name, part, [t.name for t in inputs], [t.name for t in fn.outputs], [t.name for t in fn.saved]
    )


def _plain_value(value):
    """A Function as a FunctionPlan; a list or tuple of Functions (tf.data's) as a list of them."""
    if isinstance(value, Function):
        return function_plan(value)
    if isinstance(value, list | tuple) and value and all(isinstance(v, Function) for v in value):
        return [function_plan(v) for v in value]
    return value


def _plain_attrs(op: Operation, op_def, consumed: set[str]) -> dict:
    """The op's attrs as a device needs them: sub-graphs as FunctionPlans, and what the
    op's declaration derives from the plan (`plan_attrs`, e.g. whether a loop keeps
    the values its gradient needs: only when the gradient runs too)."""
    attrs = {k: _plain_value(v) for k, v in op.attrs.items()}
    if op_def.plan_attrs is not None:
        attrs.update(op_def.plan_attrs(op, consumed))
    return attrs
