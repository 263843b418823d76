"""tf.layers, tf.losses, variable scopes and initializers against TensorFlow 2.21's tf.compat.v1.

Each program is written once and built twice, with raygraph and with
`tensorflow.compat.v1` in graph mode. TensorFlow's initial variable values are
copied into raygraph's variables (by name, with Variable.load), then forward
outputs, losses, batch-norm updates and the created variable names must agree
to float32 rounding.

TensorFlow 2.21 ships `tf.compat.v1.layers` only through the tf_keras package
(with TF_USE_LEGACY_KERAS=1). When tf_keras is installed the layer programs use
those real layers (imported from tf_keras directly); otherwise they use `CoreLayers` below, which builds the
same TF1 layers from TensorFlow core ops (matmul, conv2d, fused_batch_norm, ...)
and TF1's variable names, so the arithmetic is still TensorFlow's.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

# Whole TF1 programs through the device actors: the end-to-end check that Ray gives TF's numbers.
pytestmark = [pytest.mark.compat, pytest.mark.usefixtures("ray_cluster")]

v1 = tf1.compat.v1
RTOL, ATOL = 2e-5, 2e-6


def assert_close(ours, theirs, what=""):
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


# -- TensorFlow's layers, or the same layers from core ops ------------------------------------


class CoreLayers:
    """tf.compat.v1.layers as TensorFlow computes them, from core ops (when tf_keras is missing)."""

    def __init__(self, tf):
        self.tf = tf

    def _scope(self, name, default, reuse=None):
        return self.tf.variable_scope(name, default_name=default, reuse=reuse)

    def dense(self, x, units, activation=None, name=None, reuse=None):
        tf = self.tf
        with self._scope(name, "dense", reuse):
            kernel = tf.get_variable("kernel", [x.shape[-1], units])
            bias = tf.get_variable("bias", [units], initializer=tf.zeros_initializer())
            rank = x.shape.ndims
            y = tf.matmul(x, kernel) if rank == 2 else tf.tensordot(x, kernel, [[rank - 1], [0]])
            y = tf.nn.bias_add(y, bias)
            return activation(y) if activation is not None else y

    def conv2d(self, x, filters, kernel_size, padding="valid", activation=None, name=None):
        tf = self.tf
        with self._scope(name, "conv2d"):
            kernel = tf.get_variable("kernel", [kernel_size, kernel_size, x.shape[-1], filters])
            bias = tf.get_variable("bias", [filters], initializer=tf.zeros_initializer())
            y = tf.nn.bias_add(tf.nn.conv2d(x, kernel, [1, 1, 1, 1], padding.upper()), bias)
            return activation(y) if activation is not None else y

    def max_pooling2d(self, x, pool_size, strides, name=None):
        with self._scope(name, "max_pooling2d"):
            size, step = [1, pool_size, pool_size, 1], [1, strides, strides, 1]
            return self.tf.nn.max_pool(x, size, step, "VALID")

    def flatten(self, x, name=None):
        with self._scope(name, "flatten"):
            return self.tf.reshape(x, [-1, int(np.prod(x.shape.as_list()[1:]))])

    def batch_normalization(
        self,
        x,
        training=False,
        momentum=0.99,
        gamma_initializer=None,
        beta_initializer=None,
        name=None,
        reuse=None,
    ):
        tf = self.tf
        with self._scope(name, "batch_normalization", reuse):
            c = x.shape[-1]
            gamma = tf.get_variable("gamma", [c], initializer=gamma_initializer or tf.ones_initializer())
            beta = tf.get_variable("beta", [c], initializer=beta_initializer or tf.zeros_initializer())
            mean = tf.get_variable("moving_mean", [c], initializer=tf.zeros_initializer(), trainable=False)
            var = tf.get_variable("moving_variance", [c], initializer=tf.ones_initializer(), trainable=False)
            if not training:
                return tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-3)
            if x.shape.ndims == 4:  # the fused kernel: its batch variance is the unbiased one
                y, batch_mean, batch_var = tf.nn.fused_batch_norm(x, gamma, beta, epsilon=1e-3)
            else:
                batch_mean, batch_var = tf.nn.moments(x, [0])
                y = tf.nn.batch_normalization(x, batch_mean, batch_var, beta, gamma, 1e-3)
            for variable, value in ((mean, batch_mean), (var, batch_var)):
                update = variable.assign_sub((variable - value) * (1.0 - momentum))
                tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, update.op)
            return y


@pytest.fixture(scope="module")
def tf_layers():
    """TensorFlow's tf.compat.v1.layers when tf_keras is installed, else CoreLayers."""
    try:  # what tf.compat.v1.layers routes to under TF_USE_LEGACY_KERAS=1
        return importlib.import_module("tf_keras.api._v1.keras.__internal__.legacy.layers")
    except ImportError:
        return CoreLayers(v1)


