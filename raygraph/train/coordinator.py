"""tf.train.Coordinator: stops a group of threads together and reports their first error.

    coord = tf.train.Coordinator()
    threads = tf.train.start_queue_runners(sess, coord)
    try:
        while not coord.should_stop():
            sess.run(train_op)
    except tf.errors.OutOfRangeError:
        pass                          # the input ran out: a clean stop
    finally:
        coord.request_stop()
    coord.join(threads)               # re-raises a thread's error, if one failed

State (under `_lock`): the stop event, the first exception reported with
`request_stop(ex)` (OutOfRangeError, by default, is a clean stop and not
kept), the registered threads, and whether `join` ran.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

from raygraph import errors
from raygraph import logging as _logging

__all__ = ["Coordinator"]


class Coordinator:
    """Stops threads together; see the module docstring."""

    def __init__(self, clean_stop_exception_types=None):
        if clean_stop_exception_types is None:
            clean_stop_exception_types = (errors.OutOfRangeError,)
        self._clean_stop_exception_types = tuple(clean_stop_exception_types)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._exc_info_to_raise = None
        self._joined = False
        self._registered_threads: set[threading.Thread] = set()

    def _filter_exception(self, ex):
        """The exc_info to keep for `ex` (an exception or an exc_info), None for a clean stop."""
        if isinstance(ex, tuple):
            ex_instance = ex[1]
        else:
            ex_instance = ex
            if ex is not None:
                ex = (type(ex), ex, ex.__traceback__)
        if isinstance(ex_instance, self._clean_stop_exception_types):
            return None
        return ex

    def request_stop(self, ex=None) -> None:
        """Asks the threads to stop; `ex` (an exception or exc_info) is re-raised by `join`.

        Only the first exception counts; those reported after a stop was
        requested are dropped. After `join`, an exception is raised here.
        """
        with self._lock:
            ex = self._filter_exception(ex)
            if self._joined:
                if ex is not None:
                    raise ex[1].with_traceback(ex[2])
                return
            if not self._stop_event.is_set():
                if ex is not None and self._exc_info_to_raise is None:
                    _logging.info("Error reported to Coordinator: %s", ex[1])
                    self._exc_info_to_raise = ex
                self._stop_event.set()

    def clear_stop(self) -> None:
        """Forgets the stop request and the exception, so the threads can run again."""
        with self._lock:
            self._joined = False
            self._exc_info_to_raise = None
            self._stop_event.clear()

    def should_stop(self) -> bool:
        """Whether a stop was requested."""
        return self._stop_event.is_set()

    @contextlib.contextmanager
    def stop_on_exception(self):
        """Requests a stop if the block raises (a clean-stop type is not kept as the error).

        >>> with coord.stop_on_exception():
        ...     while not coord.should_stop():
        ...         sess.run(step)
        """
        try:
            yield
        except:  # noqa: E722 - TensorFlow's: every exception stops the group
            self.request_stop(ex=sys.exc_info())

    def wait_for_stop(self, timeout=None) -> bool:
        """Waits until a stop is requested, at most `timeout` seconds; whether it was."""
        return self._stop_event.wait(timeout)

    def register_thread(self, thread: threading.Thread) -> None:
        """Adds a thread that `join()` waits for."""
        with self._lock:
            self._registered_threads.add(thread)

    def join(self, threads=None, stop_grace_period_secs=120, ignore_live_threads=False) -> None:
        """Waits for the threads to end, then re-raises the first exception reported.

        Waits until every thread has ended or a stop was requested; then gives
        the threads still alive `stop_grace_period_secs` to end, after which
        a RuntimeError names them (unless `ignore_live_threads`). The exception
        given to `request_stop`, if any, is raised first.
        """
        with self._lock:
            threads = list(self._registered_threads.union(threads or ()))
        while any(t.is_alive() for t in threads) and not self._stop_event.is_set():
            for t in threads:
                t.join(0.1)  # or sooner, when the stop comes
                if self._stop_event.is_set():
                    break
        deadline = time.monotonic() + stop_grace_period_secs
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        stragglers = [t.name for t in threads if t.is_alive()]
        with self._lock:
            self._joined = True
            self._registered_threads = set()
            if self._exc_info_to_raise is not None:
                _, ex, tb = self._exc_info_to_raise
                raise ex.with_traceback(tb)
            if stragglers:
                if ignore_live_threads:
                    _logging.info("Coordinator stopped with threads still running: %s", " ".join(stragglers))
                else:
                    raise RuntimeError(
                        f"Coordinator stopped with threads still running: {' '.join(stragglers)}"
                    )

    @property
    def joined(self) -> bool:
        return self._joined

    def raise_requested_exception(self) -> None:
        """Raises the exception given to request_stop, if any."""
        with self._lock:
            if self._exc_info_to_raise is not None:
                _, ex, tb = self._exc_info_to_raise
                raise ex.with_traceback(tb)
