"""`tf.keras.backend`: the session Keras runs in, per-graph names, and thin op wrappers.

    K = tf.keras.backend
    K.set_session(tf.Session("local"))     # the session fit/predict/get_weights use
    x = K.placeholder((None, 3))
    y = K.mean(K.square(x), axis=-1)

State, per process (TF 1.x's Keras keeps the same):

    _SESSION          the session set by set_session or made by get_session, or None
    _NAME_UIDS        graph -> {prefix: count}: layer and model names ("dense", "dense_1")
    _LEARNING_PHASE   graph -> the learning-phase tensor or the int set by set_learning_phase
    _INITIALIZED      session -> names of the variables Keras has seen initialized

`get_session()` returns the default session when one is active (`with sess.as_default()`),
else `_SESSION` when it belongs to the default graph, else a new `tf.Session()` (the
default target) that becomes `_SESSION`. Before returning it initializes the global
variables that are not yet initialized, as TF 1.x's Keras does, so a model can be fit
without running `tf.global_variables_initializer()`.
"""

from __future__ import annotations

import weakref

import numpy as np

import ops
from ops import api
from raygraph import dtypes
from raygraph.graph import Tensor, convert_to_tensor, get_default_graph, name_scope, reset_default_graph
from raygraph.session import Session, get_default_session
from raygraph.variables import Variable, global_variables

ops.load_all()  # the wrappers below bind op functions at import (idempotent)

_SESSION = None
_NAME_UIDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LEARNING_PHASE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_INITIALIZED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"


# -- configuration --------------------------------------------------------------------------


def epsilon() -> float:
    """The fuzz factor used by losses (1e-7): `K.epsilon()`."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Sets the fuzz factor returned by `epsilon()`."""
    global _EPSILON
    _EPSILON = float(value)


def floatx() -> str:
    """The default float type as a string, "float32": `K.floatx()`."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Sets the default float type: `K.set_floatx("float64")`."""
    global _FLOATX
    if value not in ("float16", "float32", "float64"):
        raise ValueError(f"Unknown floatx type: {value!r}")
    _FLOATX = str(value)


def image_data_format() -> str:
    """ "channels_last" (the only layout Keras layers default to here)."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Sets the default data_format of image layers."""
    global _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Unknown data_format: {data_format!r}")
    _IMAGE_DATA_FORMAT = data_format


def cast_to_floatx(x):
    """A numpy array of `x` in floatx: `K.cast_to_floatx([1, 2])`."""
    return np.asarray(x, dtype=_FLOATX)


# -- names ------------------------------------------------------------------------------------


def get_uid(prefix: str = "") -> int:
    """1, 2, 3, ... for each call with `prefix` in the default graph: `K.get_uid("input")`."""
    uids = _NAME_UIDS.setdefault(get_default_graph(), {})
    uids[prefix] = uids.get(prefix, 0) + 1
    return uids[prefix]


def unique_object_name(prefix: str) -> str:
    """ "dense", then "dense_1", "dense_2" ... in the default graph, as Keras names layers."""
    n = get_uid(prefix) - 1
    return prefix if n == 0 else f"{prefix}_{n}"


def reset_uids() -> None:
    """Forgets the layer-name counters of the default graph."""
    _NAME_UIDS.pop(get_default_graph(), None)


# -- the session ------------------------------------------------------------------------------


def get_session():
    """The session Keras runs in (the active default session, the one set by set_session,
    or a new `tf.Session()`), with every uninitialized global variable initialized."""
    global _SESSION
    session = get_default_session()
    if session is None:
        graph = get_default_graph()
        if _SESSION is None or _SESSION.graph is not graph or _SESSION._closed:
            _SESSION = Session(graph=graph)
        session = _SESSION
    _initialize_variables(session)
    return session


def set_session(session) -> None:
    """Makes `session` the one Keras runs in: `K.set_session(tf.Session("local"))`."""
    global _SESSION
    _SESSION = session


