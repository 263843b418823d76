"""`python -m bench.cold_start [--rounds R] [--write] [--variant 'label:{json}']`: cold start.

What a newcomer waits for: a fresh Python process that imports the library,
builds a tiny graph (a placeholder, a constant, matmul, reduce_sum) and runs it
once in a new Session. raygraph runs with its default target (Ray actors), so
the process starts a local Ray; TensorFlow runs the same graph through
`tensorflow.compat.v1` with eager execution disabled.

Each measurement is a new process (`python -c PROGRAM`, in the repository root
so the checkout's raygraph is the one imported), timed by this process from
just before the spawn until the program prints its result: interpreter start,
imports, graph, Session, first run. The program also reports its own phases
(imports and graph; Session(), which for raygraph imports Ray and starts it;
the first run, which for raygraph starts the device actor), and this process
records how long the program took to exit after that (raygraph's exit stops
the local Ray), for information. Rounds interleave the programs in a shuffled
order, with a pause after each process so that the Ray processes of the last
one are gone; the figures are medians over rounds, with the range, and the
ratios are paired: raygraph / TensorFlow within each round (the same drift on
the machine for both), median and range over rounds.

A variant is raygraph with other options for the local Ray it starts: the JSON
replaces `scheduler.shell.runtime.LOCAL_RAY_OPTIONS` in the program, just
before Session() (where the module is imported anyway), and its key "trims"
(a list, default none) replaces `LOCAL_RAY_TRIMS` (see scheduler.shell.local_ray),
so `--variant 'ray-defaults:{}'` measures Ray's defaults in the same rounds, and
a variant with raygraph's own options and trims measures the noise (an A/A test).

Run it inside ../shared/bin/loopback, without RAY_ADDRESS and with no cluster
from `ray start` on the machine (it refuses: raygraph would join it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- bench:cold-start:start -->", "<!-- bench:cold-start:end -->"
PAUSE_S = 2.0  # after each process: the Ray processes of the last one stop
EXPECTED = 24.0  # sum(ones[4, 3] @ ones[3, 2])

_GRAPH = """
x = tf.placeholder(tf.float32, [None, 3])
w = tf.constant(np.ones((3, 2), np.float32))
y = tf.reduce_sum(tf.matmul(x, w))
t_graph = time.perf_counter()
{configure}
sess = tf.Session()
t_session = time.perf_counter()
value = sess.run(y, {{x: np.ones((4, 3), np.float32)}})
t_run = time.perf_counter()
print(json.dumps({{"graph": t_graph - t0, "session": t_session - t_graph, "run": t_run - t_session,
                  "value": float(value)}}), flush=True)
"""

# A variant's options take effect where Session() would import scheduler.shell.runtime
# anyway, so that every raygraph program imports in the same order.
_CONFIGURE = """
options = os.environ.get("COLD_START_RAY_OPTIONS")
if options is not None:
    from scheduler.shell import runtime
    options = json.loads(options)
    runtime.LOCAL_RAY_TRIMS = frozenset(options.pop("trims", ()))
    runtime.LOCAL_RAY_OPTIONS = options
"""

PROGRAMS = {
    "raygraph": """
import time
t0 = time.perf_counter()
import json, os
import numpy as np
import raygraph as tf
"""
    + _GRAPH.format(configure=_CONFIGURE),
    "tensorflow": """
