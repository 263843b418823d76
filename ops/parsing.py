"""Parsing ops: tf.train.Example and SequenceExample protos, raw bytes (DecodeRaw) and CSV (DecodeCSV).

String tensors hold numpy object arrays of `bytes`; these kernels read them on the
host and return numpy arrays (numeric outputs moved to the device's array module).

ParseExample parses serialized `tf.train.Example`s, a vector of them
(`tf.parse_example`) or one scalar (`tf.parse_single_example`), into the tensors a
feature spec asks for:

    features = tf.parse_example(serialized, {
        "label": tf.FixedLenFeature([], tf.int64, default_value=0),   # [batch]
        "pixels": tf.FixedLenFeature([4], tf.float32),                # [batch, 4]
        "words": tf.VarLenFeature(tf.string),                         # SparseTensor [batch, ?]
        "frames": tf.FixedLenSequenceFeature([2], tf.float32, allow_missing=True),  # [batch, ?, 2]
    })

The op's attrs name the keys, dtypes and shapes (static, as in TensorFlow); the
dense defaults are inputs. As in TF's ParseExampleV2, a dense shape whose first
dimension is -1 is a sequence feature: its values fill rows of the other
dimensions, padded to the longest example with the (scalar) default. The outputs
are the sparse features' indices, values and dense shapes, then the dense values.

ParseSingleSequenceExample parses one SequenceExample: its context as
parse_single_example would, and each feature list into [steps, *shape] (a
FixedLenSequenceFeature: one Feature per step) or a SparseTensor [steps, ?].

Errors are InvalidArgumentError at run time, naming the key and the example: a
required feature missing, a value list of the wrong type or length, a string that
is not an Example. Wrong specs (an unknown dtype, an incomplete shape) are
ValueError when the graph is built.

`SparseTensor` here is a plain named tuple (indices, values, dense_shape) of
tensors, what VarLenFeature returns until raygraph has a SparseTensor class of its
own; Session.run returns it with arrays in place of the tensors.
"""

from __future__ import annotations

import csv
from typing import NamedTuple

import numpy as np

from ops.registry import Op, api_function, build
from raygraph import dtypes, errors
from raygraph.example import Example, SequenceExample
from raygraph.graph import Tensor, convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, as_shape, format_shape

_KIND_OF_DTYPE = {"float32": "float_list", "int64": "int64_list", "string": "bytes_list"}
_PARSABLE = "float32, int64 or string"


class SparseTensor(NamedTuple):
    """A sparse tensor as three tensors: int64 indices [n, rank], values [n], int64 dense_shape [rank]."""

    indices: Tensor
    values: Tensor
    dense_shape: Tensor

    @property
    def dtype(self):
        return self.values.dtype


# -- feature specs --------------------------------------------------------------------------


@api_function("FixedLenFeature", "io.FixedLenFeature")
class FixedLenFeature(NamedTuple):
    """A feature with a fixed number of values: parsed to a dense tensor of `shape`.

    >>> tf.FixedLenFeature([3], tf.float32, default_value=[0.0, 0.0, 0.0])

    Without `default_value` an example lacking the feature is an error.
    """

    shape: object
    dtype: object
    default_value: object = None


@api_function("FixedLenSequenceFeature", "io.FixedLenSequenceFeature")
class FixedLenSequenceFeature(NamedTuple):
    """A feature with any number of `shape`-sized rows: parsed to [batch, rows, *shape].

    >>> tf.FixedLenSequenceFeature([2], tf.float32, allow_missing=True, default_value=-1.0)

    Examples with fewer rows are padded with the scalar `default_value` (0 or b"").
    parse_example needs `allow_missing=True` (an example may lack it).
    """

    shape: object
    dtype: object
    allow_missing: bool = False
    default_value: object = None


@api_function("VarLenFeature", "io.VarLenFeature")
class VarLenFeature(NamedTuple):
    """A feature with any number of values: parsed to a SparseTensor [batch, longest].

    >>> tf.VarLenFeature(tf.string)
    """

    dtype: object


