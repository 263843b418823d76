"""`tf.train.MonitoredSession` and its friends: a training loop's session, with hooks.

    with tf.train.MonitoredTrainingSession(master="local", checkpoint_dir="ckpt",
                                           hooks=[tf.train.StopAtStepHook(last_step=1000)]) as sess:
        while not sess.should_stop():
            sess.run(train_op)

Building one (`MonitoredSession(session_creator, hooks)`):
1. every hook's `begin()` (hooks may still add ops);
2. the session creator makes the session: ChiefSessionCreator finalizes the
   Scaffold (default init/ready/local-init/summary ops and Saver, then
   `graph.finalize()`) and lets a SessionManager restore the latest checkpoint
   or initialize the variables;
3. a coordinator, queue runners if the graph has any and raygraph has them,
   then every hook's `after_create_session(session, coord)`.

Each `run(fetches, feed_dict)` asks every hook's `before_run` for SessionRunArgs,
runs the caller's fetches, the hooks' fetches and all feeds in ONE Session.run
(a tensor fed twice is a RuntimeError), hands each hook its results in
`after_run`, and remembers any `request_stop()`. Python-fed inputs
(numpy_input_fn) are fed here too (see input_feeding).

`close()` (or leaving the `with` block) calls every hook's `end(session)` unless
an error is propagating, then closes the session. Leaving the block on
OutOfRangeError (the input is exhausted) or StopIteration counts as a clean end:
the error is swallowed and the hooks' `end` runs (so the final checkpoint is saved).

Recovery (MonitoredSession and MonitoredTrainingSession; not
SingularMonitoredSession, as in TF). A run that fails with UnavailableError (a
device actor died, its node was lost) or AbortedError is not the caller's
problem: the session logs one warning, closes the broken session (without the
hooks' `end`), makes a new one with the same creator (a new actor for the lost
device, every variable restored from the latest checkpoint of `checkpoint_dir`,
or initialized if there is none), calls the hooks' `after_create_session`
again, and runs the same step again, hooks included. With a checkpoint every N
steps and inputs that are a function of the global step, the result is the
uninterrupted run's. Ops pinned to a device that no longer exists (its node is
gone) are placed on the surviving devices in the new session (soft placement).
After `max_failures_in_a_row` failures with no successful run between them
(session creation included) the last error is raised again, naming the device
and the global step the training could not get past; nothing waits forever:
each device start has its own deadline (scheduler.shell.runtime.START_TIMEOUT_S).
"""

from __future__ import annotations

import os
import threading

from raygraph import errors, logging
from raygraph.graph import GraphKeys, get_default_graph
from raygraph.session import RunMetadata, RunOptions, _Fetches, _soft_placement_after_loss
from raygraph.train import basic_hooks, training_util
from raygraph.train.input_feeding import FeederFeeds
from raygraph.train.session_manager import SessionManager
from raygraph.train.session_run_hook import SessionRunArgs, SessionRunContext, SessionRunValues

__all__ = [
    "ChiefSessionCreator",
    "MonitoredSession",
    "MonitoredTrainingSession",
    "Scaffold",
    "SessionCreator",
    "SingularMonitoredSession",
    "WorkerSessionCreator",
]

USE_DEFAULT = object()
MAX_FAILURES_IN_A_ROW = 5  # failures with no good run between them before a monitored session gives up
_PREEMPTION_ERRORS = (errors.AbortedError, errors.UnavailableError)  # TF's: the session is re-created


# -- the Scaffold ----------------------------------------------------------------------------


