"""`tf.feature_column`: TensorFlow 1.x feature columns over a dict of dense tensors.

    age = tf.feature_column.numeric_column("age")
    city = tf.feature_column.categorical_column_with_vocabulary_list("city", ["paris", "rome"])
    net = tf.feature_column.input_layer(features, [
        tf.feature_column.bucketized_column(age, [18, 30, 65]),
        tf.feature_column.embedding_column(city, dimension=8),
    ])   # [batch, 4 + 8]; variable input_layer/city_embedding/embedding_weights

A column is an immutable value (a frozen dataclass) that says how to turn one
entry of `features` into a tensor; columns compare equal by value and are named
as TensorFlow names them ("age_bucketized", "city_indicator", "city_embedding").

Design. TensorFlow turns each categorical input into a SparseTensor of ids. Here
the inputs are dense tensors, so the ids stay dense: a [batch, n] int64 tensor in
which -1 marks "no id" (an input that TensorFlow would drop from the sparse tensor:
-1 in an integer feature, "" in a string one, and out-of-vocabulary values when
`default_value` is -1). An indicator is then `one_hot(ids)` summed over the n ids
(one_hot of -1 is all zeros), and an embedding looks up the valid ids and combines
them per row, which is what `safe_embedding_lookup_sparse` computes (rows without
a valid id give zeros).

`input_layer` follows TensorFlow's: a variable scope "input_layer", columns sorted
by name, each in its own variable scope named after the column, each output reshaped
to [batch, num_elements] and all concatenated on axis 1.

Not supported: SparseTensor features, shared embeddings, crossed/weighted columns,
`linear_model`, embedding `max_norm` and checkpoint loading, and categorical inputs
of rank above 2.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from ops import api
from raygraph import dtypes
from raygraph import initializers as init_ops
from raygraph.graph import GraphKeys, control_dependencies, convert_to_tensor
from raygraph.variable_scope import get_variable, variable_scope

__all__ = [
    "bucketized_column",
    "categorical_column_with_hash_bucket",
    "categorical_column_with_identity",
    "categorical_column_with_vocabulary_list",
    "embedding_column",
    "indicator_column",
    "input_layer",
    "make_parse_example_spec",
    "numeric_column",
]


# -- the columns ------------------------------------------------------------------------------------


class _DenseColumn:
    """A column `input_layer` accepts: it gives a float32 [batch, ...] tensor."""

    @property
    def _var_scope_name(self) -> str:
        return self.name


class _CategoricalColumn:
    """A column of integer ids in [0, num_buckets); wrap it in an indicator or embedding column."""


class _FromKey:
    """A column read straight from the feature `key`: its name is the key."""

    @property
    def name(self) -> str:
        return self.key


@dataclasses.dataclass(frozen=True)
class _NumericColumn(_FromKey, _DenseColumn):
    key: str
    shape: tuple
    default_value: tuple | None
    dtype: dtypes.DType
    normalizer_fn: Callable | None

    @property
    def _num_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def _parse_example_spec(self) -> dict:
        from raygraph.io import FixedLenFeature

        return {self.key: FixedLenFeature(self.shape, self.dtype, self.default_value)}

    def _transform(self, features: dict):
        tensor = _dense_input(features, self.key)
        if self.normalizer_fn is not None:
            tensor = self.normalizer_fn(tensor)
        return api.cast(tensor, dtypes.float32)

    def _dense(self, features, weight_collections, trainable):
        return self._transform(features)


@dataclasses.dataclass(frozen=True)
class _BucketizedColumn(_DenseColumn, _CategoricalColumn):
    source_column: _NumericColumn
    boundaries: tuple

    @property
    def name(self) -> str:
        return f"{self.source_column.name}_bucketized"

    @property
    def _num_elements(self) -> int:
        return self.source_column._num_elements * (len(self.boundaries) + 1)

    @property
    def num_buckets(self) -> int:
        return self._num_elements

    @property
    def _parse_example_spec(self) -> dict:
        return self.source_column._parse_example_spec

    def _buckets(self, features):
        """Each value's bucket: the number of boundaries <= the value (TensorFlow's Bucketize)."""
        source = _dense_input(features, self.source_column.key)
        if self.source_column.normalizer_fn is not None:
            source = self.source_column.normalizer_fn(source)
        compute = dtypes.float64 if source.dtype == dtypes.float64 else dtypes.float32
        source = api.cast(source, compute)
        boundaries = api.constant(list(self.boundaries), dtype=compute)
        above = api.cast(api.greater_equal(api.expand_dims(source, -1), boundaries), dtypes.int64)
        return api.reduce_sum(above, axis=-1)

    def _dense(self, features, weight_collections, trainable):
        return api.one_hot(self._buckets(features), len(self.boundaries) + 1, 1.0, 0.0)

    def _ids(self, features):
        """Bucket b of the source's i-th value is id b + i * (len(boundaries) + 1), one row per example."""
        buckets = self._buckets(features)
        per_value = len(self.boundaries) + 1
        n = self.source_column._num_elements
        offsets = api.constant([i * per_value for i in range(n)], dtype=dtypes.int64)
        flat = api.reshape(buckets, [-1, n])
        return flat + offsets


