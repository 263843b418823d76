"""Test session setup: one local Ray for the whole run, started here.

Ray gets 4 logical CPUs (room for multi-device tests on a 2-core machine), two
fake GPUs (GPU device actors run their kernels with numpy when no CUDA device
exists, so placement, partitioning and transfers are tested everywhere) and a
small object store. Run the suite inside ../shared/bin/loopback so that Ray binds
127.0.0.1 only.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import pytest  # noqa: E402
import ray  # noqa: E402

import raygraph as tf  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def ray_cluster():
    """A local Ray instance shared by every test."""
    if not ray.is_initialized():
        ray.init(
            address="local",  # always a fresh instance, never a cluster left by `ray start`
            num_cpus=4,
            num_gpus=2,
            object_store_memory=300 * 1024 * 1024,
            include_dashboard=False,
            logging_level="WARNING",
            log_to_driver=True,
        )
    yield
    ray.shutdown()


@pytest.fixture(autouse=True)
def fresh_graph():
    """Each test builds in a new default graph."""
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()
