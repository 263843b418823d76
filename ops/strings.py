"""String ops: splitting, joining, slicing, case, regexes, base64, numbers and hash buckets.

A string tensor's value is a numpy object array of `bytes` (a scalar may arrive
as a bare `bytes`); str values are taken as UTF-8. Kernels work element by
element on the host and return object arrays of bytes, or numeric arrays for
lengths, numbers and bucket ids. None of these ops is differentiable.

- StringSplit (tf.string_split) splits each string of a vector at any byte of
  `delimiter` (at every byte when it is empty) and StringSplitV2
  (tf.strings.split) at the whole separator `sep` (at runs of whitespace when it
  is empty), both as Python's bytes.split does, except that StringSplit gives
  an empty string no token. Each returns the three parts of a SparseTensor of shape
  [batch, most tokens].
- EncodeBase64 / DecodeBase64 use the web-safe alphabet (`-` and `_`), as
  TensorFlow does; decoding accepts missing padding and refuses anything else.
- StringToHashBucketFast is `Fingerprint64(s) % num_buckets` with FarmHash's
  Fingerprint64 (the pyfarmhash package), TensorFlow's values exactly.
- AsString formats numbers with printf's conversions (Python's % operator).
"""

from __future__ import annotations

import base64
import re

import numpy as np

from ops import api as tf
from ops.common import broadcast_shape, check_scalar, constant_value
from ops.registry import Op, api_function, build
from raygraph import dtypes, errors
from raygraph.graph import Tensor, convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, format_shape, unknown_shape

# -- helpers ---------------------------------------------------------------------------------------


def _strings(value) -> np.ndarray:
    """A string tensor's value as an object array of bytes (str taken as UTF-8)."""
    array = np.asarray(value, dtype=object)
    if any(isinstance(v, str) for v in array.reshape(-1)):
        array = _map_array(lambda v: v.encode("utf-8") if isinstance(v, str) else v, array, object)
    return array


def _map_array(fn, array: np.ndarray, dtype) -> np.ndarray:
    out = np.empty(array.shape, dtype)
    flat = out.reshape(-1)
    for i, s in enumerate(array.reshape(-1)):
        flat[i] = fn(s)
    return out


def _map(fn, value, dtype=object) -> np.ndarray:
    """`fn` applied to every string of `value`, as an array of `dtype` and value's shape."""
    return _map_array(fn, _strings(value), dtype)


