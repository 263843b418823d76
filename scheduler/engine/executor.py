"""The local executor: a partition of a plan, compiled once into straight-line code.

A partition is split into units (scheduler.segments) and each unit is compiled
into one Python function, one line per node, kernels bound with their attrs
ahead of time. Values cross unit boundaries through the run's store `V` (a
dict keyed by tensor name); inside a unit they are local variables:

    def u0(V):
        v0_0 = V['x:0']
        v1_0 = k1(v0_0, c0)      # dense/MatMul
        del v0_0
        v2_0 = k2(v1_0)          # dense/Relu
        del v1_0
        V['dense/Relu:0'] = v2_0

so a unit costs its kernels plus a few hundred nanoseconds of interpreter time
per node, with no per-node lookups or tests. Constants are evaluated once, at
compile time, and shared by every unit as globals. Each local is deleted after
its last use in the unit; values in `V` are freed by the runner when their last
reading unit ends. A partition with nothing to overlap is a single unit.

Tracing compiles a second variant of every unit, on the first traced run, in
which each node is bracketed by clock reads; an untraced run executes the plain
variant and pays nothing for tracing.

`Program` is the compiled partition (what a device actor keeps per plan);
`Executor` runs a Program synchronously, unit after unit, in-process: the
debugging and unit-test twin of the device actor's asynchronous runner
(scheduler.dataflow), which shares its compiled code.

State that outlives a run belongs to the session, not the executor:
`SessionState` holds the variables, the random generators and the resources
(queues, readers) of one session on one device; every program of that session
shares it.

Blocking kernels (`Op.blocking`: a dequeue from an empty queue) wait on a
condition variable through `KernelContext.wait`, which ends the wait with
CancelledError when the run is cancelled (`Cancellation`, set for the thread
by the runner with `running_with`); the units holding them are marked in
`Program.blocking`, so the asynchronous runner gives them threads of their own.
"""

from __future__ import annotations

import linecache
import threading
import time
import weakref

import numpy as np

from ops import registry
from raygraph import errors
from scheduler.engine import segments
from scheduler.engine.plan import TOKEN, Partition


class SessionState:
    """Variables, random generators and resources of one session on one device.

    `resources` holds state that ops keep by name between runs (tf.data's
    iterator pipelines, ops.data); `close()`, when the session ends, calls the
    `close` of each, which stops the threads it runs.
    """

    def __init__(self):
        self.variables: dict[str, object] = {}
        self.rngs: dict[str, np.random.Generator] = {}
        self.counters: dict[str, int] = {}  # runs counted per node (tf.Print's first_n)
        self.executors: dict[int, Executor] = {}
        self.functions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.resources: dict[str, object] = {}  # queues and readers, by name
        self.lock = threading.Lock()

    def resource(self, name: str, make):
        """The resource called `name`, made by `make()` on first use."""
        with self.lock:
            found = self.resources.get(name)
            if found is None:
                found = self.resources[name] = make()
            return found

    def close(self, reason: str = "the session was closed") -> None:
        """Ends every wait on the session's resources (queues, readers) and closes
        them (tf.data pipelines stop their prefetch threads)."""
        with self.lock:
            resources, self.resources = list(self.resources.values()), {}
        for resource in resources:
            cancel = getattr(resource, "cancel", None)
            if cancel is not None:
                cancel(reason)
            close = getattr(resource, "close", None)
            if close is not None:
                close()


