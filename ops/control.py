"""Control ops: no_op and group; ordering comes from control dependencies."""

from __future__ import annotations

from ops.registry import Op, api_function, build
from raygraph.graph import Operation, Tensor, control_dependencies, get_default_graph


class NoOp(Op):
    """Does nothing; with control inputs it is a barrier (`tf.group`)."""

    api = "no_op"
    differentiable = False
    cost = "free"

    def infer():
        return []

    def kernel(xp):
        return None


@api_function("group")
def group(*inputs, name=None):
    """An op that runs all `inputs`: `train_op = tf.group(update_a, update_b)`."""
    deps = []
    for x in inputs:
        for item in x if isinstance(x, list | tuple) else [x]:
            element = get_default_graph().as_graph_element(item)
            deps.append(element.op if isinstance(element, Tensor) else element)
    with control_dependencies(deps):
        return build("NoOp", [], name=name or "group_deps")


del Operation
