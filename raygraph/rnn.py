"""Recurrent networks over sequences: tf.nn.dynamic_rnn, static_rnn and the bidirectional ones.

`dynamic_rnn` is TensorFlow's `_dynamic_rnn_loop`: the inputs are unstacked
into a TensorArray (time major), one `tf.while_loop` calls the cell once per
time step and writes each output into an output TensorArray, which is stacked
after the loop. The loop is one `While` op, so a whole sequence runs inside one
Session.run on the device without a round trip per step, and its gradient is a
loop too (raygraph.control_flow).

`sequence_length` gives each batch entry its length: past it, the outputs are
zeros and the state is copied through unchanged (`tf.where` per step), so the
final state is the state at each entry's last valid step. Unlike TensorFlow,
the loop always runs to the padded length (TensorFlow stops at
max(sequence_length) and reads unwritten outputs as zeros); the results are the
same.

`static_rnn` unrolls the cell in Python over a list of inputs, and the
bidirectional forms run a forward and a backward RNN (scopes "fw" and "bw") on
the sequence and on its reverse (each entry reversed within its own length).
"""

from __future__ import annotations

from ops import api
from ops.common import constant_value
from raygraph import dtypes, nest
from raygraph.control_flow import while_loop
from raygraph.graph import Tensor, convert_to_tensor, name_scope
from raygraph.rnn_cell import _assert_like_rnncell
from raygraph.shapes import TensorShape
from raygraph.tensor_array import TensorArray
from raygraph.variable_scope import variable_scope

__all__ = [
    "bidirectional_dynamic_rnn",
    "dynamic_rnn",
    "static_bidirectional_rnn",
    "static_rnn",
]


# -- shapes and dtypes ---------------------------------------------------------------------


def _transpose_batch_time(x: Tensor) -> Tensor:
    """[batch, time, ...] <-> [time, batch, ...]."""
    x = convert_to_tensor(x)
    rank = x.shape.ndims
    if rank is not None and rank < 2:
        raise ValueError(f"Expected input tensor {x.name} to have rank at least 2, but saw shape: {x.shape}")
    if rank is None:
        perm = api.concat([api.constant([1, 0]), api.range(2, api.rank(x))], 0)
        return api.transpose(x, perm)
    out = api.transpose(x, [1, 0, *range(2, rank)])
    dims = x.shape.as_list()
    out.set_shape([dims[1], dims[0], *dims[2:]])
    return out


def _with_rank_at_least(x: Tensor, rank: int) -> TensorShape:
    """x's static shape, which must have at least `rank` dimensions (TensorShape.with_rank_at_least)."""
    if x.shape.ndims is None:
        raise ValueError(f"Input {x.name} must have rank at least {rank}, but its rank is unknown")
    if x.shape.ndims < rank:
        raise ValueError(f"Shape {x.shape} of input {x.name} must have rank at least {rank}")
    return x.shape


def _batch_size(flat_input: list[Tensor], axis: int = 1):
    """The batch size: static if any input knows it, else from tf.shape of the first input."""
    for x in flat_input:
        shape = x.shape
        if shape.ndims is None:
            continue
        if shape.ndims < 2:
            raise ValueError(f"Input tensor should have rank >= 2, received shape: {shape} ({x.name})")
        if shape.dims[axis] is not None:
            return shape.dims[axis]
    return api.shape(flat_input[0])[axis]


def _state_dtype(explicit_dtype, state):
    """`dtype` if given, else the state's single dtype."""
    if explicit_dtype is not None:
        return dtypes.as_dtype(explicit_dtype)
    flat = nest.flatten(state)
    if not flat:
        raise ValueError("Unable to infer dtype from empty state.")
    kinds = {t.dtype for t in flat}
    if len(kinds) != 1:
        raise ValueError(
            f"State has tensors of different inferred_dtypes. Unable to infer a single dtype: {kinds}"
        )
    return flat[0].dtype


