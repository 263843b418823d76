"""Arguments of the public functions: Python values, Dimensions and constant tensors.

TensorFlow's functions take axes, permutations and shapes in many spellings: an
int, a list, a `TensorShape`, `x.shape[0]` (a Dimension), or a tensor whose value
the graph knows. Static attributes (axes, perms) go through `static_ints`;
shape-like inputs that may be computed at run time (Reshape's shape, Tile's
multiples) go through `int_arg`, which leaves tensors alone.
"""

from __future__ import annotations

import numpy as np

from ops.common import constant_value
from raygraph import dtypes
from raygraph.graph import Tensor, to_numpy
from raygraph.shapes import Dimension, TensorShape


def static_ints(value, what: str):
    """An int or list of ints from a Python value or a constant tensor (axes, perms).

    >>> static_ints(tf.constant([1, 0]), "perm")
    [1, 0]
    """
    if isinstance(value, Tensor):
        known = constant_value(value)
        if known is None:
            raise ValueError(
                f"{what} must be known when the graph is built, got the computed tensor {value.name}"
            )
        value = known
    array = np.asarray(plain(value))
    if array.size == 0:
        return []
    if array.dtype.kind not in "iu":
        raise TypeError(f"{what} must be an integer or a list of integers, got {value!r}")
    return int(array) if array.ndim == 0 else [int(v) for v in array.reshape(-1)]


def plain(value):
    """`value` with TensorShape Dimensions (`x.shape[0]`) replaced by their ints."""
    if isinstance(value, Dimension):
        if value.value is None:
            raise ValueError("an unknown dimension (None) cannot be used as a value; use tf.shape(x)[i]")
        return value.value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def int_arg(value):
    """A shape-like argument given as Python values, as int32 (int64 if too large).

    TensorFlow converts these with the op's index type, so `[]` is an empty int32
    vector; tensors and lists holding tensors pass through unchanged.
    """
    if has_tensor(value):
        return value
    if isinstance(value, TensorShape):
        value = value.as_list()
    value = plain(value)
    if np.size(value) == 0:
        return np.zeros(np.shape(value), np.int32)
    return to_numpy(value, dtypes.int32, strict=False)


def has_tensor(value) -> bool:
    """Whether `value` is, or is a list holding, a tensor (or a variable)."""
    if isinstance(value, list | tuple):
        return any(has_tensor(v) for v in value)
    return hasattr(value, "dtype") and not isinstance(value, np.ndarray | np.generic)
