"""tf.train.Saver and the checkpoint helpers of tf.train, run through real Sessions."""

from __future__ import annotations

import os
import pickle
import shutil
import textwrap

import numpy as np
import pytest
import safetensors.numpy

import raygraph as tf
from raygraph import io
from tests.raygraph.test_checkpoint_format import STALL_HALFWAY, disk_full, halfway_writes, kill_when_halfway

VALUES = {
    "dense/kernel": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "dense/bias": np.array([0.25, -0.5, 1.0, 2.0], np.float32),
    "scale": np.float32(3.5),
    "count": np.int64(2**40 + 3),
    "flags": np.array([True, False, True]),
    "table": np.arange(24, dtype=np.float64).reshape(2, 3, 4),
    "ids": np.array([[1, -2], [3, 4]], np.int32),
    "half": np.array([0.5, 1.5], np.float16),
}


def build_model():
    """Variables of several dtypes and shapes, plus ops that zero them; returns (vars, zero_op)."""
    variables = {}
    with tf.name_scope("dense"):
        variables["dense/kernel"] = tf.Variable(VALUES["dense/kernel"], name="kernel")
        variables["dense/bias"] = tf.Variable(VALUES["dense/bias"], name="bias")
    for name in ("scale", "count", "flags", "table", "ids", "half"):
        variables[name] = tf.Variable(VALUES[name], name=name)
    zero = tf.group(*[v.assign(np.zeros(v.shape.as_list(), v.dtype.np)) for v in variables.values()])
    return variables, zero


def fetch(sess, variables) -> dict:
    return sess.run({name: v for name, v in variables.items()})


def assert_values(got: dict, expected: dict = VALUES):
    for name, value in expected.items():
        assert np.asarray(got[name]).dtype == np.asarray(value).dtype, name
        np.testing.assert_array_equal(got[name], value, err_msg=name)


# -- round trips -------------------------------------------------------------------


def test_round_trip_of_several_dtypes_and_shapes(tmp_path):
    variables, zero = build_model()
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "model.ckpt"))
        assert path == str(tmp_path / "model.ckpt")
        sess.run(zero)
        assert not fetch(sess, variables)["flags"].any()
        saver.restore(sess, path)
        assert_values(fetch(sess, variables))
    assert dict(tf.train.list_variables(path)) == {k: list(np.shape(v)) for k, v in VALUES.items()}


def test_a_checkpoint_opens_with_safetensors(tmp_path):
    build_model()
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=3)
    loaded = safetensors.numpy.load_file(path + ".safetensors")
    assert sorted(loaded) == sorted(VALUES)
    assert_values(loaded)


def test_restore_into_a_fresh_session_and_a_fresh_graph(tmp_path):
    variables, _ = build_model()
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=10)
    with tf.Session("local") as sess:  # a new session: its variables start uninitialized
        saver.restore(sess, path)
        assert_values(fetch(sess, variables))
    graph = tf.Graph()
    with graph.as_default():
        variables, _ = build_model()
        saver = tf.train.Saver()
    with tf.Session("local", graph=graph) as sess:
        saver.restore(sess, tf.train.latest_checkpoint(str(tmp_path)))
        assert_values(fetch(sess, variables))


@pytest.mark.usefixtures("ray_cluster")  # fake GPUs, and variables gathered from three actors
def test_variables_on_several_devices(tmp_path):
    with tf.device("/cpu:0"):
        a = tf.Variable([1.0, 2.0], name="a")
    with tf.device("/gpu:0"):
        b = tf.Variable([[3, 4]], name="b")
    with tf.device("/gpu:1"):
        c = tf.Variable(True, name="c")
    clear = tf.group(a.assign([0.0, 0.0]), b.assign([[0, 0]]), c.assign(False))
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
        sess.run(clear)
        saver.restore(sess, path)
        got = sess.run([a, b, c])
    np.testing.assert_array_equal(got[0], [1.0, 2.0])
    np.testing.assert_array_equal(got[1], [[3, 4]])
    assert bool(got[2]) is True


