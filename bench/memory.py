"""`python -m bench.memory [--steps N]`: peak memory of the mlp benchmark, actor vs numpy loop.

Runs the mlp train step (bench.workloads.MLP) N times with raygraph and
measures the device actor's process, and runs the hand-written numpy step N
times in a fresh process and measures that. For each process: its resident
memory before the steps (after imports, data and setup), and its peak resident
memory during the steps (VmHWM, reset just before them by writing 5 to
/proc/<pid>/clear_refs). Linux only. Run inside ../shared/bin/loopback.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os


def _status(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) * 1024
    return out


def _reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def raygraph_actor(steps: int) -> tuple[int, int]:
    """(resident before, peak during) of the device actor running `steps` mlp steps."""
    import ray

    from bench.workloads import MLP
    from scheduler.shell import runtime

    step = MLP().make("raygraph")
    step.sync()
    actor = next(a for a in (runtime.existing_actor(n) for n in list(runtime._actors)) if a is not None)
    pid = ray.get(actor.ping.remote())["pid"]
    before = _status(pid)["VmRSS"]
    _reset_peak(pid)
    for _ in range(steps):
        step()
    step.sync()
    return before, _status(pid)["VmHWM"]


def _numpy_process(steps: int, conn) -> None:
    from bench.workloads import MLP

    step = MLP().make("numpy")
    before = _status(os.getpid())["VmRSS"]
    _reset_peak(os.getpid())
    for _ in range(steps):
        step()
    conn.send((before, _status(os.getpid())["VmHWM"]))


def numpy_loop(steps: int) -> tuple[int, int]:
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=_numpy_process, args=(steps, child))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    mib = 1 / 2**20
    a_before, a_peak = raygraph_actor(args.steps)
    n_before, n_peak = numpy_loop(args.steps)
    print("| process | resident before the steps | peak during the steps | peak - before |")
    print("| --- | --- | --- | --- |")
    print(
        f"| raygraph device actor | {a_before * mib:.0f} MiB | {a_peak * mib:.0f} MiB | {(a_peak - a_before) * mib:.1f} MiB |"
    )
    print(
        f"| numpy loop | {n_before * mib:.0f} MiB | {n_peak * mib:.0f} MiB | {(n_peak - n_before) * mib:.1f} MiB |"
    )
    print(
        f"\nratio of peaks: {a_peak / n_peak:.2f}x; ratio of the growth during the steps: "
        f"{(a_peak - a_before) / max(n_peak - n_before, 1):.2f}x ({args.steps} steps)"
    )


if __name__ == "__main__":
    main()
