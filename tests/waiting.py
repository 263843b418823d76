"""Waiting for a condition, never for a length of time.

Tests do not sleep and then assert; they wait until what they expect has happened,
and fail loudly, naming it, when it does not happen within a generous timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], bool], timeout: float = 60.0, what: str = "the condition", interval: float = 0.005
) -> None:
    """Returns once `condition()` is true; raises TimeoutError naming `what` after `timeout` seconds.

    >>> wait_until(lambda: os.path.exists(path), timeout=30, what=f"{path} appearing")
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)