def run_both(program, tf_layers, *args):
    """Runs `program(tf, layers, sess_hook)` with TensorFlow, then raygraph from TF's initial values."""
    theirs = program(v1, tf_layers, None, *args)
    ours = program(raygraph, raygraph.layers, theirs["initial"], *args)
    return ours, theirs


def start(tf, sess, initial):
    """Initializes the variables; raygraph's then take TensorFlow's initial values."""
    sess.run(tf.global_variables_initializer())
    if initial is None:
        return {v.name: sess.run(v) for v in tf.global_variables()}
    for v in tf.global_variables():
        v.load(initial[v.name], sess)
    return initial


# -- layer programs --------------------------------------------------------------------------


rng = np.random.default_rng(0)
X2 = rng.normal(size=(6, 5)).astype(np.float32)
X4 = rng.normal(size=(3, 8, 8, 2)).astype(np.float32)


def dense_relu(tf, layers, initial):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 5])
        h = layers.dense(x, 8, activation=tf.nn.relu)
        y = layers.dense(h, 3)
        sequence = tf.placeholder(tf.float32, [None, 3, 4])
        z = layers.dense(sequence, 2, activation=tf.nn.relu)  # over the last axis
        with tf.Session() as sess:
            initial = start(tf, sess, initial)
            outputs = sess.run([h, y, z], {x: X2, sequence: X4[:, :3, :4, 0]})
        return {"initial": initial, "outputs": outputs, "names": [v.name for v in tf.global_variables()]}


def conv_pool_dense(tf, layers, initial):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 8, 8, 2])
        h = layers.conv2d(x, 4, 3, padding="same", activation=tf.nn.relu)
        h = layers.max_pooling2d(h, 2, 2)
        h = layers.conv2d(h, 3, 3)
        flat = layers.flatten(h)
        y = layers.dense(flat, 5)
        with tf.Session() as sess:
            initial = start(tf, sess, initial)
            outputs = sess.run([h, flat, y], {x: X4})
        return {"initial": initial, "outputs": outputs, "names": [v.name for v in tf.global_variables()]}


def batch_norm(tf, layers, initial, x_value):
    """Training output, the moving averages after one update, then the inference output."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None] + list(x_value.shape[1:]))
        train = layers.batch_normalization(
            x,
            training=True,
            momentum=0.7,
            name="bn",
            gamma_initializer=tf.constant_initializer(1.5),
            beta_initializer=tf.constant_initializer(-0.5),
        )
        infer = layers.batch_normalization(x, training=False, momentum=0.7, name="bn", reuse=True)
        updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        moving = [v for v in tf.global_variables() if "moving" in v.name]
        with tf.Session() as sess:
            initial = start(tf, sess, initial)
            before = sess.run(infer, {x: x_value})
            trained, _ = sess.run([train, updates], {x: x_value})
            after = sess.run(moving + [infer], {x: x_value})
        return {
            "initial": initial,
            "outputs": [before, trained] + after,
            "updates": len(updates),
            "names": [v.name for v in tf.global_variables()],
            "trainable": [v.name for v in tf.trainable_variables()],
        }


def layer_names(tf, layers, initial):
    """Unnamed, named and reused layers in nested variable scopes."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        layers.dense(x, 3)
        layers.dense(x, 3, name="fc")
        with tf.variable_scope("block"):
            layers.dense(x, 2)
            layers.dense(x, 2)
            layers.batch_normalization(x)
        with tf.variable_scope("block", reuse=True):
            layers.dense(x, 2)
        layers.dense(x, 3, name="fc", reuse=True)
        with tf.variable_scope("outer"), tf.variable_scope("inner"):
            layers.conv2d(tf.placeholder(tf.float32, [None, 4, 4, 1]), 2, 3)
        layers.dense(x, 1)
        return {
            "initial": None,
            "outputs": [],
            "names": [v.name for v in tf.global_variables()],
            "trainable": [v.name for v in tf.trainable_variables()],
        }


