"""Control-flow ops: If and While, which call sub-graphs, and their gradients.

See raygraph.func_graph for the design (functional ops holding FuncGraphs, not
TF1's Switch/Merge frames) and raygraph.control_flow for the public API
(tf.cond, tf.while_loop, ...) that builds these ops.

    While(loop_vars + cond captures + body captures) -> loop_vars' + tape
    If(pred, then captures + else captures) -> outputs + tape

Gradients follow TF1: the gradient of a loop is a loop, backwards over the
values each forward iteration stored. The first tf.gradients through a loop
builds the body's gradient inside the body's graph (ordinary tf.gradients
there) and records which forward tensors it reads (`Function.saved`); when a run
includes the gradient, the forward kernel keeps those values per iteration on
its last output, the tape (a host value of dtype variant), and WhileGrad walks
the tape in reverse, calling the gradient function once per iteration and
summing the gradients of the captured tensors (the weights a loop body reads).
Those sums are off the loop's chain (iteration t - 1 needs only the loop
variables' gradients of iteration t): where they hold no stateful op, WhileGrad
runs them on one helper thread per session, in iteration order, so the sums are
the same (`_capture_split`). A loop whose gradient is not part of the run keeps
nothing.

DESIGN: row sums. In a recurrent cell the captures' gradients are sums over the
batch rows (a weight's x^T @ dgates, a bias's sum of dgates), so their sum over
the iterations is the same sum over the iterations' rows stacked:
sum_t x_t^T @ d_t = [x_1; ...; x_T]^T @ [d_1; ...; d_T]. Where the captures part is
made only of such row sums (`_stack_split`), WhileGrad collects its per-iteration
inputs and runs it once per chunk of stacked rows: one [k, T*B] @ [T*B, n]
product instead of T small ones and T in-place sums of a [k, n] weight gradient,
and no helper thread contending with the chain for the GIL (BENCHMARKS.md,
"LSTM language model"). Chunks (`_STACK_BYTES`) bound the memory the stacked rows
take on long sequences.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ops import registry
from ops.registry import REQUIRED, Op, build
from raygraph import dtypes
from raygraph.func_graph import Function
from raygraph.graph import get_default_graph, hooks
from raygraph.shapes import TensorShape, as_shape


class Tape:
    """What a control-flow op keeps for its gradient: per call, the saved values."""

    __slots__ = ("calls", "captures", "branch")

    def __init__(self, calls: list, captures: list, branch: int = 0):
        self.calls = calls
        self.captures = captures
        self.branch = branch

    def __repr__(self) -> str:
        return f"<Tape of {len(self.calls)} calls>"


def _keeps_tape(op, consumed) -> dict:
    return {"keep_tape": op.outputs[-1].name in consumed}


class While(Op):
    """Runs `body` while `cond` holds; the loop runs inside the kernel (tf.while_loop)."""

    inputs = ("input*",)
    attrs = {
        "cond": REQUIRED,
        "body": REQUIRED,
        "num_loop_vars": REQUIRED,
        "num_cond_captures": REQUIRED,
        "shapes": REQUIRED,
        "parallel_iterations": 10,
        "back_prop": True,
        "keep_tape": False,
    }
    stateful = True
    multi_output = True
    heavy = True

    def infer(
        input, cond, body, num_loop_vars, num_cond_captures, shapes, parallel_iterations, back_prop, keep_tape
    ):  # noqa: A002
        specs = [(t.dtype, as_shape(s)) for t, s in zip(input[:num_loop_vars], shapes)]
        return specs + [(dtypes.variant, TensorShape([]))]

    def plan_attrs(op, consumed):
        return _keeps_tape(op, consumed)

    def kernel(
        ctx,
        input,
        cond,
        body,
        num_loop_vars,
        num_cond_captures,
        shapes,
        parallel_iterations,
        back_prop,
        keep_tape,
    ):  # noqa: A002
        run_cond, run_body = ctx.function(cond), ctx.function(body)
        n = num_loop_vars
        values = list(input[:n])
        cond_captures = list(input[n : n + num_cond_captures])
        body_captures = list(input[n + num_cond_captures :])
        calls = [] if keep_tape else None
        while run_cond(values + cond_captures)[0]:
            if calls is None:
                values = run_body(values + body_captures)
            else:
                values, saved = run_body(values + body_captures, keep=True)
                calls.append(saved)
        return values + [Tape(calls or [], body_captures)]

    def grad(op, *dys):
        body: Function = op.attrs["body"]
        n = op.attrs["num_loop_vars"]
        n_cond = op.attrs["num_cond_captures"]
        if not op.attrs["back_prop"]:
            return [None] * len(op.inputs)
        gradient = function_gradient(body, list(range(n)), list(range(len(body.inputs))), loop=True)
        diff_out, diff_in, fn = gradient
        loop_in = [i for i in diff_in if i < n]
        if [i for i in diff_out] != loop_in:  # a loop var's gradient feeds the previous iteration's
            raise AssertionError("loop gradient: outputs and inputs differ")
        split = _capture_split(body, len(loop_in))
        graph = get_default_graph()
        with graph.colocate_with(op):
            dy_inputs = [_grad_or_zeros(dys[i], op.outputs[i]) for i in diff_out]
            outs = build(
                "WhileGrad",
                [op.outputs[-1], dy_inputs],
                {
                    "grad": fn,
                    "num_loop_grads": len(loop_in),
                    "capture_indices": [i - n for i in diff_in if i >= n],
                    "capture_dtypes": [op.inputs[n_cond + i].dtype for i in diff_in if i >= n],
                    "capture_shapes": [op.inputs[n_cond + i].shape for i in diff_in if i >= n],
                    "split": split,
                    **_stack_split(split[1] if split else None),
                },
                name="WhileGrad",
            )
        result = [None] * len(op.inputs)
        for k, i in enumerate(diff_in):
            result[i if i < n else n_cond + i] = outs[k]
        return result


class WhileGrad(Op):
    """The gradient of a While: the body's gradient, once per stored iteration, last first."""

    inputs = ("tape", "dy*")
    attrs = {
        "grad": REQUIRED,
        "num_loop_grads": REQUIRED,
        "capture_indices": (),
        "capture_dtypes": (),
        "capture_shapes": (),
        "split": None,
        "stacked": None,
        "rest": None,
        "stack_info": None,
    }
    stateful = True
    multi_output = True
    differentiable = False
    heavy = True

    def infer(
        tape, dy, grad, num_loop_grads, capture_indices, capture_dtypes, capture_shapes, split, **stacking
    ):
        specs = [(t.dtype, t.shape) for t in dy]
        return specs + [(d, as_shape(s)) for d, s in zip(capture_dtypes, capture_shapes)]

    def kernel(
        ctx,
        tape,
        dy,
        grad,
        num_loop_grads,
        capture_indices,
        capture_dtypes,
        capture_shapes,
        split,
        **stacking,
    ):
        k = num_loop_grads
        dys = list(dy)
        sums = _Sums(ctx.xp, len(capture_dtypes))
        if stacking["stacked"] is not None and len(tape.calls) > 1:  # row sums over stacked rows
            run_loop, run_stacked = ctx.function(split[0]), ctx.function(stacking["stacked"])
            run_rest = ctx.function(stacking["rest"]) if stacking["rest"] is not None else None
            flags, stacked_at, rest_at = stacking["stack_info"]
            rows = _Rows(ctx.xp, flags, lambda args: sums.add(run_stacked(args), stacked_at))
            for saved in reversed(tape.calls):
                out = run_loop(saved + dys)
                args = saved + dys + out[k:]
                if run_rest is not None:
                    sums.add(run_rest(args), rest_at)
                rows.add(args)
                dys = out[:k]
            rows.flush()
            return dys + sums.result([tape.captures[j] for j in capture_indices])
        helper = _helper(ctx) if split and len(tape.calls) > 1 else None
        if helper is None:
            run = ctx.function(grad)
            for saved in reversed(tape.calls):
                out = run(saved + dys)
                dys = out[:k]
                sums.add(out[k:])
        else:  # the captures' gradients on the helper thread, in order, beside the loop's chain
            run_loop, run_captures = ctx.function(split[0]), ctx.function(split[1])
            pending = []
            for saved in reversed(tape.calls):
                out = run_loop(saved + dys)
                args = saved + dys + out[k:]
                pending.append(helper.submit(lambda a=args: sums.add(run_captures(a))))
                dys = out[:k]
            for done in pending:
                done.result()
        return dys + sums.result([tape.captures[j] for j in capture_indices])


