"""The benchmark runner behind `python -m bench [workload ...] [--rounds R] [--write]`.

Workloads: bench.workloads (mlp, mlp-data, cnn, tiny, chain, wide, chain-1000),
"two-device" (bench.two_device, which needs a Ray of its own and runs apart) and
"cold-start" (bench.cold_start: import + first run, a fresh process each; its
figures go to their own block of BENCHMARKS.md).

Every implementation (raygraph, hand-written numpy, TensorFlow's compat.v1)
runs in a process of its own, so their threads never share a process: BLAS and
TensorFlow thread pools spin for a while after each call, and would steal cores
from the next implementation timed. Each round times every (workload,
implementation) pair once, in a shuffled order, with a pause between timings
for spinning threads to go idle, so drift on the machine hits all alike; the
figure is the median over rounds of the time per unit (run or op). Ratios
compare implementations within the same run. `--write` replaces the generated
table in BENCHMARKS.md. Run it inside ../shared/bin/loopback on these machines
(raygraph's process starts a local Ray).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import random
import statistics
import sys
import time

IMPLS = ("raygraph", "numpy", "tensorflow")
BEGIN, END = "<!-- bench:table:start -->", "<!-- bench:table:end -->"
PAUSE_S = 1.0  # between timings: spinning thread pools of the last one go idle


def _has_tensorflow() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def time_step(step, sync=None, min_seconds: float = 0.25, min_calls: int = 5) -> float:
    """Seconds per call of `step`, timing a batch of calls lasting at least min_seconds.

    `sync()`, when given, waits for work the steps started and have not finished
    (raygraph's train steps return before their run ends): the batch ends after it.
    """
    calls, start = 0, time.perf_counter()
    while True:
        step()
        calls += 1
        if time.perf_counter() - start >= min_seconds and calls >= min_calls:
            if sync is not None:
                sync()
            return (time.perf_counter() - start) / calls


def _worker(impl: str, names: list, conn, env: dict | None = None) -> None:
    """One implementation's process: builds its steps, then times one on each request."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.update(env or {})
    tree = os.environ.get("RAYGRAPH_BENCH_TREE")
    if tree:  # another checkout's raygraph, ops and scheduler, here and in the Ray workers started here
        sys.path.insert(0, tree)
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (tree, os.environ.get("PYTHONPATH")) if p)
        os.chdir(tree)  # Ray puts the driver's directory first on its workers' path
    from bench.workloads import WORKLOADS

    steps = {}
    for name in names:
        step = WORKLOADS[name].make(impl.split("[")[0])
        if step is not None:
            steps[name] = step
    conn.send(sorted(steps))
    while True:
        name = conn.recv()
        if name is None:
            break
        step = steps[name]
        seconds = time_step(step, getattr(step, "sync", None))
        conn.send(seconds / WORKLOADS[name].per)
    conn.close()


def run(names, rounds: int, impls=None, variants=()) -> dict:
    """{(workload, implementation): median seconds per unit}.

    `variants` are extra raygraph processes, each "label:VAR=value,VAR=value",
    run with those environment variables (an A/B of a setting in the same rounds);
    RAYGRAPH_BENCH_TREE=<path> runs another checkout's code (an A/B of two commits).
    """
    impls = [i for i in (impls or IMPLS) if i != "tensorflow" or _has_tensorflow()]
    envs = {i: {} for i in impls}
    for variant in variants:
        label, _, assignments = variant.partition(":")
        name = f"raygraph[{label}]"
        impls.append(name)
        envs[name] = dict(a.split("=", 1) for a in assignments.split(",") if a)
    ctx = mp.get_context("spawn")
    workers = {}
    for impl in impls:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(impl, list(names), child, envs[impl]), daemon=True)
        proc.start()
        workers[impl] = (proc, parent)
    offered = {impl: conn.recv() for impl, (_, conn) in workers.items()}
    keys = [(w, i) for w in names for i in impls if w in offered[i]]
    samples = {key: [] for key in keys}
    for _ in range(rounds):
        random.shuffle(keys)
        for name, impl in keys:
            time.sleep(PAUSE_S)
            conn = workers[impl][1]
            conn.send(name)
            samples[(name, impl)].append(conn.recv())
    for proc, conn in workers.values():
        conn.send(None)
        proc.join(timeout=30)
    return {key: statistics.median(v) for key, v in samples.items()}


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def table(results: dict, names) -> str:
    from bench.workloads import WORKLOADS

    have_tf = any(i == "tensorflow" for _, i in results)
    head = "| workload | unit | raygraph | numpy | raygraph / numpy |"
    rule = "| --- | --- | --- | --- | --- |"
    if have_tf:
        head += " TensorFlow | raygraph / TF |"
        rule += " --- | --- |"
    lines = [head, rule]
    for w in names:
        rg, npy = results.get((w, "raygraph"), float("nan")), results.get((w, "numpy"))
        if npy is None:
            row = f"| {w} | per {WORKLOADS[w].unit} | {_fmt(rg)} | - | - |"
        else:
            row = f"| {w} | per {WORKLOADS[w].unit} | {_fmt(rg)} | {_fmt(npy)} | {rg / npy:.2f}x |"
        if have_tf:
            t = results.get((w, "tensorflow"), float("nan"))
            row += f" {_fmt(t)} | {rg / t:.2f}x |"
        lines.append(row)
    return "\n".join(lines)


