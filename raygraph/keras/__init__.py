"""`tf.keras`: TensorFlow 1.x's graph-mode Keras (tf.compat.v1.keras with eager disabled).

    import raygraph as tf

    tf.keras.backend.set_session(tf.Session("local"))      # else a tf.Session() on first use
    model = tf.keras.models.Sequential([
        tf.keras.layers.Dense(64, activation="relu", input_shape=(20,)),
        tf.keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, tf.keras.utils.to_categorical(labels, 3), epochs=5)

Layers build ops in the default graph as they are called; fit, evaluate, predict and
get_weights run them in `tf.keras.backend.get_session()`. Modules:

    backend       the session, learning phase, names, thin op wrappers (K.mean, K.dot, ...)
    engine        the Layer base, Input/InputLayer, the record of layer calls (Nodes)
    layers        Dense, Conv2D, pooling, Flatten, Dropout, BatchNormalization, Embedding, ...
    models        Model (functional, subclassed), Sequential
    training      compile / fit / evaluate / predict
    losses, metrics, optimizers, initializers, activations, regularizers, callbacks, utils, datasets

Not here: tf.keras.applications (no pretrained weights can be downloaded), recurrent
layers, whole-model saving (Model.save / load_model), sample and class weights.
"""

from raygraph.keras import (
    activations,
    backend,
    callbacks,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    utils,
)
from raygraph.keras.engine import Input
from raygraph.keras.models import Model, Sequential

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "activations",
    "backend",
    "callbacks",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "utils",
]
