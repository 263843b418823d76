"""`tf.summary`: summary ops, and FileWriter, which writes TensorBoard's event files.

    loss_summary = tf.summary.scalar("loss", loss)
    tf.summary.histogram("weights", w)
    merged = tf.summary.merge_all()
    writer = tf.summary.FileWriter("/tmp/run1", sess.graph)
    for step in range(100):
        summary, _ = sess.run([merged, train_op])
        writer.add_summary(summary, global_step=step)
    writer.close()

The summary ops (`scalar`, `histogram`, `image`, `audio`, `text`, `tensor_summary`,
`merge`, `merge_all`) come from the op registry (ops/summary.py): they run on the
devices and return serialized `Summary` protos. `FileWriter` writes `Event` protos
through TensorBoard's own `EventFileWriter` (a background thread, a queue of
`max_queue` events, a flush every `flush_secs`); nothing here frames records by
hand. `tf.Summary`, `tf.Event` and friends are TensorBoard's copies of TF's protos,
so summaries built by hand work as in TF1:

    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="acc", simple_value=0.9)]), step)

FileWriter state: the open EventFileWriter (None once closed; `reopen` makes a new
one, and a new event file, in the same directory), and the tags whose plugin
metadata was already written (TF writes a tag's metadata only with its first
value, and so does this writer).
"""

from __future__ import annotations

import threading
import time

from tensorboard.compat.proto import (
    config_pb2,
    event_pb2,
    graph_pb2,
    step_stats_pb2,
    summary_pb2,
)

import ops as _ops
from ops import registry as _registry
from raygraph import graph as _graph
from raygraph import graph_def as _graph_def  # also installs Graph.as_graph_def

_ops.load_all()

__getattr__ = _registry.namespace(globals(), "summary.")

Summary = summary_pb2.Summary
SummaryDescription = summary_pb2.SummaryDescription
SummaryMetadata = summary_pb2.SummaryMetadata
HistogramProto = summary_pb2.HistogramProto
Event = event_pb2.Event
SessionLog = event_pb2.SessionLog
TaggedRunMetadata = event_pb2.TaggedRunMetadata


