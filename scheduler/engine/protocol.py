"""What the driver and a device say to each other, and the interface between them.

A run of a plan is one `Request` per device of the plan and one `Reply` back,
both plain dataclasses. The driver (scheduler.engine.central) talks to devices
through a `Client` with two implementations:

    scheduler.engine.local.LocalClient   every device in this process, on threads
    scheduler.shell.client.RayClient     every device a Ray actor, over a channel

A client hands out `Link`s: one session's connection to one instance of a
device. Requests on a link are served in order, so a session's runs never
overtake each other; replies are read back by run id. A device whose instance
is gone is a `DeviceUnavailable` from `send` or `receive`: the driver forgets
the link (its generation), and the next `link()` makes a new instance, which
needs its partitions again.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Device:
    """One device of the session: its TF name and where it runs.

    >>> Device("/job:worker/replica:0/task:0/device:CPU:0", "CPU", 0, 0, "local")
    """

    name: str  # "/job:worker/replica:0/task:0/device:CPU:0"
    device_type: str  # "CPU" or "GPU"
    index: int
    task: int  # the node's index; the driver's node is task 0
    node_id: str
    num_cpus: float = 1.0
    memory_limit_bytes: int = 0


@dataclass
class Request:
    """One run of one plan's partition on one device.

    `partition` travels with the first run of a plan on a device instance (the
    device compiles it then) and is None afterwards. `blas_threads` is the
    session's intra_op_parallelism_threads; 0 lets the device choose: its cores
    less `reserved_cores`, shared by `devices_on_node` devices. `steps` runs
    the partition that many times in a row on the device (the same feeds each
    time, raygraph's RunOptions.steps_per_run); the Reply holds the last
    step's fetches.
    """

    session_id: str
    plan_id: int
    run_id: tuple
    feeds: list  # arrays, in the partition's `feeds` order
    partition: object = None  # scheduler.engine.plan.Partition, first run only
    blas_threads: int = 0
    reserved_cores: int = 0
    devices_on_node: int = 1
    inter_op_threads: int = 0
    trace: bool = False
    steps: int = 1

    def __reduce__(self):  # positional: a third cheaper to pickle than the instance's dict
        return Request, tuple(self.__dict__.values())


@dataclass
class Reply:
    """A device's answer to a Request.

    status "ok": `fetches` in the partition's `fetches` order, and `trace`
    (start ns, end ns, node records, transfer records) when asked. "error": a
    kernel (or the device) failed; `error_class` is TF's error class name,
    `node` the failing node (None when no node ran), `variable` the
    uninitialized variable when that is the error. "aborted": another device
    failed first. `has_plan` says whether the device now holds the plan.
    """

    status: str
    fetches: list = field(default_factory=list)
    trace: tuple | None = None
    error_class: str = ""
    node: str | None = None
    message: str = ""
    variable: str | None = None
    has_plan: bool = True

    def __reduce__(self):  # positional: a third cheaper to pickle than the instance's dict
        return Reply, tuple(self.__dict__.values())


class DeviceUnavailable(Exception):
    """The device's instance is gone (its process died, its connection broke).

    `generation` names the instance, when the link to it could not even be made.
    """

    def __init__(self, message: str, generation: int | None = None):
        super().__init__(message)
        self.generation = generation


class Link:
    """One session's connection to one instance of a device (see the module docstring)."""

    device: Device
    generation: int  # which instance: a new one after the device died

    def send(self, request: Request, sends_to: list[Device]) -> None:
        """Sends a request; `sends_to` are the devices its partition sends tensors to."""
        raise NotImplementedError

    def receive(self, run_id) -> Reply | None:
        """The reply to run `run_id`, waiting for it (replies of abandoned runs are dropped).

        None when what was ready to read was only an earlier, abandoned run's reply: the
        caller waits again (under its deadline) instead of blocking here.
        """
        raise NotImplementedError

    def abort(self, run_id, reason: str) -> None:
        """Tells the device to end run `run_id` (another device failed); never raises."""
        raise NotImplementedError

    mortal = False  # whether the instance can die (a process of its own): see `gone`

    def gone(self) -> bool:
        """Whether the instance is known dead (its connection closed), without reading a reply.

        The scheduler asks it of a device that has already replied to a run while
        the others still work: a tensor it sent them may have died with it.
        """
        return False

    def close(self) -> None:
        raise NotImplementedError


class Client:
    """How a session reaches its devices (see the module docstring)."""

    def devices(self, device_count: dict | None) -> list[Device]:
        """The devices a session may use: CPU:0.. per node (device_count["CPU"]), each GPU."""
        raise NotImplementedError

    def link(self, device: Device, session_id: str) -> Link:
        """A new link to the device's current instance, starting one if needed."""
        raise NotImplementedError

    def wait(self, links: list[Link], timeout: float | None) -> list[Link]:
        """The links with a reply ready to read, waiting up to `timeout` s (None: until one)."""
        raise NotImplementedError

    def forget(self, link: Link) -> None:
        """The link's device instance is gone: the next `link` makes a new one."""
        raise NotImplementedError

    def close_session(self, session_id: str, devices: list[Device]) -> None:
        """Frees the session's state (variables, compiled plans) on those devices."""
        raise NotImplementedError
