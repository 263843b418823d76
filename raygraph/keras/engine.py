"""The Keras layer base, InputLayer/Input, and the record of which layer made which tensor.

    x = tf.keras.Input((784,))                  # placeholder "input_1", made by an InputLayer
    h = tf.keras.layers.Dense(64)(x)            # recorded: h <- Node(dense, inputs=[x])
    model = tf.keras.Model(x, h)                # walks the nodes from h back to x

`Layer` is raygraph's `tf.layers.Layer` (variables through get_variable in the layer's
variable scope, ops in its name scope) with Keras's habits: the name is given at
construction ("dense", "dense_1", ... unique per graph, `backend.unique_object_name`) and is
the variable scope of the first call, so variables are "dense/kernel:0"; string
activations, initializers and regularizers are resolved; `training=None` means the
learning phase; lists of inputs are accepted (merge layers).

State: `_NODES`, graph -> {output tensor: Node}. A Node is one call of a layer: its input
tensors, output tensors and the keyword arguments the user passed, enough to call the
layer again on other tensors (a functional Model called on new inputs replays its nodes).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from ops import api
from raygraph import dtypes
from raygraph import layers as _tf_layers
from raygraph.graph import (
    GraphKeys,
    Tensor,
    add_to_collection,
    convert_to_tensor,
    get_collection,
    get_default_graph,
    name_scope,
)
from raygraph.keras import activations, backend, initializers, regularizers
from raygraph.variable_scope import variable_scope

_NODES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(eq=False)
class Node:
    """One call of `layer`: inputs -> outputs, with the user's keyword arguments."""

    layer: object
    inputs: list
    outputs: list
    kwargs: dict = field(default_factory=dict)
    many: bool = False  # the layer was called on a list of tensors


def _history(tensor) -> Node | None:
    """The node that made `tensor`, or None when no Keras layer did."""
    return _NODES.get(get_default_graph(), {}).get(tensor) if isinstance(tensor, Tensor) else None


def _record(layer, inputs, outputs, kwargs) -> None:
    many = isinstance(inputs, list | tuple)
    ins = list(inputs) if many else [inputs]
    outs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
    node = Node(layer, [x for x in ins if isinstance(x, Tensor)], outs, dict(kwargs), many)
    table = _NODES.setdefault(get_default_graph(), {})
    for t in outs:
        if isinstance(t, Tensor):
            table[t] = node
    layer._inbound_nodes.append(node)


def _as_shape(shape):
    return None if shape is None else tuple(None if d is None else int(d) for d in shape)


