"""The first name looked up on a fresh `import raygraph as tf` is the public one, also
where a submodule has the same name (tf.device is the function, not raygraph/device.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "name, kind", [("device", "function"), ("gradients", "function"), ("variable_scope", "type")]
)
def test_first_lookup_gives_the_public_name(name, kind):
    code = f"import raygraph as tf; print(type(tf.{name}).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == kind
