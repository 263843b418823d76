"""`tf.parallel`: data-parallel training over device actors, and the all-reduce it uses.

Write the model once, as a function of one shard of the batch that returns its
mean loss; `DataParallel` builds one replica per device, splits each batch
between them, averages the gradients with an all-reduce among the devices and
applies one identical update on every replica:

    def model_fn(x, y):
        logits = tf.layers.dense(tf.layers.dense(x, 64, tf.nn.relu), 10)
        loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
        return loss, logits

    x = tf.placeholder(tf.float32, [None, 64]); y = tf.placeholder(tf.int64, [None])
    dp = tf.parallel.DataParallel(model_fn, [x, y], devices=2)
    train_op = dp.minimize(tf.train.AdamOptimizer(1e-3), global_step=tf.train.get_or_create_global_step())
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(tf.global_variables_initializer())
        _, loss, logits = sess.run([train_op, dp.loss, dp.outputs], {x: xb, y: yb})

How. Replica 0 is built on devices[0] exactly as a single-device program would
build it (same variable names, so checkpoints are interchangeable); replica r
builds its own *mirror* of every variable on devices[r], under
`variable_scope("replica_r")`, initialized from replica 0's value. Rows
[r*n//N, (r+1)*n//N) of each input go to replica r (n the run's batch): a
fed batch is cut by the driver, which feeds each replica its rows; inputs
computed in the graph are sliced on r's device. The gradient of replica r is
weighted by its share of the batch (its loss is, before the gradients are
taken), so their sum is the gradient of the mean loss over the whole batch;
all the gradients of one dtype are flattened into one buffer and summed with
one `all_reduce` (one exchange per step, not one per variable). Every rank gets the same bits, and
`minimize` calls the optimizer's apply_gradients once for all replicas (one
global step, one set of Adam powers): replicas stay identical, and training
matches a single device on the combined batch to float32 rounding.

A variable that model_fn reads but did not create (made outside it) is shared:
its replicas' gradients are summed where it lives and applied once. Mirrors
are global variables (initialized and saved) but not trainable ones.

`all_reduce(tensors)` is the collective by itself: one input per device (the
device its op runs on), one output per device. "direct" is one
CollectiveAllReduce op per device taking every rank's tensor (ops.collective);
"ring" is a chunked ring reduce-scatter (each chunk summed once, on its way
round the ring) followed by sending each reduced chunk to every rank. Both
travel actor to actor; "auto" takes the ring from three ranks and
RING_MIN_ELEMENTS elements up, where it moves fewer bytes per rank.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Sequence

import numpy as np

from ops import api
from ops.registry import build
from raygraph import dtypes
from raygraph.graph import (
    GraphKeys,
    Operation,
    Tensor,
    colocate_with,
    convert_to_tensor,
    device,
    get_default_graph,
    name_scope,
)

__all__ = ["DataParallel", "all_reduce", "replicate"]

RING_MIN_ELEMENTS = 1 << 16
"""Below this many elements per tensor, "auto" all-reduces directly: the ring's extra hops cost more than its bytes save."""

_keys = itertools.count(1)


# -- the collective -------------------------------------------------------------


