"""The cold-start benchmark runs (one round, a fresh process each; no timing is asserted)."""

from __future__ import annotations

import pytest

from bench import cold_start, runner


def test_one_raygraph_cold_start():
    """A fresh process imports raygraph, starts a local Ray, runs the tiny graph once."""
    times = cold_start.measure("raygraph")
    assert set(times) == {"first_run", "exit", "graph", "session", "run"}
    assert all(t >= 0 for t in times.values())
    assert times["first_run"] >= times["graph"]


def test_a_variant_sets_the_local_ray_options():
    """A variant's options reach the program (an unknown ray.init argument makes it fail)."""
    with pytest.raises(RuntimeError, match="raygraph program failed"):
        cold_start.measure("raygraph", {"no_such_ray_init_argument": 1})


@pytest.mark.compat
def test_one_round_against_tensorflow():
    if not cold_start._has_tensorflow():
        pytest.skip("tensorflow is not installed")
    samples = cold_start.run(1, ["tensorflow"])
    assert len(samples["tensorflow"]) == 1 and samples["tensorflow"][0]["first_run"] > 0


def test_report_and_write(tmp_path):
    one = {"first_run": 4.0, "exit": 2.0, "graph": 0.2, "session": 3.3, "run": 0.5}
    samples = {"raygraph": [one], "tensorflow": [{**one, "first_run": 5.0}]}
    text = cold_start.report(samples, rounds=1)
    assert "| raygraph | 4.00 s | 4.00-4.00 s | 0.20 s | 3.30 s | 0.50 s | 2.00 s | 0.80x |" in text
    assert "raygraph / tensorflow per round: median 0.80x" in text
    path = tmp_path / "B.md"
    path.write_text("# Benchmarks\n\nkept\n")
    runner.write(text, str(path), cold_start.BEGIN, cold_start.END)
    runner.write(text, str(path), cold_start.BEGIN, cold_start.END)  # a second write replaces it
    content = path.read_text()
    assert content.count(cold_start.BEGIN) == 1 and "kept" in content
