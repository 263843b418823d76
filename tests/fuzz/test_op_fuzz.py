"""The fuzz pass over the op registry (tests/fuzz/fuzzer.py says what a case is and checks).

In CI: `FUZZ_ROUNDS` rounds (each: every op case of tests/ops/cases*.py once, with a
mutation drawn at random; seeded), in a child process under an address-space limit,
on Session("local"); then a short pass through a Ray actor. The long run:

    RAYGRAPH_FUZZ_ROUNDS=50 RAYGRAPH_FUZZ_SEED=7 python -m pytest tests/fuzz -m fuzz

A failure names the op case, the mutation and its seed; replay it with
`python -m tests.fuzz.fuzzer --seed S --ops OP --out r.jsonl` or `fuzzer.run_case`.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.fuzz import fuzzer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ_ROUNDS = 2
SEED = int(os.environ.get("RAYGRAPH_FUZZ_SEED", "0"))

# Failures the fuzz pass knows and leaves, by (op type, mutation kind), each with its
# reason (RELIABILITY.md lists them).
KNOWN = {
    # numpy's reference is the odd one out; raygraph does what TensorFlow does
    ("Softplus", "values"): "softplus(x) is x for large x in TF; numpy's log1p(exp(x)) overflows to inf",
    ("TopKV2", "values"): "the case's reference negates ints to sort them: INT_MIN overflows",
    ("InTopKV2", "values"): "TF (checked): a non-finite prediction is never in the top k; numpy compares it",
    ("AdjustSaturation", "dtypes"): "TF raises AttributeError for a bool image too (convert_image_dtype)",
    ("AdjustHue", "dtypes"): "TF raises AttributeError for a bool image too (convert_image_dtype)",
    (
        "Mean",
        "values",
    ): "int overflow: TF (checked) wraps the sum as raygraph does; numpy's mean sums in float",
    ("MatrixInverse", "values"): "inf/nan in a matrix: where the nan spreads depends on the LU's pivoting",
    (
        "PiecewiseConstant",
        "values",
    ): "a nan boundary: TF's predicates (all false) give values[0], as raygraph",
    # left: NaN inside a pooling window, a normalization or a colour conversion
    (
        "RGBToHSV",
        "values",
    ): "NaN in a channel: TF's max/min (Eigen, order-dependent) skip it, raygraph gives nan",
    ("MaxPoolGrad", "values"): "NaN in a window: which input is the maximum differs from numpy's argmax",
    ("MaxPoolGradGrad", "values"): "NaN in a window: which input is the maximum differs from numpy's argmax",
    (
        "LRNGrad",
        "values",
    ): "NaN/inf inputs: numpy's reference gives nan where the kernel's order gives a number",
}


def _run_fuzzer(tmp_path, rounds: int, seed: int, timeout_s: float) -> list[dict]:
    out = tmp_path / "fuzz.jsonl"
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.fuzz.fuzzer",
                "--seed",
                str(seed),
                "--rounds",
                str(rounds),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": ROOT},
            check=True,
            timeout=timeout_s,
            capture_output=True,
        )
    except subprocess.TimeoutExpired:
        pass  # the report says which case never ended
    except subprocess.CalledProcessError as e:
        pytest.fail(f"the fuzz process died ({e.returncode}): {e.stderr[-3000:]!r}\n{_last_started(out)}")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    ended = {(r["id"], r["seed"]) for r in lines if r["outcome"] != "started"}
    stuck = [r for r in lines if r["outcome"] == "started" and (r["id"], r["seed"]) not in ended]
    assert not stuck, f"a fuzz case never ended (a hang or a crash): {stuck[-1]}"
    return [r for r in lines if r["outcome"] != "started"]


def _last_started(out) -> str:
    try:
        return out.read_text().splitlines()[-1]
    except (OSError, IndexError):
        return ""


def _check(results: list[dict]) -> collections.Counter:
    failures = [r for r in results if r["outcome"] == "FAIL" and (r["op"], r["kind"]) not in KNOWN]
    assert not failures, "\n".join(
        f"{r['id']} [{r['kind']}: {r['what']}] seed {r['seed']}: {r['detail']}" for r in failures[:20]
    )
    return collections.Counter(r["outcome"] for r in results)


@pytest.mark.timeout(600)
def test_every_op_case_under_fuzz_on_the_local_target(tmp_path):
    results = _run_fuzzer(tmp_path, FUZZ_ROUNDS, SEED, timeout_s=500)
    counts = _check(results)
    cases = fuzzer.all_cases()[0] + fuzzer.EXTRA_CASES
    assert len(results) == FUZZ_ROUNDS * len(cases)
    assert counts["match"] > len(results) // 5  # most mutations still compare with numpy
    print(f"fuzz: {len(results)} cases, {dict(counts)}")


@pytest.mark.fuzz
@pytest.mark.timeout(7200)
def test_the_long_fuzz_run(tmp_path, request):
    if (
        "fuzz" not in (request.config.getoption("markexpr") or "")
        and "RAYGRAPH_FUZZ_ROUNDS" not in os.environ
    ):
        pytest.skip("the long fuzz run: `-m fuzz` or RAYGRAPH_FUZZ_ROUNDS=N")
    rounds = int(os.environ.get("RAYGRAPH_FUZZ_ROUNDS", "50"))
    results = _run_fuzzer(tmp_path, rounds, SEED + 1, timeout_s=7000)
    counts = _check(results)
    print(f"fuzz: {len(results)} cases, {dict(counts)}")


RAY_CASES = 60


@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.timeout(600)
def test_a_short_fuzz_pass_through_a_ray_actor(monkeypatch):
    """Mutations that allocate no more than their inputs, run by a device actor: it must
    answer each with a result or a typed error, and still be the same process at the end."""
    import ray

    import raygraph as tf
    from scheduler.shell import runtime

    todo = fuzzer.plan(1, SEED + 2, kinds=fuzzer.SAFE_KINDS)
    rng = np.random.default_rng(SEED)
    picked = [todo[i] for i in sorted(rng.choice(len(todo), RAY_CASES, replace=False))]
    keeper = tf.Session(graph=tf.Graph())  # holds the device actor for the whole pass
    with keeper.graph.as_default():
        keeper.run(tf.constant(1.0))
    (device,) = keeper._scheduler.links  # the device that ran it (the one the fuzz cases use)
    before = ray.get(runtime.existing_actor(device).ping.remote())["pid"]
    results = []
    for case, kind, seed in picked:
        outcome, what = fuzzer.run_case(case, kind, seed, target="")
        results.append(
            {"id": case.id, "op": case.op, "kind": kind, "seed": seed, "what": what, **vars(outcome)}
        )
    counts = _check(results)
    after = ray.get(runtime.existing_actor(device).ping.remote())["pid"]
    keeper.close()
    assert after == before, "the device actor died during the fuzz pass"
    assert counts["match"] + counts["typed"] + counts["ran"] > RAY_CASES // 2
    print(f"fuzz through a Ray actor: {len(results)} cases, {dict(counts)}")
