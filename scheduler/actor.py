"""The device actor: one Ray actor per device, holding its sessions' state.

The actor is thin. It keeps, per session, a `SessionState` (variables, random
generators) and the compiled `Executor` of every plan partition it was sent, and
answers one call per run:

    run(session_id, plan_id, feeds, partition=None) -> ("ok", fetches) | ("error", ...)

The partition travels with the first run of a plan and is compiled then; later
runs send only the plan id and the feeds. A kernel error is returned as data
(error class, node name, message), never raised, so a user mistake cannot kill
the actor and the driver can name the op and the user's line.

Tensors cross as `transport.Packed` (Arrow IPC through the object store).
"""

from __future__ import annotations

import os
import traceback

import ray

from scheduler.executor import Executor, NodeError, SessionState
from scheduler.transport import pack_all


def array_module(name: str):
    """The array module kernels run with: "numpy", "cupy", or "auto".

    "auto" (GPU devices) takes cupy when it imports and sees a CUDA device, and
    numpy otherwise, so fake GPUs declared to Ray run the same kernels on the CPU.
    """
    import numpy

    if name == "numpy":
        return numpy
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:  # noqa: BLE001 - no cupy, no driver, or no device
        if name == "cupy":
            raise
    return numpy


class DeviceActor:
    """Runs plan partitions for one device; see the module docstring."""

    def __init__(self, device: str, array_module_name: str = "numpy", intra_op_threads: int | None = None):
        import ops

        ops.load_all()
        self.device = device
        self.xp = array_module(array_module_name)
        self.sessions: dict[str, SessionState] = {}
        self._blas_limit = None
        if intra_op_threads:
            from threadpoolctl import threadpool_limits

            self._blas_limit = threadpool_limits(limits=intra_op_threads)

    def ping(self) -> dict:
        return {
            "device": self.device,
            "pid": os.getpid(),
            "array_module": self.xp.__name__,
            "sessions": len(self.sessions),
        }

    def run(self, session_id: str, plan_id: int, feeds: list, partition=None):
        state = self.sessions.setdefault(session_id, SessionState())
        try:
            if partition is not None:
                state.executors[plan_id] = Executor(partition, state, self.xp)
            executor = state.executors[plan_id]
            return ("ok", pack_all(executor.run(feeds)))
        except NodeError as e:
            return e.as_data()
        except Exception as e:  # noqa: BLE001 - report, never die on a user's graph
            return ("error", "InternalError", None, f"{type(e).__name__}: {e}\n{traceback.format_exc()}", None)

    def read_variables(self, session_id: str, names: list[str]):
        state = self.sessions.get(session_id)
        values = [state.variables.get(n) if state else None for n in names]
        return pack_all(values)

    def close_session(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)


RemoteDeviceActor = ray.remote(DeviceActor)
