"""Test session setup: a fresh graph per test, and Ray only for the tests that ask for it.

Most tests run their sessions in this process (`tf.Session("local")`: the same plans,
kernels and errors as on Ray actors, without Ray). Tests of the Ray path request the
session-scoped `ray_cluster` fixture, usually for a whole module:

    pytestmark = pytest.mark.usefixtures("ray_cluster")

The first such test starts one local Ray; it serves every later one and stops when
the test session ends. Ray gets 4 logical CPUs (room for multi-device tests on a
2-core machine), the trims of the local Ray that raygraph starts itself, two fake GPUs (GPU device actors run their kernels with numpy when
no CUDA device exists, so placement, partitioning and transfers are tested
everywhere) and a small object store. Run Ray tests inside ../shared/bin/loopback so
that Ray binds 127.0.0.1 only.

A test without the fixture that opens a Ray session (`tf.Session()`) or calls
`ray.init` fails at once, naming the fixture, instead of starting a default Ray of its
own (slow, and sized differently) or passing only because an earlier test started one.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import pytest  # noqa: E402

import raygraph as tf  # noqa: E402

try:  # a machine without Ray (a GPU box running the local-target tests) still runs the rest
    import ray

    from scheduler.shell import local_ray, runtime
except ImportError:
    ray = local_ray = runtime = None

_ray_init = (
    ray.init if ray is not None else None
)  # the guard below replaces ray.init in tests that did not ask for Ray


@pytest.fixture(scope="session")
def ray_cluster():
    """The one local Ray of the test session, started by the first test that needs it."""
    if ray is None:
        pytest.skip("ray is not installed on this machine")
    if not ray.is_initialized():
        options = dict(
            address="local",  # always a fresh instance, never a cluster left by `ray start`
            num_cpus=4,
            num_gpus=2,
            object_store_memory=300 * 1024 * 1024,
            include_dashboard=False,
            logging_level="WARNING",
            log_to_driver=True,
        )
        # Trimmed as the local Ray a user's first tf.Session() starts (scheduler.shell.local_ray),
        # so that the Ray tests (Serve, Ray Data, ...) run on what users get.
        local_ray.init(options, runtime.LOCAL_RAY_TRIMS, ray_init=_ray_init)
    yield
    ray.shutdown()


@pytest.fixture(autouse=True)
def ray_only_through_the_fixture(request, monkeypatch):
    """Makes Ray unreachable from a test that did not request `ray_cluster`."""
    if "ray_cluster" in request.fixturenames or ray is None:
        return

    def refuse(*args, **kwargs):
        pytest.fail(
            f"{request.node.nodeid} uses Ray without the ray_cluster fixture. A test of the Ray "
            "path requests it (pytestmark = pytest.mark.usefixtures('ray_cluster')); any other "
            'test runs its sessions in this process: tf.Session("local").',
            pytrace=False,
        )

    monkeypatch.setattr(runtime, "connect", refuse)  # every Ray session starts here
    monkeypatch.setattr(ray, "init", refuse)  # direct calls, and Ray's auto-init on first use


@pytest.fixture(autouse=True)
def fresh_graph():
    """Each test builds in a new default graph."""
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def pytest_sessionfinish(session, exitstatus):
    """Fails the run if it left raygraph's files in /dev/shm or the temp directory (tests/leftovers.py)."""
    from tests.leftovers import leftovers

    factory = getattr(session.config, "_tmp_path_factory", None)
    basetemp = str(factory.getbasetemp()) if factory is not None and factory._basetemp is not None else None
    left = leftovers(basetemp)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"raygraph left {len(left)} files behind: {left[:10]}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
