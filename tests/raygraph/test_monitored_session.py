"""Hooks, Scaffold, MonitoredSession/MonitoredTrainingSession and Supervisor on the "local" target."""

from __future__ import annotations

import os

import numpy as np
import pytest

import raygraph as tf
from raygraph import errors


def _model(lr=0.1):
    step = tf.train.get_or_create_global_step()
    w = tf.get_variable("w", initializer=tf.constant([1.0, 2.0]))
    loss = tf.reduce_sum(w * w)
    train_op = tf.train.GradientDescentOptimizer(lr).minimize(loss, global_step=step)
    return step, w, loss, train_op


class Recorder(tf.train.SessionRunHook):
    def __init__(self, fetch=None, feed=None):
        self.calls, self.results, self.fetch, self.feed = [], [], fetch, feed

    def begin(self):
        self.calls.append("begin")

    def after_create_session(self, session, coord):
        self.calls.append("after_create_session")

    def before_run(self, run_context):
        self.calls.append("before_run")
        return tf.train.SessionRunArgs(self.fetch, feed_dict=self.feed)

    def after_run(self, run_context, run_values):
        self.calls.append("after_run")
        self.results.append(run_values.results)

    def end(self, session):
        self.calls.append("end")


def test_hooks_order_fetches_and_stop_at_step(tmp_path):
    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        rec = Recorder(fetch={"loss": loss})
        hooks = [tf.train.StopAtStepHook(num_steps=3), rec]
        with tf.train.MonitoredTrainingSession(master="local", hooks=hooks) as sess:
            assert tf.get_default_graph().finalized
            seen = []
            while not sess.should_stop():
                seen.append(sess.run([train_op, step])[1])
        assert sess.should_stop()
    assert seen == [1, 2, 3]  # a fetched variable shows the run's update (TF1 ref variables)
    assert rec.calls[:2] == ["begin", "after_create_session"]
    assert rec.calls[2:] == ["before_run", "after_run"] * 3 + ["end"]
    np.testing.assert_allclose([r["loss"] for r in rec.results], [5.0, 3.2, 2.048], rtol=1e-6)


def test_hook_feeds_and_conflicting_feeds():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [])
        tf.train.get_or_create_global_step()
        y = x * 2.0
        feeder = tf.train.FeedFnHook(lambda: {x: 4.0})
        with tf.train.MonitoredSession(tf.train.ChiefSessionCreator(master="local"), hooks=[feeder]) as sess:
            assert sess.run(y) == 8.0
            with pytest.raises(RuntimeError, match="fed by a SessionRunHook and user"):
                sess.run(y, feed_dict={x: 1.0})
        with (
            tf.train.MonitoredSession(
                tf.train.ChiefSessionCreator(master="local"), hooks=[feeder, Recorder(feed={x: 1.0})]
            ) as sess,
            pytest.raises(RuntimeError, match="fed by two hooks"),
        ):
            sess.run(y)


def test_checkpoints_saved_and_restored(tmp_path):
    ckpt = str(tmp_path / "ckpt")
    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        with tf.train.MonitoredTrainingSession(
            master="local",
            checkpoint_dir=ckpt,
            save_checkpoint_steps=2,
            hooks=[tf.train.StopAtStepHook(last_step=5)],
        ) as sess:
            while not sess.should_stop():
                sess.run(train_op)
            w5 = sess.run(w)
    files = sorted(os.listdir(ckpt))
    for n in (0, 2, 4, 5):
        assert f"model.ckpt-{n}.safetensors" in files
    assert any(f.startswith("events.out.tfevents") for f in files)
    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        with tf.train.SingularMonitoredSession(master="local", checkpoint_dir=ckpt) as sess:
            np.testing.assert_allclose(sess.run(w), w5)
            assert sess.run(step) == 5
            assert isinstance(sess.raw_session(), tf.Session)
        # training resumes from the checkpoint: last_step=7 means 2 more steps
        with tf.train.MonitoredTrainingSession(
            master="local", checkpoint_dir=ckpt, hooks=[tf.train.StopAtStepHook(last_step=7)]
        ) as sess:
            n = 0
            while not sess.should_stop():
                sess.run(train_op)
                n += 1
    assert n == 2
    assert tf.train.latest_checkpoint(ckpt).endswith("model.ckpt-7")