def test_var_list_dict_renames(tmp_path):
    w = tf.Variable([1.0, 2.0], name="w")
    step = tf.Variable(5, name="step")
    saver = tf.train.Saver({"model/weights": w, "global": step})
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
    assert tf.train.list_variables(path) == [("global", []), ("model/weights", [2])]
    np.testing.assert_array_equal(tf.train.load_variable(path, "model/weights"), [1.0, 2.0])
    graph = tf.Graph()
    with graph.as_default():
        other = tf.Variable([0.0, 0.0], name="other_name")
        saver = tf.train.Saver({"model/weights": other})
    with tf.Session("local", graph=graph) as sess:
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(other), [1.0, 2.0])


def test_var_list_subset(tmp_path):
    a = tf.Variable(1.0, name="a")
    tf.Variable(2.0, name="b")
    saver = tf.train.Saver([a])
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
    assert tf.train.list_variables(path) == [("a", [])]


def test_reshape_restores_a_value_of_another_shape(tmp_path):
    w = tf.Variable(np.arange(6, dtype=np.float32), name="w")
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        path = saver.save(sess, str(tmp_path / "m"))
    graph = tf.Graph()
    with graph.as_default():
        w2 = tf.Variable(np.zeros([2, 3], np.float32), name="w")
        saver = tf.train.Saver(reshape=True)
    with tf.Session("local", graph=graph) as sess:
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(w2), np.arange(6).reshape(2, 3))


# -- naming, the state file, pruning -------------------------------------------------


def test_global_step_naming(tmp_path):
    w = tf.Variable(1.0, name="w")
    gs = tf.Variable(42, dtype=tf.int64, name="global_step", trainable=False)
    saver = tf.train.Saver([w])
    padded = tf.train.Saver([w], pad_step_number=True)
    prefix = str(tmp_path / "model.ckpt")
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        assert saver.save(sess, prefix, global_step=100) == prefix + "-100"
        assert saver.save(sess, prefix, global_step=np.int64(7)) == prefix + "-7"
        assert saver.save(sess, prefix, global_step=gs) == prefix + "-42"
        assert saver.save(sess, prefix, global_step=gs.value()) == prefix + "-42"
        assert padded.save(sess, prefix, global_step=3) == prefix + "-00000003"
    assert tf.train.checkpoint_exists(prefix + "-100")
    assert os.path.isfile(prefix + "-100" + io.CHECKPOINT_SUFFIX)


def test_latest_checkpoint_and_state(tmp_path):
    d = str(tmp_path)
    assert tf.train.latest_checkpoint(d) is None
    assert tf.train.get_checkpoint_state(d) is None
    w = tf.Variable(1.0, name="w")
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        for step in (1, 2, 3):
            saver.save(sess, os.path.join(d, "model.ckpt"), global_step=step)
        saver.save(sess, os.path.join(d, "other"), global_step=9, latest_filename="other_state")
    prefixes = [os.path.join(d, f"model.ckpt-{s}") for s in (1, 2, 3)]
    assert tf.train.latest_checkpoint(d) == prefixes[-1]
    state = tf.train.get_checkpoint_state(d)
    assert state.model_checkpoint_path == prefixes[-1]
    assert list(state.all_model_checkpoint_paths) == prefixes
    text = open(os.path.join(d, "checkpoint")).read()
    assert text.splitlines()[0] == f'model_checkpoint_path: "{prefixes[-1]}"'
    assert f'all_model_checkpoint_paths: "{prefixes[0]}"' in text
    assert tf.train.latest_checkpoint(d, "other_state") == os.path.join(d, "other-9")


