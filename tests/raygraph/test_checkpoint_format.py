"""The checkpoint file format (raygraph.io): safetensors files with raygraph's metadata.

Round trips, the file as other safetensors readers see it, validation of corrupt
and hostile files, and atomic writes. Every bad file must fail as DataLossError
naming the file, without running anything stored in it and without letting an
exception of safetensors' own (or any other class) escape.

A safetensors file without raygraph's metadata (written by another program) is
refused: its tensors carry no checksums to verify.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import select
import signal
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import raygraph as tf
from raygraph import errors, io


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


TWO_FLOATS = np.array([1.0, 2.0], np.float32).tobytes()


def write_raw(path, header, data=b"", *, length=None) -> str:
    """A safetensors-shaped file: 8-byte header length, the header (a dict, or raw bytes), data."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write((len(raw) if length is None else length).to_bytes(8, "little") + raw + data)
    return str(path)


def metadata(crc32=None, **changes) -> dict:
    """raygraph's __metadata__; `crc32` is a {name: crc} dict (or any value to encode as JSON)."""
    crc32 = {"w": zlib.crc32(TWO_FLOATS)} if crc32 is None else crc32
    result = {"format": "raygraph-checkpoint", "version": "2", "crc32": json.dumps(crc32)}
    result.update(changes)
    return {k: v for k, v in result.items() if v is not None}


def valid_header(data: bytes = TWO_FLOATS, meta=None, **entry) -> dict:
    base = {"dtype": "F32", "shape": [2], "data_offsets": [0, len(data)]}
    base.update(entry)
    meta = metadata({"w": zlib.crc32(data)}) if meta is None else meta
    return {"__metadata__": meta, "w": base}


def assert_data_loss(path, *words, read=None) -> str:
    with pytest.raises(errors.DataLossError) as info:
        with io.CheckpointFile(str(path)) as ckpt:
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
    path = str(tmp_path / "a.safetensors")
    io.write_checkpoint(path, tensors)
    with io.CheckpointFile(path) as ckpt:
        assert ckpt.names() == sorted(tensors)
        for name, expected in tensors.items():
            assert (ckpt.entry(name).dtype, ckpt.entry(name).shape) == (expected.dtype, expected.shape)
            got = ckpt.read(name)
            assert got.dtype == expected.dtype, name
            assert got.shape == expected.shape, name
            np.testing.assert_array_equal(got, expected)
            assert got.flags.writeable and got.flags.c_contiguous
            assert got.dtype.isnative


def test_a_checkpoint_is_a_plain_safetensors_file(tmp_path):
    tensors = sample_tensors()
    path = str(tmp_path / "a.safetensors")
    io.write_checkpoint(path, tensors)
    loaded = safetensors.numpy.load_file(path)
    assert sorted(loaded) == sorted(tensors)
    for name, expected in tensors.items():
        assert loaded[name].dtype == expected.dtype, name
        np.testing.assert_array_equal(loaded[name], expected)
    with safetensors.safe_open(path, framework="numpy") as f:
        meta = f.metadata()
    assert (meta["format"], meta["version"]) == (io.FORMAT_NAME, io.FORMAT_VERSION)
    crcs = json.loads(meta["crc32"])
    assert crcs == {name: zlib.crc32(np.ascontiguousarray(a).tobytes()) for name, a in tensors.items()}


def test_big_endian_input_is_stored_little_endian(tmp_path):
    path = str(tmp_path / "a.safetensors")
    io.write_checkpoint(path, {"w": np.arange(3, dtype=">i4")})
    assert safetensors.numpy.load_file(path)["w"].tolist() == [0, 1, 2]
    with io.CheckpointFile(path) as ckpt:
        assert ckpt.read("w").tolist() == [0, 1, 2]


def test_empty_checkpoint(tmp_path):
    path = str(tmp_path / "e.safetensors")
    io.write_checkpoint(path, {})
    with io.CheckpointFile(path) as ckpt:
        assert ckpt.names() == []


def test_writing_strings_or_objects_is_refused(tmp_path):
    path = str(tmp_path / "s.safetensors")
    for value in (np.array(["a", "b"]), np.array([object()], dtype=object), np.array([1 + 2j])):
        with pytest.raises(TypeError, match="Cannot save tensor 'x'"):
            io.write_checkpoint(path, {"x": value})
    with pytest.raises(ValueError, match="'__metadata__'"):
        io.write_checkpoint(path, {"__metadata__": np.ones(2)})
    assert not os.path.exists(path)


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(errors.NotFoundError, match="does not exist"):
        io.CheckpointFile(str(tmp_path / "nope.safetensors"))
    with pytest.raises(errors.NotFoundError, match="is not a file"):
        io.CheckpointFile(str(tmp_path))