def test_layer_variable_names_match_tensorflow(tf_layers):
    theirs = layer_names(v1, tf_layers, None)
    ours = layer_names(raygraph, raygraph.layers, None)
    assert ours["names"] == theirs["names"]
    assert ours["trainable"] == theirs["trainable"]


@pytest.mark.parametrize("program", [dense_relu, conv_pool_dense])
def test_layer_models_match_tensorflow(program, tf_layers):
    ours, theirs = run_both(program, tf_layers)
    assert ours["names"] == theirs["names"]
    assert_close(ours["outputs"], theirs["outputs"], program.__name__)


@pytest.mark.parametrize("x_value", [X2, X4], ids=["rank2", "rank4-fused"])
def test_batch_normalization_matches_tensorflow(x_value, tf_layers):
    ours, theirs = run_both(batch_norm, tf_layers, x_value)
    assert (
        ours["names"]
        == theirs["names"]
        == ["bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0"]
    )
    assert ours["trainable"] == theirs["trainable"] == ["bn/gamma:0", "bn/beta:0"]
    assert ours["updates"] == theirs["updates"] == 2
    assert_close(ours["outputs"], theirs["outputs"], "inference, training, moving mean, variance, inference")


def test_variable_scope_names_match_tensorflow():
    def program(tf):
        names = []
        with tf.Graph().as_default():
            with tf.variable_scope("foo") as foo:
                names.append(tf.get_variable("w", [1]).name)
                names.append(tf.constant(1.0, name="c").name)
            with tf.variable_scope(foo):
                names.append(tf.constant(1.0, name="c").name)
                names.append(tf.get_variable("v", [1]).name)
            with tf.variable_scope("foo", reuse=True):
                names.append(tf.get_variable("w", [1]).name)
            for _ in range(2):
                with tf.variable_scope(None, default_name="block") as scope:
                    names.append(scope.name)
                    names.append(scope.original_name_scope)
            with tf.name_scope("ns"), tf.variable_scope("vs"):
                names.append(tf.get_variable("x", [1]).name)
                names.append(tf.constant(0, name="k").name)
            with tf.variable_scope("outer"), tf.variable_scope(None, default_name="block") as scope:
                names.append(scope.name)
            try:
                with tf.variable_scope("foo"):
                    tf.get_variable("w", [1])
            except ValueError as e:
                names.append(str(e).split(" Originally")[0])
            try:
                with tf.variable_scope("foo", reuse=True):
                    tf.get_variable("missing", [1])
            except ValueError as e:
                names.append(str(e))
        return names

    assert program(raygraph) == program(v1)


def test_constant_initializers_match_tensorflow():
    def program(tf):
        with tf.Graph().as_default():
            values = [
                tf.zeros_initializer()([2, 3]),
                tf.ones_initializer()([4], dtype=tf.int32),
                tf.constant_initializer(2.5)([2, 2]),
                tf.constant_initializer([1, 2])([2, 3]),
                tf.constant_initializer([[1, 2], [3, 4]])([4]),
            ]
            with tf.Session() as sess:
                return sess.run(values)

    for ours, theirs in zip(program(raygraph), program(v1), strict=True):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


# -- losses -----------------------------------------------------------------------------------

N, C = 5, 4
LABELS = rng.uniform(0, 1, (N, C)).astype(np.float32)
PREDICTIONS = rng.uniform(0.05, 0.95, (N, C)).astype(np.float32)
BINARY = (rng.uniform(0, 1, (N, C)) > 0.5).astype(np.float32)
LOGITS = rng.normal(0, 2, (N, C)).astype(np.float32)
CLASSES = rng.integers(0, C, N).astype(np.int32)
ONEHOT = np.eye(C, dtype=np.float32)[CLASSES]
ELEMENT_WEIGHTS = [
    1.0,
    0.0,
    rng.uniform(0, 2, (N, 1)).astype(np.float32),
    (rng.uniform(0, 1, (N, C)) > 0.4).astype(np.float32) * 1.5,
]
EXAMPLE_WEIGHTS = [2.0, np.array([1.0, 0.0, 2.0, 0.5, 0.0], np.float32)]


