"""`tf.estimator.train_and_evaluate`, TrainSpec and EvalSpec, run locally and in sequence.

As TF's local mode: one `Estimator.train` up to `train_spec.max_steps`, with a
checkpoint listener that evaluates after each checkpoint save (not the one of
step 0, and at most once every `eval_spec.throttle_secs`), and a last
evaluation of the final checkpoint when training ends. There is no cluster:
TF_CONFIG is ignored, and exporters are not supported (SavedModel export is not
implemented).
"""

from __future__ import annotations

from typing import NamedTuple

from raygraph.train.basic_hooks import CheckpointSaverListener, SecondOrStepTimer
from raygraph.train.session_run_hook import SessionRunHook

__all__ = ["EvalSpec", "TrainSpec", "train_and_evaluate"]


def _hooks(hooks) -> tuple:
    hooks = tuple(hooks or ())
    for hook in hooks:
        if not isinstance(hook, SessionRunHook):
            raise TypeError(f"All hooks must be SessionRunHook instances, given: {hook!r}")
    return hooks


class TrainSpec(
    NamedTuple(
        "TrainSpec",
        [("input_fn", object), ("max_steps", object), ("hooks", tuple), ("saving_listeners", tuple)],
    )
):
    """What train_and_evaluate trains on: `input_fn`, up to `max_steps`, with `hooks`.

    >>> tf.estimator.TrainSpec(train_input_fn, max_steps=1000)
    """

    def __new__(cls, input_fn, max_steps=None, hooks=None, saving_listeners=None):
        if not callable(input_fn):
            raise TypeError(f"`input_fn` must be callable, given: {input_fn}")
        if max_steps is not None and max_steps <= 0:
            raise ValueError(f"Must specify max_steps > 0, given: {max_steps}")
        return super().__new__(cls, input_fn, max_steps, _hooks(hooks), tuple(saving_listeners or ()))


class EvalSpec(
    NamedTuple(
        "EvalSpec",
        [
            ("input_fn", object),
            ("steps", object),
            ("name", object),
            ("hooks", tuple),
            ("exporters", tuple),
            ("start_delay_secs", int),
            ("throttle_secs", int),
        ],
    )
):
    """What train_and_evaluate evaluates on: `input_fn` for `steps` batches (None: all of it).

    >>> tf.estimator.EvalSpec(eval_input_fn, steps=None, throttle_secs=60)
    """

    def __new__(
        cls,
        input_fn,
        steps=100,
        name=None,
        hooks=None,
        exporters=None,
        start_delay_secs=120,
        throttle_secs=600,
    ):
        if not callable(input_fn):
            raise TypeError(f"`input_fn` must be callable, given: {input_fn}")
        if steps is not None and steps <= 0:
            raise ValueError(f"Must specify steps > 0, given: {steps}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be string, given: {name}")
        if start_delay_secs < 0:
            raise ValueError(f"Must specify start_delay_secs >= 0, given: {start_delay_secs}")
        if throttle_secs < 0:
            raise ValueError(f"Must specify throttle_secs >= 0, given: {throttle_secs}")
        if exporters is not None and not isinstance(exporters, list | tuple):
            exporters = (exporters,)
        return super().__new__(
            cls, input_fn, steps, name, _hooks(hooks), tuple(exporters or ()), start_delay_secs, throttle_secs
        )


class _EvaluateAfterSave(CheckpointSaverListener):
    """Evaluates after checkpoint saves (skipping the first), throttled, and at the end."""

    def __init__(self, estimator, eval_spec):
        self._estimator = estimator
        self._eval_spec = eval_spec
        self._timer = SecondOrStepTimer(every_secs=eval_spec.throttle_secs)
        self._first = True
        self.result = None

    def after_save(self, session, global_step_value):
        if self._first:
            self._first = False
            return False
        if self._timer.should_trigger_for_step(global_step_value):
            self._evaluate(global_step_value)
        return False

    def end(self, session, global_step_value):
        if global_step_value != self._timer.last_triggered_step():
            self._evaluate(global_step_value)

    def _evaluate(self, step):
        self._timer.update_last_triggered_step(step)
        spec = self._eval_spec
        self.result = self._estimator.evaluate(
            spec.input_fn, steps=spec.steps, hooks=spec.hooks, name=spec.name
        )


def train_and_evaluate(estimator, train_spec, eval_spec):
    """Trains `estimator` on train_spec, evaluating on eval_spec after checkpoints and at the end.

    Returns (the last evaluation's metrics, []) as TF's local mode does.

    >>> metrics, _ = tf.estimator.train_and_evaluate(est, train_spec, eval_spec)
    """
    from raygraph.estimator.estimator import Estimator

    if not isinstance(estimator, Estimator):
        raise TypeError(f"`estimator` must have type `tf.estimator.Estimator`. Got: {type(estimator)}")
    if not isinstance(train_spec, TrainSpec):
        raise TypeError(f"`train_spec` must have type `tf.estimator.TrainSpec`. Got: {type(train_spec)}")
    if not isinstance(eval_spec, EvalSpec):
        raise TypeError(f"`eval_spec` must have type `tf.estimator.EvalSpec`. Got: {type(eval_spec)}")
    if eval_spec.exporters:
        raise NotImplementedError(
            "EvalSpec exporters need SavedModel export, which raygraph does not implement yet"
        )
    listener = _EvaluateAfterSave(estimator, eval_spec)
    estimator.train(
        train_spec.input_fn,
        hooks=list(train_spec.hooks),
        max_steps=train_spec.max_steps,
        saving_listeners=[listener, *train_spec.saving_listeners],
    )
    if listener.result is None:  # training was skipped: max_steps already reached
        listener._evaluate(None)
    return listener.result, []