class Scaffold:
    """The ops a monitored session needs besides the model: init, readiness, summaries, Saver.

    Anything not given is taken from its graph collection (INIT_OP, READY_OP,
    LOCAL_INIT_OP, SUMMARY_OP, SAVERS) or built by `finalize()`, which then
    finalizes the graph. `init_fn(scaffold, session)` runs after `init_op` when
    no checkpoint was restored.

    >>> scaffold = tf.train.Scaffold(saver=tf.train.Saver(max_to_keep=2))
    >>> tf.train.MonitoredTrainingSession(scaffold=scaffold, checkpoint_dir="ckpt")
    """

    def __init__(
        self,
        init_op=None,
        init_feed_dict=None,
        init_fn=None,
        ready_op=None,
        ready_for_local_init_op=None,
        local_init_op=None,
        summary_op=None,
        saver=None,
        copy_from_scaffold=None,
        local_init_feed_dict=None,
    ):
        if copy_from_scaffold is not None:
            if not isinstance(copy_from_scaffold, Scaffold):
                raise TypeError("copy_from_scaffold is not a Scaffold instance.")
            pick = lambda mine, theirs: mine if mine is not None else theirs  # noqa: E731
            c = copy_from_scaffold
            init_op = pick(init_op, c.init_op)
            init_feed_dict = pick(init_feed_dict, c._init_feed_dict)
            init_fn = pick(init_fn, c._user_init_fn)
            ready_op = pick(ready_op, c.ready_op)
            ready_for_local_init_op = pick(ready_for_local_init_op, c.ready_for_local_init_op)
            local_init_op = pick(local_init_op, c.local_init_op)
            local_init_feed_dict = pick(local_init_feed_dict, c._local_init_feed_dict)
            summary_op = pick(summary_op, c.summary_op)
            saver = pick(saver, c.saver)
        self._user_init_fn = init_fn
        self._init_fn = (lambda sess: init_fn(self, sess)) if init_fn else None
        self._init_op = init_op
        self._init_feed_dict = init_feed_dict
        self._ready_op = ready_op
        self._ready_for_local_init_op = ready_for_local_init_op
        self._local_init_op = local_init_op
        self._local_init_feed_dict = local_init_feed_dict
        self._summary_op = summary_op
        self._saver = saver

    def finalize(self):
        """Builds the missing ops and the Saver, then finalizes the default graph; returns self."""
        from raygraph.summary import merge_all
        from raygraph.template import report_uninitialized_variables
        from raygraph.variables import global_variables, global_variables_initializer

        if self._init_op is None:
            self._init_op = Scaffold.get_or_default(
                "init_op", GraphKeys.INIT_OP, global_variables_initializer
            )
        if self._ready_op is None:
            self._ready_op = Scaffold.get_or_default(
                "ready_op", GraphKeys.READY_OP, report_uninitialized_variables
            )
        if self._ready_for_local_init_op is None:
            self._ready_for_local_init_op = Scaffold.get_or_default(
                "ready_for_local_init_op",
                GraphKeys.READY_FOR_LOCAL_INIT_OP,
                lambda: report_uninitialized_variables(global_variables()),
            )
        if self._local_init_op is None:
            self._local_init_op = Scaffold.get_or_default(
                "local_init_op", GraphKeys.LOCAL_INIT_OP, Scaffold.default_local_init_op
            )
        if self._summary_op is None:
            self._summary_op = Scaffold.get_or_default("summary_op", GraphKeys.SUMMARY_OP, merge_all)
        if self._saver is None:
            self._saver = _saver_or_default()
        self._saver.build()
        get_default_graph().finalize()
        return self

    @staticmethod
    def get_or_default(arg_name, collection_key, default_constructor):
        """The single op in `collection_key`, or `default_constructor()` (added to the collection)."""
        graph = get_default_graph()
        found = graph.get_collection(collection_key)
        if len(found) > 1:
            raise RuntimeError(
                f"More than one item in collection {collection_key}. Please indicate which one to use by passing it to the tf.Scaffold constructor as:  tf.Scaffold({arg_name}=item to use)"
            )
        op = found[0] if found else default_constructor()
        if op is not None and not found:
            graph.add_to_collection(collection_key, op)
        return op

    @staticmethod
    def default_local_init_op():
        """Initializes the local variables and the lookup tables."""
        from ops import api
        from raygraph.template import tables_initializer
        from raygraph.variables import local_variables_initializer

        return api.group(local_variables_initializer(), tables_initializer())

    init_op = property(lambda self: self._init_op)
    ready_op = property(lambda self: self._ready_op)
    ready_for_local_init_op = property(lambda self: self._ready_for_local_init_op)
    local_init_op = property(lambda self: self._local_init_op)
    summary_op = property(lambda self: self._summary_op)
    saver = property(lambda self: self._saver)
    init_feed_dict = property(lambda self: self._init_feed_dict)
    init_fn = property(lambda self: self._init_fn)
    local_init_feed_dict = property(lambda self: self._local_init_feed_dict)


