"""`tf.train.SessionManager`: makes a session whose variables are ready to use.

`prepare_session` (the chief) creates a Session on `master`, then either
restores the latest checkpoint of `checkpoint_dir` (or the checkpoint named by
`checkpoint_filename_with_path`) or runs `init_op` and `init_fn`; then it runs
`local_init_op` once `ready_for_local_init_op` reports nothing uninitialized,
and finally checks `ready_op`: a string tensor naming the variables still
uninitialized, which must be empty. Each failure is a RuntimeError that names
the variables left uninitialized.

`wait_for_session` (a worker) creates sessions until another process has
initialized the model, up to `max_wait_secs`; with the in-process "local"
target nothing else can initialize it, so it only makes sense on Ray actors
whose variables outlive a session (they do not yet: see Session.close).
"""

from __future__ import annotations

import time

import numpy as np

from raygraph import logging
from raygraph.graph import get_default_graph
from raygraph.session import Session
from raygraph.train.saver import get_checkpoint_state

__all__ = ["SessionManager"]


def _names(value) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(value).ravel()]


class SessionManager:
    """Creates sessions, restoring from a checkpoint or initializing, and checks readiness.

    >>> sm = tf.train.SessionManager()
    >>> sess = sm.prepare_session("local", init_op=tf.global_variables_initializer(),
    ...                           saver=saver, checkpoint_dir="ckpt")
    """

    def __init__(
        self,
        local_init_op=None,
        ready_op=None,
        ready_for_local_init_op=None,
        graph=None,
        recovery_wait_secs=30,
        local_init_run_options=None,
        local_init_feed_dict=None,
    ):
        self._local_init_op = local_init_op
        self._ready_op = ready_op
        self._ready_for_local_init_op = ready_for_local_init_op
        self._graph = graph if graph is not None else get_default_graph()
        self._recovery_wait_secs = recovery_wait_secs
        self._local_init_run_options = local_init_run_options
        self._local_init_feed_dict = local_init_feed_dict
        if ready_for_local_init_op is not None and local_init_op is None:
            raise ValueError("If you pass a ready_for_local_init_op you must also pass a local_init_op")

    def _restore_checkpoint(
        self,
        master,
        saver=None,
        checkpoint_dir=None,
        checkpoint_filename_with_path=None,
        wait_for_checkpoint=False,
        max_wait_secs=7200,
        config=None,
    ):
        """(session, whether it was restored from a checkpoint)."""
        sess = Session(master, graph=self._graph, config=config)
        if checkpoint_dir and checkpoint_filename_with_path:
            raise ValueError("Can not provide both checkpoint_dir and checkpoint_filename_with_path.")
        if saver is None or not (checkpoint_dir or checkpoint_filename_with_path):
            return sess, False
        if checkpoint_filename_with_path:
            saver.restore(sess, checkpoint_filename_with_path)
            return sess, True
        waited = 0.0
        state = get_checkpoint_state(checkpoint_dir)
        while not (state and state.model_checkpoint_path):
            if not wait_for_checkpoint or waited >= max_wait_secs:
                return sess, False
            logging.info("Waiting for checkpoint to be available.")
            time.sleep(self._recovery_wait_secs)
            waited += self._recovery_wait_secs
            state = get_checkpoint_state(checkpoint_dir)
        saver.restore(sess, state.model_checkpoint_path)
        saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
        return sess, True

    def prepare_session(
        self,
        master,
        init_op=None,
        saver=None,
        checkpoint_dir=None,
        wait_for_checkpoint=False,
        max_wait_secs=7200,
        config=None,
        init_feed_dict=None,
        init_fn=None,
        checkpoint_filename_with_path=None,
    ):
        """A session with the model restored from a checkpoint, or initialized; RuntimeError if not ready."""
        sess, restored = self._restore_checkpoint(
            master,
            saver,
            checkpoint_dir,
            checkpoint_filename_with_path,
            wait_for_checkpoint,
            max_wait_secs,
            config,
        )
        if not restored:
            if init_op is None and not init_fn and self._local_init_op is None:
                raise RuntimeError(
                    "Model is not initialized and no init_op or init_fn or local_init_op was given"
                )
            if init_op is not None:
                sess.run(init_op, feed_dict=init_feed_dict)
            if init_fn:
                init_fn(sess)
        ok, message = self._try_run_local_init_op(sess)
        if not ok:
            raise RuntimeError(
                f"Init operations did not make model ready for local_init. Init op: {_op_name(init_op)}, "
                f"init fn: {init_fn}, error: {message}"
            )
        ready, message = self._model_ready(sess)
        if not ready:
            raise RuntimeError(
                f"Init operations did not make model ready. Init op: {_op_name(init_op)}, init fn: {init_fn}, "
                f"local_init_op: {_op_name(self._local_init_op)}, error: {message}"
            )
        return sess

    def recover_session(
        self,
        master,
        saver=None,
        checkpoint_dir=None,
        wait_for_checkpoint=False,
        max_wait_secs=7200,
        config=None,
        checkpoint_filename_with_path=None,
    ):
        """(session, whether it is initialized): restores a checkpoint if there is one, runs local init."""
        sess, restored = self._restore_checkpoint(
            master,
            saver,
            checkpoint_dir,
            checkpoint_filename_with_path,
            wait_for_checkpoint,
            max_wait_secs,
            config,
        )
        ok, _ = self._try_run_local_init_op(sess)
        if not restored or not ok:
            return sess, False
        ready, message = self._model_ready(sess)
        if not ready:
            logging.info("Restoring model from %s did not make model ready: %s", checkpoint_dir, message)
        return sess, ready

    def wait_for_session(self, master, config=None, max_wait_secs=float("Inf")):
        """A session once the model is ready (initialized by someone else); None after max_wait_secs."""
        deadline = time.time() + max_wait_secs
        while True:
            sess = Session(master, graph=self._graph, config=config)
            ok, message = self._try_run_local_init_op(sess)
            if ok:
                ready, message = self._model_ready(sess)
                if ready:
                    return sess
            sess.close()
            if time.time() + self._recovery_wait_secs > deadline:
                raise RuntimeError(f"Session was not ready after waiting {max_wait_secs} secs: {message}")
            logging.info("Waiting for model to be ready: %s", message)
            time.sleep(self._recovery_wait_secs)

    def _model_ready(self, sess):
        return _ready(self._ready_op, sess, "Model not ready")

    def _try_run_local_init_op(self, sess):
        if self._local_init_op is None:
            return True, None
        ready, message = _ready(self._ready_for_local_init_op, sess, "Model not ready for local init")
        if not ready:
            return False, message
        sess.run(
            self._local_init_op, feed_dict=self._local_init_feed_dict, options=self._local_init_run_options
        )
        return True, None


def _ready(op, sess, what: str):
    """(True, None) when `op` (names of uninitialized variables) is empty or None."""
    if op is None:
        return True, None
    names = _names(sess.run(op))
    if not names:
        return True, None
    return False, f"{what}: Variables not initialized: {', '.join(names)}"


def _op_name(op) -> str:
    return "None" if op is None else getattr(op, "name", str(op))