def clear_session() -> None:
    """Resets the default graph, forgets the session, the layer names and the learning phase."""
    global _SESSION
    _SESSION = None
    reset_default_graph()


def _initialize_variables(session) -> None:
    seen = _INITIALIZED.setdefault(session, set())
    with session.graph.as_default():
        candidates = [v for v in global_variables() if v.name not in seen]
        if not candidates:
            return
        flags = session.run([api.is_variable_initialized(v) for v in candidates])
        missing = [v for v, ok in zip(candidates, flags, strict=True) if not ok]
        if missing:
            session.run([v.initializer for v in missing])
    seen.update(v.name for v in candidates)


# -- learning phase ---------------------------------------------------------------------------


def learning_phase():
    """0 (test) or 1 (train) when set by set_learning_phase, else a bool placeholder with
    default False that fit feeds True ("keras_learning_phase")."""
    graph = get_default_graph()
    if graph not in _LEARNING_PHASE:
        with name_scope(""):
            _LEARNING_PHASE[graph] = api.placeholder_with_default(
                False, shape=[], name="keras_learning_phase"
            )
    return _LEARNING_PHASE[graph]


def set_learning_phase(value: int) -> None:
    """Fixes the learning phase of the layers built afterwards: 0 = test, 1 = train."""
    if value not in (0, 1):
        raise ValueError("Expected learning phase to be 0 or 1.")
    _LEARNING_PHASE[get_default_graph()] = value


def _training_value(training):
    """A layer's `training` argument: the learning phase when None, as a bool or bool tensor."""
    if training is None:
        training = learning_phase()
    if isinstance(training, int | np.integer | np.bool_):
        return bool(training)
    return training


def _learning_phase_feed(value: bool) -> dict:
    phase = _LEARNING_PHASE.get(get_default_graph())
    return {phase: value} if isinstance(phase, Tensor) else {}


# -- variables and values ---------------------------------------------------------------------


def variable(value, dtype=None, name=None, constraint=None):
    """A variable holding `value` (initialized by get_session): `K.variable(np.zeros(3))`."""
    value = np.asarray(value)
    dtype = dtypes.as_dtype(
        dtype or (_FLOATX if value.dtype.kind in "fiu" and dtype is None else value.dtype)
    )
    return Variable(value.astype(dtype.as_numpy_dtype), dtype=dtype, name=name, constraint=constraint)


def constant(value, dtype=None, shape=None, name=None):
    """A constant tensor, of floatx unless `dtype` says otherwise."""
    return api.constant(value, dtype=dtypes.as_dtype(dtype or _FLOATX), shape=shape, name=name)


def placeholder(shape=None, ndim=None, dtype=None, sparse=False, name=None):
    """A placeholder of floatx: `K.placeholder((None, 3))` or `K.placeholder(ndim=2)`."""
    if sparse:
        raise NotImplementedError("K.placeholder(sparse=True) is not supported by raygraph")
    if shape is None and ndim is not None:
        shape = [None] * ndim
    return api.placeholder(dtypes.as_dtype(dtype or _FLOATX), shape=shape, name=name)


def is_placeholder(x) -> bool:
    """Whether `x` is a placeholder."""
    return isinstance(x, Tensor) and x.op.type == "Placeholder"


def get_value(x):
    """The value of a variable (or tensor) as a numpy array."""
    return get_session().run(x)


def batch_get_value(tensors) -> list:
    """The values of several variables, in one run."""
    return get_session().run(list(tensors)) if tensors else []


def set_value(x, value) -> None:
    """Sets a variable's value from numpy: `K.set_value(model.optimizer.lr, 0.01)`."""
    x.load(np.asarray(value, dtype=x.dtype.as_numpy_dtype), get_session())


def batch_set_value(tuples) -> None:
    """Sets several variables: `batch_set_value([(v, value), ...])`."""
    for x, value in tuples:
        set_value(x, value)


def eval(x):  # noqa: A001 - Keras's name
    """The value of a variable or tensor (get_value)."""
    return get_value(x)


