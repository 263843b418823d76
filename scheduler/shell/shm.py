"""Feeds through shared memory, for device actors on the driver's own node.

A feed of 800 KB sent through a socket is copied into the kernel and out again,
in pieces, each a wake-up of the other process: on the 2-core development VM
that cost more than the whole step's transfer budget. When the actor runs on
the driver's node, a large feed is instead written once, as an Arrow IPC tensor
message, into a file in /dev/shm that both processes map; the request carries
only (path, offset, length) and the actor reads the tensor in place, zero copy.

`FeedArena` (driver side, one per channel) keeps `SLOTS` slots, one per run in
flight, used round robin; each slot is a file that grows (a new file) when a
run's feeds do not fit. A slot is reused only by the run `SLOTS` runs later,
and the scheduler never has more than SLOTS - 1 runs unread on a channel
(scheduler.central's MAX_DETACHED), so a slot is never rewritten while the actor
may still read it. Arrays the actor keeps beyond a run are copies (fed arrays
are read-only; scheduler.executor copies them on assignment).

On the actor side, `ShmTensor` unpickles to the array by mapping the file
(mappings are cached per path, a few at a time).
"""

from __future__ import annotations

import atexit
import itertools
import mmap
import os
import threading
import weakref

import numpy as np
import pyarrow as pa

MIN_BYTES = 64 * 1024  # smaller feeds travel inside the request
SLOTS = 4
_ALIGN = 64
_names = itertools.count()


class ShmTensor:
    """A feed written in a shared-memory file; unpickles to the numpy array, in place."""

    __slots__ = ("path", "offset", "length", "is_bool")

    def __init__(self, path: str, offset: int, length: int, is_bool: bool):
        self.path, self.offset, self.length, self.is_bool = path, offset, length, is_bool

    def __reduce__(self):
        return _attach, (self.path, self.offset, self.length, self.is_bool)


class _Slot:
    def __init__(self):
        self.path: str | None = None
        self.map: mmap.mmap | None = None
        self.size = 0
        self.used = 0

    def ensure(self, size: int) -> None:
        if size <= self.size:
            return
        self.close()
        size = max(size, 1 << 20)
        self.path = f"/dev/shm/raygraph-{os.getpid()}-{next(_names)}"
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, size)
            self.map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.size = size

    def close(self) -> None:
        if self.map is not None:
            try:
                self.map.close()
            except BufferError:  # an array still views it: the mapping goes with it
                pass
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        self.path, self.map, self.size = None, None, 0


class FeedArena:
    """The driver's shared-memory slots for one channel's feeds (files removed at close or exit)."""

    def __init__(self):
        self.slots = [_Slot() for _ in range(SLOTS)]
        self.turn = -1
        _open_arenas.add(self)

    def begin(self, arrays: list) -> None:
        """Starts the next run's slot, sized for `arrays` (those sent through memory)."""
        self.turn = (self.turn + 1) % SLOTS
        slot = self.slots[self.turn]
        need = sum(
            _aligned(pa.ipc.get_tensor_size(pa.Tensor.from_numpy(_numeric(a)[0])))
            for a in arrays
            if _wants_shm(a)
        )
        if need:
            slot.ensure(need)
        slot.used = 0

    def pack(self, array):
        """A ShmTensor for a large numeric array written into the current slot, else None."""
        if not _wants_shm(array):
            return None
        slot = self.slots[self.turn]
        array, is_bool = _numeric(array)
        tensor = pa.Tensor.from_numpy(array)
        length = pa.ipc.get_tensor_size(tensor)
        if slot.map is None or slot.used + length > slot.size:
            return None
        view = pa.py_buffer(memoryview(slot.map)[slot.used : slot.used + length])
        pa.ipc.write_tensor(tensor, pa.FixedSizeBufferWriter(view))
        packed = ShmTensor(slot.path, slot.used, length, is_bool)
        slot.used += _aligned(length)
        return packed

    def close(self) -> None:
        for slot in self.slots:
            slot.close()


_open_arenas: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Removes this process's shared-memory files when it exits without closing its sessions."""
    for arena in list(_open_arenas):
        arena.close()


def _wants_shm(array) -> bool:
    return isinstance(array, np.ndarray) and array.nbytes >= MIN_BYTES and array.dtype.kind in "biuf"


def _numeric(array: np.ndarray):
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        array = np.ascontiguousarray(array)
    if array.dtype == np.bool_:  # Arrow tensors hold numbers only
        return array.view(np.uint8), True
    return array, False


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


# -- the actor side ------------------------------------------------------------

_maps: dict[str, mmap.mmap] = {}
_maps_lock = threading.Lock()
_MAPS_KEPT = 4 * SLOTS


def _attach(path: str, offset: int, length: int, is_bool: bool) -> np.ndarray:
    with _maps_lock:
        mapped = _maps.get(path)
        if mapped is None:
            fd = os.open(path, os.O_RDONLY)
            try:
                mapped = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
            finally:
                os.close(fd)
            _maps[path] = mapped
            if len(_maps) > _MAPS_KEPT:
                _forget_oldest()
    buffer = pa.py_buffer(memoryview(mapped)[offset : offset + length])
    array = pa.ipc.read_tensor(pa.BufferReader(buffer)).to_numpy()
    return array.view(np.bool_) if is_bool else array


def _forget_oldest() -> None:
    path = next(iter(_maps))
    try:
        _maps.pop(path).close()
    except BufferError:  # still viewed by a running step: keep it a little longer
        pass
