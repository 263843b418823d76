"""TensorArray ops: lists of tensors that loops write and read (tf.TensorArray).

A TensorArray's value at run time is a `TensorList`, a host object carried by a
tensor of dtype variant (the TensorArray's `flow`). As in TensorFlow 1.x, a
TensorArray is mutable: a write stores into the list and returns it, so a loop
writing one element per iteration costs O(1) per write. Each index is written
once (a second write is an error, as in TensorFlow).

Gradients are TensorLists too, with `grad=True`: sparse (an index never
written reads as zeros) and added with `+`, so the gradients of the reads of
one TensorArray in every iteration of a loop sum up to one list. The public
class is raygraph.tensor_array.TensorArray.
"""

from __future__ import annotations

import numpy as np

from ops.common import check_scalar
from ops.registry import Op
from raygraph import dtypes, errors
from raygraph.shapes import TensorShape, as_shape


class TensorList:
    """The run-time value of a TensorArray: elements by index."""

    __slots__ = ("items", "size", "dynamic", "grad", "element_shape")

    def __init__(self, size: int = 0, dynamic: bool = True, grad: bool = False, element_shape=None):
        self.items: dict[int, object] = {}
        self.size = size
        self.dynamic = dynamic
        self.grad = grad
        self.element_shape = element_shape

    @classmethod
    def empty(cls) -> TensorList:
        """A gradient list with nothing in it (all zeros)."""
        return cls(0, True, grad=True)

    def __len__(self) -> int:
        top = max(self.items) + 1 if self.items else 0
        return max(self.size, top)

    def __add__(self, other: TensorList) -> TensorList:
        if other is None:
            return self
        out = TensorList(max(self.size, other.size), True, grad=True)
        out.items = dict(self.items)
        for k, v in other.items.items():
            out.items[k] = out.items[k] + v if k in out.items else v
        return out

    __radd__ = __add__

    def __repr__(self) -> str:
        kind = "gradient " if self.grad else ""
        return f"<TensorList {kind}of {len(self)} elements>"

    # -- element access, with TensorFlow's errors --
    def write(self, index: int, value) -> None:
        if index < 0:
            raise errors.InvalidArgumentError(
                None, None, f"Tried to write to index {index} but it is negative"
            )
        if not self.dynamic and index >= self.size:
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Tried to write to index {index} but array is not resizeable and size is: {self.size}",
            )
        if index in self.items and not self.grad:
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Could not write to TensorArray index {index} because it has already been written to.",
            )
        self.items[index] = value

    def read(self, index: int, like=None):
        value = self.items.get(index)
        if value is not None:
            return value
        if self.grad and like is not None:
            return np.zeros_like(like) if isinstance(like, np.ndarray | np.generic) else like * 0
        if index >= len(self) and not self.grad:
            raise errors.InvalidArgumentError(
                None, None, f"Tried to read from index {index} but array size is: {len(self)}"
            )
        raise errors.InvalidArgumentError(
            None,
            None,
            f"Could not read from TensorArray index {index} because it has not yet been written to.",
        )


def _index(i) -> int:
    return int(i)


def _flow_grad(dflow):
    return dflow if dflow is not None else TensorList.empty()


def _check_flow(t, what="flow_in"):
    if t.dtype != dtypes.variant:
        raise TypeError(f"{what} must be a TensorArray's flow (variant), got {t.dtype.name}")


class TensorArrayV3(Op):
    """A new, empty TensorArray (`tf.TensorArray(dtype, size)`); its output is the flow."""

    inputs = ("size",)
    attrs = {"dtype": dtypes.float32, "element_shape": None, "dynamic_size": False, "clear_after_read": True}
    stateful = True
    differentiable = False
    cost = "free"

    def infer(size, dtype, element_shape, dynamic_size, clear_after_read):
        check_scalar(size, "size", "int")
        return dtypes.variant, TensorShape([])

    def kernel(ctx, size, dtype, element_shape, dynamic_size, clear_after_read):
        return TensorList(int(size), bool(dynamic_size), element_shape=element_shape)


class EmptyTensorList(Op):
    """A gradient TensorList with nothing written: the zero gradient of a TensorArray."""

    differentiable = False
    cost = "free"

    def infer():
        return dtypes.variant, TensorShape([])

    def kernel(xp):
        return TensorList.empty()


class TensorArrayWriteV3(Op):
    """Stores `value` at `index`; returns the flow."""

    inputs = ("flow_in", "index", "value")

    def infer(flow_in, index, value):
        _check_flow(flow_in)
        check_scalar(index, "index", "int")
        return dtypes.variant, TensorShape([])

    def kernel(xp, flow_in, index, value):
        flow_in.write(_index(index), value)
        return flow_in

    def grad(op, dflow):
        _, index, value = op.inputs
        return [dflow, None, TensorArrayReadGrad.build(dflow, index, value)]