@dataclasses.dataclass(frozen=True)
class _IdentityCategoricalColumn(_FromKey, _CategoricalColumn):
    key: str
    number_buckets: int
    default_value: int | None

    @property
    def num_buckets(self) -> int:
        return self.number_buckets

    @property
    def _parse_example_spec(self) -> dict:
        from raygraph.io import VarLenFeature

        return {self.key: VarLenFeature(dtypes.int64)}

    def _ids(self, features):
        values = _categorical_input(features, self.key)
        if not values.dtype.is_integer:
            raise ValueError(f"Invalid input, not integer. key: {self.key} dtype: {values.dtype.name}")
        values = api.cast(values, dtypes.int64)
        missing = api.equal(values, -1)
        if self.default_value is None:
            checked = api.where(missing, api.zeros_like(values), values)
            checks = [
                api.assert_less(
                    checked,
                    api.constant(self.num_buckets, dtypes.int64),
                    message="Bucket index for categorical column >= num_buckets.",
                ),
                api.assert_non_negative(checked, message="Negative bucket index for categorical column."),
            ]
            with control_dependencies(checks):
                ids = api.identity(values)
        else:
            in_range = api.logical_and(api.greater_equal(values, 0), api.less(values, self.num_buckets))
            ids = api.where(in_range, values, _full_like(values, self.default_value))
        return api.where(missing, _full_like(values, -1), ids)


@dataclasses.dataclass(frozen=True)
class _VocabularyListCategoricalColumn(_FromKey, _CategoricalColumn):
    key: str
    vocabulary_list: tuple
    dtype: dtypes.DType
    default_value: int
    num_oov_buckets: int

    @property
    def num_buckets(self) -> int:
        return len(self.vocabulary_list) + self.num_oov_buckets

    @property
    def _parse_example_spec(self) -> dict:
        from raygraph.io import VarLenFeature

        return {self.key: VarLenFeature(self.dtype)}

    def _ids(self, features):
        values = _categorical_input(features, self.key)
        _check_same_kind(self.key, self.dtype, values.dtype)
        if self.dtype.is_integer:
            values = api.cast(values, dtypes.int64)
            vocab = api.constant(list(self.vocabulary_list), dtype=dtypes.int64)
        else:
            vocab = api.constant(list(self.vocabulary_list), dtype=dtypes.string)
        matches = api.equal(api.expand_dims(values, -1), vocab)
        found = api.reduce_any(matches, axis=-1)
        index = api.argmax(api.cast(matches, dtypes.int32), axis=-1, output_type=dtypes.int64)
        if self.num_oov_buckets:
            as_text = values if values.dtype == dtypes.string else api.as_string(values)
            oov = api.string_to_hash_bucket_fast(as_text, self.num_oov_buckets) + len(self.vocabulary_list)
        else:
            oov = _full_like(index, self.default_value)
        ids = api.where(found, index, oov)
        return api.where(_missing(values), _full_like(index, -1), ids)


