"""tf.parallel (DataParallel, all_reduce) and TF1's distributed names, in-process (no Ray)."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf
from raygraph import errors
from scheduler.engine import placement

RNG = np.random.RandomState(0)
X = RNG.randn(250, 16).astype(np.float32)
Y = RNG.randint(0, 5, 250).astype(np.int64)


def model_fn(x, y):
    h = tf.layers.dense(x, 12, tf.nn.relu, kernel_initializer=tf.glorot_uniform_initializer(seed=1), name="h")
    logits = tf.layers.dense(h, 5, kernel_initializer=tf.glorot_uniform_initializer(seed=2), name="out")
    return tf.losses.sparse_softmax_cross_entropy(y, logits), logits


def train(replicas: int, steps: int = 4, devices=None):
    """(final variables, last loss, logits over the batch, the DataParallel) after `steps` Adam steps."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        y = tf.placeholder(tf.int64, [None])
        dp = tf.parallel.DataParallel(model_fn, [x, y], devices=devices or replicas)
        step = tf.train.get_or_create_global_step()
        train_op = dp.minimize(tf.train.AdamOptimizer(0.05), global_step=step)
        init = tf.global_variables_initializer()
    config = tf.ConfigProto(device_count={"CPU": replicas})
    with tf.Session("local", graph=g, config=config) as sess:
        sess.run(init)
        for _ in range(steps):
            _, loss = sess.run([train_op, dp.loss], {x: X, y: Y})
        logits = sess.run(dp.outputs, {x: X, y: Y})
        mirrors = sess.run({v.name: m for v, m in dp.mirrors.items()})
        assert sess.run(step) == steps
        return sess.run(dp.variables), loss, logits, mirrors, dp


@pytest.mark.parametrize("replicas", [2, 3])
def test_data_parallel_equals_one_device_on_the_whole_batch(replicas):
    single, loss1, logits1, _, _ = train(1)
    many, loss, logits, mirrors, dp = train(replicas)  # 250 rows: uneven shards for 3
    assert [v.name for v in dp.variables] == ["h/kernel:0", "h/bias:0", "out/kernel:0", "out/bias:0"]
    for a, b in zip(single, many):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, loss1, rtol=1e-5)
    assert logits.shape == (250, 5)
    np.testing.assert_allclose(logits, logits1, rtol=1e-4, atol=1e-5)
    for name, copies in mirrors.items():  # every replica holds the same bits
        assert len(copies) == replicas
        for c in copies[1:]:
            np.testing.assert_array_equal(c, copies[0], err_msg=name)


