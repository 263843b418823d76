"""`Session`: runs a graph on its devices, TensorFlow 1.x style.

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(1000):
            _, loss = sess.run([train_op, loss_t], feed_dict={x: xb, y: yb})

`run` accepts fetches as Tensors, Operations, Variables, names ("loss:0") and
any nesting of lists, tuples, dicts and namedtuples, and returns numpy values in
the same structure. Feeds are checked against the fed tensor's dtype and shape
before anything runs. The work goes to scheduler.engine.central, which plans once
per (fetches, feeds, targets) signature and sends one request per device per run.

The target says where the devices are:
- "" (the default): every device is a Ray actor, on the Ray cluster of this
  process (`ray job submit` gives one) or a local one started on first use
  (scheduler.shell); `list_devices()` names them
  "/job:worker/replica:0/task:T/device:CPU:i" and ".../device:GPU:i";
- "local": every device runs in this process (scheduler.engine.local), with the
  same plans, kernels and errors, without Ray: for unit tests and for stepping
  through a kernel with pdb. Devices are "/job:localhost/replica:0/task:0/device:CPU:i".

`ConfigProto` fields that shape execution: device_count (CPU devices per node,
GPUs used), intra_op_parallelism_threads (BLAS threads in the device actors),
inter_op_parallelism_threads (the actors' pools; default 1), allow_soft_placement,
log_device_placement, operation_timeout_in_ms. graph_options (TensorFlow's
GraphOptions proto, with its OptimizerOptions: opt_level, global_jit_level) is
kept and has no effect: raygraph plans its own graph. `RunOptions(trace_level=
FULL_TRACE)` fills `RunMetadata.step_stats` (see raygraph.timeline).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Mapping

import numpy as np
from tensorboard.compat.proto.config_pb2 import GraphOptions, OptimizerOptions  # noqa: F401 - TF1 exports them

from raygraph import dtypes, errors
from raygraph import graph as _graph
from raygraph.graph import Graph, Operation, Tensor, format_location, get_default_graph
from raygraph.shapes import format_shape

_GROWTH_RUNS = 10  # warn when the graph grew before this many of the last _GROWTH_WINDOW runs
_GROWTH_WINDOW = 100


class GPUOptions:
    """Accepted for compatibility: allow_growth, per_process_gpu_memory_fraction."""

    def __init__(self, allow_growth=False, per_process_gpu_memory_fraction=1.0, visible_device_list=""):
        self.allow_growth = allow_growth
        self.per_process_gpu_memory_fraction = per_process_gpu_memory_fraction
        self.visible_device_list = visible_device_list


class ConfigProto:
    """Session configuration, TensorFlow's fields.

    >>> tf.ConfigProto(device_count={"CPU": 2}, allow_soft_placement=True)
    """

    def __init__(
        self,
        device_count=None,
        intra_op_parallelism_threads=0,
        inter_op_parallelism_threads=0,
        allow_soft_placement=False,
        log_device_placement=False,
        gpu_options=None,
        operation_timeout_in_ms=0,
        graph_options=None,
        cluster_def=None,
        **unknown,
    ):
        if unknown:
            raise TypeError(f"ConfigProto got unknown fields {sorted(unknown)}")
        self.device_count = dict(device_count or {})
        self.intra_op_parallelism_threads = intra_op_parallelism_threads
        self.inter_op_parallelism_threads = inter_op_parallelism_threads
        self.allow_soft_placement = allow_soft_placement
        self.log_device_placement = log_device_placement
        self.gpu_options = gpu_options or GPUOptions()
        self.operation_timeout_in_ms = operation_timeout_in_ms
        self.graph_options = graph_options if graph_options is not None else GraphOptions()
        self.cluster_def = cluster_def  # a tf.train.ClusterSpec's jobs, mapped onto the devices


class RunOptions:
    """Per-run options; any `trace_level` above NO_TRACE fills RunMetadata.step_stats.

    >>> opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE, timeout_in_ms=5000)

    raygraph extension: `steps_per_run=K` runs the fetches' ops K times in a
    row in one request to each device (Keras' steps_per_execution, TPU's
    iterations_per_loop), and returns the last step's values. Meant for a
    train step fed by a tf.data iterator, which reads K batches without the
    driver in between; a feed_dict is fed to every step alike. An error in
    step j ends the run there, the steps before it applied, and says which
    step it was (an OutOfRangeError at the end of the data included); on a
    plan over several devices, one that waits for nothing from the failing
    device may have run a few more of the K steps before the abort reached it.

    >>> opts = tf.RunOptions(steps_per_run=16)
    >>> while True:
    ...     try:
    ...         loss_value, _ = sess.run([loss, train_op], options=opts)
    ...     except tf.errors.OutOfRangeError:
    ...         break
    """

    NO_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE, FULL_TRACE = 0, 1, 2, 3

    def __init__(
        self,
        trace_level=0,
        timeout_in_ms=0,
        output_partition_graphs=False,
        report_tensor_allocations_upon_oom=False,
        inter_op_thread_pool=0,
        steps_per_run=1,
    ):
        if (
            isinstance(steps_per_run, bool)
            or not isinstance(steps_per_run, int | np.integer)
            or steps_per_run < 1
        ):
            raise ValueError(f"RunOptions: steps_per_run must be an integer >= 1, got {steps_per_run!r}")
        self.steps_per_run = int(steps_per_run)
        self.trace_level = trace_level
        self.timeout_in_ms = timeout_in_ms
        self.output_partition_graphs = output_partition_graphs
        self.report_tensor_allocations_upon_oom = report_tensor_allocations_upon_oom
        self.inter_op_thread_pool = inter_op_thread_pool


class RunMetadata:
    """Filled by a traced run: `step_stats` (per device, per node; see raygraph.timeline).

    `partition_graphs` lists, with RunOptions(output_partition_graphs=True), each
    device's partition: an object with `.device` and `.node` (the nodes, with
    name, op, input and device as in a NodeDef).
    """

    def __init__(self):
        from scheduler.engine.step_stats import StepStats

        self.step_stats = StepStats()
        self.partition_graphs = []


# -- default session -----------------------------------------------------------

_local = threading.local()
_open: weakref.WeakSet = weakref.WeakSet()  # sessions not yet closed (weakly: a dropped one closes itself)


def open_sessions() -> list:
    """The Sessions of this process that are not closed (for leak checks: notebooks, tests).

    A Session nobody refers to any more is closed by the garbage collector (at once,
    as a Session holds no reference cycles), so it leaves this list without `close()`.
    """
    return list(_open)


def _session_stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def get_default_session():
    """The innermost session entered with `with sess:` or `sess.as_default()`, or None."""
    stack = _session_stack()
    return stack[-1] if stack else None


def _session_for(graph: Graph, session=None):
    session = session or get_default_session()
    if session is None:
        raise ValueError(
            "Cannot evaluate tensor using `eval()`: No default session is registered. Use "
            "`with sess.as_default()` or pass an explicit session to `eval(session=sess)`"
        )
    if session.graph is not graph:
        raise ValueError(
            f"Cannot use the given session to evaluate tensor: the tensor's graph "
            f"({graph.describe()}) is different from the session's graph "
            f"({session.graph.describe()})."
        )
    return session


_graph.hooks.session_for = _session_for


# -- fetches -------------------------------------------------------------------


class _Fetches:
    """Flattens a nested fetch structure into unique graph elements and rebuilds it."""

    def __init__(self, graph: Graph, fetches):
        self.graph = graph
        self.elements: list = []  # unique Tensors and Operations
        self._index: dict = {}
        self.structure = self._flatten(fetches)

    def _flatten(self, f):
        if isinstance(f, list | tuple) and not _is_graph_element(f):
            items = [self._flatten(x) for x in f]
            if hasattr(f, "_fields"):  # namedtuple
                return ("namedtuple", type(f), items)
            return ("list" if isinstance(f, list) else "tuple", None, items)
        if isinstance(f, Mapping):
            return ("dict", type(f), [(k, self._flatten(v)) for k, v in f.items()])
        if f is None:
            raise TypeError("Fetch argument None has invalid type <class 'NoneType'>")
        if hasattr(f, "_fetch_parts"):  # a SparseTensor: its parts, rebuilt as a SparseTensorValue
            parts, cls = f._fetch_parts()
            return ("namedtuple", cls, [self._flatten(p) for p in parts])
        try:
            element = self.graph.as_graph_element(f, allow_tensor=True, allow_operation=True)
        except TypeError:
            raise TypeError(
                f"Fetch argument {f!r} has invalid type {type(f)}, must be a string or Tensor. "
                "(Can not convert a {type(f).__name__} into a Tensor or Operation.)"
            ) from None
        except (KeyError, ValueError) as e:
            raise type(e)(f"Fetch argument {f!r} cannot be interpreted as a Tensor. ({e})") from None
        if element not in self._index:
            self._index[element] = len(self.elements)
            self.elements.append(element)
        return ("leaf", None, self._index[element])

    def build(self, values: list):
        return self._build(self.structure, values)

    def _build(self, node, values):
        kind, cls, items = node
        if kind == "leaf":
            return values[items]
        if kind == "list":
            return [self._build(x, values) for x in items]
        if kind == "tuple":
            return tuple(self._build(x, values) for x in items)
        if kind == "namedtuple":
            return cls(*[self._build(x, values) for x in items])
        out = {k: self._build(v, values) for k, v in items}
        return out if cls is dict else _rebuild_mapping(cls, out)


def _rebuild_mapping(cls, items: dict):
    try:
        return cls(items)
    except TypeError:
        return items


def _is_graph_element(f) -> bool:
    return hasattr(f, "_as_graph_element")


# -- the session ---------------------------------------------------------------


class Session:
    """A connection to the devices that run `graph`: Ray actors, or this process.

    `target` is "" (Ray actors, the default) or "local" (this process, no Ray).

    >>> with tf.Session() as sess:
    ...     print(sess.run(tf.constant(2.0) * 3.0))
    6.0
    """

    def __init__(self, target: str = "", graph: Graph | None = None, config: ConfigProto | None = None):
        from scheduler.engine.central import CentralScheduler

        self.graph = graph if graph is not None else get_default_graph()
        self.config = config or ConfigProto()
        self._target = target
        client = _client_for(target)
        self._devices = client.devices(self.config.device_count)
        if not self._devices:
            raise errors.UnavailableError(
                None,
                None,
                f"Target {target!r} offers no CPU or GPU to run on (device_count={self.config.device_count}).",
            )
        self._scheduler = CentralScheduler(
            self.graph,
            client,
            self._devices,
            allow_soft_placement=self.config.allow_soft_placement or _after_device_loss.get(),
            log_device_placement=self.config.log_device_placement,
            intra_op_threads=self.config.intra_op_parallelism_threads,
            inter_op_threads=self.config.inter_op_parallelism_threads,
            operation_timeout_in_ms=self.config.operation_timeout_in_ms,
            cluster_jobs=_cluster_jobs(target, self.config),
        )
        self._closed = False
        _open_sessions.setdefault(target, weakref.WeakSet()).add(self)
        _open.add(self)
        self._last_version = None
        self._grew: deque[bool] = deque(maxlen=_GROWTH_WINDOW)  # per recent run: the graph grew before it
        self._warned_growth = False
        self._context_stack: list = []

    # -- lifetime --
    def close(self) -> None:
        """Frees this session's variables and plans on the device actors."""
        if not self._closed:
            self._closed = True
            _open.discard(self)
            self._scheduler.close()

    @classmethod
    def reset(cls, target, containers=None, config=None) -> None:
        """Clears the state (variables, queues, readers) held on `target` by every open session.

        >>> tf.Session.reset("local")   # the sessions on "local" are closed; a new one starts afresh

        Each raygraph session keeps its state in its own containers on the
        target's devices, so resetting closes the target's open sessions: their
        variables and plans are freed and a later `run` on them raises, as after
        TensorFlow's reset. `containers` (names of resource containers) and
        `config` are accepted for TensorFlow's signature; every container is
        cleared.
        """
        if target not in TARGETS:
            _client_for(target)  # raises: the same message as Session(target)
        if containers is not None and not isinstance(containers, list | tuple):
            raise TypeError(f"containers must be a list of strings, got {type(containers).__name__}")
        for session in list(_open_sessions.get(target, ())):
            session.close()

    def __del__(self):
        try:  # no contextlib here: at interpreter exit, module globals may already be None
            self.close()
        except Exception:  # noqa: BLE001 - nothing to tell, nobody to tell it to
            pass

    def __enter__(self):
        stack = contextlib.ExitStack()
        stack.enter_context(self.graph.as_default())
        stack.enter_context(self.as_default())
        self._context_stack.append(stack)
        return self

    def __exit__(self, *exc):
        self._context_stack.pop().close()
        self.close()
        return False

    @contextlib.contextmanager
    def as_default(self):
        """Makes this the default session for `Tensor.eval()` and `Operation.run()`."""
        _session_stack().append(self)
        try:
            yield self
        finally:
            _session_stack().pop()

    @property
    def sess_str(self) -> str:
        return self._target

    def list_devices(self) -> list:
        """The devices this session can place ops on: name, device_type, memory_limit_bytes.

        >>> [d.name for d in sess.list_devices()]
        ['/job:worker/replica:0/task:0/device:CPU:0', '/job:worker/replica:0/task:0/device:GPU:0']
        """
        return [
            _DeviceAttributes(d.name, d.device_type, d.memory_limit_bytes, i + 1)
            for i, d in enumerate(self._devices)
        ]

    # -- running --
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Runs the ops needed for `fetches` and returns their values.

        `fetches` may be a Tensor, Operation, Variable or name, or any nesting of
        lists, tuples, dicts and namedtuples of them; the result has the same
        structure with numpy values (None for Operations). `feed_dict` maps
        tensors (placeholders or any other), or their names, to values.

        A run that fetches no tensor (`sess.run(train_op, feed)`) returns as soon
        as it is sent, so the next step's feed is prepared while the devices
        work; runs still execute in order, and an error in such a run is raised
        by the session's next `run` (its message says so). Fetching any tensor
        waits for everything sent before.
        """
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        self._notice_growth()
        fetch_map = _Fetches(self.graph, fetches)
        feeds = self._check_feeds(feed_dict or {})
        for derive in self.graph._feed_derivers:  # feeds that follow from these (tf.parallel's shards)
            derive(feeds)
        tensors = [e for e in fetch_map.elements if isinstance(e, Tensor)]
        targets = [e for e in fetch_map.elements if isinstance(e, Operation)]
        plan = self._scheduler.plan_for(tensors, list(feeds), targets)
        trace = options is not None and getattr(options, "trace_level", 0) > RunOptions.NO_TRACE
        results, stats = self._scheduler.run(
            plan,
            {t.name: v for t, v in feeds.items()},
            trace=trace,
            timeout_in_ms=getattr(options, "timeout_in_ms", 0) if options is not None else 0,
            steps=getattr(options, "steps_per_run", 1) if options is not None else 1,
        )
        if run_metadata is not None:
            _fill_metadata(run_metadata, plan, stats, options)
        values = []
        for e in fetch_map.elements:
            if isinstance(e, Operation):
                values.append(None)
            elif e in feeds:
                values.append(feeds[e])
            else:
                values.append(_as_result(results[e.name], e))
        return fetch_map.build(values)

    def _check_feeds(self, feed_dict) -> dict[Tensor, np.ndarray]:
        feeds = {}
        for key, value in _expand_feeds(feed_dict):
            try:
                tensor = self.graph.as_graph_element(key, allow_tensor=True, allow_operation=False)
            except (TypeError, ValueError, KeyError) as e:
                raise TypeError(f"Cannot interpret feed_dict key {key!r} as a Tensor: {e}") from None
            feeds[tensor] = _feed_value(tensor, value)
        return feeds

    def _notice_growth(self) -> None:
        """Warns, once, when ops keep being added between runs (a loop that builds ops)."""
        version = self.graph.version
        grew = self._last_version is not None and version > self._last_version
        self._grew.append(grew)
        if grew and sum(self._grew) >= _GROWTH_RUNS and not self._warned_growth and not self.graph.finalized:
            self._warned_growth = True
            new_ops = self.graph._ops[self._last_version : version]
            lines = sorted({format_location(op.location) for op in new_ops})
            warnings.warn(
                f"The graph grew before {sum(self._grew)} of the last {len(self._grew)} Session.run "
                f"calls ({version - self._last_version} ops added since the last run, created at "
                f"{', '.join(lines[:5])}). Ops created inside a training loop make every step "
                "slower and leak memory: build them once before the loop, and call "
                "graph.finalize() to catch this.",
                RuntimeWarning,
                stacklevel=3,
            )
        self._last_version = version


TARGETS = ("", "local")
_after_device_loss = contextvars.ContextVar("raygraph_after_device_loss", default=False)


@contextlib.contextmanager
def _soft_placement_after_loss():
    """Sessions made inside place ops with soft placement: a MonitoredSession re-creating its
    session after a lost device, so that ops pinned to a device whose node is gone run on the
    surviving ones. (Where every device is still there, soft placement changes nothing: the
    first session, with the same graph and devices, placed it without relaxing any request.)"""
    token = _after_device_loss.set(True)
    try:
        yield
    finally:
        _after_device_loss.reset(token)


_open_sessions: dict[str, weakref.WeakSet] = {}  # target -> its open sessions (Session.reset)

_cluster_targets: dict = {}  # "grpc://host:port" -> the ClusterSpec of the tf.train.Server with that target


def register_cluster_target(target: str, cluster) -> None:
    """Called by tf.train.Server: a Session with this target runs on Ray with the cluster's jobs."""
    _cluster_targets[target] = cluster


