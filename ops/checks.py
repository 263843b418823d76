"""The public debugging functions: tf.Print, tf.print, tf.Assert and the assert_* checks.

They build the ops of ops.debug. Each assert_* works as in TensorFlow 1.x graph
mode: when both sides are known at graph construction (constants) the check
runs at once and raises InvalidArgumentError (ValueError/TypeError for ranks and
dtypes); otherwise it returns an Assert op that fails the run with
"assertion failed: [Condition x == y did not hold element-wise:] [x (x:0) = ] [1 2 3...] ...".
Add it as a control dependency, as in TensorFlow:

    with tf.control_dependencies([tf.assert_equal(tf.shape(x)[0], tf.shape(y)[0])]):
        loss = tf.reduce_sum(x - y)
"""

from __future__ import annotations

import sys

import numpy as np

from ops import api as tf
from ops.common import constant_value
from ops.registry import api_function, build
from raygraph import dtypes, errors
from raygraph.graph import Tensor, convert_to_tensor, name_scope


def _static_string(item) -> str:
    if isinstance(item, Tensor):
        value = constant_value(item)
        return (
            str(value) if value is not None else f"{item.name} (shape={item.shape} dtype={item.dtype.name})"
        )
    return str(item)


def _assert_static(condition: bool, data) -> None:
    if not condition:
        raise errors.InvalidArgumentError(None, None, "\n".join(_static_string(d) for d in data))


@api_function("Print", "debugging.Print")
def Print(input_, data, message=None, first_n=None, summarize=None, name=None):  # noqa: N802 - TF's name
    """Returns `input_`; running it prints `message` and the values of `data` to stderr.

    >>> y = tf.Print(y, [tf.reduce_mean(y)], "mean y: ", first_n=10)
    """
    return build(
        "Print",
        [input_, list(data)],
        {
            "message": message or "",
            "first_n": -1 if first_n is None else int(first_n),
            "summarize": 3 if summarize is None else int(summarize),
        },
        name=name,
    )


def _stream_name(output_stream) -> str:
    if isinstance(output_stream, str):
        if output_stream.startswith("file://"):
            return output_stream
        raise ValueError(f"tf.print: unsupported output_stream {output_stream!r}")
    if output_stream is sys.stdout or output_stream is sys.__stdout__:
        return "stdout"
    if output_stream is sys.stderr or output_stream is sys.__stderr__:
        return "stderr"
    import logging

    for level in ("info", "warning", "error"):
        if output_stream in (getattr(logging, level), getattr(logging.getLogger(), level, None)):
            return f"log({level})"
    raise ValueError(f"tf.print: unsupported output_stream {output_stream!r}")


def _template(item, tensors: list, parts: list) -> None:
    """Appends `item`'s printed form to `parts`: strings, and indices into `tensors`."""
    element = getattr(item, "_as_tensor", None)
    if isinstance(item, Tensor) or element is not None:
        tensors.append(convert_to_tensor(item))
        parts.append(len(tensors) - 1)
    elif isinstance(item, dict):
        parts.append("{")
        for i, (k, v) in enumerate(item.items()):
            parts.append(("" if i == 0 else ", ") + repr(k) + ": ")
            _template(v, tensors, parts)
        parts.append("}")
    elif isinstance(item, list | tuple):
        parts.append("[" if isinstance(item, list) else "(")
        for i, v in enumerate(item):
            if i:
                parts.append(", ")
            _template(v, tensors, parts)
        parts.append("]" if isinstance(item, list) else ")")
    else:
        parts.append(str(item))


