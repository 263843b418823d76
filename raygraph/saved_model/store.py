"""The files of a SavedModel export directory, and the checks made before any is used.

    export_dir/
        saved_model.json                  the meta graphs: tags, signatures, graph documents
        variables/variables.safetensors   the variables' values (raygraph.io's checkpoint format)
        manifest.json                     each file's size and SHA-256, and the format version

`saved_model.json` is {"format": "raygraph.saved_model", "version": 1,
"meta_graphs": [{"tags": [...], "signature_def": {key: SignatureDef as protobuf's
JSON mapping}, "graph": graph document (raygraph.saved_model.format)}, ...]}.

`read_export(export_dir)` verifies, in this order and before anything is built:
the manifest parses and names this format at a version this raygraph reads; every
file of the directory is listed in it and every listed file exists with that
size and SHA-256 (so an added, removed or altered file is refused); no file is a
pickle (refused by name even where its hash matches, since whoever swaps a file
can rewrite the manifest); `saved_model.json` parses as strict JSON (no duplicate
keys) at a version this raygraph reads. The hashes detect corruption and
accidental mixing of exports; safety comes from the formats: JSON and safetensors
only, read by parsers that run no code, and nothing here unpickles or evals.

Errors: OSError when there is no SavedModel at the path; DataLossError for a
corrupt, tampered or hostile file; InvalidArgumentError for a newer version.
"""

from __future__ import annotations

import hashlib
import json
import os

from raygraph import errors, io

FORMAT_NAME = "raygraph.saved_model"
FORMAT_VERSION = 1
"""The version this raygraph writes and the newest it reads."""

SAVED_MODEL_FILENAME = "saved_model.json"
MANIFEST_FILENAME = "manifest.json"
VARIABLES_DIRECTORY = "variables"
VARIABLES_FILENAME = "variables"
VARIABLES_PATH = f"{VARIABLES_DIRECTORY}/{VARIABLES_FILENAME}{io.CHECKPOINT_SUFFIX}"
MAX_JSON_BYTES = 1 << 30


def dumps(obj) -> bytes:
    """Canonical JSON bytes (sorted keys, no NaN), as every file here is written."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def write_export(export_dir: str, saved_model: dict, variables: dict) -> None:
    """Writes the three files (variables first, the manifest last, each atomically)."""
    os.makedirs(os.path.join(export_dir, VARIABLES_DIRECTORY), exist_ok=True)
    io.write_checkpoint(os.path.join(export_dir, VARIABLES_PATH), variables)
    with io.atomic_write(os.path.join(export_dir, SAVED_MODEL_FILENAME)) as f:
        f.write(dumps(saved_model))
    files = {}
    for rel in (SAVED_MODEL_FILENAME, VARIABLES_PATH):
        with open(os.path.join(export_dir, rel), "rb") as f:
            data = f.read()
        files[rel] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest = {"format": FORMAT_NAME + ".manifest", "version": FORMAT_VERSION, "files": files}
    with io.atomic_write(os.path.join(export_dir, MANIFEST_FILENAME)) as f:
        f.write(dumps(manifest))


def contains_saved_model(export_dir) -> bool:
    """Whether `export_dir` holds a raygraph SavedModel's files (nothing is read or checked)."""
    export_dir = os.fspath(export_dir)
    return os.path.isfile(os.path.join(export_dir, SAVED_MODEL_FILENAME)) and os.path.isfile(
        os.path.join(export_dir, MANIFEST_FILENAME)
    )


def _data_loss(path: str, what: str) -> errors.DataLossError:
    return errors.DataLossError(None, None, f"SavedModel file {path} is refused: {what}")


