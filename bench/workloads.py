"""The benchmark workloads, each in up to three implementations.

A workload builds, for an implementation ("raygraph", "numpy", "tensorflow"),
a zero-argument `step` function that does one unit of work, and says how many
units one step holds (`per`: 1 for a run, N for an N-op chain, to report per-op
costs). Graph-building and warm-up happen in `make`, never in `step`.

    tiny   one Session.run of a one-op graph (per-run latency)
    chain  2000 small elementwise ops in a chain on a [16] vector (per op)
    wide   2000 independent small ops joined by add_n (per op)
    chain-1000  one run of a 1000-op chain (per run)
    mlp    train step 784-256-256-10, batch 256, float32, SGD, feed_dict each step
    mlp-data  the same step fed by a prefetched tf.data pipeline on the device (no feed)
    mlp-data-k4, mlp-data-k16  mlp-data with 4 or 16 steps per Session.run (per step)
    cnn    the digits CNN train step of examples/train_digits.py

Train steps fetch nothing, so raygraph's runs return as soon as they are sent
(scheduler.central); `step.sync` waits for them, and the runner calls it at the
end of every timing so that all the work is counted.
"""

from __future__ import annotations

import numpy as np

CHAIN = 2000
WIDE = 2000


class Workload:
    name = ""
    per = 1  # units per step (ops, for per-op figures)
    unit = "run"

    def make(self, impl: str):
        """The step function of `impl`, or None when this workload has no such version."""
        build = getattr(self, impl, None)
        return build() if build is not None else None


# -- tiny ----------------------------------------------------------------------


class Tiny(Workload):
    name, unit = "tiny", "run"

    def raygraph(self):
        import raygraph as tf

        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [4])
            y = x + 1.0
        sess = tf.Session(graph=g)
        feed = {x: np.ones(4, np.float32)}
        sess.run(y, feed)
        return lambda: sess.run(y, feed)

    def numpy(self):
        x = np.ones(4, np.float32)
        return lambda: x + np.float32(1.0)

    def tensorflow(self):
        tf1 = _tf1()
        g = tf1.Graph()
        with g.as_default():
            x = tf1.placeholder(tf1.float32, [4])
            y = x + 1.0
        sess = tf1.Session(graph=g, config=_tf_config(tf1))
        feed = {x: np.ones(4, np.float32)}
        sess.run(y, feed)
        return lambda: sess.run(y, feed)


# -- chain and wide --------------------------------------------------------------


def _chain_ops(n):
    """The repeating pattern of cheap elementwise ops used by chain and wide."""
    return [lambda v, i=i: (v * 1.0001, v + 0.5, v - 0.25, v * 0.999)[i % 4] for i in range(n)]