# -- ParseExample --------------------------------------------------------------------------


def _is_sequence(shape: tuple) -> bool:
    return len(shape) > 0 and shape[0] == -1


class ParseExample(Op):
    """Parses serialized tf.train.Example protos into sparse and dense tensors (see the module)."""

    inputs = ("serialized", "names", "dense_defaults*")
    attrs = {"sparse_keys": (), "sparse_types": (), "dense_keys": (), "dense_types": (), "dense_shapes": ()}
    multi_output = True
    differentiable = False

    def infer(
        serialized, names, dense_defaults, sparse_keys, sparse_types, dense_keys, dense_types, dense_shapes
    ):
        if serialized.dtype != dtypes.string:
            raise TypeError(f"serialized must be a string tensor, got {serialized.dtype.name}")
        rank = serialized.shape.ndims
        if rank not in (None, 0, 1):
            raise ValueError(
                f"serialized must be a scalar or a vector, got shape {format_shape(serialized.shape)}"
            )
        batch = [] if rank == 0 else [serialized.shape.dims[0] if rank else None]
        for default, dtype, shape, key in zip(dense_defaults, dense_types, dense_shapes, dense_keys):
            _check_default(default, dtype, shape, key)
        ndims = len(batch) + 1
        sparse = [(dtypes.int64, [None, ndims]) for _ in sparse_keys]
        sparse += [(dtype, [None]) for dtype in sparse_types]
        sparse += [(dtypes.int64, [ndims]) for _ in sparse_keys]
        dense = [
            (dtype, batch + ([None, *shape[1:]] if _is_sequence(shape) else list(shape)))
            for dtype, shape in zip(dense_types, dense_shapes)
        ]
        return sparse + dense

    def kernel(
        xp,
        serialized,
        names,
        dense_defaults,
        sparse_keys,
        sparse_types,
        dense_keys,
        dense_types,
        dense_shapes,
    ):
        serialized, names = _strings(serialized), _strings(names)
        single = serialized.ndim == 0
        labels = [_example_name(names, i, single) for i in range(serialized.size)]
        maps = [
            _parse_proto(Example, s, labels[i], i).features.feature for i, s in enumerate(serialized.flat)
        ]
        sparse = [_sparse(maps, labels, key, dtype, single) for key, dtype in zip(sparse_keys, sparse_types)]
        dense = [
            _dense(maps, labels, key, dtype, tuple(shape), np.asarray(default), single)
            for key, dtype, shape, default in zip(dense_keys, dense_types, dense_shapes, dense_defaults)
        ]
        return _on_device(
            xp, [s[0] for s in sparse] + [s[1] for s in sparse] + [s[2] for s in sparse] + dense
        )


def _on_device(xp, outputs: list) -> list:
    """Numeric outputs in the device's array module; string (object) arrays stay numpy."""
    return [out if out.dtype == object else xp.asarray(out) for out in outputs]


def _strings(value) -> np.ndarray:
    """A string tensor's value as an object array (a scalar may arrive as a bare bytes object)."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return value
    if isinstance(value, np.ndarray):
        return value.astype(object)
    out = np.empty((), object)
    out[()] = value
    return out


def _check_default(default: Tensor, dtype, shape: tuple, key: str) -> None:
    if default.dtype != dtype:
        raise TypeError(f"the default of feature {key!r} is {default.dtype.name}, expected {dtype.name}")
    dims = default.shape.dims
    if dims is None or dims == (0,):
        return
    expected = () if _is_sequence(shape) else tuple(shape)
    if tuple(dims) != expected and not (None in dims and len(dims) == len(expected)):
        raise ValueError(
            f"the default of feature {key!r} has shape {format_shape(default.shape)}, "
            f"expected {format_shape(TensorShape(list(expected)))}"
        )


def _example_name(names: np.ndarray, i: int, single: bool) -> str:
    if names.size:
        name = names.reshape(-1)[0 if single else i]
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
    return "<unknown>"


def _invalid(message: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(None, None, message)


def _parse_proto(message_class, data, name: str, index: int):
    if not isinstance(data, bytes):
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        return message_class.FromString(data)
    except Exception as e:  # protobuf's DecodeError, or a message of another type
        raise _invalid(f"Could not parse example input {index} (name: {name}): {e}") from None


def _values(feature_map, label: str, index: int, key: str, dtype) -> np.ndarray | None:
    """The feature's values as an array of `dtype`, or None when the map {key: Feature} lacks it."""
    if key not in feature_map:
        return None
    feature = feature_map[key]
    kind = feature.WhichOneof("kind")
    expected = _KIND_OF_DTYPE[dtype.name]
    if kind is None:  # a Feature with no list: empty, of any type
        return np.empty(0, dtype.np)
    if kind != expected:
        raise _invalid(
            f"Name: {label}, Key: {key}, Index: {index}.  Data types don't match. "
            f"Data type: {kind.split('_')[0]} but expected type: {expected.split('_')[0]}"
        )
    values = getattr(feature, kind).value
    if dtype == dtypes.string:
        out = np.empty(len(values), object)
        out[:] = list(values)
        return out
    return np.asarray(values, dtype.np)


