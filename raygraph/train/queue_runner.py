"""tf.train.QueueRunner: threads that keep running a queue's enqueue ops through a session.

    q = tf.FIFOQueue(100, tf.float32)
    tf.train.add_queue_runner(tf.train.QueueRunner(q, [q.enqueue(produce())] * 4))
    threads = tf.train.start_queue_runners(sess, coord)   # 4 threads enqueuing

Each thread runs its enqueue op with `sess.run` until the coordinator asks to
stop or the op raises one of `queue_closed_exception_types` (OutOfRangeError:
the input ran out); the last thread of a session to end closes the queue, so
its consumers drain it and then get OutOfRangeError. Another error stops the
coordinator with that error (`coord.join` re-raises it). With a coordinator,
one more thread waits for the stop and then runs `cancel_op` (closing the
queue and cancelling enqueues blocked on a full queue), so no thread hangs.

The threads' runs go over their own links to the devices (a session serves
each thread's runs side by side: scheduler.engine.central), so an enqueue
waiting for room never holds up the main thread's dequeue.
"""

from __future__ import annotations

import threading
import weakref

from raygraph import errors
from raygraph import logging as _logging
from raygraph.graph import GraphKeys, get_default_graph

__all__ = ["QueueRunner", "add_queue_runner", "start_queue_runners"]


class QueueRunner:
    """Holds a queue and the ops that fill it; `create_threads` starts them on a session."""

    def __init__(
        self,
        queue=None,
        enqueue_ops=None,
        close_op=None,
        cancel_op=None,
        queue_closed_exception_types=None,
        queue_runner_def=None,
        import_scope=None,
    ):
        if queue_runner_def is not None:
            raise NotImplementedError("QueueRunner(queue_runner_def=...) is not supported")
        if not queue or not enqueue_ops:
            raise ValueError("Must provide queue and enqueue_ops.")
        self._queue = queue
        self._enqueue_ops = list(enqueue_ops)
        self._close_op = close_op if close_op is not None else queue.close()
        self._cancel_op = cancel_op if cancel_op is not None else queue.close(cancel_pending_enqueues=True)
        if queue_closed_exception_types is None:
            queue_closed_exception_types = (errors.OutOfRangeError,)
        self._queue_closed_exception_types = tuple(queue_closed_exception_types)
        if not self._queue_closed_exception_types or not all(
            isinstance(t, type) and issubclass(t, errors.OpError) for t in self._queue_closed_exception_types
        ):
            raise TypeError(
                "queue_closed_exception_types must be a non-empty tuple of tf.errors.OpError classes"
            )
        self._lock = threading.Lock()
        self._runs_per_session: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._exceptions_raised: list = []

    @property
    def queue(self):
        return self._queue

    @property
    def enqueue_ops(self) -> list:
        return self._enqueue_ops

    @property
    def close_op(self):
        return self._close_op

    @property
    def cancel_op(self):
        return self._cancel_op

    @property
    def queue_closed_exception_types(self) -> tuple:
        return self._queue_closed_exception_types

    @property
    def exceptions_raised(self) -> list:
        """Exceptions the threads raised when they had no coordinator to report to."""
        return self._exceptions_raised

    @property
    def name(self) -> str:
        return self._queue.name

    def create_threads(self, sess, coord=None, daemon=False, start=False) -> list[threading.Thread]:
        """One thread per enqueue op (plus one that cancels on the coordinator's stop).

        Threads still running for this session from an earlier call are not
        started twice: then nothing new is made.
        """
        with self._lock:
            if self._runs_per_session.get(sess, 0) > 0:
                return []
            self._runs_per_session[sess] = len(self._enqueue_ops)
            self._exceptions_raised = []
        threads = [
            threading.Thread(target=self._run, args=(sess, op, coord), name=f"QueueRunner {self.name} {i}")
            for i, op in enumerate(self._enqueue_ops)
        ]
        if coord is not None:
            threads.append(
                threading.Thread(
                    target=self._close_on_stop, args=(sess, coord), name=f"QueueRunner {self.name} stop"
                )
            )
        for t in threads:
            if coord is not None:
                coord.register_thread(t)
            t.daemon = daemon
            if start:
                t.start()
        return threads

    def _run(self, sess, enqueue_op, coord) -> None:
        decremented = False
        try:
            while coord is None or not coord.should_stop():
                try:
                    sess.run(enqueue_op)
                except self._queue_closed_exception_types:
                    with self._lock:
                        self._runs_per_session[sess] -= 1
                        decremented = True
                        last = self._runs_per_session[sess] == 0
                    if last:
                        try:
                            sess.run(self._close_op)
                        except Exception as e:  # noqa: BLE001 - TensorFlow ignores it too
                            _logging.vlog(1, "Ignored exception: %s", e)
                    return
        except Exception as e:  # noqa: BLE001 - reported to the coordinator, or kept
            if coord is not None:
                coord.request_stop(e)
            else:
                _logging.error("Exception in QueueRunner: %s", e)
                with self._lock:
                    self._exceptions_raised.append(e)
                raise
        finally:
            if not decremented:
                with self._lock:
                    self._runs_per_session[sess] -= 1

    def _close_on_stop(self, sess, coord) -> None:
        coord.wait_for_stop()
        try:
            sess.run(self._cancel_op)
        except Exception as e:  # noqa: BLE001 - the session may be closed already
            _logging.vlog(1, "Ignored exception: %s", e)


def add_queue_runner(qr: QueueRunner, collection=GraphKeys.QUEUE_RUNNERS) -> None:
    """Adds `qr` to the graph's queue runners, which start_queue_runners starts."""
    get_default_graph().add_to_collection(collection, qr)


def start_queue_runners(sess=None, coord=None, daemon=True, start=True, collection=GraphKeys.QUEUE_RUNNERS):
    """Starts the threads of every queue runner of the graph; returns them.

    >>> coord = tf.train.Coordinator()
    >>> threads = tf.train.start_queue_runners(sess=sess, coord=coord)
    """
    if sess is None:
        from raygraph.session import get_default_session

        sess = get_default_session()
        if sess is None:
            raise ValueError(
                "Cannot start queue runners: No default session is registered. Use `with "
                "sess.as_default()` or pass an explicit session to tf.start_queue_runners(sess=sess)"
            )
    with sess.graph.as_default():
        threads = []
        for qr in sess.graph.get_collection(collection):
            threads.extend(qr.create_threads(sess, coord=coord, daemon=daemon, start=start))
    return threads
