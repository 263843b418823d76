"""Seeing what happens: graphs as pictures, progress bars, timelines of a step.

    from raygraph import viz

    tf.get_default_graph()                    # in Jupyter: the graph, drawn (Graph._repr_svg_)
    viz.to_svg(graph, "graph.svg")            # the same, to a file
    viz.to_svg(sess, fetches=train_op)        # what one run executes, coloured by device
    for step in (bar := viz.progress(1000)):  # a progress bar with loss and steps/s
        bar.set(loss=sess.run([train_op, loss])[1])
    viz.plot_timeline(run_metadata)           # one traced step, per device (matplotlib)

Drawing a graph goes in three steps, each a function of plain data:
1. `summarize` turns the graph (or the ops a plan runs) into `Box`es and `Link`s:
   name scopes collapse to one box per top-level scope (with its op count)
   unless `expand` opens them; the links between boxes carry the dtype and
   shape of the tensors that cross. A box knows its device and whether it
   belongs to the gradient part (the "gradients/" scope).
2. The layout: Graphviz's `dot` when it is installed (`to_dot` writes its
   input), else `raygraph.layered_layout`, a layered layout in plain Python.
3. `_svg` draws the laid-out boxes, edges, labels and a legend of the devices.

This module installs `hooks.render_svg`, so a Graph shows itself in Jupyter
without the graph core importing the user API. matplotlib (timelines) and tqdm
(progress) are imported when used: `pip install raygraph[notebook]`.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from raygraph import graph as _graph
from raygraph import layered_layout
from raygraph.graph import Graph, Operation, Tensor
from raygraph.shapes import format_shape
from raygraph.viz_training import Progress, plot_timeline, progress, timeline_rows

__all__ = ["Progress", "auxiliary", "placement", "plot_timeline", "progress", "summarize", "timeline_rows"]
__all__ += ["to_dot", "to_svg"]

GRADIENTS = "gradients"
"""The top-level scope of tf.gradients' ops, drawn apart from the forward graph."""

_PALETTE = ["#cfe2f3", "#d9ead3", "#fff2cc", "#ead1dc", "#d9d2e9", "#fce5cd", "#d0e0e3", "#f4cccc"]
_UNPLACED = "#eeeeee"
_GRADIENT_STROKE = "#e69138"
_FONT = "Helvetica, Arial, sans-serif"
_CHAR = 6.6  # width of one character at 11px, roughly
_LABEL_CHAR = 5.6  # at 9.5px
_MAX_NAME = 36


@dataclass
class Box:
    """One node of the picture: an op, or a collapsed name scope."""

    key: str  # the op's name or the scope's path
    ops: list[Operation]
    scope: bool  # a collapsed scope, not a single op
    device: str = ""  # the most common device of its ops ("" when unplaced)
    devices: int = 1  # how many distinct devices its ops ran on

    @property
    def gradient(self) -> bool:
        return self.key == GRADIENTS or self.key.startswith(GRADIENTS + "/")

    @property
    def lines(self) -> tuple[str, str]:
        """(title, subtitle): the name, and the op type or the op count."""
        name = _shorten(self.key)
        if not self.scope:
            return name, self.ops[0].type
        extra = f", {self.devices} devices" if self.devices > 1 else ""
        return name, f"{len(self.ops)} op{'s' * (len(self.ops) != 1)}{extra}"


@dataclass
class Link:
    """The tensors (and control dependencies) from one box to another."""

    source: str
    target: str
    tensors: list[Tensor] = field(default_factory=list)
    control: bool = False

    @property
    def state(self) -> bool:
        """Only variables cross: the target reads or updates state (drawn light, unlabelled)."""
        return bool(self.tensors) and all(t.op.type.startswith("Variable") for t in self.tensors)

    @property
    def label(self) -> str:
        if not self.tensors or self.state:
            return ""
        t = self.tensors[0]
        more = len({x.name for x in self.tensors}) - 1
        return f"{t.dtype.name} {format_shape(t.shape)}" + (f" +{more}" if more else "")


