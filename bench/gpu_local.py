"""GPU figures on the local target: a training step of an MLP on /gpu:0 (cupy) and on /cpu:0.

    python -m bench.gpu_local        (on a machine with cupy and a CUDA GPU)

Session("local") runs a GPU device's kernels with cupy in this process, so the
cupy path is measured without Ray. Prints one line per device: the median of
the step time over rounds, and the ratio GPU/CPU.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import raygraph as tf


def step_time(device: str, batch: int = 4096, width: int = 4096, steps: int = 20, rounds: int = 5) -> float:
    """Median seconds per `sess.run([train, loss])` of a 3-layer MLP placed on `device`."""
    tf.reset_default_graph()
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(batch, width)).astype(np.float32)
    ys = rng.integers(0, 10, size=batch).astype(np.int32)
    x = tf.placeholder(tf.float32, [None, width])
    y = tf.placeholder(tf.int32, [None])
    with tf.device(device):
        h = tf.layers.dense(x, width, activation=tf.nn.relu)
        h = tf.layers.dense(h, width, activation=tf.nn.relu)
        logits = tf.layers.dense(h, 10)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train = tf.train.AdamOptimizer(1e-3).minimize(loss)
    times = []
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run([train, loss], {x: xs, y: ys})  # compile kernels
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(steps):
                sess.run([train, loss], {x: xs, y: ys})
            times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def main() -> None:
    gpu = step_time("/gpu:0")
    cpu = step_time("/cpu:0", steps=2, rounds=3)
    print(
        f"mlp 4096x4096x4096 batch 4096, Adam: GPU {gpu * 1e3:.2f} ms/step, CPU {cpu * 1e3:.1f} ms/step, "
        f"GPU/CPU {gpu / cpu:.3f}x"
    )


if __name__ == "__main__":
    main()