class If(Op):
    """Runs one of two sub-graphs, chosen by `cond` (tf.cond): only that one runs."""

    inputs = ("cond", "input*")
    attrs = {
        "then_branch": REQUIRED,
        "else_branch": REQUIRED,
        "num_then_captures": REQUIRED,
        "shapes": REQUIRED,
        "keep_tape": False,
    }
    stateful = True
    multi_output = True

    def infer(cond, input, then_branch, else_branch, num_then_captures, shapes, keep_tape):  # noqa: A002
        if cond.dtype != dtypes.bool:
            raise TypeError(f"pred must be a bool tensor, got {cond.dtype.name}")
        if cond.shape.ndims not in (None, 0):
            raise ValueError(f"pred must be a scalar, got shape {cond.shape}")
        specs = [(t.dtype, as_shape(s)) for t, s in zip(then_branch.outputs, shapes)]
        return specs + [(dtypes.variant, TensorShape([]))]

    def plan_attrs(op, consumed):
        return _keeps_tape(op, consumed)

    def kernel(ctx, cond, input, then_branch, else_branch, num_then_captures, shapes, keep_tape):  # noqa: A002
        taken = 0 if cond else 1
        plan = then_branch if taken == 0 else else_branch
        args = list(input[:num_then_captures]) if taken == 0 else list(input[num_then_captures:])
        run = ctx.function(plan)
        if keep_tape:
            outputs, saved = run(args, keep=True)
            return list(outputs) + [Tape([saved], list(input), taken)]
        return list(run(args)) + [None]

    def grad(op, *dys):
        then_fn: Function = op.attrs["then_branch"]
        else_fn: Function = op.attrs["else_branch"]
        n_out = len(op.outputs) - 1
        n_then = op.attrs["num_then_captures"]
        then_grad = function_gradient(then_fn, list(range(n_out)), list(range(len(then_fn.inputs))))
        else_grad = function_gradient(else_fn, list(range(n_out)), list(range(len(else_fn.inputs))))
        diff_out = [i for i in range(n_out) if op.outputs[i].dtype.is_differentiable]
        with get_default_graph().colocate_with(op):
            dy_inputs = [_grad_or_zeros(dys[i], op.outputs[i]) for i in diff_out]
            captures = op.inputs[1:]
            wanted = [j for j in then_grad[1]] + [n_then + j for j in else_grad[1]]
            outs = build(
                "IfGrad",
                [op.outputs[-1], dy_inputs],
                {
                    "then_grad": then_grad[2],
                    "else_grad": else_grad[2],
                    "then_dy": [diff_out.index(i) for i in then_grad[0]],
                    "else_dy": [diff_out.index(i) for i in else_grad[0]],
                    "num_then": len(then_grad[1]),
                    "wanted": wanted,
                    "dtypes": [captures[j].dtype for j in wanted],
                    "shapes": [captures[j].shape for j in wanted],
                },
                name="IfGrad",
            )
        result = [None] * len(op.inputs)
        for k, j in enumerate(wanted):
            result[1 + j] = outs[k]
        return result


