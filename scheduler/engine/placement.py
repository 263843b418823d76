"""Placement: which device runs each op. A pure function of the graph and devices.

    placement = place(ops, ["/job:worker/replica:0/task:0/device:CPU:0", ...])

Rules (TensorFlow's, in its spelling):
1. Colocation. An op taking a variable by reference (Assign, optimizer updates)
   goes where the variable goes; ops created under `colocate_with(x)` (such as
   "w/read") go where x goes. These constraints form groups (union-find over the
   whole graph, so every plan places a variable and its users alike). A
   group's request is the merge of its members' `tf.device` requests, in
   creation order; as in TF, the requests of *followers* (ops made under
   `colocate_with`, ops taking a variable by reference) count only when no
   other member asks for a device: `w.assign_add(...)` inside
   `tf.device("/cpu:1")` still runs where w lives. Two requests that count
   and differ are an InvalidArgumentError naming both ops, unless soft
   placement is on (the first request wins).
2. A request (possibly partial: "/gpu:1", "CPU:0", "/job:worker/task:1") matches
   the session's devices whose fields it sets; among several, a GPU before a CPU,
   then the lowest task and index. "/job:localhost" (TF's in-process job name)
   stands for task 0.
3. No request: the default device, the first GPU of task 0 if there is one,
   else CPU:0 of task 0.
4. A request no device matches is an InvalidArgumentError naming the op, its
   creation line and the device. With soft placement the request is relaxed
   step by step: without the device index, then without the device type, then
   the default device.

5. A cluster (tf.train.ClusterSpec's jobs, `cluster_devices`) maps each of its
   tasks onto one device: a request naming a job of the cluster
   ("/job:ps/task:1", "/job:worker/task:0/device:CPU:0") means that task's
   device (a GPU request, that device's node's GPU). Tasks go round robin over
   the devices in node-interleaved order (CPU:0 of every task, then CPU:1...),
   jobs in sorted order, so they spread over nodes.

State: none. `place` reads the graph and returns {op name: device name}.
"""

from __future__ import annotations

from dataclasses import replace

from raygraph import errors
from raygraph.device import DeviceSpec
from raygraph.graph import Operation, format_location
from scheduler.engine.plan import ref_input_indices


def place(
    ops: list[Operation], devices, allow_soft_placement: bool = False, cluster: dict | None = None
) -> dict[str, str]:
    """{op name: device name} for every op in `ops`.

    `devices` are the session's devices, as full names or objects with `.name`;
    `cluster` maps (job, task) to one of them (`cluster_devices`).
    """
    names = [getattr(d, "name", d) for d in devices]
    specs = {n: DeviceSpec.from_string(n) for n in names}
    if not specs:
        raise errors.UnavailableError(None, None, "There are no devices to place ops on.")
    groups = _Groups(ops[0].graph) if ops else None
    decided: dict[int, str] = {}
    placement: dict[str, str] = {}
    for op in ops:
        root = groups.find(op)
        if root not in decided:
            decided[root] = _place_group(groups.members(root), specs, allow_soft_placement, cluster or {})
        placement[op.name] = decided[root]
    return placement


def cluster_devices(jobs: dict[str, int], devices) -> dict[tuple[str, int], str]:
    """{(job, task): device name}: a cluster's tasks round robin over `devices` (rule 5).

    >>> cluster_devices({"ps": 1, "worker": 2}, [cpu0_of_node0, cpu0_of_node1])
    {("ps", 0): node 0's, ("worker", 0): node 1's, ("worker", 1): node 0's}
    """
    names = [getattr(d, "name", d) for d in devices]
    specs = {n: DeviceSpec.from_string(n) for n in names}
    cpus = [n for n in names if specs[n].device_type == "CPU"] or names
    order = sorted(cpus, key=lambda n: (specs[n].device_index or 0, specs[n].task or 0))
    tasks = [(job, task) for job in sorted(jobs) for task in range(jobs[job])]
    return {key: order[i % len(order)] for i, key in enumerate(tasks)} if order else {}


def default_device(devices) -> str:
    """The first GPU of task 0, else CPU:0 of task 0 (else the first device)."""
    specs = {getattr(d, "name", d): DeviceSpec.from_string(getattr(d, "name", d)) for d in devices}
    return _default(specs)


def _default(specs: dict[str, DeviceSpec]) -> str:
    task0 = [n for n, s in specs.items() if not s.task] or list(specs)
    return _preferred(task0, specs)


