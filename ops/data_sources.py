"""tf.data's sources at run time: the stages that make elements (ops.data_pipeline).

    tensors      from_tensors: one element
    slices       from_tensor_slices and from_arrow: rows of arrays (with `take` for batch)
    range        Dataset.range
    generator    from_generator: the user's generator, called on the device
    tfrecord     TFRecordDataset (raygraph.tfrecord: CRCs checked, DataLossError)
    textline     TextLineDataset
    list_files   Dataset.list_files (raygraph.gfile.glob)
    parquet      raygraph.data.ParquetDataset: record batches, file by file (pyarrow.parquet)
    ray          Dataset.from_ray: a Ray Data dataset's batches (iter_batches on the device)

Importing this module registers them (ops.data imports it).
"""

from __future__ import annotations

import numpy as np

from ops.data_pipeline import Source, component, flatten_up_to, kind, read_only, rng, scalar
from raygraph import dtypes, errors

# -- sources ---------------------------------------------------------------------------


@kind("tensors")
class Tensors(Source):
    def __iter__(self):
        yield tuple(component(v) for v in self.values)


class _SliceIterator:
    """Rows of a set of arrays; `take(n)` cuts up to n rows at once (the batch fast path)."""

    def __init__(self, arrays: list, n: int):
        self.arrays, self.n, self.i = arrays, n, 0

    def __iter__(self):
        return self

    def __next__(self):
        i = self.i
        if i >= self.n:
            raise StopIteration
        self.i = i + 1
        return tuple(component(a[i]) for a in self.arrays)

    def take(self, n: int):
        i = self.i
        if i >= self.n:
            return None
        j = self.i = min(self.n, i + n)
        return [read_only(a[i:j]) for a in self.arrays]


@kind("slices")
class Slices(Source):
    def __init__(self, stage, values, env):
        super().__init__(stage, values, env)
        self.arrays = [np.asarray(v) if not isinstance(v, np.ndarray) else v for v in self.values]
        if "arrow" in self.args:  # from_arrow: the table's columns, converted once
            self.arrays = _arrow_columns(self.args["arrow"], self.args["columns"])
        sizes = {int(a.shape[0]) for a in self.arrays}
        if len(sizes) > 1:
            raise self.fail(
                errors.InvalidArgumentError,
                f"all components must have the same size in their first dimension, got {sorted(sizes)}",
            )
        self.n = sizes.pop() if sizes else 0

    def __iter__(self):
        return _SliceIterator(self.arrays, self.n)


@kind("range")
class Range(Source):
    def __iter__(self):
        start, stop, step = (scalar(v) for v in self.values)
        if step == 0:
            raise self.fail(errors.InvalidArgumentError, "step must be a non-zero integer")
        dtype = dtypes.as_dtype(self.args["output_type"]).np
        for i in range(start, stop, step):
            yield (dtype.type(i),)


@kind("generator")
class Generator(Source):
    """Calls the user's generator on the device; its values are checked against the specs."""

    def __iter__(self):
        specs = self.args["specs"]  # (numpy dtype, shape as a list with None) per component
        gen_args = [v.item() if getattr(v, "ndim", 1) == 0 and v.dtype == object else v for v in self.values]
        try:
            iterator = iter(self.args["generator"](*gen_args))
        except Exception as e:  # noqa: BLE001 - the user's error, reported as TF would
            raise self._user_error(e) from e
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except Exception as e:  # noqa: BLE001
                raise self._user_error(e) from e
            try:
                leaves = flatten_up_to(self.args["skeleton"], item)
            except (TypeError, ValueError, KeyError) as e:
                raise self.fail(
                    errors.InvalidArgumentError,
                    f"the generator yielded {item!r}, which does not match output_types: {e}",
                ) from None
            yield self._convert(leaves, specs)

    def _convert(self, leaves: list, specs: list) -> tuple:
        if len(leaves) != len(specs):
            raise self.fail(
                errors.InvalidArgumentError,
                f"the generator yielded an element with {len(leaves)} components; output_types has {len(specs)}",
            )
        out = []
        for k, (value, (dtype, shape)) in enumerate(zip(leaves, specs)):
            is_string = np.dtype(dtype).kind == "O"
            try:
                array = np.array(value, dtype=object) if is_string else np.asarray(value, dtype=dtype)
                if is_string and array.ndim == 0 and isinstance(value, str):
                    array = np.array(value.encode(), dtype=object)
            except (TypeError, ValueError) as e:
                raise self.fail(
                    errors.InvalidArgumentError,
                    f"TypeError: the generator yielded {value!r} for component {k}, which does not "
                    f"convert to {np.dtype(dtype).name}: {e}",
                ) from None
            if shape is not None and (
                len(shape) != array.ndim or any(d is not None and d != a for d, a in zip(shape, array.shape))
            ):
                raise self.fail(
                    errors.InvalidArgumentError,
                    f"`generator` yielded an element of shape {list(array.shape)} where an element of "
                    f"shape {shape} was expected (component {k}).",
                )
            out.append(component(array[()] if array.ndim == 0 and not is_string else array))
        return tuple(out)

    def _user_error(self, e: Exception):
        import traceback

        text = "".join(traceback.format_exception_only(type(e), e)).strip()
        cls = errors.InvalidArgumentError if isinstance(e, ValueError | TypeError) else errors.UnknownError
        return self.fail(cls, f"the generator raised {text}")