class Layer(_tf_layers.Layer):
    """Base of tf.keras layers; subclass it with `build(input_shape)` and `call(inputs)`.

    >>> class Scale(tf.keras.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight("w", shape=(int(input_shape[-1]),), initializer="ones")
    ...     def call(self, inputs):
    ...         return inputs * self.w
    """

    _takes_training = False  # call(inputs, training=None): None means the learning phase

    def __init__(self, *args, **kwargs):
        batch_shape = _as_shape(kwargs.pop("batch_input_shape", None))
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_size = kwargs.pop("batch_size", None)
        self._initial_weights = kwargs.pop("weights", None)
        kwargs.pop("autocast", None)
        kwargs.pop("dynamic", None)
        if batch_shape is None and input_shape is not None:
            batch_shape = (batch_size, *_as_shape(input_shape))
        if batch_shape is None and input_dim is not None:
            batch_shape = (batch_size, int(input_dim))
        if "data_format" in kwargs and kwargs["data_format"] is None:
            kwargs["data_format"] = backend.image_data_format()
        name = kwargs.pop("name", None) or backend.unique_object_name(
            _tf_layers._snake_case(type(self).__name__)
        )
        super().__init__(*args, name=name, **kwargs)
        self._batch_input_shape = batch_shape
        self._inbound_nodes: list[Node] = []
        self._reg_losses: list = []
        self._resolve_identifiers()

    def _resolve_identifiers(self) -> None:
        """Keras's string identifiers ("relu", "glorot_uniform", "l2") as objects."""
        for attr, value in list(vars(self).items()):
            if value is None:
                continue
            if attr == "activation":
                self.activation = activations.get(value)
            elif attr.endswith("_initializer"):
                setattr(self, attr, initializers.get(value))
            elif attr.endswith("_regularizer"):
                setattr(self, attr, regularizers.get(value))
        for table, get in (("initializers", initializers.get), ("regularizers", regularizers.get)):
            if isinstance(getattr(self, table, None), dict):
                setattr(self, table, {k: get(v) for k, v in getattr(self, table).items()})

    # -- naming: the Keras name is the variable scope, at the first call --
    def _set_scope(self, scope=None) -> None:
        if self._scope is None:
            with variable_scope(scope or self.name) as captured:
                self._scope = captured

    def add_weight(
        self,
        name=None,
        shape=None,
        dtype=None,
        initializer=None,
        regularizer=None,
        trainable=None,
        constraint=None,
        **kwargs,
    ):
        """A variable "<layer>/<name>:0"; `initializer` and `regularizer` may be Keras strings."""
        return super().add_weight(
            name,
            [int(d) for d in shape] if shape is not None else [],
            dtype=dtype or self.dtype or backend.floatx(),
            initializer=initializers.get(initializer),
            regularizer=regularizers.get(regularizer),
            trainable=True if trainable is None else trainable,
            constraint=constraint,
        )

    # -- calling --
    def __call__(self, inputs, *args, **kwargs):
        user_kwargs = dict(kwargs)
        if self._takes_training and kwargs.get("training") is None:
            kwargs["training"] = backend._training_value(None)
        n_losses = len(get_collection(GraphKeys.REGULARIZATION_LOSSES))
        was_built = self.built
        if isinstance(inputs, list | tuple):
            outputs = self._call_many(list(inputs), *args, **kwargs)
        else:
            outputs = super().__call__(inputs, *args, **kwargs)
        self._reg_losses.extend(get_collection(GraphKeys.REGULARIZATION_LOSSES)[n_losses:])
        _record(self, inputs, outputs, user_kwargs)
        if not was_built and self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None
        return outputs

    def _call_many(self, inputs, *args, **kwargs):
        """`__call__` for a list of input tensors (merge layers, custom layers)."""
        self._set_scope()
        reuse = True if self.built else self._reuse
        with variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as vs:
            with get_default_graph().name_scope(vs.original_name_scope or None):
                inputs = [convert_to_tensor(x) for x in inputs]
                if not self.built:
                    self.dtype = self.dtype or inputs[0].dtype
                    self.build([x.shape for x in inputs])
                    self.built = True
                n_updates = len(self._updates)
                outputs = self.call(inputs, *args, **kwargs)
        for update in self._updates[n_updates:]:
            add_to_collection(GraphKeys.UPDATE_OPS, update)
        return outputs

    # -- weights --
    @property
    def weights(self) -> list:
        """Trainable weights, then the others (Keras's order, used by get/set_weights)."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def losses(self) -> list:
        """The regularization losses the layer's weights and calls made."""
        return list(self._reg_losses) + [x for x in self._losses if x not in self._reg_losses]

    def get_weights(self) -> list:
        """The weights' values as numpy arrays."""
        return backend.batch_get_value(self.weights)

    def set_weights(self, weights) -> None:
        """Loads numpy arrays into the weights, in the order of `weights`."""
        params = self.weights
        if len(params) != len(weights):
            raise ValueError(
                f"Layer {self.name!r}: you called `set_weights(weights)` with a weight list of length "
                f"{len(weights)}, but the layer was expecting {len(params)} weights."
            )
        for p, w in zip(params, weights, strict=True):
            if tuple(p.shape.as_list()) != np.shape(w):
                raise ValueError(
                    f"Layer {self.name!r} weight shape {tuple(p.shape.as_list())} is not compatible with "
                    f"provided weight shape {np.shape(w)}"
                )
        backend.batch_set_value(zip(params, weights, strict=True))

    def count_params(self) -> int:
        return int(sum(np.prod(w.shape.as_list()) for w in self.weights))

    # -- the last call's tensors --
    def _last_node(self) -> Node:
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} is not connected, no input to return.")
        return self._inbound_nodes[-1]

    @property
    def input(self):
        ins = self._last_node().inputs
        return ins[0] if len(ins) == 1 else ins

    @property
    def output(self):
        outs = self._last_node().outputs
        return outs[0] if len(outs) == 1 else outs

    @property
    def input_shape(self):
        x = self.input
        return [backend.int_shape(t) for t in x] if isinstance(x, list) else backend.int_shape(x)

    @property
    def output_shape(self):
        y = self.output
        return [backend.int_shape(t) for t in y] if isinstance(y, list) else backend.int_shape(y)

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable}


class InputLayer(Layer):
    """The layer behind `tf.keras.Input`: a placeholder of shape [batch_size, *input_shape]."""

    def __init__(
        self,
        input_shape=None,
        batch_size=None,
        dtype=None,
        input_tensor=None,
        sparse=False,
        name=None,
        batch_input_shape=None,
        **kwargs,
    ):
        if sparse:
            raise NotImplementedError("tf.keras.Input(sparse=True) is not supported by raygraph")
        name = name or f"input_{backend.get_uid('input')}"
        _tf_layers.Layer.__init__(self, name=name, dtype=dtype or backend.floatx())
        self._inbound_nodes = []
        self._reg_losses = []
        self._initial_weights = None
        if batch_input_shape is None and input_shape is not None:
            batch_input_shape = (batch_size, *_as_shape(input_shape))
        if input_tensor is None:
            with name_scope(""):
                input_tensor = api.placeholder(
                    dtypes.as_dtype(self.dtype), shape=batch_input_shape, name=name
                )
        self._batch_input_shape = (
            _as_shape(input_tensor.shape.as_list()) if input_tensor.shape.ndims is not None else None
        )
        self.built = True
        _record(self, [], input_tensor, {})


def Input(
    shape=None, batch_size=None, name=None, dtype=None, sparse=False, tensor=None, batch_shape=None, **kwargs
):  # noqa: N802
    """A placeholder to start a functional model: `x = tf.keras.Input((784,))` (batch None)."""
    if shape is None and batch_shape is None and tensor is None:
        raise ValueError("Please provide to Input either a `shape` or a `batch_shape` argument.")
    layer = InputLayer(
        input_shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        input_tensor=tensor,
        sparse=sparse,
        name=name,
        batch_input_shape=batch_shape,
    )
    return layer.output