class IfGrad(Op):
    """The gradient of an If: the taken branch's gradient; zeros for the other's inputs."""

    inputs = ("tape", "dy*")
    attrs = {
        "then_grad": REQUIRED,
        "else_grad": REQUIRED,
        "then_dy": REQUIRED,
        "else_dy": REQUIRED,
        "num_then": REQUIRED,
        "wanted": REQUIRED,
        "dtypes": REQUIRED,
        "shapes": REQUIRED,
    }
    stateful = True
    multi_output = True
    differentiable = False

    def infer(tape, dy, then_grad, else_grad, then_dy, else_dy, num_then, wanted, dtypes, shapes):  # noqa: A002
        return [(d, as_shape(s)) for d, s in zip(dtypes, shapes)]

    def kernel(ctx, tape, dy, then_grad, else_grad, then_dy, else_dy, num_then, wanted, dtypes, shapes):  # noqa: A002
        captures = tape.captures
        outs = [_zeros_like(ctx.xp, captures[j]) for j in wanted]
        plan, picks, start = (then_grad, then_dy, 0) if tape.branch == 0 else (else_grad, else_dy, num_then)
        grads = ctx.function(plan)(tape.calls[0] + [dy[i] for i in picks])
        for k, g in enumerate(grads):
            outs[start + k] = g
        return outs


