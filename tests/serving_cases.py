"""What the serving tests share: a briefly trained digits CNN exported, and malformed requests.

`digits_export(base)` trains the CNN of examples/train_digits.py for a few steps in a
local session, exports it as `base/1` and returns a `DigitsExport`: the test images
and what Session.run computed for them on the original graph.

`malformed_request(i)` is the i-th of a cycle of bad requests (wrong shapes and dtypes,
missing and unknown inputs, garbage JSON, bodies over the limit, wrong tokens, wrong
routes, bad Arrow streams), each with the status class it must get: a `Request` that
the in-process test hands to ModelService and the HTTP tests send with `send`.
"""

from __future__ import annotations

import dataclasses
import http.client
import json

import numpy as np

import raygraph as tf

TOKEN = "test-token-0123"
MAX_BODY = 1024 * 1024  # the services under test refuse bodies over 1 MiB


@dataclasses.dataclass
class DigitsExport:
    base: str  # the model base path, holding version 1
    export_dir: str
    images: np.ndarray  # [N, 8, 8, 1] float32 test images
    probs: np.ndarray  # Session.run on the original graph
    classes: np.ndarray


def build_cnn():
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
    train = tf.train.AdamOptimizer(3e-3).minimize(loss)
    return images, labels, training, probs, classes, train


def digits_export(base, steps: int = 30, n_test: int = 64) -> DigitsExport:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int32)
    x_test = x[-n_test:]
    rng = np.random.default_rng(0)
    export_dir = f"{base}/1"
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        images, labels, training, probs, classes, train = build_cnn()
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(steps):
                batch = rng.integers(0, len(x) - n_test, 64)
                sess.run(train, {images: x[batch], labels: y[batch], training: True})
            p, c = sess.run([probs, classes], {images: x_test})
            tf.saved_model.simple_save(
                sess, export_dir, {"images": images}, {"probs": probs, "classes": classes}
            )
    return DigitsExport(str(base), export_dir, x_test, p, c)


@dataclasses.dataclass
class Request:
    """One HTTP request and the status class its answer must have (4 for any 4xx)."""

    method: str
    path: str  # after /v1/models/
    headers: dict
    body: bytes = b""
    declared_length: int | None = None  # a Content-Length over the limit, body never sent
    expect: int = 4
    what: str = ""


def _json(value) -> bytes:
    return json.dumps(value).encode()


