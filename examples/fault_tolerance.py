"""Training that survives lost devices: a MonitoredTrainingSession, with device actors killed.

The model (an MLP on scikit-learn's digits) lives on two device actors: its
variables on CPU:1, its first layer on CPU:0. Its batch is chosen by the global
step, inside the graph, so a step replayed after a restore sees the same data.
While it trains, the program kills a device actor at the steps `--kill-at` names
(with ray.kill, as a crash or a lost node would). Each time the monitored session
logs one warning, starts the device again, restores every variable from the
latest checkpoint and carries on: the loop below sees no exception, and the
final weights are those of a run without kills.

    python examples/fault_tolerance.py
    python examples/fault_tolerance.py --kill-at 50,51,300 --checkpoint-dir /shared/ckpt
    ray job submit --working-dir . -- python examples/fault_tolerance.py --checkpoint-dir gs://bucket/ckpt

On a cluster, `--checkpoint-dir` must be storage the driver can reach after a
node is gone (a shared path or an fsspec URL). It prints the recoveries, the
global step reached and the test accuracy (the last line).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile

import numpy as np
import ray
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import raygraph as tf
from scheduler.shell import runtime

DEVICES = [f"/job:worker/replica:0/task:0/device:CPU:{i}" for i in range(2)]


def model(x_train, y_train, batch_size: int):
    """(train op, accuracy on fed images, the images and labels placeholders)."""
    step = tf.train.get_or_create_global_step()
    batches = len(x_train) // batch_size
    xs = tf.constant(x_train[: batches * batch_size].reshape(batches, batch_size, 64))
    ys = tf.constant(y_train[: batches * batch_size].reshape(batches, batch_size))
    index = tf.mod(step, batches)  # the batch is a function of the global step
    with tf.device("/cpu:1"):
        w1 = tf.get_variable("w1", [64, 128], initializer=tf.glorot_uniform_initializer(seed=1))
        b1 = tf.get_variable("b1", [128], initializer=tf.zeros_initializer())
        w2 = tf.get_variable("w2", [128, 10], initializer=tf.glorot_uniform_initializer(seed=2))
        b2 = tf.get_variable("b2", [10], initializer=tf.zeros_initializer())

    def logits(images):
        with tf.device("/cpu:0"):
            hidden = tf.nn.relu(tf.matmul(images, w1) + b1)
        return tf.matmul(hidden, w2) + b2

    loss = tf.losses.sparse_softmax_cross_entropy(tf.gather(ys, index), logits(tf.gather(xs, index)))
    train_op = tf.train.AdamOptimizer(3e-3).minimize(loss, global_step=step)
    images = tf.placeholder(tf.float32, [None, 64], name="images")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits(images), 1), labels), tf.float32))
    return train_op, accuracy, images, labels


class CountRecoveries(logging.Handler):
    """Counts (and lets through) the monitored session's recovery warnings."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        if "MonitoredSession: a run failed" in record.getMessage():
            self.count += 1


def kill_device(device: str) -> None:
    """Kills the device's actor (its Ray name is in scheduler.shell.runtime), wherever it runs."""
    ray.kill(ray.get_actor(runtime.actor_name(device)), no_restart=True)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--address", default=None, help="Ray cluster to join (default: this job's, or a local one)"
    )
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--kill-at", default="100,250", help="steps at which a device actor is killed")
    parser.add_argument("--checkpoint-every", type=int, default=20, help="steps between checkpoints")
    parser.add_argument("--checkpoint-dir", default=None, help="default: a new temporary directory")
    args = parser.parse_args(argv)
    if args.address:
        os.environ["RAY_ADDRESS"] = args.address  # what tf.Session() joins
    kill_at = {int(s) for s in args.kill_at.split(",") if s}
    checkpoint_dir = args.checkpoint_dir or tempfile.mkdtemp(prefix="fault-tolerance-")

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64), test_size=0.2, random_state=0
    )
    recoveries = CountRecoveries()
    tf.get_logger().addHandler(recoveries)
    train_op, accuracy, images, labels = model(x_train, y_train, args.batch_size)
    step = tf.train.get_global_step()
    with tf.train.MonitoredTrainingSession(
        checkpoint_dir=checkpoint_dir,
        save_checkpoint_steps=args.checkpoint_every,
        save_summaries_steps=0,
        log_step_count_steps=0,
        hooks=[tf.train.StopAtStepHook(last_step=args.steps)],
        config=tf.ConfigProto(device_count={"CPU": 2}),
    ) as sess:
        n, killed = 0, 0
        while not sess.should_stop():
            if n in kill_at:
                device = DEVICES[killed % 2]  # CPU:0, then CPU:1 (the variables' device), ...
                print(f"run {n}: killing {device}")
                kill_device(device)
                killed += 1
            sess.run(train_op)
            n += 1
        reached = sess.run(step)
        test_accuracy = float(sess.run(accuracy, {images: x_test, labels: y_test}))
    tf.get_logger().removeHandler(recoveries)
    print(f"{recoveries.count} recoveries; global step {reached} after {n} runs of the loop")
    print(f"test accuracy {test_accuracy:.3f}")
    return test_accuracy


if __name__ == "__main__":
    main()
