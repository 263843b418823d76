"""tf.feature_column on Session("local"): column names, input_layer values and shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf

fc = tf.feature_column


@pytest.fixture(autouse=True)
def graph():
    with tf.Graph().as_default() as g:
        yield g


def run(fetches, feed=None):
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def test_column_names_follow_tensorflow():
    age = fc.numeric_column("age")
    city = fc.categorical_column_with_vocabulary_list("city", ["a", "b"])
    assert fc.bucketized_column(age, [1, 2]).name == "age_bucketized"
    assert fc.indicator_column(city).name == "city_indicator"
    assert fc.embedding_column(city, 2).name == "city_embedding"
    assert fc.numeric_column("age") == age  # columns are values


def test_numeric_and_bucketized_columns_sorted_by_name():
    age = fc.numeric_column("age", normalizer_fn=lambda x: x * 2.0)
    size = fc.numeric_column("size", shape=(2,), dtype=tf.int64)
    x = tf.placeholder(tf.float32, [None])
    s = tf.placeholder(tf.int64, [None, 2])
    out = fc.input_layer({"age": x, "size": s}, [size, fc.bucketized_column(age, [0.0, 10.0]), age])
    assert out.dtype == tf.float32 and out.shape.as_list() == [None, 1 + 3 + 2]
    got = run(out, {x: [-1.0, 5.0], s: [[1, 2], [3, 4]]})
    # age*2 | age bucketized over (-2, 10) -> buckets 0, 2 | size as float
    np.testing.assert_array_equal(got, [[-2, 1, 0, 0, 1, 2], [10, 0, 0, 1, 3, 4]])


def test_indicator_counts_ids_and_skips_missing_values():
    day = fc.categorical_column_with_identity("day", num_buckets=4, default_value=0)
    city = fc.categorical_column_with_vocabulary_list("city", ["paris", "rome"], num_oov_buckets=1)
    features = {
        "day": tf.constant([[1, 1], [9, -1]], tf.int64),  # 9 is out of range -> default 0; -1 is no id
        "city": tf.constant([["rome", ""], ["oslo", "paris"]]),  # "" is no id; oslo -> the OOV bucket 2
    }
    out = fc.input_layer(features, [fc.indicator_column(day), fc.indicator_column(city)])
    # city_indicator (3 buckets) then day_indicator (4), sorted by name; ids repeated count twice
    np.testing.assert_array_equal(run(out), [[0, 1, 0, 0, 2, 0, 0], [1, 0, 1, 1, 0, 0, 0]])


def test_embedding_variable_name_combiners_and_gradient():
    ids = fc.categorical_column_with_identity("ids", num_buckets=3)
    x = tf.constant([[0, 2], [1, -1], [-1, -1]], tf.int64)
    outs = {}
    for combiner in ("mean", "sqrtn", "sum"):
        with tf.variable_scope(combiner):
            outs[combiner] = fc.input_layer({"ids": x}, [fc.embedding_column(ids, 2, combiner=combiner)])
    table = tf.global_variables()[0]
    assert table.name == "mean/input_layer/ids_embedding/embedding_weights:0"
    assert table in tf.trainable_variables() and table in tf.get_collection(tf.GraphKeys.MODEL_VARIABLES)
    values = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    grad = tf.convert_to_tensor(tf.gradients(tf.reduce_sum(outs["mean"]), table)[0])
    with tf.Session("local") as sess:
        for v in tf.global_variables():
            sess.run(tf.assign(v, values))
        got, g = sess.run([outs, grad])
    np.testing.assert_allclose(got["sum"], [[6, 8], [3, 4], [0, 0]])
    np.testing.assert_allclose(got["mean"], [[3, 4], [3, 4], [0, 0]])
    np.testing.assert_allclose(got["sqrtn"], [[6 / np.sqrt(2), 8 / np.sqrt(2)], [3, 4], [0, 0]], rtol=1e-6)
    np.testing.assert_allclose(g, [[0.5, 0.5], [1, 1], [0.5, 0.5]])


def test_trainable_false_and_weight_collections():
    ids = fc.categorical_column_with_hash_bucket("user", 10)
    fc.input_layer(
        {"user": tf.constant(["a"])},
        [fc.embedding_column(ids, 2)],
        weight_collections=["mine"],
        trainable=False,
    )
    assert tf.trainable_variables() == []
    assert [v.name for v in tf.get_collection("mine")] == ["input_layer/user_embedding/embedding_weights:0"]


def test_identity_out_of_range_fails_at_run_time():
    day = fc.categorical_column_with_identity("day", num_buckets=3)
    out = fc.input_layer({"day": tf.constant([5], tf.int64)}, [fc.indicator_column(day)])
    with pytest.raises(tf.errors.InvalidArgumentError):
        run(out)


def test_input_layer_errors():
    city = fc.categorical_column_with_vocabulary_list("city", ["a"])
    with pytest.raises(ValueError, match="must be a _DenseColumn"):
        fc.input_layer({"city": tf.constant(["a"])}, [city])
    with pytest.raises(ValueError, match="Duplicate feature column name"):
        fc.input_layer({"x": tf.constant([1.0])}, [fc.numeric_column("x"), fc.numeric_column("x", shape=2)])
    with pytest.raises(ValueError, match="not found in features: y"):
        fc.input_layer({"x": tf.constant([1.0])}, [fc.numeric_column("y")])
    with pytest.raises(ValueError, match="dtype must be compatible"):
        fc.input_layer({"city": tf.constant([1], tf.int64)}, [fc.indicator_column(city)])
    with pytest.raises(ValueError, match="sorted"):
        fc.bucketized_column(fc.numeric_column("x"), [2.0, 1.0])
    with pytest.raises(ValueError, match="both num_oov_buckets and default_value"):
        fc.categorical_column_with_vocabulary_list("c", ["a"], default_value=0, num_oov_buckets=1)


def test_make_parse_example_spec():
    price = fc.numeric_column("price", shape=(2,), default_value=0.0)
    color = fc.categorical_column_with_vocabulary_list("color", ["R", "G"])
    spec = fc.make_parse_example_spec([price, fc.embedding_column(color, 3)])
    assert spec == {
        "price": tf.FixedLenFeature((2,), tf.float32, (0.0, 0.0)),
        "color": tf.VarLenFeature(tf.string),
    }
