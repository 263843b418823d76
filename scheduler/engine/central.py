"""The central scheduler of one Session: plans, then hands runs to the devices.

It knows nothing of Ray or sockets: devices are reached through a `Client`
(scheduler.engine.protocol), the local one or the Ray one, which hands out one
`Link` per device instance.

State, per session:
- `plans`: the plan for each (fetches, feeds, targets) signature, built once
  (prune, place, partition: scheduler.engine.plan, pure).
- `lanes`: one `_Lane` per thread that runs the session. A lane holds its own
  links (device name -> a Link to the device's current instance), `loaded`
  (which (plan, device, generation) triples hold their partition: a partition
  travels with the lane's first run of its plan on a device instance and is
  never sent again on it), `pending` (its runs that returned without waiting,
  train steps, oldest first) and `running` (the run it waits for).

Threads. Runs of one thread take turns on its lane; runs of different threads
go over different links, so they run side by side on the devices: a
QueueRunner thread enqueues while the main thread's dequeue waits for it. A
thread's lane is made on its first run, and a lane whose thread has ended is
taken over by the next new thread (its runs not waited for are read first and
their errors dropped). `close` aborts every run still in flight on any lane
(a dequeue waiting on an empty queue ends with CancelledError) and then frees
the session's state on the devices.

Per run, the scheduler sends one Request per device of the plan, all in flight
at once, and reads one Reply each (a run of K steps, RunOptions.steps_per_run,
is still one Request per device: each device runs its partition K times and
replies with the last step's fetches): a constant number of messages per device
per run, whatever the number of nodes or transfers. Feeds go to the devices
that read them; tensors crossing devices go device to device; fetches come
back in the replies. Each run has an id (session id, counter) that keys its
transfers, so runs never mix. A run that fetches nothing returns as soon as it
is sent (at most MAX_DETACHED such runs in flight); the next run reads their
replies first and raises their error, saying so. A run with a blocking op (an
enqueue or a dequeue, which may wait for other runs) always waits for its
reply, so its error (a closed queue) is raised by its own Session.run, as in
TensorFlow.

Failures. A kernel error comes back as data and is raised as the TF error
class, naming the op, its creation line and the device. Whatever fails first
(a kernel error, a device gone, the deadline), the devices still running that
run are told to abort it, so none waits for a tensor that will never come, and
the session stays usable. A device that replied and then died while others
still work fails the run too (a tensor it sent them may have died with it). A
device gone is an UnavailableError naming it, raised
once per instance by the run that met it; its link is forgotten (in every lane:
`_gone`), and the next run makes a new instance (its variables are gone: reading
one is a FailedPreconditionError).
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

from ops import registry
from raygraph import errors
from raygraph.graph import Graph, Operation, Tensor, format_location
from scheduler.engine import placement, step_stats
from scheduler.engine.plan import Plan, build_plan
from scheduler.engine.protocol import Client, Device, DeviceUnavailable, Link, Reply, Request

ABORT_GRACE_S = 0.25  # how long to wait for aborted devices to answer (their kernels may run on)
_NOT_YET = object()  # _reply_error: the call's reply has not come yet
MAX_DETACHED = 2  # runs sent without waiting, before a new one waits for the oldest


@dataclass
class _Call:
    """One device's part of one run: the link it was sent on."""

    device: Device
    part: object
    link: Link
    plan_id: int
    lane: _Lane


class _Lane:
    """One thread's links to the devices and its runs in flight (see the module docstring)."""

    def __init__(self, owner: threading.Thread):
        self.owner = owner
        self.links: dict[str, Link] = {}
        self.loaded: set[tuple[int, str, int]] = set()
        self.pending: deque = deque()  # (run id, calls, plan) of runs not waited for
        self.running: tuple | None = None  # (run id, calls) of the run waited for
        self.lock = threading.RLock()  # one run at a time on the lane's links


