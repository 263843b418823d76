"""Traced runs: RunMetadata.step_stats as TF fills it, and the Chrome-trace timeline."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import raygraph as tf
from raygraph import timeline
from tests.scheduler.rendezvous import Meeting
from tests.scheduler.test_multi_device import TWO_CPUS

pytestmark = pytest.mark.usefixtures("ray_cluster")

FULL = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
CPU = "/job:worker/replica:0/task:0/device:CPU:{}"


def two_device_graph():
    x = tf.placeholder(tf.float32, [64, 64], name="x")
    with tf.device("/cpu:0"):
        a = tf.matmul(x, x, name="a")
    with tf.device("/cpu:1"):
        b = tf.reduce_sum(a * 2.0, name="b")
    return x, a, b


def traced(sess, fetches, feed=None):
    md = tf.RunMetadata()
    value = sess.run(fetches, feed, options=FULL, run_metadata=md)
    return value, md


def test_step_stats_have_a_device_each_with_its_nodes_and_transfers():
    x, a, b = two_device_graph()
    xv = np.ones((64, 64), np.float32)
    with tf.Session(config=TWO_CPUS) as sess:
        before = time.time() * 1e6
        value, md = traced(sess, b, {x: xv})
        after = time.time() * 1e6
    assert value == np.float32(64 * 64 * 64 * 2)
    devices = {d.device: d for d in md.step_stats.dev_stats}
    assert set(devices) == {CPU.format(0), CPU.format(1)}
    nodes0 = {ns.node_name: ns for ns in devices[CPU.format(0)].node_stats}
    nodes1 = {ns.node_name: ns for ns in devices[CPU.format(1)].node_stats}
    mm = nodes0["a"]
    assert mm.timeline_label == "a = MatMul(x, x)"
    assert before - 1000 <= mm.all_start_micros <= after
    assert mm.op_start_rel_micros <= mm.op_end_rel_micros <= mm.all_end_rel_micros
    assert mm.thread_id > 0 and mm.all_start_nanos // 1000 == mm.all_start_micros
    assert mm.output[0].tensor_description.allocation_description.requested_bytes == 64 * 64 * 4
    assert nodes1["b"].timeline_label.startswith("b = Sum(")
    send = nodes0[f"_Send/a:0@{CPU.format(1)}"]
    recv = nodes1[f"_Recv/a:0@{CPU.format(0)}"]
    assert send.transfer == ("a:0", CPU.format(0), CPU.format(1), 64 * 64 * 4)
    assert recv.transfer == ("a:0", CPU.format(0), CPU.format(1), 64 * 64 * 4)
    assert "16384 bytes" in recv.timeline_label
    assert recv.all_start_micros <= nodes1["b"].all_start_micros


def test_an_untraced_run_leaves_the_metadata_empty():
    x, a, b = two_device_graph()
    md = tf.RunMetadata()
    with tf.Session(config=TWO_CPUS) as sess:
        sess.run(b, {x: np.ones((64, 64), np.float32)}, run_metadata=md)
    assert md.step_stats.dev_stats == []


def test_partition_graphs_on_request():
    x, a, b = two_device_graph()
    md = tf.RunMetadata()
    options = tf.RunOptions(output_partition_graphs=True)
    with tf.Session(config=TWO_CPUS) as sess:
        sess.run(b, {x: np.ones((64, 64), np.float32)}, options=options, run_metadata=md)
    by_device = {g.device: [n.name for n in g.node] for g in md.partition_graphs}
    assert "a" in by_device[CPU.format(0)] and "b" in by_device[CPU.format(1)]


def test_the_chrome_trace_has_a_process_per_device_an_event_per_node_and_flows():
    x, a, b = two_device_graph()
    with tf.Session(config=TWO_CPUS) as sess:
        _, md = traced(sess, b, {x: np.ones((64, 64), np.float32)})
    trace = json.loads(timeline.Timeline(md.step_stats).generate_chrome_trace_format(show_dataflow=True))
    events = trace["traceEvents"]
    processes = {
        e["args"]["name"]: e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"
    }
    assert set(processes) == {CPU.format(0) + " Compute", CPU.format(1) + " Compute"}
    ops = [e for e in events if e["ph"] == "X"]
    matmul = next(e for e in ops if e["args"]["name"] == "a")
    assert matmul["name"] == "MatMul" and matmul["pid"] == processes[CPU.format(0) + " Compute"]
    assert matmul["args"]["input0"] == "x" and matmul["dur"] >= 0
    recv = next(e for e in ops if e["name"] == "_Recv")
    assert recv["args"]["bytes"] == 64 * 64 * 4 and recv["pid"] == processes[CPU.format(1) + " Compute"]
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    ends = {e["id"]: e for e in events if e["ph"] == "t"}
    assert starts and set(starts) == set(ends)
    assert any(starts[i]["pid"] != ends[i]["pid"] for i in starts)  # the transfer crosses devices
    plain = json.loads(timeline.Timeline(md.step_stats).generate_chrome_trace_format(show_dataflow=False))
    assert not [e for e in plain["traceEvents"] if e["ph"] in "st"]
    memory = json.loads(timeline.Timeline(md.step_stats).generate_chrome_trace_format(show_memory=True))
    assert [e for e in memory["traceEvents"] if e["ph"] == "C"]


def test_a_trace_shows_two_devices_busy_at_once(tmp_path):
    meeting = Meeting(tmp_path)  # each node waits inside its kernel for the other: they overlap
    with tf.device("/cpu:0"):
        a = meeting.node(tf.constant(1.0), "busy0", peers=["busy1"])
    with tf.device("/cpu:1"):
        b = meeting.node(tf.constant(2.0), "busy1", peers=["busy0"])
    with tf.Session(config=TWO_CPUS) as sess:
        _, md = traced(sess, [a, b])
    spans = {
        ns.node_name: (ns.all_start_nanos, ns.all_start_nanos + ns.all_end_rel_nanos)
        for dev in md.step_stats.dev_stats
        for ns in dev.node_stats
    }
    (s0, e0), (s1, e1) = spans["busy0"], spans["busy1"]
    assert max(s0, s1) < min(e0, e1)  # the two spans overlap on the timeline
