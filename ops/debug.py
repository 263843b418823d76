"""Debugging ops: Print, PrintV2 (tf.print), Assert, CheckNumerics, IsVariableInitialized,
Timestamp.

They run in the process that executes the kernel (a device actor, or this
process for `Session("local")`), so their output goes to that process's stderr
or stdout, as TensorFlow's go to the server's. Tensors are formatted as
TensorFlow formats them: Print and Assert with `SummarizeValue` ("[1 2 3...]",
the first `summarize` entries), tf.print numpy-like with the first and last
`summarize` entries of each dimension.

Failures raise `InvalidArgumentError` naming the node: "assertion failed: [...]",
"<message> : Tensor had NaN values". Print's `first_n` counts the runs of one
session on one device (kept in `SessionState.counters`).

The tf.debugging.assert_* functions built from these ops live in raygraph.debugging.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from ops import api as tf
from ops.registry import REQUIRED, Op
from raygraph import errors
from raygraph.dtypes import bool as tf_bool
from raygraph.dtypes import float64
from raygraph.shapes import TensorShape

# -- formatting ----------------------------------------------------------------


def format_element(value) -> str:
    """One element as TensorFlow's StrCat writes it: floats shortest-exact, bools 1/0."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    if isinstance(value, np.bool_ | bool):
        return "1" if value else "0"
    if isinstance(value, np.floating):
        digits = (6, 9) if value.dtype.itemsize <= 4 else (15, 17)
        text = f"{float(value):.{digits[0]}g}"
        if value.dtype.type(float(text)) != value and not np.isnan(value):
            text = f"{float(value):.{digits[1]}g}"
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(text, text)
    return str(value)


def summarize_v1(value, limit: int) -> str:
    """TensorFlow's Tensor::SummarizeValue: "1 2 3...", "[0 1][2 3...]..." (limit < 0: all)."""
    array = np.asarray(value)
    if array.ndim == 0:
        return format_element(array[()])
    flat = array.reshape(-1)
    limit = flat.size if limit < 0 else min(limit, flat.size)
    out: list[str] = []
    index = [0]

    def one_dim(dim: int) -> None:
        if index[0] >= limit:
            return
        if dim == array.ndim - 1:
            for i in range(array.shape[dim]):
                if index[0] >= limit:
                    if dim != 0:
                        out.append("...")
                    return
                if i > 0:
                    out.append(" ")
                out.append(format_element(flat[index[0]]))
                index[0] += 1
            return
        for _ in range(array.shape[dim]):
            opened = index[0] < limit
            if opened:
                out.append("[")
            one_dim(dim + 1)
            if opened:
                out.append("]")

    one_dim(0)
    return "".join(out) + ("..." if limit < flat.size else "")


def summarize_v2(value, summarize: int) -> str:
    """tf.print's form: numpy-like nesting, the first and last `summarize` entries per dimension."""
    array = np.asarray(value)
    if array.ndim == 0:
        return format_element(array[()])

    def block(a, depth: int) -> str:
        n = a.shape[0]
        cut = 0 <= summarize and 2 * summarize < n
        idx = list(range(summarize)) + [None] + list(range(n - summarize, n)) if cut else list(range(n))
        if a.ndim == 1:
            return "[" + " ".join("..." if i is None else format_element(a[i]) for i in idx) + "]"
        sep = "\n" + " " * (depth + 1)
        return "[" + sep.join("..." if i is None else block(a[i], depth + 1) for i in idx) + "]"

    return block(array, 0)


def _host(xp, value):
    """An array on the host (cupy arrays are copied back)."""
    return value.get() if hasattr(value, "get") and not isinstance(value, np.ndarray) else np.asarray(value)


def write_to(stream: str, text: str) -> None:
    """Writes `text` to "stderr", "stdout", "file://<path>" or "log(info)" / "log(warning)"..."""
    if stream == "stdout":
        sys.stdout.write(text)
        sys.stdout.flush()
    elif stream.startswith("file://"):
        with open(stream[len("file://") :], "a") as f:
            f.write(text)
    elif stream.startswith("log(") and stream.endswith(")"):
        import logging

        level = getattr(logging, stream[4:-1].upper(), logging.INFO)
        logging.getLogger("raygraph").log(level, text.rstrip("\n"))
    else:
        sys.stderr.write(text)
        sys.stderr.flush()


# -- ops -----------------------------------------------------------------------


