"""Train, export, serve, query: the digits CNN as an HTTP service on Ray Serve.

    python examples/serve_digits.py            # inside ../shared/bin/loopback on a shared machine

1. trains a small CNN on scikit-learn's 8x8 digits for a few epochs (tf.Session());
2. exports it with tf.saved_model.simple_save to EXPORT/1;
3. serves EXPORT on Ray Serve (127.0.0.1:PORT, TensorFlow Serving's REST API), as
   `raygraph serve EXPORT --port PORT` would;
4. asks the service for the first test images with a plain HTTP client (urllib), and
   prints its predictions next to Session.run's;
5. shuts down what it started: Serve, and Ray if it started it.

The last line printed is the largest difference between the served probabilities
and Session.run's.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import urllib.request

import numpy as np
import ray
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import raygraph as tf
from raygraph import serving


def build_model():
    images = tf.placeholder(tf.float32, [None, 8, 8, 1], name="images")
    labels = tf.placeholder(tf.int32, [None], name="labels")
    training = tf.placeholder_with_default(False, [], name="training")
    net = tf.layers.conv2d(images, 16, 3, padding="same", activation=tf.nn.relu)
    net = tf.layers.max_pooling2d(net, 2, 2)
    net = tf.layers.conv2d(net, 32, 3, padding="same", activation=tf.nn.relu)
    net = tf.layers.max_pooling2d(net, 2, 2)
    net = tf.layers.flatten(net)
    net = tf.layers.dense(net, 128, activation=tf.nn.relu)
    net = tf.layers.dropout(net, rate=0.25, training=training)
    logits = tf.layers.dense(net, 10)
    probs = tf.nn.softmax(logits, name="probs")
    classes = tf.argmax(logits, 1, output_type=tf.int32, name="classes")
    loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    train_op = tf.train.AdamOptimizer(3e-3).minimize(loss)
    return images, labels, training, probs, classes, train_op


def train_and_export(export_dir: str, epochs: int, x_train, y_train, x_query):
    """Trains, exports to `export_dir`, and returns Session.run's (probs, classes) for `x_query`."""
    images, labels, training, probs, classes, train_op = build_model()
    rng = np.random.default_rng(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(epochs):
            order = rng.permutation(len(x_train))
            for i in range(0, len(order), 64):
                batch = order[i : i + 64]
                sess.run(train_op, {images: x_train[batch], labels: y_train[batch], training: True})
        expected = sess.run([probs, classes], {images: x_query})
        tf.saved_model.simple_save(sess, export_dir, {"images": images}, {"probs": probs, "classes": classes})
    return expected


def predict_over_http(url: str, x: np.ndarray, token: str | None) -> list[dict]:
    """POST {url}:predict with TensorFlow Serving's row format; returns the "predictions"."""
    body = json.dumps({"instances": x.tolist()}).encode()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url + ":predict", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["predictions"]


def _next_version(base: str) -> int:
    """1 + the highest numbered export under `base`: a run never overwrites an export."""
    existing = [int(d) for d in os.listdir(base) if d.isdigit()] if os.path.isdir(base) else []
    return max(existing, default=0) + 1


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--replica-cpus", type=float, default=1.0, help="Ray CPUs reserved per replica")
    parser.add_argument("--queries", type=int, default=10, help="test images to ask the service about")
    parser.add_argument("--token", default=None, help="bearer token the service requires (default: none)")
    parser.add_argument("--export-dir", default=os.path.join(tempfile.gettempdir(), "raygraph-serve-digits"))
    args = parser.parse_args(argv)

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target.astype(np.int32), test_size=0.2, random_state=0, stratify=digits.target
    )
    x_query = x_test[: args.queries]

    started_ray = not ray.is_initialized()
    try:
        version = _next_version(args.export_dir)
        probs, classes = train_and_export(
            os.path.join(args.export_dir, str(version)), args.epochs, x_train, y_train, x_query
        )
        url = serving.serve(
            args.export_dir,
            port=args.port,
            replicas=args.replicas,
            token=args.token,
            name="digits",
            num_cpus=args.replica_cpus,
        )
        print(f"serving {args.export_dir} at {url}")
        try:
            served = predict_over_http(url, x_query, args.token)
        finally:
            serving.shutdown()
    finally:
        if started_ray and ray.is_initialized():
            ray.shutdown()

    print(f"{'image':>5}  {'label':>5}  {'Session.run':>11}  {'served':>6}  {'max |dp|':>9}")
    worst = 0.0
    for i, answer in enumerate(served):
        diff = float(np.max(np.abs(np.asarray(answer["probs"], np.float32) - probs[i])))
        worst = max(worst, diff)
        print(f"{i:>5}  {y_test[i]:>5}  {classes[i]:>11}  {answer['classes']:>6}  {diff:>9.2e}")
    print(f"max difference between served and Session.run probabilities: {worst:.3e}")
    return worst


if __name__ == "__main__":
    main()
