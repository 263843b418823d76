"""`python -m bench.rnn [--rounds R] [--impls ...]`: recurrent workloads against TensorFlow.

    lstm-lm    one train step of an LSTM language model: embedding (tf.gather),
               BasicLSTMCell(200) run by tf.nn.dynamic_rnn over 20 steps, batch 32,
               softmax over a 1000-word vocabulary, gradients clipped by global
               norm, Adam. The loop and its gradient are while_loops, so a step
               is one Session.run whatever the sequence length.
    while-10k  one Session.run of tf.while_loop over 10,000 scalar iterations
               (i + 1, acc + i): the per-iteration overhead of a loop.

Implementations, each in a process of its own (as bench.runner does it, so that
their thread pools never share a process): "local" is raygraph on
Session("local") (in-process, no Ray), "ray" raygraph on Session() (a local Ray;
run inside ../shared/bin/loopback), "tensorflow" TensorFlow's compat.v1 with 2
intra- and inter-op threads. Each round times every pair once, shuffled, and the
figure is the median over rounds; the ratios compare implementations of the
same run. `--profile` prints where raygraph's time goes in one while-10k run
(cProfile, local target).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import time

import numpy as np

from bench.runner import PAUSE_S, _fmt, machine, time_step

IMPLS = ("local", "ray", "tensorflow")
VOCAB, EMBED, HIDDEN, BATCH, STEPS = 1000, 200, 200, 32, 20
LOOP_ITERATIONS = 10_000


# -- the programs, written once for raygraph and TensorFlow ------------------------------------


def lm_graph(tf, rnn_cell):
    """The LSTM language model's train step; returns (train op, loss, tokens placeholder)."""
    tokens = tf.placeholder(tf.int32, [BATCH, STEPS + 1])
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    embedding = tf.get_variable("embedding", [VOCAB, EMBED])
    cell = rnn_cell.BasicLSTMCell(HIDDEN)
    outputs, _ = tf.nn.dynamic_rnn(cell, tf.gather(embedding, inputs), dtype=tf.float32)
    softmax_w = tf.get_variable("softmax_w", [HIDDEN, VOCAB])
    softmax_b = tf.get_variable("softmax_b", [VOCAB], initializer=tf.zeros_initializer())
    logits = tf.matmul(tf.reshape(outputs, [-1, HIDDEN]), softmax_w) + softmax_b
    loss = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.reshape(targets, [-1]), logits=logits)
    )
    variables = tf.trainable_variables()
    grads = [tf.convert_to_tensor(g) for g in tf.gradients(loss, variables)]
    norm = tf.sqrt(tf.add_n([tf.reduce_sum(g * g) for g in grads]))  # tf.clip_by_global_norm(grads, 5.0)
    scale = 5.0 / tf.maximum(norm, 5.0)
    train = tf.train.AdamOptimizer(1e-3).apply_gradients([(g * scale, v) for g, v in zip(grads, variables)])
    return train, loss, tokens


def lm_batches(n: int = 4) -> list:
    rng = np.random.default_rng(0)
    return [rng.integers(0, VOCAB, size=(BATCH, STEPS + 1)).astype(np.int32) for _ in range(n)]


def while_graph(tf):
    n = tf.placeholder(tf.int32, [])
    _, total = tf.while_loop(
        lambda i, acc: i < n, lambda i, acc: (i + 1, acc + i), [tf.constant(0), tf.constant(0)]
    )
    return total, n


# -- per implementation ---------------------------------------------------------------------


def _modules(impl: str, threads: int = 0):
    """(tf module, rnn_cell module, session factory) of an implementation.

    `threads` > 0 gives every implementation that many intra- and inter-op threads;
    0 leaves raygraph's defaults and gives TensorFlow 2 (as bench.workloads does).
    """
    if impl == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.compat.v1.nn.rnn_cell needs tf-keras
        import tensorflow

        tf = tensorflow.compat.v1
        tf.disable_eager_execution()
        n = threads or 2
        config = tf.ConfigProto(intra_op_parallelism_threads=n, inter_op_parallelism_threads=n)
        return tf, tf.nn.rnn_cell, lambda g: tf.Session(graph=g, config=config)
    import raygraph as tf

    target = "local" if impl == "local" else ""
    config = None
    if threads:
        config = tf.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
    return tf, tf.nn.rnn_cell, lambda g: tf.Session(target, graph=g, config=config)


