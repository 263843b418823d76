"""A device that dies after its reply, with a transfer still in its process, fails the run.

A transfer between device actors is fire and forget (scheduler.shell.actor): a
device can reply to the driver and be killed before the tensor it sent has left
its process. The device waiting for that tensor would wait forever, and the
driver with it. The driver keeps watching the connections of devices that have
replied while others work; one that closes fails the run with UnavailableError
naming the device, and the others are aborted.

Simulated in-process (no Ray): a local client whose CPU:0 drops what it sends
and reports its connection closed after its reply.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import raygraph as tf
from scheduler.engine import local


class _DyingLink(local.LocalLink):
    mortal = True
    dead = False

    def receive(self, run_id):
        reply = super().receive(run_id)
        self.dead = True  # killed right after replying
        return reply

    def gone(self) -> bool:
        return self.dead


class _LosingClient(local.LocalClient):
    """CPU:0's transfers are lost and its link dies after its reply."""

    def link(self, device, session_id):
        if device.name.endswith("CPU:0"):
            return _DyingLink(device, self._runner(device))
        return super().link(device, session_id)

    def _deliver(self, destination, run_id, items):
        if not destination.endswith("CPU:0"):
            return  # sent by CPU:0 (the only other device): lost with its process
        super()._deliver(destination, run_id, items)

    def wait(self, links, timeout):
        dead = [link for link in links if getattr(link, "dead", False) and not link._pending]
        if dead:
            return dead
        return super().wait([link for link in links if link._pending], timeout)


@pytest.mark.timeout(60)
def test_a_device_dead_after_its_reply_fails_the_run_instead_of_hanging(monkeypatch):
    monkeypatch.setattr(local, "LocalClient", _LosingClient)
    with tf.Graph().as_default():
        with tf.device("/cpu:0"):
            a = tf.constant(np.arange(4, dtype=np.float32)) * 2.0
        with tf.device("/cpu:1"):
            b = a + 1.0  # waits for a's transfer, which never comes
        with tf.Session("local", config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
            with pytest.raises(
                tf.errors.UnavailableError, match="CPU:0 is unavailable: its actor died after"
            ):
                sess.run(b)


def test_a_channel_tells_a_closed_peer_without_reading():
    from multiprocessing.connection import Connection
    from socket import socketpair

    from scheduler.shell.channel import Channel

    ours, theirs = socketpair()
    chan = Channel.__new__(Channel)
    chan.conn = Connection(ours.detach())
    assert not chan.closed()  # open, nothing to read
    theirs.sendall(b"x")
    assert not chan.closed()  # data waiting: not closed, and the byte is still there
    theirs.close()
    assert not chan.closed()  # the unread byte comes first
    assert os.read(chan.conn.fileno(), 1) == b"x"
    assert chan.closed()  # end of file: the peer is gone
    chan.conn.close()


def test_reading_an_abandoned_runs_reply_does_not_block_for_the_next():
    """A reply left unread by a run given up on comes first; once it is read, the channel
    hands back None instead of blocking for the wanted reply, so the run's own wait (with
    its deadline) goes on."""
    import select
    from collections import deque
    from multiprocessing.connection import Connection
    from socket import socketpair

    from scheduler.shell.channel import Channel, send_frame

    ours, theirs = socketpair()
    chan = Channel.__new__(Channel)
    chan.conn = Connection(ours.detach())
    chan._poll = select.poll()
    chan._poll.register(chan.conn.fileno(), select.POLLIN)
    chan.outstanding = deque(["old", "new"])
    peer = Connection(theirs.detach())
    send_frame(peer, "reply of old")
    assert chan.read_for("new") is None  # the old reply was dropped; the new one is not here
    assert list(chan.outstanding) == ["new"]
    send_frame(peer, "reply of new")
    assert chan.read_for("new") == "reply of new"
    chan.conn.close()
    peer.close()
