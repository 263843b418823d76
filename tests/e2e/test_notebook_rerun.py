"""A notebook cell that creates a Session, run again and again in one kernel, leaks nothing.

nbclient drives a real kernel: one cell builds a model, another (re-executed many
times, as a user re-runs it) makes a new session and trains a step, a third reports
what the kernel holds: open sessions (raygraph.session.open_sessions), the kernel's
resident memory, and on Ray the device actors and the session states inside them.
"""

from __future__ import annotations

import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BUILD = """
import json, os
import numpy as np
import raygraph as tf
from raygraph import session as _session
x = tf.placeholder(tf.float32, [None, 1024])
w = tf.Variable(tf.zeros([1024, 1024]))  # 4 MiB per session that keeps it
loss = tf.reduce_mean(tf.matmul(x, w) ** 2)
train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
init = tf.global_variables_initializer()
batch = np.ones([8, 1024], np.float32)
"""

REPORT = """
def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
report = {"open": len(_session.open_sessions()), "rss_mib": rss_mib()}
try:
    import ray
    if ray.is_initialized():
        from scheduler.shell import runtime
        report["actors"] = len(runtime._actors)
        report["states"] = [ray.get(a.ping.remote())["sessions"] for a, _ in runtime._actors.values()]
except ImportError:
    pass
print(json.dumps(report))
"""


def _kernel_run(cells: list[str], rerun: int, times: int, env: dict | None = None) -> list[dict]:
    """Runs `cells` once, then cell `rerun` `times` times, running the last (report) cell after each batch."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": ROOT}}
    )
    reports = []
    with client.setup_kernel(env=env):
        for i, cell in enumerate(nb.cells):
            client.execute_cell(cell, i)
        for batch in (5, times):  # a warm-up batch, then the measured one
            for _ in range(batch):
                client.execute_cell(nb.cells[rerun], rerun)
            client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
            text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
            reports.append(json.loads(text.strip().splitlines()[-1]))
    errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    return reports


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return env


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "make",
    ['sess = tf.Session("local")', 'sess = tf.InteractiveSession("local")'],
    ids=["Session", "InteractiveSession"],
)
def test_rerunning_a_session_cell_keeps_one_session_and_flat_memory(make):
    cell = f"{make}\nsess.run(init)\nsess.run(train, {{x: batch}})\nprint(sess.run(loss, {{x: batch}}))"
    warm, end = _kernel_run([BUILD, cell, REPORT], rerun=1, times=30, env=_env())
    assert warm["open"] == end["open"] == 1
    assert end["rss_mib"] - warm["rss_mib"] < 40, (warm, end)  # 30 kept sessions would hold 120+ MiB


@pytest.mark.slow
@pytest.mark.cluster
@pytest.mark.timeout(600)
def test_rerunning_a_ray_session_cell_keeps_the_actors_and_one_session_state_each():
    start = (
        "import ray\n"
        "ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 2**20, "
        "logging_level='ERROR')"
    )
    cell = "sess = tf.Session()\nsess.run(init)\nsess.run(train, {x: batch})"
    warm, end = _kernel_run([start, BUILD, cell, REPORT], rerun=2, times=10, env=_env())
    assert warm["open"] == end["open"] == 1
    assert warm["actors"] == end["actors"] == 1  # actors are shared, not made per session
    assert end["states"] == [1]  # the actor holds the live session's variables only
