"""`raygraph serve EXPORT_DIR [--port 8501] [--replicas 1] [--host 127.0.0.1] [--token T]`.

Serves a SavedModel export over HTTP (TensorFlow Serving's REST API) on Ray Serve
(raygraph.serving). Ray and Serve are imported inside the handler, so `raygraph
--help` stays quick.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading

TOKEN_ENV = "RAYGRAPH_SERVE_TOKEN"


def add_serve(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a SavedModel export over HTTP (TensorFlow Serving's REST API) on Ray Serve",
        description="Serves a SavedModel export directory (or a base directory of numbered versions, "
        "the highest served) as an HTTP service on Ray Serve, speaking TensorFlow Serving's REST API: "
        "GET /v1/models/NAME, GET /v1/models/NAME/metadata, POST /v1/models/NAME:predict.",
    )
    parser.add_argument("export_dir", help="SavedModel directory, or a directory of numbered versions")
    parser.add_argument("--port", type=int, default=8501, help="HTTP port (default 8501)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    parser.add_argument(
        "--replicas", type=int, default=1, help="number of replicas, each a Ray actor (default 1)"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"bearer token every request must carry (default: ${TOKEN_ENV}; none: no check)",
    )
    parser.add_argument("--name", help="model name in the URLs (default: the export directory's name)")
    parser.add_argument("--tags", default="serve", help="comma-separated meta graph tags (default: serve)")
    parser.add_argument(
        "--max-batch-size", type=int, default=32, help="requests batched into one run (default 32)"
    )
    parser.add_argument(
        "--batch-wait-ms", type=float, default=2.0, help="how long a batch waits to fill, in ms (default 2)"
    )
    parser.add_argument(
        "--max-body-mb", type=float, default=64.0, help="largest request body in MiB (default 64)"
    )
    parser.add_argument("--num-cpus", type=float, default=1.0, help="CPUs reserved per replica (default 1)")
    parser.set_defaults(handler=run_serve, func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Starts the service, prints its URL, and serves until SIGINT or SIGTERM; then shuts Serve down."""
    import ray

    from raygraph.serving import deployment

    for name, value in (("--replicas", args.replicas), ("--max-batch-size", args.max_batch_size)):
        if value < 1:
            raise SystemExit(f"raygraph serve: {name} must be at least 1")
    started_ray = not ray.is_initialized()
    stop = threading.Event()
    try:
        url = deployment.serve(
            args.export_dir,
            port=args.port,
            host=args.host,
            replicas=args.replicas,
            token=args.token or None,
            name=args.name,
            tags=tuple(t for t in args.tags.split(",") if t),
            max_batch_size=args.max_batch_size,
            batch_wait_timeout_s=args.batch_wait_ms / 1000.0,
            max_body_bytes=int(args.max_body_mb * 1024 * 1024),
            num_cpus=args.num_cpus,
        )
        for sig in (signal.SIGINT, signal.SIGTERM):  # after ray.init, which installs its own
            signal.signal(sig, lambda *_: stop.set())
        print(f"raygraph serve: {url} ({args.replicas} replica(s); POST {url}:predict)", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        if ray.is_initialized():
            deployment.shutdown()
            if started_ray:
                ray.shutdown()
    return 0


def register(subparsers) -> None:
    """Adds `serve` to the `raygraph` command (raygraph.cli.COMMANDS)."""
    add_serve(subparsers)