class Cancellation:
    """Cancels the blocking kernels of one run: `cancel(reason)` wakes every wait.

    >>> token = Cancellation()
    >>> with running_with(token):      # on each thread that runs the run's units
    ...     program.fns[0](values)     # a blocked QueueDequeueV2 raises CancelledError
    """

    def __init__(self):
        self.reason: str | None = None
        self._lock = threading.Lock()
        self._watched: dict[int, threading.Condition] = {}

    def cancel(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
            watched = list(self._watched.values())
        for cond in watched:
            with cond:
                cond.notify_all()

    def check(self, what: str) -> None:
        if self.reason is not None:
            raise errors.CancelledError(None, None, f"{what} was cancelled: {self.reason}")

    def wait(self, cond: threading.Condition, what: str) -> None:
        """cond.wait() (cond held), or CancelledError once the run is cancelled."""
        key = id(cond)
        with self._lock:
            self._watched[key] = cond  # before the check: a cancel after it will notify us
        try:
            self.check(what)
            cond.wait()
        finally:
            with self._lock:
                self._watched.pop(key, None)
        self.check(what)


_running = threading.local()


class running_with:  # noqa: N801 - used as a context manager, like a function
    """Makes `token` the cancellation of the kernels this thread runs inside the block."""

    __slots__ = ("token", "saved")

    def __init__(self, token: Cancellation | None):
        self.token = token

    def __enter__(self):
        self.saved = getattr(_running, "token", None)
        _running.token = self.token

    def __exit__(self, *exc):
        _running.token = self.saved


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
            error = errors.FailedPreconditionError(
                None, None, f"Attempting to use uninitialized value {name}"
            )
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

    def wait(self, cond: threading.Condition, what: str) -> None:
        """Waits on `cond` (held by the caller) for a blocking kernel.

        Raises CancelledError naming `what` when the run is cancelled (its
        deadline passed, the session closed, another device failed).
        """
        token = getattr(_running, "token", None)
        if token is None:
            cond.wait()
        else:
            token.wait(cond, what)

    def function(self, plan) -> FunctionRunner:
        """The compiled runner of a control-flow op's sub-graph (a FunctionPlan),
        compiled on first use and kept for the session on this device."""
        runner = self.state.functions.get(plan)
        if runner is None:
            runner = self.state.functions[plan] = FunctionRunner(plan, self.state, self.xp)
        return runner

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


class Program:
    """A Partition compiled for one session on one device; see the module docstring.

    >>> program = Program(partition, SessionState(), numpy)
    >>> program.units[0].index, program.source[:12]
    (0, 'def u0(V):\\n ')
    """

    _count = 0

    def __init__(self, partition: Partition, state: SessionState, xp=np):
        self.partition = partition
        self.state = state
        self.xp = xp
        self.units = segments.split(partition)
        self.feeds = list(partition.feeds)
        self.fetches = list(partition.fetches)
        self._line_nodes: dict[str, dict[int, str]] = {}
        self._env = self._bind()
        self.source, self.fns = self._compile(traced=False)
        self._traced = None
        self._derive()
        self.blocking = [
            any(getattr(self._op_def(partition.nodes[n]), "blocking", False) for n in u.nodes)
            for u in self.units
        ]
        self.may_block = any(self.blocking)

    # -- what the runners need --
    def traced_fns(self) -> list:
        """The units compiled with a clock read around each node (compiled once)."""
        if self._traced is None:
            self._traced = self._compile(traced=True)[1]
        return self._traced

    @property
    def single(self) -> bool:
        """True when the partition is one unit that waits for nothing."""
        return len(self.units) == 1 and not self.units[0].waits

    def node_error(self, exc: BaseException) -> NodeError:
        """The NodeError for an exception raised inside a unit: names the node."""
        node = "<executor>"
        tb = exc.__traceback__
        while tb is not None:
            lines = self._line_nodes.get(tb.tb_frame.f_code.co_filename)
            if lines is not None:
                node = lines.get(tb.tb_lineno, node)
            tb = tb.tb_next
        return NodeError(node, classify(exc), _message(exc), getattr(exc, "variable", None))

    def _derive(self) -> None:
        """Per-unit successor lists, waiting lists and value reference counts."""
        n = len(self.units)
        self.successors: list[list[int]] = [[] for _ in range(n)]
        self.waiters: dict[str, list[int]] = {}
        self.readers: dict[str, int] = {}
        for unit in self.units:
            for a in unit.after:
                self.successors[a].append(unit.index)
            for key in unit.waits:
                self.waiters.setdefault(key, []).append(unit.index)
            for key in unit.reads:
                self.readers[key] = self.readers.get(key, 0) + 1
        self.deps = [len(u.after) + len(u.waits) for u in self.units]
        self.roots = [u.index for u in self.units if self.deps[u.index] == 0]
        kept = set(self.fetches)
        self.releases = [[k for k in u.reads if k not in kept] for u in self.units]
        self.send_only = [
            [k for k in u.writes if k not in kept and k not in self.readers] for u in self.units
        ]

    def _op_def(self, node):
        return self.partition.custom_ops.get(node.type) or registry.get(node.type)

    # -- compiling --
    def _bind(self) -> dict:
        """Kernels and constants, bound once: the globals of every unit function."""
        part, xp = self.partition, self.xp
        env: dict[str, object] = {"_now": time.time_ns, "_nbytes": _nbytes}
        for n, node in enumerate(part.nodes):
            if node.type == "Const":
                env[f"c{n}"] = xp.asarray(node.attrs["value"])
                continue
            op_def = part.custom_ops.get(node.type) or registry.get(node.type)
            backend = KernelContext(node.name, xp, self.state) if op_def.stateful else xp
            env[f"k{n}"] = registry.bind_kernel(op_def, backend, node.attrs)
        return env

    def _compile(self, traced: bool) -> tuple[str, list]:
        lines: list[str] = []
        line_nodes: dict[int, str] = {}
        for unit in self.units:
            self._unit_source(unit, traced, lines, line_nodes)
        source = "\n".join(lines) + "\n"
        Program._count += 1
        kind = "traced " if traced else ""
        filename = f"<raygraph {kind}partition {self.partition.device} #{Program._count}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        weakref.finalize(self, linecache.cache.pop, filename, None)  # goes with the program
        self._line_nodes[filename] = line_nodes
        env = dict(self._env)
        exec(compile(source, filename, "exec"), env)  # noqa: S102 - our own generated code
        return source, [env[f"u{u.index}"] for u in self.units]

    def _unit_source(self, unit: segments.Unit, traced: bool, lines: list, line_nodes: dict) -> None:
        part = self.partition
        nodes = part.nodes
        names: dict[str, str] = {}
        for n, node in enumerate(nodes):
            if node.type == "Const":
                names[f"{node.name}:0"] = f"c{n}"
        lines.append(f"def u{unit.index}(V{', T' if traced else ''}):")
        for r, key in enumerate(unit.reads):
            names[key] = f"r{r}"
            lines.append(f"    r{r} = V[{key!r}]")
        writes = set(unit.writes)
        last = _last_uses(nodes, unit.nodes)
        for n in unit.nodes:
            node = nodes[n]
            outputs = [f"{node.name}:{i}" for i in range(node.num_outputs)]
            if node.type != "Const":
                for i, key in enumerate(outputs):
                    names[key] = f"v{n}_{i}"
                self._node_lines(n, node, names, traced, lines, line_nodes)
            lines.extend(f"    V[{key!r}] = {names[key]}" for key in outputs if key in writes)
            dead = sorted({names[k] for k in last.get(n, ()) if k in names and not names[k].startswith("c")})
            if dead:
                lines.append(f"    del {', '.join(dead)}")
        if len(lines) and lines[-1].startswith("def "):
            lines.append("    pass")

    def _node_lines(self, n: int, node, names: dict, traced: bool, lines: list, line_nodes: dict) -> None:
        op_def = self.partition.custom_ops.get(node.type) or registry.get(node.type)
        call = f"k{n}({_arguments(node, op_def, names)})"
        if traced:
            lines.append("    t = _now()")
        if op_def.multi_output:
            lines.append(f"    r = {call}")
            line_nodes[len(lines)] = node.name
            lines.extend(f"    v{n}_{i} = r[{i}]" for i in range(node.num_outputs))
            result = "r"
        else:
            target = f"v{n}_0 = " if node.num_outputs == 1 else ""
            lines.append(f"    {target}{call}")
            line_nodes[len(lines)] = node.name
            result = f"v{n}_0" if node.num_outputs == 1 else "None"
        if traced:
            lines.append(f"    T.append(({n}, t, _now(), _nbytes({result})))")
            if op_def.multi_output:
                lines.append("    del r")
        elif op_def.multi_output:
            lines.append("    del r")


class Executor:
    """Runs one Partition in-process, unit after unit (tests and debugging).

    >>> ex = Executor(partition, SessionState(), numpy)
    >>> ex.run([x_value])          # feeds in partition.feeds order
    [fetch values in partition.fetches order]

    Received tensors, for a partition that has some, are passed by key:
    `ex.run(feeds, received={"a:0": value, "^init": None})`.
    """

    def __init__(self, partition: Partition, state: SessionState, xp=np):
        self.program = Program(partition, state, xp)
        self.partition = partition
        self.state = state
        self.xp = xp

    @property
    def source(self) -> str:
        return self.program.source

    def run(self, feeds: list, received: dict | None = None) -> list:
        """Runs the partition; raises NodeError naming the node whose kernel failed."""
        program = self.program
        values = dict(zip(program.feeds, feeds))
        values.update({k: v for k, v in (received or {}).items() if not k.startswith(TOKEN)})
        try:
            for fn in program.fns:
                fn(values)
        except Exception as exc:  # noqa: BLE001 - every kernel error becomes a NodeError
            raise program.node_error(exc) from exc
        return [values[k] for k in program.fetches]


class FunctionRunner:
    """Calls a FunctionPlan: arguments in, outputs (and saved values) out.

    >>> run = ctx.function(plan)
    >>> outputs = run([x, w])
    >>> outputs, saved = run([x, w], keep=True)   # what the gradient needs

    A kernel failing inside raises the error class TensorFlow would, naming the
    node inside the function.
    """

    __slots__ = ("program", "fns", "inputs", "outputs", "saved", "name")

    def __init__(self, plan, state: SessionState, xp):
        self.name = plan.name
        self.program = Program(plan.partition, state, xp) if plan.partition.nodes else None
        self.fns = self.program.fns if self.program is not None else []
        self.inputs = plan.inputs
        self.outputs = plan.outputs
        self.saved = plan.saved

    def __call__(self, args, keep: bool = False):
        values = dict(zip(self.inputs, args))
        try:
            for fn in self.fns:
                fn(values)
        except Exception as exc:  # noqa: BLE001 - re-raised as the OpError naming the node
            if isinstance(exc, errors.OpError) and getattr(exc, "_in_function", False):
                raise
            error = self.program.node_error(exc)
            cls = getattr(errors, error.error_class, errors.InvalidArgumentError)
            raised = cls(None, None, f"{error.node_name}: {error.message}")
            raised._in_function = True
            raised.variable = error.variable
            raise raised from exc
        outputs = [values[k] for k in self.outputs]
        if keep:
            return outputs, [values[k] for k in self.saved]
        return outputs


def _arguments(node, op_def, names: dict[str, str]) -> str:
    """The call's argument list: ref inputs as the variable's name, list inputs as lists."""
    values = [repr(k[1:]) if k.startswith("&") else names[k] for k in node.inputs]
    args, i = [], 0
    for index, count in enumerate(node.arity):
        group = values[i : i + count]
        i += count
        args.append(f"[{', '.join(group)}]" if op_def.is_list_input(index) else group[0])
    return ", ".join(args)


def _last_uses(nodes, unit_nodes: list[int]) -> dict[int, list[str]]:
    """For each node of a unit, the keys whose last reader in the unit it is."""
    last: dict[str, int] = {}
    for n in unit_nodes:
        node = nodes[n]
        for key in node.inputs:
            if not key.startswith("&"):
                last[key] = n
        for i in range(node.num_outputs):  # an unused output dies at its producer
            last.setdefault(f"{node.name}:{i}", n)
    out: dict[int, list[str]] = {}
    for key, n in last.items():
        out.setdefault(n, []).append(key)
    return out


def _nbytes(value) -> int:
    if isinstance(value, list | tuple):
        return sum(_nbytes(v) for v in value)
    return int(getattr(value, "nbytes", 0))


def _message(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, errors.OpError):
        text = f"{type(exc).__name__}: {text}"
    return text