# -- building gradients of functions ----------------------------------------------


def function_gradient(fn: Function, out_indices: list[int], in_indices: list[int], loop: bool = False):
    """(outputs with gradients, inputs with gradients, gradient Function) for `fn`.

    Built once per function, inside its own graph: the gradient Function takes the
    forward values it needs (`fn.saved`, set here) and one gradient per
    differentiable output, and returns the gradients of the inputs that have one
    (with `loop`, zeros for a loop variable that does not reach the outputs: loop
    variable i is both output i and input i).
    """
    if fn.gradient is not None:
        return fn.gradient
    gradients = hooks.require("gradients")  # tf.gradients, installed by raygraph.gradients

    graph = fn.graph
    diff_out = [i for i in out_indices if fn.outputs[i].dtype.is_differentiable]
    mark = graph.version
    with graph.as_default(), graph._at_top():
        dys = [
            build(
                "Placeholder",
                [],
                {"dtype": fn.outputs[i].dtype, "shape": fn.outputs[i].shape},
                name=f"dy_{i}",
            )
            for i in diff_out
        ]
        xs = [fn.inputs[j] for j in in_indices]
        ys = [fn.outputs[i] for i in diff_out]
        grads = gradients(ys, xs, grad_ys=dys, name="gradients") if ys else [None] * len(xs)
        diff_in, results = [], []
        loop_like = set(out_indices) & set(in_indices) if loop else set()
        for j, g in zip(in_indices, grads):
            x = fn.inputs[j]
            if not x.dtype.is_differentiable:
                continue
            if g is None:
                if j not in loop_like:
                    continue
                g = _zeros_for(x)
            diff_in.append(j)
            results.append(g)
    forward = {op for op in graph._ops[:mark]}
    saved = []
    for op in graph._ops[mark:]:
        for t in op.inputs:
            if t.op in forward and t not in saved:
                saved.append(t)
    for g in results:  # a gradient that is a forward value (the identity's) is saved too
        if g.op in forward and g not in saved:
            saved.append(g)
    fn.saved = saved
    grad_fn = Function(graph, saved + dys, results)
    fn.gradient = (diff_out, diff_in, grad_fn)
    return fn.gradient


