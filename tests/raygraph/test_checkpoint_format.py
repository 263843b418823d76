"""The checkpoint file format (raygraph.io): round trips, validation, atomic writes.

Every malformed file must fail as DataLossError naming the file, before any array
is built and without running anything stored in it.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

import raygraph as tf
from raygraph import errors, io

PREAMBLE = struct.Struct("<8sIQI")


def sample_tensors() -> dict[str, np.ndarray]:
    return {
        "dense/kernel": np.arange(12, dtype=np.float32).reshape(3, 4),
        "dense/bias": np.array([0.5, -1.5], np.float64),
        "step": np.array(123456789012, np.int64),
        "flag": np.array(True),
        "mask": np.array([[True, False], [False, True]]),
        "half": np.array([1.5, -2.25], np.float16),
        "small": np.array([-3, 7], np.int8),
        "pixels": np.array([[0, 255]], np.uint8),
        "u16": np.array([65535], np.uint16),
        "i16": np.array([-32768], np.int16),
        "i32": np.array([[1], [2]], np.int32),
        "empty": np.zeros((0, 3), np.float32),
        "transposed": np.arange(6, dtype=np.float64).reshape(2, 3).T,
    }


def write_raw(path, header, data=b"", *, magic=b"\x89RGCKPT\n", version=1, header_crc=None, pad=True):
    """A checkpoint file with an arbitrary header (a dict, or raw bytes) and data."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        raw += b" " * (-(PREAMBLE.size + len(raw)) % 64)
    crc = zlib.crc32(raw) if header_crc is None else header_crc
    with open(path, "wb") as f:
        f.write(PREAMBLE.pack(magic, version, len(raw), crc) + raw + data)
    return str(path)


def valid_header(data: bytes, **entry) -> dict:
    base = {
        "name": "w",
        "dtype": "float32",
        "shape": [2],
        "offset": 0,
        "length": 8,
        "crc32": zlib.crc32(data),
    }
    base.update(entry)
    return {"format": "raygraph-checkpoint", "version": 1, "data_bytes": len(data), "tensors": [base]}


TWO_FLOATS = np.array([1.0, 2.0], np.float32).tobytes()


def assert_data_loss(path, *words, read=None):
    with pytest.raises(errors.DataLossError) as info:
        ckpt = io.CheckpointFile(str(path))
        if read is not None:
            ckpt.read(read)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    return message


# -- round trips -------------------------------------------------------------------


def test_round_trip_of_every_dtype_and_shape(tmp_path):
    tensors = sample_tensors()
    path = str(tmp_path / "a.rgckpt")
    io.write_checkpoint(path, tensors)
    ckpt = io.CheckpointFile(path)
    assert ckpt.names() == list(tensors)
    for name, expected in tensors.items():
        got = ckpt.read(name)
        assert got.dtype == expected.dtype, name
        assert got.shape == expected.shape, name
        np.testing.assert_array_equal(got, expected)
        assert got.flags.writeable and got.flags.c_contiguous
        assert got.dtype.isnative


def test_layout_is_the_documented_one(tmp_path):
    path = str(tmp_path / "a.rgckpt")
    io.write_checkpoint(path, {"a": np.ones(3, np.float32), "b": np.arange(5, dtype=np.int64)})
    blob = open(path, "rb").read()
    magic, version, length, crc = PREAMBLE.unpack(blob[: PREAMBLE.size])
    assert (magic, version) == (io.MAGIC, io.FORMAT_VERSION)
    raw = blob[PREAMBLE.size : PREAMBLE.size + length]
    assert zlib.crc32(raw) == crc
    start = PREAMBLE.size + length
    assert start % 64 == 0
    header = json.loads(raw)
    assert len(blob) == start + header["data_bytes"]
    b = header["tensors"][1]
    assert b["offset"] % 64 == 0
    payload = blob[start + b["offset"] : start + b["offset"] + b["length"]]
    assert zlib.crc32(payload) == b["crc32"]
    assert np.frombuffer(payload, "<i8").tolist() == [0, 1, 2, 3, 4]