def _saver_or_default():
    """The graph's one Saver (collection SAVERS), or a new one over all variables, added there."""
    from raygraph.train.saver import Saver

    graph = get_default_graph()
    savers = graph.get_collection(GraphKeys.SAVERS)
    if len(savers) > 1:
        raise RuntimeError(
            f"More than one item in collection {GraphKeys.SAVERS}. Please indicate which one to use by passing it to the constructor."
        )
    if savers:
        return savers[0]
    saver = Saver(sharded=True, allow_empty=True)
    graph.add_to_collection(GraphKeys.SAVERS, saver)
    return saver


# -- session creators -------------------------------------------------------------------------


class SessionCreator:
    """Makes the tf.Session of a MonitoredSession (`create_session()`)."""

    def create_session(self):
        raise NotImplementedError("create_session is not implemented for {self}.")


class ChiefSessionCreator(SessionCreator):
    """Finalizes the scaffold, then restores the latest checkpoint of `checkpoint_dir` or initializes.

    `master` is the Session target: "" (Ray actors) or "local" (this process).
    """

    def __init__(
        self, scaffold=None, master="", config=None, checkpoint_dir=None, checkpoint_filename_with_path=None
    ):
        self._scaffold = scaffold or Scaffold()
        self._master = master
        self._config = config
        self._checkpoint_dir = checkpoint_dir
        self._checkpoint_filename_with_path = checkpoint_filename_with_path
        self._session_manager = None

    def _get_session_manager(self) -> SessionManager:
        if self._session_manager is None:
            s = self._scaffold
            self._session_manager = SessionManager(
                local_init_op=s.local_init_op,
                local_init_feed_dict=s.local_init_feed_dict,
                ready_op=s.ready_op,
                ready_for_local_init_op=s.ready_for_local_init_op,
                graph=get_default_graph(),
            )
        return self._session_manager

    def create_session(self):
        self._scaffold.finalize()
        return self._get_session_manager().prepare_session(
            self._master,
            saver=self._scaffold.saver,
            checkpoint_dir=self._checkpoint_dir,
            checkpoint_filename_with_path=self._checkpoint_filename_with_path,
            config=self._config,
            init_op=self._scaffold.init_op,
            init_feed_dict=self._scaffold.init_feed_dict,
            init_fn=self._scaffold.init_fn,
        )


class WorkerSessionCreator(SessionCreator):
    """Waits (up to `max_wait_secs`) for the chief to initialize the model."""

    def __init__(self, scaffold=None, master="", config=None, max_wait_secs=30 * 60):
        self._scaffold = scaffold or Scaffold()
        self._master = master
        self._config = config
        self._max_wait_secs = max_wait_secs

    def create_session(self):
        self._scaffold.finalize()
        manager = SessionManager(
            local_init_op=self._scaffold.local_init_op,
            local_init_feed_dict=self._scaffold.local_init_feed_dict,
            ready_op=self._scaffold.ready_op,
            ready_for_local_init_op=self._scaffold.ready_for_local_init_op,
            graph=get_default_graph(),
        )
        return manager.wait_for_session(self._master, config=self._config, max_wait_secs=self._max_wait_secs)


# -- coordination -----------------------------------------------------------------------------


