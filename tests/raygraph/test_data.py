"""tf.data on Session("local"): sources, transformations, iterators, errors and shutdown.

The iterator ops these run (tests/ops/cases_data.py): IteratorV2, MakeIterator,
OneShotIterator and IteratorGetNext.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import raygraph as tf


def _all(sess, element, feed=None, limit=1000):
    """Every value an iterator yields until OutOfRangeError."""
    out = []
    for _ in range(limit):
        try:
            out.append(sess.run(element, feed))
        except tf.errors.OutOfRangeError:
            return out
    raise AssertionError("the iterator did not end")


def _values(dataset):
    with tf.Session("local") as sess:
        return _all(sess, dataset.make_one_shot_iterator().get_next())


@pytest.fixture(autouse=True)
def _graph():
    with tf.Graph().as_default() as g:
        yield g


# -- sources -------------------------------------------------------------------------


def test_range_map_batch_and_static_shapes():
    ds = tf.data.Dataset.range(10).map(lambda x: x * 2).batch(4)
    assert ds.output_types == tf.int64
    assert ds.output_shapes.as_list() == [None]
    out = _values(ds)
    assert [v.tolist() for v in out] == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18]]


def test_batch_drop_remainder_has_a_static_batch_dimension():
    ds = tf.data.Dataset.from_tensor_slices(np.arange(10, dtype=np.float32).reshape(5, 2)).batch(2, True)
    assert ds.output_shapes.as_list() == [2, 2]
    assert [v.shape for v in _values(ds)] == [(2, 2), (2, 2)]


def test_from_tensor_slices_structures_and_lists():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    ds = tf.data.Dataset.from_tensor_slices({"x": x, "y": [1, 2, 3]})
    assert ds.output_types == {"x": tf.float32, "y": tf.int32}
    assert ds.output_shapes["x"].as_list() == [2]
    out = _values(ds)
    assert [o["y"] for o in out] == [1, 2, 3]
    np.testing.assert_array_equal(out[2]["x"], x[2])


def test_from_tensors_zip_concatenate_take_skip():
    a = tf.data.Dataset.range(5)
    b = tf.data.Dataset.from_tensor_slices(np.array([b"a", b"b", b"c"]))
    zipped = tf.data.Dataset.zip((a, b))
    assert _values(zipped) == [(0, b"a"), (1, b"b"), (2, b"c")]
    both = a.take(2).concatenate(tf.data.Dataset.range(10, 12).skip(1))
    assert _values(both) == [0, 1, 11]
    assert [v.tolist() for v in _values(tf.data.Dataset.from_tensors([1, 2]))] == [[1, 2]]


def test_from_generator_with_structures():
    def gen():
        for i in range(3):
            yield i, [i] * 2

    ds = tf.data.Dataset.from_generator(
        gen, (tf.int64, tf.float32), (tf.TensorShape([]), tf.TensorShape([2]))
    )
    out = _values(ds.map(lambda i, v: v + tf.cast(i, tf.float32)))
    assert [v.tolist() for v in out] == [[0, 0], [2, 2], [4, 4]]


def test_from_generator_error_names_the_stage():
    def broken():
        yield 1
        raise ZeroDivisionError("no data today")

    ds = tf.data.Dataset.from_generator(broken, tf.int64)
    nxt = ds.make_one_shot_iterator().get_next()
    with tf.Session("local") as sess:
        assert sess.run(nxt) == 1
        with pytest.raises(
            tf.errors.UnknownError, match=r"from_generator\(broken\).*ZeroDivisionError: no data"
        ):
            sess.run(nxt)


def test_from_generator_checks_shapes():
    ds = tf.data.Dataset.from_generator(lambda: iter([[1, 2, 3]]), tf.int32, tf.TensorShape([2]))
    with tf.Session("local") as sess, pytest.raises(tf.errors.InvalidArgumentError, match="shape"):
        sess.run(ds.make_one_shot_iterator().get_next())


def test_tfrecord_and_textline(tmp_path):
    path = str(tmp_path / "r.tfrecord")
    with tf.python_io.TFRecordWriter(path) as w:
        for i in range(4):
            w.write(f"record {i}".encode())
    text = tmp_path / "t.txt"
    text.write_bytes(b"first\nsecond\r\nthird")
    assert _values(tf.data.TFRecordDataset(path)) == [f"record {i}".encode() for i in range(4)]
    assert _values(tf.data.TextLineDataset(str(text))) == [b"first", b"second", b"third"]


def test_tfrecord_parse_pipeline(tmp_path):
    path = str(tmp_path / "e.tfrecord")
    with tf.python_io.TFRecordWriter(path) as w:
        for i in range(5):
            ex = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[i, i + 0.5])),
                        "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[i])),
                    }
                )
            )
            w.write(ex.SerializeToString())
    spec = {"x": tf.FixedLenFeature([2], tf.float32), "y": tf.FixedLenFeature([], tf.int64)}
    files = tf.placeholder(tf.string, [None])
    ds = tf.data.TFRecordDataset(files).map(lambda r: tf.parse_single_example(r, spec)).batch(2)
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    assert nxt["x"].shape.as_list() == [None, 2]
    with tf.Session("local") as sess:
        sess.run(it.initializer, {files: [path]})
        out = _all(sess, nxt)
    assert [o["y"].tolist() for o in out] == [[0, 1], [2, 3], [4]]
    np.testing.assert_allclose(out[0]["x"], [[0, 0.5], [1, 1.5]])


def test_list_files_sorted_without_shuffle(tmp_path):
    for name in ("b.txt", "a.txt", "c.dat"):
        (tmp_path / name).write_text("x")
    ds = tf.data.Dataset.list_files(str(tmp_path / "*.txt"), shuffle=False)
    assert [v.decode().rsplit("/", 1)[-1] for v in _values(ds)] == ["a.txt", "b.txt"]


# -- transformations -----------------------------------------------------------------


def test_map_is_traced_once_and_captures_tensors():
    calls = []
    scale = tf.constant(3, tf.int64)

    def f(x):
        calls.append(x)
        return {"a": x * scale, "b": tf.cast(x, tf.float32)}

    ds = tf.data.Dataset.range(4).map(f, num_parallel_calls=2)
    out = _values(ds)
    assert len(calls) == 1
    assert [o["a"] for o in out] == [0, 3, 6, 9]
    assert ds.output_types == {"a": tf.int64, "b": tf.float32}


def test_parallel_map_keeps_order():
    ds = tf.data.Dataset.range(50).map(lambda x: x + 1, num_parallel_calls=tf.data.experimental.AUTOTUNE)
    assert _values(ds) == list(range(1, 51))


def test_map_error_names_the_stage():
    ds = tf.data.Dataset.from_generator(lambda: iter([[1.0, 2.0]]), tf.float32)  # shape unknown
    ds = ds.map(lambda x: tf.reshape(x, [3]))
    with (
        tf.Session("local") as sess,
        pytest.raises(tf.errors.InvalidArgumentError, match=r"Dataset\.map\(<lambda>\)"),
    ):
        sess.run(ds.make_one_shot_iterator().get_next())


def test_filter_flat_map_interleave():
    evens = tf.data.Dataset.range(10).filter(lambda x: tf.equal(x % 2, 0))
    assert _values(evens) == [0, 2, 4, 6, 8]
    flat = tf.data.Dataset.range(1, 4).flat_map(lambda n: tf.data.Dataset.range(n).map(lambda i: i + 10 * n))
    assert _values(flat) == [10, 20, 21, 30, 31, 32]
    inter = tf.data.Dataset.range(1, 4).interleave(
        lambda n: tf.data.Dataset.from_tensors(n).repeat(n), cycle_length=2, block_length=1
    )
    assert _values(inter) == [1, 2, 2, 3, 3, 3]  # TensorFlow's order for this pipeline


def test_padded_batch_and_unbatch():
    ds = tf.data.Dataset.range(1, 4).map(lambda n: tf.fill([n], n))
    padded = ds.padded_batch(3, padded_shapes=[-1], padding_values=tf.constant(-1, tf.int64))
    assert padded.output_shapes.as_list() == [None, None]
    (batch,) = _values(padded)
    assert batch.tolist() == [[1, -1, -1], [2, 2, -1], [3, 3, 3]]
    rows = _values(tf.data.Dataset.from_tensors(np.arange(6).reshape(3, 2)).unbatch())
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]


def test_seeded_shuffle_is_deterministic_and_reshuffles_each_epoch():
    def run():
        ds = tf.data.Dataset.range(20).shuffle(5, seed=7).repeat(2)
        return _values(ds)

    first, second = run(), run()
    assert first == second
    assert sorted(first[:20]) == list(range(20)) and sorted(first[20:]) == list(range(20))
    assert first[:20] != first[20:]
    same = _values(tf.data.Dataset.range(20).shuffle(5, seed=7, reshuffle_each_iteration=False).repeat(2))
    assert same[:20] == same[20:]


def test_repeat_take_skip_shard_enumerate_cache():
    assert _values(tf.data.Dataset.range(3).repeat(2)) == [0, 1, 2, 0, 1, 2]
    assert _values(tf.data.Dataset.range(3).repeat().take(7)) == [0, 1, 2, 0, 1, 2, 0]
    assert _values(tf.data.Dataset.range(10).shard(3, 1)) == [1, 4, 7]
    assert _values(tf.data.Dataset.range(2).enumerate(5)) == [(5, 0), (6, 1)]
    assert _values(tf.data.Dataset.range(3).map(lambda x: x * x).cache().repeat(2)) == [0, 1, 4, 0, 1, 4]


def test_batch_of_repeated_slices_crosses_epochs():
    x = np.arange(5, dtype=np.int32)
    ds = tf.data.Dataset.from_tensor_slices(x).repeat(2).batch(4)
    assert [v.tolist() for v in _values(ds)] == [[0, 1, 2, 3], [4, 0, 1, 2], [3, 4]]


def test_apply_and_experimental():
    ds = tf.data.Dataset.range(6).apply(tf.data.experimental.map_and_batch(lambda x: x + 1, 4))
    assert [v.tolist() for v in _values(ds)] == [[1, 2, 3, 4], [5, 6]]


def test_from_arrow_and_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table(
        {"x": np.arange(5, dtype=np.float32), "v": [[i, i] for i in range(5)], "s": list("abcde")}
    )
    ds = tf.data.Dataset.from_arrow(table).batch(2)
    assert ds.output_types == {"s": tf.string, "v": tf.int64, "x": tf.float32}
    out = _values(ds)
    assert out[0]["v"].tolist() == [[0, 0], [1, 1]] and out[2]["s"].tolist() == [b"e"]
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=2)
    pds = tf.data.ParquetDataset(str(path), columns=["x", "v"], batch_size=2)
    assert pds.output_shapes["v"].as_list() == [None, None]
    got = _values(pds)
    assert [g["x"].tolist() for g in got] == [[0, 1], [2, 3], [4]]
    assert set(got[0]) == {"x", "v"}


# -- iterators -------------------------------------------------------------------------


def test_initializable_iterator_feeds_placeholders_and_restarts():
    data = tf.placeholder(tf.float32, [None])
    it = tf.data.Dataset.from_tensor_slices(data).map(lambda x: x * 2.0).make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session("local") as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="not been initialized"):
            sess.run(nxt)
        sess.run(it.initializer, {data: [1, 2]})
        assert _all(sess, nxt) == [2, 4]
        sess.run(it.initializer, {data: [5]})
        assert _all(sess, nxt) == [10]


def test_reinitializable_and_feedable_iterators():
    train = tf.data.Dataset.range(3)
    test = tf.data.Dataset.range(10, 12)
    it = tf.data.Iterator.from_structure(train.output_types, train.output_shapes)
    nxt = it.get_next()
    train_init, test_init = it.make_initializer(train), it.make_initializer(test)
    handle = tf.placeholder(tf.string, [])
    feedable = tf.data.Iterator.from_string_handle(handle, train.output_types, train.output_shapes)
    other = train.repeat().make_one_shot_iterator()
    with tf.Session("local") as sess:
        sess.run(train_init)
        assert _all(sess, nxt) == [0, 1, 2]
        sess.run(test_init)
        assert _all(sess, nxt) == [10, 11]
        h = sess.run(other.string_handle())
        assert [sess.run(feedable.get_next(), {handle: h}) for _ in range(4)] == [0, 1, 2, 0]


def test_make_initializer_checks_types():
    it = tf.data.Iterator.from_structure(tf.int64, tf.TensorShape([]))
    with pytest.raises(TypeError, match="output types"):
        it.make_initializer(tf.data.Dataset.from_tensors(1.0))


def test_compat_v1_names():
    ds = tf.compat.v1.data.Dataset.range(2)
    it = tf.compat.v1.data.make_one_shot_iterator(ds)
    assert tf.compat.v1.data.get_output_types(it) == tf.int64
    with tf.Session("local") as sess:
        assert _all(sess, it.get_next()) == [0, 1]


def test_training_loop_on_a_prefetched_dataset():
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(64, 3)).astype(np.float32)
    ys = xs @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    ds = tf.data.Dataset.from_tensor_slices((xs, ys)).shuffle(64, seed=1).repeat().batch(16).prefetch(2)
    x, y = ds.make_one_shot_iterator().get_next()
    w = tf.Variable(tf.zeros([3, 1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(200):
            sess.run(train)
        np.testing.assert_allclose(sess.run(w).ravel(), [1.0, -2.0, 0.5], atol=1e-3)


# -- shutdown ---------------------------------------------------------------------------


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name.startswith("raygraph-prefetch")]


def test_closing_the_session_stops_prefetch_threads():
    before = len(_prefetch_threads())
    ds = tf.data.Dataset.range(10**9).prefetch(3)
    nxt = ds.make_one_shot_iterator().get_next()
    sess = tf.Session("local")
    assert sess.run(nxt) == 0
    assert len(_prefetch_threads()) == before + 1
    sess.close()
    deadline = time.time() + 5
    while len(_prefetch_threads()) > before and time.time() < deadline:
        time.sleep(0.05)
    assert len(_prefetch_threads()) == before


def test_prefetch_passes_errors_through():
    ds = tf.data.Dataset.from_generator(lambda: (1 // (2 - i) for i in range(3)), tf.int64).prefetch(2)
    nxt = ds.make_one_shot_iterator().get_next()
    with tf.Session("local") as sess:
        assert sess.run(nxt) == 0
        assert sess.run(nxt) == 1
        with pytest.raises(tf.errors.UnknownError, match="ZeroDivisionError"):
            sess.run(nxt)


# -- on Ray actors ------------------------------------------------------------------------


@pytest.mark.usefixtures("ray_cluster")
def test_pipelines_on_ray_actors(tmp_path):
    path = str(tmp_path / "r.tfrecord")
    with tf.python_io.TFRecordWriter(path) as w:
        for i in range(6):
            w.write(np.int64(i).tobytes())

    def gen(n):
        for i in range(int(n)):
            yield {"i": i, "sq": [i * i]}

    records = tf.data.TFRecordDataset(path).map(lambda r: tf.decode_raw(r, tf.int64)[0] * 2)
    generated = tf.data.Dataset.from_generator(gen, {"i": tf.int64, "sq": tf.int64}, args=(3,))
    data = tf.placeholder(tf.float32, [None])
    fed = tf.data.Dataset.from_tensor_slices(data).shuffle(4, seed=3).batch(2).prefetch(2)
    it = fed.make_initializable_iterator()
    a = records.filter(lambda x: x > 2).make_one_shot_iterator().get_next()
    b = generated.make_one_shot_iterator().get_next()
    c = it.get_next()
    with tf.Session() as sess:
        assert _all(sess, a) == [4, 6, 8, 10]
        assert [(v["i"], v["sq"].tolist()) for v in _all(sess, b)] == [(0, [0]), (1, [1]), (2, [4])]
        sess.run(it.initializer, {data: np.arange(5, dtype=np.float32)})
        batches = _all(sess, c)
    assert sorted(np.concatenate(batches).tolist()) == [0, 1, 2, 3, 4]
    with tf.Session() as sess:  # a seeded shuffle: the same order in every session
        sess.run(it.initializer, {data: np.arange(5, dtype=np.float32)})
        assert [x.tolist() for x in _all(sess, c)] == [x.tolist() for x in batches]


@pytest.mark.usefixtures("ray_cluster")
def test_generator_error_on_ray_names_the_stage():
    def broken():
        yield 1.0
        raise RuntimeError("sensor unplugged")

    nxt = tf.data.Dataset.from_generator(broken, tf.float32).make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        assert sess.run(nxt) == 1.0
        with pytest.raises(tf.errors.UnknownError, match=r"from_generator\(broken\).*sensor unplugged"):
            sess.run(nxt)


def test_parquet_directory_streams_file_by_file_in_order(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    for k in range(3):
        rows = np.arange(5 * k, 5 * k + 5)
        table = pa.table({"i": rows, "f": rows.astype(np.float32) / 2, "unused": [b"x"] * 5})
        pq.write_table(table, tmp_path / f"part-{k}.parquet", row_group_size=2)
    ds = tf.data.ParquetDataset(str(tmp_path), columns=["i", "f"], batch_size=3)
    got = _values(ds)
    assert all(set(g) == {"i", "f"} for g in got)
    assert np.concatenate([g["i"] for g in got]).tolist() == list(range(15))
    assert max(len(g["i"]) for g in got) == 3  # record batches of at most batch_size rows
    np.testing.assert_array_equal(np.concatenate([g["f"] for g in got]), np.arange(15, dtype=np.float32) / 2)
