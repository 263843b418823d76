"""`tf.data.Dataset`, TF1 style: a description of an input pipeline, read by iterators.

A Dataset is plain data: a tree of stages (a source, then transformations;
zip and concatenate join several), each with its static arguments, the graph
tensors it reads (`_tensors`: a placeholder, a constant array, a map
function's captured values) and the sub-graphs it calls (`_functions`).
Nothing runs when it is built. Map, filter, flat_map and interleave trace
their Python function ONCE, as TensorFlow does, into a Function (a FuncGraph
whose placeholders stand for the element's components), which runs on the
device for every element.

Making an iterator (raygraph.data.iterator) turns the tree into
ops.data_pipeline Stages: every tensor the tree reads becomes an input of the
iterator op, every Function an entry of its `functions` attr. On the device
the stages become a pipeline of Python iterators kept in the session's state.

    dataset = (tf.data.Dataset.from_tensor_slices((images, labels))
               .shuffle(1000, seed=1).map(augment).batch(32).prefetch(2))
    images_t, labels_t = dataset.make_one_shot_iterator().get_next()

Element structures follow tf.data (raygraph.data.structure): tuples and dicts
are structure, a list is one tensor. raygraph extensions: `from_arrow`,
`from_ray` and raygraph.data.ParquetDataset (Arrow tables, Ray Data datasets
and Parquet files).
"""

from __future__ import annotations

import os
import sys

import numpy as np

from ops.common import constant_value
from ops.data_pipeline import AUTOTUNE, Stage
from ops.registry import build
from raygraph import dtypes
from raygraph.data import structure as st
from raygraph.data.structure import Spec
from raygraph.func_graph import FuncGraph, Function
from raygraph.graph import Tensor, convert_to_tensor, get_default_graph, name_scope
from raygraph.shapes import TensorShape