class _StopCoordinator:
    """The part of tf.train.Coordinator a monitored session needs, when raygraph has none."""

    def __init__(self):
        self._stop = threading.Event()
        self._exc_info = None

    def request_stop(self, ex=None) -> None:
        if (
            ex is not None
            and self._exc_info is None
            and not isinstance(ex, errors.OutOfRangeError | StopIteration)
        ):
            self._exc_info = ex
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def wait_for_stop(self, timeout=None) -> bool:
        return self._stop.wait(timeout)

    def clear_stop(self) -> None:
        self._stop.clear()
        self._exc_info = None

    def raise_requested_exception(self) -> None:
        if self._exc_info is not None:
            raise self._exc_info

    def join(self, threads=None, stop_grace_period_secs=120, ignore_live_threads=False) -> None:
        for thread in threads or []:
            thread.join(stop_grace_period_secs)
        self.raise_requested_exception()

    def register_thread(self, thread) -> None:
        pass


def new_coordinator():
    """tf.train.Coordinator if raygraph has one, else a minimal stand-in."""
    from raygraph import train

    coordinator = getattr(train, "Coordinator", None)
    return coordinator() if coordinator is not None else _StopCoordinator()


def start_queue_runners(sess, coord) -> list:
    """Starts the graph's queue runners (if any, and if raygraph has tf.train.start_queue_runners)."""
    from raygraph import train

    start = getattr(train, "start_queue_runners", None)
    if start is None or not sess.graph.get_collection(GraphKeys.QUEUE_RUNNERS):
        return []
    return list(start(sess=sess, coord=coord) or [])


# -- the monitored sessions -------------------------------------------------------------------


class _RequestStop(Exception):
    """Raised by StepContext.request_stop to leave a step function."""


