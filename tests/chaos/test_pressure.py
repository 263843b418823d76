"""Runs under pressure on the machine's resources: /dev/shm full, no file descriptors left,
Ray's object store near full (the loops are in tests/chaos/ray_driver.py, each in a
child process with a Ray of its own).

Every run gives numpy's answer or raises one tf.errors class naming the device;
none hangs (the child dumps its stacks and ends past a run's deadline, and the
child itself has one); no device actor is restarted.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess

import pytest

from tests.chaos.chaos import run_driver

pytestmark = [pytest.mark.chaos, pytest.mark.cluster]


def tally_events(chaos, events: list[dict]) -> collections.Counter:
    outcomes = collections.Counter(e["outcome"] for e in events if "outcome" in e)
    wrong = [e for e in events if e.get("outcome") == "wrong"]
    assert not wrong, wrong[:5]
    chaos.tally.update({f"runs_{k}": v for k, v in outcomes.items()})
    return outcomes


def _can_mount_private_tmpfs() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /dev/shm"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_private_tmpfs(), reason="needs root and unshare -m")
@pytest.mark.timeout(1800)
def test_dev_shm_filled_while_sessions_feed_large_tensors(chaos):
    rounds = chaos.rounds(3, 60)
    mount = 'mount -t tmpfs -o size=16m tmpfs /dev/shm && exec "$0" "$@"'
    events = run_driver(
        "tests.chaos.ray_driver",
        ["shm", str(chaos.seed), str(rounds)],
        timeout=120 + 10 * rounds,
        prefix=["unshare", "-m", "sh", "-c", mount],
    )
    outcomes = tally_events(chaos, events)
    feeds = [e for e in events if e["kind"] == "shm_feed"]
    assert len(feeds) == 3 * rounds and outcomes["typed"] == 0  # the socket takes what /dev/shm cannot
    assert any(e["larger_than_free"] for e in feeds)
    chaos.tally["feeds_larger_than_free_shm"] = sum(e["larger_than_free"] for e in feeds)
    assert [e["files"] for e in events if e["kind"] == "shm_left"] == [[]]


@pytest.mark.timeout(1800)
def test_file_descriptors_exhausted(chaos):
    rounds = chaos.rounds(4, 60)
    events = run_driver(
        "tests.chaos.ray_driver", ["fds", str(chaos.seed), str(rounds)], timeout=120 + 10 * rounds
    )
    tally_events(chaos, events)
    chaos.tally["exhaustions"] = sum(e["kind"] == "fds_exhausted" for e in events)
    slow = [e for e in events if e.get("outcome") == "typed" and e.get("seconds", 0) > 10]
    assert not slow, slow  # an error from a lack of descriptors comes at once
    after = [e["outcome"] for e in events if e["kind"] == "fds_after"]
    assert after == ["right"] * rounds  # descriptors back: the same session works, on the same actors
    assert events[-1]["kind"] == "fds_done"


@pytest.mark.timeout(1800)
def test_object_store_near_full(chaos):
    rounds = chaos.rounds(2, 30)
    events = run_driver(
        "tests.chaos.ray_driver", ["store", str(chaos.seed), str(rounds)], timeout=120 + 30 * rounds
    )
    tally_events(chaos, events)
    typed = {e["error"] for e in events if e.get("outcome") == "typed"}
    assert typed <= {"ResourceExhaustedError", "UnavailableError"}, typed
    assert sum(e["kind"] == "store" for e in events) == 3 * rounds
    assert not [e for e in events if e["kind"] == "store_restart"]
