"""The HTTP service of one model, independent of the server that carries it.

    service = ModelService(predictor, ServiceConfig(name="digits", version=1, token="s3cret"))
    reply = await service.handle(HttpRequest("POST", "/v1/models/digits:predict", headers, body))

`handle` takes an `HttpRequest` (method, path, lower-cased headers, the body as bytes
or an async iterator of chunks) and returns an `HttpResponse`; it never raises. The
Ray Serve deployment (raygraph.serving.deployment) adapts Starlette's request and
response to these; tests call it directly, without Ray.

Routes (TensorFlow Serving's; VERSION may be given and must be the served one):
    GET  /v1/models/NAME[/versions/VERSION]             status
    GET  /v1/models/NAME[/versions/VERSION]/metadata    signatures
    POST /v1/models/NAME[/versions/VERSION]:predict     JSON or Arrow IPC

Order of checks, cheapest first, so that a hostile request costs little: the bearer
token (401; compared in constant time; every route needs it when one is set), the
route (404, 405), the declared Content-Length and then the bytes actually read,
stopping at `max_body_bytes` (413), the content type (415), the body (400). A
predict request whose inputs pass every check goes to `predict` (the batched path
in Serve); an InvalidArgumentError from the run is a 400, any other error a 500
whose body names only the error's type.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from raygraph import errors
from raygraph.serving import rest
from raygraph.serving.predictor import Predictor

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024

_ROUTE = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?(?P<tail>/metadata|:predict)?/?$"
)
_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ServiceConfig:
    """What a service answers to: the model's name and version, the token, the body limit."""

    name: str
    version: int = 1
    token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


@dataclasses.dataclass
class HttpRequest:
    """An HTTP request: headers' names lower-case; `body` bytes or an async iterator of chunks."""

    method: str
    path: str
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes | AsyncIterator[bytes] = b""


@dataclasses.dataclass
class HttpResponse:
    status: int
    body: bytes
    content_type: str = rest.JSON
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


PredictFn = Callable[[str | None, dict], Awaitable[dict]]


class ModelService:
    """TensorFlow Serving's REST API for one loaded model (see the module docstring)."""

    def __init__(self, predictor: Predictor, config: ServiceConfig, predict: PredictFn | None = None):
        self.predictor = predictor
        self.config = config
        self._predict = predict or self._predict_here
        self._token = config.token.encode() if config.token else None

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """The answer to `request`; every failure is an answer with an `{"error": ...}` body."""
        try:
            return await self._handle(request)
        except rest.RestError as e:
            return _error(e.status, e.message)
        except Exception as e:  # noqa: BLE001 - the service answers, whatever broke
            _log.exception("raygraph serve: request %s %s failed", request.method, request.path)
            return _error(500, f"Internal error: {type(e).__name__}")

    async def _handle(self, request: HttpRequest) -> HttpResponse:
        if not self._authorized(request.headers.get("authorization", "")):
            reply = _error(401, "Unauthorized: a valid 'Authorization: Bearer <token>' header is required")
            reply.headers["WWW-Authenticate"] = 'Bearer realm="raygraph"'
            return reply
        match = _ROUTE.match(request.path)
        if not match:
            raise rest.RestError(404, f"Malformed request: {request.method} {request.path}")
        self._check_model(match["name"], match["version"])
        tail = match["tail"]
        if tail == ":predict":
            if request.method != "POST":
                raise rest.RestError(405, f"{request.method} is not allowed for :predict; use POST")
            return await self._predict_route(request)
        if request.method != "GET":
            raise rest.RestError(405, f"{request.method} is not allowed here; use GET")
        if tail == "/metadata":
            return HttpResponse(
                200, rest.metadata_body(self.predictor, self.config.name, self.config.version)
            )
        return HttpResponse(200, rest.status_body(self.config.version))

    def _authorized(self, header: str) -> bool:
        if self._token is None:
            return True
        scheme, _, credentials = header.partition(" ")
        ok_scheme = scheme.lower() == "bearer"
        # compare_digest takes the same time whatever the credentials hold
        return hmac.compare_digest(credentials.strip().encode(errors="replace"), self._token) and ok_scheme

    def _check_model(self, name: str, version: str | None) -> None:
        if name != self.config.name:
            raise rest.RestError(404, f"Servable not found for request: Latest({name})")
        if version is not None and version != str(self.config.version):
            raise rest.RestError(404, f"Servable not found for request: Specific({name}, {version})")

    async def _predict_route(self, request: HttpRequest) -> HttpResponse:
        body = await self._read_body(request)
        content_type = request.headers.get("content-type", rest.JSON).split(";")[0].strip().lower()
        if content_type == rest.ARROW_STREAM:
            name, inputs = rest.parse_arrow_predict(body, self.predictor)
            outputs = await self._run(name, inputs)
            return HttpResponse(200, rest.format_arrow_predict(outputs, name), rest.ARROW_STREAM)
        if content_type not in (rest.JSON, "text/plain", "application/x-www-form-urlencoded", ""):
            raise rest.RestError(
                415, f"Unsupported Content-Type {content_type!r}: use {rest.JSON} or {rest.ARROW_STREAM}"
            )
        name, inputs, rows = rest.parse_json_predict(body, self.predictor)
        outputs = await self._run(name, inputs)
        return HttpResponse(200, rest.format_json_predict(outputs, self.predictor.signature(name), rows))

    async def _run(self, name: str | None, inputs: dict) -> dict:
        try:
            return await self._predict(name, inputs)
        except errors.InvalidArgumentError as e:
            raise rest.bad_request(e.message) from None

    async def _read_body(self, request: HttpRequest) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and not declared.strip().isdigit():
            raise rest.bad_request(f"Malformed Content-Length {declared!r}")
        if declared is not None and int(declared) > limit:
            raise rest.RestError(
                413, f"Request body of {declared} bytes is larger than the limit of {limit} bytes"
            )
        if isinstance(request.body, bytes | bytearray):
            chunks = [bytes(request.body)]
        else:
            chunks, size = [], 0
            async for chunk in request.body:
                size += len(chunk)
                if size > limit:
                    raise rest.RestError(413, f"Request body is larger than the limit of {limit} bytes")
                chunks.append(chunk)
        body = b"".join(chunks)
        if len(body) > limit:
            raise rest.RestError(413, f"Request body is larger than the limit of {limit} bytes")
        return body

    async def _predict_here(self, name: str | None, inputs: dict) -> dict:
        """Without Serve's batching: one run per request, off the event loop."""
        (result,) = await asyncio.to_thread(self.predictor.predict_many, [(name, inputs)])
        if isinstance(result, Exception):
            raise result
        return result


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, rest.error_body(message))
