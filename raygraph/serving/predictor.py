"""Offline prediction from a SavedModel export, in this process, without Ray or Ray Serve.

    predictor = raygraph.serving.Predictor("export/1")
    predictor.signatures["serving_default"].inputs     # {"images": TensorSpec(float32, [?, 8, 8, 1])}
    probs = predictor.predict({"images": batch})["probs"]

The export is loaded once (tf.saved_model.loader.load, with all its checks) into a
`Session("local")` of its own graph; each signature's input and output tensors are
resolved once, so every `predict` is one `Session.run` over a cached plan.

Inputs are checked before they reach the graph, as a serving API must: a missing or
unknown input, a value that is not a rectangular array, a dtype that does not convert
without loss (a float for an int input, a string for a number, a bool for a float)
or a shape that does not match the signature's is an InvalidArgumentError naming the
input, the expected and the actual shape or dtype. `check_inputs` does only that.

`predict_many` runs several requests as one batch where it can (the Serve deployment
uses it under `serve.batch`): requests for the same signature whose inputs all have
an unknown first dimension, and whose other dimensions and dtypes agree, are
concatenated along dimension 0, run once, and the outputs split back by row count.
A run that fails is retried request by request, so one bad request fails alone.

State: the session and graph (read-only after load) and the signatures. `predict` may
be called from several threads (Session.run is thread-safe); `close` ends the session.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Mapping, Sequence

import numpy as np

from raygraph import errors
from raygraph.dtypes import DType
from raygraph.shapes import TensorShape, format_shape

DEFAULT_SIGNATURE = "serving_default"

__all__ = ["DEFAULT_SIGNATURE", "Predictor", "Signature", "TensorSpec", "resolve_export"]


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One input or output of a signature: the graph tensor's name, dtype and static shape."""

    tensor_name: str
    dtype: DType
    shape: TensorShape

    @property
    def batched(self) -> bool:
        """Whether dimension 0 exists and is unknown: rows of several requests may be stacked there."""
        dims = self.shape.dims
        return dims is not None and len(dims) >= 1 and self.shape.as_list()[0] is None

    def __str__(self) -> str:
        return f"{self.dtype.name} {format_shape(self.shape)}"


@dataclasses.dataclass(frozen=True)
class Signature:
    """A signature's method name and its {key: TensorSpec} inputs and outputs."""

    method_name: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]

    @property
    def batched(self) -> bool:
        """Whether every input and output has an unknown dimension 0 (requests can be concatenated)."""
        return all(spec.batched for spec in (*self.inputs.values(), *self.outputs.values()))