def test_replicas_run_on_their_devices_and_mirrors_are_not_trainable():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        y = tf.placeholder(tf.int64, [None])
        dp = tf.parallel.DataParallel(model_fn, [x, y], devices=2)
        train_op = dp.minimize(tf.train.GradientDescentOptimizer(0.1))
        assert [v.name for v in tf.trainable_variables()] == [v.name for v in dp.variables]
        assert len(tf.global_variables()) == 8
        reduce_ops = [op for op in g.get_operations() if op.type == "CollectiveAllReduce"]
        assert len(reduce_ops) == 2  # one fused all-reduce (float32), one instance per device
    with tf.Session("local", graph=g, config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(tf.global_variables_initializer())
        plan = sess._scheduler.plan_for([], [x, y], [train_op])
    where = {op.name: plan.placement[op.name] for op in reduce_ops}
    assert sorted(d[-5:] for d in where.values()) == ["CPU:0", "CPU:1"]
    assert plan.placement["replica_1/h/kernel"].endswith("CPU:1")
    assert plan.placement["h/kernel"].endswith("CPU:0")


def test_a_fed_batch_reaches_each_replica_as_its_own_rows():
    """The driver feeds each replica's rows and weight itself: bit-equal to slicing on the devices."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        y = tf.placeholder(tf.int64, [None])
        dp = tf.parallel.DataParallel(model_fn, [x, y], devices=3)
        train_op = dp.minimize(tf.train.GradientDescentOptimizer(0.1))
    (shards,) = g._feed_derivers
    fetch = [dp.weights, shards.shards]
    with tf.Session("local", graph=g, config=tf.ConfigProto(device_count={"CPU": 3})) as sess:
        sess.run(tf.variables_initializer(tf.global_variables()))
        feeds = {x: X[:7], y: Y[:7]}
        derived = sess.run(fetch, feeds)  # fed by the driver (a fetched fed tensor is its feed)
        g._feed_derivers.clear()
        sliced = sess.run(fetch, feeds)  # computed on the devices
        g._feed_derivers.append(shards)
        expanded = dict(feeds)
        shards(expanded)
        plan = sess._scheduler.plan_for([], list(expanded), [train_op])
    for a, b in zip(derived[0], sliced[0]):
        assert a.dtype == b.dtype == np.float32 and a == b
    for replica_a, replica_b in zip(derived[1], sliced[1]):
        for a, b in zip(replica_a, replica_b):
            np.testing.assert_array_equal(a, b)
    assert [len(r[0]) for r in derived[1]] == [2, 2, 3]
    for rank, part in enumerate(sorted(plan.partitions.values(), key=lambda p: p.device)):
        assert x.name not in part.feeds and y.name not in part.feeds  # each gets its rows only
        assert shards.shards[rank][0].name in part.feeds


def test_each_replica_updates_after_its_own_reduced_gradients_only():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        y = tf.placeholder(tf.int64, [None])
        dp = tf.parallel.DataParallel(model_fn, [x, y], devices=2)
        dp.minimize(tf.train.GradientDescentOptimizer(0.1))
    updates = [op for op in g.get_operations() if op.type == "ApplyGradientDescent"]
    assert len(updates) == 8
    for op in updates:
        var_device = op.inputs[0].op.device
        grads = [c for c in op.control_inputs if "unpack" in c.name]
        assert grads and all(c.device == var_device for c in grads), op.name


def test_a_variable_made_outside_model_fn_is_shared_and_trained_once():
    def run(replicas):
        g = tf.Graph()
        with g.as_default():
            scale = tf.get_variable("scale", [], initializer=tf.constant_initializer(2.0))
            x = tf.placeholder(tf.float32, [None, 16])
            y = tf.placeholder(tf.int64, [None])

            def fn(x, y):
                loss, logits = model_fn(x * scale, y)
                return loss, logits

            dp = tf.parallel.DataParallel(fn, [x, y], devices=replicas)
            train_op = dp.minimize(tf.train.GradientDescentOptimizer(0.1))
            assert scale not in dp.mirrors
        with tf.Session("local", graph=g, config=tf.ConfigProto(device_count={"CPU": replicas})) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(3):
                sess.run(train_op, {x: X, y: Y})
            return sess.run(scale)

    np.testing.assert_allclose(run(2), run(1), rtol=1e-6)
    assert run(2) != 2.0


def test_model_fn_errors_name_the_problem():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        with pytest.raises(ValueError, match="scalar mean loss"):
            tf.parallel.DataParallel(lambda x: tf.layers.dense(x, 1), [x], devices=2)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        calls = []

        def changing(x):
            calls.append(1)
            for i in range(len(calls)):
                tf.get_variable(f"v{i}", [1])
            return tf.reduce_mean(x)

        with pytest.raises(ValueError, match="same model every call"):
            tf.parallel.DataParallel(changing, [x], devices=2)


@pytest.mark.parametrize("algorithm", ["direct", "ring"])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_all_reduce_values_bits_and_gradients(algorithm, n):
    values = [RNG.randn(5, 7).astype(np.float32) for _ in range(n)]
    g = tf.Graph()
    with g.as_default():
        tensors = []
        for i in range(n):
            with tf.device(f"/cpu:{i}"):
                tensors.append(tf.constant(values[i]) * 1.0)
        outs = tf.parallel.all_reduce(tensors, final_op="Div", algorithm=algorithm)
        maxes = tf.parallel.all_reduce(tensors, merge_op="Max", algorithm=algorithm)
        loss = tf.add_n([tf.reduce_sum(o * float(k + 1)) for k, o in enumerate(outs)])
        grads = tf.gradients(loss, tensors)
    with tf.Session("local", graph=g, config=tf.ConfigProto(device_count={"CPU": n})) as sess:
        got, got_max, got_grads = sess.run([outs, maxes, grads])
        plan = sess._scheduler.plan_for(outs, [], [])
    for o in got:
        np.testing.assert_array_equal(o, got[0])  # the same bits on every device
    np.testing.assert_allclose(got[0], sum(values) / n, rtol=1e-6)
    np.testing.assert_array_equal(got_max[-1], np.max(values, axis=0))
    for gr in got_grads:  # d/dt_j sum_k (k+1) * mean(t) = sum_k (k+1) / n
        np.testing.assert_allclose(gr, np.full((5, 7), (n + 1) / 2.0), rtol=1e-6)
    for i, o in enumerate(outs):
        assert plan.placement[o.op.name].endswith(f"CPU:{i}")


def test_all_reduce_checks_its_inputs():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="one shape"):
            tf.parallel.all_reduce([tf.zeros([2]), tf.zeros([3])])
        with pytest.raises(ValueError, match="merge_op"):
            tf.parallel.all_reduce([tf.zeros([2]), tf.zeros([2])], merge_op="Sum")
        with pytest.raises(ValueError, match="algorithm"):
            tf.parallel.all_reduce([tf.zeros([2])], algorithm="tree")


# -- ClusterSpec, Server, replica_device_setter, SyncReplicasOptimizer --------------


def test_cluster_spec_and_server():
    cluster = tf.train.ClusterSpec({"worker": ["w0:1", "w1:1"], "ps": ["p0:1"]})
    assert cluster.jobs == ["ps", "worker"]
    assert cluster.num_tasks("worker") == 2 and cluster.task_address("worker", 1) == "w1:1"
    assert cluster.as_dict() == {"worker": ["w0:1", "w1:1"], "ps": ["p0:1"]}
    assert tf.train.ClusterSpec(cluster.as_cluster_def()) == cluster
    server = tf.train.Server(cluster, job_name="worker", task_index=1)
    assert server.target == "grpc://w1:1"
    server.start()
    server.join()  # returns: Ray serves the tasks
    with pytest.raises(ValueError, match="job_name"):
        tf.train.Server(cluster)


def test_cluster_tasks_spread_over_nodes_round_robin():
    devices = [f"/job:worker/replica:0/task:{t}/device:CPU:{i}" for t in range(2) for i in range(2)]
    got = placement.cluster_devices({"ps": 2, "worker": 3}, devices)
    assert got[("ps", 0)].startswith("/job:worker/replica:0/task:0/device:CPU:0")
    assert got[("ps", 1)] == "/job:worker/replica:0/task:1/device:CPU:0"
    assert got[("worker", 0)] == "/job:worker/replica:0/task:0/device:CPU:1"
    assert got[("worker", 1)] == "/job:worker/replica:0/task:1/device:CPU:1"
    assert got[("worker", 2)] == got[("ps", 0)]


def test_replica_device_setter_round_robin_and_strategy():
    with tf.Graph().as_default():
        with tf.device(tf.train.replica_device_setter(ps_tasks=2)):
            a, b, c = (tf.Variable(1.0, name=n) for n in "abc")
            s = a + b
        assert [v.op.device for v in (a, b, c)] == ["/job:ps/task:0", "/job:ps/task:1", "/job:ps/task:0"]
        assert s.op.device == "/job:worker"
        with tf.device(
            tf.train.replica_device_setter(
                ps_tasks=3, ps_strategy=lambda op: 2, worker_device="/job:worker/task:1"
            )
        ):
            d = tf.Variable(1.0, name="d")
            t = d * 2.0
        assert d.op.device == "/job:ps/task:2" and t.op.device == "/job:worker/task:1"
        assert tf.train.replica_device_setter(cluster={"worker": ["w:1"]}) is None


def _regression(x):
    w1 = tf.get_variable("w1", [16, 8], initializer=tf.glorot_uniform_initializer(seed=1))
    b1 = tf.get_variable("b1", [8], initializer=tf.zeros_initializer())
    w2 = tf.get_variable("w2", [8, 1], initializer=tf.glorot_uniform_initializer(seed=2))
    return tf.matmul(tf.nn.tanh(tf.matmul(x, w1) + b1), w2)


def ps_program(make_session, replicas=2):
    """An in-graph parameter-server program; its final variables."""
    xv, yv = X[:64], X[:64, :1] * 0.5
    cluster = tf.train.ClusterSpec(
        {"ps": ["ps0:2222", "ps1:2222"], "worker": [f"w{i}:2222" for i in range(replicas)]}
    )
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        y = tf.placeholder(tf.float32, [None, 1])
        with tf.device(tf.train.replica_device_setter(cluster=cluster)):
            step = tf.train.get_or_create_global_step()
        opt = tf.train.SyncReplicasOptimizer(
            tf.train.GradientDescentOptimizer(0.1), replicas_to_aggregate=replicas
        )
        grads_and_vars = []
        for i, (xs, ys) in enumerate(zip(tf.split(x, replicas), tf.split(y, replicas))):
            setter = tf.train.replica_device_setter(worker_device=f"/job:worker/task:{i}", cluster=cluster)
            with tf.device(setter), tf.variable_scope("m", reuse=tf.AUTO_REUSE):
                loss = tf.reduce_mean(tf.square(_regression(xs) - ys))
                grads_and_vars += opt.compute_gradients(loss)
        train_op = opt.apply_gradients(grads_and_vars, global_step=step)
        hook = opt.make_session_run_hook(is_chief=True)
        hook.begin()
        init_tokens = opt.get_init_tokens_op()
        init = tf.global_variables_initializer()
        devices = {v.name: v.op.device for v in tf.global_variables()}
    with make_session(g, cluster) as sess:
        sess.run(init)
        sess.run([init_tokens, opt.chief_init_op])
        for _ in range(10):
            sess.run(train_op, {x: xv, y: yv})
        return sess.run(g.get_collection("variables")), devices, sess


def single_device_regression():
    xv, yv = X[:64], X[:64, :1] * 0.5
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 16])
        y = tf.placeholder(tf.float32, [None, 1])
        step = tf.train.get_or_create_global_step()
        with tf.variable_scope("m"):
            loss = tf.reduce_mean(tf.square(_regression(x) - y))
        train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
        init = tf.global_variables_initializer()
    with tf.Session("local", graph=g) as sess:
        sess.run(init)
        for _ in range(10):
            sess.run(train_op, {x: xv, y: yv})
        return sess.run(g.get_collection("variables"))


def test_in_graph_parameter_server_program_matches_one_device():
    def local_session(g, cluster):
        config = tf.ConfigProto(device_count={"CPU": 2}, cluster_def=cluster.as_cluster_def())
        return tf.Session("local", graph=g, config=config)

    got, devices, _ = ps_program(local_session)
    want = single_device_regression()
    assert devices == {
        "global_step:0": "/job:ps/task:0",
        "m/w1:0": "/job:ps/task:0",
        "m/b1:0": "/job:ps/task:1",
        "m/w2:0": "/job:ps/task:0",
    }
    assert got[0] == want[0] == 10
    for a, b in zip(got[1:], want[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_cluster_tasks_are_placed_on_their_devices():
    cluster = tf.train.ClusterSpec({"ps": ["p:1"], "worker": ["a:1", "b:1"]})
    g = tf.Graph()
    with g.as_default():
        with tf.device("/job:ps/task:0"):
            v = tf.Variable(1.0, name="v")
        with tf.device("/job:worker/task:1"):
            out = v * 2.0
    config = tf.ConfigProto(device_count={"CPU": 2}, cluster_def=cluster)
    with tf.Session("local", graph=g, config=config) as sess:
        sess.run(v.initializer)
        assert sess.run(out) == 2.0
        plan = sess._scheduler.plan_for([out], [], [])
    assert plan.placement["v"].endswith("CPU:0")  # ps:0 -> CPU:0, worker:0 -> CPU:1, worker:1 -> CPU:0
    assert plan.placement[out.op.name].endswith("CPU:0")
    with tf.Graph().as_default() as g2:
        with tf.device("/job:ps/task:3"):
            bad = tf.constant(1.0) * 2.0
    with tf.Session("local", graph=g2, config=config) as sess:
        with pytest.raises(errors.InvalidArgumentError, match="job:ps/task:3"):
            sess.run(bad)


def test_sync_replicas_needs_every_replicas_gradients_in_graph():
    with tf.Graph().as_default():
        w = tf.Variable(1.0)
        step = tf.train.get_or_create_global_step()
        opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), replicas_to_aggregate=2)
        with pytest.raises(ValueError, match="replicas_to_aggregate=2"):
            opt.minimize(w * w, global_step=step)
        with pytest.raises(ValueError, match="Global step"):
            opt.minimize(w * w)


def test_sync_replicas_hook_runs_under_a_monitored_session():
    with tf.Graph().as_default():
        w = tf.Variable(3.0)
        step = tf.train.get_or_create_global_step()
        opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.25), replicas_to_aggregate=2)
        gvs = opt.compute_gradients(w * w) + opt.compute_gradients(w * w * 3.0)
        train_op = opt.apply_gradients(gvs, global_step=step)  # mean gradient: (6 + 18) / 2 = 12
        hook = opt.make_session_run_hook(is_chief=True)
        assert isinstance(hook, tf.train.SessionRunHook)
        with tf.train.MonitoredSession(
            session_creator=tf.train.ChiefSessionCreator(master="local"), hooks=[hook]
        ) as sess:
            sess.run(train_op)
            assert sess.run(w) == 3.0 - 0.25 * 12.0
            assert sess.run(step) == 1
