"""tf.keras against TensorFlow 2.21's graph-mode tf.compat.v1.keras (the tf_keras package).

Each program builds a model with a `keras` namespace passed in, once with
`tf_keras.api._v1.keras` inside a `tf.compat.v1.Graph()` (TF 1.x Keras: a v1 Model
trained by Session.run, no eager) and once with `raygraph.keras` on a local session.
TensorFlow's initial weights are copied into raygraph's model with set_weights; both are
fit on the same data without shuffling, and the per-epoch history (loss, metrics,
validation), the final weights, predictions and evaluate must agree to float32 rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")
tf_keras_v1 = pytest.importorskip("tf_keras.api._v1.keras")

import raygraph as rg  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1
RTOL, ATOL = 2e-4, 2e-5  # a few epochs of float32 training


def _data(seed=0, n=40, shape=(5,), classes=3):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, *shape).astype(np.float32)
    labels = rng.randint(0, classes, size=n)
    return x, labels


def mlp(keras):
    return keras.models.Sequential(
        [
            keras.layers.Dense(8, activation="relu", input_shape=(5,)),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def mlp_added(keras):
    model = keras.models.Sequential()
    model.add(keras.layers.Dense(6, activation="tanh", input_dim=5, kernel_initializer="he_normal"))
    model.add(keras.layers.Dense(1))
    return model


def functional(keras):
    a = keras.Input((5,))
    b = keras.Input((2,))
    h = keras.layers.Dense(6, activation="tanh")(a)
    g = keras.layers.Dense(6, activation="sigmoid")(b)
    merged = keras.layers.Concatenate()([keras.layers.Add()([h, g]), b])
    out = keras.layers.Dense(1, activation="sigmoid")(merged)
    return keras.Model(inputs=[a, b], outputs=out)


def cnn(keras):
    return keras.models.Sequential(
        [
            keras.layers.Conv2D(4, (3, 3), activation="relu", input_shape=(6, 6, 1)),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def _run(keras, session, build, initial, optimizer, loss, metrics, x, y, val, epochs, batch_size):
    model = build(keras)
    model.compile(optimizer=optimizer(keras), loss=loss, metrics=metrics)
    if initial is not None:
        model.set_weights(initial)
    weights0 = model.get_weights()
    history = model.fit(
        x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=False, validation_data=val
    )
    result = {
        "names": [w.name for w in model.weights],
        "initial": weights0,
        "history": history.history,
        "weights": model.get_weights(),
        "predict": model.predict(val[0], batch_size=7),
        "evaluate": model.evaluate(val[0], val[1], verbose=0),
        # TF's stateful metrics keep evaluate's counts until this call: compare its loss only.
        "train_on_batch": model.train_on_batch(_head(x), _head(y))[0],
        "test_on_batch": model.test_on_batch(_head(x), _head(y)),
        "train_on_batch_2": model.train_on_batch(_head(x), _head(y)),
    }
    return result


def _head(data, n=9):
    return [a[:n] for a in data] if isinstance(data, list) else data[:n]


def _compare(build, optimizer, loss, metrics, x, y, val, epochs=3, batch_size=8):
    with v1.Graph().as_default(), v1.Session() as sess:
        tf_keras_v1.backend.set_session(sess)
        theirs = _run(tf_keras_v1, sess, build, None, optimizer, loss, metrics, x, y, val, epochs, batch_size)
    with rg.Graph().as_default():
        rg.keras.backend.set_session(rg.Session("local"))
        ours = _run(
            rg.keras, None, build, theirs["initial"], optimizer, loss, metrics, x, y, val, epochs, batch_size
        )
    assert ours["names"] == theirs["names"]
    assert sorted(ours["history"]) == sorted(theirs["history"])
    for key, values in theirs["history"].items():
        np.testing.assert_allclose(ours["history"][key], values, rtol=RTOL, atol=ATOL, err_msg=key)
    for a, b, name in zip(ours["weights"], theirs["weights"], theirs["names"], strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=name)
    for key in ("predict", "evaluate", "train_on_batch", "test_on_batch", "train_on_batch_2"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=RTOL, atol=ATOL, err_msg=key)
    return ours, theirs


def test_sequential_batchnorm_sgd_nesterov_categorical():
    x, labels = _data()
    y = tf_keras_v1.utils.to_categorical(labels, 3)
    np.testing.assert_array_equal(rg.keras.utils.to_categorical(labels, 3), y)
    xv, lv = _data(seed=1, n=13)
    val = (xv, tf_keras_v1.utils.to_categorical(lv, 3))
    ours, _ = _compare(
        mlp,
        lambda k: k.optimizers.SGD(lr=0.1, momentum=0.9, nesterov=True),
        "categorical_crossentropy",
        ["accuracy"],
        x,
        y,
        val,
    )
    assert ours["names"] == [
        "dense/kernel:0",
        "dense/bias:0",
        "batch_normalization/gamma:0",
        "batch_normalization/beta:0",
        "batch_normalization/moving_mean:0",
        "batch_normalization/moving_variance:0",
        "dense_1/kernel:0",
        "dense_1/bias:0",
    ]


def test_sequential_added_layers_adam_mse():
    x, _ = _data(seed=2)
    y = (x[:, :1] * 0.5 - x[:, 1:2]).astype(np.float32)
    xv, _ = _data(seed=3, n=11)
    val = (xv, (xv[:, :1] * 0.5 - xv[:, 1:2]).astype(np.float32))
    _compare(mlp_added, lambda k: k.optimizers.Adam(learning_rate=0.01), "mse", ["mae"], x, y, val, epochs=4)


def test_functional_two_inputs_rmsprop_binary():
    rng = np.random.RandomState(4)
    x = [rng.randn(30, 5).astype(np.float32), rng.randn(30, 2).astype(np.float32)]
    y = (x[0][:, 0] + x[1][:, 1] > 0).astype(np.float32)[:, None]
    xv = [rng.randn(9, 5).astype(np.float32), rng.randn(9, 2).astype(np.float32)]
    val = (xv, (xv[0][:, 0] > 0).astype(np.float32)[:, None])
    _compare(
        functional,
        lambda k: k.optimizers.RMSprop(learning_rate=0.01),
        "binary_crossentropy",
        ["accuracy"],
        x,
        y,
        val,
    )


def test_cnn_adagrad_sparse_categorical():
    x, labels = _data(seed=5, n=24, shape=(6, 6, 1))
    xv, lv = _data(seed=6, n=10, shape=(6, 6, 1))
    _compare(
        cnn,
        lambda k: k.optimizers.Adagrad(learning_rate=0.1),
        "sparse_categorical_crossentropy",
        ["accuracy"],
        x,
        labels,
        (xv, lv),
        epochs=2,
        batch_size=5,
    )


def test_string_optimizer_and_model_called_on_tensor():
    """compile("sgd") uses Keras's SGD defaults; a model called on a new Input shares weights."""
    x, labels = _data(seed=7)
    y = tf_keras_v1.utils.to_categorical(labels, 3)
    xv, lv = _data(seed=8, n=6)

    def wrapped(keras):
        inner = keras.models.Sequential(
            [
                keras.layers.Dense(4, activation="relu", input_shape=(5,)),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        z = keras.Input((5,))
        return keras.Model(z, inner(z))

    ours, _ = _compare(
        wrapped,
        lambda k: "sgd",
        "categorical_crossentropy",
        ["acc"],
        x,
        y,
        (xv, tf_keras_v1.utils.to_categorical(lv, 3)),
    )
    assert "acc" in ours["history"] and "val_acc" in ours["history"]


def test_backend_helpers_match():
    values = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]], np.float32)
    target = np.array([[0, 1, 0], [1, 0, 0]], np.float32)
    labels, lengths = np.array([[1, 2, 3], [4, 5, 0]], np.int32), np.array([3, 1], np.int32)

    def compute(keras, run):
        K = keras.backend
        p, t = K.constant(values), K.constant(target)
        sparse = K.ctc_label_dense_to_sparse(
            K.constant(labels, dtype="int32"), K.constant(lengths, dtype="int32")
        )
        outs = run(
            [
                K.categorical_crossentropy(t, p),
                K.binary_crossentropy(t, p),
                keras.losses.sparse_categorical_crossentropy(K.constant([1, 0]), p),
                keras.metrics.categorical_accuracy(t, p),
                K.mean(K.square(p), axis=-1),
                K.dot(p, K.transpose(t)),
                K.clip(p, 0.2, 0.5),
                sparse.indices,
                sparse.values,
            ]
        )
        return outs + [K.epsilon(), K.floatx(), K.int_shape(p), K.is_sparse(sparse)]

    with v1.Graph().as_default(), v1.Session() as sess:
        theirs = compute(tf_keras_v1, sess.run)
    with rg.Graph().as_default():
        sess = rg.Session("local")
        ours = compute(rg.keras, sess.run)
    for a, b in zip(ours[:-4], theirs[:-4], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert ours[-4:] == theirs[-4:]
