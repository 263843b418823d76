"""Sessions on several devices: results, transfers, control dependencies, config.

The conftest's Ray has 4 CPUs and two fake GPUs: GPU actors run numpy, so
placement, partitioning and transfers are exercised everywhere.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import ray

import raygraph as tf
from scheduler.shell import runtime
from tests.scheduler.rendezvous import Meeting

pytestmark = pytest.mark.usefixtures("ray_cluster")

TWO_CPUS = tf.ConfigProto(device_count={"CPU": 2})
RNG = np.random.default_rng(0)
XV = RNG.normal(size=(8, 16)).astype(np.float32)
W0 = RNG.normal(size=(16, 32)).astype(np.float32)
W1 = RNG.normal(size=(32, 4)).astype(np.float32)


def mixed_graph(first: str | None, second: str | None):
    """A small model split over two devices; returns (placeholder, fetches, train op)."""
    x = tf.placeholder(tf.float32, [None, 16], name="x")
    with tf.device(first):
        w0 = tf.Variable(W0, name="w0")
        h = tf.nn.relu(tf.matmul(x, w0)) if hasattr(tf.nn, "relu") else tf.maximum(tf.matmul(x, w0), 0.0)
        hsum = tf.reduce_sum(h, axis=0, name="hsum")
        steps = tf.Variable(np.zeros([], np.float32), name="steps")
    with tf.device(second):
        w1 = tf.Variable(W1, name="w1")
        logits = tf.matmul(h, w1, name="logits")
        mean = tf.reduce_mean(logits, name="mean")
        grow = w1.assign_add(
            tf.fill([32, 4], 0.5) if hasattr(tf, "fill") else np.full((32, 4), 0.5, np.float32)
        )
    with tf.device(first):
        count = steps.assign_add(1.0)
    train = tf.group(grow, count, name="train")
    return x, [hsum, logits, mean, w1, steps], train


def run_three_steps(config, first, second):
    tf.reset_default_graph()
    x, fetches, train = mixed_graph(first, second)
    out = []
    with tf.Session(config=config) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train, {x: XV})
            out.append(sess.run(fetches, {x: XV}))
    return out


@pytest.mark.parametrize("first, second", [("/cpu:0", "/cpu:1"), ("/gpu:0", "/gpu:1"), ("/cpu:1", "/gpu:0")])
def test_two_devices_give_the_single_device_results(first, second):
    single = run_three_steps(tf.ConfigProto(device_count={"CPU": 1, "GPU": 0}), None, None)
    split = run_three_steps(TWO_CPUS, first, second)
    for a, b in zip(single, split):
        for u, v in zip(a, b):
            np.testing.assert_allclose(u, v, rtol=1e-6)
    assert split[-1][-1] == 3.0  # assign_add across runs, on the first device


def test_fetches_from_each_device_and_feeds_to_each_device():
    x = tf.placeholder(tf.float32, [3], name="x")
    with tf.device("/cpu:0"):
        a = x * 2.0
    with tf.device("/cpu:1"):
        b = x + 1.0
    with tf.device("/gpu:1"):
        c = a + b
    with tf.Session(config=TWO_CPUS) as sess:
        va, vb, vc = sess.run([a, b, c], {x: [1, 2, 3]})
    np.testing.assert_allclose(va, [2, 4, 6])
    np.testing.assert_allclose(vb, [2, 3, 4])
    np.testing.assert_allclose(vc, [4, 7, 10])


def test_a_control_dependency_across_devices_orders_the_runs():
    with tf.device("/cpu:0"):
        v = tf.Variable(np.zeros(4, np.float32), name="v")
        bump = v.assign_add(np.ones(4, np.float32))
    with tf.device("/cpu:1"), tf.control_dependencies([bump]):
        after = tf.constant(7.0) * 1.0
    with tf.device("/cpu:0"), tf.control_dependencies([after]):
        seen = tf.identity(v._variable)
    with tf.Session(config=TWO_CPUS) as sess:
        sess.run(v.initializer)
        for i in range(1, 4):
            got_after, got_seen = sess.run([after, seen])
            assert got_after == 7.0
            np.testing.assert_allclose(got_seen, np.full(4, float(i)))


def test_a_large_tensor_crosses_devices_intact():
    big = RNG.normal(size=(1024, 1024)).astype(np.float32)  # 4 MB: through the object store
    x = tf.placeholder(tf.float32, big.shape, name="big")
    with tf.device("/cpu:0"):
        doubled = x * 2.0
    with tf.device("/cpu:1"):
        total = tf.reduce_sum(doubled, axis=0)
        back = doubled + 0.0
    with tf.Session(config=TWO_CPUS) as sess:
        got_total, got_back = sess.run([total, back], {x: big})
    np.testing.assert_allclose(got_total, (big * 2).sum(axis=0), rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(got_back, big * 2)
    got_back[0, 0] = 1.0  # fetched values are the caller's own


def test_runs_of_two_sessions_and_of_many_plans_never_mix():
    x = tf.placeholder(tf.float32, [2], name="x")
    with tf.device("/cpu:0"):
        a = x * 3.0
    with tf.device("/cpu:1"):
        b = a + x
    with tf.Session(config=TWO_CPUS) as s1, tf.Session(config=TWO_CPUS) as s2:
        for i in range(10):
            np.testing.assert_allclose(s1.run(b, {x: [i, i]}), [4 * i, 4 * i])
            np.testing.assert_allclose(s2.run(b, {x: [-i, 1]}), [-4 * i, 4])
            np.testing.assert_allclose(s1.run(a, {x: [i, 0]}), [3 * i, 0])


def test_list_devices_names_every_cpu_and_gpu():
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 3})) as sess:
        names = [d.name for d in sess.list_devices()]
        types = {d.device_type for d in sess.list_devices()}
    prefix = "/job:worker/replica:0/task:0/device:"
    assert names == [prefix + n for n in ("CPU:0", "CPU:1", "CPU:2", "GPU:0", "GPU:1")]
    assert types == {"CPU", "GPU"}
    with tf.Session(config=tf.ConfigProto(device_count={"GPU": 0})) as sess:
        assert [d.name for d in sess.list_devices()] == [prefix + "CPU:0"]


def test_device_actors_are_named_after_their_devices():
    with tf.device("/cpu:1"):
        y = tf.constant(1.0) + 1.0
    with tf.Session(config=TWO_CPUS) as sess:
        sess.run(y)
    device = "/job:worker/replica:0/task:0/device:CPU:1"
    name = runtime.actor_name(device)
    assert name == "raygraph" + device or name.startswith("raygraph" + device + "#")  # "#n": restarted
    assert ray.get(ray.get_actor(name).ping.remote())["device"] == device


def test_log_device_placement_prints_each_node(capsys):
    with tf.device("/cpu:1"):
        a = tf.constant(2.0, name="two")
        b = tf.multiply(a, 3.0, name="six")
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2}, log_device_placement=True)) as sess:
        sess.run(b)
    out = capsys.readouterr().out
    assert "six: (Mul): /job:worker/replica:0/task:0/device:CPU:1" in out
    assert "two: (Const): /job:worker/replica:0/task:0/device:CPU:1" in out


def test_soft_placement_runs_where_it_can_and_its_absence_names_the_op():
    with tf.device("/gpu:7"):
        y = tf.constant(2.0, name="far") * 4.0
    with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        assert sess.run(y) == 8.0
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError) as info:
        sess.run(y)
    assert "'far'" in str(info.value) and "GPU:7" in str(info.value)
    assert "test_multi_device.py:" in str(info.value)


def test_intra_op_threads_set_the_blas_threads_of_the_actor_per_run():
    with tf.device("/cpu:0"):
        y = tf.constant(np.ones((4, 4), np.float32)) * 2.0
    device = "/job:worker/replica:0/task:0/device:CPU:0"
    with tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=1)) as sess:
        sess.run(y)
        assert ray.get(runtime.existing_actor(device).ping.remote())["blas_threads"] == 1
    with tf.Session() as sess:  # the default again: the library's own count
        sess.run(y)
        default = ray.get(runtime.existing_actor(device).ping.remote())["blas_threads"]
    assert default >= 1


class Nap(tf.Op):
    """Sleeps (releasing the GIL) then passes its input through: a stand-in for a slow kernel."""

    inputs = ("x",)
    attrs = {"seconds": 0.2}
    heavy = True

    def infer(x, seconds):
        return x.dtype, x.shape

    def kernel(xp, x, seconds):
        time.sleep(seconds)
        return x


def nap(x, seconds, name=None):
    return tf.get_default_graph().create_op("Nap", [x], {"seconds": seconds}, name=name).outputs[0]


# The tests below time nothing: nodes of a Meeting wait for each other inside their
# kernels, so a run that returns proves they ran at the same time (tests/scheduler/rendezvous.py).


def test_devices_run_at_the_same_time(tmp_path):
    meeting = Meeting(tmp_path)
    with tf.device("/cpu:0"):
        a = meeting.node(tf.constant(1.0), "a", peers=["b"])
    with tf.device("/cpu:1"):
        b = meeting.node(tf.constant(2.0), "b", peers=["a"])
    with tf.Session(config=TWO_CPUS) as sess:
        assert sess.run([a, b]) == [1.0, 2.0]


def test_independent_heavy_nodes_on_one_device_share_its_pool(tmp_path):
    meeting = Meeting(tmp_path)
    with tf.device("/cpu:0"):
        a = meeting.node(tf.constant(1.0), "a", peers=["b"])
        b = meeting.node(tf.constant(2.0), "b", peers=["a"])
        c = a + b
    with tf.Session(config=tf.ConfigProto(inter_op_parallelism_threads=2)) as sess:
        assert sess.run(c) == 3.0  # a and b met: they ran side by side
    with tf.device("/cpu:0"):
        a1 = nap(tf.constant(1.0), 0.0, name="a1")
        b1 = nap(tf.constant(2.0), 0.0, name="b1")
        c1 = a1 + b1
    traced = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    for config in (tf.ConfigProto(inter_op_parallelism_threads=1), None):  # None: the default, one thread
        md = tf.RunMetadata()
        with tf.Session(config=config) as sess:
            assert sess.run(c1, options=traced, run_metadata=md) == 3.0
        threads = {ns.node_name: ns.thread_id for dev in md.step_stats.dev_stats for ns in dev.node_stats}
        assert threads["a1"] == threads["b1"]  # one thread: one after the other


def test_a_device_waiting_for_a_transfer_keeps_running_its_other_work(tmp_path):
    meeting = Meeting(tmp_path)
    x = tf.placeholder(tf.float32, [], name="x")
    with tf.device("/cpu:0"):
        slow = meeting.node(x, "slow", peers=["own"])  # ends only once `own` has started
    with tf.device("/cpu:1"):
        own = meeting.node(x + 1.0, "own", peers=["slow"])  # ready at once on cpu:1
        both = slow + own  # waits for slow's tensor from cpu:0
    with tf.Session(config=TWO_CPUS) as sess:
        assert sess.run(both, {x: 1.0}) == 3.0


def _loop_over_two_devices(target, config):
    with tf.Graph().as_default():
        with tf.device("/cpu:0"):
            x = tf.placeholder(tf.float32, [3])
            w = tf.Variable([1.0, 2.0, 3.0])

        def body(i, h):
            with tf.device("/cpu:1"):
                a = tf.sin(h) * w
            with tf.device("/cpu:0"):
                b = a + 1.0
            return i + 1, b

        with tf.device("/cpu:1"):
            _, out = tf.while_loop(lambda i, h: i < 3, body, [0, x])
        grads = tf.gradients(tf.reduce_sum(out), [x, w])
        with tf.Session(target, config=config) as sess:
            sess.run(tf.global_variables_initializer())
            return sess.run([out, *grads], {x: [0.1, 0.2, 0.3]})


def test_a_loop_whose_body_names_two_devices_runs_on_ray():
    """The loop runs inside one device (its body's ops run where the While op is placed);
    values and gradients equal the single-process run's."""
    ours = _loop_over_two_devices("", TWO_CPUS)
    local = _loop_over_two_devices("local", TWO_CPUS)
    for a, b in zip(ours, local):
        np.testing.assert_allclose(a, b, rtol=1e-6)
