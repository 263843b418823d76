"""Static cost estimates: which kernels are worth a thread hop.

A device runs cheap nodes inline, in straight-line compiled code, and sends a
node to its thread pool only when the node is expensive enough that running it
beside other work pays for the hop. The executor decides this once, when a
partition is compiled, from the static shapes recorded at graph construction:
no timing, no per-run decision.

Measured on the 2-core development machine (see BENCHMARKS.md, Multi-device):
a hop to a warm pool thread and back costs ~18 us; a 256x784 @ 784x256 float32
matmul ~0.46 ms (2 BLAS threads), a 1024^3 one ~9 ms; adding two 1M-element
float32 arrays ~65 us, exp of 1M elements ~320 us. A node is *heavy* when its
estimate reaches `HEAVY_US` (1 ms), where a hop costs under 2% of the kernel.

The rates are rough on purpose (within a factor of a few of any modern CPU);
only the order of magnitude matters. A shape with unknown dimensions gives no
estimate, and the node counts as cheap: the fast straight-line path is the
default, and overlap must be earned by shapes known at graph construction.
The facts about each op come from its declaration in the registry: its `cost`
("free", "elementwise", "transcendental", or "flops" with a `flops(op)` function
of its static shapes, as MatMul and Conv2D declare), and `heavy = True` or
False, which overrides the estimate. This module names no op type.
"""

from __future__ import annotations

from ops import registry

HEAVY_US = 1000.0
"""Estimated microseconds from which a kernel may run in the pool."""

FLOPS_PER_US = 1e5  # ~100 GFLOP/s: BLAS float32 on one or two cores
ELEMENTS_PER_US = 1.5e4  # a simple ufunc over float32 elements
TRANSCENDENTAL = 5.0  # exp, log, tanh ... cost this many simple ufuncs

# Each op declares how its time grows (`cost` on its declaration in ops/; see
# ops.registry): a scale on its size, or its own arithmetic (`flops`).
_PER_ELEMENT = {"elementwise": 1.0, "transcendental": TRANSCENDENTAL}


def estimate_us(op) -> float:
    """Rough run time of `op`'s kernel in microseconds; 0.0 when shapes are unknown."""
    op_def = registry.get(op.type)
    if op_def.cost == "free":
        return 0.0
    if op_def.cost == "flops":
        return op_def.flops(op) / FLOPS_PER_US
    sizes = [t.shape.num_elements() for t in list(op.inputs) + list(op.outputs)]
    if not sizes or any(s is None for s in sizes):
        return 0.0
    return _PER_ELEMENT[op_def.cost] * max(sizes) / ELEMENTS_PER_US


def is_heavy(op) -> bool:
    """True when `op` is worth running beside other work (see the module docstring).

    An op declaration may decide for itself with a class attribute
    `heavy = True` (or False), e.g. a custom op wrapping a slow library call.
    """
    hint = registry.get(op.type).heavy
    if hint is not None:
        return bool(hint)
    return estimate_us(op) >= HEAVY_US
