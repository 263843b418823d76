"""The central scheduler of one Session: plans, then hands runs to the actors.

State, per session:
- `plans`: the plan for each (fetches, feeds, targets) signature, built once
  (prune, place, partition: scheduler.plan, pure).
- `loaded`: which (plan, device, actor generation) triples have their
  partition; a partition travels with the first run of its plan on an actor
  instance and is never sent again. Peer handles travel the same way
  (scheduler.runtime.peers_to_send), so a restarted actor is told again.

Per run, the scheduler makes one `run` call per device of the plan, all in
flight at once, and waits for their replies: a constant number of Ray calls
per device per run, whatever the number of nodes or transfers. Feeds go to the
devices that read them; tensors crossing devices go actor to actor
(scheduler.actor); fetches come back in the replies. Each run has an id
(session id, counter) that keys its transfers, so runs never mix.

Failures. A kernel error comes back as data and is raised as the TF error
class, naming the op, its creation line and the device. Whatever fails first
(a kernel error, a dead actor, the deadline), the devices still running that
run are told to `abort` it, so none waits for a tensor that will never come,
and the session stays usable. A dead actor is an UnavailableError naming the
device; it is forgotten, and the next run starts a new one (its variables are
gone: reading one is a FailedPreconditionError).
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass

import ray

from raygraph import errors
from raygraph.graph import Graph, Operation, Tensor, format_location
from scheduler import channel, placement, runtime, step_stats
from scheduler.plan import Plan, build_plan
from scheduler.transport import Packed

_ABORT_GRACE_S = 0.25
MAX_DETACHED = 2  # runs sent without waiting, before a new one waits for the oldest  # how long to wait for aborted devices to answer (their kernels may run on)


@dataclass
class _Call:
    """One device's part of one run: where it was sent and how its reply comes back."""

    device: runtime.Device
    part: object
    actor: object
    generation: int
    plan_id: int
    channel: object = None  # the session's Channel to the device, or None for a classic call
    ref: object = None  # the classic call's reply


