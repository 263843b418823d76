"""Framed messages over a stream socket: pickle protocol 5 with out-of-band buffers.

    frame = u32 header length | header | payload | buffer 0 | buffer 1 | ...
    header = u64 payload length, u32 buffer count, u64 length of each buffer

The payload is a pickle (cloudpickle, as Ray's own, so a user-declared op's
kernel travels by value with the plan); the large arrays inside it (`transport.Packed`: Arrow IPC
messages) travel as its out-of-band buffers, written with one `sendmsg` straight
from their memory and read into fresh buffers the receiver then owns, so a
tensor is copied by the kernel only. Reading a frame never runs code until the
frame is complete; the peer was authenticated first (scheduler.channel).
"""

from __future__ import annotations

import pickle
import socket
import struct

from ray import cloudpickle

_U32 = struct.Struct("<I")
_FIXED = struct.Struct("<QI")
MAX_HEADER = 1 << 20
OUT_OF_BAND_BYTES = 16 * 1024  # smaller buffers are copied into the payload
MAX_BUFFERS = 256  # out-of-band buffers per frame (sendmsg takes at most IOV_MAX parts)


def send(sock: socket.socket, obj) -> None:
    """Writes one frame holding `obj`."""
    raws: list[memoryview] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        raw = buffer.raw()
        if raw.nbytes < OUT_OF_BAND_BYTES or len(raws) >= MAX_BUFFERS:
            return True  # small: copied into the payload
        raws.append(raw)
        return False

    payload = cloudpickle.dumps(obj, protocol=5, buffer_callback=out_of_band)
    header = _FIXED.pack(len(payload), len(raws)) + struct.pack(f"<{len(raws)}Q", *(r.nbytes for r in raws))
    parts = [_U32.pack(len(header)), header, payload, *raws]
    total = sum(memoryview(p).nbytes for p in parts)
    sent = sock.sendmsg(parts)
    if sent < total:  # a partial write: finish it piece by piece
        _send_rest(sock, parts, sent)


def _send_rest(sock: socket.socket, parts, sent: int) -> None:
    for part in parts:
        view = memoryview(part).cast("B")
        if sent >= view.nbytes:
            sent -= view.nbytes
            continue
        sock.sendall(view[sent:])
        sent = 0


def recv(sock: socket.socket):
    """Reads one frame and returns the object it holds; EOFError when the peer closed."""
    (length,) = _U32.unpack(_exact(sock, 4))
    if length > MAX_HEADER:
        raise ConnectionError(f"frame header of {length} bytes: not a raygraph peer")
    header = _exact(sock, length)
    payload_length, count = _FIXED.unpack_from(header)
    sizes = struct.unpack_from(f"<{count}Q", header, _FIXED.size)
    payload = _exact(sock, payload_length)
    buffers = [_exact(sock, n) for n in sizes]
    return pickle.loads(payload, buffers=buffers)


def _exact(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise EOFError("the peer closed the connection")
        got += k
    return buf