def looks_like_pickle(data: bytes) -> bool:
    """Whether `data` is laid out as a Python pickle rather than as JSON or safetensors.

    A pickle of protocol 2 or later starts with PROTO (0x80, version); protocols 0
    and 1 start with an opcode such as "(" or "c" and end with STOP ("."). A
    safetensors file (an 8-byte header length, then a JSON header) is not one.
    """
    if len(data) >= 9 and int.from_bytes(data[:8], "little") + 8 <= len(data) and data[8:9] == b"{":
        return False
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return True
    return len(data) >= 2 and data[:1] in (b"(", b"c", b"]", b"}", b"l", b"d") and data.endswith(b".")


def _parse_json(path: str, data: bytes):
    if looks_like_pickle(data):
        raise _data_loss(path, "it holds a Python pickle, which raygraph never loads (it can run any code)")
    try:
        return json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise _data_loss(path, f"not valid JSON: {e}") from None


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys {sorted({k for k in keys if keys.count(k) > 1})}")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _check_version(doc, path: str, name: str) -> None:
    if not isinstance(doc, dict) or doc.get("format") != name:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise _data_loss(path, f"format is {got!r}, not {name!r}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _data_loss(path, f"version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise errors.InvalidArgumentError(
            None,
            None,
            f"SavedModel file {path} has format version {version}, newer than version {FORMAT_VERSION} "
            "that this raygraph reads; upgrade raygraph to load it",
        )


def _listed_files(export_dir: str) -> set[str]:
    out = set()
    for root, dirs, files in os.walk(export_dir):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            out.add(os.path.relpath(os.path.join(root, name), export_dir).replace(os.sep, "/"))
    return out


def read_export(export_dir) -> tuple[dict, str]:
    """(the parsed saved_model.json, the variables file's path), both verified; see the module docstring."""
    export_dir = os.fspath(export_dir)
    manifest_path = os.path.join(export_dir, MANIFEST_FILENAME)
    if not os.path.isfile(os.path.join(export_dir, SAVED_MODEL_FILENAME)):
        raise OSError(
            f"SavedModel file does not exist at: {export_dir}{os.sep}{SAVED_MODEL_FILENAME} "
            "(raygraph reads the SavedModels it writes, not TensorFlow's saved_model.pb)"
        )
    if not os.path.isfile(manifest_path):
        raise _data_loss(manifest_path, "the manifest is missing, so the files cannot be verified")
    manifest = _parse_json(manifest_path, _read(manifest_path))
    _check_version(manifest, manifest_path, FORMAT_NAME + ".manifest")
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != {SAVED_MODEL_FILENAME, VARIABLES_PATH}:
        raise _data_loss(manifest_path, f"it must list exactly {[SAVED_MODEL_FILENAME, VARIABLES_PATH]}")
    extra = sorted(_listed_files(export_dir) - set(files) - {MANIFEST_FILENAME})
    if extra:
        raise _data_loss(os.path.join(export_dir, extra[0]), f"files not in the manifest: {extra[:10]}")
    contents = {}
    for rel, entry in sorted(files.items()):
        path = os.path.join(export_dir, rel)
        data = _read(path)
        if looks_like_pickle(data):
            raise _data_loss(
                path, "it holds a Python pickle, which raygraph never loads (it can run any code)"
            )
        digest = hashlib.sha256(data).hexdigest()
        if not isinstance(entry, dict) or entry.get("sha256") != digest or entry.get("size") != len(data):
            raise _data_loss(
                path, f"its SHA-256 {digest} (size {len(data)}) differs from the manifest's {entry!r}"
            )
        contents[rel] = data
    saved_model_path = os.path.join(export_dir, SAVED_MODEL_FILENAME)
    doc = _parse_json(saved_model_path, contents[SAVED_MODEL_FILENAME])
    _check_version(doc, saved_model_path, FORMAT_NAME)
    return doc, os.path.join(export_dir, VARIABLES_PATH)


def _read(path: str) -> bytes:
    if not os.path.isfile(path):
        raise _data_loss(path, "the file is missing (the manifest lists it)")
    if os.path.getsize(path) > MAX_JSON_BYTES * 16:
        raise _data_loss(path, "the file is too large")
    with open(path, "rb") as f:
        return f.read()
