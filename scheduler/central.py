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
import time
import uuid

import ray

from raygraph import errors
from raygraph.graph import Graph, Operation, Tensor, format_location
from scheduler import placement, runtime, step_stats
from scheduler.plan import Plan, build_plan
from scheduler.transport import Packed

_ABORT_GRACE_S = 0.25  # how long to wait for aborted devices to answer (their kernels may run on)


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

        Returns ({fetch name: array}, StepStats or None).
        """
        run_id = (self.session_id, next(self._run_ids))
        calls = self._start(plan, run_id, feed_values, trace)
        timeout_ms = timeout_in_ms or self.operation_timeout_in_ms
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None
        replies, failure = self._collect(run_id, calls, deadline)
        if failure is not None:
            raise failure
        results, traces = {}, {}
        for (device, part, *_), reply in replies:
            results.update(zip(part.fetches, reply[1]))
            if trace:
                traces[device.name] = reply[2]
        return results, (step_stats.build(plan, traces) if trace else None)

    def _start(self, plan: Plan, run_id, feed_values: dict, trace: bool) -> dict:
        """One `run` call per device, all in flight: {ref: (device, partition, actor, gen, plan id)}.

        A partition counts as loaded once its actor answered (below), so runs
        of a new plan from several threads at once each carry it.
        """
        devices = [self.devices[d] for d in plan.partitions]
        actors = runtime.actors_for(devices)
        destinations = self._destinations[plan.id]
        options = (*self.options, trace)
        calls = {}
        try:
            for device, (actor, gen) in zip(devices, actors):
                part = plan.partitions[device.name]
                first = (plan.id, device.name, gen) not in self.loaded
                sends_to = destinations[device.name]
                peers = runtime.peers_to_send(device, gen, sends_to) if sends_to else None
                setup = (part if first else None, peers) if first or peers else None
                feeds = [Packed(feed_values[k]) for k in part.feeds]
                ref = actor.run.remote(self.session_id, plan.id, run_id, feeds, setup, options)
                calls[ref] = (device, part, actor, gen, plan.id)
        except BaseException:
            self._abort(run_id, list(calls.values()))  # none may wait for a device never called
            raise
        return calls

    def _collect(self, run_id, calls: dict, deadline):
        """Waits for every reply; on the first failure aborts the others. (replies, failure)."""
        pending = list(calls)
        replies, failure = [], None
        while pending:
            if len(pending) == 1 and failure is None and deadline is None:
                ready = pending  # one device left: no need to watch the others
            else:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                if failure is not None:
                    timeout = _ABORT_GRACE_S
                ready, _ = ray.wait(pending, num_returns=1, timeout=timeout)
                if not ready:
                    if failure is not None:
                        break  # aborted devices that do not answer: give up on them
                    waiting = ", ".join(calls[r][0].name for r in pending)
                    failure = errors.DeadlineExceededError(
                        None, None, f"Timed out: the run's deadline passed while waiting for {waiting}."
                    )
                    self._abort(run_id, [calls[r] for r in pending])
                    continue
            ref = ready[0]
            pending.remove(ref)
            call = calls[ref]
            error = self._reply_error(call, ref, replies)
            if error is not None and failure is None:
                failure = error
                self._abort(run_id, [calls[r] for r in pending])
        return replies, failure

    def _reply_error(self, call, ref, replies: list):
        """Reads one reply into `replies`; returns the error it carries, if any."""
        device, _, _, gen, plan_id = call
        try:
            reply = ray.get(ref)
        except ray.exceptions.RayActorError as e:
            return self._actor_died(device, gen, e)
        except ray.exceptions.RayError as e:
            return errors.InternalError(None, None, f"Device {device.name} failed: {e}")
        if reply[0] != "error" or reply[2] is not None:  # it has compiled the partition
            self.loaded.add((plan_id, device.name, gen))
        if reply[0] == "ok":
            replies.append((call, reply))
            return None
        if reply[0] == "aborted":
            return errors.AbortedError(None, None, f"The run was aborted on {device.name}.")
        return self._op_error(device.name, *reply[1:])

    def _abort(self, run_id, calls: list) -> None:
        for _, _, actor, *_ in calls:
            try:
                actor.abort.remote(run_id, "another device failed")
            except Exception:  # noqa: BLE001 - a dead actor cannot be aborted, nor needs to be
                pass

    def _actor_died(self, device: runtime.Device, generation: int, cause: Exception) -> errors.OpError:
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