_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _where() -> str:
    """file:line of the user's call (the first frame outside raygraph.data)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_HERE):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def _fn_name(fn) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _int64(value, name: str) -> Tensor:
    t = convert_to_tensor(value, dtype=dtypes.int64, name=name) if not isinstance(value, Tensor) else value
    if t.dtype not in (dtypes.int64, dtypes.int32):
        raise TypeError(f"{name} must be an integer scalar, got a {t.dtype.name} tensor")
    if t.shape.ndims not in (None, 0):
        raise ValueError(f"{name} must be a scalar, got shape {t.shape}")
    return t


def _bool(value, name: str) -> Tensor:
    t = convert_to_tensor(value, dtype=dtypes.bool, name=name) if not isinstance(value, Tensor) else value
    if t.dtype != dtypes.bool:
        raise TypeError(f"{name} must be a bool scalar, got a {t.dtype.name} tensor")
    return t


def _static_int(t: Tensor):
    value = constant_value(t)
    return None if value is None else int(np.asarray(value))


def _as_tensors(element, what: str) -> tuple[object, list[Tensor]]:
    leaves = []
    for i, leaf in enumerate(st.flatten(element)):
        if isinstance(leaf, Dataset):
            raise TypeError(f"{what}: a component cannot be a Dataset")
        leaves.append(leaf if isinstance(leaf, Tensor) else convert_to_tensor(leaf, name=f"component_{i}"))
    return element, leaves


class Dataset:
    """A description of an input pipeline whose elements have one structure of tensors.

    >>> ds = tf.data.Dataset.range(10).map(lambda x: x * 2).batch(4)
    >>> ds.output_types, ds.output_shapes
    (tf.int64, TensorShape([Dimension(None)]))
    >>> it = ds.make_one_shot_iterator(); nxt = it.get_next()
    >>> sess.run(nxt)
    array([0, 2, 4, 6])
    """

    def __init__(self, kind, structure, inputs=(), tensors=(), functions=(), args=None, name=""):
        self._kind = kind
        self._structure = structure  # a structure of Specs
        self._inputs = tuple(inputs)
        self._tensors = list(tensors)
        self._functions = list(functions)
        self._args = dict(args or {})
        self._name = name or kind

    # -- what an element looks like --
    @property
    def output_types(self):
        """The dtype of each component, in the element's structure."""
        return st.map_structure(lambda s: s.dtype, self._structure)

    @property
    def output_shapes(self):
        """The static shape of each component, in the element's structure."""
        return st.map_structure(lambda s: s.shape, self._structure)

    @property
    def output_classes(self):
        """The class of each component (tf.Tensor), in the element's structure."""
        return st.map_structure(lambda s: Tensor, self._structure)

    @property
    def _specs(self) -> list[Spec]:
        return st.flatten(self._structure)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name}: types {self.output_types}, shapes {self.output_shapes}>"

    def __iter__(self):
        raise TypeError(
            "A Dataset is iterated in graph mode through an iterator: "
            "`dataset.make_one_shot_iterator().get_next()` and Session.run."
        )

    def _then(self, kind, structure, tensors=(), functions=(), args=None, method=None, inputs=None):
        name = f"Dataset.{method or kind} at {_where()}"
        return Dataset(kind, structure, inputs or (self,), tensors, functions, args, name)

    # -- sources --
    @staticmethod
    def from_tensors(tensors):
        """A dataset of one element, `tensors` (any structure of tensors)."""
        with name_scope(None, "TensorDataset"):
            element, leaves = _as_tensors(tensors, "from_tensors")
        structure = st.pack(element, [Spec(t.dtype, t.shape) for t in leaves])
        return Dataset("tensors", structure, tensors=leaves, name=f"Dataset.from_tensors at {_where()}")

    @staticmethod
    def from_tensor_slices(tensors):
        """A dataset of the slices of `tensors` along their first dimension.

        >>> ds = tf.data.Dataset.from_tensor_slices((features, labels))   # (x[i], y[i])
        """
        with name_scope(None, "TensorSliceDataset"):
            element, leaves = _as_tensors(tensors, "from_tensor_slices")
        sizes = set()
        for t in leaves:
            if t.shape.ndims == 0:
                raise ValueError(f"from_tensor_slices: component {t.name} is a scalar; it has no slices")
            if t.shape.ndims is not None and t.shape.as_list()[0] is not None:
                sizes.add(t.shape.as_list()[0])
        if len(sizes) > 1:
            raise ValueError(
                f"Dimensions {sorted(sizes)} are not compatible: all components of from_tensor_slices "
                "must have the same size in their first dimension"
            )
        specs = [Spec(t.dtype, t.shape[1:] if t.shape.ndims is not None else None) for t in leaves]
        name = f"Dataset.from_tensor_slices at {_where()}"
        return Dataset("slices", st.pack(element, specs), tensors=leaves, name=name)

    @staticmethod
    def range(*args, output_type=dtypes.int64):  # noqa: A003 - TensorFlow's name
        """range(stop), range(start, stop) or range(start, stop, step), as Python's."""
        if not 1 <= len(args) <= 3:
            raise ValueError(f"Dataset.range takes 1 to 3 arguments, got {len(args)}")
        start, stop, step = (0, args[0], 1) if len(args) == 1 else (*args, 1)[:3]
        with name_scope(None, "RangeDataset"):
            tensors = [_int64(v, n) for v, n in ((start, "start"), (stop, "stop"), (step, "step"))]
        return Dataset(
            "range",
            Spec(output_type, []),
            tensors=tensors,
            args={"output_type": dtypes.as_dtype(output_type)},
            name=f"Dataset.range at {_where()}",
        )

    @staticmethod
    def zip(datasets):  # noqa: A003 - TensorFlow's name
        """Elements of several datasets side by side, as `datasets` is nested (a tuple or dict)."""
        flat = st.flatten(datasets)
        if not all(isinstance(d, Dataset) for d in flat):
            raise TypeError(f"Dataset.zip takes a (nested) tuple or dict of Datasets, got {datasets!r}")
        structure = st.pack(datasets, [d._structure for d in flat])
        return Dataset("zip", structure, inputs=flat, name=f"Dataset.zip at {_where()}")

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None, output_signature=None):
        """Elements yielded by `generator(*args)`, of the given types and shapes.

        The generator runs where the iterator lives (the device, a Ray actor for
        `tf.Session()`), so it must be picklable; it is called again for every
        pass over the dataset. An exception it raises fails Session.run, naming
        this stage.
        """
        if not callable(generator):
            raise TypeError("`generator` must be callable.")
        if output_signature is not None:
            output_types = st.map_structure(lambda s: s.dtype, output_signature)
            output_shapes = st.map_structure(lambda s: s.shape, output_signature)
        if output_types is None:
            raise TypeError("from_generator needs output_types (or output_signature)")
        structure = st.from_types_and_shapes(output_types, output_shapes)
        specs = [
            (s.dtype.np, None if s.shape.ndims is None else s.shape.as_list()) for s in st.flatten(structure)
        ]
        with name_scope(None, "FlatMapDataset"):
            tensors = [convert_to_tensor(a, name="generator_arg") for a in (args or ())]
        name = f"Dataset.from_generator({_fn_name(generator)}) at {_where()}"
        stage_args = {"generator": generator, "specs": specs, "skeleton": st.skeleton(output_types)}
        return Dataset("generator", structure, tensors=tensors, args=stage_args, name=name)

    @staticmethod
    def list_files(file_pattern, shuffle=None, seed=None):
        """The file names matching `file_pattern` (a pattern or a list), shuffled by default."""
        from ops.random import get_seed

        with name_scope(None, "ListFiles"):
            pattern = convert_to_tensor(file_pattern, dtype=dtypes.string, name="file_pattern")
        shuffle = True if shuffle is None else bool(shuffle)
        seeds = get_seed(seed)
        return Dataset(
            "list_files",
            Spec(dtypes.string, []),
            tensors=[pattern],
            args={"shuffle": shuffle, "seed": None if seeds[0] is None else seeds},
            name=f"Dataset.list_files at {_where()}",
        )

    @staticmethod
    def from_arrow(table, columns=None):
        """raygraph extension: one element per row of an Arrow table, a dict of its columns.

        >>> ds = tf.data.Dataset.from_arrow(pa.table({"x": xs, "y": ys})).batch(32)

        The table travels with the plan to the device (as from_tensor_slices's
        arrays would); numeric columns give scalars, lists of one length give
        vectors, strings give tf.string. Batching slices whole columns at once.
        """
        columns = list(columns or table.column_names)
        structure = {name: _arrow_spec(table.schema.field(name), row=True) for name in columns}
        args = {"arrow": table.select(columns), "columns": sorted(columns)}
        return Dataset("slices", structure, args=args, name=f"Dataset.from_arrow at {_where()}")

    @staticmethod
    def from_ray(ray_dataset, columns=None, batch_size=1024):
        """raygraph extension: the batches of a Ray Data dataset, read by the consuming device.

        >>> rds = ray.data.read_parquet("s3://bucket/train/").map_batches(normalize)
        >>> ds = tf.data.Dataset.from_ray(rds, columns=["image", "label"], batch_size=64)
        >>> batch = ds.prefetch(2).make_one_shot_iterator().get_next()   # {"image": [?, ...], "label": [?]}

        Each element is a dict of the columns asked for, each a batch of up to
        `batch_size` rows (as tf.data.ParquetDataset's; `.unbatch()` gives
        rows). The Ray dataset (its plan, not its data) travels with the graph
        to the device, which runs it with `iter_batches`: Ray's tasks make the
        blocks, and the device's process reads them from its node's object
        store; the driver never holds them. Each pass over the dataset
        (`repeat`, a re-initialized iterator) executes it again. Only the
        columns asked for are selected, before the device runs it. Tensor
        columns of one shape per row give [batch, *shape] tensors; strings give
        tf.string. The schema is read here, which may run the dataset's first
        block.
        """
        schema = ray_dataset.schema()
        if schema is None:
            raise ValueError("Dataset.from_ray: the Ray dataset has no schema (is it empty?)")
        names = list(schema.names)
        columns = list(columns or names)
        missing = [c for c in columns if c not in names]
        if missing:
            raise ValueError(f"Dataset.from_ray: no column {missing} in the Ray dataset (it has {names})")
        arrow = schema.base_schema if hasattr(schema, "base_schema") else schema
        structure = {name: _ray_spec(arrow, name) for name in columns}
        if set(columns) != set(names):
            ray_dataset = ray_dataset.select_columns(columns)
        args = {"dataset": ray_dataset, "columns": sorted(columns), "batch_size": int(batch_size)}
        return Dataset("ray", structure, args=args, name=f"Dataset.from_ray at {_where()}")

    # -- transformations --
    def map(self, map_func, num_parallel_calls=None, deterministic=None):  # noqa: A003
        """Applies `map_func` to each element; it is traced once into a graph function.

        A tuple element is passed as separate arguments, anything else as one.
        With num_parallel_calls > 1 (or tf.data.experimental.AUTOTUNE) several
        elements are mapped at once on a thread pool; the order is kept.
        """
        fn, outputs, captures = _trace(self, map_func, "map")
        structure = st.pack(outputs, [Spec(t.dtype, t.shape) for t in fn.outputs])
        args = {"num_parallel_calls": _parallelism(num_parallel_calls)}
        return self._then("map", structure, captures, [fn], args, method=f"map({_fn_name(map_func)})")

    def filter(self, predicate):  # noqa: A003
        """The elements for which `predicate` (traced once) returns a scalar tf.bool True."""
        fn, outputs, captures = _trace(self, predicate, "filter")
        out = fn.outputs
        if len(out) != 1 or out[0].dtype != dtypes.bool or out[0].shape.ndims not in (None, 0):
            raise ValueError(
                "`predicate` return type must be convertible to a scalar boolean tensor; it returned "
                f"{[(t.dtype.name, str(t.shape)) for t in out]}"
            )
        return self._then("filter", self._structure, captures, [fn], method=f"filter({_fn_name(predicate)})")

    def flat_map(self, map_func):
        """The elements of the datasets `map_func` returns for each element, one after the other."""
        return self._nested("flat_map", map_func, {})

    def interleave(
        self, map_func, cycle_length=AUTOTUNE, block_length=1, num_parallel_calls=None, deterministic=None
    ):
        """Like flat_map, cycling over `cycle_length` inner datasets, `block_length` elements each."""
        cycle_length = AUTOTUNE if cycle_length is None else int(cycle_length)
        return self._nested(
            "interleave", map_func, {"cycle_length": cycle_length, "block_length": int(block_length or 1)}
        )

    def _nested(self, kind, map_func, args):
        fn, inner, captures = _trace(self, map_func, kind, returns_dataset=True)
        args = dict(args, inner=(inner, fn.outputs_of))
        return self._then(
            kind, inner._structure, captures, [fn], args, method=f"{kind}({_fn_name(map_func)})"
        )

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None):
        """Consecutive elements stacked into batches of `batch_size` (the last may be smaller).

        With drop_remainder=True a last, smaller batch is dropped and the batch
        dimension is static.
        """
        with name_scope(None, "BatchDataset"):
            size = _int64(batch_size, "batch_size")
            drop = _bool(drop_remainder, "drop_remainder")
        dim = _static_int(size) if constant_value(drop) is not None and bool(constant_value(drop)) else None
        structure = st.map_structure(
            lambda s: Spec(s.dtype, TensorShape([dim]).concatenate(s.shape)), self._structure
        )
        return self._then("batch", structure, [size, drop])

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None, drop_remainder=False):
        """Batches of elements padded to `padded_shapes` (None or -1: the longest in the batch)."""
        specs = self._specs
        if padded_shapes is None:
            shapes = [s.shape for s in specs]
        else:
            shapes = [_padded_shape(p) for p in st.flatten(_shapes_along(self._structure, padded_shapes))]
        if padding_values is None:
            pads = [b"" if s.dtype == dtypes.string else 0 for s in specs]
        else:
            pads = st.flatten(_shapes_along(self._structure, padding_values))
        with name_scope(None, "PaddedBatchDataset"):
            size = _int64(batch_size, "batch_size")
            drop = _bool(drop_remainder, "drop_remainder")
            pad_tensors = [
                p
                if isinstance(p, Tensor)
                else convert_to_tensor(np.asarray(p, dtype=s.dtype.np), name="padding")
                for p, s in zip(pads, specs)
            ]
        static = [None if sh.ndims is None else sh.as_list() for sh in shapes]
        for spec, shape in zip(specs, shapes):
            if shape.ndims is None or (spec.shape.ndims is not None and spec.shape.ndims != shape.ndims):
                raise ValueError(f"padded_shapes {shape} does not match the component's shape {spec.shape}")
        dim = _static_int(size) if constant_value(drop) is not None and bool(constant_value(drop)) else None
        out = [Spec(s.dtype, TensorShape([dim]).concatenate(sh)) for s, sh in zip(specs, shapes)]
        args = {"padded_shapes": [[d if d is not None else -1 for d in sh] for sh in static]}
        return self._then(
            "padded_batch", st.pack(self._structure, out), [size, drop, *pad_tensors], args=args
        )

    def unbatch(self):
        """The rows of each element: the inverse of batch."""
        for s in self._specs:
            if s.shape.ndims == 0:
                raise ValueError("Cannot unbatch an input with scalar components.")
        structure = st.map_structure(
            lambda s: Spec(s.dtype, s.shape[1:] if s.shape.ndims else None), self._structure
        )
        return self._then("unbatch", structure)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=None):
        """Elements drawn at random from a buffer of `buffer_size` (TF's algorithm).

        A seed (or a graph seed, tf.set_random_seed) makes the order the same in
        every session; reshuffle_each_iteration (default True) gives each pass
        of a repeat a new order.
        """
        from ops.random import get_seed

        with name_scope(None, "ShuffleDataset"):
            size = _int64(buffer_size, "buffer_size")
        seeds = get_seed(seed)
        args = {
            "seed": None if seeds[0] is None else seeds,
            "reshuffle": True if reshuffle_each_iteration is None else bool(reshuffle_each_iteration),
        }
        return self._then("shuffle", self._structure, [size], args=args)

    def repeat(self, count=None):
        """The dataset `count` times over (forever when count is None or -1)."""
        with name_scope(None, "RepeatDataset"):
            count = _int64(-1 if count is None else count, "count")
        return self._then("repeat", self._structure, [count])

    def take(self, count):
        """At most the first `count` elements (all for -1)."""
        with name_scope(None, "TakeDataset"):
            count = _int64(count, "count")
        return self._then("take", self._structure, [count])

    def skip(self, count):
        """All but the first `count` elements (none for -1)."""
        with name_scope(None, "SkipDataset"):
            count = _int64(count, "count")
        return self._then("skip", self._structure, [count])

    def shard(self, num_shards, index):
        """Every `num_shards`-th element, starting at `index`."""
        with name_scope(None, "ShardDataset"):
            tensors = [_int64(num_shards, "num_shards"), _int64(index, "index")]
        return self._then("shard", self._structure, tensors)

    def prefetch(self, buffer_size):
        """Elements made ahead, by a thread on the device, into a buffer of `buffer_size`."""
        with name_scope(None, "PrefetchDataset"):
            size = _int64(buffer_size, "buffer_size")
        return self._then("prefetch", self._structure, [size])

    def cache(self, filename=""):
        """Keeps the elements of the first complete pass in memory; later passes read them."""
        if filename:
            raise NotImplementedError(
                "Dataset.cache(filename) (a cache on disk) is not supported by raygraph; cache() "
                "keeps the elements in the device's memory"
            )
        return self._then("cache", self._structure)

    def concatenate(self, dataset):
        """This dataset's elements, then `dataset`'s (the same structure and dtypes)."""
        if not st.same_structure(self._structure, dataset._structure) or [s.dtype for s in self._specs] != [
            s.dtype for s in dataset._specs
        ]:
            raise TypeError(
                f"Two datasets to concatenate have different types {self.output_types} and {dataset.output_types}"
            )
        merged = [Spec(a.dtype, _merged(a.shape, b.shape)) for a, b in zip(self._specs, dataset._specs)]
        structure = st.pack(self._structure, merged)
        return self._then("concatenate", structure, inputs=(self, dataset))

    def enumerate(self, start=0):  # noqa: A003
        """(index, element) pairs, the index an int64 counting from `start`."""
        counter = Dataset.range(start, np.iinfo(np.int64).max)
        return Dataset.zip((counter, self))

    def apply(self, transformation_func):
        """`transformation_func(self)`, which must return a Dataset (tf.data.experimental's)."""
        out = transformation_func(self)
        if not isinstance(out, Dataset):
            raise TypeError("`transformation_func` must return a Dataset.")
        return out

    def with_options(self, options):
        """Accepted for compatibility: raygraph applies no optional rewrites."""
        return self

    # -- iterators --
    def make_one_shot_iterator(self):
        """An iterator over this dataset that needs no initialization (made on first get_next)."""
        from raygraph.data.iterator import one_shot

        return one_shot(self)

    def make_initializable_iterator(self, shared_name=None):
        """An iterator to be started by running `iterator.initializer` (feeding any placeholders)."""
        from raygraph.data.iterator import initializable

        return initializable(self, shared_name)

    # -- as plain data --
    def _describe(self):
        """(Stage tree, tensors it reads, Functions it calls): what an iterator op takes."""
        tensors: list[Tensor] = []
        functions: list[Function] = []
        stage = _describe(self, {}, tensors, functions, grow=True)
        return stage, tensors, functions