def _cluster_jobs(target: str, config) -> dict | None:
    """{job: tasks} of the cluster a session names (ConfigProto.cluster_def, else its Server's)."""
    cluster = config.cluster_def if config.cluster_def is not None else _cluster_targets.get(target)
    if cluster is None:
        return None
    from raygraph.train.distributed import cluster_jobs

    return cluster_jobs(cluster)


def _client_for(target: str):
    """The client a session's target names: "" (Ray actors, the default), "grpc://..." (the same:
    the Ray cluster is the cluster; a tf.train.Server's target), or "local"."""
    if target == "local":
        from scheduler.engine.local import LocalClient

        return LocalClient()
    if target == "" or target.startswith("grpc://"):
        from scheduler.shell.client import RayClient

        return RayClient()
    raise ValueError(
        f"Session target {target!r} is not supported: use '' (the default: every device a Ray "
        "actor, on the cluster of this process or a local one) or 'local' (every device in "
        "this process, without Ray)."
    )


class InteractiveSession(Session):
    """A Session that makes itself the default on creation, for shells and notebooks.

    >>> sess = tf.InteractiveSession()
    >>> tf.constant(2.0).eval()
    2.0

    It stays the default session of its thread until `close()`. Creating one closes
    any earlier InteractiveSession of the same graph that is still open: a notebook
    cell that makes `sess = tf.InteractiveSession()` can run again and again without
    piling up sessions that each hold their variables (TF1 only warned and kept them).
    """

    def __init__(self, target: str = "", graph: Graph | None = None, config: ConfigProto | None = None):
        super().__init__(target, graph, config)
        for earlier in [s for s in _session_stack() if isinstance(s, InteractiveSession)]:
            if earlier.graph is self.graph:
                earlier.close()
        self._stack = _session_stack()
        self._stack.append(self)

    def close(self) -> None:
        stack = getattr(self, "_stack", None)
        if stack is not None:
            for i in range(len(stack) - 1, -1, -1):  # this session's entry, wherever it is now
                if stack[i] is self:
                    del stack[i]
                    break
            self._stack = None
        super().close()