def function(inputs, outputs, updates=None, name=None, **kwargs):
    """A callable running `outputs` (and `updates`) with `inputs` fed: `f = K.function([x], [y])`."""
    inputs, outputs = list(inputs), list(outputs)
    updates = list(updates or [])

    def run(values):
        feed = dict(zip(inputs, values, strict=True))
        return get_session().run(outputs + updates, feed)[: len(outputs)]

    return run


# -- shapes -----------------------------------------------------------------------------------


def int_shape(x):
    """The static shape as a tuple of ints and Nones: `K.int_shape(x) == (None, 3)`."""
    if isinstance(x, np.ndarray):
        return x.shape
    shape = x.shape
    return None if shape.ndims is None else tuple(shape.as_list())


def ndim(x):
    """The rank of `x` (None when unknown)."""
    return x.shape.ndims


def dtype(x) -> str:
    """The dtype name of `x`: "float32"."""
    return x.dtype.name


def is_sparse(x) -> bool:
    """Whether `x` is a SparseTensor."""
    return type(x).__name__ == "SparseTensor"


def is_tensor(x) -> bool:
    """Whether `x` is a tensor or variable."""
    return isinstance(x, Tensor | Variable)


def is_keras_tensor(x) -> bool:
    """Whether `x` was made by a Keras layer (or Input)."""
    from raygraph.keras.engine import _history

    return isinstance(x, Tensor) and _history(x) is not None


def count_params(x) -> int:
    """The number of elements of a variable."""
    return int(np.prod(x.shape.as_list()))


# -- ops: thin wrappers -------------------------------------------------------------------------


def _axis_op(fn):
    def op(x, axis=None, keepdims=False):
        return fn(x, axis=axis, keepdims=keepdims)

    op.__doc__ = f"`{fn.__name__}` over `axis` (all axes when None)."
    return op


mean = _axis_op(api.reduce_mean)
sum = _axis_op(api.reduce_sum)  # noqa: A001
max = _axis_op(api.reduce_max)  # noqa: A001
min = _axis_op(api.reduce_min)  # noqa: A001
prod = _axis_op(api.reduce_prod)
any = _axis_op(api.reduce_any)  # noqa: A001
all = _axis_op(api.reduce_all)  # noqa: A001


def std(x, axis=None, keepdims=False):
    """The standard deviation over `axis`."""
    return api.sqrt(var(x, axis, keepdims))


def var(x, axis=None, keepdims=False):
    """The (biased) variance over `axis`."""
    m = api.reduce_mean(x, axis=axis, keepdims=True)
    return api.reduce_mean(api.square(x - m), axis=axis, keepdims=keepdims)


def argmax(x, axis=-1):
    """The index of the maximum along `axis`."""
    return api.argmax(x, axis)


def argmin(x, axis=-1):
    """The index of the minimum along `axis`."""
    return api.argmin(x, axis)


square, abs, exp, sign, round = api.square, api.abs, api.exp, api.sign, api.round  # noqa: A001
cos, sin, tanh, sigmoid, softplus, softsign = (
    api.cos,
    api.sin,
    api.tanh,
    api.sigmoid,
    api.nn.softplus,
    api.nn.softsign,
)
equal, not_equal, greater, less = api.equal, api.not_equal, api.greater, api.less
greater_equal, less_equal, gather, transpose, tile = (
    api.greater_equal,
    api.less_equal,
    api.gather,
    api.transpose,
    api.tile,
)
zeros_like, ones_like, stop_gradient, one_hot, reverse = (
    api.zeros_like,
    api.ones_like,
    api.stop_gradient,
    api.one_hot,
    api.reverse,
)


def sqrt(x):
    """sqrt of x clipped at 0 below."""
    return api.sqrt(api.maximum(x, api.constant(0.0, dtype=x.dtype)))


def log(x):
    """The natural logarithm."""
    return api.log(x)


def pow(x, a):  # noqa: A001
    """x ** a, elementwise."""
    return api.pow(x, api.constant(a, dtype=x.dtype))


