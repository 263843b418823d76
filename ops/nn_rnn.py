"""The LSTM cell's elementwise update as one op, and its gradient as one op.

    new_c, new_h = LSTMCellUpdate(gates, c_prev, forget_bias)
    # gates = [i, j, f, o] = W [x, h] + b, of shape [batch, 4 * units]
    # new_c = c_prev * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j)
    # new_h = tanh(new_c) * sigmoid(o)

tf.nn.rnn_cell's BasicLSTMCell and LSTMCell (tanh activation, no peepholes, no
cell clipping) build this op instead of the split, three sigmoids, two tanhs and
five products and sums that TensorFlow's own cells build. The cells' variables,
gate order and results are TensorFlow's; only the graph inside the cell is
smaller.

DESIGN: why fuse. A recurrent step runs its ops once per time step, on small
tensors ([32, 200] in the language model of bench/rnn.py), where an op's cost is
its dispatch (~5-10 us of Python and numpy per op), not its arithmetic. The
unfused cell is ~15 ops forward and ~35 backward per time step; fused, they are
one each, so a 20-step loop runs ~900 fewer kernels per train step
(BENCHMARKS.md, "LSTM language model"). TensorFlow makes the same trade in its
LSTMBlockCell. The forward kernel computes exactly what the unfused ops compute,
in the same order, so results are bit-equal to the unfused graph's; the
gradient recomputes the gate activations from `gates` (four transcendentals on
[batch, units], cheaper than keeping four more tensors per time step for the
loop's gradient).
"""

from __future__ import annotations

from ops.common import check_dtype
from ops.math_unary import Sigmoid
from ops.registry import Op, build
from raygraph.shapes import format_shape

_sigmoid = Sigmoid.kernel  # the Sigmoid op's own kernel: the fused cell's results equal the unfused ones


def _check_cell_shapes(op_type: str, gates, c_prev):
    """The units of a cell update (or None) after checking gates [batch, 4u] against c [batch, u]."""
    check_dtype(gates, "float", "gates")
    if gates.dtype != c_prev.dtype:
        raise TypeError(f"{op_type}: gates are {gates.dtype.name} but c_prev is {c_prev.dtype.name}")
    g, c = gates.shape, c_prev.shape
    for name, shape in (("gates", g), ("c_prev", c)):
        if shape.ndims is not None and shape.ndims != 2:
            raise ValueError(f"{op_type}: {name} must have rank 2, got shape {format_shape(shape)}")
    if g.dims is None or c.dims is None:
        return None, None
    batch = g.dims[0] if g.dims[0] is not None else c.dims[0]
    if g.dims[0] is not None and c.dims[0] is not None and g.dims[0] != c.dims[0]:
        raise ValueError(
            f"{op_type}: gates {format_shape(g)} and c_prev {format_shape(c)} have different batch sizes"
        )
    units = c.dims[1]
    if units is not None and g.dims[1] is not None and g.dims[1] != 4 * units:
        raise ValueError(
            f"{op_type}: gates must have 4 * units = {4 * units} columns for c_prev "
            f"{format_shape(c)}, got {format_shape(g)}"
        )
    if units is None and g.dims[1] is not None:
        units = g.dims[1] // 4
    return batch, units


def _activations(xp, gates, forget_bias):
    """sigmoid(i), tanh(j), sigmoid(f + forget_bias), sigmoid(o) of gates [batch, 4u]."""
    n = gates.shape[1] // 4
    i, j, f, o = (gates[:, k * n : (k + 1) * n] for k in range(4))
    return _sigmoid(xp, i), xp.tanh(j), _sigmoid(xp, f + gates.dtype.type(forget_bias)), _sigmoid(xp, o)


class LSTMCellUpdate(Op):
    """The LSTM cell's state update from its gates: (new_c, new_h); see the module docstring."""

    inputs = ("gates", "c_prev")
    attrs = {"forget_bias": 1.0}
    same_dtype = ("gates", "c_prev")
    multi_output = True
    cost = "transcendental"

    def infer(gates, c_prev, forget_bias):
        batch, units = _check_cell_shapes("LSTMCellUpdate", gates, c_prev)
        shape = None if batch is None and units is None and c_prev.shape.dims is None else [batch, units]
        return [(gates.dtype, shape), (gates.dtype, shape)]

    def kernel(xp, gates, c_prev, forget_bias):
        si, tj, sf, so = _activations(xp, gates, forget_bias)
        new_c = c_prev * sf
        si *= tj
        new_c += si
        new_h = xp.tanh(new_c)
        new_h *= so
        return [new_c, new_h]

    def grad(op, dc, dh):
        gates, c_prev = op.inputs
        dgates, dc_prev = build(
            "LSTMCellUpdateGrad",
            [gates, c_prev, op.outputs[0], dc, dh],
            {"forget_bias": op.attrs["forget_bias"]},
        )
        return [dgates, dc_prev]


class LSTMCellUpdateGrad(Op):
    """LSTMCellUpdate's gradient: (d gates, d c_prev) from d new_c and d new_h (no gradient of its own)."""

    inputs = ("gates", "c_prev", "new_c", "dc", "dh")
    attrs = {"forget_bias": 1.0}
    same_dtype = ("gates", "c_prev", "new_c", "dc", "dh")
    multi_output = True
    differentiable = False
    cost = "transcendental"

    def infer(gates, c_prev, new_c, dc, dh, forget_bias):
        _check_cell_shapes("LSTMCellUpdateGrad", gates, c_prev)
        return [(gates.dtype, gates.shape), (gates.dtype, c_prev.shape)]

    def kernel(xp, gates, c_prev, new_c, dc, dh, forget_bias):
        si, tj, sf, so = _activations(xp, gates, forget_bias)
        n = c_prev.shape[1]
        one = gates.dtype.type(1)
        tc = xp.tanh(new_c)
        dgates = xp.empty(gates.shape, gates.dtype)
        d_i, d_j, d_f, d_o = (dgates[:, k * n : (k + 1) * n] for k in range(4))
        # d o = dh * tanh(c) * so (1 - so);  d c (total) = dc + dh * so * (1 - tanh(c)^2)
        xp.multiply(dh, tc, out=d_o)
        d_o *= so
        d_o *= one - so
        dct = xp.multiply(tc, tc)
        xp.subtract(one, dct, out=dct)
        dct *= so
        dct *= dh
        dct += dc
        # d i = dct * tj * si (1 - si);  d j = dct * si * (1 - tj^2);  d f = dct * c_prev * sf (1 - sf)
        xp.multiply(dct, tj, out=d_i)
        d_i *= si
        d_i *= one - si
        xp.multiply(tj, tj, out=d_j)
        xp.subtract(one, d_j, out=d_j)
        d_j *= si
        d_j *= dct
        xp.multiply(dct, c_prev, out=d_f)
        d_f *= sf
        d_f *= one - sf
        dct *= sf  # d c_prev
        return [dgates, dct]


def is_tanh(activation) -> bool:
    """Whether a cell's activation is tf.tanh (the one LSTMCellUpdate computes)."""
    from ops import api

    return activation in (api.tanh, getattr(api.nn, "tanh", None))


def lstm_cell_update(gates, c_prev, forget_bias, name=None):
    """(new_c, new_h) of an LSTM cell from its gates [i, j, f, o]: one LSTMCellUpdate op."""
    new_c, new_h = build("LSTMCellUpdate", [gates, c_prev], {"forget_bias": float(forget_bias)}, name=name)
    return new_c, new_h