class Chain(Workload):
    """`n` small elementwise ops in a chain on a [16] vector, timed per op (or per run)."""

    def __init__(self, n: int = CHAIN, name: str = "chain", unit: str = "op"):
        self.n, self.name, self.unit = n, name, unit
        self.per = n if unit == "op" else 1

    def _build(self, tf):
        x = tf.placeholder(tf.float32, [16])
        v = x
        for f in _chain_ops(self.n):
            v = f(v)
        return x, v

    def raygraph(self):
        import raygraph as tf

        g = tf.Graph()
        with g.as_default():
            x, v = self._build(tf)
        sess = tf.Session(graph=g)
        feed = {x: np.ones(16, np.float32)}
        sess.run(v, feed)
        return lambda: sess.run(v, feed)

    def numpy(self):
        x = np.ones(16, np.float32)
        consts = [np.float32(c) for c in (1.0001, 0.5, 0.25, 0.999)]
        mul, add, sub = np.multiply, np.add, np.subtract
        n = self.n

        def step():
            v = x
            for _ in range(n // 4):
                v = sub(add(mul(v, consts[0]), consts[1]), consts[2])
                v = mul(v, consts[3])
            return v

        return step

    def tensorflow(self):
        tf1 = _tf1()
        g = tf1.Graph()
        with g.as_default():
            x, v = self._build(tf1)
        sess = tf1.Session(graph=g, config=_tf_config(tf1))
        feed = {x: np.ones(16, np.float32)}
        sess.run(v, feed)
        return lambda: sess.run(v, feed)


class Wide(Workload):
    name, unit = "wide", "op"
    per = WIDE

    def _build(self, tf):
        x = tf.placeholder(tf.float32, [16])
        branches = [f(x) for f in _chain_ops(WIDE)]
        return x, tf.add_n(branches)

    def raygraph(self):
        import raygraph as tf

        g = tf.Graph()
        with g.as_default():
            x, y = self._build(tf)
        sess = tf.Session(graph=g)
        feed = {x: np.ones(16, np.float32)}
        sess.run(y, feed)
        return lambda: sess.run(y, feed)

    def numpy(self):
        x = np.ones(16, np.float32)
        c = [np.float32(v) for v in (1.0001, 0.5, 0.25, 0.999)]

        def step():
            out = [None] * WIDE
            for i in range(0, WIDE, 4):
                out[i], out[i + 1], out[i + 2], out[i + 3] = x * c[0], x + c[1], x - c[2], x * c[3]
            total = out[0] + out[1]
            for v in out[2:]:
                np.add(total, v, out=total)
            return total

        return step

    def tensorflow(self):
        tf1 = _tf1()
        g = tf1.Graph()
        with g.as_default():
            x, y = self._build(tf1)
        sess = tf1.Session(graph=g, config=_tf_config(tf1))
        feed = {x: np.ones(16, np.float32)}
        sess.run(y, feed)
        return lambda: sess.run(y, feed)


# -- mlp ------------------------------------------------------------------------

MLP_SIZES = (784, 256, 256, 10)
MLP_BATCH = 256
MLP_LR = 0.05


def _mlp_data(batches: int = 4):
    rng = np.random.default_rng(0)
    xs = [rng.random((MLP_BATCH, MLP_SIZES[0]), dtype=np.float32) for _ in range(batches)]
    ys = [rng.integers(0, MLP_SIZES[-1], MLP_BATCH).astype(np.int32) for _ in range(batches)]
    weights = [
        (rng.normal(0, np.sqrt(2.0 / m), (m, n)).astype(np.float32), np.zeros(n, np.float32))
        for m, n in zip(MLP_SIZES[:-1], MLP_SIZES[1:])
    ]
    return xs, ys, weights


def _mlp_graph(tf, weights, inputs=None):
    """The MLP train step as a TF1 graph (the same code for raygraph and TensorFlow).

    `inputs`, (x, y) tensors from a dataset, replace the placeholders.
    """
    if inputs is None:
        x = tf.placeholder(tf.float32, [None, MLP_SIZES[0]])
        y = tf.placeholder(tf.int32, [None])
    else:
        x, y = inputs
    h = x
    for i, (w0, b0) in enumerate(weights):
        w = tf.Variable(w0)
        b = tf.Variable(b0)
        h = tf.matmul(h, w) + b
        if i < len(weights) - 1:
            h = tf.nn.relu(h)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=h))
    train = tf.train.GradientDescentOptimizer(MLP_LR).minimize(loss)
    return x, y, train


class _TrainStep(Workload):
    """A train step driven by `sess.run(train_op, feed_dict)`, cycling over a few feeds."""

    unit = "step"

    def build(self, tf):
        """Builds the graph in the default graph; returns (train op, feed dicts)."""
        raise NotImplementedError

    def runner(self, tf, sess):
        """run(train op, feed dict): one timed step's session call(s)."""
        return sess.run

    def _session_step(self, tf, make_session):
        g = tf.Graph()
        with g.as_default():
            train, feeds = self.build(tf)
            init = tf.global_variables_initializer()
        sess = make_session(tf, g)
        sess.run(init)
        counter = iter(range(1 << 62))
        run = self.runner(tf, sess)

        def step():
            run(train, feeds[next(counter) % len(feeds)])

        step()
        return _with_sync(step, sess)

    def raygraph(self):
        import os

        import raygraph as tf

        # RAYGRAPH_BENCH_INTRA_OP / _INTER_OP: an explicit intra_op_parallelism_threads or
        # inter_op_parallelism_threads, for A/B runs of the defaults
        # (`python -m bench --variant 'blas1:RAYGRAPH_BENCH_INTRA_OP=1'`).
        intra = int(os.environ.get("RAYGRAPH_BENCH_INTRA_OP", "0"))
        inter = int(os.environ.get("RAYGRAPH_BENCH_INTER_OP", "0"))
        config = None
        if intra or inter:
            config = tf.ConfigProto(intra_op_parallelism_threads=intra, inter_op_parallelism_threads=inter)
        return self._session_step(tf, lambda tf, g: tf.Session(graph=g, config=config))

    def tensorflow(self):
        return self._session_step(_tf1(), lambda tf, g: tf.Session(graph=g, config=_tf_config(tf)))