def _size_shape(size) -> TensorShape:
    return TensorShape(size if isinstance(size, list | tuple | TensorShape) else [size])


def _zeros(batch_size, size, dtype) -> Tensor:
    """Zeros of shape [batch_size, *size]."""
    size = _size_shape(size)
    if isinstance(batch_size, Tensor):
        dims = api.concat([api.reshape(batch_size, [1]), api.constant(size.as_list(), dtype=dtypes.int32)], 0)
        out = api.zeros(dims, dtype=dtype)
        value = constant_value(batch_size)
        out.set_shape(TensorShape([int(value) if value is not None else None]).concatenate(size))
        return out
    return api.zeros([batch_size, *size.as_list()], dtype=dtype)


def _sequence_length(sequence_length):
    if sequence_length is None:
        return None
    sequence_length = api.cast(sequence_length, dtypes.int32)
    if sequence_length.shape.ndims not in (None, 1):
        raise ValueError(
            "Argument sequence_length must be a vector of length batch_size. "
            f"Received sequence_length={sequence_length} of shape: {sequence_length.shape}"
        )
    return api.identity(sequence_length, name="sequence_length")


def _check_batch(sequence_length, batch_size) -> None:
    known = sequence_length.shape.dims[0] if sequence_length.shape.ndims == 1 else None
    if known is not None and isinstance(batch_size, int) and known != batch_size:
        raise ValueError(
            f"Expected shape for Tensor {sequence_length.name} is [{batch_size}] but saw shape: {sequence_length.shape}"
        )


# -- one step with sequence lengths --------------------------------------------------------


def _copy_some_through(time, sequence_length, zero_output, state, new_output, new_state):
    """Per batch entry: past its length, zeros for the output and the old state for the state."""
    done = time >= sequence_length

    def select(old, new):
        if isinstance(old, TensorArray) or new.shape.ndims == 0:
            return new
        return api.where(done, old, new)

    flat_output = [select(z, n) for z, n in zip(nest.flatten(zero_output), nest.flatten(new_output))]
    flat_state = [select(s, n) for s, n in zip(nest.flatten(state), nest.flatten(new_state))]
    for out, zero in zip(flat_output, nest.flatten(zero_output)):
        out.set_shape(zero.shape)
    return flat_output, flat_state


def _checked_call(cell, inputs, state, zero_output):
    output, new_state = cell(inputs, state)
    nest.assert_same_structure(zero_output, output)
    nest.assert_same_structure(state, new_state)
    return output, new_state


# -- dynamic_rnn ---------------------------------------------------------------------------


def dynamic_rnn(
    cell,
    inputs,
    sequence_length=None,
    initial_state=None,
    dtype=None,
    parallel_iterations=None,
    swap_memory=False,
    time_major=False,
    scope=None,
):
    """Runs `cell` over the time axis of `inputs` in a while_loop (tf.nn.dynamic_rnn).

    >>> cell = tf.nn.rnn_cell.BasicLSTMCell(128)
    >>> outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)

    `inputs` is [batch, time, depth] (or [time, batch, depth] with time_major),
    or a nested structure of such tensors. Returns (outputs, final state):
    outputs [batch, time, output_size] (time major when `time_major`), zeros past
    each entry's `sequence_length`; the state is the cell's state at each
    entry's last step. Without `initial_state`, `dtype` is required. The
    variables are created in `scope` (default "rnn"): "rnn/basic_lstm_cell/kernel".
    """
    _assert_like_rnncell("cell", cell)
    with variable_scope(scope or "rnn"):
        flat_input = [convert_to_tensor(x) for x in nest.flatten(inputs)]
        if not time_major:
            flat_input = [_transpose_batch_time(x) for x in flat_input]
        parallel_iterations = parallel_iterations or 32
        sequence_length = _sequence_length(sequence_length)
        batch_size = _batch_size(flat_input)
        if initial_state is not None:
            state = initial_state
        else:
            if not dtype:
                raise ValueError("If no initial_state is provided, argument `dtype` must be specified")
            if getattr(cell, "get_initial_state", None) is not None:
                state = cell.get_initial_state(inputs=None, batch_size=batch_size, dtype=dtype)
            else:
                state = cell.zero_state(batch_size, dtype)
        if sequence_length is not None:
            _check_batch(sequence_length, batch_size)
        time_major_inputs = nest.pack_sequence_as(inputs, flat_input)
        outputs, final_state = _dynamic_rnn_loop(
            cell, time_major_inputs, state, parallel_iterations, swap_memory, sequence_length, dtype
        )
        if not time_major:
            outputs = nest.map_structure(_transpose_batch_time, outputs)
        return outputs, final_state


