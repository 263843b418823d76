"""`tf.nn.rnn_cell`: TensorFlow 1.x's recurrent cells (LSTM, GRU, stacks and wrappers).

A cell maps `(inputs, state)` to `(output, new_state)` for one time step;
`tf.nn.dynamic_rnn` (raygraph.rnn) runs it over a sequence.

    cell = tf.nn.rnn_cell.BasicLSTMCell(128)
    outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)   # x: [batch, time, depth]

Cells are layers (raygraph.layers.Layer): the first call makes the variables, in
the variable scope `<current scope>/<cell name>` ("rnn/basic_lstm_cell/kernel"),
and later calls reuse them. Called inside a loop body (dynamic_rnn's while_loop),
the variables are still created in the outermost graph under those names.
The variable names, their shapes and the gate order are TensorFlow's, so
checkpoints and copied weights carry over:

    BasicRNNCell    basic_rnn_cell/{kernel, bias}
    BasicLSTMCell   basic_lstm_cell/{kernel, bias}                gates i, j, f, o
    LSTMCell        lstm_cell/{kernel, bias, w_f_diag, w_i_diag, w_o_diag, projection/kernel}
    GRUCell         gru_cell/{gates/kernel, gates/bias, candidate/kernel, candidate/bias}
    MultiRNNCell    multi_rnn_cell/cell_<i>/<cell's own names>

The wrappers (DropoutWrapper, ResidualWrapper, DeviceWrapper) call the wrapped
cell directly and add no scope of their own, as in TensorFlow.
"""

from __future__ import annotations

import collections
import hashlib
import numbers

from ops import api, nn_rnn
from ops.common import constant_value
from raygraph import dtypes, nest
from raygraph import initializers as init_ops
from raygraph.graph import Tensor, convert_to_tensor, device, name_scope
from raygraph.layers import Layer
from raygraph.shapes import TensorShape
from raygraph.variable_scope import variable_scope

__all__ = [
    "BasicLSTMCell",
    "BasicRNNCell",
    "DeviceWrapper",
    "DropoutWrapper",
    "GRUCell",
    "LSTMCell",
    "LSTMStateTuple",
    "MultiRNNCell",
    "RNNCell",
    "ResidualWrapper",
]

_WEIGHTS = "kernel"
_BIAS = "bias"


# -- helpers ---------------------------------------------------------------------------


def _activation(activation):
    """A Keras-style activation: a callable, or a name such as "relu"; tanh when None."""
    if not activation:
        return api.tanh
    if callable(activation):
        return activation
    if activation == "linear":
        return lambda x: x
    for space in (api.nn, api):
        fn = getattr(space, activation, None)
        if fn is not None:
            return fn
    raise ValueError(f"Unknown activation function: {activation!r}")


def _fusable(activation, forget_bias) -> bool:
    """Whether an LSTM cell's update can be one LSTMCellUpdate op (ops.nn_rnn): tanh, a number."""
    return nn_rnn.is_tanh(activation) and isinstance(forget_bias, numbers.Real)


def _check_supported_dtype(dtype) -> None:
    if dtype is None:
        return
    dtype = dtypes.as_dtype(dtype)
    if not (dtype.is_floating or getattr(dtype, "is_complex", False)):
        raise ValueError(f"RNN cell only supports floating point inputs, but saw dtype: {dtype.name}")


def _check_input_dtypes(values) -> None:
    for t in nest.flatten(values):
        _check_supported_dtype(t.dtype)


def _input_depth(cell, inputs_shape) -> int:
    depth = inputs_shape.dims[-1] if inputs_shape.dims else None
    if depth is None:
        raise ValueError(
            f"Expected inputs.shape[-1] to be known, saw shape: {inputs_shape} (cell {cell.name!r})"
        )
    return depth


