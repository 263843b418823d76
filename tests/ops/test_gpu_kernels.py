"""Every registered op's kernel on a real GPU (cupy), against numpy, on the local target.

The registry-wide cases of test_ops.py, built under tf.device("/gpu:0") and run
with Session("local"), whose GPU devices run their kernels with cupy when a
CUDA device is present: forward values against the numpy reference, and
gradients against the same graph run on the CPU. Skipped (never faked) where
cupy or a CUDA device is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf
from ops import registry
from tests.ops.test_ops import CASES, _as_list, _inputs, _placeholders


def _has_cuda() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no cupy, no driver, no device
        return False


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _has_cuda(), reason="needs cupy and a CUDA GPU")]


def _runs_on_gpus(case) -> bool:
    """String tensors stay on the host: string inputs, and summaries (host-only in TF too)."""
    strings = any(np.dtype(case.dtype_of(i)).kind in "OSU" for i in range(len(case.shapes[0])))
    return not strings and registry.get(case.op).__module__ != "ops.summary"


GPU_CASES = [c for c in CASES if _runs_on_gpus(c)]


def _run(outputs, feeds, device: str):
    with tf.Session("local") as sess:
        assert any(d.device_type == "GPU" for d in sess.list_devices())
        return sess.run(outputs, feeds)


def test_the_local_gpu_device_runs_cupy():
    with tf.device("/gpu:0"):
        y = tf.constant([1.0, 2.0]) * 2.0
    with tf.Session("local") as sess:
        runner = sess._scheduler.client._runners["/job:localhost/replica:0/task:0/device:GPU:0"]
        assert runner.xp.__name__ == "cupy"
        np.testing.assert_allclose(sess.run(y), [2.0, 4.0])


@pytest.mark.parametrize("case", GPU_CASES, ids=[c.id for c in GPU_CASES])
def test_forward_on_the_gpu_matches_numpy(case):
    rng = np.random.default_rng(0)
    arrays = _inputs(case, case.shapes[0], rng)
    placeholders = _placeholders(arrays, False)
    with tf.device("/gpu:0"):
        outputs = _as_list(case.build(*placeholders))
    got = _run(outputs, dict(zip(placeholders, arrays)), "GPU")
    for t, g, e in zip(outputs, got, _as_list(case.reference(*arrays))):
        g, e = np.asarray(g), np.asarray(e)
        assert isinstance(g, np.ndarray) and g.dtype == t.dtype.as_numpy_dtype, t.name
        assert g.shape == e.shape, t.name
        if g.dtype.kind == "f":
            np.testing.assert_allclose(
                g, e, rtol=max(case.rtol, 1e-5), atol=max(case.atol, 1e-5), err_msg=t.name
            )
        else:
            np.testing.assert_array_equal(g, e.astype(g.dtype), err_msg=t.name)


GRAD_CASES = [c for c in GPU_CASES if c.grad]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_gradients_on_the_gpu_match_the_cpu(case):
    rng = np.random.default_rng(1)
    arrays = _inputs(case, case.shapes[0], rng, float_dtype="float64")
    which = case.grad_inputs
    if which is None:
        which = tuple(i for i, a in enumerate(arrays) if a.dtype.kind == "f")
    results = []
    for device in ("/cpu:0", "/gpu:0"):
        tf.reset_default_graph()
        placeholders = _placeholders(arrays, False)
        with tf.device(device):
            outputs = _as_list(case.build(*placeholders))
            loss = tf.add_n([tf.cast(tf.reduce_sum(y), tf.float64) for y in outputs])
            grads = tf.gradients(loss, [placeholders[i] for i in which])
        results.append(_run(grads, dict(zip(placeholders, arrays)), device))
    for i, (cpu, gpu) in enumerate(zip(*results)):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-6, atol=1e-8, err_msg=f"{case.op} input {which[i]}")