def test_relative_paths_survive_moving_the_directory(tmp_path):
    w = tf.Variable([1.0, 2.0], name="w")
    saver = tf.train.Saver(save_relative_paths=True)
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        saver.save(sess, str(tmp_path / "a" / "model.ckpt"), global_step=5)  # "a" is created
    assert 'model_checkpoint_path: "model.ckpt-5"' in (tmp_path / "a" / "checkpoint").read_text()
    shutil.move(str(tmp_path / "a"), str(tmp_path / "b"))
    latest = tf.train.latest_checkpoint(str(tmp_path / "b"))
    assert latest == str(tmp_path / "b" / "model.ckpt-5")
    np.testing.assert_array_equal(tf.train.load_variable(str(tmp_path / "b"), "w"), [1.0, 2.0])


def test_update_checkpoint_state(tmp_path):
    d = str(tmp_path)
    tf.train.update_checkpoint_state(d, "m-2", ["m-1", "m-2"], all_model_checkpoint_timestamps=[1.0, 2.0])
    state = tf.train.get_checkpoint_state(d)
    assert state.model_checkpoint_path == os.path.join(d, "m-2")
    assert state.all_model_checkpoint_paths == [os.path.join(d, "m-1"), os.path.join(d, "m-2")]
    assert state.all_model_checkpoint_timestamps == [1.0, 2.0]


def test_latest_checkpoint_whose_file_is_gone(tmp_path):
    w = tf.Variable(1.0, name="w")
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        path = saver.save(sess, str(tmp_path / "m"))
    tf.train.remove_checkpoint(path)
    with pytest.warns(RuntimeWarning, match="Couldn't match files"):
        assert tf.train.latest_checkpoint(str(tmp_path)) is None


def test_max_to_keep_prunes_old_checkpoints(tmp_path):
    w = tf.Variable(1.0, name="w")
    saver = tf.train.Saver(max_to_keep=2)
    keep_all = tf.train.Saver(max_to_keep=None)
    prefix = str(tmp_path / "model.ckpt")
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        for step in range(5):
            saver.save(sess, prefix, global_step=step)
        saver.save(sess, prefix, global_step=4)  # the same name again is not a new one
        assert saver.last_checkpoints == [f"{prefix}-3", f"{prefix}-4"]
        files = sorted(n for n in os.listdir(tmp_path) if n.endswith(io.CHECKPOINT_SUFFIX))
        assert files == [f"model.ckpt-{s}{io.CHECKPOINT_SUFFIX}" for s in (3, 4)]
        assert list(tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths) == [
            f"{prefix}-3",
            f"{prefix}-4",
        ]
        for step in range(10, 14):
            keep_all.save(sess, prefix, global_step=step)
    assert all(tf.train.checkpoint_exists(f"{prefix}-{s}") for s in range(10, 14))


