"""tf.data pipelines against TensorFlow 2.21's tf.compat.v1 (graph mode, v1 iterators).

Each program below is written once against the TF1 API and run on both
libraries with the same inputs; every element the iterator yields until
OutOfRangeError must agree, as must the static output types and shapes.
Shuffles are compared by content (the generators differ). TFRecordDataset
reads files that TensorFlow wrote. A training loop fed by a dataset reaches
the same weights (gradients through a dataset-fed graph).
"""

from __future__ import annotations

import numpy as np
import pytest

tf2 = pytest.importorskip("tensorflow")
v1 = tf2.compat.v1

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat


def _drain(sess, element, feed=None):
    out = []
    while True:
        try:
            out.append(sess.run(element, feed))
        except (v1.errors.OutOfRangeError, raygraph.errors.OutOfRangeError):
            return out
        if len(out) > 10_000:
            raise AssertionError("the iterator did not end")


def _run_both(program):
    """program(tf) -> (element, [(op, feed) to run first], feed for get_next): values on both."""
    results = []
    for tf, graph, session in (
        (v1, v1.Graph(), lambda g: v1.Session(graph=g)),
        (raygraph, raygraph.Graph(), lambda g: raygraph.Session("local", graph=g)),
    ):
        with graph.as_default():
            element, setup, feed = program(tf)
            shapes = tf.nest.map_structure(lambda t: t.shape.as_list(), element)
            types = tf.nest.map_structure(lambda t: t.dtype.name, element)
            with session(graph) as sess:
                for op, op_feed in setup:
                    sess.run(op, op_feed)
                values = _drain(sess, element, feed)
        results.append((values, shapes, types))
    (tf_values, tf_shapes, tf_types), (rg_values, rg_shapes, rg_types) = results
    assert rg_shapes == tf_shapes
    assert rg_types == tf_types
    return tf_values, rg_values


def _same(a, b):
    assert len(a) == len(b), (len(a), len(b))
    for x, y in zip(a, b):
        fx, fy = tf2.nest.flatten(x), tf2.nest.flatten(y)
        assert len(fx) == len(fy)
        for p, q in zip(fx, fy):
            p, q = np.asarray(p), np.asarray(q)
            if p.dtype.kind in "fiub":
                np.testing.assert_allclose(q, p, rtol=1e-6)
            else:
                np.testing.assert_array_equal(q, p)


def _one_shot(tf, dataset):
    return tf.data.make_one_shot_iterator(dataset).get_next(), [], None


PIPELINES = {
    "range_map_filter_batch": lambda tf: (
        tf.data.Dataset.range(23)
        .map(lambda x: x * 3)
        .filter(lambda x: tf.equal(x % 2, 0))
        .batch(4, drop_remainder=True)
    ),
    "slices_dict_batch": lambda tf: (
        tf.data.Dataset.from_tensor_slices(
            {"x": np.arange(20, dtype=np.float32).reshape(10, 2), "y": np.arange(10)}
        )
        .map(lambda d: {"x": d["x"] * 2.0, "y": d["y"] + 1})
        .batch(3)
    ),
    "tuple_args_zip_concat": lambda tf: (
        tf.data.Dataset.zip(
            (
                tf.data.Dataset.range(5),
                tf.data.Dataset.from_tensor_slices(np.linspace(0, 1, 7).astype(np.float32)),
            )
        )
        .map(lambda i, f: (i * 2, f + 1.0))
        .concatenate(tf.data.Dataset.from_tensors((np.int64(-1), np.float32(-1.0))))
    ),
    "flat_map": lambda tf: tf.data.Dataset.range(1, 5).flat_map(
        lambda n: tf.data.Dataset.range(n).map(lambda i: i + 10 * n)
    ),
    "interleave": lambda tf: tf.data.Dataset.range(1, 7).interleave(
        lambda n: tf.data.Dataset.from_tensors(n).repeat(n), cycle_length=3, block_length=2
    ),
    "padded_batch": lambda tf: (
        tf.data.Dataset.range(1, 6)
        .map(lambda n: tf.fill([n], tf.cast(n, tf.int32)))
        .padded_batch(2, padded_shapes=[None])
    ),
    "padded_batch_fixed": lambda tf: (
        tf.data.Dataset.range(1, 5)
        .map(lambda n: (tf.fill([n], n), tf.cast(n, tf.float32)))
        .padded_batch(
            3, padded_shapes=([6], []), padding_values=(np.int64(-7), np.float32(0)), drop_remainder=True
        )
    ),
    "repeat_take_skip_unbatch": lambda tf: (
        tf.data.Dataset.from_tensor_slices(np.arange(12).reshape(4, 3)).repeat(3).skip(2).take(7).unbatch()
    ),
    "batch_across_epochs": lambda tf: (
        tf.data.Dataset.from_tensor_slices(np.arange(7, dtype=np.float32)).repeat(3).batch(5).prefetch(2)
    ),
    "cache_repeat": lambda tf: tf.data.Dataset.range(4).map(lambda x: x * x).cache().repeat(2),
    "generator": lambda tf: tf.data.Dataset.from_generator(
        lambda: ((i, [float(i)] * (i % 3 + 1)) for i in range(6)),
        (tf.int32, tf.float32),
        (tf.TensorShape([]), tf.TensorShape([None])),
    ).map(lambda i, v: (i, tf.reduce_sum(v))),
    "strings": lambda tf: tf.data.Dataset.from_tensor_slices(np.array([b"ab", b"cde", b""])).batch(2),
}


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_pipeline(name):
    theirs, ours = _run_both(lambda tf: _one_shot(tf, PIPELINES[name](tf)))
    _same(theirs, ours)


