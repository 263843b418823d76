"""The benchmark workloads, each in up to three implementations.

A workload builds, for an implementation ("raygraph", "numpy", "tensorflow"),
a zero-argument `step` function that does one unit of work, and says how many
units one step holds (`per`: 1 for a run, N for an N-op chain, to report per-op
costs). Graph-building and warm-up happen in `make`, never in `step`.

    tiny   one Session.run of a one-op graph (per-run latency)
    chain  N small elementwise ops in a chain on a [16] vector (per op)
    wide   N independent small ops joined by add_n (per op)
    mlp    train step 784-256-256-10, batch 256, float32, SGD, feed_dict each step
    cnn    the digits CNN train step of examples/train_digits.py
"""

from __future__ import annotations

import numpy as np

CHAIN = 1000
WIDE = 1000


class Workload:
    name = ""
    per = 1  # units per step (ops, for per-op figures)
    unit = "run"

    def make(self, impl: str):
        return getattr(self, impl)()


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
    name, unit = "chain", "op"
    per = CHAIN

    def raygraph(self):
        import raygraph as tf

        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [16])
            v = x
            for f in _chain_ops(CHAIN):
                v = f(v)
        sess = tf.Session(graph=g)
        feed = {x: np.ones(16, np.float32)}
        sess.run(v, feed)
        return lambda: sess.run(v, feed)

    def numpy(self):
        x = np.ones(16, np.float32)
        consts = [np.float32(c) for c in (1.0001, 0.5, 0.25, 0.999)]
        mul, add, sub = np.multiply, np.add, np.subtract

        def step():
            v = x
            for _ in range(CHAIN // 4):
                v = sub(add(mul(v, consts[0]), consts[1]), consts[2])
                v = mul(v, consts[3])
            return v

        return step

    def tensorflow(self):
        tf1 = _tf1()
        g = tf1.Graph()
        with g.as_default():
            x = tf1.placeholder(tf1.float32, [16])
            v = x
            for f in _chain_ops(CHAIN):
                v = f(v)
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


# -- helpers -------------------------------------------------------------------


def _tf1():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    return tf.compat.v1


def _tf_config(tf1):
    return tf1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=2)


WORKLOADS = {w.name: w for w in (Tiny(), Chain(), Wide())}