def summarize(ops: list[Operation], expand=False, placement: dict[str, str] | None = None):
    """([Box], [Link]) for `ops`: scopes collapsed unless `expand` opens them.

    `expand` is False (one box per top-level scope), True (every op), or names of
    scopes to open one level (`["dense", "gradients/dense"]`). `placement` maps op
    names to devices (a plan's); without it an op's requested device is used.

    >>> boxes, links = summarize(tf.get_default_graph().get_operations())
    >>> [b.key for b in boxes]
    ['images', 'conv2d', 'dense', 'gradients', 'Adam', ...]
    """
    kept = {op.name for op in ops}
    boxes: dict[str, Box] = {}
    owner = {}
    for op in ops:
        key = _box_key(op.name, expand)
        box = boxes.setdefault(key, Box(key, [], scope=key != op.name))
        box.ops.append(op)
        box.scope = box.scope or key != op.name
        owner[op.name] = key
    for box in boxes.values():
        devices = Counter((placement or {}).get(op.name, op.device) for op in box.ops)
        box.device, box.devices = devices.most_common(1)[0][0], len(devices)
    links: dict[tuple[str, str], Link] = {}
    for op in ops:
        target = owner[op.name]
        for t in op.inputs:
            source = owner.get(t.op.name) if t.op.name in kept else None
            if source is not None and source != target:
                links.setdefault((source, target), Link(source, target)).tensors.append(t)
        for c in op.control_inputs:
            source = owner.get(c.name)
            if source is not None and source != target and (source, target) not in links:
                links[(source, target)] = Link(source, target, control=True)
    return list(boxes.values()), list(links.values())


def auxiliary(boxes: list[Box], links: list[Link]) -> set[str]:
    """Sinks fed only by state and control from many boxes (save, init): drawn aside, no edges.

    As TensorBoard does, so that the checkpoint and initializer scopes do not pull
    an edge from every variable across the picture.
    """
    sources, leaves = defaultdict(set), {link.source for link in links}
    for link in links:
        if link.state or link.control:
            sources[link.target].add(link.source)
        else:
            leaves.add(link.source)  # a box with a data output is no sink
    data_in = {link.target for link in links if not (link.state or link.control)}
    return {b.key for b in boxes if len(sources[b.key]) >= 4 and b.key not in leaves | data_in}


def _box_key(name: str, expand) -> str:
    """The box an op belongs to: its name, or the scope it is collapsed into."""
    if expand is True:
        return name
    opened = {expand} if isinstance(expand, str) else set(expand or ())
    parts = name.split("/")
    key = parts[0]
    for part in parts[1:]:
        if key not in opened:
            return key
        key = f"{key}/{part}"
    return key


def placement(sess, fetches, feed_dict=None) -> dict[str, str]:
    """{op name: device} of the plan that `sess.run(fetches, feed_dict)` runs.

    >>> viz.placement(sess, train_op, {x: xb})["dense/MatMul"]
    '/job:localhost/replica:0/task:0/device:CPU:0'
    """
    from raygraph.session import _Fetches

    elements = _Fetches(sess.graph, fetches).elements
    feeds = [
        sess.graph.as_graph_element(k, allow_tensor=True, allow_operation=False) for k in feed_dict or {}
    ]
    tensors = [e for e in elements if isinstance(e, Tensor)]
    targets = [e for e in elements if isinstance(e, Operation)]
    return dict(sess._scheduler.plan_for(tensors, feeds, targets).placement)


def to_svg(
    graph_or_session=None,
    path: str | None = None,
    *,
    fetches=None,
    feed_dict=None,
    expand=False,
    engine: str = "auto",
) -> str:
    """The graph drawn as SVG text; written to `path` too when given.

    A Session with `fetches` draws the ops that run needs, coloured by the device
    each was placed on. `engine` is "dot" (Graphviz), "builtin" or "auto" (dot
    when installed). See `summarize` for `expand`.

    >>> svg = viz.to_svg(tf.get_default_graph(), "graph.svg")
    >>> svg = viz.to_svg(sess, fetches=train_op, expand=["dense"])
    """
    ops, where = _ops_to_draw(graph_or_session, fetches, feed_dict)
    boxes, links = summarize(ops, expand, where)
    if engine not in ("auto", "dot", "builtin"):
        raise ValueError(f"engine must be 'auto', 'dot' or 'builtin', not {engine!r}")
    dot = shutil.which("dot") if engine != "builtin" else None
    if engine == "dot" and dot is None:
        raise RuntimeError("engine='dot' needs Graphviz's `dot` on the PATH (apt-get install graphviz)")
    svg = _run_dot(dot, _dot_source(boxes, links)) if dot else _svg(boxes, links)
    if path is not None:
        with open(os.fspath(path), "w") as f:
            f.write(svg)
    return svg


def to_dot(graph_or_session=None, *, fetches=None, feed_dict=None, expand=False) -> str:
    """The picture's Graphviz source (`dot -Tsvg` draws it)."""
    ops, where = _ops_to_draw(graph_or_session, fetches, feed_dict)
    return _dot_source(*summarize(ops, expand, where))


def _ops_to_draw(obj, fetches, feed_dict):
    if obj is None:
        obj = _graph.get_default_graph()
    if isinstance(obj, Graph):
        if fetches is not None:
            raise ValueError("fetches need a Session: to_svg(sess, fetches=...)")
        return obj.get_operations(), None
    if fetches is None:
        return obj.graph.get_operations(), None
    where = placement(obj, fetches, feed_dict)
    return [op for op in obj.graph.get_operations() if op.name in where], where


