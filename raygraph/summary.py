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
hand. The event file is opened through raygraph.gfile, so a logdir may be any
fsspec URL (memory://, gs://, s3://), and TensorFlow is never imported. `tf.Summary`, `tf.Event` and friends are TensorBoard's copies of TF's protos,
so summaries built by hand work as in TF1:

    writer.add_summary(tf.Summary(value=[tf.Summary.Value(tag="acc", simple_value=0.9)]), step)

FileWriter state: a `_SharedWriter` holding the open EventFileWriter (None once
closed; `reopen` makes a new one, and a new event file, in the same directory),
shared by the FileWriters of one session and logdir when made with `session=`;
the tags whose plugin metadata was already written (TF writes a tag's metadata
only with its first value, and so does this writer); the run-metadata tags used.
"""

from __future__ import annotations

import functools
import itertools
import os
import socket
import threading
import time
import warnings
import weakref

from tensorboard.compat.proto import (
    config_pb2,
    event_pb2,
    graph_pb2,
    meta_graph_pb2,
    step_stats_pb2,
    summary_pb2,
)

import ops as _ops
from ops import registry as _registry
from raygraph import gfile
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


@functools.cache
def _event_file_writer():
    """The class of the event files FileWriter writes, made on first use: importing
    tensorboard's writer imports boto3 and friends (~0.15 s), which a program that
    writes no summaries should not wait for."""
    from tensorboard.summary.writer.event_file_writer import EventFileWriter, _AsyncWriter
    from tensorboard.summary.writer.record_writer import RecordWriter

    class _EventFileWriter(EventFileWriter):
        """TensorBoard's EventFileWriter, with its directory and file made through raygraph.gfile.

        TensorBoard's own opens them through `tensorboard.compat.tf`, which is TensorFlow
        itself when TensorFlow is installed (seconds to import, and no memory:// or
        other fsspec paths); this one takes any path raygraph.gfile takes. The records,
        the queue and the flushing thread are TensorBoard's.
        """

        def __init__(self, logdir: str, max_queue_size: int, flush_secs: float, filename_suffix: str):
            self._logdir = logdir
            gfile.makedirs(logdir)
            name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_file_ids)}"
            self._file_name = gfile.join(logdir, name) + filename_suffix
            self._general_file_writer = gfile.GFile(self._file_name, "wb")
            self._async_writer = _AsyncWriter(
                RecordWriter(self._general_file_writer), max_queue_size, flush_secs
            )
            self.add_event(
                event_pb2.Event(
                    wall_time=time.time(),
                    file_version="brain.Event:2",
                    source_metadata=event_pb2.SourceMetadata(writer="raygraph.summary.FileWriter"),
                )
            )
            self.flush()

    return _EventFileWriter


_file_ids = itertools.count()


class _SharedWriter:
    """The event file that every FileWriter(session=sess) of one session and logdir writes to.

    TF's `FileWriter(session=...)` writes through a writer resource in the session,
    shared by every such FileWriter with that session and logdir: closing one closes
    it for all, and `reopen` opens a new file for all.
    """

    def __init__(self, open_file):
        self._open_file = open_file
        self.writer = open_file()

    def reopen(self) -> None:
        if self.writer is None:
            self.writer = self._open_file()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


_session_writers: weakref.WeakKeyDictionary = (
    weakref.WeakKeyDictionary()
)  # session -> {logdir: _SharedWriter}
_session_writers_lock = threading.Lock()


class FileWriter:
    """Writes summaries, graphs, meta graphs and run metadata to an event file in `logdir`.

    >>> writer = tf.summary.FileWriter("logs/train", sess.graph)
    >>> writer.add_summary(sess.run(merged), global_step=10)
    >>> writer.close()

    `logdir` is a local path or any URL raygraph.gfile takes ("memory://runs/1",
    "gs://bucket/runs/1" with gcsfs). A `graph` (or `graph_def`) given here is written
    as a GraphDef and as a MetaGraphDef, as TF does. With `session`, every
    FileWriter of that session and logdir shares one event file (suffix ".v2" unless
    `filename_suffix` says otherwise), as TF's session-backed FileWriter does; the
    events are still written from this process. After `close()`, adding is a no-op
    with a warning until `reopen()`.
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
        self._logdir = os.fspath(logdir)
        self._seen_tags: set[str] = set()
        self._run_tags: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False
        if session is None:
            suffix = filename_suffix or ""
            self._shared = _SharedWriter(
                lambda: _event_file_writer()(self._logdir, max_queue, flush_secs, suffix)
            )
        else:
            suffix = ".v2" if filename_suffix is None else filename_suffix
            self._shared = _writer_of_session(session, self._logdir, max_queue, flush_secs, suffix)
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)
            self.add_meta_graph(_meta_graph_of(graph, graph_def))

    def get_logdir(self) -> str:
        """The directory this writer writes event files into."""
        return self._logdir

    def _warn_if_closed(self) -> bool:
        if self._closed or self._shared.writer is None:
            warnings.warn(
                "Attempting to use a closed FileWriter. The operation will be a noop unless the "
                "FileWriter is explicitly reopened.",
                stacklevel=3,
            )
            return True
        return False

    def add_event(self, event: event_pb2.Event) -> None:
        """Writes one Event proto (its wall_time is set to now when it has none)."""
        if not event.wall_time:
            event.wall_time = time.time()
        with self._lock:
            if not self._warn_if_closed():
                self._shared.writer.add_event(event)

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
        graph_def = _graph_def_of(graph if graph is not None else graph_def)
        self._add(event_pb2.Event(graph_def=graph_def.SerializeToString()), global_step)

    def add_meta_graph(self, meta_graph_def, global_step: int | None = None) -> None:
        """Writes a MetaGraphDef (what `tf.train.export_meta_graph` returns), as TF's FileWriter does.

        >>> writer.add_meta_graph(tf.train.export_meta_graph(), global_step=0)
        """
        if not isinstance(meta_graph_def, meta_graph_pb2.MetaGraphDef):
            raise TypeError(f"meta_graph_def must be type MetaGraphDef, saw type: {type(meta_graph_def)}")
        self._add(event_pb2.Event(meta_graph_def=meta_graph_def.SerializeToString()), global_step)

    def add_run_metadata(self, run_metadata, tag: str, global_step: int | None = None) -> None:
        """Writes a traced run's step stats (a tf.RunMetadata) under `tag`, for the graph tab.

        A tag may be used once per writer (ValueError otherwise), as in TF.
        """
        if tag in self._run_tags:
            raise ValueError("The provided tag was already used for this event type")
        self._run_tags.add(tag)
        proto = run_metadata_proto(run_metadata)
        tagged = event_pb2.TaggedRunMetadata(tag=tag, run_metadata=proto.SerializeToString())
        self._add(event_pb2.Event(tagged_run_metadata=tagged), global_step)

    def add_session_log(self, session_log, global_step: int | None = None) -> None:
        """Writes a SessionLog (START, STOP, CHECKPOINT)."""
        self._add(event_pb2.Event(session_log=session_log), global_step)

    def _add(self, event: event_pb2.Event, global_step: int | None) -> None:
        event.wall_time = time.time()
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def flush(self) -> None:
        """Writes every queued event to the file (a no-op with a warning once closed)."""
        with self._lock:
            if not self._warn_if_closed():
                self._shared.writer.flush()

    def close(self) -> None:
        """Flushes and closes the event file; `reopen()` starts a new one."""
        with self._lock:
            self._shared.close()
            self._closed = True

    def reopen(self) -> None:
        """Opens a new event file in the same directory after `close()` (no-op while open)."""
        with self._lock:
            self._shared.reopen()
            self._closed = False

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _writer_of_session(session, logdir: str, max_queue, flush_secs, suffix: str) -> _SharedWriter:
    """The event file shared by the FileWriters of `session` and `logdir` (made on first use)."""
    if not (hasattr(session, "run") and hasattr(session, "graph")):
        raise TypeError(f"FileWriter's session must be a tf.Session, got {type(session)}")
    with _session_writers_lock:
        writers = _session_writers.setdefault(session, {})
        shared = writers.get(logdir)
        if shared is None:
            shared = writers[logdir] = _SharedWriter(
                lambda: _event_file_writer()(logdir, max_queue, flush_secs, suffix)
            )
        shared.reopen()  # TF's init op: a closed shared writer opens again
        return shared


def _graph_def_of(graph_or_graph_def) -> graph_pb2.GraphDef:
    if isinstance(graph_or_graph_def, _graph.Graph):
        return _graph_def.graph_def(
            graph_or_graph_def, add_shapes=True, max_const_bytes=_graph_def.MAX_CONST_BYTES
        )
    if isinstance(graph_or_graph_def, graph_pb2.GraphDef):
        return graph_or_graph_def
    raise TypeError(
        f"The passed graph must be an instance of `Graph` or the deprecated `GraphDef`, "
        f"got {type(graph_or_graph_def)}"
    )


def _meta_graph_of(graph, graph_def) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef TF's FileWriter writes beside the graph: its GraphDef and collections.

    TF takes the collections of the default graph; a Graph given here is used
    instead (the same graph in the usual `FileWriter(logdir, sess.graph)`).
    """
    from raygraph import meta_graph  # user API: imported when a graph is written

    source = graph if graph is not None else graph_def
    as_graph = source if isinstance(source, _graph.Graph) else None
    with warnings.catch_warnings():  # collections of Python objects are left out, as TF does
        warnings.simplefilter("ignore")
        return meta_graph.export_meta_graph(graph_def=_graph_def_of(source), graph=as_graph)


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
