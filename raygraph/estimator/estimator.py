"""`tf.estimator.Estimator`: train, evaluate and predict with a model_fn, checkpointed in model_dir.

Each call builds a fresh graph: the global step, the input_fn's features and
labels, then `model_fn(features, labels, mode, params, config)` (only the
arguments it declares); it then runs a monitored session on RunConfig.master:
- train: MonitoredTrainingSession restoring the latest checkpoint of model_dir,
  with NanTensorHook and LoggingTensorHook on the loss, a CheckpointSaverHook
  (save_checkpoints_steps/secs; a final checkpoint at the end), the spec's and
  caller's hooks, and StopAtStepHook for `steps`/`max_steps`; it runs
  [train_op, loss] until a hook stops it or the input ends (OutOfRangeError);
- evaluate: restores the latest checkpoint (or initializes), runs the metrics'
  update ops for `steps` batches or until the input ends, and returns the
  metrics' values with "loss" (the mean loss) and "global_step"; they are also
  written as summaries to model_dir/eval (eval_<name>);
- predict: restores, then yields the predictions example by example (or batch
  by batch) until the input ends.

input_fn returns (features, labels), features alone, or a tf.data Dataset (any
object with `make_one_shot_iterator()`) of either.
"""

from __future__ import annotations

import copy
import inspect
import os
import tempfile

import numpy as np

from raygraph import logging
from raygraph.estimator import export as _export
from raygraph.estimator.model_fn import EstimatorSpec, ModeKeys
from raygraph.estimator.run_config import RunConfig
from raygraph.graph import Graph, GraphKeys
from raygraph.summary import FileWriterCache, Summary
from raygraph.train import basic_hooks
from raygraph.train.monitored_session import (
    ChiefSessionCreator,
    MonitoredSession,
    MonitoredTrainingSession,
    Scaffold,
)
from raygraph.train.saver import Saver, latest_checkpoint, load_variable
from raygraph.train.session_run_hook import SessionRunHook
from raygraph.train.training_util import get_or_create_global_step

__all__ = ["Estimator"]

_VALID_MODEL_FN_ARGS = {"features", "labels", "mode", "params", "self", "config"}


def _fn_args(fn) -> set[str]:
    return set(inspect.signature(fn).parameters)


class _StopAfterNEvalsHook(SessionRunHook):
    """Stops evaluation after `num_evals` runs."""

    def __init__(self, num_evals):
        self._num_evals = num_evals
        self._evals = 0

    def after_run(self, run_context, run_values):
        self._evals += 1
        if self._evals >= self._num_evals:
            run_context.request_stop()