def test_out_of_range_ends_the_loop_cleanly_and_runs_end():
    with tf.Graph().as_default():
        tf.train.get_or_create_global_step()
        counter = tf.get_variable("c", initializer=tf.constant(0.0))
        bump = tf.assign_add(counter, 1.0)
        final = tf.train.FinalOpsHook(counter)
        calls = []

        def feed():
            calls.append(1)
            if len(calls) > 3:
                raise errors.OutOfRangeError(None, None, "done")
            return {}

        with tf.train.MonitoredSession(
            tf.train.ChiefSessionCreator(master="local"), hooks=[tf.train.FeedFnHook(feed), final]
        ) as sess:
            while not sess.should_stop():
                sess.run(bump)
    assert final.final_ops_values == 3.0


def test_other_errors_propagate_and_skip_end():
    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        rec = Recorder()
        with pytest.raises(ValueError, match="boom"):
            with tf.train.MonitoredTrainingSession(master="local", hooks=[rec]) as sess:
                sess.run(train_op)
                raise ValueError("boom")
        assert "end" not in rec.calls


def test_nan_tensor_hook():
    with tf.Graph().as_default():
        tf.train.get_or_create_global_step()
        x = tf.placeholder(tf.float32, [])
        loss = tf.log(x)
        with tf.train.MonitoredSession(
            tf.train.ChiefSessionCreator(master="local"), hooks=[tf.train.NanTensorHook(loss)]
        ) as sess:
            sess.run(loss, {x: 1.0})
            with pytest.raises(tf.train.NanLossDuringTrainingError):
                sess.run(loss, {x: -1.0})
        with tf.train.MonitoredSession(
            tf.train.ChiefSessionCreator(master="local"),
            hooks=[tf.train.NanTensorHook(loss, fail_on_nan_loss=False)],
        ) as sess:
            sess.run(loss, {x: -1.0})
            assert sess.should_stop()


def test_logging_tensor_hook_every_n_iter(caplog):
    tf.logging.set_verbosity(tf.logging.INFO)
    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        hook = tf.train.LoggingTensorHook({"loss": loss}, every_n_iter=2, at_end=True)
        with caplog.at_level("INFO", logger="raygraph"):
            with tf.train.MonitoredSession(
                tf.train.ChiefSessionCreator(master="local"), hooks=[hook]
            ) as sess:
                for _ in range(5):
                    sess.run(train_op)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("loss = ")]
    assert len(lines) == 4  # iterations 0, 2, 4, and at the end
    assert lines[0] == "loss = 5.0"


