"""`python -m bench.data_parallel [--rounds R] [--steps S] [--batch B]`: data-parallel training speed.

Run inside ../shared/bin/loopback; it starts its own local Ray (4 logical CPUs).

(a) Samples/s of tf.parallel.DataParallel with 2 replicas against 1 replica, on
    a compute-bound MLP (512-1024-1024-10, batch B, SGD), each device one BLAS
    thread (intra_op_parallelism_threads=1) and one kernel at a time
    (inter_op_parallelism_threads=1): the devices are the only parallelism.
    The batch is fed each step, as a training loop would. Variants run
    interleaved, once per round; figures are medians over rounds. Bar: >= 1.7x.
    For reference, TensorFlow's own towers (tf.compat.v1, two CPU devices,
    intra_op 1, inter_op 2) against its single device, in the same rounds.
(b) The all-reduce by itself, between two and three device actors: "direct"
    (every rank receives every tensor) against "ring" (chunked reduce-scatter
    then all-gather), per size, as milliseconds per run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

DIMS = (512, 1024, 1024, 10)


def _model(tf, x, y):
    h = x
    init = tf.glorot_uniform_initializer(seed=1)
    for i, units in enumerate(DIMS[1:-1]):
        h = tf.layers.dense(h, units, tf.nn.relu, kernel_initializer=init, name=f"h{i}")
    logits = tf.layers.dense(h, DIMS[-1], kernel_initializer=init, name="out")
    return tf.losses.sparse_softmax_cross_entropy(y, logits)


def raygraph_step(replicas: int, batch: int):
    import raygraph as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, DIMS[0]])
        y = tf.placeholder(tf.int64, [None])
        dp = tf.parallel.DataParallel(lambda a, b: _model(tf, a, b), [x, y], devices=replicas)
        train_op = dp.minimize(tf.train.GradientDescentOptimizer(0.01))
        init = tf.global_variables_initializer()
    config = tf.ConfigProto(
        device_count={"CPU": replicas}, intra_op_parallelism_threads=1, inter_op_parallelism_threads=1
    )
    sess = tf.Session(graph=g, config=config)
    sess.run(init)
    feed = _batch(batch)
    feed = {x: feed[0], y: feed[1]}
    first = dp.variables[0]

    def step(sync=False):  # a run that fetches nothing returns before it ends: sync waits for it
        sess.run(train_op, feed)
        if sync:
            sess.run(first)

    return step, sess


def tensorflow_step(towers: int, batch: int):
    import tensorflow as tf1

    v1 = tf1.compat.v1
    g = v1.Graph()
    with g.as_default():
        x = v1.placeholder(v1.float32, [None, DIMS[0]])
        y = v1.placeholder(v1.int64, [None])
        opt = v1.train.GradientDescentOptimizer(0.01)
        grads = []
        for i, (xs, ys) in enumerate(zip(v1.split(x, towers), v1.split(y, towers))):
            with v1.device(f"/cpu:{i}"), v1.variable_scope("m", reuse=i > 0):
                grads.append(opt.compute_gradients(_model(_TFLayers(v1), xs, ys)))
        avg = [(v1.add_n([g for g, _ in pairs]) / float(towers), pairs[0][1]) for pairs in zip(*grads)]
        train_op = opt.apply_gradients(avg)
        init = v1.global_variables_initializer()
    config = v1.ConfigProto(
        device_count={"CPU": towers}, intra_op_parallelism_threads=1, inter_op_parallelism_threads=towers
    )
    sess = v1.Session(graph=g, config=config)
    sess.run(init)
    xb, yb = _batch(batch)
    return lambda sync=False: sess.run(train_op, {x: xb, y: yb}), sess


class _TFLayers:
    """The few names _model uses, from TensorFlow core ops (tf.compat.v1.layers needs tf_keras)."""

    def __init__(self, v1):
        self.v1 = v1
        self.nn = v1.nn
        self.losses = v1.losses
        self.layers = self

    def glorot_uniform_initializer(self, seed):
        return self.v1.glorot_uniform_initializer(seed=seed)

    def dense(self, x, units, activation=None, kernel_initializer=None, name=None):
        v1 = self.v1
        with v1.variable_scope(name):
            w = v1.get_variable("kernel", [x.shape[-1], units], initializer=kernel_initializer)
            b = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())
            out = v1.matmul(x, w) + b
        return activation(out) if activation else out


def _batch(batch: int):
    rng = np.random.default_rng(0)
    return rng.normal(size=(batch, DIMS[0])).astype(np.float32), rng.integers(0, DIMS[-1], batch)


def _time(step, steps: int) -> float:
    """Seconds per step, the last step waited for (raygraph's train steps return before they end)."""
    start = time.perf_counter()
    for i in range(steps):
        step(sync=i == steps - 1)
    return (time.perf_counter() - start) / steps


def speedup(rounds: int, steps: int, batch: int, with_tf: bool) -> dict:
    variants = {"raygraph 1 replica": raygraph_step(1, batch), "raygraph 2 replicas": raygraph_step(2, batch)}
    if with_tf:
        variants["tensorflow 1 device"] = tensorflow_step(1, batch)
        variants["tensorflow 2 towers"] = tensorflow_step(2, batch)
    times = {name: [] for name in variants}
    for step, _ in variants.values():  # warm up: plans, pages, BLAS
        _time(step, 2)
    for _ in range(rounds):
        for name, (step, _) in variants.items():
            times[name].append(_time(step, steps))
    for _, sess in variants.values():
        sess.close()
    rate = {name: batch / statistics.median(t) for name, t in times.items()}
    out = {"samples/s": rate}
    out["raygraph 2/1"] = rate["raygraph 2 replicas"] / rate["raygraph 1 replica"]
    if with_tf:
        out["tensorflow 2/1"] = rate["tensorflow 2 towers"] / rate["tensorflow 1 device"]
    return out


def all_reduce_times(rounds: int, sizes=(1 << 16, 1 << 20, 1 << 23)) -> dict:
    import raygraph as tf

    out = {}
    for n in (2, 3):
        for size in sizes:
            for algorithm in ("direct", "ring"):
                g = tf.Graph()
                with g.as_default():
                    tensors = []
                    for i in range(n):
                        with tf.device(f"/cpu:{i}"):
                            tensors.append(tf.random_normal([size], seed=i))
                    reduced = tf.parallel.all_reduce(tensors, algorithm=algorithm)
                    done = tf.group(*[r.op for r in reduced])
                config = tf.ConfigProto(device_count={"CPU": n}, intra_op_parallelism_threads=1)
                with tf.Session(graph=g, config=config) as sess:
                    sess.run(reduced[0][:1])

                    def step(sync=False, sess=sess, done=done, reduced=reduced):
                        sess.run(reduced[0][:1] if sync else done)

                    t = statistics.median(_time(step, 5) for _ in range(rounds))
                out[f"{n} ranks, {size * 4 / 2**20:.2f} MB, {algorithm}"] = t * 1e3
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--no-tf", action="store_true", help="skip TensorFlow's towers")
    parser.add_argument("--no-all-reduce", action="store_true", help="skip (b)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(
        num_cpus=4, object_store_memory=400 * 1024 * 1024, include_dashboard=False, logging_level="WARNING"
    )
    try:
        with_tf = not args.no_tf
        if with_tf:
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                with_tf = False
        result = speedup(args.rounds, args.steps, args.batch, with_tf)
        print(f"(a) batch {args.batch}, MLP {'-'.join(map(str, DIMS))}, one BLAS thread per device")
        for name, rate in result["samples/s"].items():
            print(f"    {name:22s} {rate:9.0f} samples/s")
        print(f"    raygraph 2 replicas / 1 replica: {result['raygraph 2/1']:.2f}x (bar: >= 1.7x)")
        if "tensorflow 2/1" in result:
            print(f"    tensorflow 2 towers / 1 device:  {result['tensorflow 2/1']:.2f}x")
        if not args.no_all_reduce:
            print("(b) all-reduce, ms per run (median)")
            for name, ms in all_reduce_times(max(1, args.rounds // 2)).items():
                print(f"    {name:28s} {ms:8.2f}")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
