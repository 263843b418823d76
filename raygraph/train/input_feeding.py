"""Python-fed inputs of a monitored loop: the queue-free stand-in for TF1's input queues.

`tf.estimator.inputs.numpy_input_fn` builds placeholders and registers a feeder
for them in the graph (collection INPUT_FEEDERS). A MonitoredSession feeds the
feeder's next batch into every run whose fetches depend on its placeholders,
as TF's dequeue op would run once in such a run and not at all in others; a
feeder that has no more batches raises OutOfRangeError, which ends the loop as
TF's exhausted queue does (`MonitoredSession.__exit__` swallows it).

State: per feeder its own position; per session a cache {fetched elements:
whether they need the feeder}, so the graph walk happens once per signature.
"""

from __future__ import annotations

from raygraph.graph import Operation, Tensor

__all__ = []

INPUT_FEEDERS = "raygraph_input_feeders"


class InputFeeder:
    """Feeds `placeholders` with `next_feed()` (a dict {placeholder: array}) each run that needs them."""

    def __init__(self, placeholders, next_feed):
        self.placeholders = list(placeholders)
        self.next_feed = next_feed


def register_feeder(graph, placeholders, next_feed) -> InputFeeder:
    feeder = InputFeeder(placeholders, next_feed)
    graph.add_to_collection(INPUT_FEEDERS, feeder)
    return feeder


def _ancestor_ops(elements) -> set:
    """Every op the fetched tensors and operations depend on (data and control inputs)."""
    stack = [e.op if isinstance(e, Tensor) else e for e in elements if isinstance(e, Tensor | Operation)]
    seen = set()
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return seen


class FeederFeeds:
    """The feeds a session's registered feeders add to one run."""

    def __init__(self, graph):
        self._feeders = list(graph.get_collection(INPUT_FEEDERS))
        self._needs: dict[frozenset, list[InputFeeder]] = {}

    def __bool__(self) -> bool:
        return bool(self._feeders)

    def feeds_for(self, elements, feed_dict) -> dict:
        key = frozenset(elements)
        if key not in self._needs:
            ops = _ancestor_ops(elements)
            self._needs[key] = [f for f in self._feeders if any(p.op in ops for p in f.placeholders)]
        feeds = {}
        for feeder in self._needs[key]:
            if not any(p in feed_dict for p in feeder.placeholders):
                feeds.update(feeder.next_feed())
        return feeds
