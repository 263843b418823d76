"""The structure of a dataset's elements, as tf.data sees it.

Unlike `tf.nest`, tf.data treats a list as one value (it becomes a tensor):
only tuples (namedtuples too) and dicts (by sorted key) are structure.

>>> flatten({"b": [1, 2], "a": (3, 4)})
[3, 4, [1, 2]]

A structure's leaves here are `Spec`s: the dtype and static shape of one
component, from which output_types, output_shapes and output_classes derive.
"""

from __future__ import annotations

from raygraph import dtypes
from raygraph.shapes import TensorShape, as_shape


class Spec:
    """One component of a dataset's elements: its dtype and static shape."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, shape):
        self.dtype = dtypes.as_dtype(dtype)
        self.shape = as_shape(shape) if shape is not None else TensorShape(None)

    def __repr__(self) -> str:
        return f"Spec({self.dtype.name}, {self.shape})"


def is_structure(value) -> bool:
    return isinstance(value, tuple | dict)


def _children(value) -> list:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    return list(value)


def flatten(structure) -> list:
    """The leaves of `structure`, depth first; a list is a leaf."""
    if not is_structure(structure):
        return [structure]
    return [leaf for child in _children(structure) for leaf in flatten(child)]


def pack(structure, leaves):
    """`leaves` arranged as `structure` (the inverse of flatten)."""
    leaves = list(leaves)
    position = [0]

    def build(s):
        if not is_structure(s):
            value = leaves[position[0]]
            position[0] += 1
            return value
        children = [build(c) for c in _children(s)]
        if isinstance(s, dict):
            keys = sorted(s)
            return type(s)((k, children[keys.index(k)]) for k in s)
        if hasattr(s, "_fields"):
            return type(s)(*children)
        return tuple(children)

    out = build(structure)
    if position[0] != len(leaves):
        raise ValueError(f"structure has {position[0]} components, got {len(leaves)} values")
    return out


def map_structure(fn, structure):
    return pack(structure, [fn(leaf) for leaf in flatten(structure)])


def skeleton(structure):
    """`structure` with None for every leaf: plain data describing only its shape."""
    if isinstance(structure, dict):
        return {k: skeleton(v) for k, v in structure.items()}
    if isinstance(structure, tuple):
        return tuple(skeleton(v) for v in structure)
    return None


def same_structure(a, b) -> bool:
    if is_structure(a) != is_structure(b):
        return False
    if not is_structure(a):
        return True
    if isinstance(a, dict) != isinstance(b, dict):
        return False
    if isinstance(a, dict) and sorted(a) != sorted(b):
        return False
    ca, cb = _children(a), _children(b)
    return len(ca) == len(cb) and all(same_structure(x, y) for x, y in zip(ca, cb))


def from_types_and_shapes(output_types, output_shapes=None):
    """Specs from TF1's nested output_types and output_shapes (shapes default to unknown)."""
    if output_shapes is None:
        return map_structure(lambda t: Spec(t, None), output_types)
    types, shapes = flatten(output_types), _flatten_shapes(output_types, output_shapes)
    return pack(output_types, [Spec(t, s) for t, s in zip(types, shapes)])


def _flatten_shapes(output_types, output_shapes) -> list:
    """Shapes along the types' structure: a list or TensorShape there is one shape."""
    if not is_structure(output_types):
        return [output_shapes]
    if isinstance(output_types, dict):
        return [s for k in sorted(output_types) for s in _flatten_shapes(output_types[k], output_shapes[k])]
    if len(output_types) != len(output_shapes):
        raise ValueError(f"output_shapes {output_shapes!r} does not match output_types {output_types!r}")
    return [s for t, sh in zip(output_types, output_shapes) for s in _flatten_shapes(t, sh)]
