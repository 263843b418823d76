"""`python -m bench.two_device [--rounds R] [--chain K]`: multi-device benchmarks.

Run inside ../shared/bin/loopback; it starts its own local Ray (4 logical CPUs,
a 400 MB object store) and uses two CPU devices. Figures are medians over
interleaved rounds, every variant measured once per round, so drift on the
machine hits all alike; transfers are measured after a warm-up that has
touched every page of the object store (first writes page-fault at ~3 GB/s).

(a) Parallel devices. Two branches, each a chain of K 1024x1024 float32 matmuls,
    on /cpu:0 and /cpu:1, against the same graph on one device, both with
    intra_op_parallelism_threads=1 and inter_op_parallelism_threads=1 (one
    kernel at a time per device, one BLAS thread per kernel: the devices are
    the only parallelism). Bar: >= 1.6x. A traced run measures how long both
    devices were busy at once. For information, the one-device graph with
    inter_op=2 (the device's pool runs the branches side by side).
(b) Transfers. A 64 MB float32 tensor made on /cpu:0 and read on /cpu:1: the
    transfer's time from the trace (the sender starts packing -> the tensor is
    stored on the receiver), against a plain `ray.put` + `ray.get` of the same
    array inside another actor, in the same round. Bar: >= 0.5x the plain
    bandwidth. Also the latency of a transfer of a small tensor.
(c) Mechanisms, for the design record: one actor handing 64 MB to another as
    an actor-call argument (Packed/Arrow, the choice; raw numpy), or as an
    ObjectRef from `ray.put` inside a message, against put+get in one actor.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

MB64 = 16 * 1024 * 1024  # float32 elements in 64 MiB
STORE = 400 * 1024 * 1024  # object store: small, so that warm-up touches all its pages
WARMUP = 4  # rounds before measuring: the first writes to the store page-fault
CPU = "/job:worker/replica:0/task:0/device:CPU:{}"


def _config(tf, inter: int):
    return tf.ConfigProto(
        device_count={"CPU": 2}, intra_op_parallelism_threads=1, inter_op_parallelism_threads=inter
    )


# -- (a) parallel devices -------------------------------------------------------


def matmul_branches(tf, k: int, devices: tuple[str, str]):
    """Two chains of k matmuls; returns the two sums to fetch."""
    rng = np.random.default_rng(0)
    n = 1024
    outs = []
    for b, device in enumerate(devices):
        with tf.device(device):
            y = tf.constant(rng.normal(size=(n, n)).astype(np.float32), name=f"x{b}")
            for i in range(k):
                w = (rng.normal(size=(n, n)) / np.sqrt(n)).astype(np.float32)
                y = tf.matmul(y, tf.constant(w), name=f"mm{b}_{i}")
            outs.append(tf.reduce_sum(y, name=f"sum{b}"))
    return outs


def busy_overlap(step_stats) -> tuple[float, float]:
    """(seconds both devices ran kernels at once, seconds of the run's span)."""
    spans = []
    for dev in step_stats.dev_stats:
        spans.append(
            [
                (n.all_start_micros, n.all_start_micros + n.all_end_rel_micros)
                for n in dev.node_stats
                if n.node_name.startswith("mm")
            ]
        )
    if len(spans) < 2:
        return 0.0, 0.0
    overlap = sum(max(0, min(e0, e1) - max(s0, s1)) for s0, e0 in spans[0] for s1, e1 in spans[1])
    everything = [t for s in spans for span in s for t in span]
    return overlap / 1e6, (max(everything) - min(everything)) / 1e6


def parallel_devices(rounds: int, k: int) -> dict:
    import raygraph as tf

    sessions = {}
    for label, devices, inter in (
        ("two devices", ("/cpu:0", "/cpu:1"), 1),
        ("one device", ("/cpu:0", "/cpu:0"), 1),
        ("one device, inter_op=2", ("/cpu:0", "/cpu:0"), 2),
    ):
        graph = tf.Graph()
        with graph.as_default():
            fetches = matmul_branches(tf, k, devices)
        sess = tf.Session(graph=graph, config=_config(tf, inter))
        sess.run(fetches)  # plan, load, compile, warm
        sessions[label] = (sess, fetches)
    times = {label: [] for label in sessions}
    for _ in range(rounds):
        for label, (sess, fetches) in sessions.items():
            start = time.perf_counter()
            sess.run(fetches)
            times[label].append(time.perf_counter() - start)
    sess, fetches = sessions["two devices"]
    md = tf.RunMetadata()
    sess.run(fetches, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
    overlap, span = busy_overlap(md.step_stats)
    for sess, _ in sessions.values():
        sess.close()
    med = {label: statistics.median(v) for label, v in times.items()}
    return {
        "median_s": med,
        "speedup": med["one device"] / med["two devices"],
        "overlap_s": overlap,
        "span_s": span,
    }


# -- (b) transfers --------------------------------------------------------------


def _plain_put_get_actor():
    import ray

    @ray.remote(num_cpus=0)
    class PutGet:
        def __init__(self, n):
            self.array = np.random.default_rng(0).random(n, dtype=np.float32)

        def put_get(self):
            start = time.perf_counter()
            value = ray.get(ray.put(self.array))
            elapsed = time.perf_counter() - start
            assert value.nbytes == self.array.nbytes
            return elapsed

    return PutGet.remote(MB64)


def transfers(rounds: int) -> dict:
    import ray

    import raygraph as tf

    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/cpu:0"):
            big = tf.Variable(np.random.default_rng(0).random(MB64, dtype=np.float32), name="big")
            made = tf.multiply(big, 1.0, name="made")  # a fresh 64 MB tensor each run
        with tf.device("/cpu:1"):
            read = tf.reduce_sum(made)
        x = tf.placeholder(tf.float32, [4], name="x")
        with tf.device("/cpu:0"):
            small = tf.multiply(x, 2.0, name="small")
        with tf.device("/cpu:1"):
            small_read = small + 1.0
        with tf.device("/cpu:0"):
            local_read = small + 1.0  # the same, on one device
    sess = tf.Session(graph=graph, config=_config(tf, 1))
    sess.run(big.initializer)
    sess.run(read)
    sess.run(small_read, {x: np.ones(4, np.float32)})
    plain = _plain_put_get_actor()
    ours, baseline, small_latency, wall, two_runs, one_runs = [], [], [], [], [], []
    feed = {x: np.ones(4, np.float32)}
    options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    for _ in range(WARMUP):  # until the object store's pages have all been touched once
        sess.run(read)
        ray.get(plain.put_get.remote())
    for _ in range(rounds):
        md = tf.RunMetadata()
        start = time.perf_counter()
        sess.run(read, options=options, run_metadata=md)
        wall.append(time.perf_counter() - start)
        ours.append(_recv_seconds(md, "made:0"))
        baseline.append(ray.get(plain.put_get.remote()))
        md = tf.RunMetadata()
        sess.run(small_read, feed, options=options, run_metadata=md)
        small_latency.append(_recv_seconds(md, "small:0"))
        two_runs.append(_time_runs(sess, small_read, feed))
        one_runs.append(_time_runs(sess, local_read, feed))
    sess.close()
    t_ours, t_plain = statistics.median(ours), statistics.median(baseline)
    gb = MB64 * 4 / 2**30
    return {
        "ours_s": t_ours,
        "plain_s": t_plain,
        "ours_gbps": gb / t_ours,
        "plain_gbps": gb / t_plain,
        "ratio": t_plain / t_ours,
        "small_s": statistics.median(small_latency),
        "run_wall_s": statistics.median(wall),
        "two_run_s": statistics.median(two_runs),
        "one_run_s": statistics.median(one_runs),
    }


def _time_runs(sess, fetch, feed, n: int = 20) -> float:
    start = time.perf_counter()
    for _ in range(n):
        sess.run(fetch, feed)
    return (time.perf_counter() - start) / n


def _recv_seconds(md, tensor: str) -> float:
    """How long the transfer of `tensor` took: the _Recv node spans all of it."""
    for dev in md.step_stats.dev_stats:
        for ns in dev.node_stats:
            if ns.node_name.startswith("_Recv/") and ns.transfer and ns.transfer[0] == tensor:
                return ns.all_end_rel_nanos / 1e9
    raise KeyError(f"no transfer of {tensor} in the trace")


# -- (c) mechanisms -------------------------------------------------------------


def mechanisms(rounds: int) -> dict:
    import ray

    from scheduler.shell.transport import Packed

    @ray.remote(num_cpus=0, max_concurrency=4)
    class Receiver:
        def take(self, items):
            return float(items[0][1][-1])

        def take_ref(self, items):
            return float(ray.get(items[0][1])[-1])

    @ray.remote(num_cpus=0)
    class Sender:
        def __init__(self):
            self.array = np.random.default_rng(0).random(MB64, dtype=np.float32)

        def send(self, receiver, how):
            start = time.perf_counter()
            if how == "argument, Packed (Arrow)":
                ray.get(receiver.take.remote([("k", Packed(self.array))]))
            elif how == "argument, raw numpy":
                ray.get(receiver.take.remote([("k", self.array)]))
            elif how == "ray.put + ObjectRef in a message":
                ray.get(receiver.take_ref.remote([("k", ray.put(Packed(self.array)))]))
            else:  # put + get in one actor
                ray.get(ray.put(self.array))
            return time.perf_counter() - start

    sender, receiver = Sender.remote(), Receiver.remote()
    hows = [
        "argument, Packed (Arrow)",
        "argument, raw numpy",
        "ray.put + ObjectRef in a message",
        "put + get in one actor",
    ]
    for _ in range(WARMUP):
        for how in hows:
            ray.get(sender.send.remote(receiver, how))
    times = {how: [] for how in hows}
    for _ in range(rounds):
        for how in hows:
            times[how].append(ray.get(sender.send.remote(receiver, how)))
    return {how: statistics.median(v) for how, v in times.items()}


# -- report ---------------------------------------------------------------------


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"nproc {os.cpu_count()}, {mem:.0f} GiB RAM, {platform.machine()}, Python {platform.python_version()}"
    )


def report(a: dict, b: dict, c: dict, rounds: int, k: int) -> str:
    ms = lambda s: f"{s * 1e3:.1f} ms"  # noqa: E731
    med = a["median_s"]
    lines = [
        f"(a) two chains of {k} 1024x1024 float32 matmuls, intra_op=1, inter_op=1:",
        f"    two devices {ms(med['two devices'])}, one device {ms(med['one device'])}: "
        f"speedup {a['speedup']:.2f}x (bar 1.6x)",
        f"    traced run: both devices busy at once for {ms(a['overlap_s'])} of a {ms(a['span_s'])} span "
        f"({a['overlap_s'] / max(a['span_s'], 1e-9):.0%})",
        f"    one device with inter_op=2 (its pool runs both branches): {ms(med['one device, inter_op=2'])}",
        "(b) 64 MB float32 tensor /cpu:0 -> /cpu:1 (trace: sender starts packing -> stored on receiver):",
        f"    {ms(b['ours_s'])} = {b['ours_gbps']:.2f} GiB/s; plain ray.put + ray.get in one actor "
        f"{ms(b['plain_s'])} = {b['plain_gbps']:.2f} GiB/s: {b['ratio']:.2f}x of plain (bar 0.5x)",
        f"    whole run with the transfer: {ms(b['run_wall_s'])}; a 16-byte transfer: {ms(b['small_s'])}",
        f"    a tiny graph split over two devices (one transfer): {ms(b['two_run_s'])} per run; "
        f"on one device: {ms(b['one_run_s'])}",
        "(c) 64 MB from one actor to another, call to receipt (median):",
    ]
    lines += [f"    {how}: {ms(t)}" for how, t in c.items()]
    lines.append(f"Medians of {rounds} interleaved rounds; {machine()}; {time.strftime('%Y-%m-%d')}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--chain", type=int, default=6, help="matmuls per branch in (a)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(
        address="local",
        num_cpus=4,
        object_store_memory=STORE,
        include_dashboard=False,
        logging_level="WARNING",
    )
    try:
        a = parallel_devices(args.rounds, args.chain)
        b = transfers(args.rounds)
        c = mechanisms(args.rounds)
    finally:
        ray.shutdown()
    print(report(a, b, c, args.rounds, args.chain))


if __name__ == "__main__":
    main()
