"""scheduler.shell.peer_shm: tensors between device actors of one node, through shared memory.

The unit tests pickle as Ray would between two processes (the ring's files are
real /dev/shm files); the last test runs two device actors.
"""

from __future__ import annotations

import errno
import gc
import os
import pickle

import numpy as np
import pytest
import ray

import raygraph as tf
from scheduler.shell import peer_shm, runtime, shm

pytestmark = pytest.mark.skipif(not shm.enabled(), reason="no /dev/shm")
ray_cluster = pytest.mark.usefixtures("ray_cluster")


def _send(ring, value):
    """What the receiver gets: the ring's packing, pickled and unpickled (None: not through the ring)."""
    packed = ring.pack(value)
    return None if packed is None else pickle.loads(pickle.dumps(packed, protocol=5))


def _files(ring) -> set:
    return {slot.path for slot in ring.slots if slot.path}


def test_a_tensor_arrives_whole_read_only_and_its_file_is_unlinked_once_mapped():
    ring = peer_shm.PeerRing()
    try:
        for value in [np.arange(100_000, dtype=np.float32).reshape(100, 1000), np.ones((300, 300), np.int64)]:
            paths = _files(ring)
            got = _send(ring, value)
            np.testing.assert_array_equal(got, value)
            assert got.dtype == value.dtype and not got.flags.writeable
            assert not any(os.path.exists(p) for p in _files(ring) - paths)  # the receiver unlinked it
        flags = np.array([True, False] * 40_000)
        np.testing.assert_array_equal(_send(ring, flags), flags)
        assert _send(ring, np.ones(10, np.float32)) is None  # small tensors travel inside the call
        assert _send(ring, np.array(["a"] * 100_000, dtype=object)) is None
    finally:
        ring.close()


def test_a_slot_is_reused_only_once_the_receiver_has_freed_every_view_of_its_tensor():
    ring = peer_shm.PeerRing()
    try:
        value = np.full((256, 256), 7.0, np.float32)
        held = [_send(ring, value) for _ in range(peer_shm.SLOTS)]
        views = [h[1:] for h in held]
        del held
        gc.collect()
        assert all(slot.map[0] == 1 for slot in ring.slots)  # views keep their slot busy
        assert ring.pack(value) is None  # every slot held: the caller sends through Ray instead
        assert all(np.array_equal(v, value[1:]) for v in views)  # never overwritten
        views.pop()
        gc.collect()
        again = _send(ring, value * 2)
        np.testing.assert_array_equal(again, value * 2)
        assert all(np.array_equal(v, value[1:]) for v in views)
    finally:
        ring.close()


def test_no_room_in_dev_shm_sends_through_ray_with_one_warning(monkeypatch):
    def full(size):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shm, "_create", full)
    monkeypatch.setattr(shm, "_warned", set())
    ring = peer_shm.PeerRing()
    with pytest.warns(RuntimeWarning, match="object store"):
        assert ring.pack(np.ones((256, 256), np.float32)) is None
    assert ring.pack(np.ones((256, 256), np.float32)) is None  # and no second warning
    ring.close()


def test_ring_files_go_when_the_ring_closes():
    ring = peer_shm.PeerRing()
    ring.pack(np.ones((256, 256), np.float32))  # never received: its file stays until the close
    paths = _files(ring)
    assert paths and all(os.path.exists(p) for p in paths)
    ring.close()
    assert not any(os.path.exists(p) for p in paths)


@ray_cluster
def test_devices_of_one_node_exchange_large_tensors_through_shared_memory():
    x = tf.placeholder(tf.float32, [512, 512])
    with tf.device("/cpu:0"):
        a = x * 2.0
    with tf.device("/cpu:1"):
        b = a + 1.0  # 1 MB from cpu:0 to cpu:1, each run
    value = np.random.default_rng(0).random((512, 512), dtype=np.float32)
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        for k in range(6):  # more runs than slots: slots are reused
            np.testing.assert_allclose(sess.run(b, {x: value + k}), (value + k) * 2 + 1, rtol=1e-6)
        cpu0 = next(d for d in sess._scheduler.devices if d.endswith("CPU:0"))
        cpu1 = next(d for d in sess._scheduler.devices if d.endswith("CPU:1"))
        pinged = ray.get(runtime.existing_actor(cpu0).ping.remote())
    assert cpu1 in pinged["shared_memory_peers"]  # (and any peer an earlier test sent to)


class _Handle:
    def __init__(self, actor_id):
        self._actor_id = actor_id


def test_an_actor_keeps_a_peers_ring_until_that_peer_is_a_new_actor():
    from scheduler.shell.actor import DeviceActor

    actor = DeviceActor("/job:worker/replica:0/task:0/device:CPU:0")
    actor.node_id = "node-a"
    try:
        actor._meet({"cpu1": (_Handle("actor-1"), "node-a"), "far": (_Handle("actor-2"), "node-b")})
        assert sorted(actor._rings) == ["cpu1"]  # the peer on another node goes through Ray
        ring = actor._rings["cpu1"]
        actor._meet({"cpu1": (_Handle("actor-1"), "node-a")})  # told again (another driver)
        assert actor._rings["cpu1"] is ring
        actor._meet({"cpu1": (_Handle("actor-1b"), "node-a")})  # restarted: a new actor
        assert actor._rings["cpu1"] is not ring and not any(s.path for s in ring.slots)
    finally:
        for ring in actor._rings.values():
            ring.close()
