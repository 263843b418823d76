"""`tf.keras.Model` and `tf.keras.models.Sequential`: layer graphs you can compile, fit and call.

    x = tf.keras.Input((784,))
    y = tf.keras.layers.Dense(10, activation="softmax")(tf.keras.layers.Dense(64, activation="relu")(x))
    model = tf.keras.Model(inputs=x, outputs=y)           # functional
    model = tf.keras.models.Sequential([tf.keras.layers.Dense(64, input_shape=(784,)), ...])

A functional model holds its input placeholders, its output tensors and the ordered
Nodes (engine.Node, one per layer call) between them; calling it on other tensors calls
the same layers again in that order (sharing their variables). A Sequential model is a
functional one whose graph grows with `add`; without an input shape it is built on the
first data it sees (fit, predict, evaluate or a call). A subclassed model (`call`
overridden) is built the same way, by calling it on placeholders shaped like the data.

Compiling, fitting and predicting are in training.py (the Trainer mixin).
"""

from __future__ import annotations

import numpy as np

from raygraph.graph import Tensor, name_scope
from raygraph.keras import backend
from raygraph.keras.engine import Input, InputLayer, Layer, _history, _record
from raygraph.keras.training import Trainer


def _to_list(x) -> list:
    return list(x) if isinstance(x, list | tuple) else [x]


def _dedup(items) -> list:
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out


def _walk(inputs: list, outputs: list) -> list:
    """The nodes between `inputs` and `outputs`, each after the nodes making its inputs."""
    stop = set(inputs)
    nodes, seen = [], set()

    def visit(tensor):
        if tensor in stop:
            return
        node = _history(tensor)
        if node is None:
            raise ValueError(
                f"Output tensors of a Model must be the output of a tf.keras layer; tensor {tensor.name!r} is not "
                "(wrap raw ops in a tf.keras.layers.Lambda)."
            )
        if isinstance(node.layer, InputLayer):
            raise ValueError(
                f"Graph disconnected: cannot obtain value for tensor {tensor.name!r} at layer {node.layer.name!r}. "
                f"The model's inputs are {[t.name for t in inputs]}."
            )
        if id(node) in seen:
            return
        seen.add(id(node))
        for x in node.inputs:
            visit(x)
        nodes.append(node)

    for t in outputs:
        visit(t)
    return nodes