def _sparse(feature_maps: list, labels: list, key: str, dtype, single: bool) -> tuple:
    indices, values, longest = [], [], 0
    for i, feature_map in enumerate(feature_maps):
        found = _values(feature_map, labels[i], i, key, dtype)
        if found is None or not found.size:
            continue
        longest = max(longest, found.size)
        positions = np.arange(found.size, dtype=np.int64)
        rows = positions[:, None] if single else np.stack([np.full_like(positions, i), positions], axis=1)
        indices.append(rows)
        values.append(found)
    ndims = 1 if single else 2
    index_array = np.concatenate(indices) if indices else np.empty((0, ndims), np.int64)
    value_array = np.concatenate(values) if values else np.empty(0, dtype.np)
    shape = [longest] if single else [len(feature_maps), longest]
    return index_array, value_array, np.array(shape, np.int64)


def _dense(feature_maps: list, labels: list, key: str, dtype, shape: tuple, default, single: bool):
    if _is_sequence(shape):
        return _dense_sequence(feature_maps, labels, key, dtype, shape, default, single)
    size = int(np.prod(shape))
    rows = []
    for i, feature_map in enumerate(feature_maps):
        found = _values(feature_map, labels[i], i, key, dtype)
        if found is None:
            if default.size == 0:
                raise _invalid(
                    f"Name: {labels[i]}, Feature: {key} (data type: {dtype.name}) is required but could not be found."
                )
            found = default.reshape(-1)
        elif found.size != size:
            raise _invalid(
                f"Name: {labels[i]}, Key: {key}, Index: {i}.  Number of {dtype.name} values != expected.  "
                f"Values size: {found.size} but output shape: {list(shape)}"
            )
        rows.append(found.reshape(shape))
    if single:
        return rows[0]
    return np.stack(rows) if rows else np.empty((0, *shape), dtype.np)


