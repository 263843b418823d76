"""Partitioning, transfers, control tokens and units: pure plan tests (no Ray)."""

from __future__ import annotations

import numpy as np

import raygraph as tf
from scheduler.engine import cost, segments
from scheduler.engine.executor import Executor, SessionState
from scheduler.engine.placement import place
from scheduler.engine.plan import TOKEN, build_plan

W = "/job:worker/replica:0/task:0/device:{}"
CPU0, CPU1, GPU0 = W.format("CPU:0"), W.format("CPU:1"), W.format("GPU:0")
DEVICES = [CPU0, CPU1, GPU0]


def plan_of(fetches, feeds=(), targets=()):
    graph = tf.get_default_graph()
    return build_plan(graph, list(fetches), list(feeds), list(targets), lambda ops: place(ops, DEVICES))


def test_a_tensor_crosses_once_per_destination_device():
    x = tf.placeholder(tf.float32, [3], name="x")
    with tf.device("/cpu:0"):
        a = tf.multiply(x, 2.0, name="a")
    with tf.device("/cpu:1"):
        b = tf.add(a, 1.0, name="b")
        c = tf.multiply(a, 3.0, name="c")  # a second reader on cpu:1: still one transfer
    with tf.device("/gpu:0"):
        d = tf.negative(a, name="d")
    plan = plan_of([b, c, d], [x])
    p0, p1, g0 = plan.partitions[CPU0], plan.partitions[CPU1], plan.partitions[GPU0]
    assert sorted(p0.sends) == [("a:0", CPU1), ("a:0", GPU0)]
    assert p1.recvs == [("a:0", CPU0)] and g0.recvs == [("a:0", CPU0)]
    assert p0.feeds == ["x:0"] and p1.feeds == [] and g0.feeds == []
    assert p1.fetches == ["b:0", "c:0"] and g0.fetches == ["d:0"]
    assert plan.fetch_location("d:0") == (GPU0, 0)


def test_control_dependencies_across_devices_become_tokens():
    with tf.device("/cpu:0"):
        v = tf.Variable(np.zeros(2, np.float32), name="v")
        bump = v.assign_add(np.ones(2, np.float32), name="bump")
    with tf.device("/cpu:1"):
        with tf.control_dependencies([bump]):
            done = tf.constant(1.0, name="done")
    plan = plan_of([done])
    p0, p1 = plan.partitions[CPU0], plan.partitions[CPU1]
    assert (TOKEN + "bump", CPU1) in p0.sends
    assert p1.recvs == [(TOKEN + "bump", CPU0)]
    assert p1.nodes[-1].control == (TOKEN + "bump",)


def test_a_sink_no_op_waits_only_for_its_own_device():
    """A train op grouping updates on several devices: the run waits for every device anyway,
    so the group keeps its own device's control inputs and sends no tokens between devices."""
    with tf.device("/cpu:0"):
        v = tf.Variable(np.zeros(2, np.float32), name="v")
        bump = v.assign_add(np.ones(2, np.float32), name="bump")
    with tf.device("/cpu:1"):
        w = tf.Variable(np.zeros(2, np.float32), name="w")
        bump_w = w.assign_add(np.ones(2, np.float32), name="bump_w")
        train = tf.group(bump, bump_w, name="train")
        with tf.control_dependencies([train]):
            after = tf.no_op(name="after")  # waits for the group: the group is no sink
    plan = plan_of([], targets=[train])
    p0, p1 = plan.partitions[CPU0], plan.partitions[CPU1]
    assert not p0.sends and not p1.recvs
    assert [n.control for n in p1.nodes if n.name == "train"] == [("bump_w",)]
    assert any(n.name == "bump" for n in p0.nodes)  # cpu:0 still runs its update
    plan = plan_of([], targets=[after])
    p0, p1 = plan.partitions[CPU0], plan.partitions[CPU1]
    assert (TOKEN + "bump", CPU1) in p0.sends
    assert [n.control for n in p1.nodes if n.name == "train"] == [(TOKEN + "bump", "bump_w")]


def test_same_device_control_inputs_stay_names():
    a = tf.constant(1.0, name="a")
    with tf.control_dependencies([a]):
        b = tf.constant(2.0, name="b")
    plan = plan_of([b])
    (part,) = plan.partitions.values()
    assert part.nodes[-1].control == ("a",) and not part.recvs


def test_a_partition_without_heavy_nodes_or_receives_is_one_unit():
    x = tf.placeholder(tf.float32, [None, 8], name="x")
    y = x
    for _ in range(20):
        y = tf.nn.relu(y * 2.0 + 1.0) if hasattr(tf.nn, "relu") else y * 2.0 + 1.0
    (part,) = plan_of([y], [x]).partitions.values()
    assert len(segments.split(part)) == 1


