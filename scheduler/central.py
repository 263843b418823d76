"""The central scheduler of one Session: plans, then streams runs to the actors.

State, per session:
- `plans`: the plan for each (fetches, feeds, targets) signature, built once.
- `loaded`: which (plan, device) pairs have received their partition; a
  partition travels with its first run and is never sent again.

Per run, the scheduler makes one actor call per device in the plan (all in
flight at once), then waits for all of them: a constant number of Ray round
trips per run, whatever the number of nodes. Devices exchange tensors between
themselves; the driver sends feeds and receives fetches only.

A failed kernel comes back as data and is raised here as the TF error class,
naming the op and the user's line. A dead actor becomes an UnavailableError
naming the device; the next run starts a new actor.
"""

from __future__ import annotations

import uuid

import ray

from raygraph import errors
from raygraph.graph import Graph, Operation, Tensor, format_location
from scheduler import placement, runtime
from scheduler.plan import Plan, build_plan
from scheduler.transport import Packed


class CentralScheduler:
    """Plans and runs a session's requests on its device actors."""

    def __init__(self, graph: Graph, devices: list[runtime.Device], allow_soft_placement=False,
                 log_device_placement=False, intra_op_threads=None):
        self.graph = graph
        self.session_id = uuid.uuid4().hex
        self.devices = {d.name: d for d in devices}
        self.allow_soft_placement = allow_soft_placement
        self.log_device_placement = log_device_placement
        self.intra_op_threads = intra_op_threads
        self.plans: dict[tuple, Plan] = {}
        self.loaded: set[tuple[int, str]] = set()

    def plan_for(self, fetches: list[Tensor], feeds: list[Tensor], targets: list[Operation]) -> Plan:
        key = (tuple(fetches), tuple(feeds), tuple(targets))
        plan = self.plans.get(key)
        if plan is None:
            plan = build_plan(self.graph, fetches, feeds, targets, self._place)
            self.plans[key] = plan
            if self.log_device_placement:
                for name, device in plan.placement.items():
                    print(f"{name}: ({self.graph._by_name[name].type}): {device}")
        return plan

    def _place(self, ops):
        return placement.place(ops, list(self.devices.values()), self.allow_soft_placement)

    def run(self, plan: Plan, feed_values: dict[str, object]) -> dict[str, object]:
        """Runs `plan` with feeds {tensor name: array}; returns {fetch name: array}."""
        calls = []
        for device, part in plan.partitions.items():
            actor = runtime.actor_for(self.devices[device], self.intra_op_threads)
            first = (plan.id, device) not in self.loaded
            feeds = [Packed(feed_values[k]) for k in part.feeds]
            ref = actor.run.remote(self.session_id, plan.id, feeds, part if first else None)
            calls.append((device, part, ref))
            self.loaded.add((plan.id, device))
        results = {}
        failure = None
        for device, part, ref in calls:
            try:
                reply = ray.get(ref)
            except ray.exceptions.RayActorError as e:
                failure = failure or self._actor_died(device, e)
                continue
            if reply[0] == "error":
                failure = failure or self._op_error(device, *reply[1:])
                continue
            results.update(zip(part.fetches, reply[1]))
        if failure is not None:
            raise failure
        return results

    def _actor_died(self, device: str, cause: Exception) -> errors.OpError:
        runtime.forget_actor(self.devices[device])
        self.loaded = {(p, d) for p, d in self.loaded if d != device}
        return errors.UnavailableError(
            None,
            None,
            f"Device {device} is unavailable: its actor died ({type(cause).__name__}). Variables "
            "it held are lost; the next run starts a new actor (re-run the initializers or "
            "restore a checkpoint).",
        )

    def _op_error(self, device, class_name, node_name, message, variable=None) -> errors.OpError:
        cls = errors.error_class(class_name)
        op = self.graph._by_name.get(node_name) if node_name else None
        if variable is not None and variable in self.graph._by_name:
            var_op = self.graph._by_name[variable]
            text = (
                f"Attempting to use uninitialized value {variable} (variable created at "
                f"{format_location(var_op.location)}). Run tf.global_variables_initializer() "
                "or restore a checkpoint first."
            )
            return cls(None, var_op, text)
        where = f"{op.describe()} on {device}" if op is not None else f"on {device}"
        return cls(None, op, f"{where}: {message}")

    def close(self) -> None:
        for device in {d for _, d in self.loaded}:
            try:
                runtime.actor_for(self.devices[device]).close_session.remote(self.session_id)
            except Exception:  # noqa: BLE001 - closing must not fail on a dead cluster
                pass
        self.loaded.clear()
        self.plans.clear()
