"""tf.data.Dataset.from_ray: a Ray Data dataset read by the consuming device.

On the Ray target the device actor runs the Ray dataset (iter_batches), so
these tests request the `ray_cluster` fixture.
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf

ray_data = pytest.importorskip("ray.data")
pytestmark = pytest.mark.usefixtures("ray_cluster")


def _all(sess, element):
    out = []
    while True:
        try:
            out.append(sess.run(element))
        except tf.errors.OutOfRangeError:
            return out


def _with_columns(batch):
    ids = batch["id"]
    return {
        "id": ids,
        "x": np.stack([ids.astype(np.float32), -ids.astype(np.float32)], axis=1),
        "name": np.array([f"row{i}" for i in ids]),
        "unused": ids * 0,
    }


def test_batches_of_the_columns_asked_for_with_static_specs():
    rds = ray_data.range(10, override_num_blocks=3).map_batches(_with_columns)
    with tf.Graph().as_default():
        ds = tf.data.Dataset.from_ray(rds, columns=["x", "id", "name"], batch_size=4)
        assert ds.output_types == {"id": tf.int64, "name": tf.string, "x": tf.float32}
        assert ds.output_shapes["x"].as_list() == [None, 2]
        assert ds.output_shapes["id"].as_list() == [None]
        batch = ds.make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            got = _all(sess, batch)
    assert all(set(g) == {"x", "id", "name"} for g in got)
    ids = np.concatenate([g["id"] for g in got])
    assert sorted(ids.tolist()) == list(range(10))
    assert max(len(g["id"]) for g in got) <= 4
    x = np.concatenate([g["x"] for g in got])
    np.testing.assert_array_equal(x[:, 0], ids.astype(np.float32))
    names = np.concatenate([g["name"] for g in got])
    assert names.tolist() == [f"row{i}".encode() for i in ids]


def test_a_training_loop_reads_a_ray_dataset_on_the_device_with_several_steps_per_run():
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(512, 4)).astype(np.float32)
    true_w = np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)
    rds = ray_data.from_numpy(xs).map_batches(lambda b: {"x": b["data"], "y": b["data"] @ true_w})
    with tf.Graph().as_default():
        ds = tf.data.Dataset.from_ray(rds, batch_size=32).repeat(20)
        batch = ds.make_one_shot_iterator().get_next()
        w = tf.Variable(np.zeros((4, 1), np.float32))
        loss = tf.reduce_mean(tf.square(tf.matmul(batch["x"], w) - batch["y"]))
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        options = tf.RunOptions(steps_per_run=16)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(10):
                sess.run(train, options=options)
            np.testing.assert_allclose(sess.run(w), true_w, atol=1e-3)


def test_unknown_columns_are_named():
    rds = ray_data.range(4)
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match=r"no column \['nope'\].*it has \['id'\]"):
            tf.data.Dataset.from_ray(rds, columns=["nope"])