def test_reading_a_missing_tensor_is_not_found(tmp_path):
    path = str(tmp_path / "a.safetensors")
    io.write_checkpoint(path, {"w": np.ones(2)})
    with io.CheckpointFile(path) as ckpt, pytest.raises(errors.NotFoundError, match="Key v not found"):
        ckpt.read("v")


def test_an_open_checkpoint_reads_the_file_it_opened(tmp_path):
    path = str(tmp_path / "a.safetensors")
    io.write_checkpoint(path, {"w": np.ones(4)})
    with io.CheckpointFile(path) as ckpt:
        io.write_checkpoint(path, {"w": np.zeros(4)})  # a newer save replaces the file
        np.testing.assert_array_equal(ckpt.read("w"), np.ones(4))


def test_a_file_cut_short_while_open_is_data_loss(tmp_path):
    path = str(tmp_path / "a.safetensors")
    io.write_checkpoint(path, {"w": np.ones(1 << 16)})
    with io.CheckpointFile(path) as ckpt:
        os.truncate(path, 200)  # with a memory map this would be SIGBUS
        with pytest.raises(errors.DataLossError, match="reading tensor 'w' failed"):
            ckpt.read("w")


# -- validation --------------------------------------------------------------------


def test_a_hand_made_valid_file_reads(tmp_path):
    path = write_raw(tmp_path / "ok.safetensors", valid_header(), TWO_FLOATS)
    with io.CheckpointFile(path) as ckpt:
        np.testing.assert_array_equal(ckpt.read("w"), [1.0, 2.0])


@pytest.mark.parametrize("cut", [0, 5, 8, 20, 100, -9, -1])
def test_truncated_files(tmp_path, cut):
    path = str(tmp_path / "t.safetensors")
    io.write_checkpoint(path, {"w": np.arange(10, dtype=np.float64)})
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[:cut])
    assert_data_loss(path, "not a valid safetensors file")


def test_trailing_bytes(tmp_path):
    path = str(tmp_path / "t.safetensors")
    io.write_checkpoint(path, {"w": np.arange(10, dtype=np.float64)})
    open(path, "ab").write(b"extra")
    assert_data_loss(path, "not a valid safetensors file")


@pytest.mark.parametrize("length", [1 << 40, (1 << 64) - 1, 200_000_000])
def test_huge_header_length_is_refused_before_reading(tmp_path, length):
    path = write_raw(tmp_path / "big.safetensors", b"{}", length=length)
    assert_data_loss(path, "not a valid safetensors file", "header too large")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'"just a string"',
        b"[" * 100000 + b"]" * 100000,
        b'{"a":' * 100000 + b"1" + b"}" * 100000,
        b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, NaN]}}',
        pickle.dumps({"tensors": []}),
    ],
)
def test_header_is_not_json(tmp_path, raw):
    path = write_raw(tmp_path / "j.safetensors", raw, TWO_FLOATS)
    assert_data_loss(path, "not a valid safetensors file")


@pytest.mark.parametrize(
    "change",
    [
        {"dtype": "object"},
        {"dtype": "float32"},
        {"dtype": 7},
        {"shape": [-2]},
        {"shape": [2.0]},
        {"shape": "2"},
        {"shape": [10**30]},
        {"shape": [1 << 40, 1 << 40]},
        {"shape": [1]},  # 4 bytes for 8
        {"data_offsets": [4, 12]},
        {"data_offsets": [0, 4]},
        {"data_offsets": [-1, 8]},
        {"data_offsets": [0]},
    ],
)
def test_bad_tensor_entries(tmp_path, change):
    path = write_raw(tmp_path / "e.safetensors", valid_header(**change), TWO_FLOATS)
    assert_data_loss(path, "not a valid safetensors file")


@pytest.mark.parametrize("field", ["dtype", "shape", "data_offsets"])
def test_tensor_entry_without_a_field(tmp_path, field):
    header = valid_header()
    del header["w"][field]
    assert_data_loss(
        write_raw(tmp_path / "e.safetensors", header, TWO_FLOATS), "not a valid safetensors file"
    )


