"""A node of a ray.cluster_utils.Cluster removed in the middle of runs (tests/chaos/cluster_driver.py).

The cluster and its driver live in a child process: a driver joins one Ray at a
time, and this process may have its own (the `ray_cluster` fixture).
"""

from __future__ import annotations

import pytest

from tests.chaos.chaos import run_driver

pytestmark = [pytest.mark.chaos, pytest.mark.cluster, pytest.mark.slow]

T1 = "/job:worker/replica:0/task:1/device:CPU:0"


@pytest.mark.timeout(3600)
def test_a_node_removed_mid_run(chaos):
    rounds = chaos.rounds(1, 8)
    events = run_driver(
        "tests.chaos.cluster_driver", [str(chaos.seed), str(rounds)], timeout=150 + 150 * rounds
    )
    wrong = [e for e in events if e.get("outcome") == "wrong"]
    assert not wrong, wrong[:5]
    removals = [e for e in events if e["kind"] == "removal"]
    assert len(removals) == rounds and not any(e["hung"] for e in removals)
    assert all(T1 in e["devices"] for e in removals)  # each round's session had the new node as task 1
    failed = [e for e in events if e["kind"] == "node_run" and e["outcome"] == "typed"]
    assert all(e["error"].startswith("UnavailableError") and T1 in e["error"] for e in failed)
    assert [e["outcome"] for e in events if e["kind"] == "same_session_task0"] == ["right"] * rounds
    assert [e["outcome"] for e in events if e["kind"] == "same_session_task1"] == ["typed"] * rounds
    assert [e["outcome"] for e in events if e["kind"] == "new_session"] == ["right"] * rounds
    chaos.tally.update(
        nodes_removed=rounds,
        runs_right=sum(e["kind"] == "node_run" and e["outcome"] == "right" for e in events),
        runs_unavailable=len(failed),
        failures_survived=rounds,
    )
