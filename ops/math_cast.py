"""Casts between dtypes: Cast, `tf.cast` and TF1's `tf.to_float`, `tf.to_int32`, ...

`tf.cast` to the dtype a tensor already has returns the tensor itself, as in
TensorFlow. Floats cast to ints truncate toward zero. The gradient flows only
between floating dtypes; a cast to or from an integer has none.
"""

from __future__ import annotations

from ops.registry import Op, api_function, build
from raygraph import dtypes
from raygraph.graph import convert_to_tensor


class Cast(Op):
    """Converts x to another dtype (floats to ints truncate toward zero)."""

    inputs = ("x",)
    attrs = {"DstT": None}

    def infer(x, DstT):  # noqa: N803 - TensorFlow's attr name
        return DstT, x.shape

    def kernel(xp, x, DstT):  # noqa: N803
        return x.astype(DstT.np, copy=False)

    def grad(op, dy):
        x = op.inputs[0]
        if x.dtype.is_floating and op.outputs[0].dtype.is_floating:
            return [cast(dy, x.dtype)]
        return [None]


@api_function("cast", "dtypes.cast")
def cast(x, dtype, name=None):
    """Casts `x` to `dtype`: `tf.cast(labels, tf.float32)`."""
    x = convert_to_tensor(x)
    dtype = dtypes.as_dtype(dtype)
    if x.dtype == dtype:
        return x
    return build("Cast", [x], {"DstT": dtype}, name=name or "Cast")


def _cast_alias(api_name: str, dtype, default_name: str):
    def alias(x, name=default_name):
        return cast(x, dtype, name=name)

    alias.__name__ = api_name
    alias.__doc__ = f"""TF1's `tf.{api_name}(x)`: `tf.cast(x, tf.{dtype.name})`."""
    return api_function(api_name)(alias)


to_float = _cast_alias("to_float", dtypes.float32, "ToFloat")
to_double = _cast_alias("to_double", dtypes.float64, "ToDouble")
to_int32 = _cast_alias("to_int32", dtypes.int32, "ToInt32")
to_int64 = _cast_alias("to_int64", dtypes.int64, "ToInt64")
to_bfloat16 = _cast_alias("to_bfloat16", dtypes.bfloat16, "ToBFloat16")
