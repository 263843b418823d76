"""Iterator ops: tf.data's iterators as stateful ops on a device.

An iterator's state, a Python iterator pipeline (ops.data_pipeline.Pipeline),
lives in the session's state on the device that runs these ops
(`SessionState.resources`), keyed by the iterator's name, the string its
handle carries. The dataset itself is an attr: a tree of plain-data Stages,
with the tensors it reads as the op's inputs and the sub-graphs it calls
(map and filter functions) as a list of Functions, which reach the kernel as
FunctionPlans.

    IteratorV2() -> handle                         tf.data.Iterator.from_structure, the handle
    MakeIterator(handle, inputs*)                  iterator.initializer: a new pipeline
    OneShotIterator(inputs*) -> handle             make_one_shot_iterator: made on first use
    IteratorGetNext(handle) -> components          get_next(); OutOfRangeError at the end

A handle is a scalar string, the iterator's name (TensorFlow's is an opaque
resource handle): `Iterator.from_string_handle` feeds it back to
IteratorGetNext. Re-running an initializer closes the old pipeline (its
prefetch threads) and starts over; closing the session closes every
pipeline of the session on the device.
"""

from __future__ import annotations

import numpy as np

import ops.data_sources  # noqa: F401 - registers the sources' stage kinds
from ops.data_pipeline import Pipeline
from ops.registry import REQUIRED, Op
from raygraph import dtypes, errors
from raygraph.shapes import TensorShape, as_shape


def _name(handle) -> str:
    value = handle.item() if isinstance(handle, np.ndarray) else handle
    return value.decode() if isinstance(value, bytes) else str(value)


def _handle(name: str) -> np.ndarray:
    return np.array(name.encode(), dtype=object)


def _make(ctx, name: str, dataset, functions, inputs) -> Pipeline:
    """A new pipeline; its functions run on host arrays, as its stages do, whatever the device."""
    host = ctx if ctx.xp is np else type(ctx)(ctx.node_name, np, ctx.state)
    runners = [host.function(plan) for plan in functions]
    values = [np.asarray(v) if not isinstance(v, np.ndarray) else v for v in inputs]
    if ctx.xp is not np:  # a GPU device: the pipeline runs on host arrays
        values = [ctx.xp.asnumpy(v) if not isinstance(v, np.ndarray) else v for v in values]
    return Pipeline(dataset, values, runners, name)


class IteratorV2(Op):
    """The handle of an iterator to be initialized (tf.data.Iterator.from_structure)."""

    attrs = {"shared_name": "", "container": "", "output_types": REQUIRED, "output_shapes": REQUIRED}
    stateful = True
    differentiable = False
    cost = "free"

    def infer(shared_name, container, output_types, output_shapes):
        return dtypes.string, TensorShape([])

    def kernel(ctx, shared_name, container, output_types, output_shapes):
        return _handle(shared_name or ctx.node_name)


class MakeIterator(Op):
    """Starts the iterator `handle` over a dataset (iterator.initializer, make_initializer)."""

    inputs = ("iterator", "input*")
    attrs = {"dataset": REQUIRED, "functions": ()}
    stateful = True
    differentiable = False
    cost = "free"

    def infer(iterator, input, dataset, functions):  # noqa: A002
        return []

    def kernel(ctx, iterator, input, dataset, functions):  # noqa: A002
        name = _name(iterator)
        pipeline = _make(ctx, name, dataset, functions, input)
        with ctx.state.lock:
            old = ctx.state.resources.get(name)
            ctx.state.resources[name] = pipeline
        if old is not None:
            old.close()


class OneShotIterator(Op):
    """An iterator over a fixed dataset, started on first use (make_one_shot_iterator)."""

    inputs = ("input*",)
    attrs = {
        "dataset": REQUIRED,
        "functions": (),
        "shared_name": "",
        "output_types": REQUIRED,
        "output_shapes": REQUIRED,
    }
    stateful = True
    differentiable = False
    cost = "free"

    def infer(input, dataset, functions, shared_name, output_types, output_shapes):  # noqa: A002
        return dtypes.string, TensorShape([])

    def kernel(ctx, input, dataset, functions, shared_name, output_types, output_shapes):  # noqa: A002
        name = shared_name or ctx.node_name
        if name not in ctx.state.resources:
            pipeline = _make(ctx, name, dataset, functions, input)
            with ctx.state.lock:
                ctx.state.resources.setdefault(name, pipeline)
        return _handle(name)


class IteratorGetNext(Op):
    """The next element of an iterator; OutOfRangeError once the dataset is exhausted."""

    inputs = ("iterator",)
    attrs = {"output_types": REQUIRED, "output_shapes": REQUIRED}
    stateful = True
    multi_output = True
    differentiable = False
    heavy = False  # it starts the step: nothing to overlap it with

    def infer(iterator, output_types, output_shapes):
        if iterator.dtype != dtypes.string:
            raise TypeError(f"iterator must be an iterator handle (a string), got {iterator.dtype.name}")
        return [(dtypes.as_dtype(t), as_shape(s)) for t, s in zip(output_types, output_shapes)]

    def kernel(ctx, iterator, output_types, output_shapes):
        name = _name(iterator)
        pipeline = ctx.state.resources.get(name)
        if pipeline is None:
            raise errors.FailedPreconditionError(
                None,
                None,
                f"GetNext() failed because the iterator '{name}' has not been initialized. Ensure "
                "that you have run the initializer operation for this iterator before getting the "
                "next element.",
            )
        element = pipeline.get_next()
        xp = ctx.xp
        out = []
        for value, dtype in zip(element, output_types):
            np_dtype = dtypes.as_dtype(dtype).np
            if np_dtype.kind == "O":
                out.append(value if isinstance(value, np.ndarray) else np.array(value, dtype=object))
            else:
                array = np.asarray(value)
                if array.dtype != np_dtype:
                    array = array.astype(np_dtype)
                out.append(xp.asarray(array) if xp is not np else array)
        return out
