"""Packed: Arrow IPC tensors through Ray's object store, read in place."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import ray

from scheduler.shell import transport
from scheduler.shell.transport import Packed

pytestmark = pytest.mark.usefixtures("ray_cluster")

CASES = [
    np.arange(10, dtype=np.float32),
    np.random.default_rng(0).random((300, 400)),  # over SPLIT_BYTES: metadata + body
    np.asfortranarray(np.random.default_rng(1).random((200, 300))),
    np.random.default_rng(2).random((100, 100))[:, ::2],  # not contiguous
    np.random.default_rng(3).random(200_000) > 0.5,  # bools travel as uint8
    np.array([b"a", b"bc"], dtype=object),
    np.float32(3.0),
]


@pytest.mark.parametrize("value", CASES, ids=lambda v: f"{np.asarray(v).dtype}{np.shape(v)}")
def test_values_survive_pickle_with_and_without_out_of_band_buffers(value):
    plain = pickle.loads(pickle.dumps(Packed(value), protocol=5))
    buffers = []
    data = pickle.dumps(Packed(value), protocol=5, buffer_callback=buffers.append)
    out_of_band = pickle.loads(data, buffers=buffers)
    for got in (plain, out_of_band):
        assert got.dtype == np.asarray(value).dtype and got.shape == np.shape(value)
        np.testing.assert_array_equal(got, value)


def test_a_large_array_is_read_in_place_from_the_object_store(monkeypatch):
    def no_copy(*_):
        raise AssertionError("the metadata and body were not back to back: copied")

    monkeypatch.setattr(transport, "_joined", no_copy)
    value = np.random.default_rng(0).random((512, 512), dtype=np.float32)
    got = ray.get(ray.put(Packed(value)))
    np.testing.assert_array_equal(got, value)
    assert not got.flags.writeable  # a view of the object store


def test_the_metadata_is_made_once_per_dtype_shape_and_strides():
    value = np.ones((256, 256), np.float32)
    transport._HEADERS.clear()
    for _ in range(3):
        Packed(value).__reduce__()
    assert len(transport._HEADERS) == 1
    header = next(iter(transport._HEADERS.values()))
    assert len(header) % 64 == 0


def _back_to_back(buffers: list[pickle.PickleBuffer], readonly: bool) -> list[memoryview]:
    """The buffers copied into one 64-byte aligned block, back to back, as a channel reads them."""
    raws = [b.raw() for b in buffers]
    block = np.empty(sum(r.nbytes for r in raws) + 64, np.uint8)
    block = block[-block.ctypes.data % 64 :]
    views, at = [], 0
    for raw in raws:
        block[at : at + raw.nbytes] = np.frombuffer(raw, np.uint8)
        view = memoryview(block[at : at + raw.nbytes])
        views.append(view.toreadonly() if readonly else view)
        at += raw.nbytes
    return views


@pytest.mark.parametrize("value", CASES[:5], ids=lambda v: f"{v.dtype}{v.shape}")
@pytest.mark.parametrize("readonly", [False, True], ids=["writable", "read-only"])
def test_the_buffer_says_whether_the_array_is_the_receivers_own(value, readonly, monkeypatch):
    monkeypatch.setattr(transport, "_joined", lambda *_: pytest.fail("copied"))
    buffers = []
    data = pickle.dumps(Packed(value), protocol=5, buffer_callback=buffers.append)
    views = _back_to_back(buffers, readonly)
    got = pickle.loads(data, buffers=views)
    np.testing.assert_array_equal(got, value)
    assert got.flags.writeable == (not readonly)
    assert np.shares_memory(got, np.asarray(views[-1]))  # read in place, never copied