@dataclasses.dataclass(frozen=True)
class _HashedCategoricalColumn(_FromKey, _CategoricalColumn):
    key: str
    hash_bucket_size: int
    dtype: dtypes.DType

    @property
    def num_buckets(self) -> int:
        return self.hash_bucket_size

    @property
    def _parse_example_spec(self) -> dict:
        from raygraph.io import VarLenFeature

        return {self.key: VarLenFeature(self.dtype)}

    def _ids(self, features):
        values = _categorical_input(features, self.key)
        _check_same_kind(self.key, self.dtype, values.dtype)
        as_text = values if values.dtype == dtypes.string else api.as_string(values)
        ids = api.string_to_hash_bucket_fast(as_text, self.hash_bucket_size)
        return api.where(_missing(values), _full_like(ids, -1), ids)


@dataclasses.dataclass(frozen=True)
class _IndicatorColumn(_DenseColumn):
    categorical_column: _CategoricalColumn

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_indicator"

    @property
    def _num_elements(self) -> int:
        return self.categorical_column.num_buckets

    @property
    def _parse_example_spec(self) -> dict:
        return self.categorical_column._parse_example_spec

    def _dense(self, features, weight_collections, trainable):
        ids = self.categorical_column._ids(features)
        one_hot = api.one_hot(ids, self.categorical_column.num_buckets, 1.0, 0.0)
        return api.reduce_sum(one_hot, axis=-2)


@dataclasses.dataclass(frozen=True)
class _EmbeddingColumn(_DenseColumn):
    categorical_column: _CategoricalColumn
    dimension: int
    combiner: str
    initializer: Callable
    trainable: bool

    @property
    def name(self) -> str:
        return f"{self.categorical_column.name}_embedding"

    @property
    def _num_elements(self) -> int:
        return self.dimension

    @property
    def _parse_example_spec(self) -> dict:
        return self.categorical_column._parse_example_spec

    def _dense(self, features, weight_collections, trainable):
        weights = get_variable(
            "embedding_weights",
            shape=[self.categorical_column.num_buckets, self.dimension],
            dtype=dtypes.float32,
            initializer=self.initializer,
            trainable=self.trainable and trainable,
            collections=weight_collections,
        )
        ids = self.categorical_column._ids(features)
        valid = api.greater_equal(ids, 0)
        vectors = api.gather(weights, api.where(valid, ids, api.zeros_like(ids)))  # [batch, n, dimension]
        mask = api.cast(api.expand_dims(valid, -1), dtypes.float32)
        total = api.reduce_sum(vectors * mask, axis=1)
        if self.combiner == "sum":
            return total
        count = api.reduce_sum(mask, axis=1)  # [batch, 1]
        if self.combiner == "sqrtn":
            count = api.sqrt(count)
        return api.div_no_nan(total, count)


# -- constructors -----------------------------------------------------------------------------------


def numeric_column(key, shape=(1,), default_value=None, dtype=dtypes.float32, normalizer_fn=None):
    """A column of numbers: the feature `key`, of `shape` per example, as float32.

    >>> price = tf.feature_column.numeric_column("price", normalizer_fn=lambda x: x / 100.0)
    """
    _check_key(key)
    shape = tuple(int(d) for d in ((shape,) if isinstance(shape, int) else shape))
    if any(d < 1 for d in shape):
        raise ValueError(f"shape dimensions must be greater than 0. shape: {shape}, key: {key}")
    dtype = dtypes.as_dtype(dtype)
    if not (dtype.is_integer or dtype.is_floating):
        raise ValueError(f"dtype must be convertible to float. dtype: {dtype.name}, key: {key}")
    if default_value is not None:
        flat = (
            [default_value] * math.prod(shape)
            if isinstance(default_value, (int, float))
            else _flatten(default_value)
        )
        if len(flat) != math.prod(shape):
            raise ValueError(
                f"The shape of default_value must be equal to given shape. default_value: {default_value}, shape: {shape}, key: {key}"
            )
        default_value = tuple(flat)
    if normalizer_fn is not None and not callable(normalizer_fn):
        raise TypeError(f"normalizer_fn must be a callable. Given: {normalizer_fn}")
    return _NumericColumn(key, shape, default_value, dtype, normalizer_fn)


