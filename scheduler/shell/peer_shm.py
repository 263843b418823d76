"""Tensors between device actors of one node, through shared memory.

A transfer between two device actors is a Ray call (scheduler.shell.actor).
Ray puts an argument over 100 KB into its object store, which costs ~6 ms for
the 6.4 MB gradient of the data-parallel benchmark on these machines (the
store faults its pages in afresh for every object: BENCHMARKS.md,
"Data parallelism: two replicas"), on the sending device's compute thread. When both actors run
on one node, a large tensor is instead written into a shared-memory file that
the sender keeps mapped and reuses, and the call carries only (path, slot,
length): the receiver maps the file once and reads the tensor in place, with
no copy.

`PeerRing` (sender side, one per destination actor) keeps `SLOTS` files, used
round robin. Byte 0 of a file is its busy flag: the sender sets it when it
writes a tensor there, and the receiver clears it when the last array viewing
that tensor is freed (a weakref finalizer on the array every view of it keeps
alive). The sender writes only into a slot whose flag is clear; when none is,
or /dev/shm has no room, the tensor travels through Ray's object store as
before. So a tensor is never overwritten while the receiver holds it, however
long that is.

Files are named, reserved and swept as the driver's feed files are
(scheduler.shell.shm): the receiver unlinks a file once it has mapped it, the
sender when it replaces or closes a slot, and the files of a process that died
in between are removed by the next process that makes an arena or a ring.
"""

from __future__ import annotations

import atexit
import collections
import mmap
import secrets
import threading
import weakref

import numpy as np
import pyarrow as pa

from scheduler.shell import shm

SLOTS = 4
HEADER = 64  # byte 0: the busy flag; the tensor's Arrow IPC message starts here
MAPS_KEPT = 64  # receiver side: the (ring, slot) mappings kept, most recently used
INSTEAD = "tensors between device actors of this node go through Ray's object store instead"


class PeerShmTensor:
    """A tensor written into a peer ring's slot; unpickles to the array, read in place."""

    __slots__ = ("path", "ring", "slot", "length", "is_bool")

    def __init__(self, path: str, ring: str, slot: int, length: int, is_bool: bool):
        self.path, self.ring, self.slot, self.length, self.is_bool = path, ring, slot, length, is_bool

    def __reduce__(self):
        return _attach, (self.path, self.ring, self.slot, self.length, self.is_bool)


class PeerRing:
    """The sender's shared-memory slots for one destination actor (files removed at close or exit)."""

    def __init__(self):
        self.id = secrets.token_hex(8)
        self.slots = [shm._Slot() for _ in range(SLOTS)]
        self.turn = -1
        self.lock = threading.Lock()
        shm._sweep_once()
        _open_rings.add(self)

    def pack(self, array) -> PeerShmTensor | None:
        """A PeerShmTensor for a large numeric array written into a free slot, else None."""
        if not shm._wants_shm(array):
            return None
        array, is_bool = shm._numeric(array)
        tensor = pa.Tensor.from_numpy(array)
        length = pa.ipc.get_tensor_size(tensor)
        with self.lock:
            for _ in range(SLOTS):
                self.turn = (self.turn + 1) % SLOTS
                slot = self.slots[self.turn]
                if slot.map is None or slot.map[0] == 0:
                    break
            else:
                return None  # the receiver still holds every slot's tensor
            try:
                slot.fit(HEADER + length)
            except OSError as e:
                slot.close()
                shm._warn_once(HEADER + length, e, INSTEAD)
                return None
            slot.map[0] = 1
            view = pa.py_buffer(memoryview(slot.map)[HEADER : HEADER + length])
            pa.ipc.write_tensor(tensor, pa.FixedSizeBufferWriter(view))
            return PeerShmTensor(slot.path, self.id, self.turn, length, is_bool)

    def close(self) -> None:
        with self.lock:
            for slot in self.slots:
                slot.close()


_open_rings: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Removes this process's ring files when it exits."""
    for ring in list(_open_rings):
        ring.close()


# -- the receiver side ------------------------------------------------------------

_maps: collections.OrderedDict = collections.OrderedDict()  # (ring, slot) -> (path, mmap)
_maps_lock = threading.Lock()


def _attach(path: str, ring: str, slot: int, length: int, is_bool: bool) -> np.ndarray:
    mapped = _mapping(path, ring, slot)
    buffer = pa.py_buffer(memoryview(mapped)[HEADER : HEADER + length])
    array = pa.ipc.read_tensor(pa.BufferReader(buffer)).to_numpy()
    array.flags.writeable = False
    weakref.finalize(array, _release, mapped)  # views keep `array` alive: it dies last
    return array.view(np.bool_) if is_bool else array


def _mapping(path: str, ring: str, slot: int) -> mmap.mmap:
    with _maps_lock:
        entry = _maps.get((ring, slot))
        if entry is None or entry[0] != path:
            mapped = shm._map_and_unlink(path, writable=True)  # writable: the busy flag
            if entry is not None:
                shm._close_map(entry[1])
            entry = _maps[(ring, slot)] = (path, mapped)
            while len(_maps) > MAPS_KEPT:  # rings of senders long gone
                shm._close_map(_maps.popitem(last=False)[1][1])
        _maps.move_to_end((ring, slot))
        return entry[1]


def _release(mapped: mmap.mmap) -> None:
    """Clears a slot's busy flag: the sender may write its next tensor there."""
    try:
        mapped[0] = 0
    except ValueError:  # the mapping was closed: its file is gone, nobody writes there
        pass