class TensorArrayReadV3(Op):
    """The element at `index`."""

    inputs = ("flow_in", "index")
    attrs = {"dtype": dtypes.float32, "element_shape": None}
    cost = "free"

    def infer(flow_in, index, dtype, element_shape):
        _check_flow(flow_in)
        check_scalar(index, "index", "int")
        return dtype, as_shape(element_shape)

    def kernel(xp, flow_in, index, dtype, element_shape):
        return flow_in.read(_index(index))

    def grad(op, dvalue):
        from ops.registry import build

        return [build("TensorArrayWriteGrad", [op.inputs[1], dvalue]), None]


class TensorArrayReadGrad(Op):
    """The gradient list's element at `index`, zeros (like `value`) if none was written."""

    inputs = ("flow_in", "index", "value")
    differentiable = False
    cost = "free"

    def infer(flow_in, index, value):
        return value.dtype, value.shape

    def kernel(xp, flow_in, index, value):
        if flow_in is None:
            return xp.zeros_like(value)
        got = flow_in.items.get(_index(index))
        return got if got is not None else xp.zeros_like(value)

    @staticmethod
    def build(dflow, index, value):
        from ops.registry import build

        return build("TensorArrayReadGrad", [_flow_grad_tensor(dflow), index, value])


def _flow_grad_tensor(dflow):
    from ops.registry import build

    return dflow if dflow is not None else build("EmptyTensorList", [])


class TensorArrayWriteGrad(Op):
    """A gradient list holding `value` at `index` (the gradient of a read)."""

    inputs = ("index", "value")
    differentiable = False
    cost = "free"

    def infer(index, value):
        return dtypes.variant, TensorShape([])

    def kernel(xp, index, value):
        out = TensorList(0, True, grad=True)
        out.items[_index(index)] = value
        return out


class TensorArrayGatherV3(Op):
    """The elements at `indices`, stacked (TensorArray.gather and .stack)."""

    inputs = ("flow_in", "indices")
    attrs = {"dtype": dtypes.float32, "element_shape": None}

    def infer(flow_in, indices, dtype, element_shape):
        _check_flow(flow_in)
        n = indices.shape[0] if indices.shape.ndims == 1 else None
        element = as_shape(element_shape)
        if element.ndims is None:
            return dtype, TensorShape(None)
        return dtype, TensorShape([n, *element.dims])

    def kernel(xp, flow_in, indices, dtype, element_shape):
        idx = [int(i) for i in np.asarray(indices).reshape(-1)]
        if not idx:
            shape = as_shape(element_shape)
            dims = [d if d is not None else 0 for d in (shape.as_list() if shape.ndims is not None else [])]
            return xp.zeros([0, *dims], dtype.np)
        return xp.stack([flow_in.read(i) for i in idx])

    def grad(op, dvalue):
        from ops.registry import build

        return [build("TensorArrayScatterGrad", [op.inputs[1], dvalue]), None]


class TensorArrayStackV3(Op):
    """Every element, stacked along a new first axis."""

    inputs = ("flow_in",)
    attrs = {"dtype": dtypes.float32, "element_shape": None, "size": None}

    def infer(flow_in, dtype, element_shape, size):
        _check_flow(flow_in)
        element = as_shape(element_shape)
        if element.ndims is None:
            return dtype, TensorShape(None)
        return dtype, TensorShape([size, *element.dims])

    def kernel(xp, flow_in, dtype, element_shape, size):
        n = len(flow_in)
        if n == 0:
            shape = as_shape(element_shape)
            dims = [d if d is not None else 0 for d in (shape.as_list() if shape.ndims is not None else [])]
            return xp.zeros([0, *dims], dtype.np)
        return xp.stack([flow_in.read(i) for i in range(n)])

    def grad(op, dvalue):
        from ops.registry import build

        return [build("TensorArrayFromRows", [dvalue])]


class TensorArrayFromRows(Op):
    """A gradient list of the rows of `value` (the gradient of stack)."""

    inputs = ("value",)
    differentiable = False
    cost = "free"

    def infer(value):
        return dtypes.variant, TensorShape([])

    def kernel(xp, value):
        out = TensorList(len(value), True, grad=True)
        out.items = {i: value[i] for i in range(len(value))}
        return out


class TensorArrayScatterGrad(Op):
    """A gradient list with the rows of `value` at `indices` (the gradient of gather)."""

    inputs = ("indices", "value")
    differentiable = False
    cost = "free"

    def infer(indices, value):
        return dtypes.variant, TensorShape([])

    def kernel(xp, indices, value):
        out = TensorList(0, True, grad=True)
        for row, i in enumerate(np.asarray(indices).reshape(-1)):
            i = int(i)
            out.items[i] = out.items[i] + value[row] if i in out.items else value[row]
        return out