def _dynamic_rnn_loop(cell, inputs, initial_state, parallel_iterations, swap_memory, sequence_length, dtype):
    """The while_loop over time of dynamic_rnn, on time-major `inputs`."""
    state = initial_state
    flat_input = nest.flatten(inputs)
    flat_output_size = nest.flatten(cell.output_size)
    time_steps = api.shape(flat_input[0])[0]
    batch_size = _batch_size(flat_input)
    shapes = [_with_rank_at_least(x, 3) for x in flat_input]
    const_time_steps, const_batch_size = shapes[0].as_list()[:2]
    for x, shape in zip(flat_input, shapes):
        if not shape[2:].is_fully_defined():
            raise ValueError(
                f"Input size (depth of inputs) must be accessible via shape inference, but saw value None "
                f"for input={x.name} of shape {shape}."
            )
        if shape.dims[0] != const_time_steps:
            raise ValueError(
                f"Time steps is not the same for all the elements in the input in a batch. Received time "
                f"steps={shape.dims[0]} for input={x.name}."
            )
        if shape.dims[1] != const_batch_size:
            raise ValueError(
                f"Batch_size is not the same for all the elements in the input. Received batch "
                f"size={shape.dims[1]} for input={x.name}."
            )
    out_dtype = _state_dtype(dtype, state)
    zero_output = nest.pack_sequence_as(
        cell.output_size, [_zeros(batch_size, size, out_dtype) for size in flat_output_size]
    )
    time = api.constant(0, dtype=dtypes.int32, name="time")
    with name_scope("dynamic_rnn") as base_name:
        pass
    output_tas = tuple(
        TensorArray(
            out_dtype,
            size=time_steps,
            element_shape=TensorShape([const_batch_size]).concatenate(_size_shape(size)),
            tensor_array_name=f"{base_name}output_{i}",
        )
        for i, size in enumerate(flat_output_size)
    )
    input_tas = tuple(
        TensorArray(
            x.dtype, size=time_steps, element_shape=x.shape[1:], tensor_array_name=f"{base_name}input_{i}"
        ).unstack(x)
        for i, x in enumerate(flat_input)
    )

    def time_step(time, output_tas, state):
        flat_step = [ta.read(time) for ta in input_tas]
        for x, shape in zip(flat_step, shapes):
            x.set_shape(shape[1:])
        step_input = nest.pack_sequence_as(inputs, flat_step)
        output, new_state = _checked_call(cell, step_input, state, zero_output)
        if sequence_length is not None:
            flat_output, flat_state = _copy_some_through(
                time, sequence_length, zero_output, state, output, new_state
            )
            new_state = nest.pack_sequence_as(state, flat_state)
        else:
            flat_output = nest.flatten(output)
        output_tas = tuple(ta.write(time, out) for ta, out in zip(output_tas, flat_output))
        return time + 1, output_tas, new_state

    _, final_tas, final_state = while_loop(
        lambda time, *_: time < time_steps,
        time_step,
        (time, output_tas, state),
        parallel_iterations=parallel_iterations,
        swap_memory=swap_memory,
    )
    final_outputs = []
    for ta, size in zip(final_tas, flat_output_size):
        out = ta.stack()
        out.set_shape(TensorShape([const_time_steps, const_batch_size]).concatenate(_size_shape(size)))
        final_outputs.append(out)
    return nest.pack_sequence_as(cell.output_size, final_outputs), final_state


