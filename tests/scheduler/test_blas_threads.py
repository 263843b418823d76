"""BlasThreads: the BLAS thread count a device sets per run, from whichever thread runs it.

A device serves each session's runs on a thread of that session's channel, so
settings come from several live threads; each must take effect (OpenBLAS drops
a count set from a second thread while the first setter lives).
"""

from __future__ import annotations

import queue
import threading

import numpy as np
import pytest

from scheduler.engine.device import BlasThreads


def _serving_thread(blas: BlasThreads, seen: list):
    """A long-lived thread that applies the counts put on its queue, as a session's channel thread does."""
    requests: queue.Queue = queue.Queue()

    def serve():
        while (threads := requests.get()) is not None:
            blas.apply(threads)
            a = np.ones((64, 64), np.float32)
            _ = a @ a  # a kernel on this thread, as a run would
            seen.append((threads, blas.threads()))
            requests.task_done()
        requests.task_done()

    threading.Thread(target=serve, daemon=True).start()
    return requests


def test_counts_set_from_several_live_threads_all_take_effect():
    blas = BlasThreads()
    if not blas.default:
        pytest.skip("no BLAS library that threadpoolctl can control")
    original = blas.threads()
    seen: list = []
    sessions = [_serving_thread(blas, seen) for _ in range(2)]
    try:
        for i, threads in enumerate([2, 1, 2, 1, 2, 1]):
            requests = sessions[i % 2]
            requests.put(threads)
            requests.join()
        assert seen == [(t, t) for t in [2, 1, 2, 1, 2, 1]]
    finally:
        for requests in sessions:
            requests.put(None)
        blas.apply(original)


def test_the_default_splits_big_products_over_the_cores_a_reservation_keeps_from_blas(monkeypatch):
    """One BLAS thread with the driver's core reserved: products split over both cores (ops.intra_op)."""
    from ops import intra_op

    blas = BlasThreads()
    if not blas.default:
        pytest.skip("no BLAS library that threadpoolctl can control")
    monkeypatch.setattr(blas, "default", 2)
    original = blas.threads()
    try:
        blas.apply(0, reserved=1, share=1)  # a run with feeds on the driver's node
        assert (blas.threads(), intra_op.width()) == (1, 2)
        blas.apply(0, reserved=0, share=2)  # two replicas on two cores: nothing spare
        assert (blas.threads(), intra_op.width()) == (1, 1)
        blas.apply(0, reserved=0, share=1)  # no feeds: BLAS takes both cores itself
        assert (blas.threads(), intra_op.width()) == (2, 1)
        blas.apply(1)  # an explicit intra_op_parallelism_threads is honoured as is
        assert (blas.threads(), intra_op.width()) == (1, 1)
    finally:
        blas.apply(original)
        intra_op.set_width(1)


def test_a_device_keeps_freed_memory_for_its_next_tensors():
    """After keep_freed_memory, a 40 MB tensor freed and made again faults no pages in anew
    (glibc maps every block over 32 MB afresh by default: hundreds of faults each time, with
    numpy's huge pages, thousands without)."""
    import subprocess
    import sys

    child = """
import resource, sys
import numpy as np
from scheduler.engine.device import keep_freed_memory
if sys.argv[1] == "keep":
    keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.ones(10 << 20, np.float32)  # 40 MB, made and freed once
before = faults()
for _ in range(5):
    np.ones(10 << 20, np.float32)
print(faults() - before)
"""
    counts = {}
    for mode in ("keep", "default"):
        out = subprocess.run([sys.executable, "-c", child, mode], capture_output=True, text=True, check=True)
        counts[mode] = int(out.stdout.split()[-1])
    assert counts["default"] > 5 * 200, counts  # the check itself: glibc's default faults pages in
    assert counts["keep"] < 100, counts
