"""The local Ray that raygraph starts itself: trimmed as documented, and fully working.

The Ray tests start a fresh process (a Ray of its own, as a user's first
`tf.Session()` does), run inside ../shared/bin/loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scheduler.shell import local_ray

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_PROGRAM = """
import json, os
import numpy as np
import psutil
import ray
import ray._private.node
import raygraph as tf

x = tf.placeholder(tf.float32, [None, 3])
y = tf.reduce_sum(tf.matmul(x, tf.constant(np.ones((3, 2), np.float32))))
with tf.Session() as sess:
    value = float(sess.run(y, {x: np.ones((4, 3), np.float32)}))

@ray.remote
def shout(text):
    print("from a task:", text)  # reaches the driver through the log monitor
    return text.upper()

children = []
for p in psutil.Process().children(recursive=True):
    try:
        children.append(" ".join(p.cmdline()))
    except psutil.Error:
        pass
print(json.dumps({
    "value": value,
    "task": ray.get(shout.remote("hello")),
    "node_class": ray._private.node.Node.__name__,
    "global_node_class": type(ray._private.worker._global_node).__name__,
    "children": children,
}), flush=True)
import time; time.sleep(1.5)  # the task's print travels to the driver
"""


def _run_local_ray(program: str) -> tuple[dict, str]:
    env = dict(os.environ, RAY_ADDRESS="local", RAY_USAGE_STATS_ENABLED="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("{"))
    return json.loads(line), proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_first_session_starts_ray_without_the_parts_it_does_not_use():
    result, output = _run_local_ray(_PROGRAM)
    assert result["value"] == 24.0 and result["task"] == "HELLO"
    children = result["children"]
    assert not [c for c in children if "dashboard/dashboard.py" in c], children  # no API server
    assert not [c for c in children if "autoscaler/_private/monitor.py" in c], children
    agents = [c for c in children if "dashboard/agent.py" in c or c.startswith("ray::DashboardAgent")]
    assert agents, children  # the raylet's agents still run ...
    assert [c for c in children if "log_monitor.py" in c], children  # ... and so does the log monitor:
    assert "from a task: hello" in output  # a worker's print reaches the driver
    # The trimmed Node class was used for this start only: Ray's own is back.
    assert result["global_node_class"] == "TrimmedNode"
    assert result["node_class"] == "Node"


def test_unknown_trims_are_refused_by_name():
    with pytest.raises(ValueError, match="api_servr"):
        local_ray.init({}, {"api_servr"})


def test_a_ray_without_the_hooks_starts_untrimmed_with_a_warning(monkeypatch, caplog):
    calls = []
    monkeypatch.setattr(local_ray, "_node_module", lambda: None)
    monkeypatch.setattr(local_ray.ray, "init", lambda **options: calls.append(options))
    local_ray.init({"num_cpus": 1})
    assert calls == [{"num_cpus": 1}]
    assert "untrimmed" in caplog.text


def test_the_node_class_is_restored_when_ray_init_fails(monkeypatch):
    import ray._private.node as node_module

    original = node_module.Node
    seen = []

    def failing_init(**options):
        seen.append(node_module.Node)
        raise RuntimeError("ray.init failed")

    monkeypatch.setattr(local_ray.ray, "init", failing_init)
    with pytest.raises(RuntimeError, match="ray.init failed"):
        local_ray.init({})
    assert seen[0] is not original and issubclass(seen[0], original)
    assert node_module.Node is original