@pytest.mark.parametrize(
    "code, shape", [("U32", [2]), ("U64", [1]), ("C64", [1]), ("BF16", [4]), ("F8_E4M3", [8])]
)
def test_dtypes_outside_the_allowlist(tmp_path, code, shape):
    """safetensors knows these dtypes; raygraph's variables cannot hold them."""
    path = write_raw(tmp_path / "d.safetensors", valid_header(dtype=code, shape=shape), TWO_FLOATS)
    assert_data_loss(path, f"tensor 'w' has dtype {code}")


def test_overlapping_tensors(tmp_path):
    data = TWO_FLOATS + TWO_FLOATS
    header = valid_header(data, data_offsets=[0, 8])
    header["v"] = {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}
    assert_data_loss(write_raw(tmp_path / "o.safetensors", header, data), "not a valid safetensors file")


def test_duplicate_names(tmp_path):
    """safetensors keeps the last of two entries with one name; raygraph refuses the file."""
    entry = '{"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}'
    meta = json.dumps(metadata())
    raw = f'{{"__metadata__": {meta}, "w": {entry}, "w": {entry}}}'.encode()
    assert_data_loss(write_raw(tmp_path / "u.safetensors", raw, TWO_FLOATS), "duplicate JSON keys ['w']")
    meta = json.dumps(metadata())[:-1] + ', "format": "other"}'
    raw = f'{{"__metadata__": {meta}, "w": {entry}}}'.encode()
    assert_data_loss(write_raw(tmp_path / "m.safetensors", raw, TWO_FLOATS), "duplicate JSON keys ['format']")


def test_a_file_from_another_safetensors_writer_is_refused(tmp_path):
    """Without raygraph's checksums its tensors cannot be verified; safetensors itself reads it."""
    path = str(tmp_path / "foreign.safetensors")
    safetensors.numpy.save_file({"w": np.ones(2, np.float32)}, path)
    assert_data_loss(path, "no raygraph metadata", "safetensors.numpy.load_file")
    safetensors.numpy.save_file({"w": np.ones(2, np.float32)}, path, metadata={"format": "pt"})
    assert_data_loss(path, "no raygraph metadata", "'pt'")
    np.testing.assert_array_equal(safetensors.numpy.load_file(path)["w"], [1.0, 1.0])


@pytest.mark.parametrize(
    "meta, words",
    [
        (metadata(version="1"), "format version '1'"),
        (metadata(version=None), "format version None"),
        ({k: v for k, v in metadata().items() if k != "crc32"}, "no 'crc32'"),
        (metadata() | {"crc32": "{not json"}, "'crc32' is not valid JSON"),
        (metadata() | {"crc32": "[" * 100000 + "]" * 100000}, "'crc32'"),
        (metadata([1, 2]), "must map tensor names"),
        (metadata({"w": -1}), "must map tensor names"),
        (metadata({"w": 1 << 32}), "must map tensor names"),
        (metadata({"w": 1.0}), "must map tensor names"),
        (metadata({"w": True}), "must map tensor names"),
        (metadata() | {"crc32": '{"w": NaN}'}, "must map tensor names"),
        (metadata({"w": "123"}), "must map tensor names"),
        (metadata({}), "tensor 'w' has no CRC-32"),
        (metadata({"v": 1}), "tensors the file lacks: ['v']"),
        (metadata({"w": zlib.crc32(TWO_FLOATS), "v": 1}), "tensors the file lacks: ['v']"),
    ],
)
def test_bad_metadata(tmp_path, meta, words):
    path = write_raw(tmp_path / "m.safetensors", valid_header(meta=meta), TWO_FLOATS)
    assert_data_loss(path, words)


def test_corrupted_data_fails_its_checksum(tmp_path):
    path = str(tmp_path / "x.safetensors")
    io.write_checkpoint(path, {"a": np.ones(100, np.float32), "b": np.arange(100, dtype=np.float32)})
    blob = bytearray(open(path, "rb").read())
    blob[-10] ^= 0x40  # inside "b", the last tensor
    open(path, "wb").write(bytes(blob))
    with io.CheckpointFile(path) as ckpt:  # the header is intact
        np.testing.assert_array_equal(ckpt.read("a"), np.ones(100))
    assert_data_loss(path, "checksum mismatch in tensor 'b'", read="b")