def test_shuffle_by_content():
    def program(tf):
        ds = tf.data.Dataset.range(40).shuffle(10, seed=5).repeat(2).batch(8)
        return _one_shot(tf, ds)

    theirs, ours = _run_both(program)
    assert sorted(np.concatenate(theirs).tolist()) == sorted(np.concatenate(ours).tolist())
    first_epoch = np.concatenate(ours)[:40]
    assert sorted(first_epoch.tolist()) == list(range(40))


def test_initializable_iterator_with_placeholders():
    def program(tf):
        x = tf.placeholder(tf.float32, [None, 2])
        n = tf.placeholder(tf.int64, [])
        it = tf.data.make_initializable_iterator(tf.data.Dataset.from_tensor_slices(x).repeat(n).batch(3))
        data = np.arange(8, dtype=np.float32).reshape(4, 2)
        return it.get_next(), [(it.initializer, {x: data, n: 2})], None

    theirs, ours = _run_both(program)
    _same(theirs, ours)


def test_reinitializable_iterator():
    def program(tf):
        a = tf.data.Dataset.range(3).map(lambda x: tf.cast(x, tf.float32))
        b = tf.data.Dataset.from_tensor_slices(np.array([9.0, 8.0], np.float32))
        it = tf.data.Iterator.from_structure(a.output_types, a.output_shapes)
        init_a, init_b = it.make_initializer(a), it.make_initializer(b)
        return it.get_next(), [(init_b, None), (init_a, None)], None

    theirs, ours = _run_both(program)
    _same(theirs, ours)


def _write_examples(path, compression):
    options = tf2.io.TFRecordOptions(compression_type=compression)
    with tf2.io.TFRecordWriter(path, options) as writer:
        for i in range(11):
            example = tf2.train.Example(
                features=tf2.train.Features(
                    feature={
                        "image": tf2.train.Feature(float_list=tf2.train.FloatList(value=[i, i / 2, -i])),
                        "label": tf2.train.Feature(int64_list=tf2.train.Int64List(value=[i % 4])),
                        "name": tf2.train.Feature(bytes_list=tf2.train.BytesList(value=[f"n{i}".encode()])),
                    }
                )
            )
            writer.write(example.SerializeToString())


@pytest.mark.parametrize("compression", ["", "GZIP"])
def test_tfrecord_dataset_over_files_written_by_tensorflow(tmp_path, compression):
    paths = [str(tmp_path / f"part{k}.tfrecord") for k in range(2)]
    for path in paths:
        _write_examples(path, compression)

    def program(tf):
        spec = {
            "image": tf.FixedLenFeature([3], tf.float32),
            "label": tf.FixedLenFeature([], tf.int64),
            "name": tf.FixedLenFeature([], tf.string),
        }
        files = tf.placeholder(tf.string, [None])
        ds = (
            tf.data.TFRecordDataset(files, compression_type=compression)
            .map(lambda r: tf.parse_single_example(r, spec), num_parallel_calls=2)
            .batch(4)
            .prefetch(1)
        )
        it = tf.data.make_initializable_iterator(ds)
        return it.get_next(), [(it.initializer, {files: paths})], None

    theirs, ours = _run_both(program)
    _same(theirs, ours)
    assert sum(len(b["label"]) for b in ours) == 22


def test_textline_dataset(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes(b"alpha\nbeta\r\n\ngamma")
    theirs, ours = _run_both(lambda tf: _one_shot(tf, tf.data.TextLineDataset(str(path))))
    assert ours == theirs


def test_training_loop_fed_by_a_dataset_reaches_the_same_weights():
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(96, 4)).astype(np.float32)
    ys = (xs @ rng.normal(size=(4, 1)).astype(np.float32) + 0.3).astype(np.float32)
    w0 = rng.normal(size=(4, 1)).astype(np.float32)

    def train(tf, graph, session):
        with graph.as_default():
            ds = tf.data.Dataset.from_tensor_slices((xs, ys)).repeat(3).batch(16).prefetch(2)
            x, y = tf.data.make_one_shot_iterator(ds).get_next()
            w = tf.Variable(w0)
            b = tf.Variable(0.0)
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
            step = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
            with session(graph) as sess:
                sess.run(tf.global_variables_initializer())
                losses = _drain(sess, [step, loss])
                return [value for _, value in losses], sess.run([w, b])

    tf_losses, tf_weights = train(v1, v1.Graph(), lambda g: v1.Session(graph=g))
    rg_losses, rg_weights = train(raygraph, raygraph.Graph(), lambda g: raygraph.Session("local", graph=g))
    assert len(rg_losses) == len(tf_losses) == 18
    np.testing.assert_allclose(rg_losses, tf_losses, rtol=1e-4)
    for a, b in zip(rg_weights, tf_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_end_of_data_is_out_of_range_in_both():
    for tf, graph, session in (
        (v1, v1.Graph(), lambda g: v1.Session(graph=g)),
        (raygraph, raygraph.Graph(), lambda g: raygraph.Session("local", graph=g)),
    ):
        with graph.as_default():
            nxt = tf.data.make_one_shot_iterator(tf.data.Dataset.range(1)).get_next()
            with session(graph) as sess:
                assert sess.run(nxt) == 0
                with pytest.raises(tf.errors.OutOfRangeError):
                    sess.run(nxt)
