"""tf.keras in graph mode on a local session: layers, models, training, callbacks, backend.

TensorFlow's own numbers are checked in tests/compat/test_keras_vs_tf.py; these tests
cover the behaviour around them (names, building, sessions, callbacks, errors).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import raygraph as tf

keras = tf.keras
K = tf.keras.backend


@pytest.fixture(autouse=True)
def local_session(fresh_graph):
    session = tf.Session("local")
    K.set_session(session)
    yield session
    K.set_session(None)


def _blobs(n=60, seed=0):
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, 2, size=n)
    x = rng.randn(n, 4).astype(np.float32) + labels[:, None] * 2.0
    return x, labels


def _classifier(**first):
    first = first or {"input_shape": (4,)}
    return keras.models.Sequential(
        [keras.layers.Dense(8, activation="relu", **first), keras.layers.Dense(2, activation="softmax")]
    )


def test_names_follow_keras():
    model = _classifier()
    other = keras.models.Sequential([keras.layers.Dense(3, input_dim=4)])
    assert [w.name for w in model.weights] == [
        "dense/kernel:0",
        "dense/bias:0",
        "dense_1/kernel:0",
        "dense_1/bias:0",
    ]
    assert [w.name for w in other.weights] == ["dense_2/kernel:0", "dense_2/bias:0"]
    assert (model.name, other.name) == ("sequential", "sequential_1")
    assert model.inputs[0].name == "dense_input:0"
    assert keras.Input((3,)).name == "input_1:0"
    assert K.int_shape(model.output) == (None, 2)


def test_fit_learns_and_history_has_epochs():
    x, labels = _blobs()
    model = _classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x, labels, epochs=20, batch_size=16, verbose=0, validation_split=0.25)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(history.history["loss"]) == 20 and history.epoch == list(range(20))
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(x, labels, verbose=0)
    assert acc > 0.9 and loss < history.history["loss"][0]
    assert model.metrics_names == ["loss", "accuracy"]
    assert model.predict(x).shape == (60, 2)
    np.testing.assert_array_equal(model.predict_classes(x[:5]), model.predict(x[:5]).argmax(-1))


def test_sequential_without_input_shape_builds_on_data():
    x, labels = _blobs()
    model = keras.models.Sequential()
    model.add(keras.layers.Dense(5, activation="tanh"))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile(keras.optimizers.SGD(lr=0.5), "binary_crossentropy", metrics=["acc"])
    assert model.inputs == []
    history = model.fit(x.astype(np.float64), labels, epochs=3, verbose=0)
    assert model.inputs[0].shape.as_list() == [None, 4]
    assert model.inputs[0].dtype == tf.float32
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert len(model.layers) == 2 and model.layers[0].name == "dense"


def test_functional_model_shares_weights_when_called():
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(3)(keras.layers.Dense(6, activation="relu")(inputs))
    model = keras.Model(inputs=inputs, outputs=outputs)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense", "Dense"]
    z = tf.placeholder(tf.float32, [None, 4])
    y = model(z)
    x = np.random.RandomState(1).randn(5, 4).astype(np.float32)
    sess = K.get_session()
    np.testing.assert_allclose(sess.run(y, {z: x}), model.predict(x), rtol=1e-6)
    assert len(model.weights) == 4 and len(tf.trainable_variables()) == 4


def test_model_inside_model_and_merge_layers():
    a, b = keras.Input((2,)), keras.Input((2,))
    added = keras.layers.add([a, b])
    joined = keras.layers.concatenate([added, keras.layers.Subtract()([a, b])])
    inner = keras.Model([a, b], joined)
    c, d = keras.Input((2,)), keras.Input((2,))
    outer = keras.Model(
        [c, d], keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(inner([c, d]))
    )
    x1, x2 = np.array([[1.0, 2.0]], np.float32), np.array([[3.0, 5.0]], np.float32)
    np.testing.assert_allclose(inner.predict([x1, x2]), [[4, 7, -2, -3]])
    np.testing.assert_allclose(outer.predict([x1, x2]), [[6]])


def test_disconnected_graph_is_an_error():
    a, b = keras.Input((2,)), keras.Input((2,))
    y = keras.layers.Dense(1)(b)
    with pytest.raises(ValueError, match="Graph disconnected"):
        keras.Model(a, y)


def test_get_set_weights_and_save_load(tmp_path):
    model = _classifier()
    weights = [np.full(w.shape.as_list(), i, np.float32) for i, w in enumerate(model.weights)]
    model.set_weights(weights)
    for got, want in zip(model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    path = str(tmp_path / "weights")
    model.save_weights(path)
    model.set_weights([w * 0 for w in weights])
    model.load_weights(path)
    np.testing.assert_array_equal(model.layers[1].get_weights()[1], weights[3])
    with pytest.raises(ValueError, match="expecting 4 weights"):
        model.set_weights(weights[:2])


def test_dropout_and_batchnorm_follow_the_learning_phase():
    x = np.ones((200, 10), np.float32)
    model = keras.models.Sequential(
        [keras.layers.Dropout(0.5, input_shape=(10,)), keras.layers.BatchNormalization()]
    )
    np.testing.assert_allclose(
        model.predict(x), x / np.sqrt(1 + 1e-3), rtol=1e-5
    )  # inference: identity, moving stats 0/1
    phase = K.learning_phase()
    out = K.get_session().run(model.layers[0].output, {model.inputs[0]: x, phase: True})
    assert set(np.unique(out)) <= {0.0, 2.0} and 0.3 < (out == 0).mean() < 0.7
    assert len(model.updates) == 2


def test_default_session_is_honoured():
    model = _classifier()
    session = tf.Session("local")
    with session.as_default():
        assert K.get_session() is session
        before = model.get_weights()
    K.set_session(session)
    assert K.get_session() is session
    np.testing.assert_array_equal(model.get_weights()[0], before[0])


def test_keras_optimizer_lr_is_a_variable():
    x, labels = _blobs(n=8)
    model = _classifier()
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    model.compile(optimizer, "sparse_categorical_crossentropy")
    model.train_on_batch(x, labels)
    K.set_value(optimizer.lr, 0.0)
    assert K.get_value(optimizer.lr) == 0.0
    before = model.get_weights()
    model.train_on_batch(x, labels)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert K.get_value(optimizer.iterations) == 2


def test_tf_train_optimizer_in_compile():
    x, labels = _blobs(n=16)
    model = _classifier()
    model.compile(tf.train.GradientDescentOptimizer(0.5), "sparse_categorical_crossentropy")
    first = model.train_on_batch(x, labels)
    for _ in range(5):
        last = model.train_on_batch(x, labels)
    assert isinstance(first, float) and last < first


class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch", epoch, sorted(logs)))

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("batch", batch, logs["size"]))


def test_callbacks_are_called_and_early_stopping_stops():
    x, labels = _blobs(n=10)
    model = _classifier()
    model.compile("sgd", "sparse_categorical_crossentropy")
    recorder = _Recorder()
    model.fit(x, labels, batch_size=4, epochs=2, verbose=0, callbacks=[recorder], initial_epoch=1)
    assert recorder.calls == [
        "train_begin",
        ("batch", 0, 4),
        ("batch", 1, 4),
        ("batch", 2, 2),
        ("epoch", 1, ["loss"]),
    ]
    assert recorder.model is model
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=100.0)
    history = model.fit(x, labels, epochs=10, verbose=0, callbacks=[stopper])
    assert len(history.history["loss"]) == 2 and model.stop_training  # epoch 0 improves on inf
    assert stopper.stopped_epoch == 1


def test_model_checkpoint_and_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, labels = _blobs(n=12)
    model = _classifier()
    model.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["accuracy"])
    logdir = str(tmp_path / "logs")
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch:02d}"), save_weights_only=True)
    model.fit(
        x, labels, epochs=2, verbose=0, callbacks=[keras.callbacks.TensorBoard(log_dir=logdir), checkpoint]
    )
    assert os.path.exists(str(tmp_path / "w-02.safetensors"))
    events = EventAccumulator(logdir)
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["accuracy", "loss"]
    assert [e.step for e in events.Scalars("loss")] == [0, 1]


def test_regularizers_add_to_the_loss():
    model = keras.models.Sequential(
        [
            keras.layers.Dense(
                2, input_shape=(3,), kernel_initializer="ones", kernel_regularizer=keras.regularizers.l2(0.5)
            )
        ]
    )
    model.compile("sgd", "mse")
    assert len(model.losses) == 1
    loss = model.evaluate(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    assert loss == pytest.approx(0.5 * 6)


def test_more_layers():
    ids = keras.Input((3,), dtype="int32")
    emb = keras.layers.Embedding(10, 4, embeddings_initializer="ones")(ids)
    assert K.int_shape(emb) == (None, 3, 4)
    flat = keras.layers.Reshape((12,))(emb)
    pooled = keras.layers.GlobalAveragePooling1D()(emb)
    act = keras.layers.Activation("sigmoid")(keras.layers.Lambda(lambda t: t * 0.0)(pooled))
    model = keras.Model(ids, [flat, act])
    out_flat, out_act = model.predict(np.array([[1, 2, 3]]))
    np.testing.assert_allclose(out_flat, np.ones((1, 12)))
    np.testing.assert_allclose(out_act, np.full((1, 4), 0.5))
    assert model.layers[1].weights[0].name == "embedding/embeddings:0"
    conv = keras.models.Sequential(
        [
            keras.layers.Conv2D(2, 3, padding="same", input_shape=(4, 4, 1)),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
        ]
    )
    assert conv.output.shape.as_list() == [None, 8]
    assert [w.name for w in conv.weights] == ["conv2d/kernel:0", "conv2d/bias:0"]


def test_custom_layer_and_subclassed_model():
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", shape=(int(input_shape[-1]),), initializer="ones")

        def call(self, inputs):
            return inputs * self.w

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.scale = Scale()
            self.out = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)

        def call(self, inputs):
            return self.out(self.scale(inputs))

    net = Net()
    net.compile("sgd", "mse")
    np.testing.assert_allclose(net.predict(np.ones((2, 3), np.float32)), [[3], [3]])
    assert [w.name for w in net.weights] == ["scale/w:0", "dense/kernel:0"]
    assert net.name == "net"
    net.fit(np.ones((2, 3), np.float32), np.zeros((2, 1), np.float32), verbose=0)
    assert net.predict(np.ones((1, 3), np.float32))[0, 0] < 3


def test_summary_prints_layers():
    lines = []
    _classifier().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "dense (Dense)" in text and "(None, 8)" in text and "Total params: 58" in text


def test_backend_helpers():
    sess = K.get_session()
    v = K.variable(np.array([1.0, 2.0]), name="v")
    assert v.dtype == tf.float32 and K.get_value(v).tolist() == [1.0, 2.0]
    K.set_value(v, [3.0, 4.0])
    assert K.batch_get_value([v])[0].tolist() == [3.0, 4.0]
    x = K.placeholder((None, 2))
    f = K.function([x], [K.sum(x * v, axis=-1), K.concatenate([x, x]), K.stack([x, x], axis=1)])
    total, joined, stacked = f([np.ones((1, 2), np.float32)])
    assert total.tolist() == [7.0] and joined.shape == (1, 4) and stacked.shape == (1, 2, 2)
    assert K.floatx() == "float32" and K.epsilon() == 1e-7 and not K.is_sparse(x)
    K.set_floatx("float64")
    try:
        assert K.placeholder((2,)).dtype == tf.float64
    finally:
        K.set_floatx("float32")
    assert sess.run(K.maximum(K.constant(1.0), K.constant(2.0))) == 2.0


def test_to_categorical_and_initializers():
    np.testing.assert_array_equal(keras.utils.to_categorical([[1], [0]], 3), [[0, 1, 0], [1, 0, 0]])
    assert isinstance(keras.initializers.get("glorot_uniform"), keras.initializers.GlorotUniform)
    assert keras.initializers.glorot_normal is keras.initializers.GlorotNormal
    with pytest.raises(ValueError, match="Unknown initializer"):
        keras.initializers.get("nope")
    with pytest.raises(ValueError, match="Unknown activation"):
        keras.layers.Dense(2, activation="nope")


def test_mnist_loads_only_local_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="does not download"):
        keras.datasets.mnist.load_data()
    (tmp_path / "datasets").mkdir()
    arrays = {
        k: np.zeros((2, 28, 28) if k.startswith("x") else (2,), np.uint8)
        for k in ("x_train", "y_train", "x_test", "y_test")
    }
    np.savez(tmp_path / "datasets" / "mnist.npz", **arrays)
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    assert x_train.shape == (2, 28, 28) and y_test.shape == (2,)


def test_compile_errors():
    model = _classifier()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((2, 4)), np.zeros(2), verbose=0)
    with pytest.raises(ValueError, match="Unknown loss"):
        model.compile("sgd", "nope")
    with pytest.raises(ValueError, match="optimizer"):
        model.compile("nope", "mse")
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(np.zeros((3, 4)), np.zeros((2, 2)), verbose=0)


def test_two_outputs_losses_weights_and_metric_names():
    x = keras.Input((2,), name="x")
    first = keras.layers.Dense(1, kernel_initializer="ones", use_bias=False, name="first")(x)
    second = keras.layers.Dense(2, activation="softmax", name="second")(x)
    model = keras.Model(x, [first, second])
    model.compile(
        "sgd",
        loss={"first": "mse", "second": "categorical_crossentropy"},
        loss_weights=[2.0, 0.0],
        metrics={"second": ["accuracy"]},
    )
    assert model.metrics_names == ["loss", "first_loss", "second_loss", "second_accuracy"]
    data = np.array([[1.0, 2.0]], np.float32)
    total, first_loss, _, _ = model.evaluate(data, [np.zeros((1, 1)), np.array([[1.0, 0.0]])], verbose=0)
    assert first_loss == pytest.approx(9.0) and total == pytest.approx(18.0)