def test_empty_checkpoint(tmp_path):
    path = str(tmp_path / "e.rgckpt")
    io.write_checkpoint(path, {})
    assert io.CheckpointFile(path).names() == []


def test_writing_strings_or_objects_is_refused(tmp_path):
    path = str(tmp_path / "s.rgckpt")
    for value in (np.array(["a", "b"]), np.array([object()], dtype=object), np.array([1 + 2j])):
        with pytest.raises(TypeError, match="Cannot save tensor 'x'"):
            io.write_checkpoint(path, {"x": value})
    assert not os.path.exists(path)


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(errors.NotFoundError, match="does not exist"):
        io.CheckpointFile(str(tmp_path / "nope.rgckpt"))


def test_reading_a_missing_tensor_is_not_found(tmp_path):
    path = str(tmp_path / "a.rgckpt")
    io.write_checkpoint(path, {"w": np.ones(2)})
    with pytest.raises(errors.NotFoundError, match="Key v not found"):
        io.CheckpointFile(path).read("v")


# -- validation --------------------------------------------------------------------


def test_a_hand_made_valid_file_reads(tmp_path):
    path = write_raw(tmp_path / "ok.rgckpt", valid_header(TWO_FLOATS), TWO_FLOATS)
    np.testing.assert_array_equal(io.CheckpointFile(path).read("w"), [1.0, 2.0])


@pytest.mark.parametrize("cut", [0, 5, 23, 24, 40, -9, -1])
def test_truncated_files(tmp_path, cut):
    path = str(tmp_path / "t.rgckpt")
    io.write_checkpoint(path, {"w": np.arange(10, dtype=np.float64)})
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[:cut] if cut >= 0 else blob[:cut])
    assert_data_loss(path)


def test_bad_magic(tmp_path):
    path = write_raw(tmp_path / "m.rgckpt", valid_header(TWO_FLOATS), TWO_FLOATS, magic=b"NOTMAGIC")
    assert_data_loss(path, "not a raygraph checkpoint")


def test_unknown_version(tmp_path):
    path = write_raw(tmp_path / "v.rgckpt", valid_header(TWO_FLOATS), TWO_FLOATS, version=2)
    assert_data_loss(path, "version 2")


def test_oversize_header_length_is_refused_before_reading(tmp_path):
    path = str(tmp_path / "big.rgckpt")
    with open(path, "wb") as f:
        f.write(PREAMBLE.pack(io.MAGIC, 1, 1 << 40, 0))
    assert_data_loss(path, "exceeds the limit")


def test_header_checksum(tmp_path):
    path = write_raw(tmp_path / "c.rgckpt", valid_header(TWO_FLOATS), TWO_FLOATS, header_crc=12345)
    assert_data_loss(path, "header checksum mismatch")


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"{not json", "not valid UTF-8 JSON"),
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"format": "raygraph-checkpoint", "format": "x"}', "duplicate JSON keys"),
        (b"[" * 100000 + b"]" * 100000, "JSON"),
        (pickle.dumps({"tensors": []}), "JSON"),
    ],
)
def test_malformed_json(tmp_path, raw, words):
    path = write_raw(tmp_path / "j.rgckpt", raw)
    assert_data_loss(path, words)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"dtype": "object"}, "dtype 'object'"),
        ({"dtype": "<U5"}, "dtype '<U5'"),
        ({"dtype": "complex64", "length": 16}, "dtype 'complex64'"),
        ({"shape": [-2]}, "shape [-2]"),
        ({"shape": [True, 2]}, "shape"),
        ({"shape": [2.0]}, "shape"),
        ({"shape": "2"}, "shape"),
        ({"shape": [1] * 65}, "shape"),
        ({"length": 4}, "needs 8 bytes"),
        ({"shape": [10**30], "length": 8}, "needs"),
        ({"offset": 4}, "runs past"),
        ({"offset": -1}, "offset -1"),
        ({"crc32": 1 << 40}, "over 32 bits"),
        ({"crc32": "abc"}, "crc32"),
        ({"name": ""}, "tensor name"),
        ({"name": 7}, "tensor name"),
        ({"extra": 1}, "keys"),
    ],
)
def test_bad_tensor_entries(tmp_path, change, words):
    path = write_raw(tmp_path / "e.rgckpt", valid_header(TWO_FLOATS, **change), TWO_FLOATS)
    assert_data_loss(path, words)