class _MonitoredSession:
    """What MonitoredSession and SingularMonitoredSession share (recovery: see the module's docstring)."""

    def __init__(
        self,
        session_creator,
        hooks,
        stop_grace_period_secs=120,
        should_recover=False,
        max_failures_in_a_row=MAX_FAILURES_IN_A_ROW,
    ):
        self._graph = get_default_graph()
        self._hooks = list(hooks or [])
        for hook in self._hooks:
            hook.begin()
        self._stop_grace_period_secs = stop_grace_period_secs
        self._stop_requested = False
        self._creator = session_creator
        self._should_recover = should_recover
        self._max_failures = max(1, int(max_failures_in_a_row))
        self._failures = 0  # failures since the last good run
        self._tf_sess, self._coord, self._threads = None, None, []
        # With recovery, every run also fetches the global step: the error that gives up names
        # the last step reached.
        self._global_step = training_util.get_global_step(self._graph) if should_recover else None
        self._last_step = None
        try:
            self._create_session()
        except _PREEMPTION_ERRORS as e:
            if not should_recover:
                raise
            self._recover(e)

    def _create_session(self) -> None:
        """The creator's session, a coordinator, queue runners, then every hook's after_create_session."""
        self._tf_sess = self._creator.create_session()
        self._coord = new_coordinator()
        self._threads = start_queue_runners(self._tf_sess, self._coord)
        self._feeders = FeederFeeds(self._graph)
        for hook in self._hooks:
            hook.after_create_session(self._tf_sess, self._coord)

    def _recover(self, error: errors.OpError) -> None:
        """Replaces the broken session by a new one (see the module's docstring), or raises."""
        while True:
            self._failures += 1
            at = "" if self._last_step is None else f" at global step {self._last_step}"
            if self._failures >= self._max_failures:
                raise type(error)(
                    error.node_def,
                    error.op,
                    f"MonitoredSession gave up after {self._failures} failures in a row{at}; the last: "
                    f"{error.message}",
                ) from error
            logging.warning(
                "MonitoredSession: a run failed%s (failure %d in a row; at most %d are recovered): %s "
                "Making a new session, its variables restored from the latest checkpoint.",
                at,
                self._failures,
                self._max_failures - 1,
                error.message,
            )
            self._abandon_session()
            try:
                with _soft_placement_after_loss():
                    self._create_session()
                return
            except _PREEMPTION_ERRORS as e:
                error = e

    def _abandon_session(self) -> None:
        """Closes a broken session: stops its queue runners, no hook `end`, errors ignored."""
        sess, self._tf_sess = self._tf_sess, None
        try:
            if self._coord is not None:
                self._coord.request_stop()
                self._coord.join(self._threads, stop_grace_period_secs=min(self._stop_grace_period_secs, 5))
        except Exception:  # noqa: BLE001 - the threads failed with the session: that is known
            pass
        try:
            if sess is not None:
                sess.close()
        except Exception:  # noqa: BLE001 - a session whose device died may fail to close cleanly
            pass

    @property
    def graph(self):
        return self._graph

    def should_stop(self) -> bool:
        """True once a hook requested stop, the coordinator stopped, or the session is closed."""
        return self._tf_sess is None or self._stop_requested or self._coord.should_stop()

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Runs `fetches` with the hooks' fetches and feeds in one Session.run; returns the caller's values."""
        if self._tf_sess is None:
            raise RuntimeError("Attempted to use a closed MonitoredSession.")
        while True:
            try:
                result = self._hooked_run(fetches, feed_dict, options, run_metadata)
                self._failures = 0
                return result
            except errors.OutOfRangeError:
                raise
            except _PREEMPTION_ERRORS as e:
                if not self._should_recover:
                    self._coord.raise_requested_exception()
                    raise
                self._recover(e)
            except Exception:
                self._coord.raise_requested_exception()
                raise

    def _hooked_run(self, fetches, feed_dict, options, run_metadata):
        context = SessionRunContext(SessionRunArgs(fetches, feed_dict), self._tf_sess)
        hook_fetches, hook_feeds, hook_options = {}, {}, []
        for i, hook in enumerate(self._hooks):
            request = hook.before_run(context)
            if request is None:
                continue
            if request.options is not None:
                hook_options.append(request.options)
            if request.fetches is not None:
                hook_fetches[i] = request.fetches
            for key, value in (request.feed_dict or {}).items():
                if key in hook_feeds:
                    raise RuntimeError(f"Same tensor is fed by two hooks: {key}")
                hook_feeds[key] = value
        feeds = dict(feed_dict or {})
        overlap = [key for key in hook_feeds if key in feeds]
        if overlap:
            raise RuntimeError(f"Same tensor is fed by a SessionRunHook and user. {overlap}")
        feeds.update(hook_feeds)
        indices = sorted(hook_fetches)
        everything = [fetches, [hook_fetches[i] for i in indices]]
        if self._global_step is not None:
            everything.append(self._global_step)
        if self._feeders:
            feeds.update(self._feeders.feeds_for(_Fetches(self._graph, everything).elements, feeds))
        if hook_options:  # TF's merge: the highest trace level and timeout; a RunMetadata to fill
            options = _merged_options(options, hook_options)
            run_metadata = run_metadata if run_metadata is not None else RunMetadata()
        caller, hook_results, *step = self._tf_sess.run(
            everything, feed_dict=feeds, options=options, run_metadata=run_metadata
        )
        if step:
            self._last_step = int(step[0])
        results = dict(zip(indices, hook_results))
        for i, hook in enumerate(self._hooks):
            hook.after_run(context, SessionRunValues(results.get(i), options, run_metadata))
        self._stop_requested = self._stop_requested or context.stop_requested
        return caller

    def run_step_fn(self, step_fn):
        """Calls `step_fn(step_context)`: `step_context.session` is the raw session,
        `step_context.run_with_hooks(...)` runs with hooks, `step_context.request_stop()` ends the loop."""
        try:
            return step_fn(_StepContext(self, self.run))
        except _RequestStop:
            self._stop_requested = True
            return None

    def close(self) -> None:
        """Calls the hooks' end(session), then closes the session."""
        self._close_internal(None)

    def _close_internal(self, exception_type) -> None:
        if self._tf_sess is None:
            raise RuntimeError("Session is already closed.")
        try:
            if not exception_type:
                for hook in self._hooks:
                    hook.end(self._tf_sess)
        finally:
            try:
                self._coord.request_stop()
                self._coord.join(self._threads, stop_grace_period_secs=self._stop_grace_period_secs)
            finally:
                self._tf_sess.close()
                self._tf_sess = None

    def __enter__(self):
        return self

    def __exit__(self, exception_type, exception_value, traceback):
        if exception_type is not None and issubclass(exception_type, errors.OutOfRangeError | StopIteration):
            exception_type = None
        if self._tf_sess is not None:
            self._close_internal(exception_type)
        return exception_type is None


