"""Queues, readers, queue runners and the Coordinator, on the local target (one test on Ray).

The ops under test (tests/ops/cases_queues.py lists them): FIFOQueueV2,
PaddingFIFOQueueV2, PriorityQueueV2, RandomShuffleQueueV2, QueueEnqueueV2,
QueueEnqueueManyV2, QueueDequeueV2, QueueDequeueManyV2, QueueDequeueUpToV2,
QueueCloseV2, QueueSizeV2, QueueIsClosedV2, CountUpTo, TFRecordReaderV2,
WholeFileReaderV2, IdentityReaderV2, TextLineReaderV2, FixedLengthRecordReaderV2,
ReaderReadV2, ReaderReadUpToV2, ReaderNumRecordsProducedV2,
ReaderNumWorkUnitsCompletedV2, ReaderResetV2, ReadFile.

Nothing here sleeps or times: a test that needs a dequeue to be waiting waits
on the queue's own condition variable until it is (`waiting_dequeues`).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import raygraph as tf

JOIN_S = 60  # a bound on joins, so that a broken wait fails instead of hanging the suite


def runtime_queue(sess, name: str):
    """The run-time queue `name` of a local session (white box: to see who waits)."""
    scheduler = sess._scheduler
    (runner,) = [r for r in scheduler.client._runners.values() if scheduler.session_id in r.sessions]
    return runner.sessions[scheduler.session_id].resources[name]


def waiting(sess, name: str, dequeues: int = 0, enqueues: int = 0) -> None:
    """Returns once the queue (made by an earlier run) has that many dequeues (or enqueues) waiting."""
    queue = runtime_queue(sess, name)
    with queue.cond:
        done = queue.cond.wait_for(
            lambda: len(queue._dequeuers) >= dequeues and len(queue._enqueuers) >= enqueues, JOIN_S
        )
    assert done, f"nothing came to wait on {name}"


def in_thread(fn):
    """Runs fn() on a thread; returns (thread, results list, errors list)."""
    results, failures = [], []

    def body():
        try:
            results.append(fn())
        except Exception as e:  # noqa: BLE001 - the test inspects it
            failures.append(e)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, results, failures


def joined(thread) -> None:
    thread.join(JOIN_S)
    assert not thread.is_alive(), "the thread still runs"


# -- queues ---------------------------------------------------------------------------


def test_fifo_queue_keeps_order_and_shapes():
    q = tf.FIFOQueue(10, [tf.float32, tf.int32], shapes=[[2], []])
    fill = q.enqueue_many([[[1, 2], [3, 4], [5, 6]], [7, 8, 9]])
    x, y = q.dequeue()
    xs, ys = q.dequeue_many(2)
    assert x.shape.as_list() == [2] and y.shape.as_list() == []
    assert xs.shape.as_list() == [2, 2] and ys.shape.as_list() == [2]
    assert [op.type for op in (q.queue_ref.op, fill, x.op, xs.op)] == [
        "FIFOQueueV2",
        "QueueEnqueueManyV2",
        "QueueDequeueV2",
        "QueueDequeueManyV2",
    ]
    with tf.Session("local") as sess:
        sess.run(fill)
        assert sess.run(q.size()) == 3
        first = sess.run([x, y])
        np.testing.assert_array_equal(first[0], [1, 2])
        assert first[1] == 7
        rest = sess.run([xs, ys])
        np.testing.assert_array_equal(rest[0], [[3, 4], [5, 6]])
        np.testing.assert_array_equal(rest[1], [8, 9])
        assert not sess.run(q.is_closed())


def test_one_component_and_named_queues():
    single = tf.FIFOQueue(3, tf.int64, shapes=[[]])
    named = tf.FIFOQueue(3, [tf.int32, tf.string], shapes=[[], []], names=["n", "s"])
    puts = [single.enqueue(5), named.enqueue({"n": 1, "s": b"one"})]
    got_single = single.dequeue()
    got_named = named.dequeue()
    assert isinstance(got_single, tf.Tensor) and set(got_named) == {"n", "s"}
    with pytest.raises(ValueError, match="dictionary"):
        named.enqueue([1, "x"])
    with tf.Session("local") as sess:
        sess.run(puts)
        assert sess.run(got_single) == 5
        assert sess.run(got_named) == {"n": 1, "s": b"one"}


def test_close_drains_then_out_of_range_and_refuses_enqueues():
    q = tf.FIFOQueue(10, tf.int32, shapes=[[]])
    fill = q.enqueue_many([[1, 2, 3]])
    up_to = q.dequeue_up_to(2)
    with tf.Session("local") as sess:
        sess.run(fill)
        sess.run(q.close())
        assert sess.run(q.is_closed())
        with pytest.raises(tf.errors.CancelledError, match="is closed"):
            sess.run(q.enqueue(4))
        with pytest.raises(tf.errors.OutOfRangeError, match="insufficient elements"):
            sess.run(q.dequeue_many(5))  # too few: nothing is taken
        np.testing.assert_array_equal(sess.run(up_to), [1, 2])
        np.testing.assert_array_equal(sess.run(up_to), [3])  # what is left
        with pytest.raises(tf.errors.OutOfRangeError, match=r"requested 1, current size 0"):
            sess.run(q.dequeue())


def test_a_dequeue_waits_for_another_threads_enqueue_on_the_same_session():
    q = tf.FIFOQueue(4, tf.float32, shapes=[[]], name="q")
    value = tf.placeholder(tf.float32, [])
    put = q.enqueue(value)
    pair = q.dequeue_many(2) * 10.0
    with tf.Session("local") as sess:
        thread, results, failures = in_thread(lambda: sess.run(pair))
        sess.run(put, {value: 1.0})  # the session serves this thread while the other waits
        waiting(sess, "q", dequeues=1)
        assert sess.run(q.size()) == 1
        sess.run(put, {value: 2.0})
        joined(thread)
        assert not failures
        np.testing.assert_array_equal(results[0], [10.0, 20.0])


def test_a_waiting_dequeue_leaves_a_multi_unit_run_and_other_sessions_alone():
    q = tf.FIFOQueue(4, tf.float32, shapes=[[]], name="q")
    heavy = tf.matmul(tf.ones([64, 64]), tf.ones([64, 64]))  # a unit of its own
    total = q.dequeue() + tf.reduce_sum(heavy)
    with tf.Session("local") as sess, tf.Session("local") as other:
        sess.run(q.size())  # makes the queue
        thread, results, failures = in_thread(lambda: sess.run(total))
        waiting(sess, "q", dequeues=1)
        assert other.run(tf.reduce_sum(heavy)) == 64.0**3
        sess.run(q.enqueue(1.0))
        joined(thread)
        assert not failures and results == [1.0 + 64.0**3]


def test_a_deadline_ends_a_waiting_dequeue_and_takes_nothing():
    q = tf.FIFOQueue(4, tf.int32, shapes=[[]])
    got = q.dequeue()
    with tf.Session("local") as sess:
        with pytest.raises(tf.errors.DeadlineExceededError):
            sess.run(got, options=tf.RunOptions(timeout_in_ms=20))
        sess.run(q.enqueue(7))
        assert sess.run(got) == 7


def test_closing_the_session_cancels_a_waiting_dequeue():
    q = tf.FIFOQueue(4, tf.int32, shapes=[[]], name="q")
    got = q.dequeue()
    sess = tf.Session("local")
    sess.run(q.size())  # makes the queue
    thread, _, failures = in_thread(lambda: sess.run(got))
    waiting(sess, "q", dequeues=1)
    sess.close()
    joined(thread)
    assert isinstance(failures[0], tf.errors.CancelledError)


def test_close_with_cancel_pending_enqueues_cancels_a_blocked_enqueue():
    q = tf.FIFOQueue(1, tf.int32, shapes=[[]], name="q")
    value = tf.placeholder(tf.int32, [])
    put = q.enqueue(value)
    with tf.Session("local") as sess:
        sess.run(put, {value: 1})
        thread, _, failures = in_thread(lambda: sess.run([put, q.size()], {value: 2}))
        waiting(sess, "q", enqueues=1)
        sess.run(q.close(cancel_pending_enqueues=True))
        joined(thread)
        assert isinstance(failures[0], tf.errors.CancelledError)
        assert sess.run(q.dequeue()) == 1


def test_a_plain_close_lets_a_waiting_enqueue_finish():
    q = tf.FIFOQueue(1, tf.int32, shapes=[[]], name="q")
    value = tf.placeholder(tf.int32, [])
    put = q.enqueue(value)
    got = q.dequeue()
    with tf.Session("local") as sess:
        sess.run(put, {value: 1})
        thread, _, failures = in_thread(lambda: sess.run([put, q.size()], {value: 2}))
        waiting(sess, "q", enqueues=1)
        sess.run(q.close())
        assert sess.run(got) == 1
        joined(thread)
        assert not failures
        assert sess.run(got) == 2
        with pytest.raises(tf.errors.OutOfRangeError):
            sess.run(got)


def test_enqueue_many_beyond_capacity_goes_in_as_room_frees():
    q = tf.FIFOQueue(2, tf.int32, shapes=[[]], name="q")
    put = q.enqueue_many([list(range(5))])
    got = q.dequeue()
    with tf.Session("local") as sess:
        thread, _, failures = in_thread(lambda: sess.run([put, q.size()]))
        assert [sess.run(got) for _ in range(5)] == [0, 1, 2, 3, 4]
        joined(thread)
        assert not failures


def test_shape_and_dtype_mismatches():
    q = tf.FIFOQueue(2, tf.float32, shapes=[[2]])
    with pytest.raises(ValueError, match="incompatible"):
        q.enqueue(tf.zeros([3]))
    with pytest.raises((TypeError, ValueError)):
        q.enqueue(tf.constant(["a", "b"]))
    fed = tf.placeholder(tf.float32, [None])
    with tf.Session("local") as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected \[2\], got \[3\]"):
            sess.run(q.enqueue(fed), {fed: [1, 2, 3]})


def test_random_shuffle_queue_is_seeded_and_keeps_min_after_dequeue():
    def run_once():
        with tf.Graph().as_default():
            q = tf.RandomShuffleQueue(20, min_after_dequeue=3, dtypes=tf.int32, shapes=[[]], seed=7, name="q")
            fill = q.enqueue_many([list(range(10))])
            some = q.dequeue_many(7)
            rest = q.dequeue_up_to(10)
            with tf.Session("local") as sess:
                sess.run(fill)
                first = sess.run(some).tolist()
                with pytest.raises(tf.errors.DeadlineExceededError):  # 3 are kept back
                    sess.run(q.dequeue(), options=tf.RunOptions(timeout_in_ms=20))
                sess.run(q.close())
                return first + sess.run(rest).tolist()

    order = run_once()
    assert sorted(order) == list(range(10)) and order != list(range(10))
    assert run_once() == order


def test_padding_fifo_queue_pads_a_batch():
    q = tf.PaddingFIFOQueue(5, [tf.int32, tf.string], shapes=[[None], []])
    value = tf.placeholder(tf.int32, [None])
    put = q.enqueue([value, "x"])
    batch, names = q.dequeue_many(2)
    assert batch.shape.as_list() == [2, None]
    with tf.Session("local") as sess:
        sess.run(put, {value: [1]})
        sess.run(put, {value: [2, 3, 4]})
        np.testing.assert_array_equal(sess.run(batch), [[1, 0, 0], [2, 3, 4]])


def test_priority_queue_gives_the_lowest_priority_first():
    q = tf.PriorityQueue(5, [tf.string], shapes=[[]])
    puts = [q.enqueue([tf.constant(p, tf.int64), s]) for p, s in ((3, b"c"), (1, b"a"), (2, b"b"))]
    priority, item = q.dequeue_many(3)
    with tf.Session("local") as sess:
        for put in puts:
            sess.run(put)
        got = sess.run([priority, item])
        assert got[0].tolist() == [1, 2, 3] and got[1].tolist() == [b"a", b"b", b"c"]


def test_a_shared_name_shares_the_queue():
    a = tf.FIFOQueue(3, tf.int32, shapes=[[]], shared_name="shared")
    b = tf.FIFOQueue(3, tf.int32, shapes=[[]], shared_name="shared")
    with tf.Session("local") as sess:
        sess.run(a.enqueue(4))
        assert sess.run(b.dequeue()) == 4
    with tf.Session("local") as sess:  # a queue belongs to its session
        assert sess.run(b.size()) == 0


# -- readers --------------------------------------------------------------------------


def write_records(directory, files: int = 2, per_file: int = 3) -> list[str]:
    paths = []
    for f in range(files):
        path = str(directory / f"data{f}.tfrecord")
        with tf.python_io.TFRecordWriter(path) as writer:
            for i in range(per_file):
                writer.write(f"{f}-{i}".encode())
        paths.append(path)
    return paths


def test_tfrecord_reader_reads_every_record_with_offsets_as_keys(tmp_path):
    paths = write_records(tmp_path)
    files = tf.FIFOQueue(5, tf.string, shapes=[[]])
    fill = files.enqueue_many([paths])
    reader = tf.TFRecordReader()
    key, value = reader.read(files)
    with tf.Session("local") as sess:
        sess.run([fill, files.close()])
        got = [sess.run([key, value]) for _ in range(6)]
        assert [v for _, v in got] == [b"0-0", b"0-1", b"0-2", b"1-0", b"1-1", b"1-2"]
        assert [k for k, _ in got[:3]] == [f"{paths[0]}:{o}".encode() for o in (0, 19, 38)]
        assert sess.run([reader.num_records_produced(), reader.num_work_units_completed()]) == [6, 1]
        with pytest.raises(tf.errors.OutOfRangeError):
            sess.run(value)
        sess.run(reader.reset())
        assert sess.run(reader.num_records_produced()) == 0


def test_other_readers_and_read_file(tmp_path):
    text = tmp_path / "lines.csv"
    text.write_bytes(b"header\none\ntwo\n")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(10)))
    queue = tf.FIFOQueue(10, tf.string, shapes=[[]])
    fill = queue.enqueue_many([[str(text), str(blob), str(blob), "work"]])
    line = tf.TextLineReader(skip_header_lines=1).read(queue)
    whole = tf.WholeFileReader().read(queue)
    fixed = tf.FixedLengthRecordReader(record_bytes=3, header_bytes=1).read_up_to(queue, 3)
    ident = tf.IdentityReader().read(queue)
    contents = tf.read_file(str(blob))
    assert [op.type for op in (line[0].op, fixed[0].op, contents.op)] == [
        "ReaderReadV2",
        "ReaderReadUpToV2",
        "ReadFile",
    ]
    with tf.Session("local") as sess:
        sess.run(fill)
        assert sess.run(line) == (f"{text}:2".encode(), b"one")
        assert sess.run(line) == (f"{text}:3".encode(), b"two")
        assert sess.run(whole) == (str(blob).encode(), bytes(range(10)))
        keys, values = sess.run(fixed)
        assert values.tolist() == [b"\x01\x02\x03", b"\x04\x05\x06", b"\x07\x08\x09"]
        assert keys.tolist()[0] == f"{blob}:0".encode()
        assert sess.run(ident) == (b"work", b"work")
        assert sess.run(contents) == bytes(range(10))


# -- Coordinator ----------------------------------------------------------------------


def test_coordinator_reraises_the_first_error_and_treats_out_of_range_as_clean():
    coord = tf.train.Coordinator()
    with coord.stop_on_exception():
        raise tf.errors.OutOfRangeError(None, None, "done")
    assert coord.should_stop()
    coord.join([])  # a clean stop raises nothing

    coord = tf.train.Coordinator()
    go = threading.Event()

    def worker():
        with coord.stop_on_exception():
            go.wait(JOIN_S)
            raise ValueError("worker failed")

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    assert not coord.should_stop()
    go.set()
    assert coord.wait_for_stop(JOIN_S)
    with pytest.raises(ValueError, match="worker failed"):
        coord.join(threads)
    assert coord.joined


def test_coordinator_names_threads_that_do_not_stop():
    coord = tf.train.Coordinator()
    release = threading.Event()
    stuck = threading.Thread(target=release.wait, name="stuck-thread")
    stuck.start()
    coord.request_stop()
    with pytest.raises(RuntimeError, match="stuck-thread"):
        coord.join([stuck], stop_grace_period_secs=0)
    release.set()
    stuck.join()
    coord.clear_stop()
    assert not coord.should_stop()


# -- queue runners and input pipelines ------------------------------------------------


def run_pipeline(sess, fetch) -> list:
    """Runs `fetch` until OutOfRangeError with queue runners and a Coordinator, TF1 style."""
    sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
    coord = tf.train.Coordinator()
    threads = tf.train.start_queue_runners(sess=sess, coord=coord)
    got = []
    try:
        while not coord.should_stop():
            got.append(sess.run(fetch))
    except tf.errors.OutOfRangeError:
        pass
    finally:
        coord.request_stop()
    coord.join(threads)
    return got


def test_slice_input_producer_and_batch_give_every_row_in_order():
    images = np.arange(10, dtype=np.float32).reshape(5, 2)
    labels = np.arange(5, dtype=np.int64)
    image, label = tf.train.slice_input_producer([images, labels], num_epochs=2, shuffle=False)
    batch = tf.train.batch([image, label], batch_size=3, allow_smaller_final_batch=True)
    assert batch[0].shape.as_list() == [None, 2]
    with tf.Session("local") as sess:
        got = run_pipeline(sess, batch)
    assert [len(b[1]) for b in got] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), np.tile(labels, 2))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in got]), np.tile(images, (2, 1)))


def test_limit_epochs_counts_in_a_local_variable():
    limited = tf.train.limit_epochs(tf.constant([1, 2]), num_epochs=2)
    (epochs,) = tf.local_variables()
    assert epochs.name == "limit_epochs/epochs:0"
    assert [op.type for op in tf.get_default_graph().get_operations() if op.type == "CountUpTo"] == [
        "CountUpTo"
    ]
    with tf.Session("local") as sess:
        sess.run(tf.local_variables_initializer())
        sess.run(limited)
        sess.run(limited)
        with pytest.raises(tf.errors.OutOfRangeError, match="Reached limit of 2"):
            sess.run(limited)


def test_string_input_producer_to_shuffle_batch(tmp_path):
    paths = write_records(tmp_path, files=3, per_file=4)
    files = tf.train.string_input_producer(paths, num_epochs=1, seed=3)
    assert files.queue_ref.op.name == "input_producer"
    _, record = tf.TFRecordReader().read(files)
    batch = tf.train.shuffle_batch(
        [record], batch_size=5, capacity=8, min_after_dequeue=2, seed=1, allow_smaller_final_batch=True
    )
    with tf.Session("local") as sess:
        got = run_pipeline(sess, batch)
    records = sorted(r for b in got for r in b.tolist())
    assert records == sorted(f"{f}-{i}".encode() for f in range(3) for i in range(4))


def test_batch_join_shuffle_batch_join_and_dicts():
    a = tf.train.range_input_producer(4, num_epochs=1, shuffle=False).dequeue()
    b = tf.train.range_input_producer(4, num_epochs=1, shuffle=False).dequeue() + 100
    joined_batch = tf.train.batch_join([{"v": a}, {"v": b}], batch_size=2, allow_smaller_final_batch=True)
    assert set(joined_batch) == {"v"}
    with tf.Session("local") as sess:
        got = run_pipeline(sess, joined_batch)
    assert sorted(v for g in got for v in g["v"].tolist()) == [0, 1, 2, 3, 100, 101, 102, 103]

    with tf.Graph().as_default():
        x = tf.train.range_input_producer(6, num_epochs=1, shuffle=False).dequeue()
        y = tf.train.range_input_producer(6, num_epochs=1, shuffle=False).dequeue()
        pairs = tf.train.shuffle_batch_join(
            [[x, x * 2], [y, y * 2]], 4, 10, 2, seed=1, allow_smaller_final_batch=True
        )
        with tf.Session("local") as sess:
            got = run_pipeline(sess, pairs)
        firsts = np.concatenate([g[0] for g in got])
        np.testing.assert_array_equal(np.concatenate([g[1] for g in got]), firsts * 2)
        assert sorted(firsts.tolist()) == sorted(list(range(6)) * 2)


def test_dynamic_pad_and_enqueue_many_batches():
    rows = tf.constant([[1, 2, 3], [4, 5, 6]])
    many = tf.train.batch([rows], batch_size=2, enqueue_many=True)
    length = tf.train.range_input_producer(3, num_epochs=1, shuffle=False).dequeue()
    padded = tf.train.batch([tf.range(length + 1)], batch_size=3, dynamic_pad=True)
    assert padded.shape.as_list() == [3, None]
    with tf.Session("local") as sess:
        sess.run(tf.local_variables_initializer())
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord)
        np.testing.assert_array_equal(sess.run(many), [[1, 2, 3], [4, 5, 6]])
        np.testing.assert_array_equal(sess.run(padded), [[0, 0, 0], [0, 1, 0], [0, 1, 2]])
        coord.request_stop()
        coord.join(threads)


def test_a_failing_enqueue_stops_the_coordinator_with_its_error():
    fed = tf.placeholder(tf.float32, [])  # never fed: the runner's run fails
    q = tf.FIFOQueue(2, tf.float32, shapes=[[]])
    tf.train.add_queue_runner(tf.train.QueueRunner(q, [q.enqueue(fed)]))
    with tf.Session("local") as sess:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord)
        assert coord.wait_for_stop(JOIN_S)
        with pytest.raises(tf.errors.InvalidArgumentError, match="must feed a value"):
            coord.join(threads)


def test_closing_the_session_ends_runner_threads_blocked_on_a_full_queue():
    q = tf.FIFOQueue(2, tf.int32, shapes=[[]], name="q")
    tf.train.add_queue_runner(tf.train.QueueRunner(q, [q.enqueue(1)] * 2))
    sess = tf.Session("local")
    sess.run(q.size())  # makes the queue
    coord = tf.train.Coordinator()
    threads = tf.train.start_queue_runners(sess, coord)
    waiting(sess, "q", enqueues=1)  # full: the runners wait for room
    sess.close()  # the runners' runs end (CancelledError, or a closed session), as in TF
    with pytest.raises((tf.errors.CancelledError, RuntimeError), match="[Cc]losed"):
        coord.join(threads, stop_grace_period_secs=JOIN_S)
    assert not any(t.is_alive() for t in threads)


# -- on Ray ----------------------------------------------------------------------------


@pytest.mark.usefixtures("ray_cluster")
def test_queue_runners_feed_a_dequeue_on_ray_actors():
    image, label = tf.train.slice_input_producer(
        [np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6)], num_epochs=1, shuffle=False
    )
    batch = tf.train.batch([image, label], batch_size=4, allow_smaller_final_batch=True)
    with tf.Session() as sess:
        got = run_pipeline(sess, batch)
        never = tf.FIFOQueue(1, tf.int32, shapes=[[]]).dequeue()
        with pytest.raises(tf.errors.DeadlineExceededError):
            sess.run(never, options=tf.RunOptions(timeout_in_ms=200))
    assert [b[1].tolist() for b in got] == [[0, 1, 2, 3], [4, 5]]