def test_heavy_nodes_start_units_and_cheap_followers_join_them():
    a = tf.constant(np.ones((1024, 1024), np.float32), name="a")
    m1 = tf.matmul(a, a, name="m1")
    m2 = tf.matmul(a, a, name="m2")
    r1 = tf.abs(m1, name="r1")  # depends on m1 only: joins its unit
    out = tf.add(r1, m2, name="out")  # needs both: a unit of its own
    assert cost.is_heavy(m1.op) and not cost.is_heavy(r1.op)
    (part,) = plan_of([out]).partitions.values()
    units = segments.split(part)
    names = [[part.nodes[i].name for i in u.nodes] for u in units]
    assert ["m1", "r1"] in names and ["m2"] in names and ["out"] in names
    by_name = {tuple(n): u for n, u in zip(names, units)}
    assert by_name[("m1", "r1")].heavy and by_name[("m2",)].heavy and not by_name[("out",)].heavy
    last = by_name[("out",)]
    assert sorted(units[i].nodes[0] for i in last.after) == sorted(
        [by_name[("m1", "r1")].nodes[0], by_name[("m2",)].nodes[0]]
    )
    assert "r1:0" in by_name[("m1", "r1")].writes and "r1:0" in last.reads


def test_unknown_shapes_are_cheap_and_declarations_may_override():
    x = tf.placeholder(tf.float32, [None, 1024], name="x")
    m = tf.matmul(x, tf.ones([1024, 1024]), name="m")
    assert not cost.is_heavy(m.op)  # the batch is unknown: no estimate, the fast path

    class SlowCall(tf.Op):
        inputs = ("x",)
        heavy = True

        def infer(x):
            return x.dtype, x.shape

        def kernel(xp, x):
            return x

    y = tf.get_default_graph().create_op("SlowCall", [x]).outputs[0]
    assert cost.is_heavy(y.op)


def test_received_tensors_split_units_and_the_executor_takes_them():
    x = tf.placeholder(tf.float32, [3], name="x")
    with tf.device("/cpu:0"):
        a = tf.multiply(x, 2.0, name="a")
    with tf.device("/cpu:1"):
        local = tf.add(x, 10.0, name="local")  # needs only the feed: runs before a arrives
        b = tf.add(a, local, name="b")
    plan = plan_of([b, local], [x])
    part = plan.partitions[CPU1]
    units = segments.split(part)
    assert len(units) == 2 and units[0].waits == [] and units[1].waits == ["a:0"]
    ex = Executor(part, SessionState(), np)
    xv = np.arange(3, dtype=np.float32)
    got_b, got_local = ex.run([xv], received={"a:0": xv * 2})
    np.testing.assert_allclose(got_b, xv * 3 + 10)
    np.testing.assert_allclose(got_local, xv + 10)


def test_a_variable_read_after_an_update_runs_where_it_is_used():
    with tf.device("/cpu:1"):
        v = tf.Variable(np.zeros(2, np.float32), name="v")
    with tf.device("/cpu:0"):
        go = tf.no_op(name="go")
    with tf.device("/cpu:1"):
        with tf.control_dependencies([go]):
            bumped = v.assign_add(np.ones(2, np.float32), name="bump")
        with tf.control_dependencies([bumped]):
            seen = tf.identity(v._variable, name="seen")
    plan = plan_of([seen])
    part = plan.partitions[CPU1]
    units = segments.split(part)
    unit_of = {part.nodes[i].name: u.index for u in units for i in u.nodes}
    assert unit_of["v"] == unit_of["seen"]  # the read sits with its reader, after the token
    state = SessionState()
    state.variables["v"] = np.zeros(2, np.float32)
    (got,) = Executor(part, state, np).run([], received={TOKEN + "go": None})
    np.testing.assert_allclose(got, [1, 1])


def test_a_constant_waiting_for_a_control_input_holds_back_its_readers():
    x = tf.placeholder(tf.float32, [], name="x")
    with tf.device("/cpu:0"):
        go = tf.no_op(name="go")
        early = tf.multiply(x, 2.0, name="early")
    with tf.device("/cpu:1"):
        with tf.control_dependencies([go]):
            c = tf.constant(5.0, name="c")
        y = tf.add(c, early, name="y")  # also waits for `early`: a unit of its own
    part = plan_of([y], [x]).partitions[CPU1]
    units = segments.split(part)
    unit_of = {part.nodes[i].name: u for u in units for i in u.nodes}
    assert unit_of["c"] is not unit_of["y"]
    assert unit_of["c"].index in unit_of["y"].after


def test_a_control_dependency_on_a_fed_placeholder_is_met_by_the_feed():
    g = tf.placeholder(tf.float32, [2], name="g")
    with tf.device("/cpu:1"), tf.control_dependencies([g]):
        out = tf.constant(1.0, name="c") + 1.0
    plan = plan_of([out], [g])
    assert "g" not in plan.placement  # as TF: the fed placeholder's control edges come from its feed
    assert all(not node.control for part in plan.partitions.values() for node in part.nodes)


def test_apply_gradients_takes_fed_gradients():
    w = tf.Variable([1.0, 2.0])
    grad = tf.placeholder(tf.float32, [2])
    train = tf.train.GradientDescentOptimizer(0.1).apply_gradients([(grad, w)])
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        sess.run(train, {grad: [1.0, 1.0]})
        np.testing.assert_allclose(sess.run(w), [0.9, 1.9])