class Predictor:
    """A SavedModel export loaded for prediction: `predict({input: array}) -> {output: array}`.

    >>> predictor = Predictor("export/1")
    >>> predictor.predict({"x": [[1.0, 2.0]]})["y"]
    array([[...]], dtype=float32)

    `export_dir` holds a SavedModel (tf.saved_model.simple_save or SavedModelBuilder),
    or numbered versions of one (the highest is loaded; see `resolve_export`); the meta
    graph tagged `tags` is loaded. Signatures whose method is not Predict are
    kept too (their tensors are run the same way).
    """

    def __init__(self, export_dir, tags: Sequence[str] = ("serve",)):
        from raygraph.graph import Graph
        from raygraph.saved_model import loader
        from raygraph.session import Session

        self.export_dir, self.version, self.name = resolve_export(export_dir)
        self._session = Session("local", graph=Graph())
        try:
            meta = loader.load(self._session, list(tags), self.export_dir)
        except BaseException:
            self._session.close()
            raise
        graph = self._session.graph
        self.signatures: dict[str, Signature] = {}
        self.signature_defs = dict(meta.signature_def)  # the protos, for metadata answers
        self._fetch: dict[str, dict] = {}
        for key, sig in meta.signature_def.items():
            tensors = {
                "inputs": {k: graph.get_tensor_by_name(info.name) for k, info in sig.inputs.items()},
                "outputs": {k: graph.get_tensor_by_name(info.name) for k, info in sig.outputs.items()},
            }
            if not tensors["inputs"] or not tensors["outputs"]:
                continue  # an op-only signature (init or train op): nothing to predict with
            self._fetch[key] = tensors
            self.signatures[key] = Signature(
                sig.method_name,
                {k: TensorSpec(t.name, t.dtype, t.shape) for k, t in tensors["inputs"].items()},
                {k: TensorSpec(t.name, t.dtype, t.shape) for k, t in tensors["outputs"].items()},
            )

    def signature(self, signature_name: str | None = None) -> Signature:
        """The signature `signature_name` (default "serving_default"); InvalidArgumentError if absent."""
        key = signature_name or DEFAULT_SIGNATURE
        if key not in self.signatures:
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Serving signature name: {key!r} not found in signature def; "
                f"the model has {sorted(self.signatures)}",
            )
        return self.signatures[key]

    def check_inputs(self, inputs: Mapping, signature_name: str | None = None) -> dict[str, np.ndarray]:
        """`inputs` as arrays of the signature's dtypes, checked; InvalidArgumentError naming what is wrong."""
        signature = self.signature(signature_name)
        if not isinstance(inputs, Mapping):
            raise errors.InvalidArgumentError(
                None, None, f"inputs must be a mapping {{name: array}}, got {type(inputs).__name__}"
            )
        missing = [k for k in signature.inputs if k not in inputs]
        if missing:
            specs = ", ".join(f"{k!r} ({signature.inputs[k]})" for k in missing)
            raise errors.InvalidArgumentError(None, None, f"Missing input {specs}")
        unknown = [k for k in inputs if k not in signature.inputs]
        if unknown:
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Unknown input {unknown[0]!r}; the signature's inputs are {sorted(signature.inputs)}",
            )
        return {k: as_array(inputs[k], spec, k) for k, spec in signature.inputs.items()}

    def predict(self, inputs: Mapping, signature_name: str | None = None) -> dict[str, np.ndarray]:
        """Runs the signature on `inputs` ({input key: array-like}); returns {output key: array}."""
        checked = self.check_inputs(inputs, signature_name)
        return self._run(signature_name or DEFAULT_SIGNATURE, checked)

    def predict_many(self, requests: Sequence[tuple[str | None, Mapping]]) -> list:
        """Runs [(signature_name, checked inputs)...]; returns per request its outputs or the exception."""
        results: list = [None] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for i, (name, inputs) in enumerate(requests):
            key = name or DEFAULT_SIGNATURE
            if key in self.signatures and self.signatures[key].batched:
                group = (key, *((k, v.dtype.str, v.shape[1:]) for k, v in sorted(inputs.items())))
            else:
                group = (i,)  # runs alone
            groups.setdefault(group, []).append(i)
        for members in groups.values():
            if len(members) > 1:
                outputs = self._run_concatenated([requests[i] for i in members])
                if outputs is not None:
                    for i, out in zip(members, outputs):
                        results[i] = out
                    continue
            for i in members:
                name, inputs = requests[i]
                try:
                    results[i] = self._run(name or DEFAULT_SIGNATURE, self.check_inputs(inputs, name))
                except Exception as e:  # noqa: BLE001 - handed back to that request's caller
                    results[i] = e
        return results

    def _run(self, key: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tensors = self._fetch[key]
        feeds = {tensors["inputs"][k]: v for k, v in inputs.items()}
        return self._session.run(tensors["outputs"], feeds)

    def _run_concatenated(self, requests) -> list[dict] | None:
        """One run over the requests' rows, split back; None when it fails or an output is not per row."""
        key = requests[0][0] or DEFAULT_SIGNATURE
        rows = [len(next(iter(inputs.values()))) for _, inputs in requests]
        names = list(requests[0][1])
        stacked = {k: np.concatenate([inputs[k] for _, inputs in requests]) for k in names}
        try:
            outputs = self._run(key, stacked)
        except Exception:  # noqa: BLE001 - each request then runs alone and gets its own error
            return None
        total = sum(rows)
        if any(np.ndim(v) == 0 or len(v) != total for v in outputs.values()):
            return None
        bounds = np.cumsum(rows)[:-1]
        split = {k: np.split(v, bounds) for k, v in outputs.items()}
        return [{k: parts[j] for k, parts in split.items()} for j in range(len(requests))]

    def close(self) -> None:
        """Ends the session; the predictor cannot be used afterwards."""
        self._session.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def resolve_export(path) -> tuple[str, int, str]:
    """(SavedModel directory, version, model name) for an export directory or a base of versions.

    `path` holds a SavedModel (its version is its name when numeric, else 1), or, as
    TensorFlow Serving's model base path, numbered subdirectories: the highest is served.
    The model's name is the base directory's name.
    """
    from raygraph.saved_model import contains_saved_model

    path = os.path.abspath(os.fspath(path))
    base = os.path.basename(path.rstrip(os.sep))
    if contains_saved_model(path):
        if base.isdigit():
            return path, int(base), os.path.basename(os.path.dirname(path)) or "model"
        return path, 1, base or "model"
    versions = []
    if os.path.isdir(path):
        versions = [
            int(d) for d in os.listdir(path) if d.isdigit() and contains_saved_model(os.path.join(path, d))
        ]
    if not versions:
        raise OSError(f"No SavedModel in {path} (nor in numbered version subdirectories)")
    version = max(versions)
    return os.path.join(path, str(version)), version, base or "model"


def as_array(value, spec: TensorSpec, name: str) -> np.ndarray:
    """`value` (an array, nested lists from JSON, a scalar) as an array of `spec`'s dtype and shape."""
    expected = spec.dtype.np
    if spec.dtype.name == "string":
        array = _strings(value, name)
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError, RecursionError) as e:
            raise _bad(name, spec, f"a value that is not a rectangular array ({e})") from None
        if array.dtype == object:
            raise _bad(name, spec, f"a ragged or mixed value of shape {list(array.shape)}")
        array = _cast(array, expected, name, spec)
    if not spec.shape.is_compatible_with(TensorShape(array.shape)):
        raise errors.InvalidArgumentError(
            None,
            None,
            f"Input {name!r}: expected shape {format_shape(spec.shape)}, got shape {list(array.shape)}",
        )
    return array


