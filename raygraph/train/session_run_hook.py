"""`tf.train.SessionRunHook` and the values a hook sees around each `run` of a MonitoredSession.

A hook is called at five points of a monitored training loop:

    begin()                          once, before the graph is finalized: may add ops
    after_create_session(sess, coord)  once the session exists and variables are ready
    before_run(run_context)          before each run: may return SessionRunArgs, whose
                                     fetches and feeds ride in the same Session.run
    after_run(run_context, run_values)  after each run: run_values.results holds the
                                     values of the fetches the hook asked for
    end(session)                     when the loop ends without an error

`run_context.request_stop()` asks the loop to stop: `MonitoredSession.should_stop()`
then returns True.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SessionRunArgs", "SessionRunContext", "SessionRunHook", "SessionRunValues"]


class SessionRunHook:
    """Base class of the hooks of a MonitoredSession; every method does nothing by default.

    >>> class CountHook(tf.train.SessionRunHook):
    ...     def begin(self):
    ...         self.runs = 0
    ...     def after_run(self, run_context, run_values):
    ...         self.runs += 1
    """

    def begin(self) -> None:
        """Called once before the session is created; the graph may still be changed."""

    def after_create_session(self, session, coord) -> None:
        """Called once the session is created and its variables initialized or restored."""

    def before_run(self, run_context):
        """Called before each run; may return SessionRunArgs to add fetches and feeds."""
        return None

    def after_run(self, run_context, run_values) -> None:
        """Called after each run with the values of the fetches requested by before_run."""

    def end(self, session) -> None:
        """Called at the end of the session (not after an error)."""


class SessionRunArgs(NamedTuple):
    """What a hook adds to a run: `fetches` (any fetch structure), `feed_dict` and `options`.

    >>> return tf.train.SessionRunArgs({"loss": loss}, feed_dict={rate: 0.5})
    """

    fetches: object
    feed_dict: dict | None = None
    options: object = None


class SessionRunValues(NamedTuple):
    """What a hook gets back: `results` (its fetches' values), `options`, `run_metadata`."""

    results: object
    options: object
    run_metadata: object


class SessionRunContext:
    """The run in progress, as a hook sees it: the caller's `original_args` and the `session`.

    `request_stop()` asks the monitored loop to end after this run.
    """

    def __init__(self, original_args: SessionRunArgs, session):
        self._original_args = original_args
        self._session = session
        self._stop_requested = False

    @property
    def original_args(self) -> SessionRunArgs:
        """The fetches and feed_dict the caller passed to run."""
        return self._original_args

    @property
    def session(self):
        """The raw session (running it does not call the hooks)."""
        return self._session

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def request_stop(self) -> None:
        """Ends the loop after this run: the session's should_stop() becomes True."""
        self._stop_requested = True
