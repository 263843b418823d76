"""The local client: every device of a session in this process (`Session(target="local")`).

Same plans, kernels, errors and replies as on Ray actors, with no Ray and no
sockets: each device is a `DeviceRunner` held by the client, and transfers
between devices are `deliver` calls. A kernel can be stepped through with pdb.

A run that involves one device only runs inline, on the caller's thread. A
run whose partition sends to or receives from another device runs on the
link's own thread, so every device of the run makes progress at once (a
device waiting for a tensor must not block the one that produces it); so does
a run with a blocking kernel (a dequeue), so that the session can give up on
it at its deadline or when it closes. A link serves its requests in order, as
a channel does; the session's threads each have their own links
(scheduler.engine.central), so a run blocked on one thread's link does not
hold back another thread's.

Values handed across (fetches, transfers) are read-only views: a device's
variables are not aliased by what a session fetched or another device holds
(an assignment copies a read-only value; a fetch is copied for the user).
"""

from __future__ import annotations

import functools
import queue
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait

import numpy as np

from scheduler.engine.device import DeviceRunner, array_module
from scheduler.engine.protocol import Client, Device, Link, Reply, Request

JOB = "localhost"  # TensorFlow's job name for in-process devices


class LocalClient(Client):
    """Devices in this process; see the module docstring."""

    def __init__(self):
        self._runners: dict[str, DeviceRunner] = {}
        self._lock = threading.Lock()

    def devices(self, device_count: dict | None) -> list[Device]:
        device_count = device_count or {}
        prefix = f"/job:{JOB}/replica:0/task:0/device"
        out = [
            Device(f"{prefix}:CPU:{i}", "CPU", i, 0, "local")
            for i in range(max(0, int(device_count.get("CPU", 1))))
        ]
        gpus = _gpu_count()
        for i in range(min(gpus, int(device_count.get("GPU", gpus)))):
            out.append(Device(f"{prefix}:GPU:{i}", "GPU", i, 0, "local", 0.0))
        for device in out:  # every device exists before any run sends to it
            self._runner(device)
        return out

    def _runner(self, device: Device) -> DeviceRunner:
        with self._lock:
            runner = self._runners.get(device.name)
            if runner is None:
                xp = array_module("auto" if device.device_type == "GPU" else "numpy")
                runner = self._runners[device.name] = DeviceRunner(device.name, xp, self._deliver, blas=False)
            return runner

    def link(self, device: Device, session_id: str) -> Link:
        return LocalLink(device, self._runner(device))

    def _deliver(self, destination: str, run_id, items: list) -> None:
        self._runners[destination].deliver(run_id, [(k, _read_only(v), *rest) for k, v, *rest in items])

    def wait(self, links: list[Link], timeout: float | None) -> list[Link]:
        futures = {link.next_future(): link for link in links}
        done, _ = wait(list(futures), timeout=timeout, return_when=FIRST_COMPLETED)
        return [futures[f] for f in done]

    def forget(self, link: Link) -> None:
        pass  # a local device does not die

    def close_session(self, session_id: str, devices: list[Device]) -> None:
        for device in devices:
            runner = self._runners.get(device.name)
            if runner is not None:
                runner.close_session(session_id)


class LocalLink(Link):
    """A session's link to an in-process device: requests served in order.

    Requests that must run beside other devices go to the link's own thread, a
    daemon: a kernel that never returns cannot keep the interpreter from exiting,
    and closing the link aborts what it still runs.
    """

    def __init__(self, device: Device, runner: DeviceRunner):
        self.device = device
        self.generation = 0  # a local device has one instance
        self.runner = runner
        self._pending: deque[tuple[tuple, Future]] = deque()
        self._queue: queue.SimpleQueue | None = None

    def send(self, request: Request, sends_to: list[Device]) -> None:
        future = Future()
        busy = any(not f.done() for _, f in self._pending)
        if busy or self.runner.waits_for_others(request) or self.runner.may_block(request):
            if self._queue is None:
                self._queue = queue.SimpleQueue()
                name = f"raygraph-local {self.device.name}"
                threading.Thread(target=self._serve, args=(self._queue,), name=name, daemon=True).start()
            self._queue.put((request, future))
        else:
            future.set_result(self._run(request))
        self._pending.append((request.run_id, future))

    def _serve(self, requests: queue.SimpleQueue) -> None:
        while (item := requests.get()) is not None:
            request, future = item
            future.set_result(self._run(request))

    def _run(self, request: Request) -> Reply:
        reply = self.runner.run(request)
        reply.fetches = [_read_only(f) for f in reply.fetches]
        return reply

    def next_future(self) -> Future:
        return self._pending[0][1]

    def receive(self, run_id) -> Reply:
        while self._pending:
            pending_id, future = self._pending.popleft()
            reply = future.result()
            if pending_id == run_id:
                return reply
        raise RuntimeError(f"no request of run {run_id} is waiting for a reply")

    def abort(self, run_id, reason: str) -> None:
        self.runner.abort(run_id, reason)

    def close(self) -> None:
        for run_id, future in self._pending:
            if not future.done():
                self.runner.abort(run_id, "the session was closed")
        if self._queue is not None:
            self._queue.put(None)


def _read_only(value):
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value = value.view()
        value.flags.writeable = False
    return value


@functools.cache
def _gpu_count() -> int:
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # noqa: BLE001 - no cupy, no driver, or no device
        return 0
