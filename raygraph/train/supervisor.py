"""`tf.train.Supervisor`: TF1's older training helper (initialize or restore, save, summarize).

    sv = tf.train.Supervisor(logdir="train", save_model_secs=60)
    with sv.managed_session("local") as sess:
        while not sv.should_stop():
            sess.run(train_op)

The constructor fills in the default ops (init, ready, local init, summary op,
Saver, global step) and finalizes the graph. `managed_session` prepares a
session through a SessionManager (restoring the latest checkpoint of `logdir`,
else initializing), starts the standard services on the chief, yields the plain
Session, and on leaving stops the services and closes the session; an
OutOfRangeError raised in the block ends it cleanly, other errors are re-raised.

The standard services are background threads, as in TF: a checkpoint every
`save_model_secs` and summaries every `save_summaries_secs` (each first after
one interval), sharing the Session, whose runs from several threads take turns.
The Supervisor does not save a checkpoint when it stops (neither does TF's).
"""

from __future__ import annotations

import contextlib
import os
import threading

from raygraph import errors, logging
from raygraph.graph import GraphKeys, get_default_graph
from raygraph.summary import FileWriter, SessionLog
from raygraph.train.monitored_session import Scaffold, new_coordinator, start_queue_runners
from raygraph.train.session_manager import SessionManager
from raygraph.train.training_util import get_global_step

__all__ = ["Supervisor"]


