"""The digits CNN, exported, predicts what Session.run predicts: served on Ray Serve, and through ONNX.

The tests that start Ray Serve are slow (`-m slow`); they share one deployment of two
replicas on the test session's Ray, shut down at the end of the module. Malformed
requests: a short run against the service in this process by default, 1,000 over HTTP
in a slow test; either way every one gets a 4xx and correct requests keep working.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import socket

import numpy as np
import pytest

from raygraph.serving import Predictor
from raygraph.serving.service import HttpRequest, ModelService, ServiceConfig
from tests.serving_cases import MAX_BODY, TOKEN, _arrow, digits_export, good_request, malformed_request, send

ARROW = "application/vnd.apache.arrow.stream"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return digits_export(tmp_path_factory.mktemp("export") / "digits", steps=30)


def _check_predictions(answer: dict, digits, rows: slice) -> None:
    probs = [p["probs"] for p in answer["predictions"]]
    np.testing.assert_allclose(probs, digits.probs[rows], rtol=1e-5, atol=1e-6)
    assert [p["classes"] for p in answer["predictions"]] == digits.classes[rows].tolist()


def test_onnx_matches_session_run(digits, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    import raygraph.onnx

    raygraph.onnx.export(digits.export_dir, tmp_path / "digits.onnx")
    session = ort.InferenceSession(str(tmp_path / "digits.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    got = dict(zip(names, session.run(None, {"images": digits.images})))
    np.testing.assert_allclose(got["probs"], digits.probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["classes"], digits.classes)


def _in_process(service: ModelService, request) -> tuple[int, bytes]:
    headers = dict(request.headers)
    if request.declared_length is not None:
        headers["content-length"] = str(request.declared_length)
    reply = asyncio.run(
        service.handle(HttpRequest(request.method, "/v1/models/" + request.path, headers, request.body))
    )
    return reply.status, reply.body


def _malformed_then_good(call, digits, count: int) -> dict:
    """Sends `count` malformed requests, a correct one after every tenth; returns {what: statuses}."""
    seen: dict[str, set] = {}
    for i in range(count):
        request = malformed_request(i)
        status, body = call(request)
        assert 400 <= status < 500, (request.what, status, body[:200])
        assert "error" in json.loads(body), request.what
        seen.setdefault(request.what, set()).add(status)
        if i % 10 == 9:
            rows = slice(i % 50, i % 50 + 3)
            status, body = call(good_request(digits.images[rows]))
            assert status == 200, body[:200]
            _check_predictions(json.loads(body), digits, rows)
    return seen


def test_malformed_requests_get_4xx_in_process(digits):
    with Predictor(digits.base) as predictor:
        service = ModelService(predictor, ServiceConfig("digits", 1, token=TOKEN, max_body_bytes=MAX_BODY))
        seen = _malformed_then_good(lambda r: _in_process(service, r), digits, 93)
    assert seen["wrong token"] == seen["no token"] == {401}
    assert seen["huge body"] == seen["huge declared body"] == {413}
    assert seen["unknown model"] == {404} and seen["content type"] == {415}
    assert seen["shape: no channel"] == seen["garbage bytes"] == seen["deeply nested JSON"] == {400}


# On Ray Serve.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(ray_cluster, digits):
    """Two replicas serving the digits export on 127.0.0.1:<free port>, shut down after the module."""
    from raygraph import serving

    port = _free_port()
    try:
        url = serving.serve(
            digits.base,
            port=port,
            replicas=2,
            token=TOKEN,
            max_body_bytes=MAX_BODY,
            num_cpus=0,
            name="digits",
        )
        assert url == f"http://127.0.0.1:{port}/v1/models/digits"
        yield port
    finally:
        serving.shutdown()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_served_predictions_match_session_run(served, digits):
    call = lambda r: send("127.0.0.1", served, r)  # noqa: E731
    status, body = call(good_request(digits.images))
    assert status == 200
    _check_predictions(json.loads(body), digits, slice(None))
    request = good_request(digits.images)
    request.body = json.dumps({"inputs": {"images": digits.images.tolist()}}).encode()
    outputs = json.loads(call(request)[1])["outputs"]
    np.testing.assert_allclose(outputs["probs"], digits.probs, rtol=1e-5, atol=1e-6)

    import pyarrow as pa

    request.body, request.headers = (
        _arrow({"images": digits.images}),
        {**request.headers, "content-type": ARROW},
    )
    status, body = call(request)
    assert status == 200
    table = pa.ipc.open_stream(body).read_all()
    np.testing.assert_allclose(
        table.column("probs").combine_chunks().to_numpy_ndarray(), digits.probs, rtol=1e-5, atol=1e-6
    )

    request = good_request(digits.images)
    request.method, request.path, request.body = "GET", "digits/metadata", b""
    status, body = call(request)
    sig = json.loads(body)["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert status == 200 and sig["inputs"]["images"]["dtype"] == "DT_FLOAT"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_concurrent_requests_all_answer_right(served, digits):
    def one(i):
        rows = slice(i % 60, i % 60 + 1 + i % 4)
        status, body = send("127.0.0.1", served, good_request(digits.images[rows]))
        assert status == 200, body[:200]
        _check_predictions(json.loads(body), digits, rows)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(160)))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_1000_malformed_requests_over_http(served, digits):
    seen = _malformed_then_good(lambda r: send("127.0.0.1", served, r), digits, 1000)
    assert seen["wrong token"] == {401} and seen["huge body"] == seen["huge declared body"] == {413}
    status, body = send("127.0.0.1", served, good_request(digits.images[:5]))
    assert status == 200
    _check_predictions(json.loads(body), digits, slice(0, 5))