def _state_shape(batch_size, size) -> tuple[Tensor, TensorShape]:
    """The shape [batch_size, *size] as a tensor, and as a static shape."""
    size = TensorShape(size if isinstance(size, list | tuple | TensorShape) else [size])
    if isinstance(batch_size, Tensor):
        value = constant_value(batch_size)
        static = int(value) if value is not None else None
        batch = api.reshape(api.cast(batch_size, dtypes.int32), [1])
        dims = api.concat([batch, api.constant(size.as_list(), dtype=dtypes.int32)], 0)
        return dims, TensorShape([static]).concatenate(size)
    return [int(batch_size), *size.as_list()], TensorShape([int(batch_size)]).concatenate(size)


def _zero_state_tensors(state_size, batch_size, dtype):
    def zeros(size):
        dims, static = _state_shape(batch_size, size)
        value = api.zeros(dims, dtype=dtype)
        value.set_shape(static)
        return value

    return nest.map_structure(zeros, state_size)


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """An LSTM's state: `c` the cell state, `h` the output (tf.nn.rnn_cell.LSTMStateTuple)."""

    __slots__ = ()

    @property
    def dtype(self):
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError(f"Inconsistent internal state: {c.dtype.name} vs {h.dtype.name}")
        return c.dtype


# -- the base classes --------------------------------------------------------------------


class RNNCell(Layer):
    """Base of the cells: `state_size`, `output_size`, `zero_state`, `call(inputs, state)`.

    >>> class Doubler(tf.nn.rnn_cell.RNNCell):
    ...     state_size = output_size = 4
    ...     def call(self, inputs, state):
    ...         return 2.0 * state, 2.0 * state
    """

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        super().__init__(trainable=trainable, name=name, dtype=dtype, **kwargs)
        self._is_tf_rnn_cell = True

    def __call__(self, inputs, state, scope=None):
        """`(output, new_state)`; the first call makes the variables under `scope` or the cell's name."""
        return Layer.__call__(self, inputs, state, scope=scope)

    @property
    def state_size(self):
        """The size(s) of the state: an int, a TensorShape, or a nested structure of them."""
        raise NotImplementedError("Abstract method")

    @property
    def output_size(self):
        """The size of the output: an int or a TensorShape."""
        raise NotImplementedError("Abstract method")

    def build(self, _):
        pass

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """The zero state, for `inputs`' batch size and dtype or the ones given."""
        if inputs is not None:
            inputs = convert_to_tensor(inputs, name="inputs")
            if dtype is not None and inputs.dtype != dtypes.as_dtype(dtype):
                raise ValueError(
                    "dtype from input tensor is different from the input param. Input tensor dtype: "
                    f"{inputs.dtype.name}, dtype: {dtypes.as_dtype(dtype).name}"
                )
            static = inputs.shape.dims[0] if inputs.shape.ndims else None
            batch_size = static if static is not None else api.shape(inputs)[0]
            dtype = inputs.dtype
        if batch_size is None or dtype is None:
            raise ValueError(
                "batch_size and dtype cannot be None while constructing initial state: "
                f"batch_size={batch_size}, dtype={dtype}"
            )
        return self.zero_state(batch_size, dtype)

    def zero_state(self, batch_size, dtype):
        """Zeros of shape [batch_size, size] for each part of `state_size`.

        >>> state = cell.zero_state(32, tf.float32)
        """
        with name_scope(type(self).__name__ + "ZeroState"):
            return _zero_state_tensors(self.state_size, batch_size, dtypes.as_dtype(dtype))


LayerRNNCell = RNNCell  # TensorFlow's base for cells that build their variables in build()


# -- the cells ---------------------------------------------------------------------------


class BasicRNNCell(RNNCell):
    """output = new_state = activation(W [inputs, state] + b)  (tf.nn.rnn_cell.BasicRNNCell).

    >>> cell = tf.nn.rnn_cell.BasicRNNCell(64)
    """

    ndim = 2

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtype(self.dtype)
        self._num_units = int(num_units)
        self._activation = _activation(activation)

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        _check_supported_dtype(self.dtype)
        self._kernel = self.add_weight(_WEIGHTS, [depth + self._num_units, self._num_units])
        self._bias = self.add_weight(_BIAS, [self._num_units], initializer=init_ops.zeros_initializer())

    def call(self, inputs, state):
        _check_input_dtypes([inputs, state])
        gates = api.matmul(api.concat([inputs, state], 1), self._kernel)
        output = self._activation(api.nn.bias_add(gates, self._bias))
        return output, output