def bucketized_column(source_column, boundaries):
    """A numeric column cut into buckets at `boundaries` (sorted): one-hot in `input_layer`.

    >>> age = tf.feature_column.bucketized_column(tf.feature_column.numeric_column("age"), [18, 65])
    """
    if not isinstance(source_column, _NumericColumn):
        raise ValueError(
            f"source_column must be a column generated with numeric_column(). Given: {source_column}"
        )
    if len(source_column.shape) > 1:
        raise ValueError(f"source_column must be one-dimensional column. Given: {source_column}")
    boundaries = tuple(float(b) for b in boundaries) if boundaries is not None else None
    if not boundaries or any(a >= b for a, b in zip(boundaries, boundaries[1:])):
        raise ValueError("boundaries must be a sorted list.")
    return _BucketizedColumn(source_column, boundaries)


def categorical_column_with_identity(key, num_buckets, default_value=None):
    """Integer ids used as they are, in [0, num_buckets); others become `default_value`
    (or fail at run time when it is None). -1 means "no id".

    >>> day = tf.feature_column.categorical_column_with_identity("weekday", num_buckets=7)
    """
    _check_key(key)
    if num_buckets < 1:
        raise ValueError(f"num_buckets {num_buckets} < 1, column_name {key}")
    if default_value is not None and not 0 <= default_value < num_buckets:
        raise ValueError(f"default_value {default_value} not in range [0, {num_buckets}), column_name {key}")
    return _IdentityCategoricalColumn(key, int(num_buckets), default_value)


def categorical_column_with_vocabulary_list(
    key, vocabulary_list, dtype=None, default_value=-1, num_oov_buckets=0
):
    """Ids by position in `vocabulary_list` (strings or integers); other values get
    `default_value` or, with `num_oov_buckets`, a hashed id after the vocabulary.

    >>> color = tf.feature_column.categorical_column_with_vocabulary_list("color", ["R", "G", "B"])
    """
    _check_key(key)
    vocabulary_list = tuple(v.decode() if isinstance(v, bytes) else v for v in vocabulary_list or ())
    if not vocabulary_list:
        raise ValueError(f"vocabulary_list {vocabulary_list} must be non-empty, column_name: {key}")
    if len(set(vocabulary_list)) != len(vocabulary_list):
        raise ValueError(f"Duplicate keys in vocabulary_list {vocabulary_list}, column_name: {key}")
    vocab_dtype = dtypes.string if isinstance(vocabulary_list[0], str) else dtypes.int64
    if dtype is None:
        dtype = vocab_dtype
    dtype = dtypes.as_dtype(dtype)
    if (dtype == dtypes.string) != (vocab_dtype == dtypes.string):
        raise ValueError(
            f"dtype {dtype.name} and vocabulary dtype {vocab_dtype.name} do not match, column_name: {key}"
        )
    if num_oov_buckets < 0:
        raise ValueError(f"Invalid num_oov_buckets {num_oov_buckets} in {key}.")
    if num_oov_buckets and default_value != -1:
        raise ValueError(f"Can't specify both num_oov_buckets and default_value in {key}.")
    return _VocabularyListCategoricalColumn(
        key, vocabulary_list, dtype, int(default_value), int(num_oov_buckets)
    )