def _merged_options(options, hook_options: list) -> RunOptions:
    """The caller's RunOptions with the hooks' requests merged in, as TF merges them."""
    merged = RunOptions(
        trace_level=getattr(options, "trace_level", 0),
        timeout_in_ms=getattr(options, "timeout_in_ms", 0),
        steps_per_run=getattr(options, "steps_per_run", 1),
    )
    for extra in hook_options:
        merged.trace_level = max(merged.trace_level, extra.trace_level)
        merged.timeout_in_ms = max(merged.timeout_in_ms, extra.timeout_in_ms)
    return merged


class _StepContext:
    """What run_step_fn's step function gets."""

    def __init__(self, monitored, run_with_hooks):
        self._monitored = monitored
        self._run_with_hooks = run_with_hooks

    @property
    def session(self):
        """The raw tf.Session (the current one, after a recovery)."""
        return self._monitored._tf_sess

    def run_with_hooks(self, *args, **kwargs):
        return self._run_with_hooks(*args, **kwargs)

    def request_stop(self):
        raise _RequestStop


class MonitoredSession(_MonitoredSession):
    """A session whose runs call hooks, made by a SessionCreator (ChiefSessionCreator by default).

    A run that fails because a device is gone (UnavailableError, AbortedError)
    re-creates the session, restoring the latest checkpoint, and is run again;
    after `max_failures_in_a_row` (raygraph's; default 5) such failures with no
    good run between them the error is raised (see the module's docstring).

    >>> with tf.train.MonitoredSession(tf.train.ChiefSessionCreator(master="local"), hooks) as sess:
    ...     while not sess.should_stop():
    ...         sess.run(train_op)
    """

    def __init__(
        self,
        session_creator=None,
        hooks=None,
        stop_grace_period_secs=120,
        max_failures_in_a_row=MAX_FAILURES_IN_A_ROW,
    ):
        super().__init__(
            session_creator or ChiefSessionCreator(),
            hooks,
            stop_grace_period_secs,
            should_recover=True,
            max_failures_in_a_row=max_failures_in_a_row,
        )


class SingularMonitoredSession(_MonitoredSession):
    """A MonitoredSession for a single process (always the chief); `raw_session()` is the tf.Session.

    >>> with tf.train.SingularMonitoredSession(master="local", checkpoint_dir="ckpt") as sess:
    ...     sess.raw_session().run(init_extra)
    """

    def __init__(
        self,
        hooks=None,
        scaffold=None,
        master="",
        config=None,
        checkpoint_dir=None,
        stop_grace_period_secs=120,
        checkpoint_filename_with_path=None,
    ):
        creator = ChiefSessionCreator(
            scaffold=scaffold,
            master=master,
            config=config,
            checkpoint_dir=checkpoint_dir,
            checkpoint_filename_with_path=checkpoint_filename_with_path,
        )
        super().__init__(creator, hooks, stop_grace_period_secs)

    def raw_session(self):
        """The underlying tf.Session: its runs do not call the hooks."""
        return self._tf_sess


