"""`python -m bench.serve_load [--clients 32] [--duration 60] [--replicas 2]`: the served digits CNN under load.

A bounded load test on loopback. It starts a local Ray, exports the digits CNN of
examples/serve_digits.py (weights as initialized: the load does not depend on
them), serves it with `raygraph.serving.serve` (`--replicas` replicas, batching on),
and runs `--clients` concurrent clients for `--duration` seconds, each sending one
TensorFlow Serving predict request at a time (one 8x8 image, row format) over its own
keep-alive connection and checking the answer (HTTP 200, ten probabilities). Then
the same load against a trivial echo deployment on the same Serve (it reads the
body and answers a fixed JSON), which is Ray Serve's own overhead per request.

Reported per target: requests, failed requests, requests/s, latency p50/p99/max in
ms. The clients run in this process (asyncio, aiohttp), so on a small machine they
share the cores with the replicas and the proxy: the numbers are the system's, the
client included. Run it inside ../shared/bin/loopback; it shuts down what it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import tempfile
import time

import numpy as np

IMAGE = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8, 1)


def export_digits_cnn(base: str) -> str:
    """The digits CNN, initialized, exported to base/1."""
    import raygraph as tf

    with tf.Graph().as_default():
        tf.set_random_seed(0)
        images = tf.placeholder(tf.float32, [None, 8, 8, 1], name="images")
        net = tf.layers.conv2d(images, 16, 3, padding="same", activation=tf.nn.relu)
        net = tf.layers.max_pooling2d(net, 2, 2)
        net = tf.layers.conv2d(net, 32, 3, padding="same", activation=tf.nn.relu)
        net = tf.layers.max_pooling2d(net, 2, 2)
        net = tf.layers.flatten(net)
        net = tf.layers.dense(net, 128, activation=tf.nn.relu)
        probs = tf.nn.softmax(tf.layers.dense(net, 10), name="probs")
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            tf.saved_model.simple_save(sess, os.path.join(base, "1"), {"images": images}, {"probs": probs})
    return base


async def _client(
    session, url: str, body: bytes, deadline: float, latencies: list, failures: list, check
) -> None:
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        try:
            async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                payload = await response.read()
                ok = response.status == 200 and check(payload)
        except Exception as e:  # noqa: BLE001 - a failed request is counted, not raised
            failures.append(repr(e))
            continue
        if ok:
            latencies.append(time.perf_counter() - start)
        else:
            failures.append(f"HTTP {response.status}: {payload[:200]!r}")


async def _load(url: str, body: bytes, clients: int, duration: float, check) -> dict:
    import aiohttp

    latencies: list[float] = []
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        warm_end = time.perf_counter() + 3.0  # connections open, replicas warm
        await asyncio.gather(*(_client(session, url, body, warm_end, [], [], check) for _ in range(clients)))
        start = time.perf_counter()
        deadline = start + duration
        await asyncio.gather(
            *(_client(session, url, body, deadline, latencies, failures, check) for _ in range(clients))
        )
        elapsed = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000.0
    return {
        "requests": len(latencies) + len(failures),
        "failed": len(failures),
        "first_failures": failures[:5],
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
        "max_ms": round(float(ms.max()), 2) if len(ms) else None,
    }


def _probabilities(payload: bytes) -> bool:
    predictions = json.loads(payload)["predictions"]
    return len(predictions) == 1 and len(predictions[0]) == 10


def _echo_app():
    from ray import serve
    from starlette.responses import Response

    @serve.deployment(max_ongoing_requests=64)
    class Echo:
        async def __call__(self, request):
            await request.body()
            return Response(b'{"predictions":[0]}', media_type="application/json")

    return Echo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per target")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--batch-wait-ms", type=float, default=2.0)
    parser.add_argument("--skip-echo", action="store_true")
    args = parser.parse_args(argv)

    import ray
    from ray import serve

    from raygraph import serving
    from raygraph.serving import deployment

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    body = json.dumps({"instances": [IMAGE.tolist()]}).encode()
    port = _free_port()
    results = {"clients": args.clients, "duration_s": args.duration, "replicas": args.replicas}
    started_ray = not ray.is_initialized()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = export_digits_cnn(os.path.join(tmp, "digits"))
            url = serving.serve(
                base,
                port=port,
                replicas=args.replicas,
                max_batch_size=args.max_batch_size,
                batch_wait_timeout_s=args.batch_wait_ms / 1000.0,
            )
            results["model"] = asyncio.run(
                _load(url + ":predict", body, args.clients, args.duration, _probabilities)
            )
            if not args.skip_echo:  # in place of the model: the same replicas and CPUs
                serve.delete(deployment.APP_PREFIX + os.path.basename(base))
                echo = _echo_app().options(num_replicas=args.replicas).bind()
                serve.run(echo, name="echo", route_prefix="/echo", blocking=False)
                echo_url = f"http://127.0.0.1:{port}/echo"
                results["echo"] = asyncio.run(
                    _load(echo_url, body, args.clients, args.duration, lambda p: True)
                )
    finally:
        if ray.is_initialized():
            serving.shutdown()
            if started_ray:
                ray.shutdown()
    print(json.dumps(results, indent=2))
    print("| target | requests | failed | requests/s | p50 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for target in ("model", "echo"):
        if target in results:
            r = results[target]
            print(
                f"| {target} | {r['requests']} | {r['failed']} | {r['requests_per_s']} | {r['p50_ms']} "
                f"| {r['p99_ms']} | {r['max_ms']} |"
            )
    return results


if __name__ == "__main__":
    main()