@api_function("print", "debugging.print")
def print_v2(*inputs, **kwargs):
    """Prints `inputs` when the returned op runs (graph mode: run it or depend on it).

    >>> print_op = tf.print("loss:", loss, output_stream=sys.stdout)
    >>> with tf.control_dependencies([print_op]): train = ...
    """
    output_stream = kwargs.pop("output_stream", sys.stderr)
    summarize = kwargs.pop("summarize", 3)
    sep = kwargs.pop("sep", " ")
    end = kwargs.pop("end", "\n")
    name = kwargs.pop("name", None)
    if kwargs:
        raise ValueError(f"tf.print: unrecognized keyword arguments {sorted(kwargs)}")
    tensors: list = []
    parts: list = []
    for i, item in enumerate(inputs):
        if i:
            parts.append(sep)
        _template(item, tensors, parts)
    attrs = {
        "template": tuple(parts),
        "summarize": -1 if summarize is None else int(summarize),
        "output_stream": _stream_name(output_stream),
        "end": end,
    }
    return build("PrintV2", [tensors], attrs, name=name)


@api_function("Assert", "debugging.Assert")
def Assert(condition, data, summarize=None, name=None):  # noqa: N802 - TF's name
    """An op that fails the run with InvalidArgumentError, printing `data`, if `condition` is false.

    >>> check = tf.Assert(tf.reduce_all(x > 0), ["x must be positive:", x])
    """
    with name_scope(name, "Assert"):
        condition = convert_to_tensor(condition, name="Condition")
        return build("Assert", [condition, list(data)], {"summarize": 3 if summarize is None else summarize})


def _binary(sym: str, opname: str, op_func, static_func):
    def check(x, y, data=None, summarize=None, message=None, name=None):
        with name_scope(name, opname):
            x = convert_to_tensor(x, name="x")
            y = convert_to_tensor(y, name="y", preferred_dtype=x.dtype)
            if data is None:
                data = [
                    f"Condition x {sym} y did not hold element-wise:",
                    f"x ({x.name}) = ",
                    x,
                    f"y ({y.name}) = ",
                    y,
                ]
            if message is not None:
                data = [message] + list(data)
            condition = tf.reduce_all(op_func(x, y))
            x_static, y_static = constant_value(x), constant_value(y)
            if x_static is not None and y_static is not None:
                _assert_static(bool(np.all(static_func(x_static, y_static))), data)
            return Assert(condition, data, summarize=summarize)

    check.__name__ = opname
    check.__doc__ = f"""Asserts that `x {sym} y` holds element-wise (see this module's docstring).

    >>> with tf.control_dependencies([tf.{opname}(x, y)]): z = tf.identity(x)
    """
    return check


assert_equal = _binary("==", "assert_equal", lambda x, y: tf.equal(x, y), np.equal)
assert_none_equal = _binary("!=", "assert_none_equal", lambda x, y: tf.not_equal(x, y), np.not_equal)
assert_less = _binary("<", "assert_less", lambda x, y: tf.less(x, y), np.less)
assert_less_equal = _binary("<=", "assert_less_equal", lambda x, y: tf.less_equal(x, y), np.less_equal)
assert_greater = _binary(">", "assert_greater", lambda x, y: tf.greater(x, y), np.greater)
assert_greater_equal = _binary(
    ">=", "assert_greater_equal", lambda x, y: tf.greater_equal(x, y), np.greater_equal
)

for _fn in (
    assert_equal,
    assert_none_equal,
    assert_less,
    assert_less_equal,
    assert_greater,
    assert_greater_equal,
):
    api_function(_fn.__name__, "debugging." + _fn.__name__)(_fn)


def _sign(sym: str, opname: str, compare, zero_first: bool):
    def check(x, data=None, summarize=None, message=None, name=None):
        with name_scope(name, opname, [x]):
            x = convert_to_tensor(x, name="x")
            if data is None:
                data = [message or "", f"Condition x {sym} did not hold element-wise:", f"x ({x.name}) = ", x]
            zero = tf.zeros([], dtype=x.dtype)
            a, b = (zero, x) if zero_first else (x, zero)
            return compare(a, b, data=data, summarize=summarize)

    check.__name__ = opname
    check.__doc__ = f"""Asserts that `x {sym}` holds element-wise: `tf.{opname}(probabilities)`."""
    return api_function(opname, "debugging." + opname)(check)


