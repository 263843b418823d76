"""tf.feature_column.input_layer against TensorFlow's tf.compat.v1 (graph mode).

The same program is built with raygraph and with `tensorflow.compat.v1`: numeric,
bucketized, identity, vocabulary-list and hashed columns, wrapped in indicator and
embedding columns. The embedding tables are set to the same values with `assign`,
then the input layer, the variable names and the gradients (with respect to the
tables and a numeric input) must agree.
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat
v1 = tf1.compat.v1

FEATURES = {
    "age": np.array([10.0, 18.0, 40.0, 70.0], np.float32),
    "size": np.array([[1.0, 2.0], [3.0, -4.0], [0.5, 0.0], [9.0, 7.0]], np.float32),
    "city": np.array([["paris", "rome"], ["oslo", ""], ["", ""], ["rome", "rome"]]),
    "day": np.array([[1, 6], [0, -1], [3, 3], [-1, -1]], np.int64),
    "code": np.array([5, 7, 5, 9], np.int64),
    "user": np.array([["alice"], ["bob"], [""], ["carol"]]),
}
DTYPES = {
    "age": "float32",
    "size": "float32",
    "city": "string",
    "day": "int64",
    "code": "int64",
    "user": "string",
}


def columns(tf, combiner):
    fc = tf.feature_column
    age = fc.numeric_column("age", normalizer_fn=lambda x: x / 10.0)
    size = fc.numeric_column("size", shape=(2,))
    city = fc.categorical_column_with_vocabulary_list("city", ["paris", "rome", "berlin"])
    city_oov = fc.categorical_column_with_vocabulary_list("city", ["paris", "rome"], num_oov_buckets=3)
    day = fc.categorical_column_with_identity("day", num_buckets=7)
    code = fc.categorical_column_with_vocabulary_list("code", [9, 5], default_value=2)
    user = fc.categorical_column_with_hash_bucket("user", 5)
    return [
        age,
        size,
        fc.bucketized_column(size, [0.0, 2.0, 5.0]),
        fc.indicator_column(city),
        fc.embedding_column(city_oov, 3, combiner=combiner),
        fc.indicator_column(day),
        fc.embedding_column(fc.bucketized_column(age, [15.0, 30.0]), 2, combiner=combiner),
        fc.indicator_column(code),
        fc.embedding_column(user, 4, combiner=combiner),
    ]


def program(tf, combiner):
    placeholders = {
        k: tf.placeholder(getattr(tf, DTYPES[k]), [None, *v.shape[1:]]) for k, v in FEATURES.items()
    }
    out = tf.feature_column.input_layer(placeholders, columns(tf, combiner))
    tables = sorted(tf.global_variables(), key=lambda v: v.name)
    rng = np.random.RandomState(0)
    assigns = [tf.assign(v, rng.randn(*v.shape.as_list()).astype(np.float32)) for v in tables]
    weights = tf.constant(rng.randn(4, out.shape.as_list()[1]).astype(np.float32))
    loss = tf.reduce_sum(out * weights)
    grads = [tf.convert_to_tensor(g) for g in tf.gradients(loss, [*tables, placeholders["size"]])]
    return placeholders, out, tables, assigns, grads


def run(tf, session, combiner):
    placeholders, out, tables, assigns, grads = program(tf, combiner)
    session.run([assigns, tf.tables_initializer()])  # TensorFlow looks vocabularies up in tables
    feed = {placeholders[k]: v for k, v in FEATURES.items()}
    return [v.name for v in tables], out.shape.as_list(), session.run([out, *grads], feed)


@pytest.mark.parametrize("combiner", ["mean", "sqrtn", "sum"])
def test_input_layer_matches_tensorflow(combiner):
    with v1.Graph().as_default(), v1.Session() as sess:
        theirs = run(v1, sess, combiner)
    with raygraph.Graph().as_default(), raygraph.Session("local") as sess:
        ours = run(raygraph, sess, combiner)
    assert (
        ours[0]
        == theirs[0]
        == [
            "input_layer/age_bucketized_embedding/embedding_weights:0",
            "input_layer/city_embedding/embedding_weights:0",
            "input_layer/user_embedding/embedding_weights:0",
        ]
    )
    assert ours[1] == theirs[1]
    for a, b in zip(ours[2], theirs[2], strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_parse_example_spec_matches_tensorflow():
    theirs = v1.feature_column.make_parse_example_spec(columns(v1, "mean"))
    ours = raygraph.feature_column.make_parse_example_spec(columns(raygraph, "mean"))
    assert sorted(ours) == sorted(theirs)
    for key, spec in theirs.items():
        assert type(ours[key]).__name__ == type(spec).__name__
        assert ours[key].dtype.name == spec.dtype.name
        if hasattr(spec, "shape"):
            assert tuple(ours[key].shape) == tuple(spec.shape)
