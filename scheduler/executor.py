"""The local executor: runs one partition of a plan on one device.

A partition is compiled once into a straight-line Python function, one line per
node, kernels bound with their attrs ahead of time:

    def run(feeds):
        v0, = feeds
        v1 = k1(v0, c0)          # dense/MatMul
        del v0
        v2 = k2(v1)              # dense/Relu
        return [v2]

so a run costs the kernels plus a few hundred nanoseconds of interpreter time per
node, with no per-node dictionary lookups. Constants are evaluated once at compile
time. Each value is deleted after its last use, so memory is freed as early as in
a dataflow executor. `Executor.source` shows the generated code.

State that outlives a run belongs to the session, not the executor:
`SessionState` holds the variables and the random generators of one session on
one device; every executor of that session shares it.

The same `Executor` runs inside a device actor (scheduler.actor) and in-process
for unit tests and debugging; a Session always goes through the actors.
"""

from __future__ import annotations

import linecache
import threading

import numpy as np

from ops import registry
from raygraph import errors
from scheduler.plan import Partition


class SessionState:
    """Variables and random generators of one session on one device."""

    def __init__(self):
        self.variables: dict[str, object] = {}
        self.rngs: dict[str, np.random.Generator] = {}
        self.executors: dict[int, Executor] = {}
        self.lock = threading.Lock()


class KernelContext:
    """What a stateful kernel sees: its node's name, the array module and the state."""

    __slots__ = ("node_name", "xp", "state")

    def __init__(self, node_name: str, xp, state: SessionState):
        self.node_name = node_name
        self.xp = xp
        self.state = state

    def read_variable(self, name: str):
        try:
            return self.state.variables[name]
        except KeyError:
            error = errors.FailedPreconditionError(None, None, f"Attempting to use uninitialized value {name}")
            error.variable = name
            raise error from None

    def assign_variable(self, name: str, value, validate_shape: bool = True):
        old = self.state.variables.get(name)
        if validate_shape and old is not None and old.shape != np.shape(value):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Assign requires shapes of both tensors to match: variable {name} has shape "
                f"{list(old.shape)}, value has shape {list(np.shape(value))}",
            )
        value = self.xp.asarray(value)
        if isinstance(value, np.ndarray) and not value.flags.writeable:
            value = value.copy()  # fed values are read-only views of the object store
        self.state.variables[name] = value
        return value

    def rng(self, seed: int | None, seed2: int | None) -> np.random.Generator:
        """This node's generator: seeded once per session, advancing run by run."""
        gen = self.state.rngs.get(self.node_name)
        if gen is None:
            entropy = None if seed is None else [int(seed), int(seed2 or 0)]
            gen = self.state.rngs[self.node_name] = np.random.default_rng(entropy)
        return gen


class NodeError(Exception):
    """A kernel failed: carries the node's name and the error class to raise."""

    def __init__(self, node_name: str, error_class: str, message: str, variable: str | None = None):
        super().__init__(f"{node_name}: {message}")
        self.node_name = node_name
        self.error_class = error_class
        self.message = message
        self.variable = variable  # the uninitialized variable, when that is the error

    def as_data(self) -> tuple:
        return ("error", self.error_class, self.node_name, self.message, self.variable)


def classify(exc: BaseException) -> str:
    """The TensorFlow error class name for an exception raised by a kernel."""
    if isinstance(exc, errors.OpError):
        return type(exc).__name__
    if isinstance(exc, MemoryError):
        return "ResourceExhaustedError"
    if isinstance(exc, NotImplementedError):
        return "UnimplementedError"
    return "InvalidArgumentError"