class Model(Trainer, Layer):
    """A model: `Model(inputs, outputs)` (functional) or a subclass with `call(inputs)`.

    >>> model = tf.keras.Model(inputs=x, outputs=y)
    >>> model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> model.fit(x_train, y_train, batch_size=32, epochs=5)
    """

    def __init__(self, *args, **kwargs):
        inputs = kwargs.pop("inputs", None)
        outputs = kwargs.pop("outputs", None)
        if len(args) >= 1:
            inputs = args[0]
        if len(args) >= 2:
            outputs = args[1]
        if args[2:]:
            kwargs.setdefault("name", args[2])
        if not kwargs.get("name"):
            kwargs["name"] = backend.unique_object_name(self._default_model_name())
        Layer.__init__(self, **kwargs)
        Trainer.__init__(self)
        self.inputs, self.outputs, self._nodes, self._model_layers = [], [], [], []
        self._tracked: list = []
        self._is_graph_network = False
        if inputs is not None:
            if outputs is None:
                raise ValueError("Model(inputs, outputs): `outputs` is missing")
            self._init_graph(_to_list(inputs), _to_list(outputs))
            self._single_output = not isinstance(outputs, list | tuple)
            self._single_input = not isinstance(inputs, list | tuple)

    def _default_model_name(self) -> str:
        cls = type(self)
        if cls is Model or cls.__name__ == "Functional":
            return "model"
        from raygraph.layers import _snake_case

        return _snake_case(cls.__name__)

    def __setattr__(self, name, value):
        if isinstance(value, Layer) and name not in ("_scope",) and hasattr(self, "_tracked"):
            self._tracked.append(value)
        super().__setattr__(name, value)

    def _init_graph(self, inputs: list, outputs: list) -> None:
        self.inputs, self.outputs = inputs, outputs
        self._nodes = _walk(inputs, outputs)
        input_layers = [_history(t).layer if _history(t) is not None else None for t in inputs]
        self._model_layers = _dedup(
            [x for x in input_layers if x is not None] + [n.layer for n in self._nodes]
        )
        self._is_graph_network = True
        self.built = True

    # -- structure --
    @property
    def layers(self) -> list:
        """The layers in the order they are called (input layers first for functional models)."""
        return list(self._model_layers) if self._is_graph_network else _dedup(self._tracked)

    def get_layer(self, name=None, index=None):
        """A layer by name or index."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: {[x.name for x in self.layers]}.")

    @property
    def input(self):
        return self.inputs[0] if len(self.inputs) == 1 else self.inputs

    @property
    def output(self):
        return self.outputs[0] if len(self.outputs) == 1 else self.outputs

    @property
    def input_names(self) -> list:
        return [_history(t).layer.name if _history(t) else t.op.name for t in self.inputs]

    @property
    def output_names(self) -> list:
        return [_history(t).layer.name if _history(t) else t.op.name for t in self.outputs]

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        return _dedup(w for layer in self.layers for w in layer.trainable_weights)

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list:
        every = _dedup(w for layer in self.layers for w in layer.weights)
        trainable = set(self.trainable_weights)
        return [w for w in every if w not in trainable]

    non_trainable_variables = non_trainable_weights

    @property
    def weights(self) -> list:
        """Each layer's weights in layer order (the order of get_weights and set_weights)."""
        return _dedup(w for layer in self.layers for w in layer.weights)

    @property
    def variables(self) -> list:
        return self.weights

    @property
    def updates(self) -> list:
        """The update ops of the model's layers (batch normalization's moving averages)."""
        return _dedup(u for layer in self.layers for u in layer.updates)

    @property
    def losses(self) -> list:
        """The regularization losses of the model's layers."""
        return _dedup(x for layer in self.layers for x in layer.losses)

    # -- calling --
    def __call__(self, inputs, *args, **kwargs):
        if not self._is_graph_network and type(self).call is Model.call:
            raise ValueError(f"Model {self.name!r} has no layers to call yet.")
        with name_scope(self.name):
            if self._is_graph_network:
                outputs = self._replay(_to_list(inputs), kwargs.get("training"))
            else:
                outputs = self.call(inputs, *args, **kwargs)
                self.built = True
        _record(self, inputs, outputs, kwargs)
        return outputs

    def call(self, inputs, training=None, mask=None):
        """Runs the model's layers on `inputs` (tensors): functional models replay their nodes."""
        return self._replay(_to_list(inputs), training)

    def _replay(self, inputs: list, training=None):
        if len(inputs) != len(self.inputs):
            raise ValueError(
                f"Model {self.name!r} expects {len(self.inputs)} inputs, but it received {len(inputs)}."
            )
        values = dict(zip(self.inputs, inputs, strict=True))
        for node in self._nodes:
            args = [values.get(t, t) for t in node.inputs]
            kwargs = dict(node.kwargs)
            if (
                training is not None
                and getattr(node.layer, "_takes_training", False)
                and "training" not in kwargs
            ):
                kwargs["training"] = training
            result = node.layer(args if node.many else args[0], **kwargs)
            for old, new in zip(node.outputs, _to_list(result), strict=True):
                values[old] = new
        outs = [values[t] for t in self.outputs]
        return outs[0] if getattr(self, "_single_output", len(outs) == 1) else outs

    def _build_on(self, inputs: list) -> None:
        """Builds a subclassed model: placeholders like `inputs`, then `call` on them."""
        placeholders = [Input(batch_shape=(None, *x.shape[1:]), dtype=_input_dtype(x)) for x in inputs]
        self._build_from(placeholders)

    def _build_from(self, placeholders: list) -> None:
        with name_scope(self.name):
            outputs = self.call(placeholders[0] if len(placeholders) == 1 else placeholders)
        self.inputs, self.outputs = placeholders, _to_list(outputs)
        self._single_output = not isinstance(outputs, list | tuple)
        self.built = True

    def _ensure_built(self, x) -> None:
        if not self.inputs:
            self._build_on([np.asarray(a) for a in _to_list(x)])

    # -- inspection --
    def summary(self, line_length=None, positions=None, print_fn=None) -> None:
        """Prints each layer's name, type, output shape and parameter count, and the totals."""
        print_fn = print_fn or print
        width = line_length or 65
        cols = [int(width * p) for p in (positions or [0.45, 0.85, 1.0])]
        print_fn(f'Model: "{self.name}"')
        print_fn("_" * width)
        print_fn(_row(["Layer (type)", "Output Shape", "Param #"], cols))
        print_fn("=" * width)
        for layer in self.layers:
            try:
                shape = layer.output_shape
            except AttributeError:
                shape = "multiple"
            print_fn(
                _row([f"{layer.name} ({type(layer).__name__})", str(shape), str(layer.count_params())], cols)
            )
        trainable = int(sum(np.prod(w.shape.as_list()) for w in self.trainable_weights))
        total = int(sum(np.prod(w.shape.as_list()) for w in self.weights))
        print_fn("=" * width)
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")
        print_fn("_" * width)

    def save_weights(self, filepath, overwrite=True, save_format=None) -> None:
        """Saves the weights with tf.train.Saver (checkpoint files with prefix `filepath`)."""
        from raygraph.train.saver import Saver

        Saver(var_list=self.weights).save(backend.get_session(), filepath, write_meta_graph=False)

    def load_weights(self, filepath, by_name=False):
        """Restores weights saved by save_weights (the checkpoint prefix `filepath`)."""
        from raygraph.train.saver import Saver

        if by_name:
            raise NotImplementedError("Model.load_weights(by_name=True) is not supported by raygraph")
        Saver(var_list=self.weights).restore(backend.get_session(), filepath)

    def save(self, filepath, *args, **kwargs):
        raise NotImplementedError(
            "Model.save (whole-model HDF5/SavedModel files) is not supported by raygraph; use "
            "save_weights/load_weights, or tf.saved_model with the model's inputs and outputs."
        )