def _capture_split(fn: Function, num_loop_grads: int):
    """(loop part, captures part) of a loop body's gradient Function, or None.

    The gradients of the captured tensors (a cell's weights: x^T @ dgates, summed
    over the iterations) are off the loop's chain: iteration t - 1 needs only the
    loop variables' gradients of iteration t. The loop part computes those, plus
    the values the captures part reads from it (`boundary`); the captures part
    takes the gradient's arguments and those values. WhileGrad runs the captures
    part on a helper thread beside the chain (BENCHMARKS.md, recurrent workloads).
    None when there is nothing to split off, or the captures part holds a stateful
    op or a control dependency (its effects must keep their place in the chain).
    """
    grad_fn = fn.gradient[2]
    fed = set(grad_fn.inputs)
    loop_out, capture_out = grad_fn.outputs[:num_loop_grads], grad_fn.outputs[num_loop_grads:]
    loop_ops = _ancestors(loop_out, fed)
    capture_ops = [op for op in _ancestors(capture_out, fed) if op not in loop_ops]
    if not capture_ops:
        return None
    for op in capture_ops:
        if op.control_inputs or registry.get(op.type).stateful:
            return None
    boundary = []
    for op in capture_ops:
        for t in op.inputs:
            if t.op in loop_ops and t not in fed and t not in boundary:
                boundary.append(t)
    for t in capture_out:  # a captures' gradient computed by the loop part
        if t.op in loop_ops and t not in fed and t not in boundary:
            boundary.append(t)
    loop_part = Function(fn.graph, grad_fn.inputs, loop_out + boundary)
    return loop_part, Function(fn.graph, grad_fn.inputs + boundary, capture_out)


def _stack_split(fn: Function | None) -> dict:
    """WhileGrad's attrs that run the captures part's row sums over stacked rows.

    "stacked" is the part of the captures part `fn` made only of row sums (see
    "row sums" in the module docstring), "rest" the part that is not (run per
    iteration), and "stack_info" (which inputs the stacked part stacks, and the
    indices of the two parts' outputs among fn's). All None when no output of fn
    is a row sum.

    Kinds: "rows" (a rank-2 input: one row per batch element of the iteration),
    "sum" (a sum over rows, which adds up over iterations) and "const". A row sum
    is MatMul(rows^T, rows), BiasAddGrad(rows) or Sum(rows, axis 0); ConcatV2 of
    rows along axis 1 and Identity keep rows; AddN, AddV2, Reshape and Identity
    of sums are sums.
    """
    none = {"stacked": None, "rest": None, "stack_info": None}
    if fn is None:
        return none
    fed = set(fn.inputs)
    ops = _ancestors(fn.outputs, fed)
    kind = {t: "rows" for t in fn.inputs if t.shape.ndims == 2}
    for op in (op for op in fn.graph._ops if op in ops):  # in creation order: inputs first
        if len(op.outputs) == 1 and not op.control_inputs:
            kind[op.outputs[0]] = _row_kind(op, [kind.get(t) for t in op.inputs])
    stacked_at = tuple(i for i, t in enumerate(fn.outputs) if kind.get(t) == "sum" and t not in fed)
    if not stacked_at:
        return none
    rest_at = tuple(i for i in range(len(fn.outputs)) if i not in stacked_at)
    stacked = [fn.outputs[i] for i in stacked_at]
    used = {t for op in _ancestors(stacked, fed) for t in op.inputs}
    return {
        "stacked": Function(fn.graph, fn.inputs, stacked),
        "rest": Function(fn.graph, fn.inputs, [fn.outputs[i] for i in rest_at]) if rest_at else None,
        "stack_info": (tuple(t in used for t in fn.inputs), stacked_at, rest_at),
    }


def _row_kind(op, ins: list):
    """The kind of op's output from its inputs' kinds (see _stack_split), or None."""
    if op.type == "Const":
        return "const"
    if op.type == "Identity":
        return ins[0]
    if op.type == "MatMul":
        transposes = (op.attrs["transpose_a"], op.attrs["transpose_b"])
        return "sum" if ins == ["rows", "rows"] and transposes == (True, False) else None
    if op.type == "BiasAddGrad":
        return "sum" if ins == ["rows"] else None
    if op.type == "Sum":
        axis = op.attrs["axis"]
        axis = list(axis) if isinstance(axis, list | tuple) else [axis]
        return "sum" if ins == ["rows"] and axis in ([0], [-2]) and not op.attrs["keepdims"] else None
    if op.type == "ConcatV2":
        return "rows" if set(ins) == {"rows"} and op.attrs["axis"] in (1, -1) else None
    if op.type in ("AddN", "AddV2"):
        return "sum" if set(ins) == {"sum"} else None
    if op.type == "Reshape":
        return "sum" if ins == ["sum", "const"] else None
    return None