def test_keep_checkpoint_every_n_hours(tmp_path, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr("raygraph.train.saver.time.time", lambda: clock[0])
    w = tf.Variable(1.0, name="w")
    saver = tf.train.Saver(max_to_keep=1, keep_checkpoint_every_n_hours=1.0)
    prefix = str(tmp_path / "m")
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        for step in range(6):
            clock[0] += 1800  # half an hour per save
            saver.save(sess, prefix, global_step=step)
    kept = sorted(
        int(n.split("-")[1].split(".")[0]) for n in os.listdir(tmp_path) if n.endswith(io.CHECKPOINT_SUFFIX)
    )
    assert kept == [2, 4, 5]  # the first of each hour after the first, besides the newest


def test_recover_last_checkpoints(tmp_path):
    w = tf.Variable(1.0, name="w")
    saver = tf.train.Saver(max_to_keep=2)
    prefix = str(tmp_path / "m")
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        for step in range(2):
            saver.save(sess, prefix, global_step=step)
        restarted = tf.train.Saver(max_to_keep=2)
        state = tf.train.get_checkpoint_state(str(tmp_path))
        restarted.recover_last_checkpoints(list(state.all_model_checkpoint_paths) + [f"{prefix}-77"])
        assert restarted.last_checkpoints == [f"{prefix}-0", f"{prefix}-1"]
        restarted.save(sess, prefix, global_step=2)
    assert not tf.train.checkpoint_exists(f"{prefix}-0")
    assert tf.train.checkpoint_exists(f"{prefix}-1")


# -- the graph is not touched by save and restore ------------------------------------


def test_save_and_restore_on_a_finalized_graph_add_no_ops(tmp_path):
    variables, zero = build_model()
    saver = tf.train.Saver()
    init = tf.global_variables_initializer()
    graph = tf.get_default_graph()
    graph.finalize()
    version = graph.version
    with tf.Session("local") as sess:
        sess.run(init)
        for step in range(3):
            path = saver.save(sess, str(tmp_path / "m"), global_step=step)
            sess.run(zero)
            saver.restore(sess, path)
        assert_values(fetch(sess, variables))
    assert graph.version == version


def test_restore_ops_are_built_once_under_save(tmp_path):
    tf.Variable(1.0, name="w")
    tf.Variable(2.0, name="v")
    before = tf.get_default_graph().version
    tf.train.Saver()
    names = [op.name for op in tf.get_default_graph().get_operations()[before:]]
    assert all(n.startswith("save/") for n in names)
    assert "save/restore_all" in names
    assert len(names) == 2 * 2 + 2  # a placeholder and an Assign per variable, the keys Const, the group
    tf.train.Saver()
    assert tf.get_default_graph().get_operation_by_name("save_1/restore_all")


def test_defer_build(tmp_path):
    saver = tf.train.Saver(defer_build=True)
    w = tf.Variable(3.0, name="w")
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        with pytest.raises(RuntimeError, match="build"):
            saver.save(sess, str(tmp_path / "m"))
        saver.build()
        path = saver.save(sess, str(tmp_path / "m"))
    assert tf.train.list_variables(path) == [("w", [])]


# -- errors --------------------------------------------------------------------------


def saved_checkpoint(tmp_path, value=(1.0, 2.0), name="w"):
    """A checkpoint of one variable, made in its own graph; returns its prefix."""
    graph = tf.Graph()
    with graph.as_default():
        w = tf.Variable(np.array(value, np.float32), name=name)
        saver = tf.train.Saver()
    with tf.Session("local", graph=graph) as sess:
        sess.run(w.initializer)
        return saver.save(sess, str(tmp_path / "m"))


def test_restore_missing_variable_is_not_found(tmp_path):
    path = saved_checkpoint(tmp_path)
    tf.Variable([1.0, 2.0], name="w")
    tf.Variable([1.0], name="extra")
    saver = tf.train.Saver()
    with tf.Session("local") as sess, pytest.raises(tf.errors.NotFoundError) as info:
        saver.restore(sess, path)
    assert "'extra'" in str(info.value) and path in str(info.value)


def test_restore_shape_mismatch(tmp_path):
    path = saved_checkpoint(tmp_path)
    tf.Variable([1.0, 2.0, 3.0], name="w")
    saver = tf.train.Saver()
    with tf.Session("local") as sess, pytest.raises(tf.errors.InvalidArgumentError) as info:
        saver.restore(sess, path)
    message = str(info.value)
    assert "'w'" in message and "[3]" in message and "[2]" in message and path in message


def test_restore_dtype_mismatch(tmp_path):
    path = saved_checkpoint(tmp_path)
    tf.Variable([1, 2], name="w")
    saver = tf.train.Saver()
    with tf.Session("local") as sess, pytest.raises(tf.errors.InvalidArgumentError) as info:
        saver.restore(sess, path)
    message = str(info.value)
    assert "'w'" in message and "int32" in message and "float32" in message and path in message


def test_restore_from_nothing(tmp_path):
    tf.Variable(1.0, name="w")
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        with pytest.raises(ValueError, match="not a valid checkpoint"):
            saver.restore(sess, str(tmp_path / "nope"))
        with pytest.raises(ValueError, match="None"):
            saver.restore(sess, None)
    with pytest.raises(tf.errors.NotFoundError):
        tf.train.load_variable(str(tmp_path / "nope"), "w")
    (tmp_path / "tf.ckpt.index").write_bytes(b"written by TensorFlow")
    with tf.Session("local") as sess, pytest.raises(ValueError, match="is a TensorFlow checkpoint"):
        saver.restore(sess, str(tmp_path / "tf.ckpt"))
    with pytest.raises(ValueError, match="Couldn't find 'checkpoint' file"):
        tf.train.list_variables(str(tmp_path))


def test_load_variable_of_a_missing_name(tmp_path):
    path = saved_checkpoint(tmp_path)
    with pytest.raises(tf.errors.NotFoundError, match="Key nope not found"):
        tf.train.load_variable(path, "nope")
    reader = tf.train.load_checkpoint(path)
    assert reader.has_tensor("w") and not reader.has_tensor("nope")
    assert reader.get_variable_to_dtype_map() == {"w": tf.float32}


def test_bad_var_lists():
    w = tf.Variable(1.0, name="w")
    with pytest.raises(ValueError, match="No variables to save"):
        tf.train.Saver([])
    with pytest.raises(ValueError, match="same name: w"):
        tf.train.Saver([w, w])
    with pytest.raises(ValueError, match="two names"):
        tf.train.Saver({"a": w, "b": w})
    with pytest.raises(TypeError, match="tf.Variable"):
        tf.train.Saver([1])
    with pytest.raises(TypeError, match="tf.Variable"):
        tf.train.Saver([tf.constant(1.0)])


def test_no_variables(tmp_path):
    with pytest.raises(ValueError, match="No variables to save"):
        tf.train.Saver()
    saver = tf.train.Saver(allow_empty=True)
    with tf.Session("local") as sess:
        assert saver.save(sess, str(tmp_path / "m")) is None
        saver.restore(sess, str(tmp_path / "m"))
    assert os.listdir(tmp_path) == []


def test_string_variables_are_refused():
    tf.Variable(tf.constant(["a", "b"]), name="names")
    with pytest.raises(TypeError, match="'names' of dtype string"):
        tf.train.Saver()


def test_corrupted_checkpoint_fails_its_checksum_and_changes_nothing(tmp_path):
    a = tf.Variable(np.ones(64, np.float32), name="a")
    b = tf.Variable(np.full(64, 2.0, np.float32), name="b")
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
        blob = bytearray(open(path + io.CHECKPOINT_SUFFIX, "rb").read())
        blob[-8] ^= 0xFF
        open(path + io.CHECKPOINT_SUFFIX, "wb").write(bytes(blob))
        sess.run([a.assign(np.zeros(64, np.float32)), b.assign(np.zeros(64, np.float32))])
        with pytest.raises(tf.errors.DataLossError, match="checksum mismatch in tensor 'b'"):
            saver.restore(sess, path)
        got_a, got_b = sess.run([a, b])
    assert not got_a.any() and not got_b.any()  # nothing restored from a bad file


class Exploit:
    """Unpickling this creates the marker file: proof that a loader ran stored code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_directory_of_pickles_is_refused_without_running_them(tmp_path):
    ckpt_dir = tmp_path / "ckpt"
    marker = tmp_path / "pwned"
    w = tf.Variable(1.0, name="w")
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        path = saver.save(sess, str(ckpt_dir / "model.ckpt"), global_step=1)
        for name in os.listdir(ckpt_dir):
            (ckpt_dir / name).write_bytes(pickle.dumps(Exploit(str(marker)), protocol=0))
        with pytest.raises(tf.errors.DataLossError, match="checkpoint"):
            tf.train.latest_checkpoint(str(ckpt_dir))
        with pytest.raises(tf.errors.DataLossError, match="not a valid safetensors file"):
            saver.restore(sess, path)
        with pytest.raises(tf.errors.DataLossError):
            tf.train.load_variable(path, "w")
        for name in os.listdir(ckpt_dir):
            (ckpt_dir / name).write_bytes(pickle.dumps(Exploit(str(marker)), protocol=5))
        with pytest.raises(tf.errors.DataLossError, match="not a valid safetensors file"):
            saver.restore(sess, path)
        with pytest.raises(tf.errors.DataLossError):
            tf.train.get_checkpoint_state(str(ckpt_dir))
    assert not marker.exists()


# -- crashes mid-save -------------------------------------------------------------------


def test_a_save_that_fails_halfway_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    w = tf.Variable(np.arange(1000, dtype=np.float32), name="w")
    bump = w.assign_add(np.ones(1000, np.float32))
    saver = tf.train.Saver(max_to_keep=1)
    prefix = str(tmp_path / "m")
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        saver.save(sess, prefix, global_step=1)
        sess.run(bump)
        monkeypatch.setattr(io, "atomic_write", halfway_writes(io.atomic_write, disk_full))
        with pytest.raises(OSError, match="disk full"):
            saver.save(sess, prefix, global_step=2)
        monkeypatch.undo()
        assert sorted(os.listdir(tmp_path)) == ["checkpoint", "m-1.meta", "m-1" + io.CHECKPOINT_SUFFIX]
        assert tf.train.latest_checkpoint(str(tmp_path)) == prefix + "-1"
        saver.restore(sess, tf.train.latest_checkpoint(str(tmp_path)))
        np.testing.assert_array_equal(sess.run(w), np.arange(1000))


def test_old_checkpoints_are_deleted_only_after_the_state_file_is_written(tmp_path, monkeypatch):
    w = tf.Variable(1.0, name="w")
    saver = tf.train.Saver(max_to_keep=1)
    prefix = str(tmp_path / "m")
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        saver.save(sess, prefix, global_step=1)

        def broken(path, state):
            raise OSError("killed while writing the state file")

        monkeypatch.setattr(io, "write_checkpoint_state", broken)
        with pytest.raises(OSError, match="killed"):
            saver.save(sess, prefix, global_step=2)
    assert tf.train.checkpoint_exists(prefix + "-1")  # not pruned
    assert tf.train.latest_checkpoint(str(tmp_path)) == prefix + "-1"


KILLED_TRAINER = STALL_HALFWAY + textwrap.dedent(
    """
    # Saves twice and stalls halfway through the second checkpoint file. The session
    # is a stand-in that returns the variables' values (no Ray in this process); the
    # Saver's own code does everything else.
    import sys
    import numpy as np
    import raygraph as tf

    class ValuesSession:
        def __init__(self, values):
            self.values = values

        def run(self, fetches):
            return [self.values[t.op.name] for t in fetches]

    directory = sys.argv[1]
    tf.Variable(np.zeros(4 << 20, np.float32), name="w")  # 16 MB
    saver = tf.train.Saver(max_to_keep=1)
    saver.save(ValuesSession({"w": np.full(4 << 20, 1.0, np.float32)}), directory + "/model.ckpt", 1)
    stall_next_writes()
    saver.save(ValuesSession({"w": np.full(4 << 20, 2.0, np.float32)}), directory + "/model.ckpt", 2)
    """
)


def test_a_process_killed_mid_save_leaves_the_previous_checkpoint(tmp_path):
    ckpt_dir = tmp_path / "ckpt"
    kill_when_halfway(KILLED_TRAINER, ckpt_dir, tmp_path / "trainer.log")
    assert any(n.endswith(".tmp") for n in os.listdir(ckpt_dir))  # the half-written file
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    assert latest == str(ckpt_dir / "model.ckpt-1")
    w = tf.Variable(np.zeros(4 << 20, np.float32), name="w")
    saver = tf.train.Saver()
    with tf.Session("local") as sess:
        saver.restore(sess, latest)
        value = sess.run(w)
        saver.save(sess, str(ckpt_dir / "model.ckpt"), 3)
    assert value.shape == (4 << 20,) and (value == 1.0).all()
    assert not any(n.endswith(".tmp") for n in os.listdir(ckpt_dir))  # the next save removed it