def _invalid(message: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(None, None, message)


def _check_string(t, what: str) -> None:
    if t.dtype != dtypes.string:
        raise TypeError(f"{what} must be a string tensor, got {t.dtype.name}")


def _to_string_tensor(value, name: str):
    if isinstance(value, str | bytes | list | tuple):  # str and bytes mixed: numpy alone cannot
        value = _strings(value)
    return convert_to_tensor(value, dtype=dtypes.string, name=name)


def _as_bytes(value) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _sparse_parts(rows: list[list[bytes]]):
    """indices, values and dense_shape of the SparseTensor holding `rows`, one row per string."""
    indices = [(i, j) for i, row in enumerate(rows) for j in range(len(row))]
    values = np.empty(len(indices), object)
    values[:] = [token for row in rows for token in row]
    width = max((len(row) for row in rows), default=0)
    return [
        np.array(indices, np.int64).reshape(-1, 2),
        values,
        np.array([len(rows), width], np.int64),
    ]


def _sparse_specs():
    return [
        (dtypes.int64, TensorShape([None, 2])),
        (dtypes.string, TensorShape([None])),
        (dtypes.int64, TensorShape([2])),
    ]


def _check_vector(t, what: str) -> None:
    if t.shape.ndims not in (None, 1):
        raise ValueError(f"{what} must be a vector, got shape {format_shape(t.shape)}")


def _sparse_tensor(parts):
    from ops.sparse import SparseTensor

    return SparseTensor(*parts)


# -- splitting -------------------------------------------------------------------------------------


class StringSplit(Op):
    """Splits each string of a vector at every byte of `delimiter`: a SparseTensor's parts."""

    inputs = ("input", "delimiter")
    attrs = {"skip_empty": True}
    multi_output = True
    differentiable = False

    def infer(input, delimiter, skip_empty):  # noqa: A002 - TensorFlow's name
        _check_string(input, "input")
        _check_vector(input, "input")
        check_scalar(delimiter, "delimiter")
        return _sparse_specs()

    def kernel(xp, input, delimiter, skip_empty):  # noqa: A002
        delimiter = _as_bytes(_strings(delimiter).reshape(-1)[0])
        pattern = re.compile(b"[" + re.escape(delimiter) + b"]") if delimiter else None
        rows = []
        for s in _strings(input).reshape(-1):
            tokens = [bytes([c]) for c in s] if pattern is None or not s else pattern.split(s)
            rows.append([t for t in tokens if t or not skip_empty])
        return _sparse_parts(rows)


class StringSplitV2(Op):
    """Splits each string of a vector at `sep` (whitespace runs if empty), Python's bytes.split."""

    inputs = ("input", "sep")
    attrs = {"maxsplit": -1}
    multi_output = True
    differentiable = False

    def infer(input, sep, maxsplit):  # noqa: A002
        _check_string(input, "input")
        _check_vector(input, "input")
        check_scalar(sep, "sep")
        return _sparse_specs()

    def kernel(xp, input, sep, maxsplit):  # noqa: A002
        sep = _as_bytes(_strings(sep).reshape(-1)[0]) or None
        return _sparse_parts([s.split(sep, maxsplit) for s in _strings(input).reshape(-1)])


@api_function("string_split")
def string_split(source, sep=None, skip_empty=True, delimiter=None, result_type="SparseTensor", name=None):
    """Splits each string of the vector `source` at any character of `delimiter` (" " by default).

    >>> sp = tf.string_split(["hello world", "a b c"])   # SparseTensor, dense_shape [2, 3]

    An empty delimiter splits into bytes; `skip_empty` drops empty tokens. `sep`
    is the newer name of `delimiter`.
    """
    if sep is not None and delimiter is not None:
        raise ValueError("Cannot specify both 'sep' and 'delimiter'")
    delimiter = " " if sep is None and delimiter is None else (sep if sep is not None else delimiter)
    if result_type != "SparseTensor":
        raise ValueError(f"raygraph's string_split returns a SparseTensor; result_type={result_type!r}")
    with name_scope(name, "StringSplit", [source]):
        parts = build(
            "StringSplit",
            [_to_string_tensor(source, "source"), _to_string_tensor(delimiter, "delimiter")],
            {"skip_empty": bool(skip_empty)},
        )
        return _sparse_tensor(parts)


@api_function("strings.split")
def strings_split(input=None, sep=None, maxsplit=-1, result_type="SparseTensor", source=None, name=None):  # noqa: A002
    """Splits each string of a vector at `sep`, as Python's str.split: a SparseTensor.

    >>> tf.strings.split(["a,b,,c"], sep=",")   # values [b"a", b"b", b"", b"c"]

    With `sep` None or empty, runs of whitespace separate and leading or trailing
    whitespace gives no empty token. At most `maxsplit` splits when it is >= 0.
    """
    if (input is None) == (source is None):
        raise ValueError("strings.split takes exactly one of input and source")
    if result_type != "SparseTensor":
        raise ValueError(f"raygraph's strings.split returns a SparseTensor; result_type={result_type!r}")
    with name_scope(name, "StringSplit", [input, source]):
        parts = build(
            "StringSplitV2",
            [
                _to_string_tensor(input if source is None else source, "input"),
                _to_string_tensor(sep or "", "sep"),
            ],
            {"maxsplit": int(maxsplit)},
        )
        return _sparse_tensor(parts)


# -- base64 ---------------------------------------------------------------------------------------

_WEB_SAFE = re.compile(rb"[A-Za-z0-9_-]*")


class EncodeBase64(Op):
    """Each string in web-safe base64 (`-` and `_`), with `=` padding if `pad`."""

    inputs = ("input",)
    attrs = {"pad": False}
    differentiable = False

    def infer(input, pad):  # noqa: A002
        _check_string(input, "input")
        return dtypes.string, input.shape

    def kernel(xp, input, pad):  # noqa: A002
        def encode(s):
            out = base64.urlsafe_b64encode(s)
            return out if pad else out.rstrip(b"=")

        return _map(encode, input)


class DecodeBase64(Op):
    """Each web-safe base64 string decoded (padding optional)."""

    inputs = ("input",)
    differentiable = False

    def infer(input):  # noqa: A002
        _check_string(input, "input")
        return dtypes.string, input.shape

    def kernel(xp, input):  # noqa: A002
        return _map(_decode_base64, input)


def _decode_base64(s: bytes) -> bytes:
    body = s[: len(s) - 2] + s[len(s) - 2 :].rstrip(b"=") if s.endswith(b"=") else s
    if not _WEB_SAFE.fullmatch(body) or (s != body and len(s) % 4):
        raise _invalid("Invalid character found in base64.")
    if len(body) % 4 == 1:
        raise _invalid("Base64 string length cannot be 1 modulo 4.")
    return base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4))


