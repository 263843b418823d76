"""tf.data at run time: a dataset's description turned into a Python iterator pipeline.

A dataset reaches a device as plain data, a tree of `Stage`s (built on the
driver by raygraph.data): each stage names its kind ("slices", "map", "batch",
...), its static arguments, the indices of the values it reads among the
iterator op's inputs (`tensors`) and of the sub-graphs it calls among the op's
functions (`functions`, FunctionPlans run with `ctx.function`), and its
upstream stages (`inputs`; zip and concatenate have several). flat_map and
interleave hold the stage tree of the dataset their function returns
(`args["inner"]`): its tensor indices point into that function's outputs,
computed per element.

    pipeline = Pipeline(stage, values, runners, name)   # made by MakeIterator
    pipeline.get_next()      # a tuple of flat components; OutOfRangeError at the end
    pipeline.close()         # stops prefetch threads

The transformations are here; the sources (from_tensor_slices, TFRecordDataset,
ParquetDataset, ...) in ops.data_sources, each registered with `@kind(name)`.
`build(stage, values, env)` gives a `Source`: an iterable whose every
`iter()` starts the stage over (repeat re-iterates its input). Elements are
tuples of numpy values, one per flat component of the element structure.

State: a Pipeline owns its Source, the iterator being read, and (in `Env`)
the stop functions of the prefetch threads running for it. Invariants: every
prefetch thread is a daemon that checks its stop event at least every 0.1 s
while blocked, so `close()` never waits on a full or empty buffer; an
exception inside a producer thread travels through the buffer and is raised
by the consumer, unchanged.

Fast path: a batch over slices of arrays (from_tensor_slices, from_arrow,
possibly repeated) cuts each batch as one slice per component (`take`)
instead of stacking single rows.
"""

from __future__ import annotations

import collections
import itertools
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from raygraph import errors

AUTOTUNE = -1
_POLL_S = 0.1  # how often a blocked producer or consumer looks at its stop event


@dataclass(eq=False)
class Stage:
    """One dataset transformation as plain data; see the module docstring."""

    kind: str
    args: dict = field(default_factory=dict)
    tensors: tuple[int, ...] = ()
    functions: tuple[int, ...] = ()
    inputs: tuple[Stage, ...] = ()
    name: str = ""  # what the user wrote: "Dataset.map(parse)", for error messages

    def __repr__(self) -> str:
        return f"<Stage {self.name or self.kind}>"


class Env:
    """What every stage of one pipeline shares: the function runners and the prefetch stops."""

    def __init__(self, runners: list):
        self.runners = runners
        self.stops: set = set()
        self.lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        self.closed = True
        with self.lock:
            stops, self.stops = list(self.stops), set()
        for stop in stops:
            stop()


class Pipeline:
    """An iterator's state on a device: the dataset being read, element by element."""

    def __init__(self, stage: Stage, values: list, runners: list, name: str):
        self.name = name
        self.env = Env(runners)
        self.source = build(stage, values, self.env)
        self.iterator = None
        self.ended = False

    def get_next(self) -> tuple:
        if self.ended:
            raise _end()
        if self.iterator is None:
            self.iterator = iter(self.source)
        try:
            return next(self.iterator)
        except StopIteration:
            self.ended = True
            raise _end() from None

    def close(self) -> None:
        self.env.close()
        iterator, self.iterator = self.iterator, None
        if hasattr(iterator, "close"):
            try:
                iterator.close()
            except Exception:  # noqa: BLE001,S110 - a generator closing half-way; nothing to report
                pass


def _end() -> errors.OutOfRangeError:
    return errors.OutOfRangeError(None, None, "End of sequence")


def flatten_up_to(skeleton, value) -> list:
    """`value`'s components along `skeleton`: None is one component (even a list), a tuple
    or dict of skeletons takes a sequence or mapping of the same length or keys."""
    if skeleton is None:
        return [value]
    if isinstance(skeleton, dict):
        if not isinstance(value, dict) or sorted(value) != sorted(skeleton):
            raise ValueError(f"expected a dict with keys {sorted(skeleton)}")
        return [c for key in sorted(skeleton) for c in flatten_up_to(skeleton[key], value[key])]
    if not isinstance(value, list | tuple) or len(value) != len(skeleton):
        raise ValueError(f"expected a sequence of {len(skeleton)} values")
    return [c for sk, v in zip(skeleton, value) for c in flatten_up_to(sk, v)]


# -- building ------------------------------------------------------------------------

