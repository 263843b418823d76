"""Concurrency made observable without clocks: nodes that meet, nodes held at a gate.

Tests of "these ran at the same time" or "this returned before that ended" do not
time anything. Their kernels leave marks (empty files) in a test's directory, which
every device sees, whether it runs in this process or in a Ray actor:

- `Meeting(path).node(x, name, peers)`: a node that marks its arrival and waits, inside
  its kernel, until each peer has arrived too, then passes `x` through. A run that
  returns proves the nodes were running at the same time; nodes that can only run
  one after the other fail after `wait_s` with an error naming who never came.
  A meeting happens once: in later runs the marks are there and the nodes pass.
- `Gate(path).node(x, name)`: a node that marks that it started, then holds until
  the test opens the gate (or fails after `wait_s`). A run that returns while the
  gate is shut did not wait for that node.
"""

from __future__ import annotations

import os

import raygraph as tf
from tests.waiting import wait_until


def _mark(directory: str, name: str) -> None:
    open(os.path.join(directory, name), "a").close()


def _marked(directory: str, name: str) -> bool:
    return os.path.exists(os.path.join(directory, name))


class Meet(tf.Op):
    """Marks `name` arrived, waits until every peer has arrived, passes `x` through."""

    inputs = ("x",)
    attrs = {"directory": "", "name": "", "peers": (), "wait_s": 60.0}
    heavy = True
    differentiable = False

    def infer(x, directory, name, peers, wait_s):
        return x.dtype, x.shape

    def kernel(xp, x, directory, name, peers, wait_s):
        _mark(directory, name + ".arrived")
        try:
            wait_until(lambda: all(_marked(directory, p + ".arrived") for p in peers), wait_s)
        except TimeoutError:
            missing = [p for p in peers if not _marked(directory, p + ".arrived")]
            raise RuntimeError(
                f"{name!r} waited {wait_s} s for {missing}: they did not run at the same time"
            ) from None
        return x


class Hold(tf.Op):
    """Marks `name` started, holds until `name` is opened, passes `x` through."""

    inputs = ("x",)
    attrs = {"directory": "", "name": "", "wait_s": 60.0}
    heavy = True
    differentiable = False

    def infer(x, directory, name, wait_s):
        return x.dtype, x.shape

    def kernel(xp, x, directory, name, wait_s):
        _mark(directory, name + ".started")
        try:
            wait_until(lambda: _marked(directory, name + ".open"), wait_s)
        except TimeoutError:
            raise RuntimeError(f"the gate {name!r} stayed shut for {wait_s} s") from None
        return x


class Meeting:
    """Nodes that wait for each other; see the module docstring."""

    def __init__(self, directory):
        self.directory = str(directory)

    def node(self, x, name: str, peers: list[str], wait_s: float = 60.0):
        attrs = {"directory": self.directory, "name": name, "peers": tuple(peers), "wait_s": wait_s}
        return tf.get_default_graph().create_op("Meet", [x], attrs, name=name).outputs[0]


class Gate:
    """Nodes held until the test opens them; see the module docstring."""

    def __init__(self, directory):
        self.directory = str(directory)

    def node(self, x, name: str, wait_s: float = 60.0):
        attrs = {"directory": self.directory, "name": name, "wait_s": wait_s}
        return tf.get_default_graph().create_op("Hold", [x], attrs, name=name).outputs[0]

    def wait_started(self, name: str, timeout: float = 60.0) -> None:
        wait_until(lambda: _marked(self.directory, name + ".started"), timeout, f"node {name!r} starting")

    def open(self, name: str) -> None:
        _mark(self.directory, name + ".open")
