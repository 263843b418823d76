"""Partitioned variables: one large variable kept as several, split along one axis.

    with tf.variable_scope("emb", partitioner=tf.fixed_size_partitioner(3)):
        table = tf.get_variable("table", [10, 4])   # emb/table/part_0 .. part_2: 4, 3, 3 rows
    vectors = tf.nn.embedding_lookup(table, ids)    # looks up each id in its part ("mod")
    logits = tf.matmul(x, tf.transpose(table))      # as one tensor: the parts concatenated

A partitioner maps (shape, dtype) to the number of parts along each axis, at
most one of them above 1; `get_variable(partitioner=...)` calls it and creates
the parts "<name>/part_<i>" in the variable store, as TF1 does: the first
(size % parts) parts get one row more, each part's initializer is called with
its own shape and a `partition_info` naming the full shape and its offset (so
glorot and variance scaling use the full shape's fans), and a constant
initializer is sliced. The `PartitionedVariable` holds the parts; it is no
graph node and sits in no collection (its parts do). Converted to a tensor it
is the parts' concatenation along the split axis ("<name>/ConcatPartitions/concat",
then an Identity named "<name>"); the gradient of that reaches each part.

Differs from TF: raygraph's Saver saves and restores each part under its own
name ("<name>/part_0"), not as slices of one checkpoint tensor "<name>".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ops import api
from raygraph import dtypes
from raygraph.graph import control_dependencies, name_scope
from raygraph.shapes import TensorShape, as_shape

__all__ = [
    "fixed_size_partitioner",
    "min_max_variable_partitioner",
    "variable_axis_size_partitioner",
]


# -- partitioners ---------------------------------------------------------------------


def fixed_size_partitioner(num_shards, axis=0):
    """A partitioner making `num_shards` parts along `axis` (fewer if the axis is shorter).

    >>> w = tf.get_variable("w", [100, 8], partitioner=tf.fixed_size_partitioner(4))
    """

    def _partitioner(shape, **unused_args):
        partitions = [1] * len(shape)
        partitions[axis] = min(num_shards, as_shape(shape).dims[axis])
        return partitions

    return _partitioner


def variable_axis_size_partitioner(max_shard_bytes, axis=0, bytes_per_string_element=16, max_shards=None):
    """A partitioner keeping each part under `max_shard_bytes` (when one axis allows it),
    with at most `max_shards` parts.

    >>> p = tf.variable_axis_size_partitioner(max_shard_bytes=(64 << 20) - 1)
    """
    if max_shard_bytes < 1 or bytes_per_string_element < 1:
        raise ValueError(
            "Both max_shard_bytes and bytes_per_string_element must be positive. Currently, "
            f"max_shard_bytes is {max_shard_bytes} and bytes_per_string_element is {bytes_per_string_element}"
        )
    if max_shards and max_shards < 1:
        raise ValueError("max_shards must be positive.")

    def _partitioner(shape, dtype):
        if not isinstance(shape, TensorShape):
            raise ValueError(f"shape is not a TensorShape: {shape}")
        if not shape.is_fully_defined():
            raise ValueError(f"shape is not fully defined: {shape}")
        element_size = _element_size(dtype, bytes_per_string_element)
        size = shape.dims[axis]
        bytes_per_slice = 1.0 * (shape.num_elements() / size) * element_size
        slices_per_shard = max(1, math.floor(max_shard_bytes / bytes_per_slice))
        axis_shards = int(math.ceil(1.0 * size / slices_per_shard))
        if max_shards:
            axis_shards = min(max_shards, axis_shards)
        partitions = [1] * shape.ndims
        partitions[axis] = axis_shards
        return partitions

    return _partitioner


def min_max_variable_partitioner(
    max_partitions=1, axis=0, min_slice_size=256 << 10, bytes_per_string_element=16
):
    """A partitioner giving each part at least `min_slice_size` bytes, in at most
    `max_partitions` parts.

    >>> p = tf.min_max_variable_partitioner(max_partitions=8, min_slice_size=64 << 10)
    """

    def _partitioner(shape, dtype):
        shape = as_shape(shape)
        if axis >= len(shape):
            raise ValueError(f"Cannot partition variable along axis {axis} when shape is only {shape}")
        total_bytes = shape.num_elements() * _element_size(dtype, bytes_per_string_element)
        partitions = [1] * len(shape)
        partitions[axis] = max(
            1, min(shape.dims[axis], max_partitions, int(math.ceil(total_bytes / min_slice_size)))
        )
        return partitions

    return _partitioner


def _element_size(dtype, bytes_per_string_element: int) -> int:
    dtype = dtypes.as_dtype(dtype).base_dtype
    return bytes_per_string_element if dtype == dtypes.string else dtype.size


# -- what get_variable makes -----------------------------------------------------------


class PartitionInfo:
    """What a part's initializer is told: the full variable's shape and the part's offset."""

    def __init__(self, full_shape, var_offset):
        self.full_shape = list(full_shape)
        self.var_offset = list(var_offset)

    def single_offset(self, shape) -> int:
        """The part's offset along its split axis."""
        return self.var_offset[self.single_slice_dim(shape)]

    def single_slice_dim(self, shape) -> int:
        """The axis the part is split along: the one where its shape differs from the full one."""
        for i, (part, full) in enumerate(zip(shape, self.full_shape)):
            if part != full:
                return i
        return 0


