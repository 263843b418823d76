"""Running a driver script against a Ray cluster of its own, in a child process.

The pytest process may have its own Ray (the `ray_cluster` fixture) and a driver
joins one Ray at a time, so a test that needs a `ray.cluster_utils.Cluster`
starts it in a child running `script`, which prints what it saw as one line
"RESULT <json>". The child gets a private Ray temp directory (removed
afterwards), so the cluster's address file leads no other Ray process on this
machine (other test runs) to it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cluster_script(
    script: str, *args: str, timeout: float = 240, prefix: str = "rgc"
) -> tuple[dict, str]:
    """(the child's RESULT, its stderr); fails the test, with the child's output, if it printed none."""
    temp = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=ROOT, RAY_TMPDIR=temp)
    env.pop("RAY_ADDRESS", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :]), proc.stderr