_STACK_BYTES = 32 << 20  # the rows WhileGrad stacks before it runs the captures part on them


class _Rows:
    """Per-iteration inputs of the captures part, stacked by rows and run in chunks."""

    def __init__(self, xp, stacked, run):
        self.xp, self.stacked, self.run = xp, stacked, run
        self.columns = [[] for _ in stacked]
        self.last = None
        self.nbytes = 0

    def add(self, args) -> None:
        self.last = args
        for column, value, stack in zip(self.columns, args, self.stacked):
            if stack:
                column.append(value)
                self.nbytes += value.nbytes
        if self.nbytes >= _STACK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.last is None or not self.nbytes:
            return
        args = [
            self.xp.concatenate(column) if stack else value
            for column, value, stack in zip(self.columns, self.last, self.stacked)
        ]
        self.columns = [[] for _ in self.stacked]
        self.nbytes = 0
        self.run(args)


def _ancestors(tensors, fed) -> set:
    """The ops computing `tensors` from the `fed` tensors."""
    seen, stack = set(), [t.op for t in tensors if t not in fed]
    while stack:
        op = stack.pop()
        if op not in seen:
            seen.add(op)
            stack.extend(t.op for t in op.inputs if t not in fed)
            stack.extend(op.control_inputs)
    return seen


def _helper(ctx):
    """The session's loop-gradient helper thread on this device: a CPU device of a machine
    with more than one core (a GPU's kernels stay on the thread that holds its context)."""
    if ctx.xp is not np or (os.cpu_count() or 1) < 2:
        return None
    return ctx.state.resource("while-grad-helper", _Helper)


class _Helper:
    """One thread that runs the captures' part of loop gradients, in submission order."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="raygraph-while-grad", initializer=_quiet)

    def submit(self, fn):
        return self.pool.submit(fn)

    def close(self) -> None:
        self.pool.shutdown(wait=False)


def _quiet() -> None:
    np.seterr(all="ignore")  # as on the kernel threads: TF's kernels return inf and nan silently


def _zeros_for(x):
    if x.dtype == dtypes.variant:
        return build("EmptyTensorList", [])
    from ops import api

    return api.zeros_like(x)


def _grad_or_zeros(dy, output):
    if dy is not None:
        return dy
    return _zeros_for(output)


def _zeros_like(xp, value):
    if value is None or not hasattr(value, "shape"):
        from ops.tensor_array import TensorList

        return TensorList.empty()
    return xp.zeros_like(value)


class _Sums:
    """Running sums of per-iteration gradients, added in place once they are ours."""

    def __init__(self, xp, n):
        self.xp = xp
        self.values = [None] * n
        self.owned = [False] * n

    def add(self, grads, at=None) -> None:
        """Adds grads[k] to sum at[k] (sum k when `at` is None)."""
        for i, g in zip(range(len(grads)) if at is None else at, grads):
            current = self.values[i]
            if current is None:
                self.values[i] = g
            elif (
                self.owned[i]
                and getattr(current, "shape", None) == getattr(g, "shape", 0)
                and current.dtype == g.dtype
            ):
                self.xp.add(current, g, out=current)
            else:
                self.values[i] = current + g
                self.owned[i] = getattr(self.values[i], "ndim", 0) > 0  # a fresh array, not a scalar

    def result(self, like) -> list:
        return [v if v is not None else _zeros_like(self.xp, c) for v, c in zip(self.values, like)]
