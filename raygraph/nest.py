"""Nested structures of tensors, as TensorFlow's `tf.nest` treats them.

Lists, tuples, namedtuples and dicts (by sorted key) are structure; anything
else (a Tensor, a TensorArray, a number) is a leaf.

>>> flatten({"b": 1, "a": (2, 3)})
[2, 3, 1]
>>> pack_sequence_as({"b": 0, "a": (0, 0)}, [2, 3, 1])
{'a': (2, 3), 'b': 1}
"""

from __future__ import annotations


def is_nested(value) -> bool:
    return isinstance(value, list | tuple | dict)


is_sequence = is_nested


def _children(value) -> list:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    return list(value)


def flatten(structure) -> list:
    """The leaves of `structure`, depth first (a leaf alone gives `[leaf]`)."""
    if not is_nested(structure):
        return [structure]
    out = []
    for child in _children(structure):
        out.extend(flatten(child))
    return out


def _rebuild(structure, children: list):
    if isinstance(structure, dict):
        keys = sorted(structure)
        return type(structure)((k, children[keys.index(k)]) for k in structure)
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):  # namedtuple
        return type(structure)(*children)
    return type(structure)(children)


def pack_sequence_as(structure, flat_sequence):
    """`flat_sequence` arranged as `structure` (the inverse of `flatten`)."""
    flat_sequence = list(flat_sequence)
    expected = len(flatten(structure))
    if expected != len(flat_sequence):
        raise ValueError(
            f"Could not pack sequence: structure has {expected} elements, but flat_sequence "
            f"has {len(flat_sequence)}. Structure: {structure!r}"
        )
    position = [0]

    def build(s):
        if not is_nested(s):
            value = flat_sequence[position[0]]
            position[0] += 1
            return value
        return _rebuild(s, [build(c) for c in _children(s)])

    return build(structure)


def map_structure(func, *structures):
    """`func` applied leaf by leaf to structures of the same shape."""
    if not structures:
        raise ValueError("map_structure needs at least one structure")
    for other in structures[1:]:
        assert_same_structure(structures[0], other)
    flats = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [func(*leaves) for leaves in zip(*flats)])


def assert_same_structure(nest1, nest2, check_types: bool = True) -> None:
    """Raises ValueError (TypeError for differing sequence types) unless alike."""
    if is_nested(nest1) != is_nested(nest2):
        raise ValueError(
            f"The two structures don't have the same nested structure.\n\nFirst structure: "
            f"{nest1!r}\n\nSecond structure: {nest2!r}"
        )
    if not is_nested(nest1):
        return
    if check_types and _kind(nest1) != _kind(nest2):
        raise TypeError(
            f"The two structures don't have the same sequence type. First structure has type "
            f"{type(nest1)}, while second structure has type {type(nest2)}."
        )
    a, b = _children(nest1), _children(nest2)
    if len(a) != len(b) or (isinstance(nest1, dict) and sorted(nest1) != sorted(nest2)):
        raise ValueError(
            f"The two structures don't have the same number of elements.\n\nFirst structure: "
            f"{nest1!r}\n\nSecond structure: {nest2!r}"
        )
    for x, y in zip(a, b):
        assert_same_structure(x, y, check_types)


def _kind(value):
    if isinstance(value, dict):
        return dict
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)
    return list if isinstance(value, list) else tuple
