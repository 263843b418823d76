"""The Ray side of a process: connecting, naming devices, and the device actors.

`connect()` joins the Ray cluster this process belongs to (the one `ray job
submit` gives through RAY_ADDRESS, or one started with `ray start`) or starts a
local one, trimmed for a quick start (`LOCAL_RAY_OPTIONS` and `LOCAL_RAY_TRIMS`: no
dashboard or API server, no autoscaler monitor, workers started on demand; see `local_ray`).
`devices(device_count)` names the devices the cluster offers, in TF's form:
"/job:worker/replica:0/task:T/device:CPU:i" and ".../device:GPU:i", T the Ray
node's index (the driver's node is task 0, the others follow in node id order),
`device_count["CPU"]` CPU devices per node (default 1) and each GPU of the node
(at most `device_count["GPU"]`).

`actor_for(device)` returns the device's actor and its *generation*, starting
it on first use: pinned to the device's node (NodeAffinity, hard), `num_gpus=1`
for a GPU, a share of the node's CPUs for a CPU device, and named after the
device ("raygraph/job:worker/replica:0/task:0/device:CPU:0", with "#<generation>"
after a restart) so `ray list actors` tells which is which. Actors are shared
by every session of this process; each session keeps its own state inside.

State (module level, under `_lock`): `_actors` (device name -> (handle,
generation)) and `_told` ((device, generation) -> {peer device: generation}),
what each actor instance knows of its peers. A dead actor is dropped with
`forget_actor`; the next `actor_for` starts a new one with a new generation, and
the schedulers see, by the generation, that it needs its partitions and peers
again. So is one pinned to another node than the device's (`_node_of`): when
nodes come and go, "task:1" of a new session may be another node than it was. An actor that cannot start (its resources are taken) is an
UnavailableError after `START_TIMEOUT_S`, never a hang.
"""

from __future__ import annotations

import itertools
import os
import threading

import ray

from raygraph import errors
from scheduler.engine.protocol import Device
from scheduler.shell import local_ray

JOB = "worker"
START_TIMEOUT_S = 60.0
_lock = threading.RLock()
_actors: dict[str, tuple[object, int]] = {}
_told: dict[tuple[str, int], dict[str, int]] = {}
_generations = itertools.count(1)
_starts: dict[str, int] = {}  # device name -> actors started for it
_names: dict[str, str] = {}  # device name -> its current actor's Ray name
_node_of: dict[str, str] = {}  # device name -> the node its current actor is pinned to


def connect() -> None:
    """Joins the process's Ray cluster, or starts a local one (`LOCAL_RAY_OPTIONS`, `LOCAL_RAY_TRIMS`)."""
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray starts workers at niceness 15; device actors are the compute engine and,
    # on a small machine, must not yield to every other process. (Local clusters
    # only; actors also try to reset their own priority, see scheduler.actor.)
    os.environ.setdefault("RAY_worker_niceness", "0")
    options = dict(logging_level="WARNING", log_to_driver=True, configure_logging=True)
    if starts_local_ray():
        local_ray.init({**options, **LOCAL_RAY_OPTIONS}, LOCAL_RAY_TRIMS)
    else:
        ray.init(**options)


# What a local Ray started by `connect()` changes from Ray's defaults, each lever
# measured in BENCHMARKS.md ("Cold start"): no dashboard web modules; no worker
# processes prestarted, one per CPU, when the first driver connects (ray.init would
# wait until they have registered): the device actor's worker starts on demand.
# LOCAL_RAY_TRIMS are the processes left out of Ray's head node (see local_ray: the
# API server, which include_dashboard=False does not stop, and the autoscaler
# monitor) and ray.init's 1 s poll for the raylet. A cluster that
# exists (RAY_ADDRESS, `ray start`) is joined as it is; for a dashboard, the state
# API or `ray job submit` on one machine, start one with `ray start --head` first.
LOCAL_RAY_OPTIONS: dict = {
    "include_dashboard": False,
    "_system_config": {"prestart_worker_first_driver": False},
}
LOCAL_RAY_TRIMS: frozenset = local_ray.TRIMS


def starts_local_ray() -> bool:
    """Whether `connect()` would start a local Ray: no RAY_ADDRESS (or "local") and no `ray start` cluster."""
    address = os.environ.get("RAY_ADDRESS", "")
    if address == "local":
        return True
    if address:
        return False
    try:  # ray.init()'s own lookup: the address file that `ray start` writes
        from ray._private.services import canonicalize_bootstrap_address

        return canonicalize_bootstrap_address(None) is None
    except (ImportError, ValueError):  # moved in Ray, or a bad address: let ray.init() decide
        return False


def _nodes() -> list[dict]:
    """Alive Ray nodes, this driver's node first: task 0."""
    here = ray.get_runtime_context().get_node_id()
    alive = [n for n in ray.nodes() if n.get("Alive")]
    return sorted(alive, key=lambda n: (n["NodeID"] != here, n["NodeID"]))