def all_reduce(
    tensors: Sequence[Tensor],
    merge_op: str = "Add",
    final_op: str = "Id",
    algorithm: str = "auto",
    name: str | None = None,
) -> list[Tensor]:
    """Reduces `tensors` (one per device) elementwise; returns the result once per device.

    Output i is placed with tensors[i]'s op; every output holds the same bits.
    `merge_op`: "Add", "Mul", "Max", "Min"; `final_op`: "Id" or "Div" (the mean);
    `algorithm`: "direct", "ring" or "auto" (see the module docstring).

    >>> a = [tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])]   # each under its tf.device
    >>> tf.parallel.all_reduce(a, final_op="Div")   # [2., 3.] on each device
    """
    tensors = [convert_to_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("all_reduce needs at least one tensor")
    if algorithm not in ("auto", "direct", "ring"):
        raise ValueError(f"all_reduce: algorithm must be 'auto', 'direct' or 'ring', got {algorithm!r}")
    n = len(tensors)
    size = tensors[0].shape.num_elements()
    if algorithm == "auto":
        algorithm = "ring" if n > 2 and size is not None and size >= RING_MIN_ELEMENTS else "direct"
    with name_scope(name, "all_reduce", tensors):
        if algorithm == "ring" and n > 1:
            if size is None or not all(t.shape.is_fully_defined() for t in tensors):
                raise ValueError(f"a ring all_reduce needs fully known shapes, got {tensors[0].shape}")
            return _ring(tensors, merge_op, final_op)
        return _direct(tensors, merge_op, final_op)


def _direct(tensors: list[Tensor], merge_op: str, final_op: str) -> list[Tensor]:
    key = next(_keys)
    attrs = {"group_size": len(tensors), "group_key": key, "instance_key": key}
    outs = []
    for rank, t in enumerate(tensors):
        with colocate_with(t.op):
            op_attrs = dict(attrs, rank=rank, merge_op=merge_op, final_op=final_op)
            outs.append(build("CollectiveAllReduce", [tensors], op_attrs, name=f"rank_{rank}"))
    return outs


_MERGE = {"Add": "add", "Mul": "multiply", "Max": "maximum", "Min": "minimum"}


def _ring(tensors: list[Tensor], merge_op: str, final_op: str) -> list[Tensor]:
    n = len(tensors)
    shape = tensors[0].shape
    size = shape.num_elements()
    sizes = [(c + 1) * size // n - c * size // n for c in range(n)]
    merge = getattr(api, _MERGE[merge_op])
    chunks = []
    for rank, t in enumerate(tensors):
        with colocate_with(t.op), name_scope(f"rank_{rank}"):
            chunks.append(api.split(api.reshape(t, [-1]), sizes, name="chunks"))
    reduced = []
    for c in range(n):  # chunk c starts at rank c+1 and ends, whole, at rank c
        order = [(c + 1 + k) % n for k in range(n)]
        acc = chunks[order[0]][c]
        for rank in order[1:]:
            with colocate_with(tensors[rank].op), name_scope(f"rank_{rank}"):
                acc = merge(acc, chunks[rank][c], name=f"reduce_chunk_{c}")
        reduced.append(acc)
    outs = []
    for rank, t in enumerate(tensors):
        with colocate_with(t.op), name_scope(f"rank_{rank}"):
            out = api.reshape(api.concat(reduced, 0), shape.as_list())
            if final_op == "Div":
                out = api.divide(out, api.cast(n, out.dtype))
            outs.append(out)
    return outs


# -- data parallelism -----------------------------------------------------------


class DataParallel:
    """One replica of `model_fn` per device; see the module docstring.

    `model_fn(*shards)` gets one shard of each of `inputs` and returns its mean
    loss, or (loss, outputs) with outputs a tensor or a list of tensors.
    `devices` is a number N (CPU:0..N-1 of the first task, as
    ConfigProto(device_count={"CPU": N}) makes them) or a list of device names.

    Attributes: `devices`, `losses` (one per replica), `loss` (the mean over the
    batch), `outputs` (each output of model_fn over the whole batch: shards
    concatenated in order, scalars averaged like the loss), `variables`
    (replica 0's), `mirrors` ({variable: [its copy on each replica]}).
    """

    def __init__(
        self,
        model_fn: Callable,
        inputs: Sequence[Tensor] | Tensor,
        devices: int | Sequence[str] = 2,
        name: str = "data_parallel",
    ):
        single = isinstance(inputs, (Tensor,)) or not isinstance(inputs, (list, tuple))
        inputs = [convert_to_tensor(inputs)] if single else [convert_to_tensor(x) for x in inputs]
        if isinstance(devices, int):
            if devices < 1:
                raise ValueError(f"DataParallel needs at least one device, got devices={devices}")
            devices = [f"/device:CPU:{i}" for i in range(devices)]
        self.devices = [d.to_string() if hasattr(d, "to_string") else str(d) for d in devices]
        if not self.devices:
            raise ValueError("DataParallel needs at least one device")
        self.name = name
        graph = get_default_graph()
        shards, self.weights = _split(inputs, self.devices, name)
        graph._feed_derivers.append(_ShardFeeds(inputs, shards, self.weights))
        self.losses: list[Tensor] = []
        self._replica_outputs: list[list[Tensor]] = []
        self._created: list[list] = []
        for rank, dev in enumerate(self.devices):
            before = set(map(id, graph.get_collection(GraphKeys.GLOBAL_VARIABLES)))
            with device(dev), _replica_scope(rank):
                result = model_fn(*shards[rank])
            loss, outs, self._single_output = _unpack(result, rank)
            self.losses.append(loss)
            self._replica_outputs.append(outs)
            self._created.append(
                [v for v in graph.get_collection(GraphKeys.GLOBAL_VARIABLES) if id(v) not in before]
            )
        self.variables = list(self._created[0])
        self.mirrors = self._mirror(graph)
        with name_scope(name):
            self.loss = _weighted_sum(self.losses, self.weights, "loss")
            self.outputs = self._combined_outputs()

    # -- variables --

    def _mirror(self, graph) -> dict:
        """Replica r's variables become copies of replica 0's: initialized from them, not trainable."""
        primary = self._created[0]
        mirrors = {v: [v] for v in primary}
        trainable = graph.get_collection_ref(GraphKeys.TRAINABLE_VARIABLES)
        for rank, created in enumerate(self._created[1:], 1):
            if len(created) != len(primary):
                raise ValueError(
                    f"DataParallel: model_fn created {len(primary)} variables for replica 0 but "
                    f"{len(created)} for replica {rank}: it must build the same model every call"
                )
            for v0, v in zip(primary, created):
                if v0.dtype != v.dtype or not v0.shape.is_compatible_with(v.shape):
                    raise ValueError(
                        f"DataParallel: replica {rank}'s variable {v.name} ({v.dtype.name} {v.shape}) "
                        f"does not match replica 0's {v0.name} ({v0.dtype.name} {v0.shape})"
                    )
                with colocate_with(v.op), name_scope(v.op.name + "/"):
                    with colocate_with(v0.op):
                        value = v0.initialized_value()
                    v._initializer_op = api.assign(v._ref(), value, name="MirrorAssign").op
                mirrors[v0].append(v)
                if v in trainable:
                    trainable.remove(v)
        return mirrors

    # -- outputs --

    def _combined_outputs(self):
        combined = []
        for i, first in enumerate(self._replica_outputs[0]):
            per_replica = [outs[i] for outs in self._replica_outputs]
            if first.shape.ndims == 0:
                combined.append(_weighted_sum(per_replica, self.weights, "output"))
            else:
                combined.append(api.concat(per_replica, 0, name="output"))
        if self._single_output:
            return combined[0] if combined else None
        return combined

    # -- training --

    def minimize(self, optimizer, global_step=None, var_list=None, name: str | None = None) -> Operation:
        """One training step on the whole batch: gradients per replica, all-reduced, one apply.

        `var_list` defaults to the trainable variables (replica 0's, and any
        trainable variable made outside model_fn that the model reads).
        Returns the op that applies the update on every replica.
        """
        graph = get_default_graph()
        if var_list is None:
            var_list = graph.get_collection(GraphKeys.TRAINABLE_VARIABLES)
        var_list = list(var_list)
        pairs = []
        mirrored, shared = [], []
        per_replica = []
        for rank, (dev, loss, weight) in enumerate(zip(self.devices, self.losses, self.weights)):
            replica_vars = [self.mirrors[v][rank] if v in self.mirrors else v for v in var_list]
            with device(dev), name_scope(f"{self.name}/replica_{rank}/"):
                # weighted at the loss, a scalar, rather than every gradient (a pass over all of them)
                weighted = loss if len(self.devices) == 1 else loss * api.cast(weight, loss.dtype)
                gvs = optimizer.compute_gradients(weighted, var_list=replica_vars)
                scaled = [None if g is None else _dense(g) for g, _ in gvs]
            per_replica.append(scaled)
        for j, v in enumerate(var_list):
            if per_replica[0][j] is None:
                continue
            (mirrored if v in self.mirrors else shared).append(j)
        for j in shared:
            with colocate_with(var_list[j].op):
                pairs.append((api.add_n([g[j] for g in per_replica]), var_list[j]))
        reduced = self._all_reduce(per_replica, var_list, mirrored)
        pairs.extend(reduced)
        if not pairs:
            raise ValueError(f"DataParallel.minimize: no gradients for any of {[v.name for v in var_list]}")
        first = graph.version
        train_op = optimizer.apply_gradients(pairs, global_step=global_step, name=name)
        _own_gradients_first(graph.get_operations()[first:], reduced)
        return train_op

    def _all_reduce(self, per_replica, var_list, mirrored: list[int]) -> list:
        """One fused all-reduce per dtype: flatten, concatenate, reduce, split back."""
        pairs = []
        by_dtype: dict = {}
        for j in mirrored:
            by_dtype.setdefault(var_list[j].dtype.base_dtype, []).append(j)
        for dtype, js in by_dtype.items():
            sizes = [var_list[j].shape.num_elements() for j in js]
            flats = []
            for rank, dev in enumerate(self.devices):
                with device(dev), name_scope(f"{self.name}/replica_{rank}/pack_{dtype.name}"):
                    parts = [api.reshape(per_replica[rank][j], [-1]) for j in js]
                    flats.append(parts[0] if len(parts) == 1 else api.concat(parts, 0))
            reduced = all_reduce(flats, name=f"{self.name}/all_reduce_{dtype.name}")
            for rank, dev in enumerate(self.devices):
                with device(dev), name_scope(f"{self.name}/replica_{rank}/unpack_{dtype.name}"):
                    pieces = [reduced[rank]] if len(js) == 1 else api.split(reduced[rank], sizes)
                    for j, piece in zip(js, pieces):
                        v = self.mirrors[var_list[j]][rank]
                        pairs.append((api.reshape(piece, v.shape.as_list()), v))
        return pairs


def _own_gradients_first(update_ops: list[Operation], reduced: list) -> None:
    """Lets each replica's updates wait for its own all-reduced gradients only.

    An optimizer's updates wait for every gradient of the step (so no gradient
    reads a variable already updated). A replica's reduced gradients come out
    of the all-reduce, which took every replica's gradients in: once they exist,
    every gradient computation of every replica has run, and none of them reads
    this replica's mirrors but this replica's own. So the other replicas'
    reduced gradients are dropped from its updates' control inputs: each would
    cost a token sent between the devices, a round trip on the step's critical
    path (BENCHMARKS.md, "Data parallelism: two replicas").
    """
    owner = {g.op: _device_of(v.op) for g, v in reduced}  # reduced gradient op -> its mirror's device
    for op in update_ops:
        here = _device_of(op)
        if here and any(owner.get(c, here) != here for c in op._control_inputs):
            op._control_inputs = [c for c in op._control_inputs if owner.get(c, here) == here]


def _device_of(op: Operation) -> str:
    """The device op asked for, or that of the op it was made colocated with (an update, its variable's)."""
    if op.device:
        return op.device
    for name in op.colocation_groups:
        target = op.graph.get_operation_by_name(name)
        if target.device:
            return target.device
    return ""


def replicate(
    model_fn: Callable, inputs, devices: int | Sequence[str] = 2, name: str = "data_parallel"
) -> DataParallel:
    """`DataParallel(model_fn, inputs, devices)`: model_fn replicated over `devices`."""
    return DataParallel(model_fn, inputs, devices, name)


# -- helpers --------------------------------------------------------------------


def _replica_scope(rank: int):
    from raygraph.variable_scope import variable_scope

    return contextlib.nullcontext() if rank == 0 else variable_scope(f"replica_{rank}")


def _split(inputs: list[Tensor], devices: list[str], name: str):
    """Rows [r*b//n, (r+1)*b//n) of every input for replica r, and r's share of the batch.

    Each replica slices its rows on its own device: a fed batch goes to every
    device straight from the driver (shared memory on the driver's node), and
    no device waits for another to forward its shard. A batch size known when
    the graph is built gives shards of known shape.
    """
    n = len(devices)
    static = inputs[0].shape.dims[0] if inputs[0].shape.ndims else None
    shards, weights = [], []
    for r, dev in enumerate(devices):
        with device(dev), name_scope(f"{name}/split/replica_{r}"):
            if static is not None:
                begin, end, total = r * static // n, (r + 1) * static // n, static
                weights.append(api.constant((end - begin) / max(total, 1), dtypes.float32, name="weight"))
            else:
                batch = api.shape(inputs[0], out_type=dtypes.int32)[0]
                begin = api.floordiv(batch * r, n) if r else 0
                end = api.floordiv(batch * (r + 1), n) if r + 1 < n else batch
                rows = api.cast(end - begin, dtypes.float32)
                weights.append(api.divide(rows, api.cast(batch, dtypes.float32), name="weight"))
            shards.append([x[begin:end] for x in inputs])
    return shards, weights


class _ShardFeeds:
    """Feeds each replica only its rows, when the batch is fed (Session.run calls it with the feeds).

    The shards are slices of the fed inputs made on each replica's device; when
    the inputs are fed, the driver feeds every shard (and replica weight) itself,
    as the same rows of the fed arrays and the same float32 quotient, so each
    device receives its share of the batch instead of all of it (half the bytes
    the driver writes for two replicas, and replica 1 starts sooner:
    BENCHMARKS.md, "Data parallelism: two replicas"). Inputs computed in the graph (a dataset)
    are sliced on the devices as before.
    """

    def __init__(self, inputs: list[Tensor], shards: list[list[Tensor]], weights: list[Tensor]):
        self.inputs, self.shards = inputs, shards
        self.weights = [w if w.op.type != "Const" else None for w in weights]

    def __call__(self, feeds: dict) -> None:
        if not all(x in feeds for x in self.inputs) or any(s in feeds for s in self.shards[0]):
            return
        values = [feeds[x] for x in self.inputs]
        batch = len(values[0]) if getattr(values[0], "ndim", 0) else 0
        n = len(self.shards)
        if not batch:
            return
        for r, (shard, weight) in enumerate(zip(self.shards, self.weights)):
            begin, end = r * batch // n, (r + 1) * batch // n
            for x, value in zip(shard, values):
                feeds[x] = value[begin:end]
            if weight is not None:
                feeds[weight] = np.asarray(np.float32(end - begin) / np.float32(batch))


def _unpack(result, rank: int):
    if isinstance(result, (list, tuple)) and len(result) == 2:
        loss, outs = result
        single = not isinstance(outs, (list, tuple))
        outs = [outs] if single else list(outs)
    else:
        loss, outs, single = result, [], True
    loss = convert_to_tensor(loss)
    if loss.shape.ndims not in (0, None):
        raise ValueError(
            f"DataParallel: model_fn must return a scalar mean loss, got shape {loss.shape} (replica {rank})"
        )
    return loss, [convert_to_tensor(o) for o in outs], single


def _weighted_sum(values: list[Tensor], weights: list[Tensor], name: str) -> Tensor:
    terms = [api.multiply(v, api.cast(w, v.dtype)) for v, w in zip(values, weights)]
    return terms[0] if len(terms) == 1 else api.add_n(terms, name=name)


def _dense(g):
    return g if isinstance(g, Tensor) else convert_to_tensor(g)
