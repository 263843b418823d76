"""TF1 queue programs against TensorFlow 2.21's tf.compat.v1: queues, readers, queue runners.

Each program is written once and run twice, on `tensorflow.compat.v1` (graph
mode, v1.Session) and on raygraph (Session("local")), over the same files. The
pipelines run as TF1 programs do: queue runners started with
start_queue_runners, a Coordinator, and a loop until OutOfRangeError. Ordered
pipelines (shuffle=False, one reader thread) must give the same batches in the
same order; shuffled ones the same records (compared by content).
"""

from __future__ import annotations

import numpy as np
import pytest

tf2 = pytest.importorskip("tensorflow")
v1 = tf2.compat.v1

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat


def run_both(program, *args):
    """program(tf, *args) -> (fetches, run), run(sess, fetches) -> result; on TF, then raygraph."""
    with v1.Graph().as_default():
        fetches, run = program(v1, *args)
        with v1.Session() as sess:
            theirs = run(sess, fetches)
    with raygraph.Graph().as_default():
        fetches, run = program(raygraph, *args)
        with raygraph.Session("local") as sess:
            ours = run(sess, fetches)
    return ours, theirs


def make_files(tmp_path, files: int = 3, per_file: int = 5) -> list[str]:
    paths = []
    for f in range(files):
        path = str(tmp_path / f"part-{f}.tfrecord")
        with tf2.io.TFRecordWriter(path) as writer:
            for i in range(per_file):
                example = tf2.train.Example(
                    features=tf2.train.Features(
                        feature={
                            "image": tf2.train.Feature(
                                float_list=tf2.train.FloatList(value=[f + i / 10, f - i, 0.5 * i])
                            ),
                            "label": tf2.train.Feature(int64_list=tf2.train.Int64List(value=[10 * f + i])),
                            "name": tf2.train.Feature(
                                bytes_list=tf2.train.BytesList(value=[f"r{f}{i}".encode()])
                            ),
                        }
                    )
                )
                writer.write(example.SerializeToString())
        paths.append(path)
    return paths


def until_out_of_range(tf):
    """run(sess, fetches): every fetch until the input runs out, with a Coordinator and runners."""

    def run(sess, fetches):
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess=sess, coord=coord)
        out = []
        try:
            while not coord.should_stop():
                out.append(sess.run(fetches))
        except tf.errors.OutOfRangeError:
            pass
        finally:
            coord.request_stop()
        coord.join(threads)
        return out

    return run


FEATURES = ("image", "label", "name")


def parse(tf, serialized):
    return tf.parse_single_example(
        serialized,
        {
            "image": tf.FixedLenFeature([3], tf.float32),
            "label": tf.FixedLenFeature([], tf.int64),
            "name": tf.FixedLenFeature([], tf.string),
        },
    )


def ordered_tfrecord_pipeline(tf, paths):
    files = tf.train.string_input_producer(paths, num_epochs=2, shuffle=False)
    key, serialized = tf.TFRecordReader().read(files)
    example = parse(tf, serialized)
    batch = tf.train.batch(
        [key, example["image"], example["label"], example["name"]],
        batch_size=4,
        allow_smaller_final_batch=True,
    )
    return batch, until_out_of_range(tf)