def _input_dtype(x: np.ndarray) -> str:
    return backend.floatx() if x.dtype.kind == "f" else x.dtype.name


def _row(fields, cols) -> str:
    line = ""
    for text, stop in zip(fields, cols, strict=True):
        line = (line + text)[:stop].ljust(stop)
    return line.rstrip()


class Sequential(Model):
    """A stack of layers, each taking the previous one's output.

    >>> model = tf.keras.models.Sequential()
    >>> model.add(tf.keras.layers.Dense(64, activation="relu", input_dim=20))
    >>> model.add(tf.keras.layers.Dense(1, activation="sigmoid"))
    """

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        self._stack: list = []
        self._single_output = True
        for layer in layers or []:
            self.add(layer)

    def _default_model_name(self) -> str:
        return "sequential"

    @property
    def layers(self) -> list:
        return list(self._stack)

    def add(self, layer) -> None:
        """Appends a layer (an InputLayer first sets the input)."""
        if isinstance(layer, Tensor) and _history(layer) is not None:
            layer = _history(layer).layer
        if not isinstance(layer, Layer):
            raise TypeError(f"The added layer must be an instance of class Layer. Found: {layer!r}")
        if isinstance(layer, InputLayer):
            self._start(layer.output)
            return
        if not self.inputs and not self._stack and layer._batch_input_shape is not None:
            dtype = layer.dtype.name if layer.dtype is not None else None
            self._start(Input(batch_shape=layer._batch_input_shape, dtype=dtype, name=f"{layer.name}_input"))
        self._stack.append(layer)
        if self.inputs:
            self._grow(layer)

    def pop(self) -> None:
        """Removes the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        self._stack.pop()
        if self.inputs:
            self._init_graph(self.inputs, [self._stack[-1].output] if self._stack else list(self.inputs))

    def _start(self, input_tensor) -> None:
        self.inputs, self.outputs = [input_tensor], [input_tensor]
        self._is_graph_network = True
        self.built = True

    def _grow(self, layer) -> None:
        output = layer(self.outputs[0])
        if isinstance(output, list | tuple):
            raise TypeError("All layers in a Sequential model should have a single output tensor.")
        self._init_graph(self.inputs, [output])

    def __call__(self, inputs, *args, **kwargs):
        if not self.inputs:
            self._build_on(_to_list(inputs))
        return super().__call__(inputs, *args, **kwargs)

    def _build_on(self, inputs: list) -> None:
        if not self._stack:
            raise ValueError("Sequential model has no layers: add layers before using it.")
        x = inputs[0]
        shape = x.shape.as_list() if isinstance(x, Tensor) else list(np.shape(x))
        dtype = x.dtype.name if isinstance(x, Tensor) else _input_dtype(np.asarray(x))
        self._start(Input(batch_shape=(None, *shape[1:]), dtype=dtype, name=f"{self._stack[0].name}_input"))
        for layer in self._stack:
            self._grow(layer)

    def _init_graph(self, inputs, outputs) -> None:
        super()._init_graph(inputs, outputs)
        self._model_layers = [x for x in self._model_layers if not isinstance(x, InputLayer)]

    def predict_classes(self, x, batch_size=32, verbose=0):
        """The argmax class of each prediction (or > 0.5 for one output unit)."""
        proba = self.predict(x, batch_size=batch_size, verbose=verbose)
        return proba.argmax(axis=-1) if proba.shape[-1] > 1 else (proba > 0.5).astype("int32")

    def predict_proba(self, x, batch_size=32, verbose=0):
        return self.predict(x, batch_size=batch_size, verbose=verbose)


def load_model(filepath, custom_objects=None, compile=True):  # noqa: A002
    """Not supported by raygraph (raises NotImplementedError)."""
    raise NotImplementedError(
        "tf.keras.models.load_model is not supported by raygraph (Model.save is not either)."
    )