def categorical_column_with_hash_bucket(key, hash_bucket_size, dtype=dtypes.string):
    """Ids by hashing each value (strings, or integers as their text) into `hash_bucket_size` buckets.

    >>> user = tf.feature_column.categorical_column_with_hash_bucket("user", 1000)
    """
    _check_key(key)
    if hash_bucket_size is None or hash_bucket_size < 1:
        raise ValueError(
            f"hash_bucket_size must be at least 1. hash_bucket_size: {hash_bucket_size}, key: {key}"
        )
    dtype = dtypes.as_dtype(dtype)
    if dtype != dtypes.string and not dtype.is_integer:
        raise ValueError(f"dtype must be string or integer. dtype: {dtype.name}, column_name: {key}")
    return _HashedCategoricalColumn(key, int(hash_bucket_size), dtype)


def indicator_column(categorical_column):
    """A categorical column as a multi-hot vector of num_buckets (counts of each id per example).

    >>> tf.feature_column.indicator_column(color)
    """
    _check_categorical(categorical_column, "indicator_column")
    return _IndicatorColumn(categorical_column)


def embedding_column(
    categorical_column,
    dimension,
    combiner="mean",
    initializer=None,
    ckpt_to_load_from=None,
    tensor_name_in_ckpt=None,
    max_norm=None,
    trainable=True,
    use_safe_embedding_lookup=True,
):
    """A categorical column as the `combiner` ("mean", "sqrtn" or "sum") of learned vectors
    of `dimension`, from the variable "<column name>_embedding/embedding_weights".

    >>> tf.feature_column.embedding_column(color, dimension=4)
    """
    _check_categorical(categorical_column, "embedding_column")
    if dimension is None or dimension < 1:
        raise ValueError(f"Invalid dimension {dimension}.")
    if ckpt_to_load_from is not None or tensor_name_in_ckpt is not None or max_norm is not None:
        raise NotImplementedError(
            "embedding_column: ckpt_to_load_from, tensor_name_in_ckpt and max_norm are not supported"
        )
    if combiner not in ("mean", "sqrtn", "sum"):
        raise ValueError(f"combiner must be one of 'mean', 'sqrtn' or 'sum', got {combiner!r}")
    if initializer is not None and not callable(initializer):
        raise ValueError(
            f"initializer must be callable if specified. Embedding of column_name: {categorical_column.name}"
        )
    if initializer is None:
        initializer = init_ops.truncated_normal_initializer(mean=0.0, stddev=1 / math.sqrt(dimension))
    return _EmbeddingColumn(categorical_column, int(dimension), combiner, initializer, bool(trainable))


# -- using columns ----------------------------------------------------------------------------------


def input_layer(
    features,
    feature_columns,
    weight_collections=None,
    trainable=True,
    cols_to_vars=None,
    cols_to_output_tensors=None,
):
    """The dense columns' tensors, sorted by column name, concatenated: float32 [batch, sum of sizes].

    >>> net = tf.feature_column.input_layer({"age": ages, "color": colors}, [age_buckets, color_embedding])
    """
    columns = _normalize(feature_columns)
    for column in columns:
        if not isinstance(column, _DenseColumn):
            raise ValueError(
                "Items of feature_columns must be a _DenseColumn. You can wrap a categorical column with an "
                f"embedding_column or indicator_column. Given: {column}"
            )
    if not isinstance(features, dict):
        raise TypeError(f"features must be a dict of tensors, got {type(features).__name__}")
    collections = list(weight_collections or [])
    for key in (GraphKeys.GLOBAL_VARIABLES, GraphKeys.MODEL_VARIABLES):
        if key not in collections:
            collections.append(key)
    outputs = []
    with variable_scope(None, default_name="input_layer", values=list(features.values())):
        for column in sorted(columns, key=lambda c: c.name):
            with variable_scope(None, default_name=column._var_scope_name) as scope:
                tensor = column._dense(features, collections, trainable)
                batch = api.shape(tensor)[0]
                output = api.reshape(tensor, api.stack([batch, column._num_elements]))
                outputs.append(output)
                if cols_to_vars is not None:
                    from raygraph.graph import get_collection

                    cols_to_vars[column] = get_collection(GraphKeys.GLOBAL_VARIABLES, scope=scope.name)
                if cols_to_output_tensors is not None:
                    cols_to_output_tensors[column] = output
        return api.concat(outputs, 1)


