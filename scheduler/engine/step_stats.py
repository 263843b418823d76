"""Step statistics of a traced run, in the shape of TensorFlow's StepStats proto.

    md = tf.RunMetadata()
    sess.run(y, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
    for dev in md.step_stats.dev_stats:
        for ns in dev.node_stats:
            print(dev.device, ns.node_name, ns.all_start_micros, ns.all_end_rel_micros)

`StepStats.dev_stats` lists a `DeviceStepStats` per device of the run (`.device`,
`.node_stats`); each `NodeExecStats` has TF's fields: node_name,
all_start_micros (wall clock), op_start_rel_micros, op_end_rel_micros,
all_end_rel_micros, timeline_label ("name = Op(input, ...)", inputs named as TF
names them: "x" for "x:0", "x:1" otherwise), thread_id, the *_nanos twins, and
`output` (a NodeOutput per output with its allocation's requested_bytes).

Transfers appear as nodes too: on the producer's device "_Send/<tensor>@<dest>"
(from the start of packing to the call leaving), on the consumer's device
"_Recv/<tensor>@<source>" (from the sender's start to the tensor being stored
here, so it spans the whole transfer). Their label names the tensor, its bytes
and the other device, and `transfer` holds (tensor, source, destination, bytes).

`build(plan, traces)` makes a StepStats from what the device actors return.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AllocationDescription:
    requested_bytes: int = 0
    allocated_bytes: int = 0
    allocator_name: str = ""


@dataclass
class TensorDescription:
    dtype: str = ""
    shape: tuple = ()
    allocation_description: AllocationDescription = field(default_factory=AllocationDescription)


@dataclass
class NodeOutput:
    slot: int = 0
    tensor_description: TensorDescription = field(default_factory=TensorDescription)


@dataclass
class NodeExecStats:
    """One node's (or one transfer's) execution on one device, TF's fields."""

    node_name: str = ""
    all_start_micros: int = 0
    op_start_rel_micros: int = 0
    op_end_rel_micros: int = 0
    all_end_rel_micros: int = 0
    timeline_label: str = ""
    thread_id: int = 0
    scheduled_micros: int = 0
    all_start_nanos: int = 0
    op_start_rel_nanos: int = 0
    op_end_rel_nanos: int = 0
    all_end_rel_nanos: int = 0
    output: list = field(default_factory=list)
    transfer: tuple | None = None  # (tensor, source device, destination device, bytes)


@dataclass
class DeviceStepStats:
    device: str = ""
    node_stats: list = field(default_factory=list)


@dataclass
class StepStats:
    dev_stats: list = field(default_factory=list)


def node_stats(
    name: str,
    label: str,
    start_ns: int,
    end_ns: int,
    thread_id: int,
    nbytes: int = 0,
    transfer: tuple | None = None,
) -> NodeExecStats:
    """A NodeExecStats spanning [start_ns, end_ns], the op taking all of it."""
    duration = max(0, end_ns - start_ns)
    output = []
    if nbytes:
        allocation = AllocationDescription(nbytes, nbytes, "cpu")
        output.append(NodeOutput(0, TensorDescription(allocation_description=allocation)))
    return NodeExecStats(
        node_name=name,
        all_start_micros=start_ns // 1000,
        op_start_rel_micros=0,
        op_end_rel_micros=duration // 1000,
        all_end_rel_micros=duration // 1000,
        timeline_label=label,
        thread_id=thread_id,
        scheduled_micros=start_ns // 1000,
        all_start_nanos=start_ns,
        op_start_rel_nanos=0,
        op_end_rel_nanos=duration,
        all_end_rel_nanos=duration,
        output=output,
        transfer=transfer,
    )


def tf_input_name(key: str) -> str:
    """How TF's timeline labels name an input: "x" for "x:0", "x:1", "^x", "w" for "&w"."""
    if key.startswith("&"):
        return key[1:]
    return key[:-2] if key.endswith(":0") else key


def label(node) -> str:
    """'name = Type(a, b)' for a plan Node, as TF's timeline_label."""
    inputs = [tf_input_name(k) for k in node.inputs] + ["^" + c.lstrip("^") for c in node.control]
    return f"{node.name} = {node.type}({', '.join(inputs)})"


def build(plan, traces: dict) -> StepStats:
    """StepStats from {device: (start_ns, end_ns, node records, transfer records)}."""
    stats = StepStats()
    for device, (_, _, nodes, transfers) in traces.items():
        part = plan.partitions[device]
        dev = DeviceStepStats(device)
        for index, start, end, nbytes, tid in nodes or ():
            node = part.nodes[index]
            dev.node_stats.append(node_stats(node.name, label(node), start, end, tid, nbytes))
        sources = {key: src for key, src in part.recvs}
        for record in transfers or ():
            dev.node_stats.append(_transfer_stats(device, sources, record))
        dev.node_stats.sort(key=lambda ns: ns.all_start_nanos)
        stats.dev_stats.append(dev)
    return stats


def _transfer_stats(device: str, sources: dict, record: tuple) -> NodeExecStats:
    kind, key = record[0], record[1]
    if kind == "send":
        _, _, dest, nbytes, start, end, *tid = record
        name = f"_Send/{key}@{dest}"
        text = f"{name} = _Send({tf_input_name(key)}) {nbytes} bytes to {dest}"
        return node_stats(name, text, start, end, tid[0] if tid else 0, nbytes, (key, device, dest, nbytes))
    _, _, nbytes, sent, _, stored, *tid = record
    source = sources.get(key, "")
    name = f"_Recv/{key}@{source}"
    text = f"{name} = _Recv(_Send/{key}@{device}) {nbytes} bytes from {source}"
    return node_stats(name, text, sent, stored, tid[0] if tid else 0, nbytes, (key, source, device, nbytes))