def _merged(a: TensorShape, b: TensorShape) -> TensorShape:
    if a.ndims is None or b.ndims is None or a.ndims != b.ndims:
        return TensorShape(None)
    return TensorShape([x if x == y else None for x, y in zip(a.as_list(), b.as_list())])


def _describe(ds: Dataset, index: dict, tensors: list, functions: list, grow: bool) -> Stage:
    def position(t: Tensor) -> int:
        if t not in index:
            if not grow:
                raise AssertionError(f"tensor {t.name} of an inner dataset is not an output of its function")
            index[t] = len(tensors)
            tensors.append(t)
        return index[t]

    own = tuple(position(t) for t in ds._tensors)
    fns = []
    for fn in ds._functions:
        fns.append(len(functions))
        functions.append(fn)
    inputs = tuple(_describe(d, index, tensors, functions, grow) for d in ds._inputs)
    args = dict(ds._args)
    if "inner" in args:
        inner, inner_tensors = args.pop("inner")
        inner_index = {t: i for i, t in enumerate(inner_tensors)}
        args["inner"] = _describe(inner, inner_index, list(inner_tensors), functions, grow=False)
    return Stage(ds._kind, args, own, tuple(fns), inputs, ds._name)


def _parallelism(n) -> int:
    if n is None:
        return 1
    if isinstance(n, Tensor):
        value = constant_value(n)
        if value is None:
            return AUTOTUNE
        n = value
    return int(n)


