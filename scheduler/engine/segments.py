"""Splitting a partition into units: straight-line segments between async points.

A device runs its partition as a small dataflow graph of *units*. Each unit is
a run of nodes compiled into one straight-line Python function (scheduler.executor);
units start when their inputs are ready, cheap ones inline on the thread that
made them ready, heavy ones possibly beside it (scheduler.dataflow). Inside a
unit there is no scheduling at all, so a partition with nothing to overlap is
one unit and costs what the straight-line code costs.

Async points are the places where waiting, or running beside other work, can
pay: heavy nodes (scheduler.cost) and received tensors or control tokens. Each
gets a bit; a node's *mask* is the set of async points it depends on,
transitively (through data and control inputs). Nodes with the same mask become
ready at the same moment, up to cheap work, and form one unit, in partition
order. Consequences, which are the invariants the executor relies on:

- A heavy node has a bit of its own, so it starts its unit; cheap nodes that
  depend on it and on nothing later join it (no hop to run a ReLU after a
  matmul).
- If unit A needs a value from unit B, B's mask is a strict subset of A's: the
  unit graph is acyclic, and ordering units by mask size is a topological order.
- A partition without heavy nodes and without receives is a single unit.
- A node that reads state where it is used (`read_at_use`, VariableV2) takes
  the mask of its first consumer, so it runs just before it, in the same unit,
  and sees the assignments that consumer is ordered after. A variable that is
  only fetched, with control inputs on the run's updates of it (plan.updaters),
  takes its mask from them like any node.

Constants are folded by the executor: they belong to the first unit and are
never waited for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.engine.plan import TOKEN, Partition


@dataclass
class Unit:
    """A straight-line run of nodes of one partition."""

    index: int
    nodes: list[int]  # indices into partition.nodes, in partition order
    heavy: bool  # contains a heavy node: may run beside other work
    after: list[int] = field(default_factory=list)  # units that must finish first
    waits: list[str] = field(default_factory=list)  # received keys and tokens it needs
    reads: list[str] = field(default_factory=list)  # values it takes from the run's store
    writes: list[str] = field(default_factory=list)  # values it puts there for others
    sends: list[tuple[str, str]] = field(default_factory=list)  # (key, device) when it ends


def value_inputs(node) -> list[str]:
    """The node's inputs that carry values (not refs to variables)."""
    return [k for k in node.inputs if not k.startswith("&")]


def split(part: Partition) -> list[Unit]:
    """The units of `part`, in a topological order (see the module docstring)."""
    nodes = part.nodes
    masks = _masks(part)
    groups: dict[int, list[int]] = {}
    for i, mask in enumerate(masks):
        groups.setdefault(mask, []).append(i)
    order = sorted(groups, key=lambda m: (bin(m).count("1"), groups[m][0]))
    units = [Unit(u, groups[m], any(nodes[i].heavy for i in groups[m])) for u, m in enumerate(order)]
    _connect(part, units)
    return units


def _masks(part: Partition) -> list[int]:
    """For each node, the set of async points it depends on, as a bit mask."""
    nodes = part.nodes
    index = {node.name: i for i, node in enumerate(nodes)}
    producer = {f"{n.name}:{j}": i for i, n in enumerate(nodes) for j in range(n.num_outputs)}
    received = {key for key, _ in part.recvs}
    bits: dict[str, int] = {}

    def bit(source: str) -> int:
        return 1 << bits.setdefault(source, len(bits))

    masks: list[int] = [0] * len(nodes)
    pending_reads: dict[int, None] = {}  # read_at_use nodes waiting for their first consumer
    for i, node in enumerate(nodes):
        if node.read_at_use and not node.control:  # a fetched-only variable waits for its updates:
            pending_reads[i] = None  # its control inputs give its mask like any node's
            continue
        mask = 0
        first_reads = []
        for key in value_inputs(node) + list(node.control):
            if key in received:
                mask |= bit(key)
                continue
            j = producer.get(key, index.get(key))
            if j is None:
                continue  # fed by the driver: present from the start
            if j in pending_reads:
                first_reads.append(j)
            else:
                mask |= masks[j]
        if node.heavy:
            mask |= bit(node.name)
        masks[i] = mask
        for j in first_reads:
            masks[j] = mask
            pending_reads.pop(j, None)
    return masks  # read_at_use nodes nobody reads and nothing orders keep mask 0


def _connect(part: Partition, units: list[Unit]) -> None:
    """Fills each unit's dependencies, reads, writes and sends."""
    nodes = part.nodes
    unit_of = {i: u.index for u in units for i in u.nodes}
    index = {node.name: i for i, node in enumerate(nodes)}
    producer = {f"{n.name}:{j}": i for i, n in enumerate(nodes) for j in range(n.num_outputs)}
    constant = {f"{n.name}:0" for n in nodes if n.type == "Const"}
    received = {key for key, _ in part.recvs}
    readers: dict[str, set[int]] = {}
    for unit in units:
        after, waits, reads = {}, {}, {}
        for i in unit.nodes:
            for key in value_inputs(nodes[i]) + list(nodes[i].control):
                if key in received:
                    waits[key] = None
                    if not key.startswith(TOKEN):
                        reads[key] = None
                    continue
                j = producer.get(key, index.get(key))
                if j is None:  # fed by the driver
                    reads[key] = None
                elif unit_of[j] != unit.index:
                    after[unit_of[j]] = None  # a constant too: it may wait for a control input
                    if key in producer and key not in constant:
                        reads[key] = None
        unit.after, unit.waits, unit.reads = list(after), list(waits), list(reads)
        for key in unit.reads:
            readers.setdefault(key, set()).add(unit.index)
    sent: dict[str, list[str]] = {}
    for key, device in part.sends:
        sent.setdefault(key, []).append(device)
    fetched = set(part.fetches)
    for unit in units:
        for i in unit.nodes:
            node = nodes[i]
            outputs = [f"{node.name}:{j}" for j in range(node.num_outputs)]
            for key in outputs:
                others = readers.get(key, set()) - {unit.index}
                if others or key in fetched or key in sent:
                    unit.writes.append(key)
            for key in outputs + [TOKEN + node.name]:
                unit.sends.extend((key, device) for device in sent.get(key, ()))