def _dense_sequence(feature_maps: list, labels: list, key: str, dtype, shape: tuple, default, single: bool):
    row_shape = shape[1:]
    stride = int(np.prod(row_shape))
    blocks = []
    for i, feature_map in enumerate(feature_maps):
        found = _values(feature_map, labels[i], i, key, dtype)
        found = np.empty(0, dtype.np) if found is None else found
        if (found.size % stride if stride else found.size) != 0:
            raise _invalid(
                f"Name: {labels[i]}, Key: {key}, Index: {i}.  Number of {dtype.name} values is not a multiple "
                f"of stride length. Saw {found.size} values but output shape is: {list(row_shape)}"
            )
        blocks.append(found.reshape((found.size // stride if stride else 0, *row_shape)))
    longest = max((len(b) for b in blocks), default=0)
    pad = default.reshape(()) if default.size else np.array(b"" if dtype == dtypes.string else 0, dtype.np)
    out = np.empty((len(blocks), longest, *row_shape), dtype.np)
    out[...] = pad
    for i, block in enumerate(blocks):
        out[i, : len(block)] = block
    return out[0] if single else out


# -- the public functions --------------------------------------------------------------------


def _parse_dtype(dtype, key: str):
    dtype = dtypes.as_dtype(dtype)
    if dtype.name not in _KIND_OF_DTYPE:
        raise ValueError(f"Feature {key!r} has dtype {dtype.name}; features hold {_PARSABLE}")
    return dtype


def _spec_shape(shape, key: str) -> list:
    if shape is None:
        raise ValueError(f"Missing shape for feature {key}")
    dims = as_shape(shape).dims
    if dims is None:
        raise ValueError(f"Feature {key!r} needs a shape of known rank")
    return list(dims)


def _default_tensor(value, dtype, shape: list, key: str, sequence: bool) -> Tensor:
    """The feature's default as a tensor: its shape (or a scalar pad for sequences), or empty for none."""
    if isinstance(value, Tensor):
        return value
    if value is None:
        if sequence:
            value = b"" if dtype == dtypes.string else 0
        else:
            return convert_to_tensor(np.empty(0, dtype.np), name=f"key_{_clean(key)}")
    array = np.asarray(value, dtype.np) if dtype != dtypes.string else _bytes_array(value)
    target = () if sequence else tuple(shape)
    if array.size != int(np.prod(target)):
        raise ValueError(
            f"The default_value of feature {key!r} has {array.size} values, but its shape {list(target)} "
            f"holds {int(np.prod(target))}"
        )
    return convert_to_tensor(array.reshape(target), name=f"{'padding' if sequence else 'key'}_{_clean(key)}")


def _bytes_array(value) -> np.ndarray:
    array = np.asarray(value, object)
    flat = [v.encode("utf-8") if isinstance(v, str) else v for v in array.reshape(-1)]
    out = np.empty(len(flat), object)
    out[:] = flat
    return out.reshape(array.shape)


def _clean(key: str) -> str:
    return "".join(c if c.isalnum() or c in "_.-/" else "_" for c in key)


class _Specs:
    """A feature dict split as the ops take it: sparse keys and types, dense keys, types, shapes, defaults."""

    def __init__(self, features: dict, allowed: tuple, sequence_list: bool = False):
        self.sparse_keys, self.sparse_types = [], []
        self.dense_keys, self.dense_types, self.dense_shapes, self.defaults = [], [], [], []
        self.missing_assumed_empty = []
        for key in sorted(features):
            spec = features[key]
            if not isinstance(spec, allowed):
                raise ValueError(f"Invalid feature {key}:{spec}.")
            if isinstance(spec, VarLenFeature):
                self.sparse_keys.append(key)
                self.sparse_types.append(_parse_dtype(spec.dtype, key))
            else:
                self._add_dense(key, spec, sequence_list)

    def _add_dense(self, key: str, spec, sequence_list: bool) -> None:
        dtype = _parse_dtype(spec.dtype, key)
        shape = _spec_shape(spec.shape, key)
        sequence = isinstance(spec, FixedLenSequenceFeature)
        if sequence and not spec.allow_missing and not sequence_list:
            raise ValueError("Unsupported: FixedLenSequenceFeature requires allow_missing to be True.")
        if any(d is None for d in shape) and not (sequence and not sequence_list):
            raise ValueError(
                f"All dimensions of shape for feature {key} need to be known but received {shape}."
            )
        self.dense_keys.append(key)
        self.dense_types.append(dtype)
        if sequence_list:  # a feature list: one step of `shape` per Feature
            self.dense_shapes.append(tuple(shape))
            if spec.allow_missing:
                self.missing_assumed_empty.append(key)
            return
        self.dense_shapes.append(tuple([-1, *shape] if sequence else shape))
        self.defaults.append(_default_tensor(spec.default_value, dtype, shape, key, sequence))

    def attrs(self, prefix: str = "") -> dict:
        return {
            f"{prefix}sparse_keys": tuple(self.sparse_keys),
            f"{prefix}sparse_types": tuple(self.sparse_types),
            f"{prefix}dense_keys": tuple(self.dense_keys),
            f"{prefix}dense_types": tuple(self.dense_types),
            f"{prefix}dense_shapes": tuple(self.dense_shapes),
        }

    def results(self, outputs: list) -> dict:
        """{key: SparseTensor or Tensor} from the op's outputs for these specs, in their order."""
        n = len(self.sparse_keys)
        result = {key: SparseTensor(*outputs[i : 3 * n : n]) for i, key in enumerate(self.sparse_keys)}
        result.update(zip(self.dense_keys, outputs[3 * n : 3 * n + len(self.dense_keys)]))
        return result

    def output_count(self) -> int:
        return 3 * len(self.sparse_keys) + len(self.dense_keys)


def _parse(serialized, features: dict, name, example_names, default_name: str) -> dict:
    if not features:
        raise ValueError("Missing: features was {}.")
    with name_scope(name, default_name):
        specs = _Specs(features, (VarLenFeature, FixedLenFeature, FixedLenSequenceFeature))
        names = convert_to_tensor(_bytes_array([] if example_names is None else example_names), dtypes.string)
        serialized = convert_to_tensor(serialized, dtypes.string)
        outputs = build("ParseExample", [serialized, names, specs.defaults], specs.attrs())
    return specs.results(outputs)


@api_function("parse_example", "io.parse_example")
def parse_example(serialized, features, name=None, example_names=None) -> dict:
    """Parses a vector of serialized tf.train.Examples into a dict of tensors, one per feature.

    >>> parsed = tf.parse_example(records, {"label": tf.FixedLenFeature([], tf.int64),
    ...                                     "words": tf.VarLenFeature(tf.string)})
    >>> parsed["label"]   # int64 [batch]; parsed["words"] is a SparseTensor [batch, ?]

    `features` maps keys to FixedLenFeature, FixedLenSequenceFeature or
    VarLenFeature; `example_names` (optional) names the examples in error messages.
    """
    return _parse(serialized, features, name, example_names, "ParseExample")


@api_function("parse_single_example", "io.parse_single_example")
def parse_single_example(serialized, features, name=None, example_names=None) -> dict:
    """Parses one serialized tf.train.Example (a scalar string) into a dict of tensors.

    >>> tf.parse_single_example(record, {"x": tf.FixedLenFeature([2], tf.float32)})["x"]   # [2]

    As parse_example without the batch dimension: a VarLenFeature gives a
    SparseTensor of rank 1.
    """
    return _parse(serialized, features, name, example_names, "ParseSingleExample")


# -- ParseSingleSequenceExample ------------------------------------------------------------


class ParseSingleSequenceExample(Op):
    """Parses one serialized tf.train.SequenceExample: its context and its feature lists."""

    inputs = ("serialized", "context_dense_defaults*")
    attrs = {
        "context_sparse_keys": (),
        "context_sparse_types": (),
        "context_dense_keys": (),
        "context_dense_types": (),
        "context_dense_shapes": (),
        "feature_list_sparse_keys": (),
        "feature_list_sparse_types": (),
        "feature_list_dense_keys": (),
        "feature_list_dense_types": (),
        "feature_list_dense_shapes": (),
        "feature_list_dense_missing_assumed_empty": (),
        "example_name": "<unknown>",
    }
    multi_output = True
    differentiable = False

    def infer(serialized, context_dense_defaults, **attrs):
        if serialized.dtype != dtypes.string:
            raise TypeError(f"serialized must be a string tensor, got {serialized.dtype.name}")
        if serialized.shape.ndims not in (None, 0):
            raise ValueError(f"serialized must be a scalar, got shape {format_shape(serialized.shape)}")
        context = ParseExample.infer(
            serialized, serialized, context_dense_defaults, *_attr_group(attrs, "context_")
        )
        sparse_types = attrs["feature_list_sparse_types"]
        steps = [(dtypes.int64, [None, 2]) for _ in sparse_types]
        steps += [(dtype, [None]) for dtype in sparse_types]
        steps += [(dtypes.int64, [2]) for _ in sparse_types]
        steps += [
            (dtype, [None, *shape])
            for dtype, shape in zip(attrs["feature_list_dense_types"], attrs["feature_list_dense_shapes"])
        ]
        return context + steps

    def kernel(xp, serialized, context_dense_defaults, **attrs):
        label = attrs["example_name"]
        sequence = _parse_proto(SequenceExample, _strings(serialized).reshape(()).item(), label, 0)
        context = ParseExample.kernel(
            np,
            _serialized_scalar(sequence.context),
            np.empty(0, object),
            context_dense_defaults,
            *_attr_group(attrs, "context_"),
        )
        lists = sequence.feature_lists.feature_list
        sparse = []
        for key, dtype in zip(attrs["feature_list_sparse_keys"], attrs["feature_list_sparse_types"]):
            steps = [{key: f} for f in lists[key].feature] if key in lists else []
            sparse.append(_sparse(steps, [label] * len(steps), key, dtype, single=False))
        dense = []
        for key, dtype, shape in zip(
            attrs["feature_list_dense_keys"],
            attrs["feature_list_dense_types"],
            attrs["feature_list_dense_shapes"],
        ):
            if key not in lists and key not in attrs["feature_list_dense_missing_assumed_empty"]:
                raise _invalid(f"Name: {label}, Feature list '{key}' is required but could not be found.")
            steps = [{key: f} for f in lists[key].feature] if key in lists else []
            empty = np.empty(0, dtype.np)
            dense.append(_dense(steps, [label] * len(steps), key, dtype, tuple(shape), empty, single=False))
        steps = [s[0] for s in sparse] + [s[1] for s in sparse] + [s[2] for s in sparse] + dense
        return _on_device(xp, context + steps)


def _attr_group(attrs: dict, prefix: str) -> list:
    """ParseExample's attrs (sparse keys and types, dense keys, types, shapes) from the `prefix`ed ones."""
    names = ("sparse_keys", "sparse_types", "dense_keys", "dense_types", "dense_shapes")
    return [attrs[prefix + name] for name in names]


def _serialized_scalar(context) -> np.ndarray:
    """The context Features as a serialized Example (same field number), to parse as one."""
    out = np.empty((), object)
    out[()] = Example(features=context).SerializeToString()
    return out


@api_function("parse_single_sequence_example", "io.parse_single_sequence_example")
def parse_single_sequence_example(
    serialized, context_features=None, sequence_features=None, example_name=None, name=None
) -> tuple[dict, dict]:
    """Parses one serialized tf.train.SequenceExample into (context dict, sequence dict).

    >>> context, steps = tf.parse_single_sequence_example(record,
    ...     context_features={"length": tf.FixedLenFeature([], tf.int64)},
    ...     sequence_features={"frames": tf.FixedLenSequenceFeature([2], tf.float32),
    ...                        "words": tf.VarLenFeature(tf.string)})
    >>> steps["frames"]   # float32 [steps, 2]; steps["words"] a SparseTensor [steps, ?]

    Context features are FixedLenFeature or VarLenFeature, as in parse_single_example.
    Sequence features are FixedLenSequenceFeature (one Feature of `shape` per step; a
    missing list is an error unless allow_missing, then it has no steps) or
    VarLenFeature.
    """
    context_features, sequence_features = context_features or {}, sequence_features or {}
    if not context_features and not sequence_features:
        raise ValueError("Missing features.")
    with name_scope(name, "ParseSingleSequenceExample"):
        context = _Specs(context_features, (VarLenFeature, FixedLenFeature))
        steps = _Specs(sequence_features, (VarLenFeature, FixedLenSequenceFeature), sequence_list=True)
        attrs = {**context.attrs("context_"), **steps.attrs("feature_list_")}
        attrs["feature_list_dense_missing_assumed_empty"] = tuple(steps.missing_assumed_empty)
        attrs["example_name"] = "<unknown>" if example_name is None else str(example_name)
        serialized = convert_to_tensor(serialized, dtypes.string)
        outputs = build("ParseSingleSequenceExample", [serialized, context.defaults], attrs)
    return context.results(outputs), steps.results(outputs[context.output_count() :])


# -- DecodeRaw -------------------------------------------------------------------------------


class DecodeRaw(Op):
    """Reinterprets each string's bytes as a vector of `out_type`: shape input.shape + [n]."""

    inputs = ("bytes",)
    attrs = {"out_type": dtypes.uint8, "little_endian": True}
    differentiable = False

    def infer(bytes, out_type, little_endian):  # noqa: A002 - TensorFlow's name
        if bytes.dtype != dtypes.string:
            raise TypeError(f"bytes must be a string tensor, got {bytes.dtype.name}")
        if out_type == dtypes.string:
            raise TypeError("out_type must be a numeric or bool dtype, not string")
        dims = bytes.shape.dims
        return out_type, None if dims is None else [*dims, None]

    def kernel(xp, bytes, out_type, little_endian):  # noqa: A002
        bytes = _strings(bytes)  # noqa: A001
        flat = bytes.reshape(-1)
        item = out_type.np.itemsize
        size = len(flat[0]) if flat.size else 0
        for i, data in enumerate(flat):
            if len(data) != size:
                raise _invalid(
                    f"DecodeRaw requires input strings to all be the same size, but element {i} has size "
                    f"{len(data)} != {size}"
                )
        if size % item:
            raise _invalid(
                f"Input to DecodeRaw has length {size} that is not a multiple of {item}, the size of {out_type.name}"
            )
        order = "<" if little_endian else ">"
        raw = np.frombuffer(b"".join(flat), out_type.np.newbyteorder(order))
        return xp.asarray(raw.astype(out_type.np).reshape((*bytes.shape, size // item)))


@api_function("decode_raw", "io.decode_raw")
def decode_raw(input_bytes=None, out_type=None, little_endian=True, name=None, bytes=None):  # noqa: A002
    """The bytes of each string as a vector of `out_type`: `tf.decode_raw(records, tf.float32)`.

    >>> tf.decode_raw(tf.constant([b"\\x01\\x00\\x02\\x00"]), tf.int16)   # [[1, 2]]

    Every string must have the same length, a multiple of the dtype's size.
    `bytes` is the older name of `input_bytes`.
    """
    if (input_bytes is None) == (bytes is None):
        raise ValueError("decode_raw takes exactly one of input_bytes and bytes")
    if out_type is None:
        raise ValueError("decode_raw needs out_type")
    value = input_bytes if bytes is None else bytes
    attrs = {"out_type": dtypes.as_dtype(out_type), "little_endian": bool(little_endian)}
    return build("DecodeRaw", [convert_to_tensor(value, dtypes.string)], attrs, name=name)


# -- DecodeCSV -------------------------------------------------------------------------------

_CSV_TYPES = ("float32", "float64", "int32", "int64", "string")


class DecodeCSV(Op):
    """Splits CSV records into one tensor per column, of the records' shape (see tf.io.decode_csv)."""

    inputs = ("records", "record_defaults*")
    attrs = {"field_delim": ",", "use_quote_delim": True, "na_value": "", "select_cols": ()}
    multi_output = True
    differentiable = False

    def infer(records, record_defaults, field_delim, use_quote_delim, na_value, select_cols):
        if records.dtype != dtypes.string:
            raise TypeError(f"records must be a string tensor, got {records.dtype.name}")
        for i, default in enumerate(record_defaults):
            if default.dtype.name not in _CSV_TYPES:
                raise TypeError(
                    f"record_defaults[{i}] is {default.dtype.name}; columns are {', '.join(_CSV_TYPES)}"
                )
            if default.shape.ndims not in (None, 1) or default.shape.num_elements() not in (None, 0, 1):
                raise ValueError(
                    f"record_defaults[{i}] must hold one value or none, got shape {format_shape(default.shape)}"
                )
        return [(default.dtype, records.shape) for default in record_defaults]

    def kernel(xp, records, record_defaults, field_delim, use_quote_delim, na_value, select_cols):
        records = _strings(records)
        columns = [np.empty(records.shape, d.dtype) for d in record_defaults]
        flat_columns = [c.reshape(-1) for c in columns]
        for r, record in enumerate(records.reshape(-1)):
            fields = _csv_fields(record, field_delim, use_quote_delim, r)
            if select_cols:
                if select_cols[-1] >= len(fields):
                    raise _invalid(
                        f"Expect {select_cols[-1] + 1} fields but have {len(fields)} in record {r}"
                    )
                fields = [fields[c] for c in select_cols]
            if len(fields) != len(record_defaults):
                raise _invalid(f"Expect {len(record_defaults)} fields but have {len(fields)} in record {r}")
            for c, (field, default) in enumerate(zip(fields, record_defaults)):
                flat_columns[c][r] = _csv_value(field, default, na_value, c, r)
        return [c if c.dtype == object else xp.asarray(c) for c in columns]


def _csv_fields(record, delim: str, quoted: bool, index: int) -> list[str]:
    text = record.decode("utf-8") if isinstance(record, bytes) else str(record)
    quoting = csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
    try:
        rows = list(csv.reader([text], delimiter=delim, quoting=quoting, strict=True))
    except csv.Error as e:
        raise _invalid(f"Record {index} is not valid CSV ({e}): {text[:80]!r}") from None
    return rows[0] if rows else [""]


def _csv_value(field: str, default: np.ndarray, na_value: str, column: int, record: int):
    if field == "" or field == na_value:
        if default.size == 0:
            raise _invalid(f"Field {column} is required but missing in record {record}!")
        return default.reshape(-1)[0]
    if default.dtype == object:
        return field.encode("utf-8")
    try:
        value = int(field) if default.dtype.kind == "i" else float(field)
    except ValueError:
        raise _invalid(
            f"Field {column} in record {record} is not a valid {default.dtype.name}: {field}"
        ) from None
    if default.dtype.kind == "i" and not np.iinfo(default.dtype).min <= value <= np.iinfo(default.dtype).max:
        raise _invalid(f"Field {column} in record {record} is out of range for {default.dtype.name}: {field}")
    return value


@api_function("decode_csv", "io.decode_csv")
def decode_csv(
    records,
    record_defaults,
    field_delim=",",
    use_quote_delim=True,
    name=None,
    na_value="",
    select_cols=None,
) -> list:
    """Splits CSV lines into columns: one tensor per entry of `record_defaults`.

    >>> a, b = tf.decode_csv(tf.constant([b"1,x", b"2,"]), [[0], ["none"]])   # [1, 2], [b"x", b"none"]

    Each default is `[value]` (used for an empty field or `na_value`) or `[]` (the
    column is required), and gives the column's dtype (float32, float64, int32,
    int64 or string). Fields may be "double quoted" unless use_quote_delim=False.
    """
    if len(field_delim) != 1:
        raise ValueError(f"field_delim must be one character, got {field_delim!r}")
    cols = tuple(int(c) for c in select_cols) if select_cols is not None else ()
    if list(cols) != sorted(set(cols)) or (cols and cols[0] < 0):
        raise ValueError("select_cols is not strictly increasing.")
    if cols and len(cols) != len(record_defaults):
        raise ValueError("Length of select_cols and record_defaults do not match.")
    defaults = []
    for i, default in enumerate(record_defaults):
        if isinstance(default, Tensor):
            defaults.append(default)
        elif len(default) and isinstance(np.asarray(default, object).reshape(-1)[0], str | bytes):
            defaults.append(convert_to_tensor(_bytes_array(default), name=f"record_default_{i}"))
        elif len(default):
            defaults.append(convert_to_tensor(default, name=f"record_default_{i}"))
        else:  # [] is a required float32 column, as TensorFlow converts it
            defaults.append(convert_to_tensor(np.empty(0, np.float32), name=f"record_default_{i}"))
    attrs = {"field_delim": field_delim, "use_quote_delim": bool(use_quote_delim), "na_value": na_value}
    attrs["select_cols"] = cols
    return build("DecodeCSV", [convert_to_tensor(records, dtypes.string), defaults], attrs, name=name)