def _cast(array: np.ndarray, expected: np.dtype, name: str, spec: TensorSpec) -> np.ndarray:
    """`array` as `expected` when nothing is lost: ints into floats, floats into narrower floats."""
    have, want = array.dtype.kind, expected.kind
    allowed = {"f": "fiu", "c": "fiuc", "i": "iu", "u": "iu", "b": "b"}.get(want, want)
    if have not in allowed:
        raise _bad(name, spec, f"dtype {_kind_name(array.dtype)}")
    if array.dtype == expected:
        return array
    cast = array.astype(expected)
    if want in "iu" and not np.array_equal(cast, array):
        raise _bad(name, spec, f"values out of range of {spec.dtype.name}")
    return cast


def _strings(value, name: str) -> np.ndarray:
    """A string input: str or bytes leaves, or {"b64": ...} objects as TensorFlow Serving sends them."""

    def leaf(v):
        if isinstance(v, list):
            return [leaf(x) for x in v]
        if isinstance(v, dict) and set(v) == {"b64"} and isinstance(v["b64"], str):
            try:
                return base64.b64decode(v["b64"], validate=True)
            except ValueError:
                raise errors.InvalidArgumentError(None, None, f"Input {name!r}: invalid base64") from None
        if isinstance(v, str):
            return v.encode()
        if isinstance(v, bytes):
            return v
        raise errors.InvalidArgumentError(
            None, None, f"Input {name!r}: expected string values, got {type(v).__name__}"
        )

    if isinstance(value, np.ndarray) and value.dtype.kind in "SUO":
        value = value.tolist()
    leaves = leaf(value)
    if not _rectangular(leaves):
        raise errors.InvalidArgumentError(None, None, f"Input {name!r}: a ragged value")
    array = np.empty(np.shape(leaves), dtype=object)
    array[...] = leaves
    return array


def _rectangular(v) -> bool:
    if not isinstance(v, list):
        return True
    if not v:
        return True
    shapes = {np.shape(x) if _rectangular(x) else None for x in v}
    return None not in shapes and len(shapes) == 1 and all(_rectangular(x) for x in v)


def _kind_name(dtype: np.dtype) -> str:
    return {"U": "string", "S": "bytes", "b": "bool"}.get(dtype.kind, dtype.name)


def _bad(name: str, spec: TensorSpec, what: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(
        None, None, f"Input {name!r}: expected {spec.dtype.name} {format_shape(spec.shape)}, got {what}"
    )