def maximum(x, y):
    """The elementwise maximum."""
    return api.maximum(x, y)


def minimum(x, y):
    """The elementwise minimum."""
    return api.minimum(x, y)


def clip(x, min_value, max_value):
    """Elementwise clip to [min_value, max_value]."""
    if max_value is not None and min_value is not None and max_value < min_value:
        max_value = min_value
    return api.clip_by_value(x, min_value, max_value)


def cast(x, dtype):
    """`x` as `dtype` ("float32", tf.int32, ...)."""
    return api.cast(x, dtypes.as_dtype(dtype))


def shape(x):
    """The dynamic shape of `x`, a tensor."""
    return api.shape(x)


def reshape(x, shape):
    """`x` reshaped to `shape`."""
    return api.reshape(x, shape)


def flatten(x):
    """`x` as a vector."""
    return api.reshape(x, [-1])


def batch_flatten(x):
    """`x` as [batch, everything else]."""
    return api.reshape(x, api.stack([api.shape(x)[0], -1]))


def expand_dims(x, axis=-1):
    """`x` with a new axis of size 1 at `axis`."""
    return api.expand_dims(x, axis)


def squeeze(x, axis):
    """`x` without `axis` (of size 1)."""
    return api.squeeze(x, [axis])


def concatenate(tensors, axis=-1):
    """Concatenation along `axis` (negative counts from the end)."""
    if axis < 0:
        rank = tensors[0].shape.ndims
        axis = axis % rank if rank else 0
    return api.concat(list(tensors), axis)


def stack(x, axis=0):
    """The tensors stacked along a new `axis`."""
    return api.stack(list(x), axis=axis)


def dot(x, y):
    """Matrix product; a rank > 2 `x` is contracted over its last axis with `y`'s first."""
    if x.shape.ndims is not None and x.shape.ndims > 2 or y.shape.ndims is not None and y.shape.ndims > 2:
        return api.tensordot(x, y, [[x.shape.ndims - 1], [y.shape.ndims - 2]])
    return api.matmul(x, y)


def batch_dot(x, y, axes=None):
    """Batched matrix product (default axes only)."""
    if axes is None or tuple(axes) == (x.shape.ndims - 1, y.shape.ndims - 2):
        return api.matmul(x, y)
    raise NotImplementedError("K.batch_dot: only the default axes are supported by raygraph")


def relu(x, alpha=0.0, max_value=None, threshold=0):
    """max(x, 0), leaky below 0 by `alpha`, capped at `max_value`."""
    if threshold != 0:
        raise NotImplementedError("K.relu(threshold != 0) is not supported by raygraph")
    y = api.nn.leaky_relu(x, alpha) if alpha else api.nn.relu(x)
    if max_value is not None:
        y = api.minimum(y, api.constant(max_value, dtype=x.dtype))
    return y


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    y = api.nn.elu(x)
    return y if alpha == 1 else api.where(x > 0, y, alpha * y)


def softmax(x, axis=-1):
    """Softmax over `axis`."""
    return api.nn.softmax(x, axis=axis)


def hard_sigmoid(x):
    """clip(0.2 * x + 0.5, 0, 1)."""
    return api.clip_by_value(0.2 * x + 0.5, 0.0, 1.0)


def l2_normalize(x, axis=None):
    """`x` divided by its L2 norm over `axis`."""
    return api.nn.l2_normalize(x, axis=axis)


def dropout(x, level, noise_shape=None, seed=None):
    """Dropout with drop probability `level`."""
    return api.nn.dropout(x, rate=level, noise_shape=noise_shape, seed=seed)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """A tensor of normal samples (floatx)."""
    return api.random_normal(shape, mean, stddev, dtypes.as_dtype(dtype or _FLOATX), seed=seed)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """A tensor of uniform samples (floatx)."""
    return api.random_uniform(shape, minval, maxval, dtypes.as_dtype(dtype or _FLOATX), seed=seed)