def test_tfrecords_through_reader_and_batch_in_order(tmp_path):
    ours, theirs = run_both(ordered_tfrecord_pipeline, make_files(tmp_path))
    assert len(ours) == len(theirs) == 8  # 30 records: 7 batches of 4 and one of 2
    for a, b in zip(ours, theirs, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def shuffled_tfrecord_pipeline(tf, paths):
    files = tf.train.string_input_producer(paths, num_epochs=3, shuffle=True, seed=5)
    _, serialized = tf.TFRecordReader().read(files)
    example = parse(tf, serialized)
    batch = tf.train.shuffle_batch(
        example, batch_size=6, capacity=20, min_after_dequeue=5, seed=9, allow_smaller_final_batch=True
    )
    return batch, until_out_of_range(tf)


def test_tfrecords_through_shuffle_batch_give_the_same_records(tmp_path):
    ours, theirs = run_both(shuffled_tfrecord_pipeline, make_files(tmp_path))

    def records(batches):
        rows = [
            (b["name"][i], int(b["label"][i]), tuple(np.asarray(b["image"][i]).tolist()))
            for b in batches
            for i in range(len(b["label"]))
        ]
        return sorted(rows)

    assert set(ours[0]) == set(theirs[0]) == set(FEATURES)
    assert len(records(ours)) == 45
    assert records(ours) == records(theirs)


def sliced_model_pipeline(tf, data, weights):
    x, y = tf.train.slice_input_producer(
        [data, np.arange(len(data), dtype=np.int32)], num_epochs=2, shuffle=False
    )
    xb, yb = tf.train.batch([x, y], batch_size=3, num_threads=1, capacity=8)
    scores = tf.nn.softmax(tf.matmul(xb, weights))
    return (scores, yb), until_out_of_range(tf)


def test_slice_input_producer_feeds_a_model_in_order():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((9, 4)).astype(np.float32)
    weights = rng.standard_normal((4, 3)).astype(np.float32)
    ours, theirs = run_both(sliced_model_pipeline, data, weights)
    assert len(ours) == len(theirs) == 6
    for (s1, y1), (s2, y2) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(s1, s2, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(y1, y2)


def queue_operations(tf):
    fifo = tf.FIFOQueue(5, [tf.int32, tf.float32], shapes=[[], [2]])
    padding = tf.PaddingFIFOQueue(5, [tf.int32], shapes=[[None]])
    priority = tf.PriorityQueue(5, [tf.string], shapes=[[]])
    row = tf.placeholder(tf.int32, [None])
    pad_in = padding.enqueue([row])
    steps = [  # (fetch, feed)
        (fifo.enqueue_many([[1, 2, 3], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]]), None),
        (fifo.dequeue(), None),
        (fifo.size(), None),
        (fifo.dequeue_many(2), None),
        (pad_in, {row: [4]}),
        (pad_in, {row: [1, 2, 3]}),
        (padding.dequeue_many(2), None),
        (priority.enqueue([tf.constant(5, tf.int64), b"five"]), None),
        (priority.enqueue([tf.constant(2, tf.int64), b"two"]), None),
        (priority.dequeue(), None),
        (fifo.enqueue_many([[7, 8], [[0.0, 1.0], [1.0, 0.0]]]), None),
        (fifo.close(), None),
        (fifo.is_closed(), None),
        (fifo.dequeue_many(3), None),  # closed, too few: OutOfRangeError, nothing taken
        (fifo.dequeue_up_to(5), None),
        (fifo.dequeue(), None),  # closed and empty
        (fifo.enqueue([9, [0.0, 0.0]]), None),  # closed: CancelledError
    ]

    def run(sess, steps):
        out = []
        for fetch, feed in steps:
            try:
                out.append(sess.run(fetch, feed))
            except tf.errors.OpError as e:
                out.append(type(e).__name__)
        return out

    return steps, run


def test_queue_operations_and_errors_match():
    ours, theirs = run_both(queue_operations)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        if isinstance(b, str):
            assert a == b
        elif b is None:
            assert a is None
        elif isinstance(b, list | tuple):
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_array_equal(a, b)


def file_readers(tf, text_path, blob_path):
    lines = tf.train.string_input_producer([text_path], num_epochs=1, shuffle=False)
    line = tf.TextLineReader(skip_header_lines=1).read(lines)
    blobs = tf.train.string_input_producer([blob_path, text_path], num_epochs=1, shuffle=False)
    whole = tf.WholeFileReader().read(blobs)
    contents = tf.read_file(blob_path)

    def run(sess, fetches):
        sess.run(tf.local_variables_initializer())
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord)
        got = [sess.run(line) for _ in range(2)] + [sess.run(whole) for _ in range(2)] + [sess.run(contents)]
        for fetch in (line, whole):
            try:
                sess.run(fetch)
            except tf.errors.OutOfRangeError:
                got.append("OutOfRangeError")
        coord.request_stop()
        coord.join(threads)
        return got

    return None, run


def test_text_whole_file_readers_and_read_file(tmp_path):
    text = tmp_path / "table.csv"
    text.write_bytes(b"a,b\n1,2\n3,4\n")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)))
    ours, theirs = run_both(file_readers, str(text), str(blob))
    assert ours == theirs