# -- static_rnn ----------------------------------------------------------------------------


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
    """The cell unrolled over a Python list of inputs (tf.nn.static_rnn).

    >>> outputs, state = tf.nn.static_rnn(cell, tf.unstack(x, axis=1), dtype=tf.float32)

    `inputs` is a list of [batch, depth] tensors, one per time step; returns the
    list of outputs and the final state. With `sequence_length`, outputs past an
    entry's length are zeros and its state is copied through.
    """
    _assert_like_rnncell("cell", cell)
    if not nest.is_nested(inputs):
        raise TypeError("inputs must be a sequence")
    if not inputs:
        raise ValueError("inputs must not be empty")
    outputs = []
    with variable_scope(scope or "rnn") as varscope:
        first = [convert_to_tensor(x) for x in nest.flatten(inputs[0])]
        for x in first:
            if _with_rank_at_least(x, 2).dims[1] is None:
                raise ValueError(
                    "Input size (second dimension of inputs[0]) must be accessible via shape inference, "
                    f"but saw value None for {x.name}."
                )
        batch_size = _batch_size(first, axis=0)
        if initial_state is not None:
            state = initial_state
        else:
            if not dtype:
                raise ValueError("If no initial_state is provided, dtype must be specified")
            state = cell.zero_state(batch_size, dtype)
        sequence_length = _sequence_length(sequence_length)
        if sequence_length is not None:
            _check_batch(sequence_length, batch_size)
            out_dtype = _state_dtype(dtype, state)
            zero_output = nest.pack_sequence_as(
                cell.output_size,
                [_zeros(batch_size, size, out_dtype) for size in nest.flatten(cell.output_size)],
            )
        for time, step_input in enumerate(inputs):
            if time > 0:
                varscope.reuse_variables()
            if sequence_length is None:
                output, state = cell(step_input, state)
            else:
                output, new_state = _checked_call(cell, step_input, state, zero_output)
                flat_output, flat_state = _copy_some_through(
                    api.constant(time), sequence_length, zero_output, state, output, new_state
                )
                output = nest.pack_sequence_as(cell.output_size, flat_output)
                state = nest.pack_sequence_as(state, flat_state)
            outputs.append(output)
        return outputs, state


# -- bidirectional ---------------------------------------------------------------------------


def _reverse_sequence(x: Tensor, lengths, seq_axis: int, batch_axis: int) -> Tensor:
    """`x` with each batch entry's first lengths[b] steps reversed (tf.reverse_sequence)."""
    if lengths is None:
        return api.reverse(x, [seq_axis])
    time_major = seq_axis == 0
    xt = x if time_major else _transpose_batch_time(x)  # [time, batch, ...]
    shape = api.shape(xt, out_type=dtypes.int32)
    t = api.range(0, shape[0])[:, None]  # [time, 1]
    b = api.range(0, shape[1])[None, :]  # [1, batch]
    n = api.cast(lengths, dtypes.int32)[None, :]
    source = api.where_v2(t < n, n - 1 - t, t)  # [time, batch]
    indices = api.stack([source, b + 0 * t], axis=-1)
    out = api.gather_nd(xt, indices)
    out.set_shape(xt.shape)
    return out if time_major else _transpose_batch_time(out)