class PartitionedVariable:
    """The parts of a variable split along one axis; converted to a tensor, their concatenation.

    >>> w = tf.get_variable("w", [10, 4], partitioner=tf.fixed_size_partitioner(2))
    >>> [v.name for v in w]
    ['w/part_0:0', 'w/part_1:0']
    """

    def __init__(self, name: str, shape, dtype, variable_list: list, partitions: list):
        if not isinstance(variable_list, list | tuple):
            raise TypeError(f"variable_list is not a list or tuple: {variable_list}")
        if not variable_list:
            raise ValueError("variable_list may not be empty")
        if not all(p >= 1 for p in partitions):
            raise ValueError(f"partition values must be positive: {partitions}")
        self._name = name
        self._shape = as_shape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        self._variable_list = list(variable_list)
        self._partitions = list(partitions)

    name = property(lambda self: self._name)
    dtype = property(lambda self: self._dtype)
    shape = property(lambda self: self._shape)
    graph = property(lambda self: self._variable_list[0].graph)

    def get_shape(self) -> TensorShape:
        return self._shape

    def __iter__(self):
        return iter(self._variable_list)

    def __len__(self) -> int:
        return len(self._variable_list)

    def _get_variable_list(self) -> list:
        return self._variable_list

    def _get_partitions(self) -> list:
        return self._partitions

    def _axis(self) -> int:
        split = [i for i, p in enumerate(self._partitions) if p > 1]
        return split[0] if split else 0

    def as_tensor(self):
        """The whole variable's value: the parts concatenated (outside any control dependencies)."""
        with control_dependencies(None):
            return self._concat()

    def _concat(self):
        graph = self.graph
        with graph.as_default():
            if len(self._variable_list) == 1:
                with name_scope(None):
                    return api.identity(self._variable_list[0], name=self._name)
            with name_scope(self._name + "/ConcatPartitions/"):
                concatenated = api.concat(list(self._variable_list), self._axis())
            with name_scope(None):
                return api.identity(concatenated, name=self._name)

    def _as_tensor(self):
        """What an op reading the variable takes (raygraph's conversion hook)."""
        return self.as_tensor()

    def _assign_each(self, method: str, value, use_locking, name, read_value):
        if isinstance(value, list | PartitionedVariable):
            values = list(value)
        else:
            sizes = [v.shape.dims[self._axis()] for v in self._variable_list]
            values = api.split(value, sizes, axis=self._axis())
        updates = [
            getattr(v, method)(x, use_locking=use_locking, name=name, read_value=read_value)
            for v, x in zip(self._variable_list, values)
        ]
        return updates

    def assign(self, value, use_locking=False, name=None, read_value=True) -> list:
        """Assigns each part its slice of `value` (or the i-th of a list); returns the updates."""
        return self._assign_each("assign", value, use_locking, name, read_value)

    def assign_add(self, value, use_locking=False, name=None, read_value=True) -> list:
        return self._assign_each("assign_add", value, use_locking, name, read_value)

    def assign_sub(self, value, use_locking=False, name=None, read_value=True) -> list:
        return self._assign_each("assign_sub", value, use_locking, name, read_value)

    def __repr__(self) -> str:
        return f"<PartitionedVariable '{self._name}' shape={self._shape} parts={len(self)}>"


def call_partitioner(partitioner, shape: TensorShape, dtype) -> list:
    """The partitioner's answer for a new variable, checked as TF checks it."""
    if not shape.is_fully_defined():
        raise ValueError(
            f"Shape of a new partitioned variable must be fully defined, but instead was {shape}."
        )
    if shape.ndims < 1:
        raise ValueError(f"A partitioned Variable must have rank at least 1, shape: {shape}")
    slicing = partitioner(shape=shape, dtype=dtypes.as_dtype(dtype))
    if not isinstance(slicing, Sequence):
        raise ValueError(f"Partitioner must return a sequence, but saw: {slicing}")
    if len(slicing) != shape.ndims:
        raise ValueError(
            f"Partitioner returned a partition list that does not match the Variable's rank: {slicing} vs. {shape}"
        )
    if any(p < 1 for p in slicing):
        raise ValueError(f"Partitioner returned zero partitions for some axes: {slicing}")
    if sum(p > 1 for p in slicing) > 1:
        raise ValueError(
            f"Can only slice a variable along one dimension: shape: {shape}, partitioning: {slicing}"
        )
    return list(slicing)