@api_function("encode_base64", "io.encode_base64")
def encode_base64(input, pad=False, name=None):  # noqa: A002
    """Web-safe base64 (`-` and `_` for `+` and `/`) of each string: `tf.encode_base64(["hi"])` is ["aGk"]."""
    return build("EncodeBase64", [_to_string_tensor(input, "input")], {"pad": bool(pad)}, name=name)


@api_function("decode_base64", "io.decode_base64")
def decode_base64(input, name=None):  # noqa: A002
    """Decodes web-safe base64 strings, padded or not: `tf.decode_base64(["aGk"])` is [b"hi"].

    A character outside the web-safe alphabet raises InvalidArgumentError.
    """
    return build("DecodeBase64", [_to_string_tensor(input, "input")], name=name)


# -- numbers and hashes ----------------------------------------------------------------------------

_INT = re.compile(rb"\s*[+-]?[0-9]+\s*")
_NUMBER_TYPES = (dtypes.float32, dtypes.float64, dtypes.int32, dtypes.int64)


class StringToNumber(Op):
    """Each string parsed as a number of `out_type` (float32, float64, int32 or int64)."""

    inputs = ("string_tensor",)
    attrs = {"out_type": dtypes.float32}
    differentiable = False

    def infer(string_tensor, out_type):
        _check_string(string_tensor, "string_tensor")
        out_type = dtypes.as_dtype(out_type)
        if out_type not in _NUMBER_TYPES:
            raise TypeError(f"out_type must be one of float32, float64, int32, int64, got {out_type.name}")
        return out_type, string_tensor.shape

    def kernel(xp, string_tensor, out_type):
        np_type = dtypes.as_dtype(out_type).np
        return xp.asarray(_map(lambda s: _parse_number(s, np_type), string_tensor, np_type))


def _parse_number(s: bytes, np_type):
    def fail():
        return _invalid(
            f"StringToNumberOp could not correctly convert string: {s.decode('utf-8', 'replace')}"
        )

    if np.dtype(np_type).kind == "i":
        if not _INT.fullmatch(s):
            raise fail()
        value, info = int(s), np.iinfo(np_type)
        if not info.min <= value <= info.max:
            raise fail()
        return value
    text = s.decode("utf-8", "replace").strip()
    try:
        if "_" in text:
            raise ValueError(text)
        return float.fromhex(text) if "0x" in text.lower() else float(text)
    except ValueError:
        raise fail() from None


