"""`python -m bench.parquet_stream [--gigabytes 2] [--bound-mb 1024]`: a large Parquet file
streams through a training loop in bounded memory.

Writes a Parquet file of about `--gigabytes` under /tmp (generated rows: a
64-float feature vector, its class among 10, and a 32-double column the model
never reads; row groups of 128k rows), then trains a softmax regression over
it on the Ray target: tf.data.ParquetDataset reads only the two needed columns,
record batch by record batch, on the device actor, 16 steps per Session.run.
Reports the peak resident memory (VmHWM, the whole life of each process) of
the driver and of the device actor, and deletes the file. The file is written
by a process of its own, so the driver's peak is the training loop's.

Run inside ../shared/bin/loopback (it starts a local Ray). Exit status 1 when a
peak is over `--bound-mb`. `--json` prints the figures as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import tempfile
import time

FEATURES, CLASSES, NOISE = 64, 10, 32
ROWS_PER_GROUP = 128 * 1024
BATCH = 1024
STEPS_PER_RUN = 16


def _bytes_per_row() -> int:
    return 4 * FEATURES + 4 + 8 * NOISE


def write_file(path: str, gigabytes: float, seed: int = 0) -> tuple[int, int]:
    """Writes the generated rows, row group by row group; returns (rows, file bytes)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(FEATURES, CLASSES)).astype(np.float32)
    rows = int(gigabytes * 1e9 / _bytes_per_row())
    schema = pa.schema(
        [
            ("x", pa.list_(pa.float32(), FEATURES)),
            ("label", pa.int32()),
            ("noise", pa.list_(pa.float64(), NOISE)),
        ]
    )
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for start in range(0, rows, ROWS_PER_GROUP):
            n = min(ROWS_PER_GROUP, rows - start)
            x = rng.normal(size=(n, FEATURES)).astype(np.float32)
            label = np.argmax(x @ truth, axis=1).astype(np.int32)
            noise = rng.normal(size=(n, NOISE))
            table = pa.table(
                {
                    "x": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), FEATURES),
                    "label": pa.array(label),
                    "noise": pa.FixedSizeListArray.from_arrays(pa.array(noise.reshape(-1)), NOISE),
                },
                schema=schema,
            )
            writer.write_table(table, row_group_size=ROWS_PER_GROUP)
    return rows, os.path.getsize(path)


def _own_peak_bytes() -> int:
    """This process's peak resident memory: VmHWM, which starts afresh at exec (getrusage's
    ru_maxrss keeps the high-water mark of the process that forked this one)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _write_in_child(path: str, gigabytes: float) -> tuple[int, int]:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(write_file, (path, gigabytes))


def train(path: str) -> dict:
    """Trains over the file once on the Ray target; returns the figures (bytes, seconds)."""
    import numpy as np
    import ray

    import raygraph as tf
    from scheduler.shell import runtime

    graph = tf.Graph()
    with graph.as_default():
        dataset = tf.data.ParquetDataset(path, columns=["x", "label"], batch_size=BATCH).prefetch(2)
        batch = dataset.make_one_shot_iterator().get_next()
        x, labels = batch["x"], batch["label"]
        w = tf.Variable(np.zeros((FEATURES, CLASSES), np.float32))
        b = tf.Variable(np.zeros(CLASSES, np.float32))
        logits = tf.matmul(x, w) + b
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        correct = tf.reduce_mean(
            tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), labels), tf.float32)
        )
        train_op = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        options = tf.RunOptions(steps_per_run=STEPS_PER_RUN)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            start, runs, accuracy = time.perf_counter(), 0, []
            while True:
                try:
                    accuracy.append(sess.run([correct, train_op], options=options)[0])
                    runs += 1
                except tf.errors.OutOfRangeError:
                    break
            seconds = time.perf_counter() - start
            actors = [runtime.existing_actor(name) for name in list(runtime._actors)]
            info = ray.get(next(a for a in actors if a is not None).ping.remote())
    return {
        "runs": runs,
        "seconds": seconds,
        "accuracy_last_runs": float(np.mean(accuracy[-20:])),
        "actor_peak_bytes": info["peak_rss_bytes"],
        "actor_rss_bytes": info["rss_bytes"],
        "driver_peak_bytes": _own_peak_bytes(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gigabytes", type=float, default=2.0)
    parser.add_argument("--bound-mb", type=float, default=1024)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    path = tempfile.mktemp(suffix=".parquet", prefix="raygraph-stream-", dir="/tmp")
    try:
        rows, size = _write_in_child(path, args.gigabytes)
        figures = train(path)
    finally:
        if os.path.exists(path):
            os.remove(path)
    figures.update(rows=rows, file_bytes=size, steps=figures["runs"] * STEPS_PER_RUN)
    bound = args.bound_mb * 2**20
    figures["within_bound"] = figures["driver_peak_bytes"] < bound and figures["actor_peak_bytes"] < bound
    if args.json:
        print(json.dumps(figures))
    else:
        mib = 2**-20
        print(
            f"file: {size * mib:,.0f} MiB, {rows:,} rows ({ROWS_PER_GROUP:,} per row group), columns read: x, label"
        )
        print(f"training: {figures['steps']:,} steps of {BATCH} rows in {figures['seconds']:.1f} s")
        print(f"accuracy over the last runs: {figures['accuracy_last_runs']:.3f}")
        print(f"driver peak RSS: {figures['driver_peak_bytes'] * mib:,.0f} MiB")
        print(
            f"device actor peak RSS: {figures['actor_peak_bytes'] * mib:,.0f} MiB "
            f"(at the end: {figures['actor_rss_bytes'] * mib:,.0f} MiB)"
        )
        print(f"bound {args.bound_mb:,.0f} MiB each: {'met' if figures['within_bound'] else 'NOT met'}")
    return 0 if figures["within_bound"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
