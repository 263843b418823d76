"""Placement rules, as a pure function of the graph and the device names (no Ray)."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf
from scheduler.engine.placement import default_device, place

W = "/job:worker/replica:0/task:{}/device:{}"
CPU0, CPU1, GPU0, GPU1 = (
    W.format(0, "CPU:0"),
    W.format(0, "CPU:1"),
    W.format(0, "GPU:0"),
    W.format(0, "GPU:1"),
)
T1_CPU0, T1_GPU0 = W.format(1, "CPU:0"), W.format(1, "GPU:0")
CPUS = [CPU0, CPU1]
ALL = [CPU0, CPU1, GPU0, GPU1, T1_CPU0, T1_GPU0]


def placed(devices, soft=False):
    ops = tf.get_default_graph().get_operations()
    return place(ops, devices, soft)


def test_default_device_is_the_first_gpu_of_task_0_else_cpu_0():
    assert default_device(ALL) == GPU0
    assert default_device(CPUS) == CPU0
    assert default_device([T1_GPU0, CPU1, CPU0]) == CPU0
    tf.constant(1.0, name="c")
    assert placed(ALL)["c"] == GPU0
    assert placed(CPUS)["c"] == CPU0


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("/cpu:0", CPU0),
        ("CPU:1", CPU1),
        ("/gpu:1", GPU1),
        ("/device:GPU:0", GPU0),
        ("/job:worker/task:1", T1_GPU0),  # no type: a GPU before a CPU
        ("/job:worker/task:1/cpu:0", T1_CPU0),
        ("/job:localhost/replica:0/task:0/device:CPU:1", CPU1),
        ("/task:1/device:CPU:*", T1_CPU0),
    ],
)
def test_explicit_specs_in_tf_spelling(spec, expected):
    with tf.device(spec):
        tf.constant(1.0, name="c")
    assert placed(ALL)["c"] == expected


def test_nested_partial_specs_merge_inner_over_outer():
    with tf.device("/job:worker/task:1"):
        with tf.device("/cpu:0"):
            tf.constant(1.0, name="a")
        with tf.device("/gpu:0"):
            tf.constant(1.0, name="b")
    with tf.device("/gpu:1"):
        with tf.device(None):
            tf.constant(1.0, name="reset")
    p = placed(ALL)
    assert p["a"] == T1_CPU0 and p["b"] == T1_GPU0 and p["reset"] == GPU0


def test_variables_go_with_their_readers_and_assigners():
    with tf.device("/cpu:1"):
        w = tf.Variable(np.ones(3, np.float32), name="w")
    with tf.device("/gpu:0"):
        y = w * 2.0
    update = w.assign_add(np.ones(3, np.float32))  # no request: follows the variable
    p = placed(ALL)
    assert p["w"] == p["w/read"] == p["w/Assign"] == p[update.op.name] == CPU1
    assert p[y.op.name] == GPU0


def test_a_variable_without_request_follows_the_op_assigning_it():
    w = tf.Variable(np.ones(3, np.float32), name="w")
    with tf.device("/cpu:1"):
        update = w.assign(np.zeros(3, np.float32))
    p = placed(ALL)
    assert p["w"] == p["w/read"] == p[update.op.name] == CPU1


def test_colocate_with_places_with_the_anchor_and_ignores_the_device_scope():
    with tf.device("/cpu:1"):
        a = tf.constant(1.0, name="a")
    with tf.device("/gpu:1"), tf.colocate_with(a):
        b = tf.identity(a, name="b")
    assert placed(ALL)[b.op.name] == CPU1


def test_a_placement_is_the_same_in_every_plan():
    with tf.device("/cpu:1"):
        w = tf.Variable(np.ones(3, np.float32), name="w")
    graph = tf.get_default_graph()
    init_only = place([graph.get_operation_by_name("w/Assign")], ALL)  # the variable is not in this plan
    read_only = place([graph.get_operation_by_name("w"), w.value().op], ALL)
    assert init_only["w/Assign"] == read_only["w"] == CPU1


def test_assigners_asking_for_another_device_follow_the_variable():
    with tf.device("/cpu:0"):
        w = tf.Variable(np.ones(3, np.float32), name="w")
    with tf.device("/cpu:1"):
        bump = w.assign_add(np.ones(3, np.float32), name="bump")
    assert placed(ALL)[bump.op.name] == CPU0  # TF: the variable's device, the scope ignored


def test_conflicting_requests_in_a_group_name_both_ops_unless_soft():
    w = tf.Variable(np.ones(3, np.float32), name="w")
    with tf.device("/cpu:0"):
        w.assign(np.zeros(3, np.float32), name="here")
    with tf.device("/cpu:1"):
        w.assign_add(np.ones(3, np.float32), name="there")
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        placed(ALL)
    text = str(info.value)
    assert "'here'" in text and "'there'" in text and "test_placement.py:" in text
    assert placed(ALL, soft=True)["there"] == CPU0


def test_a_missing_device_names_the_op_its_line_and_the_device():
    with tf.device("/gpu:3"):
        tf.constant(1.0, name="far")
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        placed(CPUS)
    text = str(info.value)
    assert "'far'" in text and "/device:GPU:3" in text and "test_placement.py:" in text
    assert "allow_soft_placement" in text


def test_soft_placement_relaxes_index_then_type_then_everything():
    with tf.device("/gpu:3"):
        tf.constant(1.0, name="gpu3")
    with tf.device("/job:worker/task:1/device:GPU:5"):
        tf.constant(1.0, name="t1gpu5")
    with tf.device("/job:worker/task:7"):
        tf.constant(1.0, name="task7")
    p = placed(ALL, soft=True)
    assert p["gpu3"] == GPU0 and p["t1gpu5"] == T1_GPU0 and p["task7"] == GPU0
    assert placed(CPUS, soft=True)["gpu3"] == CPU0  # no GPU at all: the task's CPU
