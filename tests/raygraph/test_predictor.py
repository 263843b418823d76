"""raygraph.serving without Ray: Predictor, the REST formats and the service, in this process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import raygraph as tf
from raygraph import errors
from raygraph.serving import Predictor, resolve_export
from raygraph.serving.service import HttpRequest, ModelService, ServiceConfig
from tests.serving_cases import TOKEN, _arrow, digits_export

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return digits_export(tmp_path_factory.mktemp("digits"), steps=10)


@pytest.fixture(scope="module")
def predictor(digits):
    with Predictor(digits.base) as p:
        yield p


def _two_input_export(path, scalar_output: bool = True):
    """x float32 [None, 3], k int32 [None]: y = x * k * 2 and, if asked, s = sum(x) (a scalar: not per row)."""
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        k = tf.placeholder(tf.int32, [None], name="k")
        w = tf.Variable(np.float32(2.0), name="w")
        y = x * tf.cast(k, tf.float32)[:, None] * w
        s = tf.reduce_sum(x)
        with tf.Session("local") as sess:
            sess.run(tf.global_variables_initializer())
            outputs = {"y": y, "s": s} if scalar_output else {"y": y}
            tf.saved_model.simple_save(sess, str(path), {"x": x, "k": k}, outputs)


def test_predictor_matches_session_run(digits, predictor):
    out = predictor.predict({"images": digits.images})
    np.testing.assert_allclose(out["probs"], digits.probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["classes"], digits.classes)
    assert out["probs"].dtype == np.float32 and out["classes"].dtype == np.int32
    assert (predictor.version, predictor.name) == (1, os.path.basename(digits.base))
    spec = predictor.signature().inputs["images"]
    assert (spec.dtype, spec.shape.as_list(), spec.batched) == (tf.float32, [None, 8, 8, 1], True)


def test_nested_lists_and_float64_are_accepted(digits, predictor):
    out = predictor.predict({"images": digits.images[:3].astype(np.float64).tolist()})
    np.testing.assert_allclose(out["probs"], digits.probs[:3], rtol=1e-5, atol=1e-6)


def test_predict_many_batches_and_splits(digits, predictor):
    parts = [digits.images[:1], digits.images[1:4], digits.images[4:9]]
    requests = [(None, predictor.check_inputs({"images": p})) for p in parts]
    results = predictor.predict_many(requests)
    np.testing.assert_allclose(
        np.concatenate([r["probs"] for r in results]), digits.probs[:9], rtol=1e-5, atol=1e-6
    )
    assert [len(r["classes"]) for r in results] == [1, 3, 5]


def test_a_bad_request_in_a_batch_fails_alone(tmp_path):
    _two_input_export(tmp_path / "m", scalar_output=False)
    p = Predictor(tmp_path / "m")
    assert p.signature().batched
    x = np.ones((2, 3), np.float32)
    good = (None, p.check_inputs({"x": x, "k": np.array([1, 2], np.int32)}))
    bad = (None, {"x": x, "k": np.array([1, 2, 3], np.int32)})  # rows disagree: the batched run fails
    results = p.predict_many([good, bad, good])
    assert isinstance(results[1], errors.InvalidArgumentError)
    np.testing.assert_allclose(results[0]["y"], [[2.0] * 3, [4.0] * 3])
    np.testing.assert_allclose(results[2]["y"], [[2.0] * 3, [4.0] * 3])


def test_outputs_not_per_row_run_each_request_alone(tmp_path):
    _two_input_export(tmp_path / "m")
    p = Predictor(tmp_path / "m")
    assert not p.signature().batched
    requests = [(None, p.check_inputs({"x": np.full((n, 3), n, np.float32), "k": [1] * n})) for n in (1, 2)]
    assert [r["s"] for r in p.predict_many(requests)] == [3.0, 12.0]


@pytest.mark.parametrize(
    "value, match",
    [
        (
            np.zeros((2, 8, 8), np.float32),
            r"Input 'images': expected shape \[\?, 8, 8, 1\], got shape \[2, 8, 8\]",
        ),
        (np.zeros((2, 8, 8, 1), np.bool_), r"expected float32 \[\?, 8, 8, 1\], got dtype bool"),
        ([[["a"] * 8] * 8], r"expected float32 \[\?, 8, 8, 1\], got dtype string"),
        ([[0.0] * 8, [0.0]], r"not a rectangular array|ragged"),
    ],
)
def test_bad_inputs_name_the_input_and_both_shapes_or_dtypes(predictor, value, match):
    with pytest.raises(errors.InvalidArgumentError, match=match):
        predictor.predict({"images": value})


def test_missing_unknown_inputs_and_signatures(predictor):
    with pytest.raises(
        errors.InvalidArgumentError, match=r"Missing input 'images' \(float32 \[\?, 8, 8, 1\]\)"
    ):
        predictor.predict({})
    with pytest.raises(errors.InvalidArgumentError, match="Unknown input 'pixels'"):
        predictor.predict({"images": np.zeros((1, 8, 8, 1), np.float32), "pixels": 1})
    with pytest.raises(errors.InvalidArgumentError, match="'nope' not found"):
        predictor.predict({"images": np.zeros((1, 8, 8, 1), np.float32)}, "nope")


def test_int_inputs_refuse_floats_and_out_of_range(tmp_path):
    _two_input_export(tmp_path / "m")
    p = Predictor(tmp_path / "m")
    x = np.ones((1, 3), np.float32)
    assert p.predict({"x": x, "k": [3]})["y"].tolist() == [[6.0] * 3]
    with pytest.raises(
        errors.InvalidArgumentError, match=r"Input 'k': expected int32 \[\?\], got dtype float64"
    ):
        p.predict({"x": x, "k": [1.5]})
    with pytest.raises(errors.InvalidArgumentError, match="out of range of int32"):
        p.predict({"x": x, "k": [2**40]})


def test_versions_directory_serves_the_highest(tmp_path):
    _two_input_export(tmp_path / "model" / "3")
    _two_input_export(tmp_path / "model" / "12")
    (tmp_path / "model" / "notes").mkdir()
    assert resolve_export(tmp_path / "model") == (str(tmp_path / "model" / "12"), 12, "model")
    with pytest.raises(OSError, match="No SavedModel"):
        resolve_export(tmp_path / "model" / "notes")


def test_loads_in_a_fresh_process(digits):
    """Nothing but raygraph.serving imported: the loader registers the built-in ops itself."""
    program = (
        "import numpy as np; from raygraph.serving import Predictor; "
        f"p = Predictor({digits.base!r}); "
        "print(p.predict({'images': np.zeros((2, 8, 8, 1), np.float32)})['classes'].shape)"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(2,)"


# The service in this process: routes, formats, token (the HTTP server is Ray Serve's; see tests/e2e).


def _call(service, method, path, body=b"", headers=None, token=TOKEN):
    headers = {"content-type": "application/json", **(headers or {})}
    if token:
        headers["authorization"] = f"Bearer {token}"
    reply = asyncio.run(service.handle(HttpRequest(method, path, headers, body)))
    return reply


@pytest.fixture(scope="module")
def service(predictor):
    return ModelService(predictor, ServiceConfig("digits", 1, token=TOKEN, max_body_bytes=1 << 20))


def test_status_and_metadata(service):
    reply = _call(service, "GET", "/v1/models/digits")
    assert reply.status == 200
    assert json.loads(reply.body)["model_version_status"][0] == {
        "version": "1",
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }
    meta = json.loads(_call(service, "GET", "/v1/models/digits/versions/1/metadata").body)
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    assert sig["inputs"]["images"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in sig["inputs"]["images"]["tensor_shape"]["dim"]] == ["-1", "8", "8", "1"]
    assert set(sig["outputs"]) == {"probs", "classes"}


def test_row_and_columnar_formats(digits, service):
    batch = digits.images[:4]
    rows = json.loads(
        _call(
            service, "POST", "/v1/models/digits:predict", json.dumps({"instances": batch.tolist()}).encode()
        ).body
    )
    np.testing.assert_allclose(
        [r["probs"] for r in rows["predictions"]], digits.probs[:4], rtol=1e-5, atol=1e-6
    )
    assert [r["classes"] for r in rows["predictions"]] == digits.classes[:4].tolist()
    named = {"instances": [{"images": im} for im in batch.tolist()], "signature_name": "serving_default"}
    assert (
        json.loads(_call(service, "POST", "/v1/models/digits:predict", json.dumps(named).encode()).body)
        == rows
    )
    cols = json.loads(
        _call(
            service, "POST", "/v1/models/digits:predict", json.dumps({"inputs": batch.tolist()}).encode()
        ).body
    )
    np.testing.assert_allclose(cols["outputs"]["probs"], digits.probs[:4], rtol=1e-5, atol=1e-6)
    assert cols["outputs"]["classes"] == digits.classes[:4].tolist()


def test_arrow_in_and_out(digits, service):
    import pyarrow as pa

    reply = _call(
        service,
        "POST",
        "/v1/models/digits:predict",
        _arrow({"images": digits.images}),
        {"content-type": "application/vnd.apache.arrow.stream"},
    )
    assert reply.status == 200 and reply.content_type == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(reply.body).read_all()
    np.testing.assert_allclose(
        table.column("probs").combine_chunks().to_numpy_ndarray(), digits.probs, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(table.column("classes").to_numpy(), digits.classes)


def test_errors_are_json_with_the_right_status(digits, service):
    bad = json.dumps({"instances": digits.images[:2, :, :, 0].tolist()}).encode()
    reply = _call(service, "POST", "/v1/models/digits:predict", bad)
    assert reply.status == 400
    assert json.loads(reply.body) == {
        "error": "Input 'images': expected shape [?, 8, 8, 1], got shape [2, 8, 8]"
    }
    assert _call(service, "GET", "/v1/models/digits", token=None).status == 401
    assert (
        _call(service, "GET", "/v1/models/digits", token="nope")
        .headers["WWW-Authenticate"]
        .startswith("Bearer")
    )
    assert _call(service, "GET", "/v1/models/other").status == 404
    assert _call(service, "DELETE", "/v1/models/digits").status == 405
    assert _call(service, "POST", "/v1/models/digits:predict", b" " * (2 << 20)).status == 413
    huge = {"content-length": str(1 << 30)}
    assert _call(service, "POST", "/v1/models/digits:predict", b"", huge).status == 413

    async def chunks():
        for _ in range(100):
            yield b" " * 65536

    reply = asyncio.run(
        service.handle(
            HttpRequest("POST", "/v1/models/digits:predict", {"authorization": f"Bearer {TOKEN}"}, chunks())
        )
    )
    assert reply.status == 413


def test_without_a_token_every_request_is_allowed(predictor):
    open_service = ModelService(predictor, ServiceConfig("digits"))
    assert _call(open_service, "GET", "/v1/models/digits", token=None).status == 200
