"""Collectives among devices: CollectiveAllReduce, the all-reduce of data-parallel training.

A collective is one op *instance* per device, all sharing a `group_key` and an
`instance_key`. The instance on rank r's device takes the group's tensors as
its inputs, in rank order, and merges them; the planner turns every input that
lives on another device into a transfer (scheduler.engine.plan), so the
exchange runs device actor to device actor, through the object store on Ray,
never through the driver. Every instance merges in the same order, so all
ranks get the same bits: replicas that apply the result stay identical.

That is the *direct* all-reduce: each rank receives the N-1 other tensors
whole. raygraph.parallel.all_reduce also builds a *ring* (chunked
reduce-scatter along the ring, then each reduced chunk sent to every rank)
from plain ops, which moves 2(N-1)/N of a tensor per rank instead of N-1; for
two ranks the two move the same bytes (bench/data_parallel.py measures both).

merge_op is "Add", "Mul", "Max" or "Min"; final_op "Id" or "Div" (divides by
group_size: the mean). The gradient of an Add all-reduce is the upstream
gradient (divided by group_size for "Div") for every input: summed over the
instances by the gradient driver, it is the all-reduce of the gradients.
"""

from __future__ import annotations

from ops.registry import Op

MERGE_OPS = ("Add", "Mul", "Max", "Min")
FINAL_OPS = ("Id", "Div")


class CollectiveAllReduce(Op):
    """Rank `rank`'s instance of an all-reduce over `group_size` devices (inputs in rank order)."""

    inputs = ("inputs*",)
    attrs = {
        "rank": 0,
        "group_size": 1,
        "group_key": 0,
        "instance_key": 0,
        "merge_op": "Add",
        "final_op": "Id",
    }
    same_dtype = ("inputs",)

    def infer(inputs, rank, group_size, group_key, instance_key, merge_op, final_op):
        if merge_op not in MERGE_OPS:
            raise ValueError(f"merge_op must be one of {MERGE_OPS}, got {merge_op!r}")
        if final_op not in FINAL_OPS:
            raise ValueError(f"final_op must be one of {FINAL_OPS}, got {final_op!r}")
        if len(inputs) != group_size:
            raise ValueError(
                f"an all-reduce over group_size={group_size} devices takes {group_size} tensors, got {len(inputs)}"
            )
        if not 0 <= rank < group_size:
            raise ValueError(f"rank {rank} is not in [0, {group_size})")
        shape = inputs[0].shape
        for i, t in enumerate(inputs[1:], 1):
            if not shape.is_compatible_with(t.shape):
                raise ValueError(
                    f"all-reduce inputs must have one shape: rank 0 has {shape}, rank {i} has {t.shape}"
                )
            shape = shape.merge_with(t.shape)
        return inputs[0].dtype, shape

    def kernel(xp, inputs, rank, group_size, group_key, instance_key, merge_op, final_op):
        merge = {"Add": xp.add, "Mul": xp.multiply, "Max": xp.maximum, "Min": xp.minimum}[merge_op]
        if len(inputs) == 1:
            out = xp.array(inputs[0], copy=True)
        else:  # rank order on every device: the same bits everywhere; one pass makes the sum
            out = merge(inputs[0], inputs[1])
        for x in inputs[2:]:
            out = merge(out, x, out=out) if out.ndim else merge(out, x)
        if final_op == "Div":
            out = (
                out / xp.asarray(group_size, dtype=out.dtype) if out.dtype.kind in "fc" else out // group_size
            )
        return xp.asarray(out)  # a 0-d sum comes back from numpy as a scalar

    def grad(op, dy):
        if op.attrs["merge_op"] != "Add":
            return [None] * len(op.inputs)
        if op.attrs["final_op"] == "Div":
            from ops import api as tf

            dy = tf.divide(dy, tf.cast(op.attrs["group_size"], dy.dtype))
        return [dy] * len(op.inputs)