def test_non_finite_numbers_are_refused(tmp_path):
    raw = json.dumps(valid_header(TWO_FLOATS)).replace('"offset": 0', '"offset": NaN').encode()
    path = write_raw(tmp_path / "n.rgckpt", raw, TWO_FLOATS)
    assert_data_loss(path, "JSON")


def test_data_size_must_match_the_header(tmp_path):
    path = write_raw(tmp_path / "d.rgckpt", valid_header(TWO_FLOATS), TWO_FLOATS + b"extra")
    assert_data_loss(path, "data region")


def test_overlapping_and_duplicate_tensors(tmp_path):
    data = TWO_FLOATS + TWO_FLOATS
    header = valid_header(data)
    entry = {
        "name": "w",
        "dtype": "float32",
        "shape": [2],
        "offset": 0,
        "length": 8,
        "crc32": zlib.crc32(TWO_FLOATS),
    }
    header["tensors"] = [entry, dict(entry, name="v", offset=4)]
    assert_data_loss(write_raw(tmp_path / "o.rgckpt", header, data), "overlap")
    header["tensors"] = [entry, dict(entry, offset=8)]
    assert_data_loss(write_raw(tmp_path / "u.rgckpt", header, data), "appears twice")


def test_corrupted_data_fails_its_checksum(tmp_path):
    path = str(tmp_path / "x.rgckpt")
    io.write_checkpoint(path, {"a": np.ones(100, np.float32), "b": np.arange(100, dtype=np.float32)})
    blob = bytearray(open(path, "rb").read())
    blob[-10] ^= 0x40  # inside "b"
    open(path, "wb").write(bytes(blob))
    ckpt = io.CheckpointFile(path)  # the header is intact
    np.testing.assert_array_equal(ckpt.read("a"), np.ones(100))
    assert_data_loss(path, "checksum mismatch in tensor 'b'", read="b")


def test_bool_bytes_other_than_0_and_1(tmp_path):
    data = bytes([0, 2])
    header = valid_header(data, dtype="bool", length=2)
    assert_data_loss(write_raw(tmp_path / "b.rgckpt", header, data), "bool tensor", read="w")


def test_pickle_payload_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "p.rgckpt"
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        path.write_bytes(pickle.dumps(Exploit(str(marker)), protocol=protocol))
        message = assert_data_loss(path, "not a raygraph checkpoint")
        assert protocol == 0 or "pickle" in message
    # The same payload as the header of a file with the right magic.
    write_raw(path, pickle.dumps(Exploit(str(marker))), b"")
    assert_data_loss(path, "JSON")
    assert not marker.exists()


