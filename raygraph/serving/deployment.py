"""The model on Ray Serve: replicas (Ray actors) answering TensorFlow Serving's REST API.

    url = raygraph.serving.serve("export/", port=8501, replicas=2, token=os.environ.get("TOKEN"))
    ...                                   # POST {url}:predict
    raygraph.serving.shutdown()

Each replica of `ModelDeployment` loads the export into its own `Predictor` (a local
session inside the replica's actor: the replica is the unit of parallelism) and wraps
it in a `ModelService`, which does all the HTTP work. Concurrent predict requests that
passed their checks meet in `serve.batch` (`max_batch_size`, `batch_wait_timeout_s`)
and run as one `Predictor.predict_many` on a worker thread, so the replica's event
loop goes on reading and checking requests meanwhile; one batch runs at a time.

`serve` starts Serve's HTTP proxy on `host` (127.0.0.1 unless told otherwise) and
`port`, joining the process's Ray cluster or starting a local one. Every replica
must see `export_dir` (one machine, a shared file system, or the same volume in each
container).

Needs the `serve` extra: `pip install 'raygraph[serve]'` (Ray Serve, Starlette).
"""

from __future__ import annotations

import asyncio

from ray import serve as ray_serve
from starlette.requests import Request
from starlette.responses import Response

from raygraph.serving.predictor import Predictor, resolve_export
from raygraph.serving.service import DEFAULT_MAX_BODY_BYTES, HttpRequest, ModelService, ServiceConfig

DEFAULT_PORT = 8501  # TensorFlow Serving's REST port
APP_PREFIX = "raygraph-"


@ray_serve.deployment(max_ongoing_requests=64, health_check_period_s=10)
class ModelDeployment:
    """One replica: a Predictor behind a ModelService, predict calls batched by Serve."""

    def __init__(
        self, export_dir: str, config: ServiceConfig, tags, max_batch_size: int, batch_wait_timeout_s: float
    ):
        self.service = ModelService(Predictor(export_dir, tags), config, predict=self._predict)
        self._batch.set_max_batch_size(max_batch_size)
        self._batch.set_batch_wait_timeout_s(batch_wait_timeout_s)

    async def _predict(self, name: str | None, inputs: dict) -> dict:
        result = await self._batch((name, inputs))
        if isinstance(result, Exception):
            raise result
        return result

    @ray_serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def _batch(self, requests: list) -> list:
        return await asyncio.to_thread(self.service.predictor.predict_many, requests)

    async def __call__(self, request: Request) -> Response:
        reply = await self.service.handle(
            HttpRequest(request.method, request.url.path, dict(request.headers), request.stream())
        )
        return Response(reply.body, reply.status, reply.headers, reply.content_type)

    def check_health(self) -> None:
        """Serve's health check: the model is loaded (a failed load never gets here)."""


def serve(
    export_dir,
    *,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    replicas: int = 1,
    token: str | None = None,
    name: str | None = None,
    tags=("serve",),
    max_batch_size: int = 32,
    batch_wait_timeout_s: float = 0.002,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    num_cpus: float = 1.0,
) -> str:
    """Serves the export on Ray Serve; returns the model's URL (http://HOST:PORT/v1/models/NAME).

    Returns once every replica has loaded the model. Serve stays up until `shutdown()`
    (or the Ray cluster ends). A bearer `token`, when given, is required on every route.
    """
    from scheduler.shell import runtime

    export_path, version, default_name = resolve_export(export_dir)
    name = name or default_name
    runtime.connect()
    ray_serve.start(http_options={"host": host, "port": port})
    config = ServiceConfig(name=name, version=version, token=token, max_body_bytes=max_body_bytes)
    app = ModelDeployment.options(
        name=name,
        num_replicas=replicas,
        ray_actor_options={"num_cpus": num_cpus},
        max_ongoing_requests=max(64, 2 * max_batch_size),
    ).bind(export_path, config, tuple(tags), max_batch_size, batch_wait_timeout_s)
    ray_serve.run(app, name=APP_PREFIX + name, route_prefix="/", blocking=False)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1/models/{name}"


def shutdown() -> None:
    """Shuts Serve down on this Ray cluster (its proxy, controller and every application)."""
    ray_serve.shutdown()
