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