def MonitoredTrainingSession(  # noqa: N802 - TensorFlow's name
    master="",
    is_chief=True,
    checkpoint_dir=None,
    scaffold=None,
    hooks=None,
    chief_only_hooks=None,
    save_checkpoint_secs=USE_DEFAULT,
    save_summaries_steps=USE_DEFAULT,
    save_summaries_secs=USE_DEFAULT,
    config=None,
    stop_grace_period_secs=120,
    log_step_count_steps=100,
    max_wait_secs=7200,
    save_checkpoint_steps=USE_DEFAULT,
    summary_dir=None,
    save_graph_def=True,
    max_failures_in_a_row=MAX_FAILURES_IN_A_ROW,
):
    """A MonitoredSession set up for training, as TF1's.

    The chief restores the latest checkpoint of `checkpoint_dir` (or initializes)
    and adds the standard hooks: StepCounterHook (every `log_step_count_steps`)
    and SummarySaverHook (every `save_summaries_steps`, default 100) writing to
    `summary_dir` (default checkpoint_dir), and CheckpointSaverHook (every
    `save_checkpoint_secs`, default 600, or `save_checkpoint_steps`).
    `chief_only_hooks` run only on the chief; `hooks` everywhere. A device lost
    mid-training (its actor killed, its node gone) is recovered from the latest
    checkpoint, up to `max_failures_in_a_row` times in a row (raygraph's argument).

    >>> with tf.train.MonitoredTrainingSession(master="local", checkpoint_dir="ckpt",
    ...                                        save_checkpoint_steps=100) as sess:
    ...     while not sess.should_stop():
    ...         sess.run(train_op)
    """
    if save_summaries_steps is USE_DEFAULT and save_summaries_secs is USE_DEFAULT:
        save_summaries_steps, save_summaries_secs = 100, None
    elif save_summaries_secs is USE_DEFAULT:
        save_summaries_secs = None
    elif save_summaries_steps is USE_DEFAULT:
        save_summaries_steps = None
    if save_checkpoint_steps is USE_DEFAULT and save_checkpoint_secs is USE_DEFAULT:
        save_checkpoint_steps, save_checkpoint_secs = None, 600
    elif save_checkpoint_secs is USE_DEFAULT:
        save_checkpoint_secs = None
    elif save_checkpoint_steps is USE_DEFAULT:
        save_checkpoint_steps = None
    scaffold = scaffold or Scaffold()
    if not is_chief:
        creator = WorkerSessionCreator(
            scaffold=scaffold, master=master, config=config, max_wait_secs=max_wait_secs
        )
        return MonitoredSession(
            creator,
            hooks=hooks or [],
            stop_grace_period_secs=stop_grace_period_secs,
            max_failures_in_a_row=max_failures_in_a_row,
        )

    all_hooks = list(chief_only_hooks or [])
    creator = ChiefSessionCreator(
        scaffold=scaffold, checkpoint_dir=checkpoint_dir, master=master, config=config
    )
    summary_dir = summary_dir or checkpoint_dir
    if summary_dir:
        if log_step_count_steps and log_step_count_steps > 0:
            all_hooks.append(
                basic_hooks.StepCounterHook(output_dir=summary_dir, every_n_steps=log_step_count_steps)
            )
        if (save_summaries_steps and save_summaries_steps > 0) or (
            save_summaries_secs and save_summaries_secs > 0
        ):
            all_hooks.append(
                basic_hooks.SummarySaverHook(
                    scaffold=scaffold,
                    save_steps=save_summaries_steps,
                    save_secs=save_summaries_secs,
                    output_dir=summary_dir,
                )
            )
    if checkpoint_dir and (
        (save_checkpoint_secs and save_checkpoint_secs > 0)
        or (save_checkpoint_steps and save_checkpoint_steps > 0)
    ):
        all_hooks.append(
            basic_hooks.CheckpointSaverHook(
                os.fspath(checkpoint_dir),
                save_steps=save_checkpoint_steps,
                save_secs=save_checkpoint_secs,
                scaffold=scaffold,
                save_graph_def=save_graph_def,
            )
        )
    all_hooks.extend(hooks or [])
    return MonitoredSession(
        creator,
        hooks=all_hooks,
        stop_grace_period_secs=stop_grace_period_secs,
        max_failures_in_a_row=max_failures_in_a_row,
    )
