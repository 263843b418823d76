"""The driver SIGKILLed at random moments, many times, most of them in the middle of a save.

Each round starts tests/chaos/saver_driver.py on the checkpoint directory the
previous (killed) driver left, and kills it with SIGKILL: either a random fraction
of a save's duration after it printed `SAVING k`, or at a random moment after its
start (while it restores, trains or saves). After every kill:
- `tf.train.latest_checkpoint` names a whole checkpoint, at least as new as the last
  save the driver reported done, and restoring it gives exactly the state of one
  uninterrupted run at that step (no mix of two saves);
- the only temporary files are those of drivers killed since the last one that
  finished a save (a save first removes the stale ones of its prefix).
A last driver saves once and exits: then no temporary file is left at all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import raygraph as tf
from raygraph import io
from tests.chaos import saver_driver
from tests.chaos.chaos import ROOT, child_env

pytestmark = pytest.mark.chaos


class Driver:
    """A running saver_driver whose output lines are read on a thread."""

    def __init__(self, directory: str, saves: int | None = None):
        args = [sys.executable, "-m", "tests.chaos.saver_driver", directory]
        self.proc = subprocess.Popen(
            args + ([str(saves)] if saves else []),
            cwd=ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.changed:
                self.lines.append(line.split())
                self.changed.notify_all()

    def wait_for(self, word: str, timeout: float) -> list[str]:
        """The next line starting with `word`; fails after `timeout` s, or if the driver ended."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self.changed:
            while True:
                for line in self.lines[seen:]:
                    if line and line[0] == word:
                        return line
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(
                        f"no {word} line from the driver: {self.lines} {self.proc.stderr.read()}"
                    )
                self.changed.wait(min(left, 0.05))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)  # reaped: its pid is dead for the next driver's cleanup
        self.reader.join(timeout=30)

    def steps(self, word: str) -> list[int]:
        return [int(line[1]) for line in self.lines if line and line[0] == word]


def temp_files(directory) -> dict[str, int]:
    """{temporary file name: its writer's pid} in `directory`."""
    out = {}
    for name in os.listdir(directory):
        match = io._TEMP_NAME.fullmatch(name)
        if match is not None:
            out[name] = int(match["pid"])
    return out


def assert_whole(directory, saved: int, begun: int, states: list[dict]) -> int:
    """Checks the latest checkpoint (see the module docstring); returns its step."""
    latest = tf.train.latest_checkpoint(str(directory))
    if latest is None:
        assert saved == 0, f"saves up to step {saved} were reported done, and no checkpoint is listed"
        return 0
    step = int(latest.rsplit("-", 1)[1])
    assert saved <= step <= begun, f"latest checkpoint {latest}: reported saved {saved}, begun {begun}"
    got = saver_driver.restored(latest)
    for name, want in states[step].items():
        np.testing.assert_array_equal(got[name], want, err_msg=f"{name} in {latest}")
    return step


@pytest.mark.timeout(1800)
def test_a_driver_killed_mid_save_always_leaves_a_whole_checkpoint(tmp_path, chaos):
    kills = chaos.rounds(8, 150)
    directory = tmp_path / "ckpt"
    directory.mkdir()
    states = saver_driver.reference(kills * 4 + 10)
    saved = begun = 0  # the newest steps any driver reported saved / began to save
    suspects: list[int] = []  # pids of the drivers killed since one finished a save
    save_time = 0.1
    for _ in range(kills):
        driver = Driver(str(directory))
        if chaos.rng.random() < 0.75:  # in a save: a random fraction of a save's duration after it began
            target = chaos.rng.randint(1, 3)
            driver.wait_for("READY", timeout=60)
            for _ in range(target):
                driver.wait_for("SAVING", timeout=60)
                if len(driver.steps("SAVING")) >= target:
                    break
            time.sleep(chaos.rng.uniform(0, 1.2 * save_time))
            chaos.tally["kills_after_a_save_began"] += 1
        else:  # anywhere: starting, restoring, training or saving
            time.sleep(chaos.rng.uniform(0, 2.0))
            chaos.tally["kills_at_any_moment"] += 1
        driver.kill()
        done = driver.steps("SAVED")
        started = driver.steps("SAVING")
        times = [float(line[2]) for line in driver.lines if line and line[0] == "SAVED"]
        save_time = float(np.median(times)) if times else save_time
        if started and (not done or done[-1] != started[-1]):
            chaos.tally["kills_mid_save"] += 1
        saved, begun = max([saved, *done]), max([begun, *started])
        suspects = [driver.proc.pid] if done else [*suspects, driver.proc.pid]
        step = assert_whole(directory, saved, begun, states)
        chaos.tally["restores_checked"] += 1
        chaos.tally["steps_lost_to_kills"] += begun - step
        left = temp_files(directory)
        assert set(left.values()) <= set(suspects), f"stale temporary files left by earlier drivers: {left}"
        chaos.tally["temp_files_seen"] += len(left)
    final = Driver(str(directory), saves=1)
    assert final.proc.wait(timeout=120) == 0, final.proc.stderr.read()
    final.reader.join(timeout=30)
    assert temp_files(directory) == {}
    assert_whole(directory, final.steps("SAVED")[0], final.steps("SAVED")[0], states)
    chaos.tally["drivers"] = kills + 1