class Estimator:
    """Trains, evaluates and predicts with `model_fn`; checkpoints live in `model_dir`.

    >>> est = tf.estimator.Estimator(model_fn, model_dir="model",
    ...                              config=tf.estimator.RunConfig(save_checkpoints_steps=100))
    >>> est.train(tf.estimator.inputs.numpy_input_fn({"x": xs}, ys, shuffle=True), steps=1000)
    >>> est.evaluate(eval_input_fn)
    {'accuracy': 0.93, 'loss': 0.21, 'global_step': 1000}
    """

    def __init__(self, model_fn, model_dir=None, config=None, params=None, warm_start_from=None):
        if not callable(model_fn):
            raise ValueError(f"model_fn must be provided to Estimator, got {model_fn!r}")
        args = _fn_args(model_fn)
        if "features" not in args:
            raise ValueError(f"model_fn ({model_fn}) must include features argument.")
        if params is not None and "params" not in args:
            raise ValueError(
                f"model_fn ({model_fn}) does not include params argument, but params ({params}) is passed to Estimator."
            )
        unexpected = sorted(args - _VALID_MODEL_FN_ARGS)
        if unexpected:
            raise ValueError(f"model_fn ({model_fn}) has following not expected args: {unexpected}")
        if warm_start_from is not None:
            raise NotImplementedError("Estimator(warm_start_from=...) is not supported by raygraph")
        config = config if config is not None else RunConfig()
        if not isinstance(config, RunConfig):
            raise ValueError(f"config must be an instance of `RunConfig`, but provided {config}.")
        model_dir = os.fspath(model_dir) if model_dir is not None else None
        if model_dir and config.model_dir and model_dir != config.model_dir:
            raise ValueError(
                f"model_dir are set both in constructor and `RunConfig`, but with different values. "
                f"In constructor: '{model_dir}', in `RunConfig`: '{config.model_dir}' "
            )
        model_dir = model_dir or config.model_dir
        if model_dir is None:
            model_dir = tempfile.mkdtemp()
            logging.warning("Using temporary folder as model directory: %s", model_dir)
        self._config = config.replace(model_dir=model_dir)
        self._model_fn = model_fn
        self._params = copy.deepcopy(params or {})

    model_dir = property(lambda self: self._config.model_dir, doc="Where checkpoints and summaries go.")
    config = property(lambda self: copy.deepcopy(self._config))
    params = property(lambda self: copy.deepcopy(self._params))
    model_fn = property(lambda self: self._model_fn)

    def latest_checkpoint(self):
        """The newest checkpoint in model_dir, or None."""
        return latest_checkpoint(self.model_dir)

    def get_variable_names(self) -> list[str]:
        from raygraph.train.saver import list_variables

        return [name for name, _ in list_variables(self.model_dir)]

    def get_variable_value(self, name):
        return load_variable(self.model_dir, name)

    # -- building --
    def _call_input_fn(self, input_fn, mode):
        args = _fn_args(input_fn)
        kwargs = {}
        if "mode" in args:
            kwargs["mode"] = mode
        if "params" in args:
            kwargs["params"] = self.params
        if "config" in args:
            kwargs["config"] = self.config
        result = input_fn(**kwargs)
        if hasattr(result, "make_one_shot_iterator"):
            result = result.make_one_shot_iterator().get_next()
        if isinstance(result, tuple | list) and len(result) == 2:
            return result[0], result[1]
        return result, None

    def _call_model_fn(self, features, labels, mode) -> EstimatorSpec:
        args = _fn_args(self._model_fn)
        kwargs = {}
        if "labels" in args:
            kwargs["labels"] = labels
        elif labels is not None:
            raise ValueError("model_fn does not take labels, but input_fn returns labels.")
        if "mode" in args:
            kwargs["mode"] = mode
        if "params" in args:
            kwargs["params"] = self.params
        if "config" in args:
            kwargs["config"] = self.config
        spec = self._model_fn(features=features, **kwargs)
        if not isinstance(spec, EstimatorSpec):
            raise ValueError(f"model_fn should return an EstimatorSpec, got {type(spec).__name__}.")
        return spec

    def _build(self, graph, input_fn, mode):
        """(global step, spec) in `graph`, which is made the default and seeded."""
        from raygraph.random import set_random_seed

        if self._config.tf_random_seed is not None:
            set_random_seed(self._config.tf_random_seed)
        step = get_or_create_global_step(graph)
        features, labels = self._call_input_fn(input_fn, mode)
        if mode == ModeKeys.PREDICT:
            labels = None
        return step, self._call_model_fn(features, labels, mode)

    def _scaffold_with_saver(self, scaffold: Scaffold) -> Scaffold:
        """The spec's scaffold, with the Estimator's Saver (keep_checkpoint_max) if it has none."""
        if scaffold.saver is not None:
            return scaffold
        if not _default_graph().get_collection(GraphKeys.SAVERS):
            saver = Saver(
                sharded=True,
                max_to_keep=self._config.keep_checkpoint_max,
                keep_checkpoint_every_n_hours=self._config.keep_checkpoint_every_n_hours,
                defer_build=True,
                save_relative_paths=True,
            )
            _default_graph().add_to_collection(GraphKeys.SAVERS, saver)
        return scaffold

    # -- train --
    def train(self, input_fn, hooks=None, steps=None, max_steps=None, saving_listeners=None):
        """Trains for `steps` more steps, up to global step `max_steps`, or until the input ends."""
        if steps is not None and max_steps is not None:
            raise ValueError("Can not provide both steps and max_steps.")
        if steps is not None and steps <= 0:
            raise ValueError(f"Must specify steps > 0, given: {steps}")
        if max_steps is not None and max_steps <= 0:
            raise ValueError(f"Must specify max_steps > 0, given: {max_steps}")
        if max_steps is not None and _checkpoint_step(self.model_dir) >= max_steps:
            logging.info("Skipping training since max_steps has already saved.")
            return self
        hooks = list(hooks or [])
        if steps is not None or max_steps is not None:
            hooks.append(basic_hooks.StopAtStepHook(steps, max_steps))
        graph = Graph()
        with graph.as_default():
            step, spec = self._build(graph, input_fn, ModeKeys.TRAIN)
            loss = self._train(step, spec, hooks, list(saving_listeners or []))
        logging.info("Loss for final step: %s.", loss)
        return self

    def _train(self, step, spec, hooks, saving_listeners):
        from raygraph.summary import scalar

        config = self._config
        scalar("loss", spec.loss)
        worker_hooks = [
            basic_hooks.NanTensorHook(spec.loss),
            basic_hooks.LoggingTensorHook(
                {"loss": spec.loss, "step": step}, every_n_iter=config.log_step_count_steps
            ),
            *spec.training_hooks,
            *hooks,
        ]
        scaffold = self._scaffold_with_saver(spec.scaffold)
        chief_hooks = list(spec.training_chief_hooks)
        if config.save_checkpoints_steps or config.save_checkpoints_secs or saving_listeners:
            chief_hooks.append(
                basic_hooks.CheckpointSaverHook(
                    self.model_dir,
                    save_secs=config.save_checkpoints_secs,
                    save_steps=config.save_checkpoints_steps,
                    scaffold=scaffold,
                    listeners=saving_listeners,
                    save_graph_def=config.checkpoint_save_graph_def,
                )
            )
        loss = None
        with MonitoredTrainingSession(
            master=config.master,
            checkpoint_dir=self.model_dir,
            scaffold=scaffold,
            hooks=worker_hooks,
            chief_only_hooks=chief_hooks,
            save_checkpoint_secs=0,
            save_summaries_steps=config.save_summary_steps,
            config=config.session_config,
            log_step_count_steps=config.log_step_count_steps,
            save_graph_def=config.checkpoint_save_graph_def,
        ) as sess:
            while not sess.should_stop():
                _, loss = sess.run([spec.train_op, spec.loss])
        return loss

    # -- evaluate --
    def evaluate(self, input_fn, steps=None, hooks=None, checkpoint_path=None, name=None) -> dict:
        """Runs the metrics over `steps` batches (or the whole input); returns their values.

        The result has every eval_metric_ops key, "loss" (the mean loss) and "global_step".
        """
        if steps is not None and steps <= 0:
            raise ValueError(f"Must specify steps > 0, given: {steps}")
        checkpoint_path = checkpoint_path or self.latest_checkpoint()
        if not checkpoint_path:
            logging.info(
                "Could not find trained model in model_dir: %s, running initialization to evaluate.",
                self.model_dir,
            )
        graph = Graph()
        with graph.as_default():
            step, spec = self._build(graph, input_fn, ModeKeys.EVAL)
            results = self._evaluate(step, spec, list(hooks or []), steps, checkpoint_path)
        _write_eval_summaries(self._eval_dir(name), results)
        return results

    def _evaluate(self, step, spec, hooks, steps, checkpoint_path) -> dict:
        from ops import api
        from raygraph.metrics import mean

        metric_ops = dict(spec.eval_metric_ops)
        if "loss" not in metric_ops:
            metric_ops["loss"] = mean(spec.loss)
        update_op = api.group(*[update for _, update in metric_ops.values()])
        values = {key: value for key, (value, _) in metric_ops.items()}
        values["global_step"] = step
        final = basic_hooks.FinalOpsHook(values)
        all_hooks = [*spec.evaluation_hooks, *hooks]
        if steps is not None:
            all_hooks.append(_StopAfterNEvalsHook(steps))
        all_hooks.append(final)
        creator = ChiefSessionCreator(
            scaffold=self._scaffold_with_saver(spec.scaffold),
            master=self._config.master,
            config=self._config.session_config,
            checkpoint_filename_with_path=checkpoint_path,
        )
        with MonitoredSession(creator, hooks=all_hooks) as sess:
            while not sess.should_stop():
                sess.run(update_op)
        results = final.final_ops_values
        logging.info("Saving dict for global step %d: %s", results["global_step"], results)
        return results

    def eval_dir(self, name=None) -> str:
        """Where evaluate writes its summaries: model_dir/eval or model_dir/eval_<name>."""
        return self._eval_dir(name)

    def _eval_dir(self, name) -> str:
        return os.path.join(self.model_dir, "eval" if not name else "eval_" + name)

    # -- predict --
    def predict(
        self, input_fn, predict_keys=None, hooks=None, checkpoint_path=None, yield_single_examples=True
    ):
        """Yields predictions until the input ends: one example at a time, or whole batches."""
        checkpoint_path = checkpoint_path or self.latest_checkpoint()
        if not checkpoint_path:
            logging.info(
                "Could not find trained model in model_dir: %s, running initialization to predict.",
                self.model_dir,
            )
        graph = Graph()
        with graph.as_default():
            _, spec = self._build(graph, input_fn, ModeKeys.PREDICT)
            predictions = _extract_keys(spec.predictions, predict_keys)
            creator = ChiefSessionCreator(
                scaffold=self._scaffold_with_saver(spec.scaffold),
                master=self._config.master,
                config=self._config.session_config,
                checkpoint_filename_with_path=checkpoint_path,
            )
            with MonitoredSession(creator, hooks=[*spec.prediction_hooks, *(hooks or [])]) as sess:
                while not sess.should_stop():
                    values = sess.run(predictions)
                    if not yield_single_examples:
                        yield values
                    elif not isinstance(values, dict):
                        yield from values
                    else:
                        for i in range(_batch_length(values)):
                            yield {key: value[i] for key, value in values.items()}

    def export_saved_model(self, export_dir_base, serving_input_receiver_fn, *args, **kwargs):
        """Not implemented: raygraph cannot write SavedModels yet (NotImplementedError)."""
        _export.not_implemented()

    export_savedmodel = export_saved_model


