"""The chaos suite's knobs: how many rounds, which seed, and the figures each scenario reports.

Every test module here is marked `chaos` (pytestmark). Without `-m chaos` a scenario runs its short
number of rounds (CI: the whole directory in about a minute and a half on 2
cores); with `-m chaos`, or RAYGRAPH_CHAOS_ROUNDS=N, its long number (N when
given). RAYGRAPH_CHAOS_SEED (default 0) seeds every scenario's random choices, so
a failure is replayed with the seed it prints.

Each scenario counts what it did in `chaos.tally` (runs, faults injected, failures
survived, typed errors seen); the counts are printed at the end of the test and,
with RAYGRAPH_CHAOS_REPORT=path, appended to that file as one JSON line, which is
where RELIABILITY.md's figures come from.
"""

from __future__ import annotations

import collections
import json
import os
import random
import zlib

import pytest


class Chaos:
    """One scenario's seeded random source, its number of rounds and its tally."""

    def __init__(self, name: str, long: bool):
        self.name = name
        self.long = long
        self.seed = int(os.environ.get("RAYGRAPH_CHAOS_SEED", "0"))
        self.rng = random.Random(zlib.crc32(name.encode()) ^ self.seed)
        self.tally: collections.Counter = collections.Counter()

    def rounds(self, short: int, long: int) -> int:
        """`short` in CI; `long` (or RAYGRAPH_CHAOS_ROUNDS) for the long run."""
        if not self.long:
            return short
        return int(os.environ.get("RAYGRAPH_CHAOS_ROUNDS", long))

    def report(self) -> None:
        line = {"scenario": self.name, "seed": self.seed, "long": self.long, **self.tally}
        print(f"chaos: {json.dumps(line)}")
        path = os.environ.get("RAYGRAPH_CHAOS_REPORT")
        if path:
            with open(path, "a") as f:
                f.write(json.dumps(line) + "\n")


@pytest.fixture
def chaos(request):
    """The scenario's `Chaos`: `chaos.rng`, `chaos.rounds(short, long)`, `chaos.tally`."""
    long = "chaos" in (request.config.getoption("markexpr") or "") or "RAYGRAPH_CHAOS_ROUNDS" in os.environ
    state = Chaos(request.node.name, long)
    yield state
    state.report()
