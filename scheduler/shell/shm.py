"""Feeds through shared memory, for device actors on the driver's own node.

A feed of 800 KB sent through a socket is copied into the kernel and out again,
in pieces, each a wake-up of the other process: on the 2-core development VM
that cost more than the whole step's transfer budget. When the actor runs on
the driver's node, a large feed is instead written once, as an Arrow IPC tensor
message, into a file in /dev/shm that both processes map; the request carries
only (path, slot, offset, length) and the actor reads the tensor in place, zero
copy.

`FeedArena` (driver side, one per channel) keeps `SLOTS` slots, one per run in
flight, used round robin; each slot is a file, replaced by a new one when a
run's feeds do not fit, or when they need less than a quarter of it (a large
feed's memory goes back once the feeds are small again). A slot is reused only
by the run `SLOTS` runs later, and the scheduler never has more than SLOTS - 1
runs unread on a channel (scheduler.central's MAX_DETACHED), so a slot is never
rewritten while the actor may still read it. Arrays the actor keeps beyond a
run are copies (fed arrays are read-only; scheduler.executor copies them on
assignment).

Files, and what can go wrong with them:
- Space is reserved when a file is made (posix_fallocate), so a full /dev/shm
  (Docker's default is 64 MB) is an error there, never a SIGBUS when a page is
  first written through the mapping. A file that cannot be made sends that
  run's feeds through the socket instead, with one warning per process.
- Names are `raygraph-<driver pid>-<16 random hex digits>`, created with O_EXCL
  (a name someone else took is retried with new digits), mode 0600.
- The actor unlinks a file as soon as it has mapped it: from then on both ends
  hold it open and nothing needs its name, so a driver killed with SIGKILL
  leaves nothing behind. A file whose actor never mapped it is unlinked by the
  driver when the slot is replaced or closed (at session close or exit); one
  left by a driver killed in between is removed by the next driver that makes
  an arena (the pid in its name is dead).

On the actor side, `ShmTensor` unpickles to the array by mapping the file. The
mappings are per connection thread (a channel's frames are read on its own
thread) and per slot: a new file for a slot replaces the old mapping, and the
mappings go when the connection's thread ends.
"""

from __future__ import annotations

import atexit
import errno
import mmap
import os
import secrets
import threading
import warnings
import weakref

import numpy as np
import pyarrow as pa

MIN_BYTES = 64 * 1024  # smaller feeds travel inside the request
MIN_FILE_BYTES = 1 << 20
SHRINK_BELOW = 4  # a slot is replaced when the run needs less than 1/SHRINK_BELOW of it
SLOTS = 4
SHM_DIR = "/dev/shm"
PREFIX = "raygraph-"
NAME_TRIES = 16
_ALIGN = 64
_warned: set = set()  # the fallbacks already warned about


def enabled() -> bool:
    """Whether tensors on one node go through shared memory (RAYGRAPH_SHM=0 turns it off)."""
    return os.environ.get("RAYGRAPH_SHM", "1") != "0" and os.path.isdir(SHM_DIR)


class ShmTensor:
    """A feed written in a shared-memory file; unpickles to the numpy array, in place."""

    __slots__ = ("path", "slot", "offset", "length", "is_bool")

    def __init__(self, path: str, slot: int, offset: int, length: int, is_bool: bool):
        self.path, self.slot, self.offset, self.length, self.is_bool = path, slot, offset, length, is_bool

    def __reduce__(self):
        return _attach, (self.path, self.slot, self.offset, self.length, self.is_bool)


class _Slot:
    def __init__(self):
        self.path: str | None = None
        self.map: mmap.mmap | None = None
        self.size = 0
        self.used = 0

    def fit(self, need: int) -> None:
        """Makes the slot's file hold `need` bytes, and not many more (OSError when it cannot)."""
        if need == 0:
            if self.size > MIN_FILE_BYTES:
                self.close()
            return
        if need <= self.size < SHRINK_BELOW * max(need, MIN_FILE_BYTES):
            return
        self.close()
        size = max(need, MIN_FILE_BYTES)
        self.path, self.map = _create(size)
        self.size = size

    def close(self) -> None:
        if self.map is not None:
            try:
                self.map.close()
            except BufferError:  # an array still views it: the mapping goes with it
                pass
        if self.path is not None:
            _unlink(self.path)  # already done by the actor if it mapped the file
        self.path, self.map, self.size = None, None, 0