def _default_graph():
    from raygraph.graph import get_default_graph

    return get_default_graph()


def _checkpoint_step(model_dir) -> int:
    """The global step of model_dir's latest checkpoint (0 if none)."""
    path = latest_checkpoint(model_dir) if model_dir and os.path.isdir(model_dir) else None
    if path is None:
        return 0
    try:
        return int(load_variable(path, GraphKeys.GLOBAL_STEP))
    except Exception:  # noqa: BLE001 - a checkpoint without a global step
        return 0


def _extract_keys(predictions, predict_keys):
    if predict_keys is None:
        return predictions
    if isinstance(predict_keys, str):
        predict_keys = [predict_keys]
    if not isinstance(predictions, dict):
        raise ValueError(f"predict_keys argument is not valid in case of non-dict predictions: {predictions}")
    chosen = {key: value for key, value in predictions.items() if key in predict_keys}
    if not chosen:
        raise ValueError(
            f"Expected to run at least one output from {sorted(predictions)}, provided {predict_keys}."
        )
    return chosen


def _batch_length(values: dict) -> int:
    lengths = {key: np.shape(value)[0] if np.ndim(value) else None for key, value in values.items()}
    if None in lengths.values() or len(set(lengths.values())) != 1:
        raise ValueError(
            f"Batch length of predictions should be same (and predictions need a batch dimension): {lengths}"
        )
    return next(iter(lengths.values()))


def _write_eval_summaries(eval_dir: str, results: dict) -> None:
    step = int(results["global_step"])
    summary = Summary()
    for key, value in results.items():
        if key == "global_step":
            continue
        if np.ndim(value) == 0 and np.issubdtype(np.asarray(value).dtype, np.number):
            summary.value.add(tag=key, simple_value=float(value))
    writer = FileWriterCache.get(eval_dir)
    writer.add_summary(summary, step)
    writer.flush()