class GRUCell(RNNCell):
    """Gated recurrent unit (tf.nn.rnn_cell.GRUCell; Cho et al., 2014).

    r, u = sigmoid(W_g [x, h] + b_g);  c = activation(W_c [x, r * h] + b_c);
    h' = u * h + (1 - u) * c. The gate bias starts at 1 unless `bias_initializer`.

    >>> cell = tf.nn.rnn_cell.GRUCell(64)
    """

    ndim = 2

    def __init__(
        self,
        num_units,
        activation=None,
        reuse=None,
        kernel_initializer=None,
        bias_initializer=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtype(self.dtype)
        self._num_units = int(num_units)
        self._activation = _activation(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        _check_supported_dtype(self.dtype)
        n = self._num_units
        bias = self._bias_initializer
        self._gate_kernel = self.add_weight(
            f"gates/{_WEIGHTS}", [depth + n, 2 * n], initializer=self._kernel_initializer
        )
        self._gate_bias = self.add_weight(
            f"gates/{_BIAS}",
            [2 * n],
            initializer=bias if bias is not None else init_ops.constant_initializer(1.0),
        )
        self._candidate_kernel = self.add_weight(
            f"candidate/{_WEIGHTS}", [depth + n, n], initializer=self._kernel_initializer
        )
        self._candidate_bias = self.add_weight(
            f"candidate/{_BIAS}", [n], initializer=bias if bias is not None else init_ops.zeros_initializer()
        )

    def call(self, inputs, state):
        _check_input_dtypes([inputs, state])
        gates = api.matmul(api.concat([inputs, state], 1), self._gate_kernel)
        value = api.sigmoid(api.nn.bias_add(gates, self._gate_bias))
        r, u = api.split(value, 2, axis=1)
        candidate = api.matmul(api.concat([inputs, r * state], 1), self._candidate_kernel)
        c = self._activation(api.nn.bias_add(candidate, self._candidate_bias))
        new_h = u * state + (1 - u) * c
        return new_h, new_h


class BasicLSTMCell(RNNCell):
    """The basic LSTM cell (tf.nn.rnn_cell.BasicLSTMCell): no peepholes, clipping or projection.

    [i, j, f, o] = W [x, h] + b;  c' = c * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j);
    h' = tanh(c') * sigmoid(o). The state is LSTMStateTuple(c, h) (or [c, h]
    concatenated when state_is_tuple=False).

    >>> cell = tf.nn.rnn_cell.BasicLSTMCell(128, forget_bias=1.0)
    """

    ndim = 2

    def __init__(
        self,
        num_units,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtype(self.dtype)
        self._num_units = int(num_units)
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        _check_supported_dtype(self.dtype)
        n = self._num_units
        self._kernel = self.add_weight(_WEIGHTS, [depth + n, 4 * n])
        self._bias = self.add_weight(_BIAS, [4 * n], initializer=init_ops.zeros_initializer())

    def call(self, inputs, state):
        _check_input_dtypes([inputs, state])
        c, h = state if self._state_is_tuple else api.split(state, 2, axis=1)
        gates = api.nn.bias_add(api.matmul(api.concat([inputs, h], 1), self._kernel), self._bias)
        if _fusable(self._activation, self._forget_bias):
            new_c, new_h = nn_rnn.lstm_cell_update(gates, c, self._forget_bias)
        else:
            i, j, f, o = api.split(gates, 4, axis=1)
            forget_bias = api.constant(self._forget_bias, dtype=f.dtype)
            new_c = c * api.sigmoid(f + forget_bias) + api.sigmoid(i) * self._activation(j)
            new_h = self._activation(new_c) * api.sigmoid(o)
        new_state = LSTMStateTuple(new_c, new_h) if self._state_is_tuple else api.concat([new_c, new_h], 1)
        return new_h, new_state


class LSTMCell(RNNCell):
    """The full LSTM cell (tf.nn.rnn_cell.LSTMCell): optional peepholes, cell clipping, projection.

    With `use_peepholes` the gates also see the cell state (w_f_diag, w_i_diag,
    w_o_diag; Sak et al., 2014); `cell_clip` clips c; `num_proj` projects the
    output h to that size (projection/kernel), clipped by `proj_clip`.

    >>> cell = tf.nn.rnn_cell.LSTMCell(256, use_peepholes=True, num_proj=128)
    """

    ndim = 2

    def __init__(
        self,
        num_units,
        use_peepholes=False,
        cell_clip=None,
        initializer=None,
        num_proj=None,
        proj_clip=None,
        num_unit_shards=None,
        num_proj_shards=None,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        _check_supported_dtype(self.dtype)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise NotImplementedError(
                "LSTMCell: num_unit_shards and num_proj_shards (partitioned variables) are not supported; "
                "they are deprecated in TensorFlow too"
            )
        self._num_units = int(num_units)
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = num_proj
        self._proj_clip = proj_clip
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)
        out = num_proj if num_proj else num_units
        self._state_size = LSTMStateTuple(num_units, out) if state_is_tuple else num_units + out
        self._output_size = out

    @property
    def state_size(self):
        return self._state_size

    @property
    def output_size(self):
        return self._output_size

    def build(self, inputs_shape):
        depth = _input_depth(self, inputs_shape)
        _check_supported_dtype(self.dtype)
        n = self._num_units
        h_depth = n if self._num_proj is None else self._num_proj
        self._kernel = self.add_weight(_WEIGHTS, [depth + h_depth, 4 * n], initializer=self._initializer)
        self._bias = self.add_weight(_BIAS, [4 * n], initializer=init_ops.zeros_initializer())
        if self._use_peepholes:
            self._w_f_diag = self.add_weight("w_f_diag", [n], initializer=self._initializer)
            self._w_i_diag = self.add_weight("w_i_diag", [n], initializer=self._initializer)
            self._w_o_diag = self.add_weight("w_o_diag", [n], initializer=self._initializer)
        if self._num_proj is not None:
            self._proj_kernel = self.add_weight(
                f"projection/{_WEIGHTS}", [n, self._num_proj], initializer=self._initializer
            )

    def call(self, inputs, state):
        _check_input_dtypes([inputs, state])
        n = self._num_units
        num_proj = n if self._num_proj is None else self._num_proj
        if self._state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev = api.slice(state, [0, 0], [-1, n])
            m_prev = api.slice(state, [0, n], [-1, num_proj])
        if inputs.shape.with_rank(2).dims[1] is None:
            raise ValueError("Could not infer input size from inputs.get_shape()[-1]")
        lstm_matrix = api.nn.bias_add(api.matmul(api.concat([inputs, m_prev], 1), self._kernel), self._bias)
        plain = not self._use_peepholes and self._cell_clip is None
        if plain and _fusable(self._activation, self._forget_bias):
            c, m = nn_rnn.lstm_cell_update(lstm_matrix, c_prev, self._forget_bias)
            return self._project(m, c)
        i, j, f, o = api.split(lstm_matrix, 4, axis=1)
        sigmoid = api.sigmoid
        if self._use_peepholes:
            c = sigmoid(f + self._forget_bias + self._w_f_diag * c_prev) * c_prev + sigmoid(
                i + self._w_i_diag * c_prev
            ) * self._activation(j)
        else:
            c = sigmoid(f + self._forget_bias) * c_prev + sigmoid(i) * self._activation(j)
        if self._cell_clip is not None:
            c = api.clip_by_value(c, -self._cell_clip, self._cell_clip)
        if self._use_peepholes:
            m = sigmoid(o + self._w_o_diag * c) * self._activation(c)
        else:
            m = sigmoid(o) * self._activation(c)
        return self._project(m, c)

    def _project(self, m, c):
        """(output, new state) from the cell's output m and state c: projected and clipped if asked."""
        if self._num_proj is not None:
            m = api.matmul(m, self._proj_kernel)
            if self._proj_clip is not None:
                m = api.clip_by_value(m, -self._proj_clip, self._proj_clip)
        new_state = LSTMStateTuple(c, m) if self._state_is_tuple else api.concat([c, m], 1)
        return m, new_state


class MultiRNNCell(RNNCell):
    """Cells stacked: each one's output is the next one's input (tf.nn.rnn_cell.MultiRNNCell).

    The state is the tuple of the cells' states; cell i's variables live under
    "multi_rnn_cell/cell_<i>/".

    >>> cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(n) for n in (128, 64)])
    """

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not nest.is_nested(cells):
            raise TypeError(f"cells must be a list or tuple, but saw: {cells}.")
        self._cells = list(cells)
        self._state_is_tuple = state_is_tuple
        if not state_is_tuple and any(nest.is_nested(c.state_size) for c in self._cells):
            raise ValueError(
                "Some cells return tuples of states, but the flag state_is_tuple is not set. "
                f"State sizes are: {[c.state_size for c in self._cells]}"
            )

    @property
    def state_size(self):
        if self._state_is_tuple:
            return tuple(cell.state_size for cell in self._cells)
        return sum(cell.state_size for cell in self._cells)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState"):
            if self._state_is_tuple:
                return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)
            return _zero_state_tensors(self.state_size, batch_size, dtypes.as_dtype(dtype))

    @property
    def variables(self) -> list:
        out = []
        for cell in self._cells:
            out.extend(v for v in getattr(cell, "variables", []) if v not in out)
        return out

    weights = variables

    @property
    def trainable_variables(self) -> list:
        return [v for v in self.variables if v.trainable] if self.trainable else []

    trainable_weights = trainable_variables

    def call(self, inputs, state):
        position = 0
        current = inputs
        new_states = []
        for i, cell in enumerate(self._cells):
            with variable_scope(f"cell_{i}"):
                if self._state_is_tuple:
                    if not nest.is_nested(state):
                        raise ValueError(
                            f"Expected state to be a tuple of length {len(self.state_size)}, but received: {state}"
                        )
                    cell_state = state[i]
                else:
                    cell_state = api.slice(state, [0, position], [-1, cell.state_size])
                    position += cell.state_size
                current, new_state = cell(current, cell_state)
                new_states.append(new_state)
        new_states = tuple(new_states) if self._state_is_tuple else api.concat(new_states, 1)
        return current, new_states


# -- wrappers ----------------------------------------------------------------------------


class _Wrapper(RNNCell):
    """A cell around another: same sizes, calls the wrapped cell directly (no scope of its own)."""

    def __init__(self, cell, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        _assert_like_rnncell("cell", cell)
        self.cell = cell

    @property
    def wrapped_cell(self):
        return self.cell

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size

    @property
    def variables(self) -> list:
        return list(getattr(self.cell, "variables", []))

    weights = variables

    @property
    def trainable_variables(self) -> list:
        return list(getattr(self.cell, "trainable_variables", []))

    trainable_weights = trainable_variables

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState"):
            return self.cell.zero_state(batch_size, dtype)

    def __call__(self, inputs, state, scope=None):
        return self._call_wrapped_cell(inputs, state, self.cell.__call__, scope=scope)

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        raise NotImplementedError


def _default_dropout_state_filter_visitor(substate):
    """TensorFlow's default: an LSTM's c is kept as is; everything else may be dropped."""
    if isinstance(substate, LSTMStateTuple):
        return LSTMStateTuple(c=False, h=True)
    return True


def _shallow_filter(visitor, structure):
    """`structure` with each part replaced by True/False: whether dropout applies (per the visitor)."""
    verdict = visitor(structure)
    if isinstance(verdict, bool):
        return nest.map_structure(lambda _: verdict, structure)
    if not nest.is_nested(structure):
        raise ValueError(f"dropout_state_filter_visitor returned {verdict!r} for a leaf; expected a bool")
    parts = [
        _shallow_filter(visitor, child)
        if choice is True and nest.is_nested(child)
        else nest.map_structure(lambda _, c=choice: bool(c), child)
        for child, choice in zip(_children(structure), _children(verdict))
    ]
    return nest._rebuild(structure, parts)


def _children(value):
    return nest._children(value)


class DropoutWrapper(_Wrapper):
    """Dropout on a cell's inputs, state and outputs (tf.nn.rnn_cell.DropoutWrapper).

    `*_keep_prob` are floats or scalar tensors (1.0: no dropout there). With
    `variational_recurrent=True` one dropout mask per sequence is drawn when the
    wrapper is made (Gal & Ghahramani) and reused at every step; it needs
    `dtype`, and `input_size` when input_keep_prob < 1. An LSTM's c state is not
    dropped (`dropout_state_filter_visitor` changes that).

    >>> cell = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicLSTMCell(128), output_keep_prob=0.5)
    """

    def __init__(
        self,
        cell,
        input_keep_prob=1.0,
        output_keep_prob=1.0,
        state_keep_prob=1.0,
        variational_recurrent=False,
        input_size=None,
        dtype=None,
        seed=None,
        dropout_state_filter_visitor=None,
        **kwargs,
    ):
        super().__init__(cell, dtype=dtype, **kwargs)
        if dropout_state_filter_visitor is not None and not callable(dropout_state_filter_visitor):
            raise TypeError("dropout_state_filter_visitor must be callable")
        self._dropout_state_filter = dropout_state_filter_visitor or _default_dropout_state_filter_visitor
        with name_scope("DropoutWrapperInit"):
            for prob, attr in (
                (input_keep_prob, "input_keep_prob"),
                (state_keep_prob, "state_keep_prob"),
                (output_keep_prob, "output_keep_prob"),
            ):
                setattr(self, f"_{attr}", self._keep_probability(prob, attr))
        self._variational_recurrent = variational_recurrent
        self._input_size = input_size
        self._seed = seed
        self._recurrent_input_noise = self._recurrent_state_noise = self._recurrent_output_noise = None
        if variational_recurrent:
            if dtype is None:
                raise ValueError("When variational_recurrent=True, dtype must be provided")
            if not isinstance(self._input_keep_prob, numbers.Real) or self._input_keep_prob < 1.0:
                if input_size is None:
                    raise ValueError(
                        "When variational_recurrent=True and input_keep_prob < 1.0 or is unknown, "
                        "input_size must be provided"
                    )
                self._recurrent_input_noise = self._batch_noise(input_size, "input", dtype)
            self._recurrent_state_noise = self._batch_noise(cell.state_size, "state", dtype)
            self._recurrent_output_noise = self._batch_noise(cell.output_size, "output", dtype)

    @staticmethod
    def _keep_probability(prob, attr):
        if isinstance(prob, numbers.Real):
            if prob < 0 or prob > 1:
                raise ValueError(f"Parameter {attr} must be between 0 and 1: {prob}")
            return float(prob)
        tensor = convert_to_tensor(prob, name=attr)
        value = constant_value(tensor)
        return float(value) if value is not None else tensor

    def _gen_seed(self, salt_prefix, index):
        """A per-part seed derived from `seed`, as TensorFlow derives it (md5 of seed and salt)."""
        if self._seed is None:
            return None
        digest = hashlib.md5(f"{self._seed}{salt_prefix}_{index}".encode()).hexdigest()
        return int(digest[:8], 16) & 0x7FFFFFFF

    def _batch_noise(self, sizes, salt, dtype):
        flat = nest.flatten(sizes)
        noise = [
            api.random_uniform(
                [1, *TensorShape(s if isinstance(s, list | tuple | TensorShape) else [s]).as_list()],
                seed=self._gen_seed(salt, i),
                dtype=dtype,
            )
            for i, s in enumerate(flat)
        ]
        return nest.pack_sequence_as(sizes, noise)

    def _dropout(self, values, salt, noise, keep_prob, which=None):
        which = which if which is not None else nest.map_structure(lambda _: True, values)
        flat_values, flat_which = nest.flatten(values), nest.flatten(which)
        flat_noise = nest.flatten(noise) if noise is not None else [None] * len(flat_values)
        out = []
        for i, (v, do, n) in enumerate(zip(flat_values, flat_which, flat_noise)):
            if not do:
                out.append(v)
            elif not self._variational_recurrent:
                out.append(api.nn.dropout(v, rate=1 - keep_prob, seed=self._gen_seed(salt, i)))
            else:
                kept = api.floor(keep_prob + n)
                value = api.truediv(v, keep_prob) * kept
                value.set_shape(v.shape)
                out.append(value)
        return nest.pack_sequence_as(values, out)

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        def should_dropout(p):
            return not isinstance(p, float) or p < 1

        if should_dropout(self._input_keep_prob):
            inputs = self._dropout(inputs, "input", self._recurrent_input_noise, self._input_keep_prob)
        output, new_state = cell_call_fn(inputs, state, **kwargs)
        if should_dropout(self._state_keep_prob):
            which = _shallow_filter(self._dropout_state_filter, new_state)
            new_state = self._dropout(
                new_state, "state", self._recurrent_state_noise, self._state_keep_prob, which
            )
        if should_dropout(self._output_keep_prob):
            output = self._dropout(output, "output", self._recurrent_output_noise, self._output_keep_prob)
        return output, new_state


class ResidualWrapper(_Wrapper):
    """output = inputs + cell's output (tf.nn.rnn_cell.ResidualWrapper); `residual_fn` overrides the sum.

    >>> cell = tf.nn.rnn_cell.ResidualWrapper(tf.nn.rnn_cell.GRUCell(depth))
    """

    def __init__(self, cell, residual_fn=None, **kwargs):
        super().__init__(cell, **kwargs)
        self._residual_fn = residual_fn

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        outputs, new_state = cell_call_fn(inputs, state, **kwargs)

        def default_residual_fn(inputs, outputs):
            nest.assert_same_structure(inputs, outputs)

            def add(inp, out):
                inp.shape.assert_is_compatible_with(out.shape)
                return inp + out

            return nest.map_structure(add, inputs, outputs)

        return (self._residual_fn or default_residual_fn)(inputs, outputs), new_state


class DeviceWrapper(_Wrapper):
    """Runs the cell (and its zero state) on `device` (tf.nn.rnn_cell.DeviceWrapper).

    >>> cell = tf.nn.rnn_cell.DeviceWrapper(tf.nn.rnn_cell.LSTMCell(256), "/gpu:1")
    """

    def __init__(self, cell, device, **kwargs):
        super().__init__(cell, **kwargs)
        self._device = device

    def zero_state(self, batch_size, dtype):
        with name_scope(type(self).__name__ + "ZeroState"):
            with device(self._device):
                return self.cell.zero_state(batch_size, dtype)

    def _call_wrapped_cell(self, inputs, state, cell_call_fn, **kwargs):
        with device(self._device):
            return cell_call_fn(inputs, state, **kwargs)


# -- checks ------------------------------------------------------------------------------


def _assert_like_rnncell(cell_name, cell) -> None:
    """TypeError unless `cell` has output_size, state_size, zero_state and is callable."""
    problems = []
    if not _has(cell, "output_size"):
        problems.append("'output_size' property is missing")
    if not _has(cell, "state_size"):
        problems.append("'state_size' property is missing")
    if not (_has(cell, "get_initial_state") or _has(cell, "zero_state")):
        problems.append("either 'zero_state' or 'get_initial_state' method is required")
    if not callable(cell):
        problems.append("is not callable")
    if problems:
        raise TypeError(f"The argument {cell_name!r} ({cell}) is not an RNNCell: {', '.join(problems)}.")


def _has(obj, attr: str) -> bool:
    try:
        getattr(obj, attr)
    except (AttributeError, NotImplementedError):
        return False
    return True