class FeedArena:
    """The driver's shared-memory slots for one channel's feeds (files removed at close or exit)."""

    def __init__(self):
        self.slots = [_Slot() for _ in range(SLOTS)]
        self.turn = -1
        _sweep_once()
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
        try:
            slot.fit(need)
        except OSError as e:
            slot.close()  # this run's feeds go through the socket
            _warn_once(need, e)
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
        packed = ShmTensor(slot.path, self.turn, slot.used, length, is_bool)
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


def _create(size: int) -> tuple[str, mmap.mmap]:
    """A new file of `size` bytes, its space reserved, under an unpredictable name; mapped."""
    flags = os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(NAME_TRIES):
        path = os.path.join(SHM_DIR, f"{PREFIX}{os.getpid()}-{secrets.token_hex(8)}")
        try:
            fd = os.open(path, flags, 0o600)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, f"{NAME_TRIES} random names in {SHM_DIR} were all taken")
    try:
        os.posix_fallocate(fd, 0, size)  # ENOSPC now, rather than SIGBUS on a write later
        return path, mmap.mmap(fd, size)
    except BaseException:
        _unlink(path)
        raise
    finally:
        os.close(fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


FEEDS_INSTEAD = "feeds that do not fit go through the session's socket instead"


def _warn_once(need: int, error: OSError, instead: str = FEEDS_INSTEAD) -> None:
    """Says, once per process and fallback, that shared memory is short and what is done instead."""
    if instead in _warned:
        return
    _warned.add(instead)
    warnings.warn(
        f"raygraph: cannot make a shared-memory file of {need} bytes in {SHM_DIR} "
        f"({error.strerror or error}); {instead}, which is slower. A full {SHM_DIR} can be "
        "given more space (docker run --shm-size). (Said once per process.)",
        RuntimeWarning,
        stacklevel=3,
    )


_swept = False


def _sweep_once() -> None:
    """Removes the files of drivers that died before their actor mapped them (once per process)."""
    global _swept
    if _swept:
        return
    _swept = True
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return
    uid = os.getuid()
    for name in names:
        pid = _pid_of(name)
        if pid is None or pid == os.getpid() or _alive(pid):
            continue
        path = os.path.join(SHM_DIR, name)
        try:
            if os.lstat(path).st_uid == uid:
                os.unlink(path)
        except OSError:
            pass


def _pid_of(name: str) -> int | None:
    if not name.startswith(PREFIX):
        return None
    pid, _, _ = name[len(PREFIX) :].partition("-")
    return int(pid) if pid.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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

_mapped = threading.local()  # .slots: {slot: (path, mmap)} of the connection read on this thread


def _attach(path: str, slot: int, offset: int, length: int, is_bool: bool) -> np.ndarray:
    slots = _mapped.__dict__.setdefault("slots", {})
    entry = slots.get(slot)
    if entry is None or entry[0] != path:
        mapped = _map_and_unlink(path)
        if entry is not None:
            _close_map(entry[1])
        entry = slots[slot] = (path, mapped)
    buffer = pa.py_buffer(memoryview(entry[1])[offset : offset + length])
    array = pa.ipc.read_tensor(pa.BufferReader(buffer)).to_numpy()
    return array.view(np.bool_) if is_bool else array


def _map_and_unlink(path: str, writable: bool = False) -> mmap.mmap:
    """Maps a raygraph file another process made, then removes its name: both ends hold it now."""
    if not os.path.basename(path).startswith(PREFIX):
        raise ValueError(f"not a raygraph shared-memory file: {path!r}")
    fd = os.open(path, (os.O_RDWR if writable else os.O_RDONLY) | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        mapped = mmap.mmap(fd, 0) if writable else mmap.mmap(fd, 0, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    _unlink(path)
    return mapped


def release_thread_maps() -> None:
    """Drops this thread's mappings (its connection ended)."""
    for _, mapped in _mapped.__dict__.pop("slots", {}).values():
        _close_map(mapped)


def _close_map(mapped: mmap.mmap) -> None:
    try:
        mapped.close()
    except BufferError:  # still viewed by a running step: it goes when the arrays do
        pass
