"""A two-node Ray cluster (head + one worker node): tasks, placement across nodes.

The pytest process may have its own Ray (the `ray_cluster` fixture) and a driver
joins one Ray at a time, so the cluster lives in a subprocess running
CLUSTER_SCRIPT, which prints what it saw as JSON.
"""

from __future__ import annotations

import os

import pytest

from tests.clusters import run_cluster_script

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CLUSTER_SCRIPT = r"""
import json, os
import numpy as np
import ray
from ray.cluster_utils import Cluster


def main(out):
    import raygraph as tf

    x = tf.placeholder(tf.float32, [256, 256], name="x")
    with tf.device("/job:worker/task:0/cpu:0"):
        w = tf.Variable(np.eye(256, dtype=np.float32) * 2, name="w")
        a = tf.matmul(x, w, name="a")
    with tf.device("/job:worker/task:1/cpu:0"):
        b = tf.reduce_sum(a, name="b")
        c = a * 0.5
    with tf.Session() as sess:
        out["devices"] = [d.name for d in sess.list_devices()]
        sess.run(tf.global_variables_initializer())
        xv = np.ones((256, 256), np.float32)
        vb, vc = sess.run([b, c], {x: xv})
        out["b"], out["c_sum"] = float(vb), float(vc.sum())
        md = tf.RunMetadata()
        sess.run(b, {x: xv}, options=tf.RunOptions(trace_level=3), run_metadata=md)
        out["traced"] = sorted(d.device for d in md.step_stats.dev_stats)
        actors = {name: ray.get_actor("raygraph" + name) for name in out["devices"]}
        out["nodes"] = {name: ray.get(a.ping.remote())["node_id"] for name, a in actors.items()}


small = 80 * 1024 * 1024
cluster = Cluster(initialize_head=True, head_node_args={
    "num_cpus": 1, "object_store_memory": small, "include_dashboard": False})
out = {}
try:
    cluster.add_node(num_cpus=1, object_store_memory=small)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="ERROR")
    main(out)
finally:
    ray.shutdown()
    cluster.shutdown()
print("RESULT " + json.dumps(out))
"""


@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.timeout(300)  # the cluster's process has 240 s
def test_two_nodes_are_two_tasks_and_a_graph_runs_across_them():
    out, _ = run_cluster_script(CLUSTER_SCRIPT)
    t0, t1 = "/job:worker/replica:0/task:0/device:CPU:0", "/job:worker/replica:0/task:1/device:CPU:0"
    assert out["devices"] == [t0, t1]
    assert out["b"] == 256 * 256 * 2.0
    assert out["c_sum"] == 256 * 256 * 1.0
    assert out["traced"] == [t0, t1]
    assert out["nodes"][t0] != out["nodes"][t1]  # each device's actor on its own node