class Supervisor:
    """Initializes or restores a model, and checkpoints and summarizes it in the background.

    Pass None for an op to disable it; leave USE_DEFAULT to get the default
    (from its collection, or built). `logdir` None disables checkpoints and summaries.

    >>> sv = tf.train.Supervisor(logdir="train")
    >>> with sv.managed_session("local") as sess:
    ...     while not sv.should_stop():
    ...         sess.run(train_op)
    """

    USE_DEFAULT = 0

    def __init__(
        self,
        graph=None,
        ready_op=USE_DEFAULT,
        ready_for_local_init_op=USE_DEFAULT,
        is_chief=True,
        init_op=USE_DEFAULT,
        init_feed_dict=None,
        local_init_op=USE_DEFAULT,
        logdir=None,
        summary_op=USE_DEFAULT,
        saver=USE_DEFAULT,
        global_step=USE_DEFAULT,
        save_summaries_secs=120,
        save_model_secs=600,
        recovery_wait_secs=30,
        stop_grace_secs=120,
        checkpoint_basename="model.ckpt",
        session_manager=None,
        summary_writer=USE_DEFAULT,
        init_fn=None,
        local_init_run_options=None,
    ):
        self._graph = graph if graph is not None else get_default_graph()
        with self._graph.as_default():
            self._build_defaults(
                ready_op, ready_for_local_init_op, init_op, local_init_op, summary_op, saver, global_step
            )
        self._is_chief = is_chief
        self._init_feed_dict = init_feed_dict
        self._init_fn = init_fn
        self._logdir = os.fspath(logdir) if logdir else None
        self._save_summaries_secs = save_summaries_secs
        self._save_model_secs = save_model_secs
        self._stop_grace_secs = stop_grace_secs
        self._save_path = os.path.join(self._logdir, checkpoint_basename) if self._logdir else None
        self._coord = new_coordinator()
        self._threads: list[threading.Thread] = []
        if summary_writer is Supervisor.USE_DEFAULT:
            summary_writer = FileWriter(self._logdir) if self._logdir and is_chief else None
        self._summary_writer = summary_writer
        self._session_manager = session_manager or SessionManager(
            local_init_op=self._local_init_op,
            ready_op=self._ready_op,
            ready_for_local_init_op=self._ready_for_local_init_op,
            graph=self._graph,
            recovery_wait_secs=recovery_wait_secs,
            local_init_run_options=local_init_run_options,
        )
        if self._is_chief and self._summary_writer is not None:
            self._summary_writer.add_graph(self._graph)
        self._graph.finalize()

    def _build_defaults(
        self, ready_op, ready_for_local_init_op, init_op, local_init_op, summary_op, saver, step
    ):
        from raygraph.summary import merge_all
        from raygraph.template import report_uninitialized_variables
        from raygraph.train.monitored_session import _saver_or_default
        from raygraph.variables import global_variables, global_variables_initializer

        default = Supervisor.USE_DEFAULT

        def pick(value, key, build):
            return Scaffold.get_or_default(key, key, build) if value is default else value

        self._ready_op = pick(ready_op, GraphKeys.READY_OP, report_uninitialized_variables)
        self._ready_for_local_init_op = pick(
            ready_for_local_init_op,
            GraphKeys.READY_FOR_LOCAL_INIT_OP,
            lambda: report_uninitialized_variables(global_variables()),
        )
        self._init_op = pick(init_op, GraphKeys.INIT_OP, global_variables_initializer)
        self._local_init_op = pick(local_init_op, GraphKeys.LOCAL_INIT_OP, Scaffold.default_local_init_op)
        self._summary_op = pick(summary_op, GraphKeys.SUMMARY_OP, merge_all)
        self._saver = _saver_or_default() if saver is default else saver
        self._global_step = get_global_step() if step is default else step

    # -- properties --
    is_chief = property(lambda self: self._is_chief)
    coord = property(lambda self: self._coord)
    session_manager = property(lambda self: self._session_manager)
    init_op = property(lambda self: self._init_op)
    init_feed_dict = property(lambda self: self._init_feed_dict)
    ready_op = property(lambda self: self._ready_op)
    ready_for_local_init_op = property(lambda self: self._ready_for_local_init_op)
    summary_writer = property(lambda self: self._summary_writer)
    summary_op = property(lambda self: self._summary_op)
    save_summaries_secs = property(lambda self: self._save_summaries_secs)
    global_step = property(lambda self: self._global_step)
    saver = property(lambda self: self._saver)
    save_model_secs = property(lambda self: self._save_model_secs)
    save_path = property(lambda self: self._save_path)

    # -- sessions --
    def prepare_or_wait_for_session(
        self,
        master="",
        config=None,
        wait_for_checkpoint=False,
        max_wait_secs=7200,
        start_standard_services=True,
    ):
        """The chief's session (restored or initialized, services started), or a worker's once ready."""
        if self._coord.should_stop():
            self._coord.clear_stop()
        if self._is_chief:
            sess = self._session_manager.prepare_session(
                master,
                init_op=self._init_op,
                saver=self._saver,
                checkpoint_dir=self._logdir,
                wait_for_checkpoint=wait_for_checkpoint,
                max_wait_secs=max_wait_secs,
                config=config,
                init_feed_dict=self._init_feed_dict,
                init_fn=self._init_fn,
            )
            if start_standard_services:
                self.start_standard_services(sess)
        else:
            sess = self._session_manager.wait_for_session(master, config=config, max_wait_secs=max_wait_secs)
        if start_standard_services:
            self.start_queue_runners(sess)
        return sess

    @contextlib.contextmanager
    def managed_session(
        self, master="", config=None, start_standard_services=True, close_summary_writer=True
    ):
        """Yields a ready Session; stops the services and closes it on exit (OutOfRangeError ends cleanly)."""
        sess = self.prepare_or_wait_for_session(
            master=master, config=config, start_standard_services=start_standard_services
        )
        try:
            yield sess
        except Exception as e:  # noqa: BLE001 - handed to the coordinator, re-raised by stop()
            self.request_stop(e)
        finally:
            try:
                self.stop(close_summary_writer=close_summary_writer)
            finally:
                sess.close()

    def start_standard_services(self, sess) -> list:
        """Starts the checkpoint and summary threads (chief only); writes the START session log."""
        if not self._is_chief:
            raise RuntimeError(
                "Only chief supervisor can start standard services. Because only chief supervisors can write events."
            )
        threads = []
        if self._logdir and self._summary_writer is not None:
            self._summary_writer.reopen()  # closed by the previous managed_session, if any
            step = int(sess.run(self._global_step)) if self._global_step is not None else None
            self._summary_writer.add_session_log(SessionLog(status=SessionLog.START), step)
            if self._summary_op is not None and self._save_summaries_secs:
                threads.append(self.loop(self._save_summaries_secs, self._write_summaries, args=(sess,)))
        if self._saver is not None and self._save_path and self._save_model_secs:
            threads.append(self.loop(self._save_model_secs, self._save_checkpoint, args=(sess,)))
        return threads

    def start_queue_runners(self, sess, queue_runners=None) -> list:
        threads = start_queue_runners(sess, self._coord)
        self._threads.extend(threads)
        return threads

    def loop(self, timer_interval_secs, target, args=None, kwargs=None) -> threading.Thread:
        """Calls `target(*args, **kwargs)` every `timer_interval_secs` in a thread until stop."""

        def run():
            try:
                while not self._coord.wait_for_stop(timer_interval_secs):
                    target(*(args or ()), **(kwargs or {}))
            except Exception as e:  # noqa: BLE001
                self._coord.request_stop(e)

        thread = threading.Thread(
            target=run, daemon=True, name=f"supervisor-{getattr(target, '__name__', 'loop')}"
        )
        thread.start()
        self._threads.append(thread)
        return thread

    def _write_summaries(self, sess) -> None:
        if self._global_step is not None:
            summary, step = sess.run([self._summary_op, self._global_step])
        else:
            summary, step = sess.run(self._summary_op), None
        self.summary_computed(sess, summary, global_step=step)

    def _save_checkpoint(self, sess) -> None:
        logging.info("Saving checkpoint to path %s", self._save_path)
        self._saver.save(sess, self._save_path, global_step=self._global_step)
        if self._summary_writer is not None and self._global_step is not None:
            step = int(sess.run(self._global_step))
            log = SessionLog(status=SessionLog.CHECKPOINT, checkpoint_path=self._save_path)
            self._summary_writer.add_session_log(log, step)

    def summary_computed(self, sess, summary, global_step=None) -> None:
        """Writes a summary computed by the caller (the global step's value by default)."""
        if self._summary_writer is None:
            raise RuntimeError("Writing a summary requires a summary writer.")
        if global_step is None and self._global_step is not None:
            global_step = int(sess.run(self._global_step))
        self._summary_writer.add_summary(summary, global_step)

    # -- stopping --
    def should_stop(self) -> bool:
        return self._coord.should_stop()

    def request_stop(self, ex=None) -> None:
        """Asks the services and the loop to stop; `ex` (other than OutOfRangeError) is re-raised by stop()."""
        if isinstance(ex, errors.OutOfRangeError):
            ex = None
        self._coord.request_stop(ex)

    def stop(self, threads=None, close_summary_writer=True, ignore_live_threads=False) -> None:
        """Stops the services' threads (re-raising an error one reported) and closes the summary writer."""
        self._coord.request_stop()
        try:
            self._coord.join(
                list(threads or []) + self._threads, stop_grace_period_secs=self._stop_grace_secs
            )
        finally:
            self._threads = []
            if close_summary_writer and self._summary_writer is not None:
                self._summary_writer.add_session_log(SessionLog(status=SessionLog.STOP))
                self._summary_writer.close()

    def wait_for_stop(self) -> None:
        self._coord.wait_for_stop()

    @contextlib.contextmanager
    def stop_on_exception(self):
        try:
            yield
        except Exception as e:  # noqa: BLE001
            self.request_stop(e)