_KINDS: dict[str, type] = {}


def kind(name: str):
    """Registers a Source class as the run-time form of stages of kind `name`."""

    def register(cls):
        _KINDS[name] = cls
        return cls

    return register


def build(stage: Stage, values: list, env: Env):
    """The Source of `stage`, with `values` the tensors its indices point into."""
    try:
        cls = _KINDS[stage.kind]
    except KeyError:
        raise errors.UnimplementedError(None, None, f"unknown dataset stage {stage.kind!r}") from None
    return cls(stage, values, env)


class Source:
    """A stage made runnable: `iter(source)` starts it from the beginning."""

    def __init__(self, stage: Stage, values: list, env: Env):
        self.stage = stage
        self.args = stage.args
        self.values = [values[i] for i in stage.tensors]
        self.env = env
        self.inputs = [build(s, values, env) for s in stage.inputs]

    @property
    def input(self):
        return self.inputs[0]

    def runner(self, k: int = 0):
        """The stage's k-th function; its errors name the stage (a map's, a filter's)."""
        run = self.env.runners[self.stage.functions[k]]

        def call(args):
            try:
                return run(args)
            except errors.OpError as e:
                raise type(e)(None, None, f"{self.stage.name or self.stage.kind}: {e.message}") from e

        return call

    def fail(self, error_class, message: str):
        return error_class(None, None, f"{self.stage.name or self.stage.kind}: {message}")


def scalar(value) -> int:
    return int(np.asarray(value).reshape(()))


def read_only(array):
    if isinstance(array, np.ndarray) and array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


def component(value):
    """One component as a stage hands it on: numpy, strings as 0-d object arrays."""
    if isinstance(value, bytes | str):
        return np.array(value, dtype=object)
    return read_only(value) if isinstance(value, np.ndarray) else value


# -- transformations ---------------------------------------------------------------------


@kind("map")
class Map(Source):
    def __iter__(self):
        run, captures = self.runner(), self.values
        parallel = self.args.get("num_parallel_calls") or 1
        parallel = (os.cpu_count() or 1) if parallel == AUTOTUNE else int(parallel)
        if parallel <= 1:
            for element in self.input:
                yield tuple(run([*element, *captures]))
            return
        pool = ThreadPoolExecutor(parallel, thread_name_prefix="raygraph-data-map")
        pending: collections.deque = collections.deque()
        try:
            for element in self.input:
                pending.append(pool.submit(run, [*element, *captures]))
                if len(pending) >= 2 * parallel:
                    yield tuple(pending.popleft().result())
            while pending:
                yield tuple(pending.popleft().result())
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


@kind("filter")
class Filter(Source):
    def __iter__(self):
        run, captures = self.runner(), self.values
        for element in self.input:
            if bool(np.asarray(run([*element, *captures])[0])):
                yield element


def _inner(source: Source, element) -> Source:
    """The dataset flat_map's or interleave's function returns for `element`."""
    values = source.runner()([*element, *source.values])
    return build(source.args["inner"], values, source.env)


@kind("flat_map")
class FlatMap(Source):
    def __iter__(self):
        for element in self.input:
            yield from _inner(self, element)


@kind("interleave")
class Interleave(Source):
    """Up to cycle_length inner datasets open at once, block_length elements from each in turn."""

    def __iter__(self):
        cycle = self.args["cycle_length"]
        cycle = (os.cpu_count() or 1) if cycle == AUTOTUNE else max(1, int(cycle))
        block = max(1, int(self.args["block_length"]))
        outer = iter(self.input)
        open_: list = []
        exhausted = False
        while True:
            while not exhausted and len(open_) < cycle:
                element = next(outer, None)
                if element is None:
                    exhausted = True
                else:
                    open_.append(iter(_inner(self, element)))
            if not open_:
                return
            k = 0
            while k < len(open_):
                it, done = open_[k], False
                for _ in range(block):
                    value = next(it, None)
                    if value is None:
                        done = True
                        break
                    yield value
                if done:  # its slot goes to the next input element, in place
                    element = None if exhausted else next(outer, None)
                    if element is None:
                        exhausted = True
                        open_.pop(k)
                        continue
                    open_[k] = iter(_inner(self, element))
                k += 1