def test_summary_saver_and_checkpoint_listener(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    class Listener(tf.train.CheckpointSaverListener):
        def __init__(self):
            self.saved = []

        def after_save(self, session, global_step_value):
            self.saved.append(global_step_value)
            return global_step_value >= 4  # stops training

    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        tf.summary.scalar("loss", loss)
        listener = Listener()
        scaffold = tf.train.Scaffold()
        hooks = [
            tf.train.SummarySaverHook(save_steps=1, output_dir=str(tmp_path), scaffold=scaffold),
            tf.train.CheckpointSaverHook(
                str(tmp_path), save_steps=2, scaffold=scaffold, listeners=[listener]
            ),
        ]
        with tf.train.MonitoredSession(
            tf.train.ChiefSessionCreator(scaffold, master="local"), hooks=hooks
        ) as sess:
            while not sess.should_stop():
                sess.run(train_op)
    assert listener.saved == [0, 2, 4]
    tf.summary.FileWriterCache.clear()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    values = [(e.step, e.value) for e in acc.Scalars("loss")]
    assert [s for s, _ in values] == [1, 2, 3, 4]
    np.testing.assert_allclose([v for _, v in values], [5.0, 3.2, 2.048, 1.31072], rtol=1e-5)


def test_scaffold_init_fn_and_ready_check():
    with tf.Graph().as_default():
        tf.train.get_or_create_global_step()
        v = tf.get_variable("v", initializer=tf.constant(1.0))
        with tf.train.SingularMonitoredSession(master="local") as sess:
            assert sess.run(v) == 1.0
    with tf.Graph().as_default():
        v = tf.get_variable("v", initializer=tf.constant(1.0))
        assign = tf.assign(v, 3.0)
        scaffold = tf.train.Scaffold(init_op=tf.no_op(), init_fn=lambda scaffold, sess: sess.run(assign))
        with tf.train.SingularMonitoredSession(scaffold=scaffold, master="local") as sess:
            assert sess.run(v) == 3.0
    with tf.Graph().as_default():
        tf.get_variable("v", initializer=tf.constant(1.0))
        scaffold = tf.train.Scaffold(init_op=tf.no_op())
        with pytest.raises(RuntimeError, match="Variables not initialized: v"):
            tf.train.SingularMonitoredSession(scaffold=scaffold, master="local")


def test_step_fn_and_closed_session():
    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        sess = tf.train.MonitoredSession(tf.train.ChiefSessionCreator(master="local"))

        def step_fn(ctx):
            ctx.run_with_hooks(train_op)
            ctx.request_stop()

        sess.run_step_fn(step_fn)
        assert sess.should_stop()
        assert sess.run_step_fn(lambda ctx: ctx.session.run(step)) == 1
        sess.close()
        with pytest.raises(RuntimeError, match="closed"):
            sess.run(step)


def test_second_or_step_timer():
    timer = tf.train.SecondOrStepTimer(every_steps=3)
    assert timer.should_trigger_for_step(0)
    assert timer.update_last_triggered_step(0) == (None, None)
    assert not timer.should_trigger_for_step(2)
    assert timer.should_trigger_for_step(3)
    with pytest.raises(ValueError):
        tf.train.SecondOrStepTimer()
    with pytest.raises(ValueError):
        tf.train.StopAtStepHook(num_steps=1, last_step=2)


def test_hooks_need_global_step():
    with tf.Graph().as_default():
        tf.constant(1.0)
        with pytest.raises(RuntimeError, match="Global step should be created"):
            tf.train.StopAtStepHook(num_steps=1).begin()


def test_supervisor_managed_session(tmp_path):
    logdir = str(tmp_path / "sv")
    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        sv = tf.train.Supervisor(logdir=logdir, save_model_secs=0, save_summaries_secs=0)
        assert tf.get_default_graph().finalized
        with sv.managed_session("local") as sess:
            for _ in range(3):
                sess.run(train_op)
            sv.saver.save(sess, sv.save_path, global_step=sv.global_step)
            raise errors.OutOfRangeError(None, None, "input done")  # ends the block cleanly
        assert sv.should_stop()
    assert tf.train.latest_checkpoint(logdir).endswith("model.ckpt-3")
    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        sv = tf.train.Supervisor(logdir=logdir, save_model_secs=0, save_summaries_secs=0)
        with sv.managed_session("local") as sess:
            assert sess.run(step) == 3
        with pytest.raises(ValueError, match="user error"):
            with sv.managed_session("local"):
                raise ValueError("user error")


def test_supervisor_background_checkpoint(tmp_path):
    logdir = str(tmp_path / "sv")
    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        sv = tf.train.Supervisor(logdir=logdir, save_model_secs=0.05, save_summaries_secs=0)
        with sv.managed_session("local") as sess:
            sess.run(train_op)
            import time

            deadline = time.time() + 10
            while tf.train.latest_checkpoint(logdir) is None and time.time() < deadline:
                time.sleep(0.05)
    assert tf.train.latest_checkpoint(logdir).endswith("model.ckpt-1")


# -- recovery: a run that fails because a device is gone ------------------------------------------

LOST = "Device /job:worker/replica:0/task:0/device:CPU:1 is unavailable: its actor died"


class _FlakySession:
    """A local session that loses everything (as a dead device does) at the creator's chosen runs."""

    def __init__(self, sess, creator):
        self._sess, self._creator = sess, creator
        self.graph = sess.graph

    def run(self, *args, **kwargs):
        self._creator.runs += 1
        if self._creator.runs in self._creator.fail_at:
            self._sess.close()
            raise self._creator.error_class(None, None, LOST)
        return self._sess.run(*args, **kwargs)

    def close(self):
        self._sess.close()


class _FlakyCreator(tf.train.SessionCreator):
    def __init__(self, inner, fail_at=(), fail_creations=0, error_class=errors.UnavailableError):
        self.inner, self.fail_at, self.runs, self.created = inner, set(fail_at), 0, 0
        self.fail_creations, self.error_class = fail_creations, error_class

    def create_session(self):
        self.created += 1
        if self.created <= self.fail_creations:
            raise self.error_class(None, None, LOST)
        return _FlakySession(self.inner.create_session(), self)


def _step_batches():
    """A train step whose batch is a function of the global step (so a replay sees the same data)."""
    step = tf.train.get_or_create_global_step()
    rng = np.random.RandomState(0)
    xs = tf.constant(rng.randn(6, 8, 3).astype(np.float32))
    ys = tf.constant(rng.randn(6, 8, 1).astype(np.float32))
    index = tf.mod(step, 6)
    x, y = tf.gather(xs, index), tf.gather(ys, index)
    w = tf.get_variable("w", initializer=tf.constant(rng.randn(3, 1).astype(np.float32)))
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
    train_op = tf.train.AdamOptimizer(0.05).minimize(loss, global_step=step)
    return step, w, train_op


def _train_flaky(
    ckpt, fail_at=(), fail_creations=0, last_step=20, error_class=errors.UnavailableError, **kwargs
):
    with tf.Graph().as_default():
        step, w, train_op = _step_batches()
        rec = Recorder()
        creator = _FlakyCreator(
            tf.train.ChiefSessionCreator(master="local", checkpoint_dir=ckpt),
            fail_at,
            fail_creations,
            error_class,
        )
        hooks = [
            tf.train.CheckpointSaverHook(ckpt, save_steps=3),
            tf.train.StopAtStepHook(last_step=last_step),
            rec,
        ]
        with tf.train.MonitoredSession(creator, hooks=hooks, **kwargs) as sess:
            while not sess.should_stop():
                sess.run(train_op)
            return sess.run([w, step]), creator, rec


def test_a_lost_device_is_recovered_from_the_checkpoint_and_training_ends_as_uninterrupted(tmp_path, caplog):
    (want_w, want_step), _, _ = _train_flaky(str(tmp_path / "clean"))
    with caplog.at_level("WARNING"):
        (w, step), creator, rec = _train_flaky(str(tmp_path / "flaky"), fail_at={9, 10, 31, 40})
    assert step == want_step == 20
    np.testing.assert_array_equal(w, want_w)
    assert creator.created == 5  # the first session, then one per failure (10 fails while recovering 9)
    # run 10 (the new session's first: its global step) failed before the hooks saw that session
    assert rec.calls.count("after_create_session") == 4 and rec.calls.count("end") == 1
    warnings = [r.getMessage() for r in caplog.records if "MonitoredSession" in r.getMessage()]
    assert len(warnings) == 4 and all("CPU:1" in m for m in warnings)


def test_aborted_runs_and_failed_creations_are_recovered_too(tmp_path):
    (want_w, _), _, _ = _train_flaky(str(tmp_path / "clean"), last_step=8)
    (w, step), creator, _ = _train_flaky(
        str(tmp_path / "flaky"), fail_at={5}, fail_creations=1, last_step=8, error_class=errors.AbortedError
    )
    assert step == 8 and creator.created == 3
    np.testing.assert_array_equal(w, want_w)


def test_too_many_failures_in_a_row_raise_one_error_naming_the_device_and_step(tmp_path):
    with pytest.raises(errors.UnavailableError) as info:
        _train_flaky(str(tmp_path / "c"), fail_at=set(range(14, 200)), max_failures_in_a_row=4)
    text = str(info.value)
    assert "gave up after 4 failures in a row at global step" in text and "CPU:1" in text
    step = int(text.split("at global step ")[1].split(";")[0])
    assert step == 6  # the last step reached (runs 12 and 13: the step-6 run and its hooks)


def test_singular_monitored_session_does_not_recover(tmp_path):
    with tf.Graph().as_default():
        step, w, train_op = _step_batches()
        with tf.train.SingularMonitoredSession(master="local") as sess:
            sess._tf_sess.close()
            sess._tf_sess = _FlakySession(tf.Session("local"), _FlakyCreator(None, fail_at={1}))
            with pytest.raises(errors.UnavailableError, match="CPU:1"):
                sess.run(train_op)


def test_profiler_hook_writes_a_chrome_trace_every_n_steps(tmp_path):
    import json

    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        hooks = [
            tf.train.ProfilerHook(save_steps=3, output_dir=str(tmp_path)),
            tf.train.StopAtStepHook(last_step=8),
        ]
        with tf.train.MonitoredSession(tf.train.ChiefSessionCreator(master="local"), hooks=hooks) as sess:
            while not sess.should_stop():
                sess.run(train_op)
    files = sorted(os.listdir(tmp_path))
    assert files == ["timeline-3.json", "timeline-6.json"]  # as TF: every 3 steps, not the first run
    trace = json.loads((tmp_path / "timeline-3.json").read_text())
    names = {e.get("args", {}).get("name") for e in trace["traceEvents"] if e.get("ph") == "X"}
    assert any(name and "GradientDescent" in name for name in names)


def test_a_hooks_run_options_are_merged_and_its_run_metadata_filled():
    class Traced(tf.train.SessionRunHook):
        def before_run(self, run_context):
            return tf.train.SessionRunArgs(None, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE))

        def after_run(self, run_context, run_values):
            self.stats = run_values.run_metadata.step_stats

    with tf.Graph().as_default():
        step, w, loss, train_op = _model()
        hook = Traced()
        with tf.train.MonitoredSession(tf.train.ChiefSessionCreator(master="local"), hooks=[hook]) as sess:
            sess.run(train_op)
    assert sum(len(d.node_stats) for d in hook.stats.dev_stats) > 0
