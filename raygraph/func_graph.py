"""Sub-graphs that control-flow ops call: a loop's body, a conditional's branches.

DESIGN. raygraph represents control flow with functional ops (`If`, `While`)
that hold their branches and bodies as sub-graphs, not with TF1's
Switch/Merge/Enter/Exit frames. Reasons:

- The executor stays what it is: a partition compiled into straight-line code
  (scheduler.engine.executor). A `While` is one node whose kernel runs its
  body's compiled program in a Python loop on the device, so an iteration costs
  the body's kernels plus a few microseconds, with no driver round trip and no
  per-node frame bookkeeping.
- Only the taken branch of an `If` runs, by construction.
- A sub-graph is a whole graph: nesting (a loop in a branch in a loop) needs
  nothing more, and gradients are ordinary `tf.gradients` inside the sub-graph.
- TF1's user-facing semantics are kept: ops created in a branch or body belong
  to it (they live in its `FuncGraph`), values from outside are captured (they
  become inputs of the control-flow op), variables created inside (an RNN
  cell's weights, made on first call inside `dynamic_rnn`'s loop) are created in
  the outermost graph with TF1's names, and the gradient of a loop is a loop over
  the values each forward iteration stored (see ops.control_flow).

A `FuncGraph` is a `Graph` with an `outer` graph. When an op inside it takes a
tensor of an enclosing graph, the tensor is captured: a placeholder stands for
it inside, and the control-flow op takes the outer tensor as an input.
A `Function` is a FuncGraph with its input placeholders and output tensors; the
scheduler turns it into plain data (a one-device partition) when it plans a run.
"""

from __future__ import annotations

import contextlib

from raygraph.graph import Graph, Operation, Tensor, foreign_graph_message


class FuncGraph(Graph):
    """A graph that is the body of a control-flow op; see the module docstring.

    >>> with FuncGraph(outer, "while/body").as_default() as body:
    ...     y = x_outer * 2.0      # x_outer is captured: body.captures[x_outer]
    """

    def __init__(self, outer: Graph, prefix: str):
        super().__init__()
        self.outer = outer
        self.prefix = prefix.rstrip("/")
        self.seed = outer.seed
        self.captures: dict[Tensor, Tensor] = {}  # outer tensor -> placeholder inside
        self._outer_of: dict[Tensor, Tensor] = {}  # placeholder -> the outer graph's tensor, when
        # the captured tensor is from a graph further out (captured by `outer` first)
        self.control_captures: list[Operation] = []  # outer ops ops inside wait for
        self._created_at = outer._created_at

    @property
    def root(self) -> Graph:
        """The outermost graph: where variables are created."""
        graph = self.outer
        while isinstance(graph, FuncGraph):
            graph = graph.outer
        return graph

    @property
    def _state(self):
        s = self._scopes
        if not hasattr(s, "name_stack"):
            s.name_stack = self.prefix
            s.device_stack = []
            s.control_stack = []
            s.colocation_stack = []
        return s

    def describe(self) -> str:
        return f"the body '{self.prefix}' of a control-flow op in {self.root.describe()}"

    # -- captures --
    def _capture(self, t: Tensor) -> Tensor:
        if t.graph is self:
            return t
        placeholder = self.captures.get(t)
        if placeholder is not None:
            return placeholder
        if not self.outer_chain_has(t.graph):
            raise ValueError(foreign_graph_message(t, self))
        outer_t = t if t.graph is self.outer else self.outer._capture(t)
        with self._at_top():
            name = t.op.name.replace("/", "_") + "_captured"
            op = self.create_op("Placeholder", [], {"dtype": t.dtype, "shape": t.shape}, name=name)
        placeholder = op.outputs[0]
        self.captures[t] = placeholder
        if outer_t is not t:
            self._outer_of[placeholder] = outer_t
        return placeholder

    def outer_chain_has(self, graph: Graph) -> bool:
        """True when `graph` encloses this one (is its outer graph, or that one's, ...)."""
        g = self.outer
        while g is not None:
            if g is graph:
                return True
            g = getattr(g, "outer", None)
        return False

    def captured_inputs(self) -> tuple[list[Tensor], list[Tensor]]:
        """(tensors of the `outer` graph, their placeholders inside), in capture order."""
        outer, inner = [], []
        for t, placeholder in self.captures.items():
            outer.append(self._outer_of.get(placeholder, t))
            inner.append(placeholder)
        return outer, inner

    @contextlib.contextmanager
    def _at_top(self):
        """Scope for ops made on the function's behalf: the prefix, no control inputs."""
        state = self._state
        saved = state.name_stack, state.control_stack
        state.name_stack, state.control_stack = self.prefix, []
        try:
            yield
        finally:
            state.name_stack, state.control_stack = saved

    # -- control dependencies on outer ops become the control-flow op's --
    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        if control_inputs is None:
            with super().control_dependencies(None):
                yield
            return
        own = []
        for c in control_inputs:
            element = getattr(c, "_as_graph_element", lambda c=c: c)()
            graph = getattr(element, "graph", None)
            if graph is not None and graph is not self and self.outer_chain_has(graph):
                op = element.op if isinstance(element, Tensor) else element
                if op not in self.control_captures:
                    self.control_captures.append(op)
            else:
                own.append(c)
        with super().control_dependencies(own):
            yield

    # -- collections read through to the enclosing graphs --
    def get_collection(self, name: str, scope: str | None = None) -> list:
        return self.outer.get_collection(name, scope) + super().get_collection(name, scope)


class Function:
    """A FuncGraph with its input placeholders and output tensors.

    `saved` lists tensors of the graph that a gradient needs from each call
    (ops.control_flow): the op calling the function keeps their values when its
    gradient is part of the run.
    """

    def __init__(self, graph: FuncGraph, inputs: list[Tensor], outputs: list[Tensor]):
        self.graph = graph
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.saved: list[Tensor] = []
        self.gradient = None  # built once, by the first tf.gradients through the op

    @property
    def name(self) -> str:
        return self.graph.prefix

    def __repr__(self) -> str:
        return f"<Function '{self.name}': {len(self.inputs)} inputs, {len(self.outputs)} outputs>"


def root_graph(graph: Graph) -> Graph:
    """The outermost graph enclosing `graph` (itself for an ordinary graph)."""
    return graph.root if isinstance(graph, FuncGraph) else graph