def _stack(rows: list, where: Source) -> tuple:
    out = []
    for k, column in enumerate(zip(*rows)):
        first = np.shape(column[0])
        for i, value in enumerate(column):
            if np.shape(value) != first:
                raise where.fail(
                    errors.InvalidArgumentError,
                    f"Cannot batch tensors with different shapes in component {k}. First element had "
                    f"shape {list(first)} and element {i} had shape {list(np.shape(value))}.",
                )
        dtype = object if isinstance(column[0], np.ndarray) and column[0].dtype == object else None
        out.append(np.array(column, dtype=dtype) if dtype else np.stack([np.asarray(v) for v in column]))
    return tuple(out)


@kind("batch")
class Batch(Source):
    def __iter__(self):
        size, drop = scalar(self.values[0]), bool(np.asarray(self.values[1]))
        if size <= 0:
            raise self.fail(errors.InvalidArgumentError, f"Batch size must be greater than zero, got {size}")
        it = iter(self.input)
        if hasattr(it, "take"):
            yield from self._cut(it, size, drop)
            return
        while True:
            rows = list(itertools.islice(it, size))
            if not rows or (drop and len(rows) < size):
                return
            yield _stack(rows, self)

    def _cut(self, it, size: int, drop: bool):
        while True:
            pieces, n = [], 0
            while n < size:
                piece = it.take(size - n)
                if piece is None:
                    break
                pieces.append(piece)
                n += len(piece[0]) if piece else 0
            if n == 0 or (drop and n < size):
                return
            if len(pieces) == 1:
                yield tuple(pieces[0])
            else:
                yield tuple(np.concatenate(parts) for parts in zip(*pieces))


@kind("padded_batch")
class PaddedBatch(Source):
    def __iter__(self):
        size, drop = scalar(self.values[0]), bool(np.asarray(self.values[1]))
        shapes, pads = self.args["padded_shapes"], self.values[2:]
        it = iter(self.input)
        while True:
            rows = list(itertools.islice(it, size))
            if not rows or (drop and len(rows) < size):
                return
            yield tuple(self._pad(k, column, shapes[k], pads[k]) for k, column in enumerate(zip(*rows)))

    def _pad(self, k: int, column, shape, pad) -> np.ndarray:
        arrays = [np.asarray(v) for v in column]
        ndim = arrays[0].ndim
        if any(a.ndim != ndim for a in arrays) or len(shape) != ndim:
            raise self.fail(
                errors.InvalidArgumentError,
                f"component {k}: padded_shapes {shape} has rank {len(shape)}, elements have rank "
                f"{sorted({a.ndim for a in arrays})}",
            )
        target = []
        for d, want in enumerate(shape):
            longest = max(a.shape[d] for a in arrays)
            if want is None or want < 0:
                target.append(longest)
            elif longest > want:
                raise self.fail(
                    errors.InvalidArgumentError,
                    f"Attempted to pad to a smaller size than the input element: component {k} has "
                    f"size {longest} in dimension {d}, padded_shapes asks for {want}.",
                )
            else:
                target.append(want)
        dtype = arrays[0].dtype
        out = np.full([len(arrays), *target], np.asarray(pad).reshape(()).item(), dtype=dtype)
        for i, a in enumerate(arrays):
            out[(i, *(slice(0, n) for n in a.shape))] = a
        return out


@kind("unbatch")
class Unbatch(Source):
    def __iter__(self):
        for element in self.input:
            n = {np.shape(c)[0] for c in element}
            if len(n) != 1:
                raise self.fail(
                    errors.InvalidArgumentError, f"components of different batch sizes {sorted(n)}"
                )
            for i in range(n.pop()):
                yield tuple(component(c[i]) for c in element)


def rng(seed) -> np.random.Generator:
    return np.random.default_rng(None if seed is None else [int(s) for s in seed])


@kind("shuffle")
class Shuffle(Source):
    """TensorFlow's shuffle buffer: fill it, then emit a random slot and refill that slot.

    One generator per pipeline: with `reshuffle_each_iteration` each pass (a
    repeat's epoch) draws on, so epochs differ; without, every pass restarts
    from the seed. A seeded shuffle gives the same order in every session.
    """

    def __init__(self, stage, values, env):
        super().__init__(stage, values, env)
        self.gen = rng(self.args["seed"])

    def __iter__(self):
        size = scalar(self.values[0])
        if size <= 0:
            raise self.fail(errors.InvalidArgumentError, f"buffer_size must be greater than zero, got {size}")
        gen = self.gen if self.args["reshuffle"] else rng(self.args["seed"])
        it = iter(self.input)
        buffer = list(itertools.islice(it, size))
        for element in it:
            i = int(gen.integers(len(buffer)))
            yield buffer[i]
            buffer[i] = element
        while buffer:
            i = int(gen.integers(len(buffer)))
            buffer[i], buffer[-1] = buffer[-1], buffer[i]
            yield buffer.pop()