def zeros(shape, dtype=None, name=None):
    """A variable of zeros."""
    return variable(np.zeros(shape), dtype=dtype, name=name)


def ones(shape, dtype=None, name=None):
    """A variable of ones."""
    return variable(np.ones(shape), dtype=dtype, name=name)


def update(x, new_x):
    """The op assigning `new_x` to variable `x`."""
    return x.assign(new_x)


def update_add(x, increment):
    """The op adding `increment` to variable `x`."""
    return x.assign_add(increment)


def update_sub(x, decrement):
    """The op subtracting `decrement` from variable `x`."""
    return x.assign_sub(decrement)


def moving_average_update(x, value, momentum):
    """The op x -= (x - value) * (1 - momentum)."""
    return x.assign_sub((x - value) * (1 - momentum))


def gradients(loss, variables):
    """tf.gradients(loss, variables)."""
    from raygraph.gradients import gradients as _gradients

    return _gradients(loss, variables)


# -- losses on tensors (Keras's backend forms; tf.keras.losses reduces them per sample) -----------


def _logits_of(output, op_type: str, from_logits: bool):
    """As TF 1.x's Keras: an output made by `op_type` (Softmax, Sigmoid) is used through its logits."""
    if not from_logits and isinstance(output, Tensor) and output.op.type == op_type:
        return output.op.inputs[0], True
    return output, from_logits


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-sum(target * log(output)) over `axis`, output normalized and clipped to [eps, 1 - eps]."""
    target, output = convert_to_tensor(target), convert_to_tensor(output)
    output, from_logits = _logits_of(output, "Softmax", from_logits)
    if from_logits:
        return api.nn.softmax_cross_entropy_with_logits_v2(labels=target, logits=output, axis=axis)
    output = output / api.reduce_sum(output, axis, keepdims=True)
    eps = api.constant(_EPSILON, dtype=output.dtype)
    output = api.clip_by_value(output, eps, 1.0 - eps)
    return -api.reduce_sum(target * api.log(output), axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """categorical_crossentropy with integer class targets (any shape that flattens to the batch)."""
    output = convert_to_tensor(output)
    output, from_logits = _logits_of(output, "Softmax", from_logits)
    if not from_logits:
        eps = api.constant(_EPSILON, dtype=output.dtype)
        output = api.log(api.clip_by_value(output, eps, 1 - eps))
    classes = output.shape.as_list()[-1]
    labels = api.cast(api.reshape(target, [-1]), dtypes.int64)
    logits = api.reshape(output, [-1, classes])
    loss = api.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    rank = output.shape.ndims
    if rank is not None and rank >= 3:
        loss = api.reshape(loss, api.shape(output)[:-1])
    return loss


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise -(t log(o) + (1 - t) log(1 - o)), o clipped to [eps, 1 - eps]."""
    target, output = convert_to_tensor(target), convert_to_tensor(output)
    output, from_logits = _logits_of(output, "Sigmoid", from_logits)
    if from_logits:
        return api.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=output)
    eps = api.constant(_EPSILON, dtype=output.dtype)
    output = api.clip_by_value(output, eps, 1.0 - eps)
    return -(target * api.log(output + eps) + (1 - target) * api.log(1 - output + eps))


def ctc_label_dense_to_sparse(labels, label_lengths):
    """Dense labels [batch, max_len] and their lengths [batch] as a SparseTensor of the
    first label_lengths[i] labels of each row (for tf.nn.ctc_loss)."""
    from raygraph.sparse import SparseTensor

    labels = convert_to_tensor(labels)
    label_lengths = api.cast(convert_to_tensor(label_lengths), dtypes.int32)
    max_len = api.shape(labels)[1]
    mask = api.sequence_mask(label_lengths, max_len)
    indices = api.where(mask)
    values = api.gather_nd(labels, indices)
    dense_shape = api.cast(api.shape(labels), dtypes.int64)
    return SparseTensor(indices, values, dense_shape)