class _TracedFunction(Function):
    """A dataset function; `outputs_of` lists the outer tensors its outputs stand for (flat_map)."""

    outputs_of: list = ()


def _trace(ds: Dataset, fn, what: str, returns_dataset: bool = False):
    """Traces `fn` once on placeholders for `ds`'s element: (Function, structure, captured tensors).

    For flat_map and interleave (`returns_dataset`), the structure is the Dataset
    `fn` returns, and the Function's outputs are the tensors that dataset reads.
    """
    if not callable(fn):
        raise TypeError(f"{what}: the function must be callable, got {fn!r}")
    outer = get_default_graph()
    graph = FuncGraph(outer, outer.unique_name(f"Dataset_{what}"))
    with graph.as_default():
        with graph._at_top():
            placeholders = [
                build("Placeholder", [], {"dtype": s.dtype, "shape": s.shape}, name=f"arg{i}")
                for i, s in enumerate(ds._specs)
            ]
        element = st.pack(ds._structure, placeholders)
        result = fn(*element) if type(element) is tuple else fn(element)
        if returns_dataset:
            if not isinstance(result, Dataset):
                raise TypeError(
                    f"`map_func` of {what} must return a Dataset object, got {type(result).__name__}"
                )
            _, inner_tensors, _ = result._describe()
            outputs = [_own(graph, t) for t in inner_tensors]
            structure = result
        else:
            if isinstance(result, list):
                result = tuple(result)  # TensorFlow reads a returned list as a tuple
            if result is None:
                raise ValueError(f"the {what} function must return a value")
            leaves = []
            for leaf in st.flatten(result):
                try:
                    t = leaf if isinstance(leaf, Tensor) else convert_to_tensor(leaf)
                except (TypeError, ValueError) as e:
                    raise TypeError(
                        f"the {what} function returned {leaf!r}, which is not a tensor: {e}"
                    ) from None
                leaves.append(_own(graph, t))
            outputs, structure = leaves, st.pack(result, leaves)
    captured_outer, captured_inner = graph.captured_inputs()
    function = _TracedFunction(graph, placeholders + captured_inner, outputs)
    if returns_dataset:
        function.outputs_of = inner_tensors
    return function, structure, captured_outer


