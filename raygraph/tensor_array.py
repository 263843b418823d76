"""tf.TensorArray: a list of tensors that a loop writes one element per iteration.

The Python object is a handle on its `flow`, a tensor of dtype variant whose
run-time value holds the elements (ops.tensor_array). Every write returns a new
TensorArray object on the new flow, as in TensorFlow 1.x; pass the returned one
on (a loop body returns it as a loop variable).

>>> ta = tf.TensorArray(tf.float32, size=3)
>>> ta = ta.write(0, 1.0).write(1, 2.0).write(2, 3.0)
>>> sess.run(ta.stack())
array([1., 2., 3.], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from ops import api
from ops.common import constant_value
from ops.registry import build
from raygraph import dtypes
from raygraph.graph import Tensor, constant_op, convert_to_tensor, name_scope
from raygraph.shapes import TensorShape, as_shape


class TensorArray:
    """TensorFlow 1.x's TensorArray (tf.TensorArray), with its argument names."""

    def __init__(
        self,
        dtype,
        size=None,
        dynamic_size=None,
        clear_after_read=None,
        tensor_array_name=None,
        handle=None,
        flow=None,
        infer_shape=True,
        element_shape=None,
        colocate_with_first_write_call=True,
        name=None,
    ):
        self._dtype = dtypes.as_dtype(dtype)
        self._dynamic_size = bool(dynamic_size)
        self._infer_shape = infer_shape
        self._element_shape = [as_shape(element_shape)]  # shared by the TensorArrays derived from this one
        self._static_size = None
        if flow is None and handle is not None:
            flow = handle
        if flow is None:
            if size is None:
                raise ValueError("Size must be provided if handle is not provided")
            with name_scope(name or tensor_array_name, "TensorArray", [size]) as scope:
                size = convert_to_tensor(size, dtype=dtypes.int32, name="size")
                flow = build(
                    "TensorArrayV3",
                    [size],
                    {
                        "dtype": self._dtype,
                        "element_shape": self._element_shape[0],
                        "dynamic_size": self._dynamic_size,
                        "clear_after_read": True if clear_after_read is None else bool(clear_after_read),
                    },
                    name=scope,
                )
            value = constant_value(size)
            if value is not None and not self._dynamic_size:
                self._static_size = int(value)
        self._flow = flow

    # -- what TensorFlow exposes --
    @property
    def dtype(self):
        return self._dtype

    @property
    def flow(self) -> Tensor:
        """The tensor that carries the array through the graph."""
        return self._flow

    @property
    def handle(self) -> Tensor:
        return self._flow

    @property
    def element_shape(self) -> TensorShape:
        return self._element_shape[0]

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic_size

    def _derive(self, flow: Tensor) -> TensorArray:
        """The same array after an op: shares dtype, size and the inferred element shape."""
        out = TensorArray.__new__(TensorArray)
        out._dtype = self._dtype
        out._dynamic_size = self._dynamic_size
        out._infer_shape = self._infer_shape
        out._element_shape = self._element_shape
        out._static_size = self._static_size
        out._flow = flow
        return out

    def _merge_shape(self, shape: TensorShape) -> None:
        if not self._infer_shape:
            return
        current = self._element_shape[0]
        if not current.is_compatible_with(shape):
            raise ValueError(
                f"Inconsistent shapes: saw {shape} but expected {current} (and infer_shape=True)"
            )
        self._element_shape[0] = current.merge_with(shape)

    def _value(self, value, what="value") -> Tensor:
        value = convert_to_tensor(value, preferred_dtype=self._dtype, name=what)
        if value.dtype != self._dtype:
            raise TypeError(
                f"TensorArray dtype is {self._dtype.name} but Op is trying to write dtype {value.dtype.name}"
            )
        return value

    # -- elements --
    def read(self, index, name=None) -> Tensor:
        """The element at `index`."""
        with name_scope(name, "TensorArrayReadV3"):
            value = build(
                "TensorArrayReadV3",
                [self._flow, convert_to_tensor(index, dtype=dtypes.int32)],
                {"dtype": self._dtype, "element_shape": self.element_shape},
            )
        return value

    def write(self, index, value, name=None) -> TensorArray:
        """A TensorArray with `value` stored at `index`."""
        with name_scope(name, "TensorArrayWrite"):
            value = self._value(value)
            self._merge_shape(value.shape)
            flow = build(
                "TensorArrayWriteV3", [self._flow, convert_to_tensor(index, dtype=dtypes.int32), value]
            )
        return self._derive(flow)

    def stack(self, name=None) -> Tensor:
        """Every element, stacked along a new first axis."""
        with name_scope(name, "TensorArrayStack"):
            return build(
                "TensorArrayStackV3",
                [self._flow],
                {"dtype": self._dtype, "element_shape": self.element_shape, "size": self._static_size},
            )

    def gather(self, indices, name=None) -> Tensor:
        """The elements at `indices`, stacked."""
        with name_scope(name, "TensorArrayGather"):
            return build(
                "TensorArrayGatherV3",
                [self._flow, convert_to_tensor(indices, dtype=dtypes.int32)],
                {"dtype": self._dtype, "element_shape": self.element_shape},
            )

    def unstack(self, value, name=None) -> TensorArray:
        """A TensorArray holding the rows of `value`."""
        with name_scope(name, "TensorArrayUnstack"):
            value = self._value(value)
            if value.shape.ndims is not None:
                if value.shape.ndims == 0:
                    raise ValueError("Shape must be at least rank 1 but is rank 0 (TensorArray.unstack)")
                self._merge_shape(TensorShape(value.shape.dims[1:]))
            n = api.shape(value, out_type=dtypes.int32)[0]
            indices = api.range(0, n)
            flow = build("TensorArrayScatterV3", [self._flow, indices, value])
        return self._derive(flow)

    def scatter(self, indices, value, name=None) -> TensorArray:
        """A TensorArray with the rows of `value` stored at `indices`."""
        with name_scope(name, "TensorArrayScatter"):
            value = self._value(value)
            if value.shape.ndims:
                self._merge_shape(TensorShape(value.shape.dims[1:]))
            flow = build(
                "TensorArrayScatterV3", [self._flow, convert_to_tensor(indices, dtype=dtypes.int32), value]
            )
        return self._derive(flow)

    def concat(self, name=None) -> Tensor:
        """Every element, concatenated along the first axis."""
        with name_scope(name, "TensorArrayConcat"):
            shape = self.element_shape
            rest = TensorShape(shape.dims[1:]) if shape.ndims else TensorShape(None)
            value, _ = build(
                "TensorArrayConcatV3", [self._flow], {"dtype": self._dtype, "element_shape_except0": rest}
            )
        return value

    def split(self, value, lengths, name=None) -> TensorArray:
        """A TensorArray holding pieces of `value` of the given `lengths` along axis 0."""
        with name_scope(name, "TensorArraySplit"):
            value = self._value(value)
            lengths = convert_to_tensor(lengths, dtype=dtypes.int64, name="lengths")
            flow = build("TensorArraySplitV3", [self._flow, value, lengths])
        return self._derive(flow)

    def size(self, name=None) -> Tensor:
        """The number of elements (an int32 scalar)."""
        if self._static_size is not None:
            return constant_op(np.int32(self._static_size), name=name or "TensorArraySize")
        return build("TensorArraySizeV3", [self._flow], name=name)

    def identity(self) -> TensorArray:
        """This TensorArray on a new flow (ordering, as in TensorFlow)."""
        return self._derive(api.identity(self._flow))

    def close(self, name=None):
        """Does nothing (the elements are freed with the run's values)."""
        return api.no_op(name=name or "TensorArrayClose")

    def __repr__(self) -> str:
        return f"<tf.TensorArray dtype={self._dtype.name} flow={self._flow.name}>"