def _fill_metadata(run_metadata, plan, stats, options) -> None:
    """RunMetadata of a run: step_stats when traced, partition graphs when asked."""
    if stats is not None:
        run_metadata.step_stats = stats
    if options is not None and getattr(options, "output_partition_graphs", False):
        run_metadata.partition_graphs = [_PartitionGraph(d, p) for d, p in plan.partitions.items()]


class _PartitionGraph:
    """One device's partition, shaped like a GraphDef: `.node` lists NodeDef-like nodes."""

    def __init__(self, device: str, partition):
        self.device = device
        self.node = [_PartitionNode(n, device) for n in partition.nodes]


class _PartitionNode:
    def __init__(self, node, device: str):
        self.name = node.name
        self.op = node.type
        self.input = [k.lstrip("&") for k in node.inputs] + ["^" + c.lstrip("^") for c in node.control]
        self.device = device


class _DeviceAttributes:
    def __init__(self, name: str, device_type: str, memory_limit_bytes: int = 0, incarnation: int = 0):
        self.name = name
        self.device_type = device_type
        self.memory_limit_bytes = memory_limit_bytes
        self.incarnation = incarnation

    def __repr__(self) -> str:
        return f"_DeviceAttributes({self.name}, {self.device_type})"


def _expand_feeds(feed_dict):
    """(key, value) pairs, a SparseTensor key giving one per part (ops.sparse)."""
    for key, value in feed_dict.items():
        if hasattr(key, "_feed_parts"):
            yield from key._feed_parts(value)
        else:
            yield key, value


