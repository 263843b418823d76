"""Real GPUs: kernels run with cupy, feeds and transfers move to and from the device.

Skipped (never faked) where cupy or a CUDA device is missing; the fake GPUs of
the other tests cover placement, partitioning and transfers everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest
import ray

import raygraph as tf
from scheduler.shell import runtime


def _has_cuda() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no cupy, no driver, no device
        return False


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not _has_cuda(), reason="needs cupy and a CUDA GPU"),
    pytest.mark.usefixtures("ray_cluster"),
]


def test_a_gpu_device_runs_cupy_kernels_and_exchanges_with_a_cpu():
    rng = np.random.default_rng(0)
    xv = rng.normal(size=(256, 128)).astype(np.float32)
    wv = rng.normal(size=(128, 64)).astype(np.float32)
    x = tf.placeholder(tf.float32, xv.shape, name="x")
    with tf.device("/gpu:0"):
        w = tf.Variable(wv, name="w")
        h = tf.matmul(x, w)  # the feed moves to the GPU
        update = w.assign_add(tf.ones_like(w) if hasattr(tf, "ones_like") else np.ones_like(wv))
    with tf.device("/cpu:0"):
        total = tf.reduce_sum(h, axis=0)  # the GPU's result crosses to the CPU
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_h, got_total = sess.run([h, total], {x: xv})
        sess.run(update)
        got_w = sess.run(w)
        actor = runtime.existing_actor("/job:worker/replica:0/task:0/device:GPU:0")
        assert ray.get(actor.ping.remote())["array_module"] == "cupy"
    assert isinstance(got_h, np.ndarray)
    np.testing.assert_allclose(got_h, xv @ wv, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got_total, (xv @ wv).sum(axis=0), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(got_w, wv + 1, rtol=1e-6)
