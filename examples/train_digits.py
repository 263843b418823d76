"""Train a small CNN on scikit-learn's handwritten digits, TensorFlow 1.x style.

The 1,797 8x8 digit images ship with scikit-learn (no download). The program is
an ordinary TF1 graph program on raygraph: placeholders, tf.layers, a loss, an
optimizer, a Saver, and a Python loop that drives Session.run. It runs the same
on a laptop and as a Ray job:

    python examples/train_digits.py
    ray job submit --working-dir . -- python examples/train_digits.py

With `--data parquet` the training images come from a Parquet file the program
writes first, read on the device by a tf.data pipeline (raygraph.data's
ParquetDataset, shuffled, batched and prefetched there) instead of a
feed_dict per step; the test set is still fed.

The last line printed is the test accuracy.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import raygraph as tf


def load_data(seed: int):
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]  # [N, 8, 8, 1] in [0, 1]
    return train_test_split(
        images, digits.target.astype(np.int32), test_size=0.2, random_state=seed, stratify=digits.target
    )


def write_parquet(path: str, images: np.ndarray, labels: np.ndarray) -> None:
    """The training set as a Parquet file: a 64-float `image` column and a `label` column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    flat = pa.array(images.reshape(-1).astype(np.float32))
    table = pa.table({"image": pa.FixedSizeListArray.from_arrays(flat, 64), "label": labels.astype(np.int32)})
    pq.write_table(table, path)


def parquet_batches(path: str, batch_size: int, epochs: int, seed: int):
    """(images, labels) tensors of the next training batch, read from the Parquet file on the device."""
    dataset = (
        tf.data.ParquetDataset(path, columns=["image", "label"], batch_size=256)
        .unbatch()
        .shuffle(4096, seed=seed)
        .map(lambda row: (tf.reshape(row["image"], [8, 8, 1]), row["label"]))
        .batch(batch_size)
        .repeat(epochs)
        .prefetch(2)
    )
    return dataset.make_one_shot_iterator().get_next()


def build_model(learning_rate: float, inputs=None):
    """The graph: returns the tensors and ops the training loop needs.

    `inputs`, (images, labels) tensors from a dataset, become the defaults of
    the images and labels placeholders, which a feed still overrides.
    """
    if inputs is None:
        images = tf.placeholder(tf.float32, [None, 8, 8, 1], name="images")
        labels = tf.placeholder(tf.int32, [None], name="labels")
    else:
        images = tf.placeholder_with_default(inputs[0], [None, 8, 8, 1], name="images")
        labels = tf.placeholder_with_default(inputs[1], [None], name="labels")
    training = tf.placeholder_with_default(False, [], name="training")

    net = tf.layers.conv2d(images, 16, 3, padding="same", activation=tf.nn.relu)
    net = tf.layers.max_pooling2d(net, 2, 2)  # 4x4x16
    net = tf.layers.conv2d(net, 32, 3, padding="same", activation=tf.nn.relu)
    net = tf.layers.max_pooling2d(net, 2, 2)  # 2x2x32
    net = tf.layers.flatten(net)
    net = tf.layers.dense(net, 128, activation=tf.nn.relu)
    net = tf.layers.dropout(net, rate=0.25, training=training)
    logits = tf.layers.dense(net, 10)

    loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    global_step = tf.train.get_or_create_global_step()
    train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
    correct = tf.equal(tf.argmax(logits, 1, output_type=tf.int32), labels)
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    return images, labels, training, loss, train_op, accuracy, global_step


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-dir", default=os.path.join(tempfile.gettempdir(), "raygraph-digits"))
    parser.add_argument(
        "--data",
        choices=("feed", "parquet"),
        default="feed",
        help="feed: a feed_dict per step; parquet: a tf.data pipeline over a Parquet file",
    )
    args = parser.parse_args(argv)

    x_train, x_test, y_train, y_test = load_data(args.seed)
    tf.set_random_seed(args.seed)
    inputs = None
    if args.data == "parquet":
        os.makedirs(args.checkpoint_dir, exist_ok=True)
        parquet_path = os.path.join(args.checkpoint_dir, "digits_train.parquet")
        write_parquet(parquet_path, x_train, y_train)
        inputs = parquet_batches(parquet_path, args.batch_size, args.epochs, args.seed)
    images, labels, training, loss, train_op, accuracy, global_step = build_model(args.learning_rate, inputs)
    saver = tf.train.Saver(max_to_keep=2)
    init = tf.global_variables_initializer()
    tf.get_default_graph().finalize()  # the loop below adds no ops

    rng = np.random.default_rng(args.seed)
    steps_per_epoch = int(np.ceil(len(x_train) / args.batch_size))
    start = time.time()
    with tf.Session() as sess:
        sess.run(init)
        with tqdm(total=args.epochs * steps_per_epoch, unit="step", mininterval=0.5) as bar:
            if inputs is not None:  # the dataset feeds the steps until its last epoch ends
                train_from_dataset(sess, train_op, loss, training, bar, steps_per_epoch)
            for epoch in range(args.epochs if inputs is None else 0):
                order = rng.permutation(len(x_train))
                for i in range(0, len(order), args.batch_size):
                    batch = order[i : i + args.batch_size]
                    feed = {images: x_train[batch], labels: y_train[batch], training: True}
                    _, batch_loss = sess.run([train_op, loss], feed)
                    bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{batch_loss:.3f}")
        path = saver.save(sess, os.path.join(args.checkpoint_dir, "model.ckpt"), global_step=global_step)
        test_accuracy = sess.run(accuracy, {images: x_test, labels: y_test})
    print(f"checkpoint: {path}")
    print(f"trained {args.epochs} epochs in {time.time() - start:.1f}s")
    print(f"test accuracy: {test_accuracy:.4f}")
    return float(test_accuracy)


def train_from_dataset(sess, train_op, loss, training, bar, steps_per_epoch: int) -> None:
    step = 0
    while True:
        try:
            _, batch_loss = sess.run([train_op, loss], {training: True})
        except tf.errors.OutOfRangeError:
            return
        step += 1
        bar.update(1)
        if step % steps_per_epoch == 0:
            bar.set_postfix(epoch=step // steps_per_epoch, loss=f"{batch_loss:.3f}")


if __name__ == "__main__":
    main()
