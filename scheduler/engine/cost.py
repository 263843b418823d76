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
An op declaration can override the estimate with `heavy = True` or False.
"""

from __future__ import annotations

import math

from ops import registry

HEAVY_US = 1000.0
"""Estimated microseconds from which a kernel may run in the pool."""

FLOPS_PER_US = 1e5  # ~100 GFLOP/s: BLAS float32 on one or two cores
ELEMENTS_PER_US = 1.5e4  # a simple ufunc over float32 elements
TRANSCENDENTAL = 5.0  # exp, log, tanh ... cost this many simple ufuncs

_MATMULS = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"}
_CONVS = {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "Conv3D", "DepthwiseConv2dNative"}
_TRANSCENDENTAL = {
    "Exp",
    "Expm1",
    "Log",
    "Log1p",
    "Tanh",
    "Sigmoid",
    "Sin",
    "Cos",
    "Tan",
    "Erf",
    "Pow",
    "Softmax",
    "LogSoftmax",
    "Softplus",
    "Elu",
    "Selu",
    "Lgamma",
    "Digamma",
    "Atan2",
}
_FREE = {"Const", "Placeholder", "VariableV2", "Identity", "NoOp", "Shape", "Reshape", "StopGradient"}


def _elements(shape) -> int | None:
    dims = shape.as_list() if shape.ndims is not None else None
    if dims is None or any(d is None for d in dims):
        return None
    return math.prod(dims)


def estimate_us(op) -> float:
    """Rough run time of `op`'s kernel in microseconds; 0.0 when shapes are unknown."""
    if op.type in _FREE:
        return 0.0
    if op.type in _MATMULS:
        return _matmul_flops(op) / FLOPS_PER_US
    if op.type in _CONVS:
        return _conv_flops(op) / FLOPS_PER_US
    sizes = [_elements(t.shape) for t in list(op.inputs) + list(op.outputs)]
    if not sizes or any(s is None for s in sizes):
        return 0.0
    scale = TRANSCENDENTAL if op.type in _TRANSCENDENTAL else 1.0
    return scale * max(sizes) / ELEMENTS_PER_US


def is_heavy(op) -> bool:
    """True when `op` is worth running beside other work (see the module docstring).

    An op declaration may decide for itself with a class attribute
    `heavy = True` (or False), e.g. a custom op wrapping a slow library call.
    """
    hint = getattr(registry.get(op.type), "heavy", None)
    if hint is not None:
        return bool(hint)
    return estimate_us(op) >= HEAVY_US


def _matmul_flops(op) -> float:
    """2 * output elements * the contracted dimension."""
    out = _elements(op.outputs[0].shape)
    a = op.inputs[0].shape
    if out is None or a.ndims is None or a.ndims < 2:
        return 0.0
    transpose = op.attrs.get("transpose_a") or op.attrs.get("adj_x")
    inner = a.as_list()[-2 if transpose else -1]
    return 0.0 if inner is None else 2.0 * out * inner


def _conv_flops(op) -> float:
    """2 * output (or output-gradient) elements * the filter's window (kh * kw * cin)."""
    if op.type == "Conv2DBackpropFilter":
        filt, dy = op.outputs[0].shape, op.inputs[2].shape
    elif op.type == "Conv2DBackpropInput":
        filt, dy = op.inputs[1].shape, op.inputs[2].shape
    else:
        filt, dy = op.inputs[1].shape, op.outputs[0].shape
    f, y = _elements(filt), _elements(dy)
    if f is None or y is None or not filt.as_list() or not filt.as_list()[-1]:
        return 0.0
    return 2.0 * y * f / filt.as_list()[-1]