def _own(graph: FuncGraph, t: Tensor) -> Tensor:
    return t if t.graph is graph else graph._capture(t)


def _shapes_along(structure, values):
    """`values` (padded_shapes or padding_values) as nested as the element's structure."""
    if not st.is_structure(structure):
        return values
    if isinstance(structure, dict):
        return {k: _shapes_along(structure[k], values[k]) for k in structure}
    if not isinstance(values, tuple | list) or len(values) != len(structure):
        raise ValueError(f"{values!r} does not match the element structure")
    return tuple(_shapes_along(s, v) for s, v in zip(structure, values))


def _padded_shape(value) -> TensorShape:
    if isinstance(value, Tensor):
        known = constant_value(value)
        if known is None:
            raise ValueError("padded_shapes must be known when the graph is built in raygraph")
        value = known
    if isinstance(value, TensorShape):
        return value
    dims = [None if d is None or int(d) < 0 else int(d) for d in np.asarray(value, dtype=object).reshape(-1)]
    return TensorShape(dims)


def _arrow_spec(field, row: bool) -> Spec:
    """The Spec of an Arrow column's values: a row's (from_arrow) or a record batch's (Parquet)."""
    import pyarrow as pa

    t = field.type
    lead = [] if row else [None]
    if pa.types.is_fixed_size_list(t):
        return Spec(_arrow_dtype(t.value_type, field.name), [*lead, t.list_size])
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return Spec(_arrow_dtype(t.value_type, field.name), [*lead, None])
    return Spec(_arrow_dtype(t, field.name), lead)