class _RepeatIterator:
    """The input's elements, `count` times over (forever for -1); `take` when the input has it."""

    def __init__(self, source: Source, count: int):
        self.source, self.count, self.epoch = source, count, 0
        self.it = iter(source)
        self.fresh = True  # nothing read yet in this epoch
        if hasattr(self.it, "take"):
            self.take = self._take

    def _next_epoch(self) -> bool:
        self.epoch += 1
        if (self.count >= 0 and self.epoch >= self.count) or self.fresh:
            return False  # done, or an empty epoch (repeating it would never end)
        self.it, self.fresh = iter(self.source), True
        return True

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            try:
                value = next(self.it)
                self.fresh = False
                return value
            except StopIteration:
                if not self._next_epoch():
                    raise

    def _take(self, n: int):
        while True:
            piece = self.it.take(n)
            if piece is not None:
                self.fresh = False
                return piece
            if not self._next_epoch():
                return None


@kind("repeat")
class Repeat(Source):
    def __iter__(self):
        count = scalar(self.values[0])
        if count == 0:
            return iter(())
        return _RepeatIterator(self.input, count)


@kind("take")
class Take(Source):
    def __iter__(self):
        count = scalar(self.values[0])
        it = iter(self.input)
        return it if count < 0 else itertools.islice(it, count)


@kind("skip")
class Skip(Source):
    def __iter__(self):
        count = scalar(self.values[0])
        it = iter(self.input)
        if count < 0:
            return iter(())
        return itertools.islice(it, count, None)


@kind("shard")
class Shard(Source):
    def __iter__(self):
        shards, index = (scalar(v) for v in self.values)
        if shards <= 0 or not 0 <= index < shards:
            raise self.fail(errors.InvalidArgumentError, f"invalid shard {index} of {shards}")
        return itertools.islice(iter(self.input), index, None, shards)


@kind("zip")
class Zip(Source):
    def __iter__(self):
        for parts in zip(*self.inputs):
            yield tuple(c for part in parts for c in part)


@kind("concatenate")
class Concatenate(Source):
    def __iter__(self):
        return itertools.chain(*self.inputs)


@kind("cache")
class Cache(Source):
    """In memory: the first complete pass fills the cache; later passes read it."""

    def __init__(self, stage, values, env):
        super().__init__(stage, values, env)
        self.cached: list | None = None

    def __iter__(self):
        if self.cached is not None:
            yield from self.cached
            return
        filling = []
        for element in self.input:
            filling.append(element)
            yield element
        self.cached = filling


@kind("prefetch")
class Prefetch(Source):
    def __iter__(self):
        size = scalar(self.values[0])
        size = 2 if size == AUTOTUNE or size <= 0 else size
        return _PrefetchIterator(self.input, size, self.env, self.stage.name)


class _PrefetchIterator:
    """A daemon thread filling a bounded buffer from the input; see the module docstring."""

    def __init__(self, source, size: int, env: Env, name: str):
        self.buffer: queue.Queue = queue.Queue(maxsize=size)
        self.stopped = threading.Event()
        self.env = env
        self.done = False
        with env.lock:
            if env.closed:
                raise errors.CancelledError(None, None, "the session was closed")
            env.stops.add(self.stop)
        self.thread = threading.Thread(
            target=self._fill, args=(source,), name=f"raygraph-prefetch {name}", daemon=True
        )
        self.thread.start()

    def _fill(self, source) -> None:
        with np.errstate(all="ignore"):
            try:
                for element in source:
                    if not self._put(("value", element)):
                        return
                self._put(("end", None))
            except BaseException as e:  # noqa: BLE001 - handed to the consumer, which raises it
                self._put(("error", e))

    def _put(self, item) -> bool:
        while not self.stopped.is_set():
            try:
                self.buffer.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        return self

    def __next__(self):
        if self.done:
            raise StopIteration
        while True:
            try:
                kind, value = self.buffer.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if self.stopped.is_set():
                    raise errors.CancelledError(None, None, "the session was closed") from None
        if kind == "value":
            return value
        self.done = True
        self._forget()
        if kind == "error":
            raise value
        raise StopIteration

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2 * _POLL_S)

    def _forget(self) -> None:
        with self.env.lock:
            self.env.stops.discard(self.stop)

    def close(self) -> None:
        self._forget()
        self.stop()
