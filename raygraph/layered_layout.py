"""A layered graph layout in plain Python, for drawing graphs when Graphviz is absent.

    result = layout({"a": (80, 30), "b": (60, 30)}, [Edge("a", "b", label=(70, 12))])
    result.centers["b"], result.paths[0].points, result.paths[0].label_at

The classic Sugiyama steps, each a function of plain data:

1. `_acyclic`: the edges that close a cycle (back edges of a depth-first search)
   are turned around for the layout and drawn the right way again at the end.
2. `_ranks`: longest-path layering, top to bottom. Node ranks are even; the odd
   rank between two node ranks holds edge labels, as in Graphviz, so a label takes
   room in the layout like a box and never overlaps one. A source (a variable, a
   constant) moves down to just above its first consumer.
3. `_split`: an edge that spans more than one rank becomes a chain of dummy
   nodes, one per rank crossed. The first carries the edge's label and has its
   size; the others are thin.
4. `_order`: barycenter ordering: sweeps down and up sort each rank by the mean
   position of its neighbours in the rank before; the order with the fewest
   crossings wins.
5. `_place`: x by weighted barycenters with the rank's order kept and boxes
   `gap` apart (chains of dummies pull hardest, so long edges run straight); y
   by rank, each rank as tall as its tallest box.

Invariants of the result: boxes in one rank never overlap; every edge runs
between adjacent ranks only, vertically through its dummies' slots, so an edge
never crosses a box; a label sits in its own slot beside its edge.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

_SWEEPS = 12
_RANK_GAP = 16.0  # vertical space between two ranks
_THIN = 6.0  # width of a dummy node without a label


@dataclass(frozen=True)
class Edge:
    """An edge to lay out; `label` is the (width, height) of its label, or None."""

    source: str
    target: str
    label: tuple[float, float] | None = None


@dataclass
class Path:
    """How to draw one edge: a polyline from source to target, and where its label goes."""

    edge: Edge
    points: list[tuple[float, float]]
    label_at: tuple[float, float] | None = None  # the label's top-left corner


@dataclass
class Layout:
    centers: dict[str, tuple[float, float]]
    sizes: dict[str, tuple[float, float]]
    paths: list[Path]
    width: float
    height: float
    ranks: dict[str, int] = field(default_factory=dict)


def layout(sizes: dict[str, tuple[float, float]], edges: list[Edge], gap: float = 18.0) -> Layout:
    """Positions for boxes of the given (width, height) and polylines for the edges."""
    edges = [e for e in edges if e.source != e.target and e.source in sizes and e.target in sizes]
    flipped = _acyclic(list(sizes), edges)
    forward = [(e.target, e.source) if i in flipped else (e.source, e.target) for i, e in enumerate(edges)]
    rank = _ranks(list(sizes), forward)
    nodes, width, chains = _split(sizes, rank, edges, forward)
    layers = _order(nodes, chains)
    x = _place(layers, width, _anchors(edges, chains, width), chains, gap)
    y, band = _rows(layers, nodes, sizes)
    centers = {v: (x[v], y[rank[v]]) for v in sizes}
    paths = [
        _path(edge, chains[i], i in flipped, x, y, band, sizes, width, rank) for i, edge in enumerate(edges)
    ]
    _spread_ports(paths, centers, sizes)
    return _normalized(Layout(centers, dict(sizes), paths, 0.0, 0.0, {v: rank[v] for v in sizes}))


def _acyclic(vertices: list[str], edges: list[Edge]) -> set[int]:
    """Indices of edges to turn around so that the graph has no cycle (DFS back edges)."""
    out = defaultdict(list)
    for i, e in enumerate(edges):
        out[e.source].append((e.target, i))
    state: dict[str, int] = {}
    flipped = set()
    for root in vertices:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            v, it = stack[-1]
            step = next(it, None)
            if step is None:
                state[v] = 2
                stack.pop()
                continue
            w, i = step
            if state.get(w) == 1:
                flipped.add(i)
            elif w not in state:
                state[w] = 1
                stack.append((w, iter(out[w])))
    return flipped


def _ranks(vertices: list[str], forward: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering on even ranks; sources sit just above their first consumer."""
    preds, succs = defaultdict(list), defaultdict(list)
    for s, t in forward:
        preds[t].append(s)
        succs[s].append(t)
    order = _topological(vertices, preds, succs)
    rank = {}
    for v in order:
        rank[v] = max((rank[p] + 2 for p in preds[v]), default=0)
    for v in reversed(order):
        if not preds[v] and succs[v]:
            rank[v] = min(rank[t] for t in succs[v]) - 2
    return rank


