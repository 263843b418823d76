"""The Ray client: a session's devices are Ray actors, reached over channels.

`RayClient` implements scheduler.engine.protocol's Client on top of
scheduler.shell.runtime (the actors: started on first use, pinned to their
node, one generation per instance) and scheduler.shell.channel (one
authenticated connection per session and device instance). A `RayLink` sends a
request as one frame, (Request, peers), with large feeds in shared memory when
the actor is on the driver's node, and reads replies in order.

There is one transport. A channel that cannot be opened is an error naming the
device and the reason, never a silent switch to something slower. An actor
that Ray reports dead while connecting (RayActorError), or a session's
connection that breaks, makes the device unavailable, and the next run starts
a new actor. A connection refused, reset or unanswered while connecting is
retried (channel.connect) and never taken for a death: an actor that does not
accept within channel.CONNECT_TIMEOUT_S, or a peer without its secret, is
unavailable for this run, and the actor is kept.
"""

from __future__ import annotations

from multiprocessing import AuthenticationError

import ray

from scheduler.engine.protocol import Client, Device, DeviceUnavailable, Link, Reply, Request
from scheduler.shell import channel, runtime


class RayClient(Client):
    """Devices as Ray actors; joins the process's Ray cluster or starts a local one."""

    def __init__(self):
        runtime.connect()

    def devices(self, device_count: dict | None) -> list[Device]:
        return runtime.devices(device_count)

    def link(self, device: Device, session_id: str) -> Link:
        actor, generation = runtime.actor_for(device)
        try:
            chan = channel.connect(device.name, actor, generation)
        except ray.exceptions.RayActorError as e:
            runtime.forget_actor(device, generation)
            channel.forget(device.name, generation)
            raise DeviceUnavailable(f"its actor died ({type(e).__name__})", generation) from None
        except (OSError, AuthenticationError, ray.exceptions.RayError) as e:
            raise DeviceUnavailable(f"cannot open a channel to its actor: {type(e).__name__}: {e}") from None
        return RayLink(device, actor, generation, chan)

    def wait(self, links: list[Link], timeout: float | None) -> list[Link]:
        ready = channel.wait_readable([link.channel for link in links], timeout)
        return [link for link in links if link.channel in ready]

    def forget(self, link: Link) -> None:
        channel.forget(link.device.name, link.generation)
        runtime.forget_actor(link.device, link.generation)

    def close_session(self, session_id: str, devices: list[Device]) -> None:
        for device in devices:
            actor = runtime.existing_actor(device.name)
            if actor is not None:
                try:
                    actor.close_session.remote(session_id)
                except Exception:  # noqa: BLE001 - closing must not fail on a dead cluster
                    pass


class RayLink(Link):
    """A session's channel to one device actor instance."""

    def __init__(self, device: Device, actor, generation: int, chan):
        self.device = device
        self.actor = actor
        self.generation = generation
        self.channel = chan

    def send(self, request: Request, sends_to: list[Device]) -> None:
        peers = runtime.peers_to_send(self.device, self.generation, sends_to) if sends_to else None
        request.feeds = self.channel.pack_feeds(request.feeds)
        try:
            by_value = request.partition is not None or bool(peers)  # user ops' kernels, actor handles
            self.channel.send((request, peers), request.run_id, by_value)
        except ConnectionError as e:
            raise DeviceUnavailable(f"its actor died ({e})") from None

    def receive(self, run_id) -> Reply:
        try:
            return self.channel.read_for(run_id)
        except ConnectionError as e:
            raise DeviceUnavailable(f"its actor died ({e})") from None

    mortal = True

    def gone(self) -> bool:
        return self.channel.closed()

    def abort(self, run_id, reason: str) -> None:
        try:
            self.actor.abort.remote(run_id, reason)
        except Exception:  # noqa: BLE001 - a dead actor cannot be aborted, nor needs to be
            pass

    def close(self) -> None:
        self.channel.close()
