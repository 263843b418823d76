"""The Ray side of a process: connecting, naming devices, and the device actors.

`connect()` joins the Ray cluster this process belongs to (the one `ray job
submit` gives through RAY_ADDRESS, or one started with `ray start`) or starts a
local one. `devices(config)` names the devices the cluster offers, in TF's form
("/job:worker/replica:0/task:T/device:CPU:i", T the Ray node). `actor_for(device)`
returns the device's actor, starting it on first use; actors are shared by all
sessions of this process, and each session keeps its own state inside them.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import ray

JOB = "worker"
_lock = threading.Lock()
_actors: dict[str, ray.actor.ActorHandle] = {}


@dataclass(frozen=True)
class Device:
    """One device of the cluster: its TF name and where its actor runs."""

    name: str  # "/job:worker/replica:0/task:0/device:CPU:0"
    device_type: str  # "CPU" or "GPU"
    index: int
    task: int
    node_id: str
    num_cpus: float = 1.0


def connect() -> None:
    """Joins the process's Ray cluster, or starts a local one."""
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(logging_level="WARNING", log_to_driver=True, configure_logging=True)


def _nodes() -> list[dict]:
    """Alive Ray nodes, the head (or this driver's node) first: task 0."""
    here = ray.get_runtime_context().get_node_id()
    alive = [n for n in ray.nodes() if n.get("Alive")]
    return sorted(alive, key=lambda n: (n["NodeID"] != here, n["NodeID"]))


def devices(device_count: dict | None = None) -> list[Device]:
    """The devices of the cluster: CPU:0 per node (more with device_count) and each GPU."""
    connect()
    device_count = device_count or {}
    out = []
    for task, node in enumerate(_nodes()):
        resources = node.get("Resources", {})
        cpus = resources.get("CPU", 0)
        gpus = int(resources.get("GPU", 0))
        n_cpu = int(device_count.get("CPU", 1)) if cpus else 0
        n_gpu = min(gpus, int(device_count.get("GPU", gpus)))
        share = min(1.0, cpus / max(n_cpu, 1))
        for i in range(n_cpu):
            name = f"/job:{JOB}/replica:0/task:{task}/device:CPU:{i}"
            out.append(Device(name, "CPU", i, task, node["NodeID"], share))
        for i in range(n_gpu):
            name = f"/job:{JOB}/replica:0/task:{task}/device:GPU:{i}"
            out.append(Device(name, "GPU", i, task, node["NodeID"], 0.0))
    return out


def actor_for(device: Device, intra_op_threads: int | None = None):
    """The device's actor, started on first use and pinned to the device's node."""
    with _lock:
        actor = _actors.get(device.name)
        if actor is None:
            actor = _start_actor(device, intra_op_threads)
            _actors[device.name] = actor
        return actor


def forget_actor(device: Device) -> None:
    """Drops a dead actor so that the next `actor_for` starts a new one."""
    with _lock:
        _actors.pop(device.name, None)


def _start_actor(device: Device, intra_op_threads: int | None):
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from scheduler.actor import RemoteDeviceActor

    gpu = device.device_type == "GPU"
    return RemoteDeviceActor.options(
        name=f"raygraph{device.name}",
        get_if_exists=False,
        num_cpus=device.num_cpus,
        num_gpus=1 if gpu else 0,
        max_concurrency=16,
        scheduling_strategy=NodeAffinitySchedulingStrategy(device.node_id, soft=False),
    ).remote(device.name, _array_module_for(device), intra_op_threads)


def _array_module_for(device: Device) -> str:
    """numpy on CPUs; on GPUs the actor picks cupy when it sees a CUDA device."""
    return "auto" if device.device_type == "GPU" else "numpy"