def _topological(vertices, preds, succs) -> list[str]:
    waiting = {v: len(preds[v]) for v in vertices}
    ready = [v for v in vertices if waiting[v] == 0]
    order = []
    while ready:
        v = ready.pop(0)
        order.append(v)
        for t in succs[v]:
            waiting[t] -= 1
            if waiting[t] == 0:
                ready.append(t)
    return order


def _split(sizes, rank, edges, forward):
    """Dummy chains: ({node: rank}, {node: width}, {edge index: [source, dummies..., target]})."""
    nodes = dict(rank)
    width = {v: w for v, (w, _) in sizes.items()}
    chains = {}
    for i, (s, t) in enumerate(forward):
        chain = [s]
        for r in range(rank[s] + 1, rank[t]):
            dummy = f"\0{i}.{r}"
            nodes[dummy] = r
            label = edges[i].label
            first = r == rank[s] + 1
            width[dummy] = label[0] + 2 * _THIN if first and label else _THIN
            chain.append(dummy)
        chain.append(t)
        chains[i] = chain
    return nodes, width, chains


def _order(nodes: dict[str, int], chains: dict) -> list[list[str]]:
    """Each rank's nodes, left to right, by barycenter sweeps."""
    up, down = defaultdict(list), defaultdict(list)
    for chain in chains.values():
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
    lowest = min(nodes.values(), default=0)
    layers: list[list[str]] = [[] for _ in range(max(nodes.values(), default=0) - lowest + 1)]
    for v in nodes:  # insertion order: the caller's order, then the dummies
        layers[nodes[v] - lowest].append(v)
    best, fewest = [list(L) for L in layers], _crossings(layers, down)
    for sweep in range(_SWEEPS):
        if sweep % 2 == 0:
            for i in range(1, len(layers)):
                layers[i] = _by_barycenter(layers[i], layers[i - 1], up)
        else:
            for i in range(len(layers) - 2, -1, -1):
                layers[i] = _by_barycenter(layers[i], layers[i + 1], down)
        crossings = _crossings(layers, down)
        if crossings < fewest:
            best, fewest = [list(L) for L in layers], crossings
    return best


def _by_barycenter(layer: list[str], fixed: list[str], neighbours) -> list[str]:
    position = {v: i for i, v in enumerate(fixed)}

    def key(item):
        i, v = item
        xs = [position[n] for n in neighbours[v] if n in position]
        return (sum(xs) / len(xs) if xs else i * len(fixed) / max(len(layer), 1), i)

    return [v for _, v in sorted(enumerate(layer), key=key)]


def _crossings(layers: list[list[str]], down) -> int:
    total = 0
    for upper, lower in zip(layers, layers[1:]):
        position = {v: i for i, v in enumerate(lower)}
        ends = sorted((i, position[t]) for i, v in enumerate(upper) for t in down[v] if t in position)
        seen: list[int] = []  # target positions so far, sorted: count those to the right
        for _, j in ends:
            total += len(seen) - bisect.bisect_right(seen, j)
            bisect.insort(seen, j)
    return total


def _anchors(edges, chains, width) -> dict[str, float]:
    """Where an edge passes a dummy, from its centre: at the left of a label's slot."""
    return {
        chain[1]: -width[chain[1]] / 2 + _THIN / 2
        for i, chain in chains.items()
        if edges[i].label and len(chain) > 2
    }


def _place(layers, width, anchor, chains, gap) -> dict[str, float]:
    """x of every node: weighted barycenters of both neighbouring ranks, order and gaps kept.

    Positions pull on the edge's line (`anchor`), not on a label slot's centre, so
    that a long edge runs straight past its label.
    """
    links = defaultdict(list)
    for chain in chains.values():
        for a, b in zip(chain, chain[1:]):
            weight = 8.0 if a.startswith("\0") and b.startswith("\0") else 2.0 if "\0" in a + b else 1.0
            links[a].append((b, weight))
            links[b].append((a, weight))
    x = {}
    for layer in layers:
        x.update(_packed(layer, width, gap, [0.0] * len(layer)))
    for _ in range(2 * _SWEEPS):
        for layer in layers:
            wanted = []
            for v in layer:
                pulls = links[v]
                total = sum(w for _, w in pulls)
                line = sum((x[n] + anchor.get(n, 0.0)) * w for n, w in pulls) / total if total else None
                wanted.append(x[v] if line is None else line - anchor.get(v, 0.0))
            x.update(_packed(layer, width, gap, wanted))
    _straighten(layers, width, anchor, chains, gap, x)
    return x