def _filenames(value) -> list[str]:
    names = np.asarray(value, dtype=object).reshape(-1)
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


@kind("tfrecord")
class TFRecord(Source):
    def __iter__(self):
        from raygraph import tfrecord

        files, compression = _filenames(self.values[0]), self.values[1]
        compression = compression.item() if isinstance(compression, np.ndarray) else compression
        if isinstance(compression, bytes):
            compression = compression.decode()
        options = tfrecord.TFRecordOptions(compression or "")
        for path in files:
            for record in tfrecord.tf_record_iterator(path, options):
                yield (np.array(record, dtype=object),)


@kind("textline")
class TextLine(Source):
    def __iter__(self):
        from raygraph.gfile import GFile

        for path in _filenames(self.values[0]):
            with GFile(path, "rb") as f:
                for line in f:
                    yield (np.array(line.rstrip(b"\n").rstrip(b"\r"), dtype=object),)


@kind("list_files")
class ListFiles(Source):
    def __iter__(self):
        from raygraph import gfile

        names = sorted({name for pattern in _filenames(self.values[0]) for name in gfile.glob(pattern)})
        if not names:
            raise self.fail(
                errors.InvalidArgumentError, f"No files matched pattern: {_filenames(self.values[0])}"
            )
        if self.args["shuffle"]:
            rng(self.args["seed"]).shuffle(names)
        for name in names:
            yield (np.array(name.encode(), dtype=object),)


PARQUET_BUFFER = 1 << 20  # bytes read from a Parquet file at a time


@kind("parquet")
class Parquet(Source):
    """Record batches of a Parquet file or directory, only the columns asked for.

    pyarrow.dataset finds the files (and their filesystem); each file is then
    read by pyarrow.parquet, page by page through a 1 MiB buffer, without
    pre-buffering: memory stays at about one record batch whatever the file's
    size. (pyarrow.dataset's own scanner reads row groups ahead of the
    consumer: 0.5 GB of buffers for a 1 GB file, BENCHMARKS.md.)
    """

    def __iter__(self):
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        columns = self.args["columns"]
        dataset = ds.dataset(self.args["path"], format="parquet")
        for name in dataset.files:
            with dataset.filesystem.open_input_file(name) as f:
                reader = pq.ParquetFile(f, pre_buffer=False, buffer_size=PARQUET_BUFFER)
                for batch in reader.iter_batches(batch_size=self.args["batch_size"], columns=columns):
                    if batch.num_rows:
                        yield tuple(read_only(a) for a in _arrow_columns(batch, columns))


@kind("ray")
class RayData(Source):
    """Batches of a Ray Data dataset (Dataset.from_ray), executed by this device's process."""

    def __iter__(self):
        columns = self.args["columns"]
        batches = self.args["dataset"].iter_batches(
            batch_size=self.args["batch_size"], batch_format="numpy", prefetch_batches=1
        )
        for batch in batches:
            arrays = [_numpy_column(batch[name]) for name in columns]
            if len(arrays[0]):
                yield tuple(read_only(a) for a in arrays)


def _numpy_column(values: np.ndarray) -> np.ndarray:
    """A Ray batch's column as a tensor's value: strings become bytes, ragged rows an error."""
    if values.dtype.kind == "U":
        return np.array([v.encode() for v in values], dtype=object)
    if values.dtype.kind == "O" and len(values):
        first = values[0]
        if isinstance(first, str | bytes):
            return np.array([v.encode() if isinstance(v, str) else v for v in values], dtype=object)
        if isinstance(first, np.ndarray):
            return np.stack(values)  # rows of one shape (a ragged column raises: named by the op)
    return values


def _arrow_columns(table, columns: list[str]) -> list[np.ndarray]:
    """Columns of an Arrow table or record batch as numpy: lists of equal length become 2-D."""
    import pyarrow as pa

    out = []
    for name in columns:
        column = table.column(name)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if (
            pa.types.is_list(column.type)
            or pa.types.is_fixed_size_list(column.type)
            or pa.types.is_large_list(column.type)
        ):
            flat = column.flatten().to_numpy(zero_copy_only=False)
            rows = len(column)
            out.append(flat.reshape(rows, -1) if rows else flat.reshape(0, 0))
        elif (
            pa.types.is_string(column.type)
            or pa.types.is_binary(column.type)
            or pa.types.is_large_string(column.type)
        ):
            values = column.to_pylist()
            out.append(np.array([v.encode() if isinstance(v, str) else v for v in values], dtype=object))
        else:
            out.append(column.to_numpy(zero_copy_only=False))
    return out