@api_function("string_to_number", "strings.to_number")
def string_to_number(string_tensor, out_type=dtypes.float32, name=None):
    """Each string as a number: `tf.string_to_number(["1.5", " 2 "])` is [1.5, 2.0].

    Surrounding whitespace is allowed; anything else that is no number of
    `out_type` raises InvalidArgumentError when it runs.
    """
    return build(
        "StringToNumber",
        [_to_string_tensor(string_tensor, "string_tensor")],
        {"out_type": dtypes.as_dtype(out_type)},
        name=name,
    )


class StringToHashBucketFast(Op):
    """Each string's FarmHash Fingerprint64 modulo `num_buckets` (int64), as TensorFlow's."""

    inputs = ("input",)
    attrs = {"num_buckets": None}
    differentiable = False

    def infer(input, num_buckets):  # noqa: A002
        _check_string(input, "input")
        if num_buckets is None or int(num_buckets) < 1:
            raise ValueError(f"num_buckets must be >= 1, got {num_buckets}")
        return dtypes.int64, input.shape

    def kernel(xp, input, num_buckets):  # noqa: A002
        import farmhash

        return xp.asarray(_map(lambda s: farmhash.fingerprint64(s) % num_buckets, input, np.int64))


@api_function("string_to_hash_bucket_fast", "strings.to_hash_bucket_fast")
def string_to_hash_bucket_fast(input, num_buckets, name=None):  # noqa: A002
    """Hashes each string into one of `num_buckets` buckets: the same ids as TensorFlow's.

    >>> tf.string_to_hash_bucket_fast(["cat", "dog"], 1000)
    """
    return build(
        "StringToHashBucketFast",
        [_to_string_tensor(input, "input")],
        {"num_buckets": int(num_buckets)},
        name=name,
    )


# -- joining ---------------------------------------------------------------------------------------


class StringJoin(Op):
    """Joins its inputs element by element with `separator`; scalars broadcast to the others' shape."""

    inputs = ("inputs*",)
    attrs = {"separator": ""}
    differentiable = False

    def infer(inputs, separator):
        shape = TensorShape([])
        for t in inputs:
            _check_string(t, "inputs")
            if t.shape.ndims == 0:
                continue
            if not shape.is_compatible_with(t.shape) and shape.ndims != 0:
                raise ValueError(
                    f"Input shapes do not match: {format_shape(shape)} vs. {format_shape(t.shape)}"
                )
            shape = t.shape if shape.ndims == 0 else shape.merge_with(t.shape)
        if any(t.shape.ndims is None for t in inputs):
            shape = unknown_shape()
        return dtypes.string, shape

    def kernel(xp, inputs, separator):
        arrays = [_strings(a) for a in inputs]
        shapes = {a.shape for a in arrays if a.ndim}
        if len(shapes) > 1:
            raise _invalid(f"Input shapes do not match: {' vs. '.join(str(list(s)) for s in shapes)}")
        shape = shapes.pop() if shapes else ()
        sep = _as_bytes(separator)
        columns = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
        out = np.empty(int(np.prod(shape, dtype=np.int64)), object)
        for i in range(out.size):
            out[i] = sep.join(c[i] for c in columns)
        return out.reshape(shape)


@api_function("string_join", "strings.join")
def string_join(inputs, separator="", name=None):
    """Joins lists of strings element by element: `tf.strings.join([first, " ", last])`."""
    tensors = [_to_string_tensor(t, f"inputs_{i}") for i, t in enumerate(inputs)]
    return build("StringJoin", [tensors], {"separator": separator}, name=name)