def make_parse_example_spec(feature_columns) -> dict:
    """The `tf.parse_example` features spec that the columns read: {key: FixedLenFeature or VarLenFeature}.

    >>> tf.feature_column.make_parse_example_spec([price, color])
    {'price': FixedLenFeature(shape=(1,), dtype=tf.float32, default_value=None), 'color': VarLenFeature(dtype=tf.string)}
    """
    spec = {}
    for column in feature_columns:
        if not hasattr(column, "_parse_example_spec"):
            raise ValueError(f"All feature_columns must be _FeatureColumn instances. Given: {column}")
        for key, value in column._parse_example_spec.items():
            if key in spec and spec[key] != value:
                raise ValueError(
                    f"feature_columns contain different parse_spec for key {key}. Given {value} and {spec[key]}"
                )
            spec[key] = value
    return spec


# -- helpers ----------------------------------------------------------------------------------------


def _check_key(key) -> None:
    if not isinstance(key, str):
        raise ValueError(f"key must be a string. Given: {key!r}")


def _check_categorical(column, where: str) -> None:
    if not isinstance(column, _CategoricalColumn):
        raise ValueError(
            f"{where}: categorical_column must be a categorical column (categorical_column_with_*). Given: {column}"
        )


def _check_same_kind(key: str, expected: dtypes.DType, actual: dtypes.DType) -> None:
    if (expected == dtypes.string) != (actual == dtypes.string) or not (
        actual == dtypes.string or actual.is_integer
    ):
        raise ValueError(
            f"Column dtype and SparseTensors dtype must be compatible. key: {key}, column dtype: {expected.name}, tensor dtype: {actual.name}"
        )


def _normalize(feature_columns) -> list:
    if isinstance(feature_columns, (_DenseColumn, _CategoricalColumn)):
        feature_columns = [feature_columns]
    columns = list(feature_columns)
    if not columns:
        raise ValueError("Expected feature_columns to be non-empty. Given: []")
    names = {}
    for column in columns:
        if column.name in names:
            raise ValueError(
                f"Duplicate feature column name found for columns: {column} and {names[column.name]}. This usually means that these columns refer to same base feature. Either one must be discarded or a duplicated but renamed item must be inserted in features dict."
            )
        names[column.name] = column
    return columns


def _dense_input(features: dict, key: str):
    """features[key] as a tensor of rank >= 2: a vector becomes one value per example, as TensorFlow's."""
    if key not in features:
        raise ValueError(f"The following key is not found in features: {key}")
    tensor = convert_to_tensor(features[key])
    rank = tensor.shape.ndims
    if rank == 0:
        raise ValueError(f"Feature (key: {key}) cannot have rank 0. Given: {tensor}")
    if rank == 1:
        tensor = api.expand_dims(tensor, -1)
    return tensor


def _categorical_input(features: dict, key: str):
    tensor = _dense_input(features, key)
    if tensor.shape.ndims is not None and tensor.shape.ndims > 2:
        raise ValueError(
            f"Feature (key: {key}): categorical inputs of rank above 2 are not supported, got shape {tensor.shape}"
        )
    return tensor


def _missing(values):
    """Where a dense input holds no value: "" for strings, -1 for integers (TensorFlow's ignore_value)."""
    return api.equal(values, "" if values.dtype == dtypes.string else api.constant(-1, values.dtype))


def _full_like(tensor, value: int):
    return api.fill(api.shape(tensor), api.constant(value, dtypes.int64))


def _flatten(value) -> list:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flatten(v)]
    return [value]
