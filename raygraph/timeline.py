"""Chrome-trace timelines of traced runs, as TensorFlow's `tf.python.client.timeline`.

    run_metadata = tf.RunMetadata()
    sess.run(train_op, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
             run_metadata=run_metadata)
    trace = timeline.Timeline(run_metadata.step_stats)
    with open("timeline.json", "w") as f:
        f.write(trace.generate_chrome_trace_format())

Open the file in chrome://tracing or https://ui.perfetto.dev. The trace has a
process per device ("<device> Compute"), a thread per actor thread that ran
nodes there, an "X" event per node (its op type as the name; node name, op and
inputs in args), the transfers as "_Send"/"_Recv" events with their bytes, and,
with `show_dataflow`, flow arrows from each tensor's producer to its consumers
(through the _Send/_Recv pair when the tensor crossed devices). `show_memory`
adds a counter per device of the bytes each node produced.

The timeline reads a StepStats (scheduler.step_stats) and nothing else; it
holds no state beyond the events it builds.
"""

from __future__ import annotations

import json
import re

_LABEL = re.compile(r"(.*) = (.*?)\((.*)\)")


class Timeline:
    """A Chrome-trace view of one run's StepStats.

    >>> Timeline(run_metadata.step_stats).generate_chrome_trace_format()
    '{"traceEvents": [...]}'
    """

    def __init__(self, step_stats, graph=None):
        self._step_stats = step_stats
        self._graph = graph
        self._events: list[dict] = []
        self._pids: dict[str, int] = {}
        self._tids: dict[tuple[int, int], int] = {}
        self._placed: dict[str, tuple] = {}  # node name -> (pid, tid, start, end)
        self._recvs: dict[tuple[int, str], str] = {}  # (pid, producer node) -> _Recv node name
        self._next_flow = 0

    def generate_chrome_trace_format(self, show_dataflow: bool = True, show_memory: bool = False) -> str:
        """The trace as a JSON string (Chrome's trace event format)."""
        self._events, self._placed, self._recvs, self._tids, self._next_flow = [], {}, {}, {}, 0
        self._allocate_pids()
        for dev in self._step_stats.dev_stats:
            pid = self._pids[dev.device]
            for ns in dev.node_stats:
                self._emit_node(pid, ns)
            if show_memory:
                self._emit_memory(pid, dev)
        if show_dataflow:
            self._emit_flows()
        return json.dumps({"traceEvents": self._events}, separators=(",", ":"))

    # -- events --
    def _allocate_pids(self) -> None:
        self._pids = {}
        for i, dev in enumerate(self._step_stats.dev_stats):
            self._pids[dev.device] = i
            self._events.append(_meta("process_name", i, 0, {"name": f"{dev.device} Compute"}))
            self._events.append(_meta("process_sort_index", i, 0, {"sort_index": i}))

    def _tid(self, pid: int, thread_id: int) -> int:
        key = (pid, thread_id)
        if key not in self._tids:
            tid = self._tids[key] = sum(1 for p, _ in self._tids if p == pid)
            self._events.append(_meta("thread_name", pid, tid, {"name": f"thread {thread_id}"}))
        return self._tids[key]

    def _emit_node(self, pid: int, ns) -> None:
        name, op, inputs = _parse_label(ns.timeline_label, ns.node_name)
        tid = self._tid(pid, ns.thread_id)
        start, duration = ns.all_start_micros, ns.all_end_rel_micros
        args = {"name": ns.node_name, "op": op}
        args.update({f"input{i}": x for i, x in enumerate(inputs)})
        transfer = getattr(ns, "transfer", None)
        if transfer is not None:
            key, source, dest, nbytes = transfer
            args.update({"tensor": key, "from": source, "to": dest, "bytes": nbytes})
            if op == "_Recv":
                self._recvs[(pid, _node_of(key))] = ns.node_name
        self._events.append(
            {
                "ph": "X",
                "cat": "Op",
                "name": op,
                "pid": pid,
                "tid": tid,
                "ts": start,
                "dur": duration,
                "args": args,
            }
        )
        self._placed[ns.node_name] = (pid, tid, start, start + duration, inputs, op)

    def _emit_memory(self, pid: int, dev) -> None:
        total = 0
        for ns in sorted(dev.node_stats, key=lambda n: n.all_start_micros):
            produced = sum(o.tensor_description.allocation_description.requested_bytes for o in ns.output)
            if produced:
                total += produced
                end = ns.all_start_micros + ns.all_end_rel_micros
                self._events.append(
                    {
                        "ph": "C",
                        "cat": "Memory",
                        "name": "output bytes",
                        "pid": pid,
                        "tid": 0,
                        "ts": end,
                        "args": {"bytes": total},
                    }
                )

    def _emit_flows(self) -> None:
        """An arrow from each input's producer (or its _Recv here) to its consumer."""
        for name, (pid, tid, start, _, inputs, op) in self._placed.items():
            for tensor in inputs:
                if tensor.startswith("^"):
                    continue
                producer = _node_of(tensor)
                if op not in ("_Send", "_Recv"):
                    producer = self._recvs.get((pid, producer), producer)
                source = self._placed.get(producer)
                if source is None or producer == name:
                    continue
                self._flow(tensor, source, (pid, tid, start))

    def _flow(self, tensor: str, source: tuple, target: tuple) -> None:
        pid, tid, _, end = source[:4]
        flow = self._next_flow
        self._next_flow += 1
        self._events.append(
            {"ph": "s", "cat": "DataFlow", "name": tensor, "pid": pid, "tid": tid, "ts": end, "id": flow}
        )
        t_pid, t_tid, t_start = target
        self._events.append(
            {
                "ph": "t",
                "cat": "DataFlow",
                "name": tensor,
                "pid": t_pid,
                "tid": t_tid,
                "ts": t_start,
                "id": flow,
                "bp": "e",
            }
        )


def _meta(name: str, pid: int, tid: int, args: dict) -> dict:
    return {"ph": "M", "name": name, "pid": pid, "tid": tid, "args": args}


def _parse_label(label: str, node_name: str) -> tuple[str, str, list[str]]:
    """("name", "Op", [inputs]) from TF's "name = Op(a, b)" timeline label."""
    m = _LABEL.match(label or "")
    if m is None:
        return node_name, "unknown", []
    name, op, inputs = m.groups()
    return name, op, [x for x in inputs.split(", ") if x]


def _node_of(tensor: str) -> str:
    """The producing node of a tensor as labels name it: "x" for "x", "x:0" or "x:1"."""
    if tensor.startswith("_Send/") or tensor.startswith("_Recv/"):
        return tensor
    return tensor.rsplit(":", 1)[0] if re.search(r":\d+$", tensor) else tensor
