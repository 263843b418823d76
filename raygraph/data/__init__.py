"""`tf.data` (and `tf.compat.v1.data`): input pipelines that run on the devices.

    dataset = tf.data.TFRecordDataset(files).map(parse).shuffle(1000).batch(32).prefetch(2)
    iterator = dataset.make_one_shot_iterator()       # or tf.data.make_one_shot_iterator(dataset)
    features, labels = iterator.get_next()            # graph tensors, read in Session.run

The design is in raygraph.data.dataset (datasets as plain data, functions
traced once), raygraph.data.iterator (iterators as ops) and ops.data_pipeline
(the pipeline a device keeps per iterator, with its prefetch threads).

raygraph extensions, for Ray users' data: `Dataset.from_arrow(table)` (one
element per row), `ParquetDataset(path, columns, batch_size)` (record
batches streamed from a Parquet file or directory, only the columns asked for)
and `Dataset.from_ray(ray_dataset, columns, batch_size)` (a Ray Data dataset's
batches, the dataset run by the consuming device).
"""

from __future__ import annotations

import ops as _ops

_ops.load_all()  # `tf.data` may be the first name looked up on raygraph

from ops.data_pipeline import AUTOTUNE  # noqa: E402
from raygraph import dtypes as _dtypes  # noqa: E402
from raygraph.data import experimental  # noqa: E402
from raygraph.data.dataset import Dataset, parquet_dataset  # noqa: E402
from raygraph.data.iterator import (  # noqa: E402
    Iterator,
    get_output_classes,
    get_output_shapes,
    get_output_types,
    make_initializable_iterator,
    make_one_shot_iterator,
)
from raygraph.data.structure import Spec as _Spec  # noqa: E402
from raygraph.graph import convert_to_tensor as _convert_to_tensor  # noqa: E402
from raygraph.graph import name_scope as _name_scope  # noqa: E402

DatasetV1 = Dataset

__all__ = [
    "AUTOTUNE",
    "Dataset",
    "DatasetV1",
    "Iterator",
    "Options",
    "ParquetDataset",
    "TFRecordDataset",
    "TextLineDataset",
    "experimental",
    "get_output_classes",
    "get_output_shapes",
    "get_output_types",
    "make_initializable_iterator",
    "make_one_shot_iterator",
]


def _filenames(filenames):
    with _name_scope(None, "filenames"):
        t = _convert_to_tensor(filenames, dtype=_dtypes.string, name="filenames")
    if t.shape.ndims not in (None, 0, 1):
        raise ValueError(f"filenames must be a scalar or a vector of strings, got shape {t.shape}")
    return t


class TFRecordDataset(Dataset):
    """The records of TFRecord files, one scalar tf.string per record.

    >>> ds = tf.data.TFRecordDataset(["a.tfrecord", "b.tfrecord"]).map(parse_fn)

    `compression_type` is "", "ZLIB" or "GZIP" (a tensor may give it);
    buffer_size and num_parallel_reads are accepted (files are read in order).
    A corrupt record raises DataLossError naming the file and offset.
    """

    def __init__(
        self, filenames, compression_type=None, buffer_size=None, num_parallel_reads=None, name=None
    ):
        from raygraph.data.dataset import _where

        files = _filenames(filenames)
        compression = _convert_to_tensor(
            compression_type or "", dtype=_dtypes.string, name="compression_type"
        )
        super().__init__(
            "tfrecord",
            _Spec(_dtypes.string, []),
            tensors=[files, compression],
            name=f"TFRecordDataset at {_where()}",
        )


class TextLineDataset(Dataset):
    """The lines of text files (without their line ending), one scalar tf.string per line."""

    def __init__(
        self, filenames, compression_type=None, buffer_size=None, num_parallel_reads=None, name=None
    ):
        from raygraph.data.dataset import _where

        if compression_type:
            raise NotImplementedError("TextLineDataset: compressed text files are not supported by raygraph")
        super().__init__(
            "textline",
            _Spec(_dtypes.string, []),
            tensors=[_filenames(filenames)],
            name=f"TextLineDataset at {_where()}",
        )


def ParquetDataset(path, columns=None, batch_size=1024) -> Dataset:  # noqa: N802 - a dataset class's name
    """raygraph extension: a Parquet file (or directory) streamed record batch by record batch.

    >>> ds = tf.data.ParquetDataset("digits.parquet", columns=["image", "label"], batch_size=64)
    >>> batch = ds.prefetch(2).make_one_shot_iterator().get_next()   # {"image": [?, 64], "label": [?]}

    Each element is a dict of the columns asked for, each a batch of up to
    `batch_size` rows (a file's or row group's last one may be smaller); list
    columns of one length are 2-D. The device reads the files one after
    another with pyarrow.parquet, one record batch at a time and only the
    needed columns, so a file larger than memory streams (a 2 GB file: the
    device actor peaks under 250 MB, bench.parquet_stream). The schema is read
    here, when the dataset is made, for static dtypes.
    """
    return parquet_dataset(path, columns, batch_size)


class Options:
    """Accepted for compatibility (`dataset.with_options(options)`); raygraph ignores them."""

    def __init__(self):
        self.experimental_deterministic = True
        self.experimental_optimization = None
        self.experimental_threading = None
