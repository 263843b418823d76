"""TensorFlow Serving's REST API, as data: request bodies to checked arrays, arrays to answers.

Pure functions, no HTTP server and no Ray; `raygraph.serving.service` puts them behind
routes. The formats (https://www.tensorflow.org/tfx/serving/api_rest):

- Predict, row format: `{"signature_name": ..., "instances": [row, ...]}`, each row the
  value of the only input or an object {input: value}; answered with
  `{"predictions": [row, ...]}`, each row the only output's value or {output: value}.
- Predict, columnar format: `{"inputs": value or {input: value}}`, answered with
  `{"outputs": value or {output: value}}`.
- String values are JSON strings, or `{"b64": "..."}` for bytes.
- Arrow (Content-Type `application/vnd.apache.arrow.stream`): an Arrow IPC stream of
  one table, a column per input, a row per instance; multi-dimensional values as
  `arrow.fixed_shape_tensor` columns. Answered in the same form, a column per output.
  The signature name may be given in the schema's metadata (`signature_name`).
- Status and metadata answers as TensorFlow Serving writes them.

Every malformed body is a `RestError` with its HTTP status (400 for what the client sent).
"""

from __future__ import annotations

import base64
import json

import numpy as np

from raygraph import errors
from raygraph.serving.predictor import Predictor, Signature

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON = "application/json"


class RestError(Exception):
    """An answer other than 200: the HTTP status and the message of its `{"error": ...}` body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> RestError:
    return RestError(400, message)


def parse_json_predict(body: bytes, predictor: Predictor) -> tuple[str | None, dict, bool]:
    """(signature_name, checked inputs, row format?) from a JSON predict body."""
    try:
        request = json.loads(body)
    except RecursionError:
        raise bad_request("JSON Parse error: the document is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise bad_request(f"JSON Parse error: {e}") from None
    if not isinstance(request, dict):
        raise bad_request("JSON Value: the request must be an object with 'instances' or 'inputs'")
    name = request.get("signature_name")
    if name is not None and not isinstance(name, str):
        raise bad_request("'signature_name' must be a string")
    has_rows, has_columns = "instances" in request, "inputs" in request
    if has_rows == has_columns:
        raise bad_request(
            "JSON Value: the request must have exactly one of 'instances' (row format) or 'inputs' (columnar format)"
        )
    signature = _signature(predictor, name)
    if has_rows:
        inputs = _rows_to_columns(request["instances"], signature)
    else:
        inputs = _columns(request["inputs"], signature)
    return name, _check(predictor, inputs, name), has_rows


def format_json_predict(outputs: dict[str, np.ndarray], signature: Signature, rows: bool) -> bytes:
    """The JSON answer to a predict request, in the format it came in."""
    single = len(signature.outputs) == 1
    if rows:
        values = {k: _jsonable(v) for k, v in outputs.items()}
        count = {len(v) if np.ndim(outputs[k]) else None for k, v in values.items()}
        if len(count) != 1 or None in count:
            raise RestError(
                400,
                "The row format needs every output batched along dimension 0 with the same size; "
                "use the columnar format ('inputs')",
            )
        if single:
            predictions = next(iter(values.values()))
        else:
            predictions = [{k: v[i] for k, v in values.items()} for i in range(count.pop())]
        return _dumps({"predictions": predictions})
    if single:
        return _dumps({"outputs": _jsonable(next(iter(outputs.values())))})
    return _dumps({"outputs": {k: _jsonable(v) for k, v in outputs.items()}})


def parse_arrow_predict(body: bytes, predictor: Predictor) -> tuple[str | None, dict]:
    """(signature_name, checked inputs) from an Arrow IPC stream body: a column per input."""
    import pyarrow as pa

    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
        table.validate(full=True)
    except (pa.ArrowException, ValueError, OSError) as e:
        raise bad_request(f"Arrow IPC stream: {e}") from None
    metadata = table.schema.metadata or {}
    name = metadata.get(b"signature_name")
    name = name.decode(errors="replace") if name is not None else None
    _signature(predictor, name)
    if len(set(table.column_names)) != len(table.column_names):
        raise bad_request(f"Arrow IPC stream: duplicate column names {table.column_names}")
    inputs = {
        key: _arrow_column_to_numpy(column, key) for key, column in zip(table.column_names, table.columns)
    }
    return name, _check(predictor, inputs, name)


def format_arrow_predict(outputs: dict[str, np.ndarray], signature_name: str | None) -> bytes:
    """An Arrow IPC stream of one record batch, a column per output (each batched along dimension 0)."""
    import pyarrow as pa

    columns, names = [], []
    for key, value in outputs.items():
        value = np.ascontiguousarray(value)
        if value.ndim == 0:
            raise RestError(400, f"Output {key!r} is a scalar; an Arrow answer needs a row per instance")
        if value.dtype == object:
            if value.ndim > 1:
                raise RestError(400, f"Output {key!r}: multi-dimensional strings are answered in JSON only")
            columns.append(pa.array([v if isinstance(v, bytes) else str(v).encode() for v in value]))
        elif value.ndim == 1:
            columns.append(pa.array(value))
        else:
            columns.append(pa.FixedShapeTensorArray.from_numpy_ndarray(value))
        names.append(key)
    metadata = {"signature_name": signature_name} if signature_name else None
    batch = pa.record_batch(columns, names=names, metadata=metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def status_body(version: int) -> bytes:
    """GET /v1/models/NAME: the one version this server holds, AVAILABLE."""
    return _dumps(
        {
            "model_version_status": [
                {
                    "version": str(version),
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }
    )


def metadata_body(predictor: Predictor, name: str, version: int) -> bytes:
    """GET /v1/models/NAME/metadata: the SignatureDefs, as TensorFlow Serving writes them."""
    from google.protobuf import json_format

    defs = {
        key: json_format.MessageToDict(sig, preserving_proto_field_name=True)
        for key, sig in predictor.signature_defs.items()
    }
    return _dumps(
        {
            "model_spec": {"name": name, "signature_name": "", "version": str(version)},
            "metadata": {"signature_def": {"signature_def": defs}},
        }
    )


def error_body(message: str) -> bytes:
    return _dumps({"error": message})


def _signature(predictor: Predictor, name: str | None) -> Signature:
    try:
        return predictor.signature(name)
    except errors.InvalidArgumentError as e:
        raise bad_request(e.message) from None


def _check(predictor: Predictor, inputs: dict, name: str | None) -> dict:
    try:
        return predictor.check_inputs(inputs, name)
    except errors.InvalidArgumentError as e:
        raise bad_request(e.message) from None


def _rows_to_columns(instances, signature: Signature) -> dict:
    """Row format: a list of instances, each the only input's value or an object {input: value}."""
    if not isinstance(instances, list) or not instances:
        raise bad_request("'instances' must be a non-empty list")
    keys = list(signature.inputs)
    named = all(isinstance(row, dict) and not _is_b64(row) for row in instances)
    if not named:
        if len(keys) != 1:
            raise bad_request(
                f"The signature has {len(keys)} inputs {keys}: each instance must be an object naming them"
            )
        return {keys[0]: instances}
    names = set(instances[0])
    if any(set(row) != names for row in instances):
        raise bad_request("Every instance must name the same inputs")
    return {k: [row[k] for row in instances] for k in names}


