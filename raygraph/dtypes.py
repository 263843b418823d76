"""Data types of tensors, in TensorFlow's names.

A `DType` wraps one numpy dtype and answers the questions graph construction asks
(is it floating? integer? differentiable?). Every tensor in a graph carries one.
`as_dtype` accepts a DType, a numpy dtype or type, a Python type, or a name
("float32"), so user code can write `tf.float32`, `np.float32` or "float32".
"""

from __future__ import annotations

import numpy as np

_PY_BOOL = type(True)  # noqa: UP003 - the builtin, before this module's `bool` shadows it


class DType:
    """The element type of a tensor, e.g. `tf.float32`.

    >>> tf.float32.as_numpy_dtype
    <class 'numpy.float32'>
    """

    __slots__ = ("name", "_np")

    def __init__(self, name, np_dtype=None):
        if np_dtype is None:  # tf.DType(1): TensorFlow's DataType enum value
            known = as_dtype(name)
            name, np_dtype = known.name, known._np
        self.name = name
        self._np = np.dtype(np_dtype)

    @property
    def as_numpy_dtype(self) -> type:
        return self._np.type

    @property
    def np(self) -> np.dtype:
        """The numpy dtype object (internal shorthand)."""
        return self._np

    @property
    def base_dtype(self) -> DType:
        return self

    @property
    def is_floating(self) -> bool:
        return self._np.kind == "f" or self.name == "bfloat16"

    @property
    def is_integer(self) -> bool:
        return self._np.kind in "iu"

    @property
    def is_unsigned(self) -> bool:
        return self._np.kind == "u"

    @property
    def is_bool(self) -> bool:
        return self._np.kind == "b"

    @property
    def is_numeric(self) -> bool:
        return self._np.kind in "iufc" or self.name == "bfloat16"

    @property
    def is_complex(self) -> bool:
        return self._np.kind == "c"

    @property
    def is_quantized(self) -> bool:
        return False

    @property
    def real_dtype(self) -> DType:
        """float32 for complex64, float64 for complex128; the dtype itself otherwise."""
        return {"complex64": float32, "complex128": float64}.get(self.name, self)

    @property
    def as_datatype_enum(self) -> int:
        """TensorFlow's DataType enum value (types.proto): 1 for float32."""
        return _ENUMS[self.name]

    @property
    def limits(self) -> tuple:
        return self.min, self.max

    def is_compatible_with(self, other) -> bool:
        """True when a value of dtype `other` can be used where this dtype is expected."""
        try:
            return self == as_dtype(other)
        except TypeError:
            return False

    @property
    def is_differentiable(self) -> bool:
        """Floating tensors carry gradients, as in TensorFlow; so do `variant` values
        (a TensorArray's flow), whose gradients are TensorArrays of gradients."""
        return self.is_floating or self is variant

    @property
    def size(self) -> int:
        return self._np.itemsize

    @property
    def min(self):
        return _finfo(self._np).min if self.is_floating else np.iinfo(self._np).min

    @property
    def max(self):
        return _finfo(self._np).max if self.is_floating else np.iinfo(self._np).max

    def __eq__(self, other) -> bool:
        if other is None:
            return False
        try:
            return self.name == as_dtype(other).name
        except TypeError:
            return False

    def __ne__(self, other) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __reduce__(self):
        return as_dtype, (self.name,)


float16 = half = DType("float16", np.float16)
float32 = DType("float32", np.float32)
float64 = double = DType("float64", np.float64)
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
uint16 = DType("uint16", np.uint16)
uint32 = DType("uint32", np.uint32)
uint64 = DType("uint64", np.uint64)
complex64 = DType("complex64", np.complex64)
complex128 = DType("complex128", np.complex128)
bool = DType("bool", np.bool_)  # noqa: A001 - TensorFlow's name
string = DType("string", np.object_)
variant = DType("variant", np.object_)
"""An opaque host value (a TensorArray's list of tensors, a loop's saved values)."""

_ALL = [
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
    complex64,
    complex128,
    bool,
    string,
]

try:  # bfloat16 is ml_dtypes' numpy type (it comes with TensorFlow and JAX)
    import ml_dtypes as _ml_dtypes

    bfloat16 = DType("bfloat16", _ml_dtypes.bfloat16)
    _ALL.append(bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    _ml_dtypes = None


def _finfo(npd: np.dtype):
    return _ml_dtypes.finfo(npd) if _ml_dtypes is not None and npd.kind == "V" else np.finfo(npd)


_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update(
    half=float16, double=float64, float=float32, variant=variant
)  # TF's names: "float" is float32
_BY_NAME.update({f"{name}_ref": d for name, d in list(_BY_NAME.items())})  # TF1's reference dtypes
_ENUMS = {  # TensorFlow's DataType enum (types.proto)
    "float32": 1,
    "float64": 2,
    "int32": 3,
    "uint8": 4,
    "int16": 5,
    "int8": 6,
    "string": 7,
    "complex64": 8,
    "int64": 9,
    "bool": 10,
    "bfloat16": 14,
    "uint16": 17,
    "complex128": 18,
    "float16": 19,
    "variant": 21,
    "uint32": 22,
    "uint64": 23,
}
_BY_ENUM = {enum: _BY_NAME[name] for name, enum in _ENUMS.items() if name in _BY_NAME}
_BY_NP = {d.np: d for d in _ALL}
_BY_NP[np.dtype("S")] = string
_BY_NP[np.dtype("U")] = string


def as_dtype(value) -> DType:
    """Converts a DType, numpy dtype, Python type or name to a `DType`.

    >>> as_dtype("float32") is tf.float32
    True
    """
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        if value in _BY_NAME:
            return _BY_NAME[value]
        raise TypeError(f"Cannot convert {value!r} to a raygraph dtype: not one of TensorFlow's dtype names")
    if isinstance(value, int) and not isinstance(value, _PY_BOOL) and value in _BY_ENUM:
        return _BY_ENUM[value]  # TensorFlow's DataType enum value
    if value is float:
        return float32
    if value is int:
        return int32
    if value is _PY_BOOL:
        return bool
    try:
        npd = np.dtype(value)
    except TypeError:
        raise TypeError(f"Cannot convert {value!r} to a raygraph dtype") from None
    if npd.kind in "SU":
        return string
    if npd in _BY_NP:
        return _BY_NP[npd]
    raise TypeError(f"Cannot convert {value!r} to a raygraph dtype: {npd} is not supported")