class Exploit:
    """Unpickling this creates the marker file: proof that a loader ran stored code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


# -- atomic writes -----------------------------------------------------------------


def test_written_files_follow_the_umask(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = str(tmp_path / "a.rgckpt")
    io.write_checkpoint(path, {"w": np.ones(2)})
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "a.rgckpt")
    io.write_checkpoint(path, {"w": np.ones(4)})

    def broken(f, data):
        f.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(io, "_write_chunks", broken)
    with pytest.raises(OSError, match="disk full"):
        io.write_checkpoint(path, {"w": np.zeros(4)})
    np.testing.assert_array_equal(io.CheckpointFile(path).read("w"), np.ones(4))
    assert os.listdir(tmp_path) == ["a.rgckpt"]  # the temporary file is gone


def kill_when_halfway(script: str, directory, log_path, env=None) -> None:
    """Runs `script` in a new Python until it prints HALFWAY, then SIGKILLs it."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(directory)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            cwd=root,
        )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        assert line.strip() == "HALFWAY", open(log_path).read()[-3000:]
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    from raygraph import io

    directory = sys.argv[1]
    os.makedirs(directory)
    io.write_checkpoint(directory + "/model-1.rgckpt", {"w": np.full(1000, 1.0)})
    io.write_checkpoint_state(directory + "/checkpoint", io.CheckpointState("model-1", ["model-1"]))

    original = io._write_chunks

    def slow(f, data):
        half = len(data) // 2
        original(f, data[:half])
        f.flush()
        print("HALFWAY", flush=True)
        time.sleep(60)
        original(f, data[half:])

    io._write_chunks = slow
    io.write_checkpoint(directory + "/model-1.rgckpt", {"w": np.full(4 << 20, 2.0)})
    """
)


def test_a_writer_killed_mid_save_leaves_the_previous_checkpoint(tmp_path):
    ckpt_dir = tmp_path / "ckpt"
    kill_when_halfway(KILLED_WRITER, ckpt_dir, tmp_path / "writer.log")
    temporary = [n for n in os.listdir(ckpt_dir) if n.endswith(".tmp")]
    assert temporary and os.path.getsize(ckpt_dir / temporary[0]) > 1 << 20  # half written
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    assert latest == str(ckpt_dir / "model-1")
    np.testing.assert_array_equal(tf.train.load_variable(latest, "w"), np.full(1000, 1.0))


# -- the state file ----------------------------------------------------------------


def test_state_file_round_trip(tmp_path):
    path = str(tmp_path / "checkpoint")
    state = io.CheckpointState('dir/mo"del\\ckpt-2 é', ["a-1", 'dir/mo"del\\ckpt-2 é'], [1.5, 2.5], 1.25)
    io.write_checkpoint_state(path, state)
    assert io.read_checkpoint_state(path) == state
    assert os.listdir(tmp_path) == ["checkpoint"]


def test_state_file_as_tensorflow_writes_it():
    text = (
        'model_checkpoint_path: "/tmp/ck/model.ckpt-0"\n'
        'all_model_checkpoint_paths: "/tmp/ck/model.ckpt-3"\n'
        "all_model_checkpoint_paths: '/tmp/ck/model.ckpt-0'\n"
        "all_model_checkpoint_timestamps: 1700000000.5\n"
        "last_preserved_timestamp: 1699999999.25\n"
        'model_checkpoint_path: "caf\\303\\251\\n"\n'
    )
    state = io.parse_checkpoint_state(text, "checkpoint")
    assert state.model_checkpoint_path == "café\n"
    assert state.all_model_checkpoint_paths == ["/tmp/ck/model.ckpt-3", "/tmp/ck/model.ckpt-0"]
    assert state.all_model_checkpoint_timestamps == [1700000000.5]
    assert state.last_preserved_timestamp == 1699999999.25


@pytest.mark.parametrize(
    "text, words",
    [
        ('model_checkpoint_path: "unterminated\n', "line 1"),
        ("model_checkpoint_path: model.ckpt\n", "quoted string"),
        ('model_checkpoint_path: "a"b"\n', "unescaped quote"),
        ('model_checkpoint_path: "a\\q"\n', "bad escape"),
        ('secret_field: "x"\n', "unknown field"),
        ("all_model_checkpoint_timestamps: soon\n", "line 1"),
        ('model_checkpoint_path: "a"\n__import__("os")\n', "line 2"),
    ],
)
def test_malformed_state_files(text, words):
    with pytest.raises(errors.DataLossError) as info:
        io.parse_checkpoint_state(text, "/ck/checkpoint")
    assert "/ck/checkpoint" in str(info.value) and words in str(info.value)


def test_pickled_state_file_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint"
    for protocol in (0, pickle.HIGHEST_PROTOCOL):
        path.write_bytes(pickle.dumps(Exploit(str(marker)), protocol=protocol))
        with pytest.raises(errors.DataLossError, match="checkpoint"):
            io.read_checkpoint_state(str(path))
    assert not marker.exists()


def test_oversize_state_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "MAX_STATE_FILE_BYTES", 100)
    path = tmp_path / "checkpoint"
    path.write_text('model_checkpoint_path: "m"\n' * 10)
    with pytest.raises(errors.DataLossError, match="over 100 bytes"):
        io.read_checkpoint_state(str(path))


def test_missing_state_file_is_none(tmp_path):
    assert io.read_checkpoint_state(str(tmp_path / "checkpoint")) is None