TWO_DEVICE = "two-device"
COLD_START = "cold-start"


def two_device(rounds: int) -> str:
    """The multi-device figures, from bench.two_device in a process of its own."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bench.two_device", "--rounds", str(rounds)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"(bench.two_device failed: {done.stderr.strip().splitlines()[-1:]})"
    return "\n".join("    " + line for line in done.stdout.strip().splitlines())


def variant_rows(results: dict, names, label: str) -> str:
    """One line per workload: the variant against plain raygraph, same rounds."""
    rows = []
    for w in names:
        if (w, label) in results and (w, "raygraph") in results:
            v, base = results[(w, label)], results[(w, "raygraph")]
            rows.append(f"{w}: {label} {_fmt(v)} vs raygraph {_fmt(base)} ({v / base:.2f}x)")
    return "\n".join(rows)


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {platform.machine()}, Python {platform.python_version()}"


def write(text: str, path: str = "BENCHMARKS.md", begin: str = BEGIN, end: str = END) -> None:
    """Replaces the block between `begin` and `end` in `path` with `text` (appends it if absent)."""
    block = f"{begin}\n{text}\n{end}"
    if os.path.exists(path):
        with open(path) as f:
            content = f.read()
        if begin in content and end in content:
            content = content[: content.index(begin)] + block + content[content.index(end) + len(end) :]
        else:
            content += "\n" + block + "\n"
    else:
        content = "# Benchmarks\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(content)


def main() -> None:
    from bench.workloads import WORKLOADS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workloads", nargs="*", default=[*WORKLOADS, TWO_DEVICE, COLD_START])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--impls", default=",".join(IMPLS), help="implementations to run")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help='an extra raygraph process: "label:VAR=value,..." (an A/B of a setting)',
    )
    args = parser.parse_args()
    names = [n for n in args.workloads if n not in (TWO_DEVICE, COLD_START)]
    results = run(names, args.rounds, args.impls.split(","), args.variant) if names else {}
    text = table(results, names) if names else ""
    for label in sorted({i for _, i in results if i.startswith("raygraph[")}):
        text += "\n" + variant_rows(results, names, label)
    if names:
        text += f"\n\nMedians of {args.rounds} interleaved rounds; {machine()}; {time.strftime('%Y-%m-%d')}."
    if TWO_DEVICE in args.workloads:
        text += "\n\ntwo-device (`python -m bench.two_device`, its own Ray with 4 logical CPUs):\n\n"
        text += two_device(args.rounds)
    print(text)
    if args.write and (names or TWO_DEVICE in args.workloads):
        write(text)
    if COLD_START in args.workloads:
        cold_start(args.rounds, args.write)


def cold_start(rounds: int, write_it: bool) -> None:
    """The cold-start figures (bench.cold_start), printed and written to their own block."""
    from bench import cold_start as cs

    cs.check_no_cluster()
    text = cs.report(cs.run(rounds), rounds)
    print("\ncold-start (`python -m bench.cold_start`, a fresh process per measurement):\n\n" + text)
    if write_it:
        write(text, os.path.join(cs.ROOT, "BENCHMARKS.md"), cs.BEGIN, cs.END)


if __name__ == "__main__":
    main()
