"""Data parallelism and TF1 distributed programs on Ray device actors (run inside shared/bin/loopback).

The same programs as tests/raygraph/test_data_parallel.py, on actors: the
all-reduce's tensors go actor to actor, and the results equal one device's.
A two-node `ray.cluster_utils.Cluster` runs in a subprocess (a driver joins one
Ray at a time), as in test_cluster.py.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import raygraph as tf
from tests.clusters import run_cluster_script
from tests.raygraph.test_data_parallel import X, Y, model_fn, ps_program, single_device_regression, train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _train_on_ray(replicas: int, steps: int = 4):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        y = tf.placeholder(tf.int64, [None])
        dp = tf.parallel.DataParallel(model_fn, [x, y], devices=replicas)
        train_op = dp.minimize(tf.train.AdamOptimizer(0.05), global_step=tf.train.get_or_create_global_step())
        init = tf.global_variables_initializer()
    with tf.Session(graph=g, config=tf.ConfigProto(device_count={"CPU": replicas})) as sess:
        sess.run(init)
        for _ in range(steps):
            sess.run(train_op, {x: X, y: Y})
        return sess.run(dp.variables), sess.run({v.name: m for v, m in dp.mirrors.items()})


@pytest.mark.usefixtures("ray_cluster")
def test_two_replicas_on_ray_equal_one_device():
    want = train(1)[0]
    got, mirrors = _train_on_ray(2)
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    for name, (first, second) in mirrors.items():  # identical replicas, bit for bit
        np.testing.assert_array_equal(first, second, err_msg=name)


@pytest.mark.usefixtures("ray_cluster")
def test_ring_all_reduce_on_three_actors():
    values = [np.random.RandomState(i).randn(300, 7).astype(np.float32) for i in range(3)]
    g = tf.Graph()
    with g.as_default():
        tensors = []
        for i in range(3):
            with tf.device(f"/cpu:{i}"):
                tensors.append(tf.constant(values[i]) + 0.0)
        ring = tf.parallel.all_reduce(tensors, algorithm="ring")
        direct = tf.parallel.all_reduce(tensors, algorithm="direct")
    with tf.Session(graph=g, config=tf.ConfigProto(device_count={"CPU": 3})) as sess:
        got_ring, got_direct = sess.run([ring, direct])
    for r, d in zip(got_ring, got_direct):
        np.testing.assert_array_equal(r, got_ring[0])
        np.testing.assert_array_equal(d, got_direct[0])
    np.testing.assert_allclose(got_ring[0], sum(values), rtol=1e-5, atol=1e-6)


@pytest.mark.usefixtures("ray_cluster")
def test_parameter_server_program_through_a_server_target():
    def ray_session(g, cluster):
        server = tf.train.Server(cluster, job_name="worker", task_index=0)
        return tf.Session(server.target, graph=g, config=tf.ConfigProto(device_count={"CPU": 2}))

    got, _, _ = ps_program(ray_session)
    want = single_device_regression()
    assert got[0] == want[0] == 10
    for a, b in zip(got[1:], want[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


CLUSTER_SCRIPT = r"""
import json, sys
import numpy as np
import ray
from ray.cluster_utils import Cluster

sys.path.insert(0, ".")


def main(out):
    import raygraph as tf
    from tests.raygraph.test_data_parallel import X, Y, model_fn, ps_program

    def ray_session(g, cluster):
        server = tf.train.Server(cluster, job_name="worker", task_index=0)
        sess = tf.Session(server.target, graph=g)
        out["devices"] = [d.name for d in sess.list_devices()]
        close = sess.close

        def close_and_record():  # where the largest plan (the train step) put the towers and variables
            plan = max(sess._scheduler.plans.values(), key=lambda p: len(p.placement))
            wanted = ("m/w1", "m/b1", "m/MatMul", "m_1/MatMul")
            out["ps_placement"] = {k: v for k, v in plan.placement.items() if k in wanted}
            close()

        sess.close = close_and_record
        return sess

    got, _, _ = ps_program(ray_session)
    out["ps"] = [np.asarray(v).tolist() for v in got]

    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        y = tf.placeholder(tf.int64, [None])
        dp = tf.parallel.DataParallel(model_fn, [x, y], devices=out["devices"])
        train_op = dp.minimize(tf.train.AdamOptimizer(0.05), global_step=tf.train.get_or_create_global_step())
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        for _ in range(4):
            sess.run(train_op, {x: X, y: Y})
        out["dp"] = [v.tolist() for v in sess.run(dp.variables)]


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
@pytest.mark.timeout(300)
def test_two_node_cluster_runs_the_parameter_server_and_data_parallel_programs():
    out, _ = run_cluster_script(CLUSTER_SCRIPT, prefix="rgdp")
    t0, t1 = "/job:worker/replica:0/task:0/device:CPU:0", "/job:worker/replica:0/task:1/device:CPU:0"
    assert out["devices"] == [t0, t1]
    # ps:0 and worker:0 on node 0, ps:1 and worker:1 on node 1 (tasks round robin over nodes)
    assert out["ps_placement"] == {"m/w1": t0, "m/b1": t1, "m/MatMul": t0, "m_1/MatMul": t1}
    want = single_device_regression()
    assert out["ps"][0] == want[0] == 10
    for a, b in zip(out["ps"][1:], want[1:]):
        np.testing.assert_allclose(np.asarray(a, np.float32), b, rtol=1e-5, atol=1e-6)
    for a, b in zip(train(1)[0], out["dp"]):
        np.testing.assert_allclose(np.asarray(b, np.float32), a, rtol=1e-5, atol=1e-6)


FOUR_NODE_SCRIPT = r"""
import json, sys
import numpy as np
import ray
from ray.cluster_utils import Cluster

sys.path.insert(0, ".")


def main(out):
    import raygraph as tf
    from tests.raygraph.test_data_parallel import X, Y, model_fn

    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        y = tf.placeholder(tf.int64, [None])
        with tf.Session(graph=g) as probe:
            devices = [d.name for d in probe.list_devices()]
        dp = tf.parallel.DataParallel(model_fn, [x, y], devices=devices)
        train_op = dp.minimize(tf.train.AdamOptimizer(0.05), global_step=tf.train.get_or_create_global_step())
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        for _ in range(4):
            sess.run(train_op, {x: X, y: Y})
        out["devices"] = devices
        out["dp"] = [v.tolist() for v in sess.run(dp.variables)]
        actors = [ray.get_actor("raygraph" + name) for name in devices]
        out["nodes"] = [ray.get(a.ping.remote())["node_id"] for a in actors]


small = 80 * 1024 * 1024
cluster = Cluster(initialize_head=True, head_node_args={
    "num_cpus": 1, "object_store_memory": small, "include_dashboard": False})
out = {}
try:
    for _ in range(3):
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
@pytest.mark.timeout(360)
def test_four_node_cluster_runs_the_data_parallel_program_unchanged():
    """Issue 11: the program of test_two_replicas_on_ray_equal_one_device, one replica per node of four."""
    out, _ = run_cluster_script(FOUR_NODE_SCRIPT, timeout=300, prefix="rgdp4")
    assert out["devices"] == [f"/job:worker/replica:0/task:{t}/device:CPU:0" for t in range(4)]
    assert len(set(out["nodes"])) == 4  # each replica's actor on its own node
    for a, b in zip(train(1)[0], out["dp"]):
        np.testing.assert_allclose(np.asarray(b, np.float32), a, rtol=1e-5, atol=1e-6)