class ReduceJoin(Op):
    """Joins the strings along `reduction_indices` (all axes if empty) with `separator`."""

    inputs = ("inputs", "reduction_indices")
    attrs = {"keep_dims": False, "separator": ""}
    differentiable = False

    def infer(inputs, reduction_indices, keep_dims, separator):
        _check_string(inputs, "inputs")
        axes = constant_value(reduction_indices)
        rank = inputs.shape.ndims
        if axes is None or rank is None:
            return dtypes.string, unknown_shape()
        axes = _join_axes(axes, rank)
        dims = inputs.shape.dims
        if keep_dims:
            return dtypes.string, TensorShape([1 if a in axes else d for a, d in enumerate(dims)])
        return dtypes.string, TensorShape([d for a, d in enumerate(dims) if a not in axes])

    def kernel(xp, inputs, reduction_indices, keep_dims, separator):
        array = _strings(inputs)
        axes = _join_axes(np.asarray(reduction_indices), array.ndim)
        kept = [a for a in range(array.ndim) if a not in axes]
        moved = np.transpose(array, kept + axes[::-1])  # the first axis listed is joined first
        outer = moved.shape[: len(kept)]
        rows = moved.reshape(int(np.prod(outer, dtype=np.int64)), -1)
        sep = _as_bytes(separator)
        out = np.empty(rows.shape[0], object)
        for i, row in enumerate(rows):
            out[i] = sep.join(row)
        if keep_dims:
            return out.reshape([1 if a in axes else d for a, d in enumerate(array.shape)])
        return out.reshape(outer)


def _join_axes(value, rank: int) -> list[int]:
    axes = [int(a) for a in np.reshape(value, [-1])]
    for a in axes:
        if not -rank <= a < rank:
            raise ValueError(f"Invalid reduction dimension {a} for input with {rank} dimensions")
    axes = [a % rank for a in axes]
    if len(set(axes)) != len(axes):
        raise ValueError(f"Duplicate reduction dimension in {axes}")
    return axes


@api_function("reduce_join", "strings.reduce_join")
def reduce_join(
    inputs, axis=None, keep_dims=None, separator="", name=None, reduction_indices=None, keepdims=None
):
    """Joins the strings of `inputs` along `axis` (all axes if None) with `separator`.

    >>> tf.reduce_join([["a", "b"], ["c", "d"]], axis=1)   # [b"ab", b"cd"]
    """
    inputs = _to_string_tensor(inputs, "inputs")
    axis = reduction_indices if axis is None else axis
    keep = bool(keepdims if keepdims is not None else keep_dims)
    with name_scope(name, "ReduceJoin", [inputs]):
        if axis is None:  # every axis, the last joined first: row-major order
            rank = inputs.shape.ndims
            axis = (
                list(range(rank - 1, -1, -1))
                if rank is not None
                else tf.reverse(tf.range(tf.rank(inputs)), [0])
            )
        axis = convert_to_tensor(axis, dtype=dtypes.int32, name="reduction_indices")
        return build("ReduceJoin", [inputs, axis], {"keep_dims": keep, "separator": separator})


# -- elementwise: slices, case, whitespace, regexes, lengths ---------------------------------------


class Substr(Op):
    """`len` bytes of each string from `pos` (negative counts from the end); pos and len broadcast."""

    inputs = ("input", "pos", "len")
    attrs = {"unit": "BYTE"}
    differentiable = False

    def infer(input, pos, len, unit):  # noqa: A002
        _check_string(input, "input")
        if pos.dtype != len.dtype or not pos.dtype.is_integer:
            raise TypeError(
                f"pos and len must have one integer dtype, got {pos.dtype.name} and {len.dtype.name}"
            )
        if (
            pos.shape.ndims is not None
            and len.shape.ndims is not None
            and not pos.shape.is_compatible_with(len.shape)
        ):
            raise ValueError(f"pos and len must have one shape, got {pos.shape} and {len.shape}")
        if unit not in ("BYTE", "UTF8_CHAR"):
            raise ValueError(f"unit must be 'BYTE' or 'UTF8_CHAR', got {unit!r}")
        return dtypes.string, broadcast_shape(input.shape, pos.shape)

    def kernel(xp, input, pos, len, unit):  # noqa: A002
        strings, pos, length = np.broadcast_arrays(_strings(input), np.asarray(pos), np.asarray(len))
        out = np.empty(strings.shape, object)
        for i, (s, p, n) in enumerate(zip(strings.reshape(-1), pos.reshape(-1), length.reshape(-1))):
            text = s.decode("utf-8") if unit == "UTF8_CHAR" else s
            size, p = text.__len__(), int(p)
            start = p + size if p < 0 else p
            if not 0 <= start <= size:
                raise _invalid(f"pos {p} out of range for string b'{s.decode('latin-1')}' at index {i}")
            end = size if n < 0 else min(size, start + int(n))
            piece = text[start:end]
            out.reshape(-1)[i] = piece.encode("utf-8") if unit == "UTF8_CHAR" else piece
        return out