def _preferred(candidates: list[str], specs: dict[str, DeviceSpec]) -> str:
    """GPUs before CPUs, then the lowest task, then the lowest index."""

    def key(name):
        s = specs[name]
        return (s.device_type != "GPU", s.task or 0, s.device_index or 0)

    return min(candidates, key=key)


# -- colocation groups ----------------------------------------------------------


class _Groups:
    """Union-find over the graph's colocation constraints (ref inputs, colocate_with)."""

    def __init__(self, graph):
        self.parent: dict[int, int] = {}
        self.ops: dict[int, Operation] = {}
        ops = graph.get_operations()
        by_name = {op.name: op for op in ops}
        for op in ops:
            self.ops[op.creation_order] = op
            for i in ref_input_indices(op):
                self.union(op, op.inputs[i].op)
            for name in op.colocation_groups:
                anchor = by_name.get(name)
                if anchor is not None:
                    self.union(op, anchor)
        self._members: dict[int, list[Operation]] | None = None

    def find(self, op: Operation) -> int:
        i = op.creation_order
        self.parent.setdefault(i, i)
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: Operation, b: Operation) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def members(self, root: int) -> list[Operation]:
        """The group's ops in creation order."""
        if self._members is None:
            self._members = {}
            for _, op in sorted(self.ops.items()):
                self._members.setdefault(self.find(op), []).append(op)
        return self._members.get(root) or [self.ops[root]]


# -- one group ------------------------------------------------------------------


def _place_group(members: list[Operation], specs: dict[str, DeviceSpec], soft: bool, cluster: dict) -> str:
    # As in TF, an op made under colocate_with(x), or taking a variable by
    # reference, gets x's (the variable's) device: its own request counts only
    # when the group's other ops ask for nothing.
    requested = [op for op in members if op.device]
    own = [op for op in requested if not _follower(op)]
    requested = own or requested
    if not requested:
        return _default(specs)
    wanted, first = _normalize(requested[0].device, cluster), requested[0]
    for op in requested[1:]:
        other = _normalize(op.device, cluster)
        if _compatible(wanted, other):
            wanted = wanted.make_merged_spec(other)
        elif not soft:
            raise _conflict(first, op)
    return _resolve(wanted, first, specs, soft)


def _follower(op: Operation) -> bool:
    """Made under colocate_with, or takes a variable by reference."""
    return bool(op.colocation_groups) or bool(ref_input_indices(op))


def _normalize(device: str, cluster: dict) -> DeviceSpec:
    spec = DeviceSpec.from_string(device)
    mapped = cluster.get((spec.job, spec.task or 0)) if spec.job is not None else None
    if mapped is not None:  # a task of the session's ClusterSpec: its device (rule 5)
        target = DeviceSpec.from_string(mapped)
        if spec.device_type == "GPU":
            return replace(target, device_type="GPU", device_index=spec.device_index)
        return target
    if spec.job == "localhost":  # TF's in-process job: this session's first task
        spec = replace(spec, job=None, task=spec.task or 0)
    return spec


def _compatible(a: DeviceSpec, b: DeviceSpec) -> bool:
    return all(x is None or y is None or x == y for x, y in zip(a.__dict__.values(), b.__dict__.values()))


def _resolve(wanted: DeviceSpec, op: Operation, specs: dict[str, DeviceSpec], soft: bool) -> str:
    matches = [n for n, s in specs.items() if wanted.matches(s)]
    if matches:
        return _preferred(matches, specs)
    if soft:
        for relaxed in (
            replace(wanted, device_index=None),
            replace(wanted, device_index=None, device_type=None),
        ):
            matches = [n for n, s in specs.items() if relaxed.matches(s)]
            if matches:
                return _preferred(matches, specs)
        return _default(specs)
    raise errors.InvalidArgumentError(
        None,
        op,
        f"Cannot assign a device for operation '{op.name}' (created at "
        f"{format_location(op.location)}): Could not satisfy explicit device specification "
        f"'{op.device}' because no such device exists. Devices: {', '.join(specs)}. Set "
        "ConfigProto(allow_soft_placement=True) to place it on an available device.",
    )


def _conflict(first: Operation, op: Operation) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(
        None,
        op,
        f"Cannot colocate nodes '{op.name}' (created at {format_location(op.location)}, device "
        f"'{op.device}') and '{first.name}' (created at {format_location(first.location)}, "
        f"device '{first.device}'): they must share a device (a variable and the ops that "
        "take it by reference, or a colocate_with group), but ask for different ones. "
        "Set ConfigProto(allow_soft_placement=True) to use the first one's.",
    )
