"""Matrix products on the CPU: a big one split over the device's cores, a thin one reordered.

    out = intra_op.matmul(a, b)    # numpy arrays, 2-D: a @ b

DESIGN: intra-op parallelism without BLAS threads. A device actor runs
OpenBLAS on one thread whenever the driver shares its node and feeds the run
(BENCHMARKS.md, "Threads"): OpenBLAS's own threads spin for ~0.1 s after every
call, and spinning threads on a 2-core machine take the core the driver and the
kernel thread need, so two BLAS threads made the mlp and LSTM steps slower, not
faster. The second core is still idle while the device computes. So a product
of at least `MIN_FLOPS` is cut here into `width()` row blocks (column blocks
when the rows are few), one computed on the calling thread and the others on a
pool whose threads sleep on a queue between products, each block a
single-threaded BLAS call into its own slice of the output, unless another
unit of kernels runs at the same time (inter-op parallelism already takes the
other core: splitting then only makes the threads queue for the cores and the
GIL; measured on the LSTM step, 36-39 ms split against 32-34 ms). The width is set
per run by the device (scheduler.engine.device.BlasThreads): the cores of the
node shared by the session's devices there when BLAS runs one thread, else 1
(BLAS threads already use the cores; two data-parallel replicas on two cores
leave nothing spare). TensorFlow's intra-op thread pool does the same with
Eigen's blocks.

Thin products a @ b.T (a with few rows, the backward step of a recurrent cell:
dgates [32, 800] @ W^T) run as (b @ a.T).T: OpenBLAS's transposed-B kernel is
~1.5x slower on such shapes than its plain one (measured: 354 vs 245 us for
[32, 800] @ [800, 400] including the copy back to row order).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MIN_FLOPS = 16e6  # below this a product's handoff to another thread costs more than it saves
THIN_ROWS = 64  # a @ b.T with at most this many rows in a runs as (b @ a.T).T

_width = [1]
_running = [0]  # kernel units running in this process (scheduler.engine.dataflow counts them)
_pool: list = []
_lock = threading.Lock()


def unit_started() -> None:
    """Counts a unit of kernels starting on some thread: while two run, products are not split."""
    with _lock:
        _running[0] += 1


def unit_ended() -> None:
    with _lock:
        _running[0] -= 1


def set_width(n: int) -> None:
    """Sets how many threads (the caller's included) a big product is split over."""
    _width[0] = max(1, int(n))


def width() -> int:
    """The threads a big product is split over (1: not split)."""
    return _width[0]


def _executor() -> ThreadPoolExecutor:
    with _lock:
        if not _pool:
            cores = os.cpu_count() or 2  # threads are made as products need them, at most one per core
            _pool.append(ThreadPoolExecutor(cores, thread_name_prefix="raygraph-intra-op"))
        return _pool[0]


def matmul(a: np.ndarray, b: np.ndarray, transpose_a: bool = False, transpose_b: bool = False) -> np.ndarray:
    """a @ b of 2-D numpy arrays (either transposed first), split or reordered as above."""
    if transpose_a:
        a = a.T
    if (
        transpose_b
        and not transpose_a
        and a.shape[0] <= THIN_ROWS
        and b.flags.c_contiguous
        and b.shape[0] > 1
    ):
        return np.ascontiguousarray(_product(b, a.T).T)
    return _product(a, b.T if transpose_b else b)


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    m, k = a.shape
    n = b.shape[1]
    parts = _width[0]
    if (
        parts < 2
        or _running[0] > 1
        or 2.0 * m * k * n < MIN_FLOPS
        or a.dtype != b.dtype
        or a.dtype.kind != "f"
    ):
        return np.matmul(a, b)
    out = np.empty((m, n), a.dtype)
    if m >= 2 * THIN_ROWS:
        blocks = [(slice(i * m // parts, (i + 1) * m // parts), slice(None)) for i in range(parts)]
        pieces = [(a[rows], b, out[rows]) for rows, _ in blocks]
    else:
        blocks = [(slice(None), slice(i * n // parts, (i + 1) * n // parts)) for i in range(parts)]
        pieces = [(a, b[:, cols], out[:, cols]) for _, cols in blocks]
    pool = _executor()
    pending = [pool.submit(np.matmul, x, y, o) for x, y, o in pieces[1:]]
    np.matmul(*pieces[0][:2], out=pieces[0][2])
    for done in pending:
        done.result()
    return out