def _arrow(columns: dict) -> bytes:
    import pyarrow as pa

    arrays = [
        pa.FixedShapeTensorArray.from_numpy_ndarray(v) if np.ndim(v) > 1 else pa.array(v)
        for v in columns.values()
    ]
    batch = pa.record_batch(arrays, names=list(columns))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def malformed_request(i: int, name: str = "digits") -> Request:
    """The i-th malformed request (a cycle of kinds, the values varying with i)."""
    rng = np.random.default_rng(i)
    n = int(rng.integers(1, 4))
    good = rng.random((n, 8, 8, 1)).astype(np.float32)
    auth = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    predict = f"{name}:predict"
    kinds = [
        ("shape: no channel", lambda: _json({"instances": good[..., 0].tolist()})),
        ("shape: 7 rows", lambda: _json({"instances": good[:, :7].tolist()})),
        ("shape: flat", lambda: _json({"inputs": {"images": good.reshape(-1).tolist()}})),
        ("dtype: strings", lambda: _json({"instances": [[["a"] * 8] * 8] * n})),
        ("dtype: bools", lambda: _json({"inputs": np.ones((n, 8, 8, 1), bool).tolist()})),
        ("dtype: objects", lambda: _json({"inputs": {"images": [{"x": 1}] * n}})),
        ("ragged", lambda: _json({"instances": [good[0].tolist(), good[0, :4].tolist()]})),
        ("missing input", lambda: _json({"inputs": {}})),
        ("missing input, rows", lambda: _json({"instances": [{"pixels": good[0].tolist()}]})),
        ("unknown input", lambda: _json({"inputs": {"images": good.tolist(), "extra": [1.0]}})),
        ("neither instances nor inputs", lambda: _json({"signature_name": "serving_default"})),
        ("both instances and inputs", lambda: _json({"instances": good.tolist(), "inputs": good.tolist()})),
        ("empty instances", lambda: _json({"instances": []})),
        ("unknown signature", lambda: _json({"signature_name": "nope", "instances": good.tolist()})),
        ("garbage bytes", lambda: rng.bytes(int(rng.integers(1, 200)))),
        ("truncated JSON", lambda: _json({"instances": good.tolist()})[: int(rng.integers(1, 40))]),
        ("JSON not an object", lambda: b"[1, 2, 3]"),
        ("deeply nested JSON", lambda: b"[" * 100_000 + b"]" * 100_000),
        ("not UTF-8", lambda: b'{"instances": "\xff\xfe"}'),
    ]
    other = [
        Request(
            "POST", predict, auth, _json({"instances": good.tolist()}) + b" " * MAX_BODY, what="huge body"
        ),
        Request("POST", predict, auth, declared_length=50 * MAX_BODY, what="huge declared body"),
        Request(
            "POST",
            predict,
            {**auth, "authorization": "Bearer wrong"},
            _json({"instances": good.tolist()}),
            what="wrong token",
        ),
        Request(
            "POST",
            predict,
            {"content-type": "application/json"},
            _json({"instances": good.tolist()}),
            what="no token",
        ),
        Request("GET", name, {"authorization": f"Basic {TOKEN}"}, what="wrong scheme"),
        Request("GET", "unknown-model", auth, what="unknown model"),
        Request("GET", f"{name}/versions/7", auth, what="unknown version"),
        Request("GET", predict, auth, what="GET :predict"),
        Request("POST", predict, {**auth, "content-type": "image/png"}, b"\x89PNG", what="content type"),
        Request(
            "POST",
            predict,
            {**auth, "content-type": "application/vnd.apache.arrow.stream"},
            rng.bytes(64),
            what="garbage Arrow",
        ),
        Request(
            "POST",
            predict,
            {**auth, "content-type": "application/vnd.apache.arrow.stream"},
            _arrow({"images": good.astype(np.int64)[..., 0]}),
            what="Arrow: wrong shape and dtype",
        ),
        Request(
            "POST",
            predict,
            {**auth, "content-type": "application/vnd.apache.arrow.stream"},
            _arrow({"pixels": good}),
            what="Arrow: unknown column",
        ),
    ]
    k = i % (len(kinds) + len(other))
    if k < len(kinds):
        what, body = kinds[k]
        return Request("POST", predict, auth, body(), what=what)
    return other[k - len(kinds)]


def good_request(images: np.ndarray, name: str = "digits") -> Request:
    auth = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
    return Request(
        "POST", f"{name}:predict", auth, _json({"instances": images.tolist()}), expect=2, what="good"
    )


def send(host: str, port: int, request: Request, timeout: float = 60.0) -> tuple[int, bytes]:
    """(status, body) of `request` sent over HTTP/1.1 to host:port/v1/models/..."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        path = "/v1/models/" + request.path
        if request.declared_length is not None:  # as curl does for a large body: ask first
            conn.putrequest(request.method, path)
            for k, v in request.headers.items():
                conn.putheader(k, v)
            conn.putheader("Content-Length", str(request.declared_length))
            conn.putheader("Expect", "100-continue")
            conn.endheaders()
        elif len(request.body) > 65536:  # chunked: the server stops reading at its limit, and answers
            chunks = (request.body[i : i + 65536] for i in range(0, len(request.body), 65536))
            conn.request(request.method, path, body=chunks, headers=request.headers, encode_chunked=True)
        else:
            conn.request(request.method, path, body=request.body or None, headers=request.headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