class Executor:
    """Runs one Partition, compiled once, many times.

    >>> ex = Executor(partition, SessionState(), numpy)
    >>> ex.run([x_value])          # feeds in partition.feeds order
    [fetch values in partition.fetches order]
    """

    _count = 0

    def __init__(self, partition: Partition, state: SessionState, xp=np):
        self.partition = partition
        self.state = state
        self.xp = xp
        self.source, self._fn, self._line_nodes = self._compile()

    def run(self, feeds: list) -> list:
        """Runs the partition; raises NodeError naming the node whose kernel failed."""
        try:
            return self._fn(feeds)
        except Exception as exc:  # noqa: BLE001 - every kernel error becomes a NodeError
            node = self._failed_node(exc)
            raise NodeError(node, classify(exc), _message(exc), getattr(exc, "variable", None)) from exc

    def _failed_node(self, exc: BaseException) -> str:
        tb = exc.__traceback__
        node = "<executor>"
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self._filename:
                node = self._line_nodes.get(tb.tb_lineno, node)
            tb = tb.tb_next
        return node

    def _compile(self):
        part = self.partition
        custom = part.custom_ops
        names: dict[str, str] = {}
        env: dict[str, object] = {}
        lines = ["def run(feeds):"]
        line_nodes: dict[int, str] = {}
        fetched = set(part.fetches)
        last_use = _last_uses(part)

        for i, key in enumerate(part.feeds):
            names[key] = f"f{i}"
        if part.feeds:
            lines.append(f"    {', '.join(names[k] for k in part.feeds)}, = feeds")

        for n, node in enumerate(part.nodes):
            op_def = custom.get(node.type) or registry.get(node.type)
            if node.type == "Const":
                env[f"c{n}"] = self.xp.asarray(node.attrs["value"])
                names[f"{node.name}:0"] = f"c{n}"
                continue
            backend = KernelContext(node.name, self.xp, self.state) if op_def.stateful else self.xp
            env[f"k{n}"] = registry.bind_kernel(op_def, backend, node.attrs)
            call = f"k{n}({_arguments(node, op_def, names)})"
            outputs = [f"{node.name}:{i}" for i in range(node.num_outputs)]
            for i, key in enumerate(outputs):
                names[key] = f"v{n}_{i}"
            if op_def.multi_output:
                lines.append(f"    r = {call}")
                line_nodes[len(lines)] = node.name
                lines.extend(f"    v{n}_{i} = r[{i}]" for i in range(node.num_outputs))
            else:
                target = f"v{n}_0 = " if node.num_outputs == 1 else ""
                lines.append(f"    {target}{call}")
                line_nodes[len(lines)] = node.name
            dead = [names[k] for k in last_use.get(n, ()) if k not in fetched and k in names]
            dead = [v for v in dead if not v.startswith("c")]
            if dead:
                lines.append(f"    del {', '.join(sorted(set(dead)))}")
        lines.append(f"    return [{', '.join(names[k] for k in part.fetches)}]")

        source = "\n".join(lines) + "\n"
        Executor._count += 1
        self._filename = f"<raygraph partition {part.device} #{Executor._count}>"
        linecache.cache[self._filename] = (len(source), None, source.splitlines(True), self._filename)
        exec(compile(source, self._filename, "exec"), env)  # noqa: S102 - our own generated code
        return source, env["run"], line_nodes


def _arguments(node, op_def, names: dict[str, str]) -> str:
    """The call's argument list: ref inputs as the variable's name, list inputs as lists."""
    values = [repr(k[1:]) if k.startswith("&") else names[k] for k in node.inputs]
    args, i = [], 0
    for index, count in enumerate(node.arity):
        group = values[i : i + count]
        i += count
        args.append(f"[{', '.join(group)}]" if op_def.is_list_input(index) else group[0])
    return ", ".join(args)


def _last_uses(part: Partition) -> dict[int, list[str]]:
    """For each node index, the keys whose last reader it is."""
    last: dict[str, int] = {}
    for n, node in enumerate(part.nodes):
        for key in node.inputs:
            if not key.startswith("&"):
                last[key] = n
        for i in range(node.num_outputs):  # an unused output dies at its producer
            last.setdefault(f"{node.name}:{i}", n)
    out: dict[int, list[str]] = {}
    for key, n in last.items():
        out.setdefault(n, []).append(key)
    return out


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, errors.OpError):
        text = f"{type(exc).__name__}: {text}"
    return text

