"""`python -m bench [workload ...] [--rounds R] [--write]`: run the benchmarks.

Each round times every implementation of every workload once, in a shuffled
order, so drift on the machine hits all alike; the figure is the median over
rounds of the time per unit (run or op). Ratios compare implementations within
the same run. `--write` replaces the generated table in BENCHMARKS.md.
Run it inside ../shared/bin/loopback on these machines (it starts a local Ray).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time

from bench.workloads import WORKLOADS

IMPLS = ("raygraph", "numpy", "tensorflow")
BEGIN, END = "<!-- bench:table:start -->", "<!-- bench:table:end -->"


def _has_tensorflow() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("tensorflow") is not None
    except ImportError:
        return False


def time_step(step, min_seconds: float = 0.2, min_calls: int = 5) -> float:
    """Seconds per call of `step`, timing a batch of calls lasting at least min_seconds."""
    calls, start = 0, time.perf_counter()
    while True:
        step()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and calls >= min_calls:
            return elapsed / calls


def run(names, rounds: int) -> dict:
    impls = [i for i in IMPLS if i != "tensorflow" or _has_tensorflow()]
    steps = {(w, i): WORKLOADS[w].make(i) for w in names for i in impls}
    samples = {key: [] for key in steps}
    order = list(steps)
    for _ in range(rounds):
        random.shuffle(order)
        for key in order:
            samples[key].append(time_step(steps[key]) / WORKLOADS[key[0]].per)
    return {key: statistics.median(v) for key, v in samples.items()}


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def table(results: dict, names) -> str:
    have_tf = any(i == "tensorflow" for _, i in results)
    head = "| workload | unit | raygraph | numpy | raygraph / numpy |"
    rule = "| --- | --- | --- | --- | --- |"
    if have_tf:
        head += " TensorFlow | raygraph / TF |"
        rule += " --- | --- |"
    lines = [head, rule]
    for w in names:
        rg, npy = results[(w, "raygraph")], results[(w, "numpy")]
        row = f"| {w} | per {WORKLOADS[w].unit} | {_fmt(rg)} | {_fmt(npy)} | {rg / npy:.2f}x |"
        if have_tf:
            t = results[(w, "tensorflow")]
            row += f" {_fmt(t)} | {rg / t:.2f}x |"
        lines.append(row)
    return "\n".join(lines)


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem:.0f} GiB, {platform.machine()}, Python {platform.python_version()}"


def write(text: str, path: str = "BENCHMARKS.md") -> None:
    block = f"{BEGIN}\n{text}\n{END}"
    if os.path.exists(path):
        with open(path) as f:
            content = f.read()
        if BEGIN in content and END in content:
            content = content[: content.index(BEGIN)] + block + content[content.index(END) + len(END) :]
        else:
            content += "\n" + block + "\n"
    else:
        content = "# Benchmarks\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    results = run(args.workloads, args.rounds)
    text = table(results, args.workloads)
    text += f"\n\nMedians of {args.rounds} interleaved rounds; {machine()}; {time.strftime('%Y-%m-%d')}."
    print(text)
    if args.write:
        write(text)


if __name__ == "__main__":
    main()