class TensorArrayScatterV3(Op):
    """Stores the rows of `value` at `indices` (TensorArray.scatter and .unstack)."""

    inputs = ("flow_in", "indices", "value")

    def infer(flow_in, indices, value):
        _check_flow(flow_in)
        return dtypes.variant, TensorShape([])

    def kernel(xp, flow_in, indices, value):
        idx = np.asarray(indices).reshape(-1)
        if len(idx) != len(value):
            raise errors.InvalidArgumentError(
                None, None, f"Expected len(indices) == value.shape[0], but saw: {len(idx)} vs. {len(value)}"
            )
        for row, i in enumerate(idx):
            flow_in.write(int(i), value[row])
        return flow_in

    def grad(op, dflow):
        from ops.registry import build

        return [
            dflow,
            None,
            build("TensorArrayGatherGrad", [_flow_grad_tensor(dflow), op.inputs[1], op.inputs[2]]),
        ]


class TensorArrayGatherGrad(Op):
    """The rows at `indices` of a gradient list, zeros where none was written."""

    inputs = ("flow_in", "indices", "value")
    differentiable = False

    def infer(flow_in, indices, value):
        return value.dtype, value.shape

    def kernel(xp, flow_in, indices, value):
        out = xp.zeros_like(value)
        if flow_in is not None:
            for row, i in enumerate(np.asarray(indices).reshape(-1)):
                got = flow_in.items.get(int(i))
                if got is not None:
                    out[row] = got
        return out


class TensorArrayConcatV3(Op):
    """Every element, concatenated along the first axis; also the elements' lengths."""

    inputs = ("flow_in",)
    attrs = {"dtype": dtypes.float32, "element_shape_except0": None}
    multi_output = True

    def infer(flow_in, dtype, element_shape_except0):
        rest = as_shape(element_shape_except0)
        shape = TensorShape(None) if rest.ndims is None else TensorShape([None, *rest.dims])
        return [(dtype, shape), (dtypes.int64, TensorShape([None]))]

    def kernel(xp, flow_in, dtype, element_shape_except0):
        items = [flow_in.read(i) for i in range(len(flow_in))]
        lengths = np.array([len(v) for v in items], np.int64)
        return [xp.concatenate(items) if items else xp.zeros([0], dtype.np), lengths]

    def grad(op, dvalue, dlengths):
        from ops.registry import build

        return [build("TensorArraySplitGrad", [dvalue, op.outputs[1]])]


class TensorArraySplitGrad(Op):
    """A gradient list of `value` split into pieces of `lengths` (the gradient of concat)."""

    inputs = ("value", "lengths")
    differentiable = False

    def infer(value, lengths):
        return dtypes.variant, TensorShape([])

    def kernel(xp, value, lengths):
        out = TensorList(len(lengths), True, grad=True)
        start = 0
        for i, n in enumerate(np.asarray(lengths)):
            out.items[i] = value[start : start + int(n)]
            start += int(n)
        return out


class TensorArraySplitV3(Op):
    """Stores pieces of `value` of the given `lengths` (TensorArray.split)."""

    inputs = ("flow_in", "value", "lengths")

    def infer(flow_in, value, lengths):
        _check_flow(flow_in)
        return dtypes.variant, TensorShape([])

    def kernel(xp, flow_in, value, lengths):
        lengths = np.asarray(lengths).reshape(-1)
        if int(lengths.sum()) != len(value):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Expected sum of lengths to be equal to values.shape[0], but sum of lengths is "
                f"{int(lengths.sum())} and value's shape is: {list(value.shape)}",
            )
        start = 0
        for i, n in enumerate(lengths):
            flow_in.write(i, value[start : start + int(n)])
            start += int(n)
        return flow_in

    def grad(op, dflow):
        from ops.registry import build

        return [
            dflow,
            build("TensorArrayConcatGrad", [_flow_grad_tensor(dflow), op.inputs[1], op.inputs[2]]),
            None,
        ]


class TensorArrayConcatGrad(Op):
    """The gradient list's pieces concatenated back into `value`'s shape (zeros where unwritten)."""

    inputs = ("flow_in", "value", "lengths")
    differentiable = False

    def infer(flow_in, value, lengths):
        return value.dtype, value.shape

    def kernel(xp, flow_in, value, lengths):
        out = xp.zeros_like(value)
        start = 0
        for i, n in enumerate(np.asarray(lengths).reshape(-1)):
            got = flow_in.items.get(i) if flow_in is not None else None
            if got is not None:
                out[start : start + int(n)] = got
            start += int(n)
        return out


class TensorArraySizeV3(Op):
    """The number of elements."""

    inputs = ("flow_in",)
    differentiable = False
    cost = "free"

    def infer(flow_in):
        _check_flow(flow_in)
        return dtypes.int32, TensorShape([])

    def kernel(xp, flow_in):
        return np.int32(len(flow_in))
