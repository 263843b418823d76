"""Data-parallel training on scikit-learn's digits: N replicas, one all-reduce per step.

The model is written once, for one shard of a batch; tf.parallel.DataParallel
builds a replica on each device, splits every batch between them, all-reduces
the gradients between the device actors and applies one identical update. The
same program runs on a laptop (N CPU devices on this machine) and on a Ray
cluster (the replicas spread over the nodes):

    python examples/data_parallel.py --replicas 2
    ray job submit --working-dir . -- python examples/data_parallel.py --replicas 4

It prints the devices, training samples/s and the test accuracy (the last line).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import raygraph as tf


def load_data(seed: int):
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)  # [N, 64] in [0, 1]
    return train_test_split(images, digits.target.astype(np.int64), test_size=0.2, random_state=seed)


def model_fn(images, labels):
    """One replica: the mean loss over its shard, and its logits."""
    net = tf.layers.dense(images, 256, tf.nn.relu, name="hidden1")
    net = tf.layers.dense(net, 256, tf.nn.relu, name="hidden2")
    logits = tf.layers.dense(net, 10, name="logits")
    return tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits), logits


def spread(device_names: list[str], n: int) -> list[str]:
    """n CPU devices, one per node before two on any node: CPU:0 of every task, then CPU:1..."""
    specs = [(tf.DeviceSpec.from_string(name), name) for name in device_names]
    cpus = sorted((s.device_index, s.task or 0, name) for s, name in specs if s.device_type == "CPU")
    if len(cpus) < n:
        raise SystemExit(f"--replicas {n}: the cluster offers {len(cpus)} CPU devices")
    return [name for _, _, name in cpus[:n]]


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--address", default=None, help="Ray cluster to join (default: this job's, or a local one)"
    )
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--batch-size", type=int, default=256, help="the whole batch, split between the replicas"
    )
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.address:
        os.environ["RAY_ADDRESS"] = args.address  # what tf.Session() joins

    x_train, x_test, y_train, y_test = load_data(args.seed)
    tf.set_random_seed(args.seed)
    config = tf.ConfigProto(device_count={"CPU": args.replicas}, intra_op_parallelism_threads=1)
    with tf.Session(config=config) as sess:  # the graph is built below, in the default graph
        devices = spread([d.name for d in sess.list_devices()], args.replicas)
        print("replicas on:", *devices, sep="\n  ")
        images = tf.placeholder(tf.float32, [None, 64], name="images")
        labels = tf.placeholder(tf.int64, [None], name="labels")
        dp = tf.parallel.DataParallel(model_fn, [images, labels], devices=devices)
        step = tf.train.get_or_create_global_step()
        train_op = dp.minimize(tf.train.AdamOptimizer(args.learning_rate), global_step=step)
        correct = tf.equal(tf.argmax(dp.outputs, 1), labels)
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
        sess.run(tf.global_variables_initializer())

        rng = np.random.default_rng(args.seed)
        samples, start = 0, time.perf_counter()
        for epoch in range(args.epochs):
            order = rng.permutation(len(x_train))
            for i in range(0, len(order), args.batch_size):
                rows = order[i : i + args.batch_size]
                sess.run(train_op, {images: x_train[rows], labels: y_train[rows]})
                samples += len(rows)
            if epoch % 5 == 4 or epoch == args.epochs - 1:
                loss = sess.run(dp.loss, {images: x_train, labels: y_train})
                print(f"epoch {epoch + 1}: loss {loss:.4f}")
        elapsed = time.perf_counter() - start
        print(f"{samples / elapsed:.0f} samples/s with {args.replicas} replicas (step {sess.run(step)})")
        test_accuracy = float(sess.run(accuracy, {images: x_test, labels: y_test}))
    print(f"test accuracy: {test_accuracy:.4f}")
    return test_accuracy


if __name__ == "__main__":
    main()