def devices(device_count: dict | None = None) -> list[Device]:
    """The devices of the cluster, per node: CPU:0.. (device_count["CPU"], default 1), each GPU."""
    connect()
    device_count = device_count or {}
    out = []
    for task, node in enumerate(_nodes()):
        resources = node.get("Resources", {})
        cpus = resources.get("CPU", 0)
        gpus = int(resources.get("GPU", 0))
        n_cpu = max(0, int(device_count.get("CPU", 1))) if cpus else 0
        n_gpu = max(0, min(gpus, int(device_count.get("GPU", gpus))))
        share = min(1.0, cpus / max(n_cpu, 1))
        memory = int(resources.get("memory", 0) / max(n_cpu, 1))
        prefix = f"/job:{JOB}/replica:0/task:{task}/device"
        for i in range(n_cpu):
            out.append(Device(f"{prefix}:CPU:{i}", "CPU", i, task, node["NodeID"], share, memory))
        for i in range(n_gpu):
            out.append(Device(f"{prefix}:GPU:{i}", "GPU", i, task, node["NodeID"], 0.0, 0))
    return out


def actor_for(device: Device) -> tuple[object, int]:
    """(handle, generation) of the device's actor, started on first use."""
    return actors_for([device])[0]


def actors_for(devices: list[Device]) -> list[tuple[object, int]]:
    """(handle, generation) of each device's actor; missing ones start together."""
    with _lock:
        started = []
        for device in devices:
            if device.name in _actors and _node_of.get(device.name) != device.node_id:
                forget_actor(device)  # nodes came or went: the task's name now means another node
            if device.name not in _actors:
                generation = next(_generations)
                _actors[device.name] = (_start_actor(device, generation), generation)
                started.append(device)
        if started:
            _wait_started(started)
        return [_actors[d.name] for d in devices]


def existing_actor(name: str):
    """The handle of the actor of device `name` if one was started (and not forgotten)."""
    with _lock:
        entry = _actors.get(name)
        return entry[0] if entry else None


def actor_name(name: str) -> str | None:
    """The Ray name of device `name`'s current actor ("raygraph/job:...", "#n" after restarts)."""
    with _lock:
        return _names.get(name) if name in _actors else None


def forget_actor(device: Device, generation: int | None = None) -> None:
    """Drops a dead actor (if still the given generation); the next `actor_for` starts one."""
    with _lock:
        entry = _actors.get(device.name)
        if entry is not None and (generation is None or entry[1] == generation):
            del _actors[device.name]
            _told.pop((device.name, entry[1]), None)


def peers_to_send(device: Device, generation: int, peers: list[Device]) -> dict | None:
    """{peer device name: (handle, node id)} the actor does not know yet (None if it knows them all).

    Starts the peers' actors if needed, and records them as told: the caller
    sends them with its next call to the actor.
    """
    with _lock:
        told = _told.setdefault((device.name, generation), {})
        new = {}
        for peer in peers:
            handle, gen = actor_for(peer)
            if told.get(peer.name) != gen:
                new[peer.name] = (handle, _node_of.get(peer.name, peer.node_id))
                told[peer.name] = gen
        return new or None


def _start_actor(device: Device, generation: int):
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from scheduler.shell.actor import RemoteDeviceActor

    gpu = device.device_type == "GPU"
    starts = _starts[device.name] = _starts.get(device.name, 0) + 1
    base = f"raygraph{device.name}" + ("" if starts == 1 else f"#{starts}")
    options = dict(
        num_cpus=device.num_cpus,
        num_gpus=1 if gpu else 0,
        max_concurrency=32,  # runs in flight on one actor (sessions, threads)
        scheduling_strategy=NodeAffinitySchedulingStrategy(device.node_id, soft=False),
    )
    name = base
    try:
        actor = RemoteDeviceActor.options(name=name, **options).remote(device.name, _array_module_for(device))
    except ValueError:  # the name is taken (another process in this namespace)
        name = f"{base} pid{os.getpid()}#{generation}"
        actor = RemoteDeviceActor.options(name=name, **options).remote(device.name, _array_module_for(device))
    _names[device.name] = name
    _node_of[device.name] = device.node_id
    return actor


def _wait_started(started: list[Device]) -> None:
    """Waits until the new actors answer; an UnavailableError names one that cannot start."""
    pings = {_actors[d.name][0].ping.remote(): d for d in started}
    ready, waiting = ray.wait(list(pings), num_returns=len(pings), timeout=START_TIMEOUT_S)
    if not waiting:
        return
    device = pings[waiting[0]]
    for ref in waiting:
        d = pings[ref]
        ray.kill(_actors.pop(d.name)[0])
    raise errors.UnavailableError(
        None,
        None,
        f"Device {device.name} did not start within {START_TIMEOUT_S:.0f} s: its actor needs "
        f"{device.num_cpus:g} CPU and {1 if device.device_type == 'GPU' else 0} GPU on node "
        f"{device.node_id[:12]}, and the cluster has not granted them (other actors hold them?).",
    )


def _array_module_for(device: Device) -> str:
    """numpy on CPUs; on GPUs the actor picks cupy when it sees a CUDA device."""
    return "auto" if device.device_type == "GPU" else "numpy"
