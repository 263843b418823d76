"""What the chaos scenarios share: child processes with deadlines, and the typed-error check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import raygraph as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def child_env(**extra) -> dict:
    """The environment of a child driver: this checkout importable, no inherited Ray address."""
    env = dict(os.environ, PYTHONPATH=ROOT, RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1", **extra)
    env.pop("RAY_ADDRESS", None)
    return env


def run_driver(module: str, args: list[str], timeout: float, prefix: list[str] = ()) -> list[dict]:
    """Runs `python -m module args` to its end (at most `timeout` s); returns its JSON event lines.

    The child's own Ray, if it starts one, keeps its files in a private RAY_TMPDIR so
    that no other Ray process on the machine finds it. A child that fails or runs past
    its deadline fails the test with the end of its output.
    """
    temp = tempfile.mkdtemp(prefix="rgchaos", dir="/tmp")
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=child_env(RAY_TMPDIR=temp),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    events = [json.loads(line[6:]) for line in proc.stdout.splitlines() if line.startswith("EVENT ")]
    assert proc.returncode == 0, (
        f"{module} ended with {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return events


def emit(**event) -> None:
    """A child driver's report to the test: one JSON line on stdout."""
    print("EVENT " + json.dumps(event), flush=True)


def typed(error: BaseException, *names: str) -> str | None:
    """None if `error` is a tf.errors.OpError naming one of `names`; else what is wrong with it."""
    if not isinstance(error, tf.errors.OpError):
        return f"untyped {type(error).__name__}: {error}"
    if names and not any(n in str(error) for n in names):
        return f"{type(error).__name__} names none of {names}: {error}"
    return None
