"""Compile, fit, evaluate and predict: the Trainer mixin of tf.keras.Model, in graph mode.

    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=5, validation_split=0.1)
    loss, acc = model.evaluate(x_test, y_test)

`compile` builds, once the model has inputs (a Sequential without an input shape waits
for its first data), a target placeholder per output ("<output layer>_target"), the
loss (under name scope "loss": the batch mean of each output's per-sample loss, times
its loss weight, plus the layers' regularization losses) and the metrics ("metrics").
The training op is made on the first fit or train_on_batch (name scope "training"):
the optimizer's updates of the trainable weights collected at compile, grouped with the
layers' update ops (batch normalization).

Every step is one `Session.run` in `backend.get_session()`, feeding numpy slices to the
input and target placeholders and True to the learning phase when training. An epoch's
loss and metrics are the means over its batches weighted by batch size (Keras's
per-sample means); the loss of a training batch is the one computed before that
batch's update.
"""

from __future__ import annotations

import numpy as np

from ops import api
from raygraph.graph import Tensor, name_scope
from raygraph.keras import backend, losses, metrics, optimizers
from raygraph.keras import callbacks as callbacks_module


class Trainer:
    """compile / fit / evaluate / predict and the *_on_batch functions of a Model."""

    def __init__(self):
        self.optimizer = None
        self.loss = None
        self.history = None
        self.stop_training = False
        self._compile_args = None
        self._fetches = None  # [total loss, output losses..., metrics...] once compiled
        self._train_op = None

    # -- compile --
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        metrics=None,
        loss_weights=None,
        sample_weight_mode=None,
        weighted_metrics=None,
        target_tensors=None,
        **kwargs,
    ):
        """Sets the optimizer, loss(es) and metrics used by fit and evaluate."""
        if loss is None:
            raise ValueError("Model.compile: a `loss` is required (raygraph has no add_loss-only models).")
        for what, value in (
            ("sample_weight_mode", sample_weight_mode),
            ("weighted_metrics", weighted_metrics),
            ("target_tensors", target_tensors),
        ):
            if value is not None:
                raise NotImplementedError(f"Model.compile({what}=...) is not supported by raygraph")
        self.optimizer = optimizers.get(optimizer)
        self.loss = loss
        self._compile_args = (loss, metrics or [], loss_weights)
        self._fetches, self._train_op = None, None
        if self.inputs:
            self._compile_graph()

    def _per_output(self, value, default, what: str) -> list:
        names = self.output_names
        if isinstance(value, dict):
            unknown = set(value) - set(names)
            if unknown:
                raise ValueError(
                    f"Unknown entries in {what} dictionary: {sorted(unknown)}. Only expected: {names}"
                )
            return [value.get(n, default) for n in names]
        if isinstance(value, list | tuple) and what != "metrics":
            if len(value) != len(names):
                raise ValueError(
                    f"When passing a list as {what}, it should have one entry per model output. The model has {len(names)} outputs, but you passed {what}={value!r}"
                )
            return list(value)
        return [value] * len(names)

    def _compile_graph(self) -> None:
        loss, metric_list, loss_weights = self._compile_args
        names, multi = self.output_names, len(self.outputs) > 1
        loss_fns = [losses.get(fn) for fn in self._per_output(loss, None, "loss")]
        weights = (
            self._per_output(loss_weights, 1.0, "loss_weights")
            if loss_weights is not None
            else [1.0] * len(names)
        )
        metric_lists = (
            self._per_output(metric_list, [], "metrics")
            if isinstance(metric_list, dict)
            else [list(metric_list)] * len(names)
        )
        self.targets = []
        for out, name, fn in zip(self.outputs, names, loss_fns, strict=True):
            sparse = losses._is(fn, "sparse_categorical_crossentropy")
            shape = None if sparse or out.shape.ndims is None else [None] * out.shape.ndims
            with name_scope(None):
                self.targets.append(api.placeholder(out.dtype, shape, name=f"{name}_target"))
        self.metrics_names = ["loss"]
        output_losses = []
        with name_scope("loss"):
            for out, target, name, fn in zip(self.outputs, self.targets, names, loss_fns, strict=True):
                with name_scope(f"{name}_loss"):
                    per_sample = fn(target, out)
                    output_losses.append(
                        per_sample if per_sample.shape.ndims == 0 else api.reduce_mean(per_sample)
                    )
            weighted = [x * w if w != 1.0 else x for x, w in zip(output_losses, weights, strict=True)]
            total = weighted[0] if len(weighted) == 1 else api.add_n(weighted)
            if self.losses:
                total = total + api.add_n(list(self.losses))
        self.total_loss = total
        fetches = [total]
        if multi:
            self.metrics_names += [f"{n}_loss" for n in names]
            fetches += output_losses
        with name_scope("metrics"):
            for out, target, name, fn, wanted in zip(
                self.outputs, self.targets, names, loss_fns, metric_lists, strict=True
            ):
                for metric in wanted:
                    metric_name, metric_fn = metrics.resolve(metric, fn, out)
                    self.metrics_names.append(f"{name}_{metric_name}" if multi else metric_name)
                    fetches.append(api.reduce_mean(metric_fn(target, out)))
        self._fetches = fetches
        self._collected_trainable_weights = self.trainable_weights

    def _ensure_compiled(self, x) -> None:
        self._ensure_built(x)
        if self._compile_args is None:
            raise RuntimeError(
                "You must compile your model before training/testing. Use `model.compile(optimizer, loss)`."
            )
        if self._fetches is None:
            self._compile_graph()

    def _make_train_op(self):
        if self._train_op is None:
            with name_scope("training"):
                updates = self.optimizer.get_updates(self.total_loss, self._collected_trainable_weights)
                self._train_op = api.group(*updates, *self.updates)
        return self._train_op

    # -- data --
    def _arrays(self, data, tensors: list, what: str) -> list:
        if isinstance(data, Tensor) or type(data).__name__ in ("DatasetV1", "Dataset", "Iterator"):
            raise NotImplementedError(
                f"Model: {what} must be numpy arrays; tensors and datasets are not supported by raygraph's tf.keras"
            )
        if isinstance(data, dict):
            names = self.input_names if what == "x" else self.output_names
            data = [data[n] for n in names]
        arrays = [np.asarray(a) for a in (data if isinstance(data, list | tuple) else [data])]
        if len(arrays) != len(tensors):
            raise ValueError(
                f"Error when checking model {what}: the model expects {len(tensors)} array(s), but received {len(arrays)}"
            )
        out = []
        for a, t in zip(arrays, tensors, strict=True):
            rank = t.shape.ndims
            if rank is not None and a.ndim == rank - 1:
                a = a[..., None]
            if rank is not None and a.ndim != rank:
                raise ValueError(
                    f"Error when checking {what}: expected {t.op.name} to have {rank} dimensions, but got array with shape {a.shape}"
                )
            out.append(a.astype(t.dtype.as_numpy_dtype, copy=False))
        return out

    def _feed(self, xs, ys, index, training: bool) -> dict:
        feed = {t: a[index] for t, a in zip(self.inputs, xs, strict=True)}
        if ys is not None:
            feed.update({t: a[index] for t, a in zip(self.targets, ys, strict=True)})
        if training:
            feed.update(backend._learning_phase_feed(True))
        return feed

    def _xy(self, x, y):
        self._ensure_compiled(x)
        xs = self._arrays(x, self.inputs, "x")
        ys = self._arrays(y, self.targets, "y")
        counts = {len(a) for a in xs + ys}
        if len(counts) != 1:
            raise ValueError(
                f"All input and target arrays should have the same number of samples. Got sizes {sorted(counts)}"
            )
        return xs, ys

    def _run(self, fetches, feed):
        return backend.get_session().run(fetches, feed)

    # -- loops --
    def _test_loop(self, xs, ys, batch_size, callbacks=None) -> list:
        n = len(xs[0])
        totals = np.zeros(len(self._fetches))
        for b, start in enumerate(range(0, n, batch_size)):
            index = slice(start, min(start + batch_size, n))
            if callbacks:
                callbacks.on_test_batch_begin(b, {"batch": b, "size": index.stop - start})
            outs = self._run(self._fetches, self._feed(xs, ys, index, training=False))
            totals += np.asarray(outs, dtype=np.float64) * (index.stop - start)
            if callbacks:
                callbacks.on_test_batch_end(b, dict(zip(self.metrics_names, outs, strict=True)))
        return list(totals / max(n, 1))

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose=1,
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_freq=1,
        **kwargs,
    ):
        """Trains for `epochs` epochs of `batch_size` slices; returns a History (`.history["loss"]`)."""
        if class_weight is not None or sample_weight is not None:
            raise NotImplementedError(
                "Model.fit: class_weight and sample_weight are not supported by raygraph"
            )
        if steps_per_epoch is not None:
            raise NotImplementedError(
                "Model.fit(steps_per_epoch=...) (tensor inputs) is not supported by raygraph"
            )
        batch_size = batch_size or 32
        xs, ys = self._xy(x, y)
        val = None
        if validation_data is not None:
            if len(validation_data) == 3:
                raise NotImplementedError(
                    "Model.fit: validation sample weights are not supported by raygraph"
                )
            val = (
                self._arrays(validation_data[0], self.inputs, "x"),
                self._arrays(validation_data[1], self.targets, "y"),
            )
        elif validation_split and 0.0 < validation_split < 1.0:
            split = int(len(xs[0]) * (1.0 - validation_split))
            val = ([a[split:] for a in xs], [a[split:] for a in ys])
            xs, ys = [a[:split] for a in xs], [a[:split] for a in ys]
        train_op = self._make_train_op()
        fetches = [train_op, *self._fetches]
        n = len(xs[0])

        self.history = callbacks_module.History()
        logger = [callbacks_module.ProgbarLogger()] if verbose else []
        callback_list = callbacks_module.CallbackList([*logger, *(callbacks or []), self.history])
        callback_list.set_model(self)
        callback_list.set_params(
            {
                "batch_size": batch_size,
                "epochs": epochs,
                "steps": None,
                "samples": n,
                "verbose": verbose,
                "do_validation": val is not None,
                "metrics": list(self.metrics_names)
                + [f"val_{m}" for m in self.metrics_names] * (val is not None),
            }
        )
        self.stop_training = False
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch)
            order = np.arange(n)
            if shuffle:
                np.random.shuffle(order)
            totals, seen = np.zeros(len(self._fetches)), 0
            for b, start in enumerate(range(0, n, batch_size)):
                index = order[start : start + batch_size]
                batch_logs = {"batch": b, "size": len(index)}
                callback_list.on_train_batch_begin(b, batch_logs)
                outs = self._run(fetches, self._feed(xs, ys, index, training=True))[1:]
                totals += np.asarray(outs, dtype=np.float64) * len(index)
                seen += len(index)
                batch_logs.update(zip(self.metrics_names, (float(o) for o in outs), strict=True))
                callback_list.on_train_batch_end(b, batch_logs)
                if self.stop_training:
                    break
            epoch_logs = dict(zip(self.metrics_names, (float(t) for t in totals / max(seen, 1)), strict=True))
            if val is not None and (epoch + 1) % validation_freq == 0:
                values = self._test_loop(val[0], val[1], batch_size)
                epoch_logs.update(
                    {f"val_{k}": float(v) for k, v in zip(self.metrics_names, values, strict=True)}
                )
            callback_list.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        callback_list.on_train_end()
        return self.history

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose=1,
        sample_weight=None,
        steps=None,
        callbacks=None,
        **kwargs,
    ):
        """The loss (and metrics) over (x, y), batch means weighted by batch size."""
        if sample_weight is not None or steps is not None:
            raise NotImplementedError("Model.evaluate: sample_weight and steps are not supported by raygraph")
        xs, ys = self._xy(x, y)
        callback_list = callbacks_module.CallbackList(callbacks)
        callback_list.set_model(self)
        callback_list.on_test_begin()
        values = [float(v) for v in self._test_loop(xs, ys, batch_size or 32, callback_list)]
        callback_list.on_test_end()
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None, **kwargs):
        """The outputs for `x`, computed in batches and concatenated (a list for several outputs)."""
        self._ensure_built(x)
        xs = self._arrays(x, self.inputs, "x")
        n, batch_size = len(xs[0]), batch_size or 32
        parts = [[] for _ in self.outputs]
        for start in range(0, n, batch_size):
            outs = self._run(
                self.outputs, self._feed(xs, None, slice(start, start + batch_size), training=False)
            )
            for part, out in zip(parts, outs, strict=True):
                part.append(out)
        results = [np.concatenate(p) if p else np.zeros((0,)) for p in parts]
        return results[0] if len(results) == 1 else results

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, reset_metrics=True):
        """One update on (x, y); returns the loss (and metrics) computed before it."""
        if sample_weight is not None or class_weight is not None:
            raise NotImplementedError(
                "Model.train_on_batch: sample_weight and class_weight are not supported by raygraph"
            )
        xs, ys = self._xy(x, y)
        outs = self._run(
            [self._make_train_op(), *self._fetches], self._feed(xs, ys, slice(None), training=True)
        )[1:]
        return _scalar_or_list(outs)

    def test_on_batch(self, x, y, sample_weight=None, reset_metrics=True):
        """The loss (and metrics) on one batch, without training."""
        xs, ys = self._xy(x, y)
        return _scalar_or_list(self._run(self._fetches, self._feed(xs, ys, slice(None), training=False)))

    def predict_on_batch(self, x):
        """The outputs for one batch."""
        self._ensure_built(x)
        xs = self._arrays(x, self.inputs, "x")
        outs = self._run(self.outputs, self._feed(xs, None, slice(None), training=False))
        return outs[0] if len(outs) == 1 else outs

    def fit_generator(
        self,
        generator,
        steps_per_epoch=None,
        epochs=1,
        verbose=1,
        callbacks=None,
        validation_data=None,
        validation_steps=None,
        initial_epoch=0,
        **kwargs,
    ):
        """fit over batches drawn from a Python generator of (x, y) pairs."""
        self.history = callbacks_module.History()
        callback_list = callbacks_module.CallbackList([*(callbacks or []), self.history])
        callback_list.set_model(self)
        callback_list.set_params({"epochs": epochs, "steps": steps_per_epoch, "verbose": verbose})
        self.stop_training = False
        callback_list.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            callback_list.on_epoch_begin(epoch)
            totals, seen = None, 0
            for step in range(steps_per_epoch):
                bx, by = next(generator)[:2]
                outs = np.atleast_1d(np.asarray(self.train_on_batch(bx, by), dtype=np.float64))
                size = len(np.asarray(bx[0] if isinstance(bx, list | tuple) else bx))
                totals = outs * size if totals is None else totals + outs * size
                seen += size
                callback_list.on_train_batch_end(step, dict(zip(self.metrics_names, outs, strict=True)))
            logs = dict(zip(self.metrics_names, (float(t) for t in totals / max(seen, 1)), strict=True))
            if validation_data is not None and not callable(getattr(validation_data, "__next__", None)):
                values = np.atleast_1d(self.evaluate(validation_data[0], validation_data[1], verbose=0))
                logs.update({f"val_{k}": float(v) for k, v in zip(self.metrics_names, values, strict=True)})
            callback_list.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        callback_list.on_train_end()
        return self.history

    def reset_metrics(self) -> None:
        """Does nothing: metrics are batch means, averaged per call."""

    @property
    def metrics(self) -> list:
        return list(getattr(self, "metrics_names", [])[1:])


def _scalar_or_list(outs):
    values = [float(v) for v in outs]
    return values[0] if len(values) == 1 else values
