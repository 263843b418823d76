"""Tensors between processes: Apache Arrow IPC inside Ray's object store.

`Packed(array)` is what crosses a process boundary (feeds, fetches, transfers
between device actors). When Ray pickles it, the array is written as one Arrow
IPC tensor message into a buffer that Ray stores out of band (pickle protocol 5);
reading it back wraps `pyarrow.ipc.read_tensor` over that buffer, so the numpy
array the receiver gets points into the object store: no copy, and read-only.

Arrow's tensor format holds numbers only: bools travel as uint8, and object
(string) arrays fall back to plain pickle.
"""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa


class Packed:
    """A numpy array that Ray serializes as an Arrow IPC tensor message."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __reduce__(self):
        array = np.asarray(self.array)
        if array.dtype.kind == "O":
            return _unpack_pickled, (pickle.dumps(array),)
        if not (array.flags.c_contiguous or array.flags.f_contiguous):
            array = np.ascontiguousarray(array)
        is_bool = array.dtype == np.bool_
        if is_bool:  # Arrow tensors hold numbers only: bools travel as uint8
            array = array.view(np.uint8)
        sink = pa.BufferOutputStream()
        pa.ipc.write_tensor(pa.Tensor.from_numpy(array), sink)
        return _unpack, (pickle.PickleBuffer(sink.getvalue()), is_bool)


def _unpack(buffer, is_bool: bool = False) -> np.ndarray:
    array = pa.ipc.read_tensor(pa.BufferReader(pa.py_buffer(buffer))).to_numpy()
    return array.view(np.bool_) if is_bool else array


def _unpack_pickled(data: bytes) -> np.ndarray:
    return pickle.loads(data)


def pack(array) -> Packed:
    return Packed(array)


def pack_all(arrays) -> list[Packed]:
    return [Packed(a) for a in arrays]
