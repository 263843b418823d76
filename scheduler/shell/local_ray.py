"""Starting the local Ray that raygraph starts itself, with only what a local session uses.

`init(options, trims)` is `ray.init(**options)` for a Ray that this process
starts (no RAY_ADDRESS, no cluster from `ray start`: `runtime.starts_local_ray()`),
with Ray's head node trimmed while ray.init builds it. Each trim is a name in
`trims`; `TRIMS` holds all of them, each measured in BENCHMARKS.md ("Cold start"):

- "api_server": no dashboard API server process. ray.init starts it even with
  include_dashboard=False (then it serves nothing: no dashboard, no state API,
  no job submission) and waits ~1 s for it to write its address before it
  starts the raylet. The node's dashboard URL is "", as in Ray's minimal install.
- "monitor": no autoscaler monitor process (`RayParams.no_monitor`, what
  `ray start --no-monitor` sets): a local Ray has nothing to autoscale.
- "node_poll": ray.init waits for the raylet to register through Ray's C++
  `GetNode`, which asks the GCS once per second; this waits for it first by
  asking every `POLL_S`, so ray.init returns within `POLL_S` of the raylet
  registering instead of up to 1 s later.

How: while ray.init runs (under `_lock`), `ray._private.node.Node` is replaced
by `_TrimmedNode`, a subclass that overrides the few steps above; nothing else
in Ray changes, and the class is restored when ray.init returns or fails. The
hooks are Ray internals: if a Ray release moves them (`_node_module()` is
None), `init` warns and starts Ray untrimmed. A cluster that already
exists (RAY_ADDRESS, `ray start`) never comes here; for a dashboard, the state
API (`ray list actors`) or `ray job submit` on one machine, start a cluster with
`ray start --head` and raygraph joins it as it is.
"""

from __future__ import annotations

import logging
import threading
import time

import ray

POLL_S = 0.02  # how often "node_poll" asks the GCS whether the raylet has registered
TRIMS = frozenset({"api_server", "monitor", "node_poll"})
_lock = threading.Lock()
_log = logging.getLogger(__name__)


def init(options: dict, trims=TRIMS, ray_init=None) -> None:
    """`ray.init(**options)`, starting a local Ray without the parts named in `trims`.

    `ray_init` replaces ray.init (the test suite passes the real one past its guard).
    """
    ray_init = ray_init or ray.init
    trims = frozenset(trims)
    unknown = trims - TRIMS
    if unknown:
        raise ValueError(f"unknown local Ray trims {sorted(unknown)}; known: {sorted(TRIMS)}")
    if not trims:
        ray_init(**options)
        return
    with _lock:
        node_module = _node_module()
        if node_module is None:
            _log.warning("raygraph: this Ray has moved its node hooks; starting Ray untrimmed")
            ray_init(**options)
            return
        original = node_module.Node
        node_module.Node = _trimmed_node_class(original, trims)
        try:
            ray_init(**options)
        finally:
            node_module.Node = original


def _node_module():
    """ray._private.node if it still has every hook `_TrimmedNode` overrides, else None."""
    try:
        import ray._private.node as node_module
    except ImportError:
        return None
    node = getattr(node_module, "Node", None)
    needed = ("start_api_server", "start_ray_processes", "get_gcs_client", "node_id")
    if node is None or not all(hasattr(node, name) for name in needed):
        return None
    return node_module


def _trimmed_node_class(base: type, trims: frozenset) -> type:
    """A subclass of Ray's Node that leaves out `trims` when it starts a head node."""

    class _TrimmedNode(base):
        def __init__(self, ray_params, *args, **kwargs):
            if "monitor" in trims and kwargs.get("head", args[0] if args else False):
                ray_params.no_monitor = True
            super().__init__(ray_params, *args, **kwargs)

        def start_api_server(self, *, include_dashboard, raise_on_failure):
            if "api_server" not in trims or include_dashboard:
                return super().start_api_server(
                    include_dashboard=include_dashboard, raise_on_failure=raise_on_failure
                )
            self._webui_url = ""  # as in Ray's minimal install: no dashboard URL

        def start_ray_processes(self):
            super().start_ray_processes()
            if "node_poll" in trims:
                _wait_registered(self.get_gcs_client(), self.node_id)

    _TrimmedNode.__qualname__ = _TrimmedNode.__name__ = "TrimmedNode"
    return _TrimmedNode


def _wait_registered(gcs_client, node_id_hex: str, timeout_s: float = 30.0) -> None:
    """Returns once the GCS lists the node as alive (or after `timeout_s`: Ray's own wait decides)."""
    from ray.core.generated.gcs_pb2 import GcsNodeInfo
    from ray.core.generated.gcs_service_pb2 import GetAllNodeInfoRequest

    selector = GetAllNodeInfoRequest.NodeSelector(node_id=bytes.fromhex(node_id_hex))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if gcs_client.get_all_node_info(
                timeout=5, node_selectors=[selector], state_filter=GcsNodeInfo.GcsNodeState.ALIVE
            ):
                return
        except Exception:  # noqa: BLE001 - Ray's own GetNode after this reports any real failure
            return
        time.sleep(POLL_S)