class CentralScheduler:
    """Plans and runs a session's requests on its devices, through `client`."""

    def __init__(
        self,
        graph: Graph,
        client: Client,
        devices: list[Device],
        allow_soft_placement=False,
        log_device_placement=False,
        intra_op_threads=0,
        inter_op_threads=0,
        operation_timeout_in_ms=0,
        cluster_jobs: dict[str, int] | None = None,
    ):
        self.graph = graph
        self.client = client
        self.session_id = uuid.uuid4().hex
        self.devices = {d.name: d for d in devices}
        self._devices_on_node = collections.Counter(d.task for d in devices)  # task -> devices
        self.allow_soft_placement = allow_soft_placement
        self.log_device_placement = log_device_placement
        self.intra_op_threads = int(intra_op_threads or 0)
        self.inter_op_threads = int(inter_op_threads or 0)
        self.operation_timeout_in_ms = operation_timeout_in_ms
        # a ClusterSpec's tasks ("/job:ps/task:1") -> this session's devices
        self.cluster = placement.cluster_devices(cluster_jobs, devices) if cluster_jobs else None
        self.plans: dict[tuple, Plan] = {}
        self.lanes: dict[threading.Thread, _Lane] = {}
        self._destinations: dict[int, dict[str, list[Device]]] = {}
        self._blocking: set[int] = set()  # ids of plans with a blocking op
        self._run_ids = itertools.count(1)
        self._gone: dict[str, int] = {}  # device name -> the newest instance (generation) a run found gone
        self._lock = threading.Lock()  # guards plans, lanes and _closing
        self._closing = False

    @property
    def links(self) -> dict[str, Link]:
        """The calling thread's links (device name -> Link)."""
        lane = self.lanes.get(threading.current_thread())
        return lane.links if lane is not None else {}

    def _lane(self) -> _Lane:
        """The calling thread's lane: its own, an ended thread's, or a new one."""
        me = threading.current_thread()
        lane = self.lanes.get(me)
        if lane is not None:
            return lane
        with self._lock:
            ended = [t for t in self.lanes if not t.is_alive()]
            lane = self.lanes.pop(ended[0]) if ended else _Lane(me)
            lane.owner = me
            self.lanes[me] = lane
        if ended:
            with lane.lock:
                self._drain(lane, quiet=True)
        return lane

    # -- planning --
    def plan_for(self, fetches: list[Tensor], feeds: list[Tensor], targets: list[Operation]) -> Plan:
        key = (tuple(fetches), tuple(feeds), tuple(targets))
        plan = self.plans.get(key)
        if plan is None:
            plan = build_plan(self.graph, fetches, feeds, targets, self._place)
            self._destinations[plan.id] = {
                device: [self.devices[d] for d in sorted({dest for _, dest in part.sends})]
                for device, part in plan.partitions.items()
            }
            if any(_blocking(node) for part in plan.partitions.values() for node in part.nodes):
                self._blocking.add(plan.id)
            with self._lock:
                plan = self.plans.setdefault(key, plan)  # another thread's, if it was first
            if self.log_device_placement:
                self._log_placement(plan)
        return plan

    def _place(self, ops):
        return placement.place(ops, list(self.devices.values()), self.allow_soft_placement, self.cluster)

    def _log_placement(self, plan: Plan) -> None:
        for name, device in plan.placement.items():
            print(f"{name}: ({self.graph.get_operation_by_name(name).type}): {device}", flush=True)

    # -- running --
    def run(self, plan: Plan, feed_values: dict, trace: bool = False, timeout_in_ms: int = 0, steps: int = 1):
        """Runs `plan` with feeds {tensor name: array}, `steps` times in one request per device.

        Returns ({fetch name: array}, StepStats or None). A run with nothing to
        fetch (a train step) on one device returns as soon as it is sent, and
        the next run reads its reply first, raising its error if it failed.
        Runs of one thread take turns; those of several threads run side by side
        (each thread has its own lane).
        """
        lane = self._lane()
        with lane.lock:
            return self._run(lane, plan, feed_values, trace, timeout_in_ms, steps)

    def _run(self, lane: _Lane, plan: Plan, feed_values: dict, trace: bool, timeout_in_ms: int, steps: int):
        if self._closing:
            raise errors.CancelledError(None, None, "Session has been closed.")
        timeout_ms = timeout_in_ms or self.operation_timeout_in_ms
        detached = not plan.fetch_keys and not trace and not timeout_ms and plan.id not in self._blocking
        if not detached or len(plan.partitions) > 1 or len(lane.pending) >= MAX_DETACHED:
            self._drain(lane)
        run_id = (self.session_id, next(self._run_ids))
        calls = self._start(lane, plan, run_id, feed_values, trace, steps)
        with self._lock:  # close() sees the run, or the run sees close()
            closing = self._closing
            if detached:
                lane.pending.append((run_id, calls, plan))
            else:
                lane.running = (run_id, calls)
        if closing:
            self._abort(run_id, calls, "the session was closed")
        if detached:
            return {}, None
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None
        try:
            replies, failure = self._collect(run_id, calls, deadline)
        finally:
            lane.running = None
        if failure is not None:
            if self._closing and not isinstance(failure, errors.DeadlineExceededError):
                raise errors.CancelledError(None, None, f"Session has been closed ({failure.message}).")
            raise failure
        results, traces = {}, {}
        for call, reply in replies:
            results.update(zip(call.part.fetches, reply.fetches))
            if trace:
                traces[call.device.name] = reply.trace
        return results, (step_stats.build(plan, traces) if trace else None)

    def drain(self) -> None:
        """Reads the replies of this thread's runs that returned without waiting; raises the first error."""
        lane = self._lane()
        with lane.lock:
            self._drain(lane)

    def _drain(self, lane: _Lane, quiet: bool = False) -> None:
        failure = None
        while lane.pending:
            run_id, calls, plan = lane.pending.popleft()
            _, error = self._collect(run_id, calls, None)
            if error is not None and failure is None and not quiet:
                names = ", ".join(plan.target_names) or "ops"
                error.message = (
                    f"{error.message} (in an earlier run of {names} that returned without waiting)"
                )
                error.args = (error.message,)
                failure = error
        if failure is not None:
            raise failure

    def _start(
        self, lane: _Lane, plan: Plan, run_id, feed_values: dict, trace: bool, steps: int = 1
    ) -> list[_Call]:
        """Sends the run to every device of the plan: one request each, all in flight.

        The BLAS threads a device uses by default are its node's cores shared by
        the session's devices on the node, less one core on the driver's own node
        (task 0) when the run has feeds: the driver then prepares every step's
        feed in its own process, and a BLAS thread that shares a core with it
        loses more than the core gives (BENCHMARKS.md, "Threads"). A run without
        feeds (a step fed by an input pipeline on the device) leaves the driver
        next to idle, and its devices take every core.
        """
        calls = []
        try:
            for name, part in plan.partitions.items():
                device = self.devices[name]
                link = self._link(lane, device)
                loaded = (plan.id, name, link.generation) in lane.loaded
                request = Request(
                    self.session_id,
                    plan.id,
                    run_id,
                    [feed_values[k] for k in part.feeds],
                    partition=None if loaded else part,
                    blas_threads=self.intra_op_threads,
                    reserved_cores=1 if device.task == 0 and feed_values else 0,
                    devices_on_node=self._devices_on_node[device.task],
                    inter_op_threads=self.inter_op_threads,
                    trace=trace,
                    steps=steps,
                )
                try:
                    link.send(request, self._destinations[plan.id][name])
                except DeviceUnavailable as e:
                    raise self._device_gone(lane, link, e) from None
                lane.loaded.add((plan.id, name, link.generation))  # requests are served in order
                calls.append(_Call(device, part, link, plan.id, lane))
        except BaseException:
            self._abort(run_id, calls)  # none may wait for a device never called
            raise
        return calls

    def _link(self, lane: _Lane, device: Device) -> Link:
        """The lane's link to the device's current instance, made on first use.

        A link to an instance that another thread of the session found gone is
        replaced (when none of this lane's runs in flight uses it): the session raises
        a device's failure once, in the run that met it, not once more in every thread.
        """
        link = lane.links.get(device.name)
        if link is not None and link.generation <= self._gone.get(device.name, -1):
            if not any(call.link is link for _, calls, _ in lane.pending for call in calls):
                self._drop_link(lane, link)
                link = None
        if link is None:
            try:
                link = lane.links[device.name] = self.client.link(device, self.session_id)
            except DeviceUnavailable as e:
                if e.generation is not None:
                    self._found_gone(device, e.generation)
                raise errors.UnavailableError(
                    None, None, f"Device {device.name} is unavailable: {e}"
                ) from None
        return link

    def _collect(self, run_id, calls: list[_Call], deadline):
        """Waits for every reply; on the first failure aborts the others. (replies, failure).

        A device that replied stays watched while others work: it may have died after
        replying, with a tensor it sent them still in its process (a transfer is fire
        and forget), and they would wait for it forever. Its connection closing is
        then the run's failure.
        """
        pending, watched = list(calls), []
        replies, failure = [], None
        while pending:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            if failure is not None:
                timeout = ABORT_GRACE_S
            got = self._wait_any(pending, timeout, watched)
            ready = [c for c in got if c not in watched]
            for call in [c for c in got if c in watched]:
                watched.remove(call)  # readable after its reply: closed, or nothing to watch
                if call.link.gone() and failure is None:
                    cause = "its actor died after its part of the run, with tensors in flight"
                    failure = self._device_gone(call.lane, call.link, cause)
                    self._abort(run_id, pending)
            if not got:
                if failure is not None:
                    break  # aborted devices that do not answer: give up on them
                waiting = ", ".join(c.device.name for c in pending)
                failure = errors.DeadlineExceededError(
                    None, None, f"Timed out: the run's deadline passed while waiting for {waiting}."
                )
                self._abort(run_id, pending)
                continue
            for call in ready:
                error = self._reply_error(call, run_id, replies)
                if error is _NOT_YET:
                    continue  # only an abandoned run's reply was there: wait again
                pending.remove(call)
                if error is not None and failure is None:
                    failure = error
                    self._abort(run_id, pending)
                elif error is None and pending and call.link.mortal:
                    watched.append(call)
        return replies, failure

    def _wait_any(self, pending: list[_Call], timeout, watched: list[_Call] = ()) -> list[_Call]:
        """The calls whose reply has arrived, or watched ones whose connection is readable
        (closed), waiting up to `timeout` seconds (None: until one)."""
        if len(pending) == 1 and timeout is None and not watched:
            return pending  # one device left: read it directly
        calls = [*pending, *watched]
        ready = self.client.wait([c.link for c in calls], timeout)
        return [c for c in calls if c.link in ready]

    def _reply_error(self, call: _Call, run_id, replies: list):
        """Reads one reply into `replies`; returns the error it carries, if any."""
        try:
            reply: Reply | None = call.link.receive(run_id)
        except DeviceUnavailable as e:
            return self._device_gone(call.lane, call.link, e)
        if reply is None:
            return _NOT_YET
        key = (call.plan_id, call.device.name, call.link.generation)
        if reply.has_plan:
            call.lane.loaded.add(key)
        else:
            call.lane.loaded.discard(key)
        if reply.status == "ok":
            replies.append((call, reply))
            return None
        if reply.status == "aborted":
            return errors.AbortedError(None, None, f"The run was aborted on {call.device.name}.")
        return self._op_error(call.device.name, reply)

    def _abort(self, run_id, calls: list[_Call], reason: str = "another device failed") -> None:
        for call in calls:
            call.link.abort(run_id, reason)

    def _device_gone(self, lane: _Lane, link: Link, cause: Exception | str) -> errors.OpError:
        device = link.device
        self._found_gone(device, link.generation)
        self._drop_link(lane, link)
        self.client.forget(link)
        return errors.UnavailableError(
            None,
            None,
            f"Device {device.name} is unavailable: {cause}. Variables it held are lost; the "
            "next run starts it again (re-run the initializers or restore a checkpoint).",
        )

    def _found_gone(self, device: Device, generation: int) -> None:
        with self._lock:
            self._gone[device.name] = max(self._gone.get(device.name, -1), generation)

    def _drop_link(self, lane: _Lane, link: Link) -> None:
        """Closes a link to a dead device instance; its partitions there are gone with it."""
        device = link.device
        if lane.links.get(device.name) is link:
            del lane.links[device.name]
        link.close()
        lane.loaded = {x for x in lane.loaded if x[1] != device.name or x[2] != link.generation}

    def _op(self, name: str | None) -> Operation | None:
        if not name:
            return None
        try:
            return self.graph.get_operation_by_name(name)
        except (KeyError, ValueError):
            return None

    def _op_error(self, device: str, reply: Reply) -> errors.OpError:
        cls = errors.error_class(reply.error_class)
        var_op = self._op(reply.variable)
        if var_op is not None:
            text = (
                f"Attempting to use uninitialized value {reply.variable} (variable created at "
                f"{format_location(var_op.location)}, on {device}). Run "
                "tf.global_variables_initializer() or restore a checkpoint first."
            )
            return cls(None, var_op, text)
        op = self._op(reply.node)
        where = f"{op.describe()} on {device}" if op is not None else f"on {device}"
        return cls(None, op, f"{where}: {reply.message}")

    def close(self) -> None:
        """Ends this thread's runs, aborts the others still in flight, then frees the
        session's state on the devices.

        Train steps this thread ran without waiting finish first (a failure among
        them is a warning). A run waiting in another thread (a dequeue on an
        empty queue, a queue runner's enqueue) raises CancelledError there.
        """
        me = threading.current_thread()
        with self._lock:
            lanes = list(self.lanes.values())
        for lane in lanes:  # this thread's train steps that returned without waiting end first:
            if lane.owner is me:  # nothing it asked for is lost (they never block: runs with
                with lane.lock:  # queue ops always wait for their reply)
                    try:
                        self._drain(lane)
                    except errors.OpError as e:
                        import warnings

                        warnings.warn(
                            f"A run that returned without waiting failed: {e}", RuntimeWarning, stacklevel=3
                        )
        with self._lock:
            self._closing = True
            lanes = list(self.lanes.values())
            in_flight = [lane.running for lane in lanes if lane.running is not None]
            in_flight += [(run_id, calls) for lane in lanes for run_id, calls, _ in lane.pending]
        for run_id, calls in in_flight:
            self._abort(run_id, calls, "the session was closed")
        used = set()
        for lane in lanes:
            with lane.lock:
                try:
                    self._drain(lane, quiet=lane.owner is not me)
                except (errors.CancelledError, errors.AbortedError):
                    pass  # aborted here
                except errors.OpError as e:
                    import warnings

                    warnings.warn(
                        f"A run that returned without waiting failed: {e}", RuntimeWarning, stacklevel=3
                    )
                used |= {d for _, d, _ in lane.loaded}
                lane.loaded.clear()
                for link in lane.links.values():
                    link.close()
                lane.links.clear()
        try:
            self.client.close_session(self.session_id, [self.devices[name] for name in used])
        except Exception:  # noqa: BLE001 - closing must not fail on a dead cluster
            pass
        self.plans.clear()


def _blocking(node) -> bool:
    """Whether a plan's node may wait for other runs (registry.Op.blocking)."""
    op_def = registry.get(node.type) if registry.is_builtin(node.type) else None
    return bool(op_def is not None and op_def.blocking)