def _shorten(name: str) -> str:
    return name if len(name) <= _MAX_NAME else "…" + name[-(_MAX_NAME - 1) :]


def _colors(boxes: list[Box]) -> dict[str, str]:
    devices = sorted({b.device for b in boxes if b.device})
    colors = {d: _PALETTE[i % len(_PALETTE)] for i, d in enumerate(devices)}
    colors[""] = _UNPLACED
    return colors


def _short_device(device: str) -> str:
    """ "CPU:0" for "/job:localhost/replica:0/task:0/device:CPU:0"; task too when not 0."""
    if not device:
        return "unplaced"
    parts = dict(p.split(":", 1) for p in device.strip("/").split("/") if ":" in p)
    short = parts.get("device", device)
    task = parts.get("task", "0")
    return short if task == "0" else f"task {task} {short}"


# -- Graphviz --
def _dot_source(boxes: list[Box], links: list[Link]) -> str:
    colors = _colors(boxes)
    ids = {b.key: f"n{i}" for i, b in enumerate(boxes)}
    lines = [
        "digraph G {",
        '  graph [rankdir=TB, nodesep=0.25, ranksep=0.35, fontname="Helvetica", fontsize=11];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, margin="0.12,0.04"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#777777", fontcolor="#555555", arrowsize=0.6];',
    ]
    forward = [b for b in boxes if not b.gradient]
    backward = [b for b in boxes if b.gradient]
    for b in forward:
        lines.append("  " + _dot_node(b, ids, colors))
    if backward:
        lines.append(
            f'  subgraph cluster_gradients {{ label="gradients (backprop)"; style="dashed,rounded"; '
            f'color="{_GRADIENT_STROKE}"; fontcolor="{_GRADIENT_STROKE}";'
        )
        lines += ["    " + _dot_node(b, ids, colors) for b in backward]
        lines.append("  }")
    aside = auxiliary(boxes, links)
    for link in links:
        if link.source in aside or link.target in aside:
            continue
        if link.control:
            attrs = ['style=dashed, color="#bbbbbb"']
        elif link.state:
            attrs = ['color="#c4c4c4"']
        else:
            attrs = [f"label={_dot_quote(link.label)}"]
        lines.append(f"  {ids[link.source]} -> {ids[link.target]} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_node(box: Box, ids, colors) -> str:
    title, subtitle = box.lines
    label = f"<<b>{html.escape(title)}</b><br/><font point-size='9'>{html.escape(subtitle)}</font>>"
    stroke = _GRADIENT_STROKE if box.gradient else "#666666"
    shape = ", peripheries=2" if box.scope else ""
    return (
        f'{ids[box.key]} [label={label}, fillcolor="{colors[box.device]}", color="{stroke}", '
        f'style="rounded,filled"{shape}, tooltip={_dot_quote(box.key)}];'
    )


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _run_dot(dot: str, source: str) -> str:
    done = subprocess.run([dot, "-Tsvg"], input=source, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.strip()}")
    return done.stdout


# -- the built-in drawing --
def _box_size(box: Box) -> tuple[float, float]:
    title, subtitle = box.lines
    width = max(len(title) * (_CHAR + 0.6), len(subtitle) * _CHAR) + 20
    return max(width, 56.0), 38.0 if box.scope else 34.0


def _svg(boxes: list[Box], links: list[Link]) -> str:
    aside = auxiliary(boxes, links)
    main = [b for b in _forward_first(boxes) if b.key not in aside]
    links = [k for k in links if k.source not in aside and k.target not in aside]
    sizes = {b.key: _box_size(b) for b in boxes}
    edges = [
        layered_layout.Edge(k.source, k.target, (len(k.label) * _LABEL_CHAR + 4, 12) if k.label else None)
        for k in links
    ]
    laid = layered_layout.layout({b.key: sizes[b.key] for b in main}, edges)
    colors = _colors(boxes)
    legend, top = _legend(colors, boxes)
    side, side_width, side_height = _aside([b for b in boxes if b.key in aside], sizes, laid.width, colors)
    width = max(laid.width + side_width, _legend_width(colors, boxes))
    height = top + max(laid.height, side_height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{_FONT}">',
        '<defs><marker id="rg-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        *legend,
        f'<g transform="translate(0,{top})">',
    ]
    out += [_svg_edge(p, link) for p, link in zip(laid.paths, links)]
    out += [_svg_box(b, laid.centers[b.key], sizes[b.key], colors) for b in main]
    out += side
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


def _aside(boxes: list[Box], sizes, left: float, colors) -> tuple[list[str], float, float]:
    """The auxiliary boxes in a column right of the graph: (svg parts, width, height)."""
    if not boxes:
        return [], 0.0, 0.0
    width = max(max(sizes[b.key][0] for b in boxes), 23 * _LABEL_CHAR) + 24
    x, y = left + 12, 8.0
    out = [f'<text x="{x:.1f}" y="{y + 10:.1f}" font-size="10" fill="#777">auxiliary (edges hidden)</text>']
    y += 18
    for b in boxes:
        w, h = sizes[b.key]
        out.append(_svg_box(b, (x + w / 2, y + h / 2), (w, h), colors))
        y += h + 10
    return out, width, y


def _forward_first(boxes: list[Box]) -> list[Box]:
    """The layout's initial order: the forward graph left, the gradient part right."""
    return [b for b in boxes if not b.gradient] + [b for b in boxes if b.gradient]


def _svg_edge(path, link: Link) -> str:
    dash = ' stroke-dasharray="4,3"' if link.control else ""
    color, width = ("#c4c4c4", 0.9) if link.control or link.state else ("#808080", 1.2)
    parts = [
        f'<path d="{_curve(path.points)}" fill="none" stroke="{color}" stroke-width="{width}"{dash} '
        'marker-end="url(#rg-arrow)"/>'
    ]
    if path.label_at and link.label:
        x, y = path.label_at
        parts.append(
            f'<text x="{x:.1f}" y="{y + 9:.1f}" font-size="9.5" fill="#555">{html.escape(link.label)}</text>'
        )
    return "".join(parts)


def _curve(points) -> str:
    """An SVG path through the points: straight where vertical, an S-curve between ranks."""
    (x0, y0), *rest = points
    d = [f"M{x0:.1f},{y0:.1f}"]
    for (ax, ay), (bx, by) in zip(points, rest):
        if abs(ax - bx) < 0.5:
            d.append(f"L{bx:.1f},{by:.1f}")
        else:
            mid = (by - ay) / 2
            d.append(f"C{ax:.1f},{ay + mid:.1f} {bx:.1f},{by - mid:.1f} {bx:.1f},{by:.1f}")
    return " ".join(d)


def _svg_box(box: Box, center, size, colors) -> str:
    (cx, cy), (w, h) = center, size
    title, subtitle = box.lines
    stroke = _GRADIENT_STROKE if box.gradient else "#555555"
    dash = ' stroke-dasharray="5,3"' if box.gradient else ""
    weight = 2.0 if box.scope else 1.0
    x, y = cx - w / 2, cy - h / 2
    tip = html.escape(f"{box.key} ({_short_device(box.device)})")
    parts = [
        f"<g><title>{tip}</title>",
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{8 if box.scope else 4}" '
        f'fill="{colors[box.device]}" stroke="{stroke}" stroke-width="{weight}"{dash}/>',
        f'<text x="{cx:.1f}" y="{cy - 2:.1f}" text-anchor="middle" font-size="11" font-weight="bold" '
        f'fill="#222">{html.escape(title)}</text>',
        f'<text x="{cx:.1f}" y="{cy + 11:.1f}" text-anchor="middle" font-size="9.5" fill="#444">'
        f"{html.escape(subtitle)}</text></g>",
    ]
    return "".join(parts)


def _legend_items(colors, boxes) -> list[tuple[str, str, str]]:
    """(text, fill, stroke) per legend entry: the devices, then the gradient style."""
    used = sorted({b.device for b in boxes}, key=lambda d: (d == "", d))
    items = [(_short_device(d), colors[d], "#555555") for d in used]
    if any(b.gradient for b in boxes):
        items.append(("gradients (backprop)", "white", _GRADIENT_STROKE))
    return items


def _legend_width(colors, boxes) -> float:
    return 16 + sum(24 + len(text) * _CHAR + 14 for text, _, _ in _legend_items(colors, boxes))


def _legend(colors, boxes) -> tuple[list[str], float]:
    out, x = [], 8.0
    for text, fill, stroke in _legend_items(colors, boxes):
        dash = ' stroke-dasharray="4,2"' if stroke == _GRADIENT_STROKE else ""
        out.append(
            f'<rect x="{x:.1f}" y="7" width="18" height="12" rx="3" fill="{fill}" stroke="{stroke}"{dash}/>'
            f'<text x="{x + 24:.1f}" y="17" font-size="11" fill="#333">{html.escape(text)}</text>'
        )
        x += 24 + len(text) * _CHAR + 14
    return out, 26.0


_graph.hooks.render_svg = lambda graph: to_svg(graph)