def _ray_spec(schema, name: str) -> Spec:
    """The Spec of a Ray dataset's column in a batch: Arrow types, or Ray's tensor extension types."""
    import pyarrow as pa

    if not isinstance(schema, pa.Schema):  # pandas blocks: numpy dtypes
        dtype = dtypes.as_dtype(np.dtype(schema.types[schema.names.index(name)]))
        return Spec(dtype, [None])
    t = schema.field(name).type
    if isinstance(t, pa.ExtensionType) and hasattr(t, "value_type"):  # Ray's tensor types
        shape = getattr(t, "shape", None)
        if shape is None or any(d is None for d in shape):
            raise TypeError(
                f"Dataset.from_ray: column {name!r} holds tensors of varying shapes ({t}); "
                "raygraph batches tensors of one shape"
            )
        return Spec(_arrow_dtype(t.value_type, name), [None, *shape])
    return _arrow_spec(schema.field(name), row=False)


def _arrow_dtype(t, name: str):
    import pyarrow as pa

    if pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_string(t):
        return dtypes.string
    if pa.types.is_boolean(t):
        return dtypes.bool
    try:
        return dtypes.as_dtype(np.dtype(t.to_pandas_dtype()))
    except (TypeError, NotImplementedError, ValueError):
        raise TypeError(
            f"column {name!r} has Arrow type {t}, which raygraph cannot read into a tensor"
        ) from None


def parquet_dataset(path, columns=None, batch_size=1024) -> Dataset:
    """See raygraph.data.ParquetDataset."""
    import pyarrow.dataset as pds

    schema = pds.dataset(path, format="parquet").schema
    columns = list(columns or schema.names)
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise ValueError(f"ParquetDataset: no column {missing} in {path} (it has {schema.names})")
    structure = {name: _arrow_spec(schema.field(name), row=False) for name in columns}
    args = {"path": os.fspath(path), "columns": sorted(columns), "batch_size": int(batch_size)}
    return Dataset("parquet", structure, args=args, name=f"ParquetDataset({os.fspath(path)!r}) at {_where()}")
