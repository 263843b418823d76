"""Watching a training run: a progress bar with the loss, and one step's timeline.

    bar = viz.progress(1000)
    for step in bar:
        _, loss = sess.run([train_op, loss_t], feed)
        bar.set(loss=loss)                    # postfix: loss=0.123, steps/s=85.2
    viz.plot_timeline(run_metadata)           # a matplotlib Figure: a row per device

`progress` wraps tqdm.auto (a widget in Jupyter, text in a terminal); it holds
the bar and the last metrics it was given. `plot_timeline` reads a StepStats (as
raygraph.timeline does) and draws a bar per node, a row per device and actor
thread, coloured by op type. Both import their library when called: `pip install
raygraph[notebook]` brings tqdm, ipywidgets and matplotlib. Re-exported by raygraph.viz.
"""

from __future__ import annotations


def _need(module: str, what: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise ImportError(
            f"raygraph.viz.{what} needs {module.split('.')[0]}: pip install 'raygraph[notebook]'"
        ) from None


class Progress:
    """A tqdm bar over an iterable (or `range(total)`) whose postfix shows metrics and steps/s.

    >>> bar = viz.progress(100, desc="train")
    >>> for step in bar:
    ...     bar.set(loss=0.5)
    """

    def __init__(self, iterable_or_total, desc: str | None = None, unit: str = "step", **tqdm_kwargs):
        auto = _need("tqdm.auto", "progress")
        if isinstance(iterable_or_total, int):
            iterable, total = range(iterable_or_total), iterable_or_total
        else:
            iterable, total = iterable_or_total, tqdm_kwargs.pop("total", None)
        tqdm_kwargs.setdefault("mininterval", 0.25)
        self.bar = auto.tqdm(iterable, total=total, desc=desc, unit=unit, **tqdm_kwargs)
        self.metrics: dict[str, float] = {}

    def __iter__(self):
        return iter(self.bar)

    def __len__(self) -> int:
        return len(self.bar)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1, **metrics) -> None:
        """Advances by `n` steps (for a bar used without iterating) and sets `metrics`."""
        self.bar.update(n)
        if metrics:
            self.set(**metrics)

    def set(self, **metrics) -> None:
        """Shows the metrics (loss=..., accuracy=...) and the current steps/s after the bar."""
        self.metrics.update({k: float(v) for k, v in metrics.items()})
        postfix = {k: f"{v:.4g}" for k, v in self.metrics.items()}
        info = self.bar.format_dict
        rate = info.get("rate") or (info["n"] / info["elapsed"] if info.get("elapsed") else None)
        if rate:
            postfix["steps/s"] = f"{rate:.1f}"
        self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        self.bar.close()


def progress(iterable_or_total, desc: str | None = None, unit: str = "step", **tqdm_kwargs) -> Progress:
    """A progress bar (tqdm.auto) with a loss and steps/s postfix; see `Progress`.

    >>> for step in (bar := viz.progress(1000)):
    ...     bar.set(loss=sess.run([train_op, loss])[1])
    """
    return Progress(iterable_or_total, desc=desc, unit=unit, **tqdm_kwargs)


def timeline_rows(step_stats) -> list[tuple[str, list[tuple[str, str, float, float]]]]:
    """[(row label, [(node name, op type, start ms, duration ms)])], a row per device and thread.

    Times are relative to the step's first node.
    """
    from raygraph.timeline import _parse_label

    starts = [ns.all_start_micros for dev in step_stats.dev_stats for ns in dev.node_stats]
    t0 = min(starts, default=0)
    rows = []
    for dev in step_stats.dev_stats:
        threads: dict[int, list] = {}
        for ns in dev.node_stats:
            _, op, _ = _parse_label(ns.timeline_label, ns.node_name)
            start = (ns.all_start_micros - t0) / 1000
            threads.setdefault(ns.thread_id, []).append(
                (ns.node_name, op, start, ns.all_end_rel_micros / 1000)
            )
        for i, (_, nodes) in enumerate(sorted(threads.items())):
            device = _short(dev.device)
            rows.append((device if len(threads) == 1 else f"{device} #{i}", nodes))
    return sorted(rows, key=lambda row: row[0])


def plot_timeline(step_stats_or_run_metadata, path: str | None = None, title: str | None = None):
    """A matplotlib Figure of one traced step: a row per device (and thread), a bar per node.

    >>> sess.run(train_op, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
    ...          run_metadata=meta)
    >>> viz.plot_timeline(meta, "step.png")
    """
    _need("matplotlib", "plot_timeline")
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    stats = getattr(step_stats_or_run_metadata, "step_stats", step_stats_or_run_metadata)
    rows = timeline_rows(stats)
    fig = Figure(figsize=(11, 1.2 + 0.55 * max(len(rows), 1)), layout="constrained")
    ax = fig.add_subplot()
    busiest = _busiest(rows, 1000)
    colors = {op: _color(i) for i, op in enumerate(busiest)}  # distinct colours for the busiest types
    for y, (_, nodes) in enumerate(rows):
        for _name, op, start, duration in nodes:
            color = colors[op]
            ax.broken_barh(
                [(start, max(duration, 1e-3))], (y - 0.35, 0.7), facecolors=color, edgecolor="white", lw=0.3
            )
    ax.set_yticks(range(len(rows)), [label for label, _ in rows])
    ax.invert_yaxis()
    ax.set_xlabel("ms since the step's first node")
    ax.set_title(title or "one step, per device")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(
        handles=[Patch(color=colors[op], label=op) for op in busiest[:8]],
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        fontsize=8,
        title="most time",
        title_fontsize=8,
    )
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _busiest(rows, n: int) -> list[str]:
    total: dict[str, float] = {}
    for _, nodes in rows:
        for _, op, _, duration in nodes:
            total[op] = total.get(op, 0.0) + duration
    return sorted(total, key=total.get, reverse=True)[:n]


def _color(rank: int) -> str:
    """The colour of the op type that took the rank-th most time: tab10, then grey."""
    import matplotlib

    return matplotlib.colors.to_hex(matplotlib.colormaps["tab10"](rank)) if rank < 10 else "#bbbbbb"


def _short(device: str) -> str:
    parts = dict(p.split(":", 1) for p in device.strip("/").split("/") if ":" in p)
    short = parts.get("device", device)
    return short if parts.get("task", "0") == "0" else f"task {parts['task']} {short}"