def slices(full_shape: list, partitions: list):
    """(offset, shape) of each part: the first (size % n) parts along the split axis one longer."""
    axis = next((i for i, p in enumerate(partitions) if p > 1), 0)
    n = partitions[axis] if partitions else 1
    longer, base = full_shape[axis] % n, full_shape[axis] // n
    offset = [0] * len(full_shape)
    for i in range(n):
        shape = list(full_shape)
        shape[axis] = base + (1 if i < longer else 0)
        yield list(offset), shape
        offset[axis] += shape[axis]


def get_partitioned_variable(store, name, partitioner, shape, dtype, initializer, reuse, **single_kwargs):
    """The PartitionedVariable `name` of the variable store `store`: found, or created part by part.

    `single_kwargs` go to each part's `store._get_single_variable` (regularizer,
    trainable, collections, ...). Applies TF1's reuse rules and errors.
    """
    from raygraph.graph import Tensor, convert_to_tensor

    if name in store.vars:
        raise ValueError(
            "A partitioner was provided, but an unpartitioned version of the variable was found: "
            f"{name}.  Perhaps a variable of the same name was already created without partitioning?"
        )
    shape = as_shape(shape)
    from_tensor = isinstance(initializer, Tensor)
    if from_tensor:
        shape = shape.merge_with(initializer.shape)
    partitions = call_partitioner(partitioner, shape, dtype) if (not reuse or partitioner) else None
    if name in store.partitioned:
        return _existing(store.partitioned[name], name, shape, dtype, reuse, partitions)
    if reuse is True:
        raise ValueError(
            f"PartitionedVariable {name} does not exist, or was not created with tf.get_variable(). "
            "Did you mean to set reuse=False or reuse=tf.AUTO_REUSE in VarScope?"
        )
    n_parts = max(partitions)
    if f"{name}/part_0" in store.vars:
        missing = f"{name}/part_{n_parts - 1}" not in store.vars
        if missing or f"{name}/part_{n_parts}" in store.vars:
            raise ValueError(
                f"Partitioner returned a different partitioning than what was already found.  Partitioner "
                f"returned {n_parts} shards, and shard {name}/part_0 was found, but "
                + (
                    f"{name}/part_{n_parts - 1} was not."
                    if missing
                    else f"so was the extra shard {name}/part_{n_parts}."
                )
            )
    parts = []
    for i, (offset, part_shape) in enumerate(slices(shape.as_list(), partitions)):
        part_name = f"{name}/part_{i}"
        with name_scope(part_name + "/PartitionedInitializer"):
            if initializer is None or callable(initializer):
                init, init_shape = initializer, part_shape
            else:
                whole = initializer if from_tensor else convert_to_tensor(initializer, dtype=dtype)
                init, init_shape = api.slice(whole, offset, part_shape), None
                dtype = init.dtype.base_dtype
        with name_scope(None):
            parts.append(
                store._get_single_variable(
                    part_name,
                    init_shape,
                    dtypes.as_dtype(dtype),
                    init,
                    reuse=reuse,
                    partition_info=PartitionInfo(shape.as_list(), offset),
                    **single_kwargs,
                )
            )
    variable = PartitionedVariable(name, shape, dtype, parts, partitions)
    store.partitioned[name] = variable
    return variable


def _existing(found: PartitionedVariable, name, shape, dtype, reuse, partitions):
    if reuse is False:
        raise ValueError(
            f"Partitioned variable with name {name} already exists. Did you mean to set reuse=True or "
            "reuse=tf.AUTO_REUSE in VarScope?"
        )
    if not shape.is_compatible_with(found.get_shape()):
        raise ValueError(
            f"Trying to reuse partitioned variable {name}, but specified shape {shape} and found shape "
            f"{found.get_shape()}."
        )
    if dtypes.as_dtype(dtype) != found.dtype:
        raise ValueError(
            f"Trying to reuse partitioned variable {name}, but specified dtype {dtypes.as_dtype(dtype).name} "
            f"and found dtype {found.dtype.name}."
        )
    if partitions is not None and found._get_partitions() != partitions:
        raise ValueError(
            f"Trying to reuse partitioned variable {name}, but specified partitions {partitions} and found "
            f"partitions {found._get_partitions()}."
        )
    return found