assert_positive = _sign("> 0", "assert_positive", assert_less, True)
assert_negative = _sign("< 0", "assert_negative", assert_less, False)
assert_non_negative = _sign(">= 0", "assert_non_negative", assert_less_equal, True)
assert_non_positive = _sign("<= 0", "assert_non_positive", assert_less_equal, False)


def _rank_check(opname: str, relation: str, static_ok, dynamic_ok):
    def check(x, rank, data=None, summarize=None, message=None, name=None):
        with name_scope(name, opname, [x, rank]):
            x = convert_to_tensor(x, name="x")
            rank = convert_to_tensor(rank, name="rank")
            prefix = f"{message} " if message else ""
            static_rank = constant_value(rank)
            if static_rank is not None and x.shape.ndims is not None:
                if not static_ok(x.shape.ndims, int(static_rank)):
                    raise ValueError(
                        f"{prefix}Tensor {x.name} must have rank{relation} {int(static_rank)}. "
                        f"Received rank {x.shape.ndims}, shape {x.shape}"
                    )
                return tf.no_op(name="static_checks_determined_all_ok")
            if data is None:
                data = [
                    message or "",
                    f"Tensor {x.name} must have rank{relation}",
                    rank,
                    "Received shape: ",
                    tf.shape(x),
                ]
            return Assert(dynamic_ok(tf.rank(x), rank), data, summarize=summarize)

    check.__name__ = opname
    check.__doc__ = (
        f"""Asserts that `x` has rank{relation} `rank`; statically known ranks are checked at once."""
    )
    return api_function(opname, "debugging." + opname)(check)


assert_rank = _rank_check("assert_rank", "", lambda a, b: a == b, lambda r, k: tf.equal(r, k))
assert_rank_at_least = _rank_check(
    "assert_rank_at_least", " at least", lambda a, b: a >= b, lambda r, k: tf.greater_equal(r, k)
)


@api_function("assert_type", "debugging.assert_type")
def assert_type(tensor, tf_type, message=None, name=None):
    """Raises TypeError at once unless `tensor`'s dtype is `tf_type`; returns a no_op."""
    tensor = convert_to_tensor(tensor, name="tensor")
    tf_type = dtypes.as_dtype(tf_type)
    if tensor.dtype != tf_type:
        prefix = f"{message} " if message else ""
        raise TypeError(f"{prefix}{tensor.name} must be of type {tf_type!r}; got {tensor.dtype!r}")
    with name_scope(name, "assert_type"):
        return tf.no_op(name="statically_determined_correct_type")


@api_function("assert_scalar", "debugging.assert_scalar")
def assert_scalar(tensor, name=None, message=None):
    """Raises ValueError at once unless `tensor` is statically a scalar; returns the tensor."""
    tensor = convert_to_tensor(tensor, name=name)
    if tensor.shape.ndims != 0:
        prefix = f"{message} " if message else ""
        raise ValueError(f"{prefix}Expected scalar shape for {tensor.name}, saw shape: {tensor.shape}.")
    return tensor


@api_function("verify_tensor_all_finite", "debugging.assert_all_finite")
def verify_tensor_all_finite(t=None, msg=None, name=None, x=None, message=None):
    """Returns `t`, failing the run if it holds NaN or Inf (check_numerics with `msg`)."""
    t = x if t is None else t
    msg = message if msg is None else msg
    with name_scope(name, "VerifyFinite", [t]):
        t = convert_to_tensor(t, name="t")
        return tf.check_numerics(t, message=msg)


@api_function("is_variable_initialized")
def is_variable_initialized(variable):
    """A bool scalar: whether `variable` has been initialized in the session that runs it."""
    return build("IsVariableInitialized", [variable], {"dtype": variable.dtype})