def _columns(inputs, signature: Signature) -> dict:
    """Columnar format: the only input's value, or an object {input: value}."""
    keys = list(signature.inputs)
    if isinstance(inputs, dict) and not _is_b64(inputs):
        return inputs
    if len(keys) != 1:
        raise bad_request(
            f"The signature has {len(keys)} inputs {keys}: 'inputs' must be an object naming them"
        )
    return {keys[0]: inputs}


def _is_b64(value) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _arrow_column_to_numpy(column, name: str) -> np.ndarray:
    import pyarrow as pa

    column = column.combine_chunks()
    if column.null_count:
        raise bad_request(f"Input {name!r}: null values in the Arrow column")
    if isinstance(column.type, pa.FixedShapeTensorType):
        return column.to_numpy_ndarray()
    if pa.types.is_binary(column.type) or pa.types.is_string(column.type):
        return np.array(column.to_pylist(), dtype=object)
    if (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_boolean(column.type)
    ):
        return column.to_numpy(zero_copy_only=False)
    raise bad_request(
        f"Input {name!r}: Arrow type {column.type} is not supported (numbers, strings, or arrow.fixed_shape_tensor)"
    )


def _jsonable(value):
    value = np.asarray(value)
    if value.dtype == object:
        return _strings_out(value.tolist())
    return value.tolist()


def _strings_out(v):
    if isinstance(v, list):
        return [_strings_out(x) for x in v]
    if isinstance(v, bytes):
        try:
            return v.decode()
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(v).decode()}
    return v


def _dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