def _straighten(layers, width, anchor, chains, gap, x) -> None:
    """Moves each long edge's dummies onto one vertical line where the rank has room."""
    slot = {v: (i, j) for i, layer in enumerate(layers) for j, v in enumerate(layer)}
    for chain in chains.values():
        dummies = chain[1:-1]
        if len(dummies) < 2:
            continue
        lines = sorted(x[v] + anchor.get(v, 0.0) for v in dummies)
        line = lines[len(lines) // 2]
        for v in dummies:
            i, j = slot[v]
            layer, new = layers[i], line - anchor.get(v, 0.0)
            left_ok = j == 0 or new - x[layer[j - 1]] >= (width[v] + width[layer[j - 1]]) / 2 + gap
            right_ok = (
                j == len(layer) - 1 or x[layer[j + 1]] - new >= (width[v] + width[layer[j + 1]]) / 2 + gap
            )
            if left_ok and right_ok:
                x[v] = new


def _packed(layer, width, gap, wanted) -> dict[str, float]:
    """Positions as close to `wanted` as the order and the gaps allow (mean of two passes)."""
    if not layer:
        return {}

    def need(a, b):
        return (width[a] + width[b]) / 2 + gap

    right = list(wanted)
    for i in range(1, len(layer)):
        right[i] = max(right[i], right[i - 1] + need(layer[i - 1], layer[i]))
    left = list(wanted)
    for i in range(len(layer) - 2, -1, -1):
        left[i] = min(left[i], left[i + 1] - need(layer[i], layer[i + 1]))
    return {v: (a + b) / 2 for v, a, b in zip(layer, left, right)}


def _rows(layers, nodes, sizes):
    """({rank: center y}, {rank: (top, bottom)}): each rank as tall as its tallest box."""
    y, band, top = {}, {}, 0.0
    lowest = min(nodes.values(), default=0)
    for i, layer in enumerate(layers):
        height = max((sizes[v][1] for v in layer if v in sizes), default=0.0)
        labels = [v for v in layer if v not in sizes]
        if labels and not height:
            height = 14.0
        y[i + lowest] = top + height / 2
        band[i + lowest] = (top, top + height)
        top += height + (_RANK_GAP if height else _RANK_GAP / 2)
    return y, band


def _path(edge, chain, flipped, x, y, band, sizes, width, rank) -> Path:
    source, target = chain[0], chain[-1]
    points = [(x[source], y[rank[source]] + sizes[source][1] / 2)]
    label_at = None
    for dummy in chain[1:-1]:
        r = int(dummy.rsplit(".", 1)[1])
        at = x[dummy] + (-width[dummy] / 2 + _THIN / 2 if edge.label and dummy == chain[1] else 0.0)
        if edge.label and dummy == chain[1]:
            label_at = (at + _THIN, y[r] - edge.label[1] / 2)
        points += [(at, band[r][0]), (at, band[r][1])]
    points.append((x[target], y[rank[target]] - sizes[target][1] / 2))
    if flipped:
        points.reverse()
    return Path(edge, points, label_at)


def _spread_ports(paths: list[Path], centers, sizes) -> None:
    """Edges leaving (or entering) one box start (end) at spread points along its side."""
    for end in (0, -1):
        by_node = defaultdict(list)
        for p in paths:
            node = p.edge.source if end == 0 else p.edge.target  # paths run source to target
            by_node[node].append(p)
        for node, group in by_node.items():
            if len(group) < 2:
                continue
            neighbour = 1 if end == 0 else -2
            group.sort(key=lambda p: p.points[neighbour][0])
            w = sizes[node][0] * 0.7
            cx = centers[node][0]
            for k, p in enumerate(group):
                px, py = p.points[end]
                p.points[end] = (cx - w / 2 + w * (k + 0.5) / len(group), py)


def _normalized(result: Layout, margin: float = 8.0) -> Layout:
    xs = [c[0] - result.sizes[v][0] / 2 for v, c in result.centers.items()]
    xs += [px for p in result.paths for px, _ in p.points]
    min_x = min(xs, default=0.0) - margin
    min_y = min((c[1] - result.sizes[v][1] / 2 for v, c in result.centers.items()), default=0.0) - margin

    def move(pt):
        return (pt[0] - min_x, pt[1] - min_y)

    result.centers = {v: move(c) for v, c in result.centers.items()}
    for p in result.paths:
        p.points = [move(q) for q in p.points]
        p.label_at = move(p.label_at) if p.label_at else None
    right = [c[0] + result.sizes[v][0] / 2 for v, c in result.centers.items()]
    right += [p.label_at[0] + p.edge.label[0] for p in result.paths if p.label_at]
    right += [px for p in result.paths for px, _ in p.points]
    bottom = [c[1] + result.sizes[v][1] / 2 for v, c in result.centers.items()]
    result.width = max(right, default=0.0) + margin
    result.height = max(bottom, default=0.0) + margin
    return result
