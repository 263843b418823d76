"""Device specifications in TensorFlow's spelling.

    "/job:worker/replica:0/task:1/device:CPU:0"   fully specified
    "/device:GPU:1", "/gpu:1", "GPU:1", "/cpu:0"  partial: the rest is left open

A `DeviceSpec` is a partial record; nested `tf.device` scopes merge, inner fields
overriding outer ones, as in TensorFlow. Placement (scheduler.placement) matches a
partial spec against the session's devices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

_FIELD = re.compile(r"^(job|replica|task|device):(.+)$")


@dataclass(frozen=True)
class DeviceSpec:
    """A possibly partial device name, e.g. DeviceSpec(device_type="GPU", device_index=1)."""

    job: str | None = None
    replica: int | None = None
    task: int | None = None
    device_type: str | None = None
    device_index: int | None = None

    @staticmethod
    def from_string(spec: str | DeviceSpec | None) -> DeviceSpec:
        """Parses "/job:w/task:1/device:GPU:0", "/gpu:0", "CPU:0", "" and the like."""
        if isinstance(spec, DeviceSpec):
            return spec
        if not spec:
            return DeviceSpec()
        fields: dict = {}
        for part in str(spec).strip().strip("/").split("/"):
            if not part:
                continue
            m = _FIELD.match(part)
            if m and m.group(1) != "device":
                key, value = m.groups()
                fields[key] = value if key == "job" else _int(value, spec)
                continue
            body = m.group(2) if m else part
            dtype, _, index = body.partition(":")
            if dtype.upper() not in ("CPU", "GPU") and dtype != "*":
                raise ValueError(f"Unknown device type {dtype!r} in device spec {spec!r}")
            fields["device_type"] = None if dtype == "*" else dtype.upper()
            fields["device_index"] = None if index in ("", "*") else _int(index, spec)
        return DeviceSpec(**fields)

    def make_merged_spec(self, other: DeviceSpec) -> DeviceSpec:
        """This spec with the fields that `other` sets replaced by `other`'s."""
        return replace(self, **{k: v for k, v in other.__dict__.items() if v is not None})

    def matches(self, full: DeviceSpec) -> bool:
        """True when every field this spec sets equals `full`'s."""
        return all(v is None or getattr(full, k) == v for k, v in self.__dict__.items())

    def to_string(self) -> str:
        parts = []
        if self.job is not None:
            parts.append(f"/job:{self.job}")
        if self.replica is not None:
            parts.append(f"/replica:{self.replica}")
        if self.task is not None:
            parts.append(f"/task:{self.task}")
        if self.device_type is not None:
            index = "*" if self.device_index is None else self.device_index
            parts.append(f"/device:{self.device_type}:{index}")
        return "".join(parts)

    def __str__(self) -> str:
        return self.to_string()


def _int(value: str, spec) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"Expected an integer in device spec {spec!r}, got {value!r}") from None


def canonical(spec: str | DeviceSpec | None) -> str:
    """The canonical string of a (partial) device spec; "" when unset."""
    return DeviceSpec.from_string(spec).to_string()