@api_function("substr", "strings.substr")
def substr(input, pos, len, name=None, unit="BYTE"):  # noqa: A002
    """`len` bytes (or UTF-8 characters) of each string from `pos`: `tf.substr(words, 0, 3)`."""
    pos = convert_to_tensor(pos, name="pos")
    return build(
        "Substr",
        [_to_string_tensor(input, "input"), pos, convert_to_tensor(len, dtype=pos.dtype, name="len")],
        {"unit": unit},
        name=name,
    )


def _elementwise(op_type: str, doc: str, fn, out_dtype=dtypes.string, attrs=None):
    """Declares a one-input string op applying `fn(s, **attrs)` to each string."""

    def infer(input, **attrs):  # noqa: A002
        _check_string(input, "input")
        return out_dtype, input.shape

    def kernel(xp, input, **attrs):  # noqa: A002
        out = _map(lambda s: fn(s, **attrs), input, out_dtype.np if out_dtype != dtypes.string else object)
        return out if out_dtype == dtypes.string else xp.asarray(out)

    body = {
        "__doc__": doc,
        "inputs": ("input",),
        "attrs": dict(attrs or {}),
        "differentiable": False,
        "infer": staticmethod(infer),
        "kernel": staticmethod(kernel),
    }
    return type(op_type, (Op,), body)


def _case(method: str):
    def convert(s, encoding):
        if encoding == "":
            return getattr(s, method)()  # ASCII letters only, as TensorFlow without an encoding
        return getattr(s.decode(encoding), method)().encode(encoding)

    return convert


def _length(s, unit):
    return len(s) if unit == "BYTE" else len(s.decode("utf-8"))


def _regex_replace(s, pattern, rewrite, replace_global):
    return re.sub(_as_bytes(pattern), _as_bytes(rewrite), s, count=0 if replace_global else 1)


StringStrip = _elementwise("StringStrip", "Each string without leading and trailing whitespace.", bytes.strip)
StringLower = _elementwise(
    "StringLower", "Each string in lower case.", _case("lower"), attrs={"encoding": ""}
)
StringUpper = _elementwise(
    "StringUpper", "Each string in upper case.", _case("upper"), attrs={"encoding": ""}
)
StringLength = _elementwise(
    "StringLength",
    "Each string's length in bytes or UTF-8 characters.",
    _length,
    dtypes.int32,
    {"unit": "BYTE"},
)
RegexReplace = _elementwise(
    "RegexReplace",
    "Each string with the matches of `pattern` replaced by `rewrite` (\\1 for groups).",
    _regex_replace,
    attrs={"pattern": None, "rewrite": None, "replace_global": True},
)


@api_function("strings.strip", "string_strip")
def string_strip(input, name=None):  # noqa: A002
    """Each string without leading and trailing whitespace: `tf.strings.strip([" a "])` is [b"a"]."""
    return build("StringStrip", [_to_string_tensor(input, "input")], name=name)


@api_function("strings.lower")
def lower(input, encoding="", name=None):  # noqa: A002
    """Each string in lower case (ASCII letters only unless `encoding` is "utf-8")."""
    return build("StringLower", [_to_string_tensor(input, "input")], {"encoding": encoding}, name=name)


@api_function("strings.upper")
def upper(input, encoding="", name=None):  # noqa: A002
    """Each string in upper case (ASCII letters only unless `encoding` is "utf-8")."""
    return build("StringUpper", [_to_string_tensor(input, "input")], {"encoding": encoding}, name=name)


