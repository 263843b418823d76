"""Placement: which device runs each op. A pure function of the graph and devices.

Rules, in order (TensorFlow's, simplified):
1. Ops in a colocation group, and an Assign with its variable, go where the
   group's (variable's) op goes.
2. An op's requested device (`tf.device`), merged into a full name, must match
   exactly one of the session's devices; the first match wins for partial specs.
3. No request: the default device, the first GPU if there is one, else CPU:0 of
   the first task.
A request no device matches is an InvalidArgumentError naming the op and the
device, unless soft placement is on; then the op goes to the default device of
its type, or the default device.
"""

from __future__ import annotations

from raygraph import errors
from raygraph.device import DeviceSpec
from raygraph.graph import Operation, format_location
from scheduler.plan import ref_input_indices


def default_device(devices) -> str:
    gpus = [d for d in devices if d.device_type == "GPU"]
    return (gpus or list(devices))[0].name


def place(ops: list[Operation], devices, allow_soft_placement: bool = False) -> dict[str, str]:
    """{op name: device name} for every op in `ops`."""
    specs = {d.name: DeviceSpec.from_string(d.name) for d in devices}
    default = default_device(devices)
    placement: dict[str, str] = {}
    for op in ops:
        anchor = _colocation_anchor(op)
        if anchor is not None and anchor.name in placement:
            placement[op.name] = placement[anchor.name]
            continue
        placement[op.name] = _resolve(op, specs, default, allow_soft_placement)
    return placement


def _colocation_anchor(op: Operation) -> Operation | None:
    """The op whose device `op` must share: its variable, or its colocation group."""
    for i in sorted(ref_input_indices(op)):
        return op.inputs[i].op
    if op.colocation_groups:
        return op.graph._by_name.get(op.colocation_groups[0])
    return None


def _resolve(op: Operation, specs: dict[str, DeviceSpec], default: str, soft: bool) -> str:
    if not op.device:
        return default
    wanted = DeviceSpec.from_string(op.device)
    for name, spec in specs.items():
        if wanted.matches(spec):
            return name
    if soft:
        same_type = [n for n, s in specs.items() if s.device_type == wanted.device_type]
        return same_type[0] if same_type else default
    raise errors.InvalidArgumentError(
        None,
        op,
        f"Cannot assign a device for operation '{op.name}' (created at "
        f"{format_location(op.location)}): Could not satisfy explicit device specification "
        f"'{op.device}' because no supported kernel for that device is available or no such "
        f"device exists. Devices: {', '.join(specs)}. Set "
        "ConfigProto(allow_soft_placement=True) to place it on an available device.",
    )
