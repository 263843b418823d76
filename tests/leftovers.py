"""What a test run may not leave behind: raygraph's files in /dev/shm and the temp directory.

Checked once, when the test session ends (tests/conftest.py), over what this run can
own: shared-memory feed files named after this process, and checkpoint temporary
files (raygraph.io.atomic_write's) in pytest's base temporary directory whose writer
is gone. Other processes' files (other test runs on the machine) are not looked at.
"""

from __future__ import annotations

import gc
import os

from raygraph import io
from scheduler.shell import shm


def leftovers(basetemp: str | None) -> list[str]:
    """The paths this run left behind (after a garbage collection closes dropped sessions)."""
    gc.collect()
    found = []
    mine = f"{shm.PREFIX}{os.getpid()}-"
    try:
        found += [os.path.join(shm.SHM_DIR, n) for n in os.listdir(shm.SHM_DIR) if n.startswith(mine)]
    except OSError:
        pass
    if basetemp and os.path.isdir(basetemp):
        for directory, _, names in os.walk(basetemp):
            for name in names:
                match = io._TEMP_NAME.fullmatch(name)
                if match is None:
                    continue
                pid = int(match["pid"]) if match["pid"] else None
                path = os.path.join(directory, name)
                if pid is None or (pid == os.getpid() and path not in io._writing) or not io._alive(pid):
                    found.append(path)
    return found