class FileWriter:
    """Writes summaries, graphs and run metadata to an event file in `logdir`.

    >>> writer = tf.summary.FileWriter("logs/train", sess.graph)
    >>> writer.add_summary(sess.run(merged), global_step=10)
    >>> writer.close()
    """

    def __init__(
        self,
        logdir,
        graph=None,
        max_queue: int = 10,
        flush_secs: float = 120,
        graph_def=None,
        filename_suffix: str | None = None,
        session=None,
    ):
        if session is not None:
            raise NotImplementedError(
                "FileWriter(session=...) writes through TF2's summary ops; raygraph's FileWriter "
                "writes from the driver: leave session out."
            )
        self._logdir = str(logdir)
        self._options = (max_queue, flush_secs, filename_suffix or "")
        self._seen_tags: set[str] = set()
        self._lock = threading.Lock()
        self._writer = self._open()
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    def _open(self):
        # imported here: tensorboard's writer imports boto3 and friends (~0.15 s), which a
        # program that writes no summaries should not wait for
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        max_queue, flush_secs, suffix = self._options
        return EventFileWriter(
            self._logdir, max_queue_size=max_queue, flush_secs=flush_secs, filename_suffix=suffix
        )

    def get_logdir(self) -> str:
        """The directory this writer writes event files into."""
        return self._logdir

    def add_event(self, event: event_pb2.Event) -> None:
        """Writes one Event proto (its wall_time is set to now when it has none)."""
        if not event.wall_time:
            event.wall_time = time.time()
        with self._lock:
            if self._writer is None:
                raise RuntimeError(f"FileWriter for {self._logdir!r} is closed; call reopen() first")
            self._writer.add_event(event)

    def add_summary(self, summary, global_step: int | None = None) -> None:
        """Writes a Summary: a proto, or the bytes a summary op returned from `sess.run`."""
        if isinstance(summary, bytes | bytearray):
            summary = summary_pb2.Summary.FromString(bytes(summary))
        elif not isinstance(summary, summary_pb2.Summary):
            raise TypeError(f"add_summary takes a Summary proto or its serialized bytes, got {type(summary)}")
        summary = self._without_repeated_metadata(summary)
        self._add(event_pb2.Event(summary=summary), global_step)

    def _without_repeated_metadata(self, summary: summary_pb2.Summary) -> summary_pb2.Summary:
        """A copy whose values keep their plugin metadata only the first time a tag is written."""
        out = summary_pb2.Summary()
        out.CopyFrom(summary)
        for value in out.value:
            if not value.HasField("metadata"):
                continue
            if value.tag in self._seen_tags:
                value.ClearField("metadata")
            self._seen_tags.add(value.tag)
        return out

    def add_graph(self, graph=None, global_step: int | None = None, graph_def=None) -> None:
        """Writes a Graph (as a GraphDef with output shapes) or a GraphDef, for TensorBoard's graph tab."""
        if graph is not None and graph_def is not None:
            raise ValueError("Please pass only graph, or graph_def (deprecated), but not both.")
        if graph is not None:
            graph_def = _graph_def.graph_def(
                graph, add_shapes=True, max_const_bytes=_graph_def.MAX_CONST_BYTES
            )
        if graph_def is None:
            raise ValueError("add_graph needs a graph or a graph_def")
        if not isinstance(graph_def, graph_pb2.GraphDef):
            raise TypeError(f"graph_def must be a GraphDef, got {type(graph_def)}")
        self._add(event_pb2.Event(graph_def=graph_def.SerializeToString()), global_step)

    def add_run_metadata(self, run_metadata, tag: str, global_step: int | None = None) -> None:
        """Writes a traced run's step stats (a tf.RunMetadata) under `tag`, for the graph tab."""
        proto = run_metadata_proto(run_metadata)
        tagged = event_pb2.TaggedRunMetadata(tag=tag, run_metadata=proto.SerializeToString())
        self._add(event_pb2.Event(tagged_run_metadata=tagged), global_step)

    def add_session_log(self, session_log, global_step: int | None = None) -> None:
        """Writes a SessionLog (START, STOP, CHECKPOINT)."""
        self._add(event_pb2.Event(session_log=session_log), global_step)

    def _add(self, event: event_pb2.Event, global_step: int | None) -> None:
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def flush(self) -> None:
        """Writes every queued event to disk."""
        with self._lock:
            if self._writer is not None:
                self._writer.flush()

    def close(self) -> None:
        """Flushes and closes the event file; `reopen()` starts a new one."""
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def reopen(self) -> None:
        """Opens a new event file in the same directory after `close()` (no-op while open)."""
        with self._lock:
            if self._writer is None:
                self._writer = self._open()

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_metadata_proto(run_metadata) -> config_pb2.RunMetadata:
    """TF's RunMetadata proto of a raygraph RunMetadata (its step stats per device)."""
    if isinstance(run_metadata, config_pb2.RunMetadata):
        return run_metadata
    proto = config_pb2.RunMetadata()
    for dev in run_metadata.step_stats.dev_stats:
        dev_proto = proto.step_stats.dev_stats.add(device=dev.device)
        for ns in dev.node_stats:
            dev_proto.node_stats.append(
                step_stats_pb2.NodeExecStats(
                    node_name=ns.node_name,
                    all_start_micros=int(ns.all_start_micros),
                    op_start_rel_micros=int(ns.op_start_rel_micros),
                    op_end_rel_micros=int(ns.op_end_rel_micros),
                    all_end_rel_micros=int(ns.all_end_rel_micros),
                    timeline_label=ns.timeline_label,
                    thread_id=int(ns.thread_id),
                )
            )
    return proto


class FileWriterCache:
    """One FileWriter per log directory, shared by whoever asks for it (TF1's cache)."""

    _writers: dict[str, FileWriter] = {}
    _lock = threading.Lock()

    @staticmethod
    def get(logdir) -> FileWriter:
        """The cached FileWriter for `logdir`, made (with the default graph) on first use."""
        with FileWriterCache._lock:
            key = str(logdir)
            if key not in FileWriterCache._writers:
                FileWriterCache._writers[key] = FileWriter(key, graph=_graph.get_default_graph())
            return FileWriterCache._writers[key]

    @staticmethod
    def clear() -> None:
        """Closes and forgets every cached FileWriter."""
        with FileWriterCache._lock:
            for writer in FileWriterCache._writers.values():
                writer.close()
            FileWriterCache._writers.clear()