def bidirectional_dynamic_rnn(
    cell_fw,
    cell_bw,
    inputs,
    sequence_length=None,
    initial_state_fw=None,
    initial_state_bw=None,
    dtype=None,
    parallel_iterations=None,
    swap_memory=False,
    time_major=False,
    scope=None,
):
    """A forward and a backward dynamic_rnn over `inputs` (tf.nn.bidirectional_dynamic_rnn).

    >>> (out_fw, out_bw), (state_fw, state_bw) = tf.nn.bidirectional_dynamic_rnn(
    ...     fw_cell, bw_cell, x, sequence_length=lengths, dtype=tf.float32)
    >>> outputs = tf.concat([out_fw, out_bw], axis=2)

    The backward RNN reads each entry reversed within its length, and its outputs
    are reversed back, so both are aligned with `inputs`. Variables live under
    "bidirectional_rnn/fw/..." and "bidirectional_rnn/bw/...".
    """
    _assert_like_rnncell("cell_fw", cell_fw)
    _assert_like_rnncell("cell_bw", cell_bw)
    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            output_fw, state_fw = dynamic_rnn(
                cell_fw,
                inputs,
                sequence_length=sequence_length,
                initial_state=initial_state_fw,
                dtype=dtype,
                parallel_iterations=parallel_iterations,
                swap_memory=swap_memory,
                time_major=time_major,
                scope=fw_scope,
            )
        time_axis, batch_axis = (0, 1) if time_major else (1, 0)

        def reverse(x):
            return _reverse_sequence(convert_to_tensor(x), sequence_length, time_axis, batch_axis)

        with variable_scope("bw") as bw_scope:
            reversed_inputs = nest.map_structure(reverse, inputs)
            tmp, state_bw = dynamic_rnn(
                cell_bw,
                reversed_inputs,
                sequence_length=sequence_length,
                initial_state=initial_state_bw,
                dtype=dtype,
                parallel_iterations=parallel_iterations,
                swap_memory=swap_memory,
                time_major=time_major,
                scope=bw_scope,
            )
    output_bw = nest.map_structure(reverse, tmp)
    return (output_fw, output_bw), (state_fw, state_bw)


def static_bidirectional_rnn(
    cell_fw,
    cell_bw,
    inputs,
    initial_state_fw=None,
    initial_state_bw=None,
    dtype=None,
    sequence_length=None,
    scope=None,
):
    """Forward and backward static_rnn; outputs concatenated per step (tf.nn.static_bidirectional_rnn).

    >>> outputs, state_fw, state_bw = tf.nn.static_bidirectional_rnn(fw, bw, steps, dtype=tf.float32)

    Returns (outputs, output_state_fw, output_state_bw); each output is
    [batch, fw_size + bw_size].
    """
    _assert_like_rnncell("cell_fw", cell_fw)
    _assert_like_rnncell("cell_bw", cell_bw)
    if not nest.is_nested(inputs):
        raise TypeError("inputs must be a sequence")
    if not inputs:
        raise ValueError("inputs must not be empty")
    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            output_fw, state_fw = static_rnn(
                cell_fw, inputs, initial_state_fw, dtype, sequence_length, scope=fw_scope
            )
        with variable_scope("bw") as bw_scope:
            reversed_inputs = _reverse_list(inputs, sequence_length)
            tmp, state_bw = static_rnn(
                cell_bw, reversed_inputs, initial_state_bw, dtype, sequence_length, scope=bw_scope
            )
    output_bw = _reverse_list(tmp, sequence_length)
    flat_fw, flat_bw = nest.flatten(output_fw), nest.flatten(output_bw)
    flat = [api.concat([fw, bw], 1) for fw, bw in zip(flat_fw, flat_bw)]
    return nest.pack_sequence_as(output_fw, flat), state_fw, state_bw


def _reverse_list(steps, lengths):
    """A list of per-step tensors reversed in time, each batch entry within its length."""
    if lengths is None:
        return list(reversed(steps))
    flat_steps = [nest.flatten(s) for s in steps]
    reversed_parts = []
    for k in range(len(flat_steps[0])):
        stacked = api.stack([f[k] for f in flat_steps])  # [time, batch, ...]
        reversed_parts.append(api.unstack(_reverse_sequence(stacked, lengths, 0, 1)))
    return [nest.pack_sequence_as(steps[0], [part[t] for part in reversed_parts]) for t in range(len(steps))]