@api_function("strings.length")
def string_length(input, name=None, unit="BYTE"):  # noqa: A002
    """Each string's length (int32) in bytes, or in characters with unit="UTF8_CHAR"."""
    if unit not in ("BYTE", "UTF8_CHAR"):
        raise ValueError(f"unit must be 'BYTE' or 'UTF8_CHAR', got {unit!r}")
    return build("StringLength", [_to_string_tensor(input, "input")], {"unit": unit}, name=name)


@api_function("regex_replace", "strings.regex_replace")
def regex_replace(input, pattern, rewrite, replace_global=True, name=None):  # noqa: A002
    """Replaces the matches of the regex `pattern` in each string: `tf.strings.regex_replace(s, "[0-9]", "#")`.

    Python's `re` syntax stands in for RE2's (they agree on the common subset);
    `rewrite` refers to groups as `\\1`. Only the first match with replace_global=False.
    """
    attrs = {
        "pattern": _as_pattern(pattern),
        "rewrite": _as_pattern(rewrite),
        "replace_global": bool(replace_global),
    }
    return build("RegexReplace", [_to_string_tensor(input, "input")], attrs, name=name)


def _as_pattern(value) -> str:
    if isinstance(value, Tensor):
        known = constant_value(value)
        if known is None:
            raise ValueError("regex_replace needs pattern and rewrite known when the graph is built")
        value = np.asarray(known).reshape(-1)[0]
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# -- numbers to strings ---------------------------------------------------------------------------


class AsString(Op):
    """Each number (or bool) formatted as a string, with printf's precision, width and fill."""

    inputs = ("input",)
    attrs = {"precision": -1, "scientific": False, "shortest": False, "width": -1, "fill": ""}
    differentiable = False

    def infer(input, precision, scientific, shortest, width, fill):  # noqa: A002
        kind = input.dtype
        if not (kind.is_numeric or kind.is_bool):
            raise TypeError(f"as_string takes numbers or bools, got {kind.name}")
        if len(fill) > 1:
            raise ValueError(f"Fill string must be one or fewer characters, got {fill!r}")
        if scientific and shortest:
            raise ValueError("Cannot select both scientific and shortest notation")
        if precision > -1 and not (kind.is_floating or kind.is_complex):
            raise ValueError(f"Cannot select precision for {kind.name}; only for floats and complex")
        return dtypes.string, input.shape

    def kernel(xp, input, precision, scientific, shortest, width, fill):  # noqa: A002
        array = np.asarray(input.get() if hasattr(input, "get") else input)
        spec = "%" + fill + (str(width) if width > -1 else "") + (f".{precision}" if precision > -1 else "")
        if array.dtype.kind == "b":
            fmt = lambda v: (spec + "s") % ("true" if v else "false")  # noqa: E731
        elif array.dtype.kind in "iu":
            fmt = lambda v: (spec + "d") % v  # noqa: E731
        else:
            conv = "g" if shortest else "e" if scientific else "f"
            if array.dtype.kind == "c":
                fmt = lambda v: f"({(spec + conv) % v.real},{(spec + conv) % v.imag})"  # noqa: E731
            else:
                fmt = lambda v: (spec + conv) % v  # noqa: E731
        out = np.empty(array.shape, object)
        flat = out.reshape(-1)
        for i, v in enumerate(array.reshape(-1)):
            flat[i] = fmt(v).encode("ascii")
        return out


@api_function("as_string", "strings.as_string", "dtypes.as_string")
def as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="", name=None):  # noqa: A002
    """Numbers as strings: `tf.as_string([1.5, 2.0], precision=1)` is [b"1.5", b"2.0"].

    Floats print with 6 decimals by default ("%f"), `scientific` as "%e",
    `shortest` as "%g"; `width` pads with `fill` (" " or "0").
    """
    attrs = {
        "precision": int(precision),
        "scientific": bool(scientific),
        "shortest": bool(shortest),
        "width": int(width),
        "fill": fill,
    }
    return build("AsString", [convert_to_tensor(input, name="input")], attrs, name=name)