def make_step(workload: str, impl: str, threads: int = 0):
    tf, rnn_cell, session = _modules(impl, threads)
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(0)
        if workload == "lstm-lm":
            train, loss, tokens = lm_graph(tf, rnn_cell)
            fetch, feeds = [train, loss], [{tokens: b} for b in lm_batches()]
        else:
            total, n = while_graph(tf)
            fetch, feeds = total, [{n: LOOP_ITERATIONS}]
        init = tf.global_variables_initializer()
    sess = session(g)
    sess.run(init)
    counter = iter(range(1 << 62))

    def step():
        return sess.run(fetch, feeds[next(counter) % len(feeds)])

    result = step()
    if workload == "while-10k":
        assert result == LOOP_ITERATIONS * (LOOP_ITERATIONS - 1) // 2, result
    return step


def _worker(impl: str, workloads: list, threads: int, conn) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    steps = {w: make_step(w, impl, threads) for w in workloads}
    conn.send(sorted(steps))
    while True:
        name = conn.recv()
        if name is None:
            break
        conn.send(time_step(steps[name], min_seconds=0.5, min_calls=3))
    conn.close()


def run(workloads, impls, rounds: int, threads: int = 0) -> dict:
    """{(workload, impl): median seconds per step}; every implementation in its own process."""
    ctx = mp.get_context("spawn")
    workers = {}
    for impl in impls:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(impl, list(workloads), threads, child), daemon=True)
        proc.start()
        workers[impl] = (proc, parent)
    for _, conn in workers.values():
        conn.recv()
    keys = [(w, i) for w in workloads for i in impls]
    samples = {key: [] for key in keys}
    for _ in range(rounds):
        random.shuffle(keys)
        for workload, impl in keys:
            time.sleep(PAUSE_S)
            conn = workers[impl][1]
            conn.send(workload)
            samples[(workload, impl)].append(conn.recv())
    for proc, conn in workers.values():
        conn.send(None)
        proc.join(timeout=30)
    return {key: statistics.median(v) for key, v in samples.items()}


def report(results: dict, workloads, impls) -> str:
    lines = [f"machine: {machine()}, load average {os.getloadavg()[0]:.1f} at the end"]
    for w in workloads:
        cells = [f"{i} {_fmt(results[(w, i)])}" for i in impls if (w, i) in results]
        line = f"{w}: " + ", ".join(cells)
        if (w, "tensorflow") in results:
            tf_time = results[(w, "tensorflow")]
            ratios = [f"{i}/TF {results[(w, i)] / tf_time:.2f}x" for i in impls if i != "tensorflow"]
            line += " (" + ", ".join(ratios) + ")"
        if w == "while-10k":
            per = [f"{i} {_fmt(results[(w, i)] / LOOP_ITERATIONS)}" for i in impls]
            line += "; per iteration: " + ", ".join(per)
        lines.append(line)
    return "\n".join(lines)


def profile(top: int = 25) -> None:
    """cProfile of one while-10k run on the local target, by own time."""
    import cProfile
    import pstats

    step = make_step("while-10k", "local")
    profiler = cProfile.Profile()
    profiler.enable()
    step()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workloads", nargs="*", default=["lstm-lm", "while-10k"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--impls", default=",".join(IMPLS))
    parser.add_argument("--threads", type=int, default=0, help="intra/inter-op threads for all (0: defaults)")
    parser.add_argument("--profile", action="store_true", help="profile one while-10k run and exit")
    args = parser.parse_args()
    if args.profile:
        profile()
        return
    impls = args.impls.split(",")
    print(report(run(args.workloads, impls, args.rounds, args.threads), args.workloads, impls))


if __name__ == "__main__":
    main()