def loss_builders(tf):
    """name -> (build(weights, reduction), weights to try)."""
    L = tf.losses
    return {
        "mean_squared_error": (
            lambda w, r: L.mean_squared_error(LABELS, PREDICTIONS, w, reduction=r),
            ELEMENT_WEIGHTS,
        ),
        "absolute_difference": (
            lambda w, r: L.absolute_difference(LABELS, PREDICTIONS, w, reduction=r),
            ELEMENT_WEIGHTS,
        ),
        "huber_loss": (
            lambda w, r: L.huber_loss(LABELS, 3 * PREDICTIONS, w, delta=0.7, reduction=r),
            ELEMENT_WEIGHTS,
        ),
        "log_loss": (lambda w, r: L.log_loss(BINARY, PREDICTIONS, w, reduction=r), ELEMENT_WEIGHTS),
        "cosine_distance": (
            lambda w, r: L.cosine_distance(LABELS, PREDICTIONS, axis=1, weights=w, reduction=r),
            [1.0, ELEMENT_WEIGHTS[2]],
        ),
        "hinge_loss": (lambda w, r: L.hinge_loss(BINARY, LOGITS, w, reduction=r), ELEMENT_WEIGHTS),
        "sigmoid_cross_entropy": (
            lambda w, r: L.sigmoid_cross_entropy(BINARY, LOGITS, w, label_smoothing=0.1, reduction=r),
            ELEMENT_WEIGHTS,
        ),
        "softmax_cross_entropy": (
            lambda w, r: L.softmax_cross_entropy(ONEHOT, LOGITS, w, label_smoothing=0.2, reduction=r),
            EXAMPLE_WEIGHTS,
        ),
        "sparse_softmax_cross_entropy": (
            lambda w, r: L.sparse_softmax_cross_entropy(CLASSES, LOGITS, w, reduction=r),
            EXAMPLE_WEIGHTS,
        ),
    }


def all_losses(tf):
    """Every loss, with every weight and reduction; then the collection-based totals."""
    R = tf.losses.Reduction
    reductions = [R.NONE, R.SUM, R.MEAN, R.SUM_OVER_BATCH_SIZE, R.SUM_BY_NONZERO_WEIGHTS]
    with tf.Graph().as_default():
        tensors = {}
        for name, (build, weights) in loss_builders(tf).items():
            for i, w in enumerate(weights):
                for r in reductions:
                    tensors[f"{name}/weights{i}/{r}"] = build(w, r)
        count = len(tf.losses.get_losses())
        del tf.get_collection_ref(tf.GraphKeys.LOSSES)[:]  # the unreduced ones cannot be summed
        build_mse = loss_builders(tf)["mean_squared_error"][0]
        build_mse(0.5, R.SUM), build_mse(2.0, R.MEAN)
        tf.get_variable(
            "w",
            [2],
            initializer=tf.constant_initializer([1.0, -2.0]),
            regularizer=lambda v: tf.reduce_sum(v * v),
        )
        tensors["regularization"] = tf.losses.get_regularization_loss()
        tensors["total"] = tf.losses.get_total_loss()
        tensors["data_only"] = tf.losses.get_total_loss(add_regularization_losses=False)
        names = {k: t.name for k, t in tensors.items() if not k.endswith((R.NONE, R.SUM, R.MEAN))}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            values = sess.run(tensors)
        return values, names, count


def test_every_loss_matches_tensorflow():
    ours, our_names, our_count = all_losses(raygraph)
    theirs, their_names, their_count = all_losses(v1)
    assert our_count == their_count
    assert our_names == their_names
    assert ours.keys() == theirs.keys()
    for key in theirs:
        assert np.shape(ours[key]) == np.shape(theirs[key]), key
        np.testing.assert_allclose(ours[key], theirs[key], rtol=RTOL, atol=ATOL, err_msg=key)