class Print(Op):
    """Returns `input` and prints `message` and `data` when it runs: `tf.Print(x, [x, y], "x, y: ")`."""

    inputs = ("input", "data*")
    attrs = {"message": "", "first_n": -1, "summarize": 3}
    stateful = True
    cost = "free"

    def infer(input, data, message, first_n, summarize):  # noqa: A002 - TensorFlow's name
        return input.dtype, input.shape

    def kernel(ctx, input, data, message, first_n, summarize):  # noqa: A002
        if first_n >= 0:
            counters = ctx.state.counters
            seen = counters.get(ctx.node_name, 0)
            if seen >= first_n:
                return input
            counters[ctx.node_name] = seen + 1
        host = [_host(ctx.xp, d) for d in data]
        write_to("stderr", message + "".join(f"[{summarize_v1(d, summarize)}]" for d in host) + "\n")
        return input

    def grad(op, dy):
        return [dy] + [None] * (len(op.inputs) - 1)


class PrintV2(Op):
    """Prints its inputs in `template` (strings and input indices), tf.print's op; no outputs."""

    inputs = ("inputs*",)
    attrs = {"template": REQUIRED, "summarize": 3, "output_stream": "stderr", "end": "\n"}
    differentiable = False
    cost = "free"

    def infer(inputs, template, summarize, output_stream, end):
        return []

    def kernel(xp, inputs, template, summarize, output_stream, end):
        parts = [p if isinstance(p, str) else summarize_v2(_host(xp, inputs[p]), summarize) for p in template]
        write_to(output_stream, "".join(parts) + end)


class Assert(Op):
    """Fails the run with InvalidArgumentError, printing `data`, when `condition` is false."""

    inputs = ("condition", "data*")
    attrs = {"summarize": 3}
    differentiable = False
    cost = "free"

    def infer(condition, data, summarize):
        if not condition.dtype.is_bool:
            raise TypeError(f"condition must be bool, got {condition.dtype.name}")
        if condition.shape.ndims not in (None, 0):
            raise ValueError(f"condition must be a scalar, got shape {condition.shape}")
        return []

    def kernel(xp, condition, data, summarize):
        if not bool(_host(xp, condition)):
            text = " ".join(f"[{summarize_v1(_host(xp, d), summarize)}]" for d in data)
            raise errors.InvalidArgumentError(None, None, f"assertion failed: {text}")


class CheckNumerics(Op):
    """Returns `tensor`, failing the run if it holds NaN or Inf: `tf.check_numerics(x, "x")`."""

    inputs = ("tensor",)
    attrs = {"message": REQUIRED}
    api = ("check_numerics", "debugging.check_numerics")

    def infer(tensor, message):
        if not tensor.dtype.is_floating:
            raise TypeError(f"check_numerics takes a floating tensor, got {tensor.dtype.name}")
        return tensor.dtype, tensor.shape

    def kernel(xp, tensor, message):
        finite = xp.isfinite(tensor)
        if not bool(finite.all()):
            nan, inf = bool(xp.isnan(tensor).any()), bool(xp.isinf(tensor).any())
            what = "Inf and NaN" if nan and inf else "NaN" if nan else "Inf"
            raise errors.InvalidArgumentError(None, None, f"{message} : Tensor had {what} values")
        return tensor

    def grad(op, dy):
        message = op.attrs["message"]
        return [
            tf.check_numerics(
                dy, "Not a number (NaN) or infinity (Inf) values detected in gradient. " + message
            )
        ]


class IsVariableInitialized(Op):
    """Whether the variable has a value in this session: `tf.is_variable_initialized(v)`."""

    inputs = ("ref",)
    ref_inputs = ("ref",)
    attrs = {"dtype": None}
    stateful = True
    differentiable = False
    cost = "free"

    def infer(ref, dtype):
        return tf_bool, TensorShape([])

    def kernel(ctx, ref, dtype):
        return np.array(ref in ctx.state.variables)


class Timestamp(Op):
    """The time the op runs, in seconds since the Unix epoch, as a float64 scalar.

    A new reading at every run (stateful: never folded or cached).

    >>> start = tf.timestamp()
    """

    api = "timestamp"
    stateful = True
    differentiable = False
    cost = "free"

    def infer():
        return float64, TensorShape([])

    def kernel(ctx):
        return ctx.xp.asarray(time.time(), dtype=np.float64)
