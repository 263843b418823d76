"""`tf.keras.callbacks`: hooks called by `fit` at the start and end of training, epochs and batches.

    class Printer(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(epoch, logs["loss"])

    model.fit(x, y, epochs=5, callbacks=[Printer(), tf.keras.callbacks.EarlyStopping(patience=2)])

`fit` adds a History (returned, and kept as `model.history`). `logs` of a batch hold
"batch", "size" and the batch's loss and metrics; of an epoch, the epoch's
sample-weighted means and, with validation data, the same with a "val_" prefix.
"""

from __future__ import annotations

import csv
import os

import numpy as np


class Callback:
    """Base class: override the `on_*` methods you need; `self.model` is the model being fit."""

    def __init__(self):
        self.model = None
        self.params = {}
        self.validation_data = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    def on_epoch_begin(self, epoch, logs=None): ...

    def on_epoch_end(self, epoch, logs=None): ...

    def on_batch_begin(self, batch, logs=None): ...

    def on_batch_end(self, batch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch, logs=None): ...

    def on_test_batch_end(self, batch, logs=None): ...

    def on_predict_batch_begin(self, batch, logs=None): ...

    def on_predict_batch_end(self, batch, logs=None): ...

    def on_train_begin(self, logs=None): ...

    def on_train_end(self, logs=None): ...

    def on_test_begin(self, logs=None): ...

    def on_test_end(self, logs=None): ...

    def on_predict_begin(self, logs=None): ...

    def on_predict_end(self, logs=None): ...


class CallbackList:
    """Calls every callback's hook in order: `callbacks.on_epoch_end(epoch, logs)`."""

    def __init__(self, callbacks=None):
        self.callbacks = list(callbacks or [])

    def __getattr__(self, hook):
        if not hook.startswith(("on_", "set_")):
            raise AttributeError(hook)

        def call(*args):
            for callback in self.callbacks:
                getattr(callback, hook)(*args)

        return call


class History(Callback):
    """Records the epoch logs: `history.history["loss"]` is the loss of each epoch."""

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class BaseLogger(Callback):
    """Kept for programs that name it; `fit` itself averages the metrics of an epoch."""


class ProgbarLogger(Callback):
    """Prints one line per epoch with its logs (verbose=1 or 2)."""

    def on_epoch_begin(self, epoch, logs=None):
        if self.params.get("verbose"):
            print(f"Epoch {epoch + 1}/{self.params.get('epochs')}")

    def on_epoch_end(self, epoch, logs=None):
        if self.params.get("verbose"):
            values = " - ".join(f"{k}: {v:.4f}" for k, v in (logs or {}).items())
            print(f"{self.params.get('samples')}/{self.params.get('samples')} - {values}")


class LambdaCallback(Callback):
    """A callback from functions: `LambdaCallback(on_epoch_end=lambda epoch, logs: ...)`."""

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


class EarlyStopping(Callback):
    """Stops fit when `monitor` has not improved by `min_delta` for `patience` epochs."""

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
    ):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        maximize = mode == "max" or (mode == "auto" and ("acc" in monitor or monitor.startswith("fmeasure")))
        self.monitor_op = np.greater if maximize else np.less
        self.min_delta = abs(min_delta) if maximize else -abs(min_delta)
        self.stopped_epoch = 0

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = (
            self.baseline
            if self.baseline is not None
            else (-np.inf if self.monitor_op is np.greater else np.inf)
        )
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        if self.monitor_op(current - self.min_delta, self.best):
            self.best, self.wait = current, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1:05d}: early stopping")


class ModelCheckpoint(Callback):
    """Saves the model's weights after epochs (`filepath` may use {epoch} and log keys).

    raygraph saves weights in its checkpoint format (Model.save_weights) even when
    save_weights_only=False: whole-model files (HDF5) are not written.
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        period=1,
        save_freq="epoch",
    ):
        super().__init__()
        self.filepath, self.monitor, self.verbose = filepath, monitor, verbose
        self.save_best_only, self.period = save_best_only, period
        maximize = mode == "max" or (mode == "auto" and "acc" in monitor)
        self.monitor_op = np.greater if maximize else np.less
        self.best = -np.inf if maximize else np.inf
        self.epochs_since_last_save = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epochs_since_last_save += 1
        if self.epochs_since_last_save < self.period:
            return
        self.epochs_since_last_save = 0
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None or not self.monitor_op(current, self.best):
                return
            self.best = current
        self.model.save_weights(path)


class LearningRateScheduler(Callback):
    """Sets the optimizer's lr at each epoch begin: `LearningRateScheduler(lambda epoch: 0.1 / (1 + epoch))`."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        from raygraph.keras import backend

        try:
            lr = self.schedule(epoch, float(backend.get_value(self.model.optimizer.lr)))
        except TypeError:
            lr = self.schedule(epoch)
        backend.set_value(self.model.optimizer.lr, lr)


class TerminateOnNaN(Callback):
    """Stops training when a batch loss is NaN or infinite."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Appends each epoch's logs as a CSV row to `filename`."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = filename, separator, append

    def on_train_begin(self, logs=None):
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **(logs or {})}
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=list(row), delimiter=self.separator)
            if not self.append or self._file.tell() == 0:
                self._writer.writeheader()
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()


class TensorBoard(Callback):
    """Writes each epoch's logs as scalar summaries to `log_dir` (and the graph when write_graph).

    Only scalars are written: histogram_freq, write_images and embeddings are ignored.
    """

    def __init__(
        self,
        log_dir="./logs",
        histogram_freq=0,
        batch_size=32,
        write_graph=True,
        write_grads=False,
        write_images=False,
        update_freq="epoch",
        **kwargs,
    ):
        super().__init__()
        self.log_dir, self.write_graph, self.update_freq = log_dir, write_graph, update_freq
        self.writer = None
        self._seen = 0

    def set_model(self, model):
        from raygraph.summary import FileWriter

        self.model = model
        os.makedirs(self.log_dir, exist_ok=True)
        graph = model.inputs[0].graph if self.write_graph and getattr(model, "inputs", None) else None
        self.writer = FileWriter(self.log_dir, graph=graph)

    def _write(self, logs, step):
        from raygraph.summary import Summary

        values = [
            Summary.Value(tag=k, simple_value=float(v)) for k, v in logs.items() if k not in ("batch", "size")
        ]
        self.writer.add_summary(Summary(value=values), step)
        self.writer.flush()

    def on_batch_end(self, batch, logs=None):
        self._seen += 1
        if self.update_freq == "batch" or (
            isinstance(self.update_freq, int) and self._seen % self.update_freq == 0
        ):
            self._write(
                {"batch_" + k: v for k, v in (logs or {}).items() if k not in ("batch", "size")}, self._seen
            )

    def on_epoch_end(self, epoch, logs=None):
        self._write(
            {("epoch_" + k if self.update_freq != "epoch" else k): v for k, v in (logs or {}).items()}, epoch
        )

    def on_train_end(self, logs=None):
        self.writer.close()