import time
t0 = time.perf_counter()
import json
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_eager_execution()
"""
    + _GRAPH.format(configure=""),
}


def _has_tensorflow() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def _env(ray_options: dict | None) -> dict:
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    env.pop("COLD_START_RAY_OPTIONS", None)
    if ray_options is not None:
        env["COLD_START_RAY_OPTIONS"] = json.dumps(ray_options)
    return env


def measure(program: str, ray_options: dict | None = None, timeout: float = 300.0) -> dict:
    """One fresh process running `program` ("raygraph" or "tensorflow"): its times in seconds.

    "first_run": spawn to result, as this process saw it; "graph", "session", "run":
    the program's own phases (imports and graph, Session(), the first run); "exit":
    result to the process's end.
    """
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", PROGRAMS[program]],
            cwd=ROOT,
            env=_env(ray_options),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            line = proc.stdout.readline()
            first_run = time.perf_counter() - start
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        ended = time.perf_counter() - start
        if proc.returncode != 0 or not line:
            err.seek(0)
            raise RuntimeError(f"the {program} program failed ({proc.returncode}):\n{err.read()[-3000:]}")
    result = json.loads(line)
    if result.pop("value") != EXPECTED:
        raise RuntimeError(f"the {program} program computed a wrong value: {line}")
    return {"first_run": first_run, "exit": ended - first_run, **result}


def run(rounds: int, programs=None, variants=()) -> dict:
    """{label: [one measure() per round]}; `variants` are "label:{json LOCAL_RAY_OPTIONS}"."""
    programs = [p for p in (programs or PROGRAMS) if p != "tensorflow" or _has_tensorflow()]
    jobs = {p: (p, None) for p in programs}
    for variant in variants:
        label, _, options = variant.partition(":")
        jobs[f"raygraph[{label}]"] = ("raygraph", json.loads(options or "{}"))
    samples = {label: [] for label in jobs}
    for _ in range(rounds):
        order = list(jobs)
        random.shuffle(order)
        for label in order:
            program, options = jobs[label]
            samples[label].append(measure(program, options))
            time.sleep(PAUSE_S)
    return samples


def _median(samples: list, key: str) -> float:
    return statistics.median(s[key] for s in samples)


def table(samples: dict) -> str:
    """Medians (and the range) per program; ratios against TensorFlow when it ran."""
    tf = samples.get("tensorflow")
    lines = [
        "| program | import + first run | range | imports + graph | Session() | first run | exit | / TF |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, runs in samples.items():
        first = [s["first_run"] for s in runs]
        ratio = f"{statistics.median(first) / _median(tf, 'first_run'):.2f}x" if tf else "-"
        lines.append(
            f"| {label} | {statistics.median(first):.2f} s | {min(first):.2f}-{max(first):.2f} s "
            f"| {_median(runs, 'graph'):.2f} s | {_median(runs, 'session'):.2f} s "
            f"| {_median(runs, 'run'):.2f} s | {_median(runs, 'exit'):.2f} s | {ratio} |"
        )
    return "\n".join(lines)


def paired(samples: dict, label: str, base: str) -> str:
    """`label` / `base` per round (the same round, so the same drift on the machine), as a range."""
    if label not in samples or base not in samples:
        return ""
    ratios = sorted(a["first_run"] / b["first_run"] for a, b in zip(samples[label], samples[base]))
    return (
        f"{label} / {base} per round: median {statistics.median(ratios):.2f}x, "
        f"range {ratios[0]:.2f}x-{ratios[-1]:.2f}x"
    )


def report(samples: dict, rounds: int) -> str:
    from bench.runner import machine

    pairs = [paired(samples, "raygraph", "tensorflow")]
    pairs += [paired(samples, label, "raygraph") for label in samples if label.startswith("raygraph[")]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(
        [
            table(samples),
            "",
            *(f"{p}  " for p in pairs if p),
            f"Medians of {rounds} interleaved rounds, a fresh process each; {machine()}; "
            f"load average at the end {load}; {time.strftime('%Y-%m-%d')}.",
        ]
    )


def check_no_cluster() -> None:
    """Refuses to measure if raygraph would join a running cluster instead of starting Ray."""
    sys.path.insert(0, ROOT)
    from scheduler.shell.runtime import starts_local_ray

    env = os.environ.pop("RAY_ADDRESS", None)
    try:
        if not starts_local_ray():
            raise SystemExit(
                "a Ray cluster from `ray start` runs here: raygraph would join it, not start Ray"
            )
    finally:
        if env is not None:
            os.environ["RAY_ADDRESS"] = env


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--programs", default=",".join(PROGRAMS), help="raygraph,tensorflow")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="raygraph with other local Ray options: 'label:{json LOCAL_RAY_OPTIONS}'",
    )
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    check_no_cluster()
    samples = run(args.rounds, args.programs.split(","), args.variant)
    text = report(samples, args.rounds)
    print(text)
    if args.write:
        from bench.runner import write

        write(text, os.path.join(ROOT, "BENCHMARKS.md"), BEGIN, END)


if __name__ == "__main__":
    main()