def test_every_bit_flip_is_caught_or_harmless(tmp_path):
    """Flip each bit of a small checkpoint: it fails as DataLossError or reads back unchanged.

    (Empty tensors are left out: a digit of their shape can change without changing
    their size, and the checksums cover bytes, not shapes.)
    """
    tensors = {
        "kernel": np.arange(6, dtype=np.float32).reshape(2, 3),
        "step": np.array(7, np.int64),
        "mask": np.array([True, False]),
    }
    path = str(tmp_path / "f.safetensors")
    io.write_checkpoint(path, tensors)
    blob = open(path, "rb").read()
    for i in range(len(blob)):
        for bit in range(8):
            flipped = bytearray(blob)
            flipped[i] ^= 1 << bit
            open(path, "wb").write(bytes(flipped))
            try:
                with io.CheckpointFile(path) as ckpt:
                    got = {name: ckpt.read(name) for name in ckpt.names()}
            except errors.DataLossError:
                continue
            assert got.keys() == tensors.keys(), (i, bit)
            for name, value in tensors.items():
                assert got[name].dtype == value.dtype and got[name].shape == value.shape, (i, bit)
                np.testing.assert_array_equal(got[name], value, err_msg=f"byte {i} bit {bit}")


def test_bool_bytes_other_than_0_and_1(tmp_path):
    data = bytes([0, 2])
    header = valid_header(data, dtype="BOOL")
    assert_data_loss(write_raw(tmp_path / "b.safetensors", header, data), "bool tensor", read="w")


def test_pickle_payload_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "p.safetensors"
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        path.write_bytes(pickle.dumps(Exploit(str(marker)), protocol=protocol))
        assert_data_loss(path, "not a valid safetensors file")
    # The same payload as the header, and as a metadata value.
    write_raw(path, pickle.dumps(Exploit(str(marker))), b"")
    assert_data_loss(path, "not a valid safetensors file")
    payload = pickle.dumps(Exploit(str(marker)), protocol=0).decode("latin-1")
    write_raw(path, valid_header(meta=metadata() | {"crc32": payload}), TWO_FLOATS)
    assert_data_loss(path, "'crc32' is not valid JSON")
    assert not marker.exists()


class Exploit:
    """Unpickling this creates the marker file: proof that a loader ran stored code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


# -- atomic writes -----------------------------------------------------------------


class _HalfWriter:
    """A file stand-in whose write() writes half of its data, flushes, then calls `then()`."""

    def __init__(self, f, then):
        self.f, self.then = f, then

    def write(self, data) -> None:
        self.f.write(memoryview(data)[: len(data) // 2])
        self.f.flush()
        self.then()


def halfway_writes(atomic_write, then):
    """`atomic_write` whose file writes half of what it is given and then calls `then()`.

    >>> monkeypatch.setattr(io, "atomic_write", halfway_writes(io.atomic_write, disk_full))
    """

    @contextlib.contextmanager
    def writer(path):
        with atomic_write(path) as f:
            yield _HalfWriter(f, then)

    return writer


def disk_full():
    raise OSError("disk full")


def test_written_files_follow_the_umask(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = str(tmp_path / "a.safetensors")
    io.write_checkpoint(path, {"w": np.ones(2)})
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = str(tmp_path / "a.safetensors")
    io.write_checkpoint(path, {"w": np.ones(4)})
    monkeypatch.setattr(io, "atomic_write", halfway_writes(io.atomic_write, disk_full))
    with pytest.raises(OSError, match="disk full"):
        io.write_checkpoint(path, {"w": np.zeros(4)})
    with io.CheckpointFile(path) as ckpt:
        np.testing.assert_array_equal(ckpt.read("w"), np.ones(4))
    assert os.listdir(tmp_path) == ["a.safetensors"]  # the temporary file is gone


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


# Imported by the scripts below: makes the next checkpoint write stop halfway and wait to be killed.
STALL_HALFWAY = textwrap.dedent(
    """
    import time
    from raygraph import io
    from tests.raygraph.test_checkpoint_format import halfway_writes

    def stall():
        print("HALFWAY", flush=True)
        time.sleep(120)

    def stall_next_writes():
        io.atomic_write = halfway_writes(io.atomic_write, stall)
    """
)

KILLED_WRITER = STALL_HALFWAY + textwrap.dedent(
    """
    import os, sys
    import numpy as np

    directory = sys.argv[1]
    os.makedirs(directory)
    io.write_checkpoint(directory + "/model-1.safetensors", {"w": np.full(1000, 1.0)})
    io.write_checkpoint_state(directory + "/checkpoint", io.CheckpointState("model-1", ["model-1"]))
    stall_next_writes()
    io.write_checkpoint(directory + "/model-1.safetensors", {"w": np.full(4 << 20, 2.0)})
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
    assert io.remove_stale_temp_files(str(ckpt_dir), "model-1") == [str(ckpt_dir / temporary[0])]


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