class CentralScheduler:
    """Plans and runs a session's requests on its device actors."""

    def __init__(
        self,
        graph: Graph,
        devices: list[runtime.Device],
        allow_soft_placement=False,
        log_device_placement=False,
        intra_op_threads=0,
        inter_op_threads=0,
        operation_timeout_in_ms=0,
    ):
        self.graph = graph
        self.session_id = uuid.uuid4().hex
        self.devices = {d.name: d for d in devices}
        self.allow_soft_placement = allow_soft_placement
        self.log_device_placement = log_device_placement
        self.options = (int(intra_op_threads or 0), int(inter_op_threads or 0))
        self.operation_timeout_in_ms = operation_timeout_in_ms
        self.plans: dict[tuple, Plan] = {}
        self.loaded: set[tuple[int, str, int]] = set()
        self._destinations: dict[int, dict[str, list[runtime.Device]]] = {}
        self._run_ids = itertools.count(1)
        self._pending: deque = deque()  # (run id, calls, plan) of runs not waited for
        self._lock = threading.RLock()  # one run at a time on the session's channels
        self._channels: dict[str, tuple] = {}  # device name -> (actor generation, Channel or None)

    # -- planning --
    def plan_for(self, fetches: list[Tensor], feeds: list[Tensor], targets: list[Operation]) -> Plan:
        key = (tuple(fetches), tuple(feeds), tuple(targets))
        plan = self.plans.get(key)
        if plan is None:
            plan = build_plan(self.graph, fetches, feeds, targets, self._place)
            self.plans[key] = plan
            self._destinations[plan.id] = {
                device: [self.devices[d] for d in sorted({dest for _, dest in part.sends})]
                for device, part in plan.partitions.items()
            }
            if self.log_device_placement:
                self._log_placement(plan)
        return plan

    def _place(self, ops):
        return placement.place(ops, list(self.devices.values()), self.allow_soft_placement)

    def _log_placement(self, plan: Plan) -> None:
        for name, device in plan.placement.items():
            print(f"{name}: ({self.graph._by_name[name].type}): {device}", flush=True)

    # -- running --
    def run(self, plan: Plan, feed_values: dict, trace: bool = False, timeout_in_ms: int = 0):
        """Runs `plan` with feeds {tensor name: array}.

        Returns ({fetch name: array}, StepStats or None). Requests go through the
        session's channels to its devices (scheduler.channel); a run with nothing
        to fetch (a train step) returns as soon as it is sent, and the next run
        reads its replies first, raising its error if it failed.

        Runs of one session from several threads take turns (`_lock`): a
        session's channel carries one run's frames at a time.
        """
        with self._lock:
            return self._run(plan, feed_values, trace, timeout_in_ms)

    def _run(self, plan: Plan, feed_values: dict, trace: bool, timeout_in_ms: int):
        timeout_ms = timeout_in_ms or self.operation_timeout_in_ms
        detached = not plan.fetch_keys and not trace and not timeout_ms
        if not detached or len(plan.partitions) > 1 or len(self._pending) >= MAX_DETACHED:
            self.drain()
        run_id = (self.session_id, next(self._run_ids))
        calls = self._start(plan, run_id, feed_values, trace)
        if detached and all(c.channel for c in calls):
            self._pending.append((run_id, calls, plan))
            return {}, None
        self.drain()  # a classic call overtakes nothing: wait for the detached runs first
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None
        replies, failure = self._collect(run_id, calls, deadline)
        if failure is not None:
            raise failure
        results, traces = {}, {}
        for call, reply in replies:
            results.update(zip(call.part.fetches, reply[1]))
            if trace:
                traces[call.device.name] = reply[2]
        return results, (step_stats.build(plan, traces) if trace else None)

    def drain(self) -> None:
        """Reads the replies of runs that returned without waiting; raises the first error."""
        with self._lock:
            self._drain()

    def _drain(self) -> None:
        failure = None
        while self._pending:
            run_id, calls, plan = self._pending.popleft()
            _, error = self._collect(run_id, calls, None)
            if error is not None and failure is None:
                names = ", ".join(plan.target_names) or "ops"
                error.message = f"{error.message} (in an earlier run of {names} that returned without waiting)"
                error.args = (error.message,)
                failure = error
        if failure is not None:
            raise failure

    def _start(self, plan: Plan, run_id, feed_values: dict, trace: bool) -> list[_Call]:
        """Sends the run to every device of the plan: one request each, all in flight.

        Through the session's channels when every device has one, else as
        classic actor calls. A partition counts as loaded once sent on a channel
        (its frames are served in order) or once its actor answered a call.
        """
        devices = [self.devices[d] for d in plan.partitions]
        actors = runtime.actors_for(devices)
        channels = [self._channel(device, actor, gen) for device, (actor, gen) in zip(devices, actors)]
        if not all(channels):
            channels = [None] * len(devices)
        destinations = self._destinations[plan.id]
        calls = []
        try:
            for device, (actor, gen), chan in zip(devices, actors, channels):
                part = plan.partitions[device.name]
                first = (plan.id, device.name, gen) not in self.loaded
                sends_to = destinations[device.name]
                peers = runtime.peers_to_send(device, gen, sends_to) if sends_to else None
                setup = (part if first else None, peers) if first or peers else None
                values = [feed_values[k] for k in part.feeds]
                feeds = chan.pack_feeds(values) if chan is not None else [Packed(v) for v in values]
                options = (self._intra_for(device), self.options[1], trace)
                request = (self.session_id, plan.id, run_id, feeds, setup, options)
                call = _Call(device, part, actor, gen, plan.id, chan)
                if chan is not None:
                    try:
                        chan.send(request, run_id)
                    except ConnectionError as e:
                        raise self._actor_died(device, gen, e) from None
                    self.loaded.add((plan.id, device.name, gen))
                else:
                    call.ref = actor.run.remote(*request)
                calls.append(call)
        except BaseException:
            self._abort(run_id, calls)  # none may wait for a device never called
            raise
        return calls

    def _intra_for(self, device: runtime.Device):
        """BLAS threads for the device: the configured count, or a share of its node.

        intra_op_parallelism_threads=0 lets the system choose, as in TensorFlow.
        Here that is the node's cores shared by the session's devices on the node,
        less one core on the driver's own node (task 0): the driver feeds every
        step from its own process, and a BLAS thread that has to share a core
        with it loses more than the core gives (BENCHMARKS.md, "Threads").
        Sent as (0, reserve, share); the actor knows its cores.
        """
        if self.options[0]:
            return self.options[0]
        share = sum(1 for d in self.devices.values() if d.task == device.task)
        return (0, 1 if device.task == 0 else 0, share)

    def _channel(self, device: runtime.Device, actor, generation: int):
        """This session's channel to the device's actor instance, connected on first use."""
        entry = self._channels.get(device.name)
        if entry is not None and entry[0] == generation:
            return entry[1]
        if entry is not None:
            entry[1].close()
        chan = channel.connect(device.name, actor, generation)
        self._channels[device.name] = (generation, chan)
        return chan

    def _collect(self, run_id, calls: list[_Call], deadline):
        """Waits for every reply; on the first failure aborts the others. (replies, failure)."""
        pending = list(calls)
        replies, failure = [], None
        while pending:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            if failure is not None:
                timeout = _ABORT_GRACE_S
            ready = self._wait_any(pending, timeout)
            if not ready:
                if failure is not None:
                    break  # aborted devices that do not answer: give up on them
                waiting = ", ".join(c.device.name for c in pending)
                failure = errors.DeadlineExceededError(
                    None, None, f"Timed out: the run's deadline passed while waiting for {waiting}."
                )
                self._abort(run_id, pending)
                continue
            for call in ready:
                pending.remove(call)
                error = self._reply_error(call, run_id, replies)
                if error is not None and failure is None:
                    failure = error
                    self._abort(run_id, pending)
        return replies, failure

    @staticmethod
    def _wait_any(pending: list[_Call], timeout):
        """The calls whose reply has arrived, waiting up to `timeout` seconds (None: until one)."""
        if len(pending) == 1 and timeout is None:
            return pending  # one device left: read (or get) it directly
        if pending[0].channel is not None:
            ready = channel.wait_readable([c.channel for c in pending], timeout)
            return [c for c in pending if c.channel in ready]
        refs = {c.ref: c for c in pending}
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=timeout)
        return [refs[r] for r in ready]

    def _reply_error(self, call: _Call, run_id, replies: list):
        """Reads one reply into `replies`; returns the error it carries, if any."""
        device = call.device
        try:
            reply = call.channel.read_for(run_id) if call.channel is not None else ray.get(call.ref)
        except (ConnectionError, ray.exceptions.RayActorError) as e:
            return self._actor_died(device, call.generation, e)
        except ray.exceptions.RayError as e:
            return errors.InternalError(None, None, f"Device {device.name} failed: {e}")
        if reply[0] != "error" or reply[2] is not None:  # it has compiled the partition
            self.loaded.add((call.plan_id, device.name, call.generation))
        else:
            self.loaded.discard((call.plan_id, device.name, call.generation))
        if reply[0] == "ok":
            replies.append((call, reply))
            return None
        if reply[0] == "aborted":
            return errors.AbortedError(None, None, f"The run was aborted on {device.name}.")
        return self._op_error(device.name, *reply[1:])

    def _abort(self, run_id, calls: list[_Call]) -> None:
        for call in calls:
            try:
                call.actor.abort.remote(run_id, "another device failed")
            except Exception:  # noqa: BLE001 - a dead actor cannot be aborted, nor needs to be
                pass

    def _actor_died(self, device: runtime.Device, generation: int, cause: Exception) -> errors.OpError:
        entry = self._channels.pop(device.name, None)
        if entry is not None and entry[1] is not None:
            entry[1].close()
        channel.forget(device.name, generation)
        runtime.forget_actor(device, generation)
        self.loaded = {x for x in self.loaded if x[1] != device.name or x[2] != generation}
        return errors.UnavailableError(
            None,
            None,
            f"Device {device.name} is unavailable: its actor died ({type(cause).__name__}). "
            "Variables it held are lost; the next run starts a new actor (re-run the "
            "initializers or restore a checkpoint).",
        )

    def _op_error(self, device, class_name, node_name, message, variable=None) -> errors.OpError:
        cls = errors.error_class(class_name)
        op = self.graph._by_name.get(node_name) if node_name else None
        if variable is not None and variable in self.graph._by_name:
            var_op = self.graph._by_name[variable]
            text = (
                f"Attempting to use uninitialized value {variable} (variable created at "
                f"{format_location(var_op.location)}, on {device}). Run "
                "tf.global_variables_initializer() or restore a checkpoint first."
            )
            return cls(None, var_op, text)
        where = f"{op.describe()} on {device}" if op is not None else f"on {device}"
        return cls(None, op, f"{where}: {message}")

    def close(self) -> None:
        """Frees this session's state on the actors still alive."""
        try:
            self.drain()
        except errors.OpError as e:
            import warnings

            warnings.warn(f"A run that returned without waiting failed: {e}", RuntimeWarning, stacklevel=3)
        for device in {d for _, d, _ in self.loaded}:
            actor = runtime.existing_actor(device)
            if actor is None:
                continue
            try:
                actor.close_session.remote(self.session_id)
            except Exception:  # noqa: BLE001 - closing must not fail on a dead cluster
                pass
        self.loaded.clear()
        self.plans.clear()
        for _, chan in self._channels.values():
            if chan is not None:
                chan.close()
        self._channels.clear()