class MLP(_TrainStep):
    """Train step 784-256-256-10, batch 256, SGD, a feed_dict every step."""

    name = "mlp"

    def build(self, tf):
        xs, ys, weights = _mlp_data()
        x, y, train = _mlp_graph(tf, weights)
        return train, [{x: a, y: b} for a, b in zip(xs, ys)]

    def numpy(self):
        xs, ys, weights = _mlp_data()
        params = [(w.copy(), b.copy()) for w, b in weights]
        counter = iter(range(1 << 62))

        def step():
            i = next(counter) % len(xs)
            numpy_mlp_step(params, xs[i], ys[i], MLP_LR)

        return step


class MLPData(MLP):
    """The mlp step fed by a Dataset: the same batches, sliced, repeated and prefetched
    on the device by tf.data (TensorFlow's: its own tf.data), no feed_dict."""

    name = "mlp-data"

    def build(self, tf):
        xs, ys, weights = _mlp_data()
        dataset = (
            tf.data.Dataset.from_tensor_slices((np.concatenate(xs), np.concatenate(ys)))
            .repeat()
            .batch(MLP_BATCH, drop_remainder=True)
            .prefetch(2)
        )
        inputs = tf.data.make_one_shot_iterator(dataset).get_next()
        _, _, train = _mlp_graph(tf, weights, inputs)
        return train, [None]


class MLPDataSteps(MLPData):
    """mlp-data, K steps per request: raygraph's RunOptions(steps_per_run=K), one
    Session.run per K steps; TensorFlow and numpy make their K steps one at a time."""

    def __init__(self, k: int):
        self.k = self.per = k
        self.name = f"mlp-data-k{k}"

    def runner(self, tf, sess):
        k = self.k
        if tf.__name__ == "raygraph":
            options = tf.RunOptions(steps_per_run=k)
            return lambda train, feed: sess.run(train, feed, options=options)

        def k_runs(train, feed):
            for _ in range(k):
                sess.run(train, feed)

        return k_runs

    def numpy(self):
        one = super().numpy()

        def step():
            for _ in range(self.k):
                one()

        return step


def numpy_mlp_step(params, x, labels, lr):
    """One SGD step of the MLP in hand-written numpy: the floor for a numpy executor."""
    acts = [x]
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w
        h += b
        if i < len(params) - 1:
            np.maximum(h, 0, out=h)
        acts.append(h)
    logits = acts[-1]
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)  # now softmax probabilities
    grad = logits
    grad[np.arange(len(labels)), labels] -= 1.0
    grad *= np.float32(1.0 / len(labels))
    for i in range(len(params) - 1, -1, -1):
        w, b = params[i]
        dw = acts[i].T @ grad
        db = grad.sum(axis=0)
        if i > 0:
            grad = grad @ w.T
            grad *= acts[i] > 0
        w -= np.float32(lr) * dw
        b -= np.float32(lr) * db


# -- cnn ------------------------------------------------------------------------

CNN_BATCH = 64


class CNN(_TrainStep):
    """The digits CNN train step of examples/train_digits.py (its own build_model)."""

    name = "cnn"
    numpy = None  # no hand-written numpy CNN: compared with TensorFlow only

    def build(self, tf):
        import importlib.util
        import os

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        spec = importlib.util.spec_from_file_location(
            "bench_train_digits", os.path.join(root, "examples", "train_digits.py")
        )
        example = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(example)
        example.tf = tf  # the example's own graph code, built with this implementation
        x_train, _, y_train, _ = example.load_data(0)
        tf.set_random_seed(0)
        images, labels, training, _, train_op, _, _ = example.build_model(3e-3)
        feeds = [
            {images: x_train[i : i + CNN_BATCH], labels: y_train[i : i + CNN_BATCH], training: True}
            for i in range(0, CNN_BATCH * 8, CNN_BATCH)
        ]
        return train_op, feeds


# -- helpers -------------------------------------------------------------------


def _with_sync(step, sess):
    """Marks a step whose runs may return before their work ends (raygraph's train steps).

    The runner calls `step.sync()` at the end of each timing, so the time counts
    all the work the steps started.
    """
    scheduler = getattr(sess, "_scheduler", None)
    if scheduler is not None:
        step.sync = scheduler.drain
    return step


def _tf1():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.compat.v1.layers needs tf-keras
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    return tf.compat.v1


def _tf_config(tf1):
    return tf1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=2)


WORKLOADS = {
    w.name: w
    for w in (
        MLP(),
        MLPData(),
        MLPDataSteps(4),
        MLPDataSteps(16),
        CNN(),
        Tiny(),
        Chain(),
        Wide(),
        Chain(1000, "chain-1000", "run"),
    )
}