def _feed_value(tensor: Tensor, value) -> np.ndarray:
    """The fed value as an array of the tensor's dtype; TypeError/ValueError otherwise."""
    what = f"placeholder '{tensor.op.name}'" if tensor.op.type == "Placeholder" else f"tensor '{tensor.name}'"
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        raise TypeError(
            f"The value of a feed cannot be a tf.Tensor object (feeding {what}). Acceptable "
            "feed values include Python scalars, strings, lists, numpy ndarrays."
        )
    try:
        array = np.asarray(value)
        if array.dtype.kind in "US" and not isinstance(value, np.ndarray | np.generic):
            array = np.array(value, dtype=object)  # numpy's "S" and "U" strip trailing NULs
    except Exception as e:  # noqa: BLE001 - any conversion failure is a bad feed
        raise TypeError(f"Cannot feed a {type(value).__name__} to {what}: {e}") from None
    if array.dtype.kind not in "biufUSO" or (array.dtype.kind == "O" and tensor.dtype != dtypes.string):
        raise TypeError(
            f"Cannot feed a value of type {type(value).__name__} to {what}, which has dtype "
            f"{tensor.dtype.name}"
        )
    if array.dtype.kind == "O" and tensor.dtype == dtypes.string:
        odd = next((v for v in array.flat if not isinstance(v, bytes | str)), _NONE)
        if odd is not _NONE:
            raise TypeError(
                f"Cannot feed a {type(odd).__name__} ({odd!r:.40}) to {what}, which has dtype "
                "string: every element must be bytes or str"
            )
    target = tensor.dtype.np
    if array.dtype != target:
        if not _feed_cast_ok(array.dtype, target, array):
            raise TypeError(
                f"Cannot feed a value of dtype {array.dtype} to {what}, which has dtype "
                f"{tensor.dtype.name} (the conversion would lose information; cast it first)"
            )
        array = array.astype(target)
    if not tensor.shape.is_compatible_with(array.shape):
        raise ValueError(
            f"Cannot feed value of shape {format_shape(array.shape)} for {what}, which has "
            f"shape {format_shape(tensor.shape)}"
        )
    return array


_NONE = object()


def _feed_cast_ok(src: np.dtype, dst: np.dtype, array: np.ndarray) -> bool:
    if src.kind == dst.kind == "f":
        return True
    if src.kind in "iub" and dst.kind == "f":
        return src.kind != "b"
    if src.kind in "iu" and dst.kind in "iu":
        info = np.iinfo(dst)
        return array.size == 0 or (array.min() >= info.min and array.max() <= info.max)
    if src.kind in "US" and dst.kind == "O":
        return True
    return False


def _as_result(value, tensor: Tensor):
    """A fetched value as TF returns it: a writable array, or a numpy scalar for 0-d.

    Values read from a device's channel are already the driver's own, writable
    (scheduler.shell.channel reads them into fresh memory): they are handed over
    as they are. Read-only ones (views of memory shared with others) are copied,
    so that every result is the user's own, as TensorFlow's are.
    """
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return value[()]
        if not value.flags.writeable:
            return value.copy()
    return value
