"""Control flow in the graph: tf.cond, tf.case, tf.while_loop, tf.map_fn, tf.scan, ...

Each function traces its Python callables once, into sub-graphs (FuncGraphs,
see raygraph.func_graph for the design), and adds one op that calls them at
run time: `If` runs only the taken branch, `While` runs its body on the device
until the condition fails, without a driver round trip per iteration.
Gradients go through both (ops.control_flow). map_fn, scan and the folds are
while_loops over TensorArrays, as in TensorFlow.

>>> r = tf.while_loop(lambda i, s: i < 10, lambda i, s: (i + 1, s + i), [0, 0])
>>> sess.run(r)
(10, 45)
"""

from __future__ import annotations

from ops import api
from ops.registry import build
from raygraph import dtypes, nest
from raygraph.func_graph import FuncGraph, Function
from raygraph.graph import (
    Operation,
    Tensor,
    control_dependencies,
    convert_to_tensor,
    get_default_graph,
    name_scope,
)
from raygraph.shapes import TensorShape, as_shape
from raygraph.tensor_array import TensorArray

__all__ = ["case", "cond", "foldl", "foldr", "map_fn", "scan", "tuple", "while_loop"]

_tuple = tuple


# -- tracing callables into sub-graphs -------------------------------------------------


class _Trace:
    """A callable traced into a FuncGraph: its Function and its outputs' structure."""

    def __init__(self, function: Function, structure, leaves: list):
        self.function = function
        self.structure = structure  # the Python result, with TensorArrays as leaves
        self.leaves = leaves  # the result's leaves (TensorArray objects kept, to rebuild them)

    @property
    def graph(self) -> FuncGraph:
        return self.function.graph

    def outer_captures(self) -> list[Tensor]:
        return self.graph.captured_inputs()[0]


def _trace(prefix: str, fn, arg_structure=None, arg_specs=(), what="fn") -> _Trace:
    """Calls `fn` once inside a new FuncGraph whose placeholders stand for its arguments.

    `arg_specs` are (dtype, shape, TensorArray or None) per flat argument; the
    placeholders are packed as `arg_structure` and passed as positional arguments.
    """
    outer = get_default_graph()
    graph = FuncGraph(outer, prefix)
    with graph.as_default():
        with graph._at_top():
            placeholders = [
                build("Placeholder", [], {"dtype": dtype, "shape": shape}, name=f"arg{i}")
                for i, (dtype, shape, _) in enumerate(arg_specs)
            ]
        args = [ta._derive(ph) if ta is not None else ph for ph, (_, _, ta) in zip(placeholders, arg_specs)]
        if arg_structure is None:
            result = fn()
        else:
            result = fn(*nest.pack_sequence_as(arg_structure, args))
        leaves = nest.flatten(result) if result is not None else []
        outputs = [_as_output(leaf, what) for leaf in leaves]
    inputs = placeholders + graph.captured_inputs()[1]
    return _Trace(Function(graph, inputs, outputs), result, leaves)


def _as_output(leaf, what) -> Tensor:
    if isinstance(leaf, TensorArray):
        return _own(leaf.flow)
    if isinstance(leaf, Operation):  # an op returned: a bool that is ready once the op ran
        with control_dependencies([leaf]):
            return api.identity(api.constant(True))
    try:
        return _own(convert_to_tensor(leaf))
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{what} must return Tensors, TensorArrays or convertible values, got {leaf!r}: {e}"
        ) from None


def _own(t: Tensor) -> Tensor:
    """`t` as a tensor of the current (function) graph: an outer tensor is captured."""
    graph = get_default_graph()
    return t if t.graph is graph else graph._capture(t)


def _rebuild(leaves: list, tensors: list):
    """The op's outputs, with TensorArrays rebuilt on their flows."""
    return [leaf._derive(t) if isinstance(leaf, TensorArray) else t for leaf, t in zip(leaves, tensors)]


def _merged_shape(a: TensorShape, b: TensorShape) -> TensorShape:
    """The most specific shape compatible with both."""
    if a.ndims is None or b.ndims is None or a.ndims != b.ndims:
        return TensorShape(None)
    return TensorShape([x if x == y else None for x, y in zip(a.as_list(), b.as_list())])


def _control_inputs(*traces: _Trace) -> list[Operation]:
    ops = []
    for trace in traces:
        ops.extend(op for op in trace.graph.control_captures if op not in ops)
    return ops


def _unpack_singleton(value):
    if isinstance(value, list | _tuple) and len(value) == 1:
        return value[0]
    return value


# -- cond and case ------------------------------------------------------------------


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """`true_fn()` if `pred` else `false_fn()`; only the taken branch runs.

    >>> y = tf.cond(x > 0, lambda: x * 2.0, lambda: -x)

    Ops created inside a branch belong to it; tensors from outside are inputs.
    The branches must return the same structure of tensors of the same dtypes.
    """
    true_fn = true_fn if true_fn is not None else fn1
    false_fn = false_fn if false_fn is not None else fn2
    if true_fn is None:
        raise TypeError("cond(): 'true_fn' argument required")
    if false_fn is None:
        raise TypeError("cond(): 'false_fn' argument required")
    if not callable(true_fn):
        raise TypeError("'true_fn' must be callable.")
    if not callable(false_fn):
        raise TypeError("'false_fn' must be callable.")
    with name_scope(name, "cond", [pred]) as scope:
        pred = convert_to_tensor(pred, name="pred")
        if pred.dtype != dtypes.bool:
            raise TypeError(f"pred must be a bool tensor (tf.cond), got {pred.dtype.name}")
        if pred.shape.ndims not in (None, 0):
            raise ValueError(f"pred must be a scalar (tf.cond), got shape {pred.shape}")
        prefix = scope.rstrip("/")
        then = _trace(prefix, true_fn, what="true_fn")
        other = _trace(prefix, false_fn, what="false_fn")
        if then.structure is None:
            raise ValueError("true_fn must have a return value.")
        if other.structure is None:
            raise ValueError("false_fn must have a return value.")
        t_struct, f_struct = then.structure, other.structure
        if not strict:
            t_struct, f_struct = _unpack_singleton(t_struct), _unpack_singleton(f_struct)
        try:
            nest.assert_same_structure(t_struct, f_struct)
        except TypeError as e:
            raise TypeError(f"Incompatible return types of true_fn and false_fn: {e}") from None
        except ValueError as e:
            raise ValueError(f"Incompatible return values of true_fn and false_fn: {e}") from None
        if not then.function.outputs:
            raise ValueError("true_fn and false_fn must return at least one result.")
        shapes = []
        for x, y in zip(then.function.outputs, other.function.outputs):
            if x.dtype != y.dtype:
                raise ValueError(
                    f"Outputs of true_fn and false_fn must have the same type: {x.dtype.name}, {y.dtype.name}"
                )
            shapes.append(_merged_shape(x.shape, y.shape))
        then_caps, else_caps = then.outer_captures(), other.outer_captures()
        with control_dependencies(_control_inputs(then, other)):
            outs = build(
                "If",
                [pred, then_caps + else_caps],
                {
                    "then_branch": then.function,
                    "else_branch": other.function,
                    "num_then_captures": len(then_caps),
                    "shapes": shapes,
                },
                name=scope,
            )
    result = nest.pack_sequence_as(then.structure, _rebuild(then.leaves, outs[:-1]))
    return _unpack_singleton(result) if not strict else result


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """The first `fn` whose `pred` holds (`tf.case`), else `default()`.

    >>> tf.case([(x < 0, lambda: -1), (x > 0, lambda: 1)], default=lambda: 0)

    With `exclusive=True` a run in which more than one predicate holds fails with
    InvalidArgumentError (needs tf.Assert). Without `default`, the last pair's fn is
    the default.
    """
    if isinstance(pred_fn_pairs, dict):
        pairs = list(pred_fn_pairs.items())
    else:
        pairs = list(pred_fn_pairs)
    for pair in pairs:
        if not isinstance(pair, list | _tuple) or len(pair) != 2:
            raise TypeError(f"Each entry in pred_fn_pairs must be a 2-tuple, got {pair!r}")
        if not callable(pair[1]):
            raise TypeError(f"fn for pred {pair[0]!r} must be callable.")
    if not pairs:
        if default is None:
            raise ValueError("pred_fn_pairs is empty and no default was given")
        return default()
    if default is None:
        *pairs, (_, default) = pairs
        if not pairs:
            return default()
    with name_scope(name, "case") as scope:
        preds = [convert_to_tensor(p, dtype=dtypes.bool) for p, _ in pairs]
        deps = []
        if exclusive:
            count = api.add_n([api.cast(p, dtypes.int32) for p in preds])
            deps.append(_assert(api.less_equal(count, 1), "More than one condition evaluated as True"))

        def chain(k):
            if k == len(pairs):
                return default
            return lambda: cond(preds[k], pairs[k][1], chain(k + 1), strict=strict, name=f"If_{k}")

        with control_dependencies(deps):
            return cond(preds[0], pairs[0][1], chain(1), strict=strict, name=scope)


def _assert(condition: Tensor, message: str):
    """An op that fails the run with InvalidArgumentError(message) unless `condition`."""
    return api.Assert(condition, [message])


# -- while_loop ---------------------------------------------------------------------


def while_loop(
    cond,
    body,
    loop_vars,
    shape_invariants=None,
    parallel_iterations=10,
    back_prop=True,
    swap_memory=False,
    name=None,
    maximum_iterations=None,
    return_same_structure=False,
):
    """Repeats `body` while `cond` holds (tf.while_loop), inside one Session.run.

    >>> i, total = tf.while_loop(lambda i, t: i < n, lambda i, t: (i + 1, t + i), (0, 0))

    `loop_vars` may be any nesting of tensors and TensorArrays; `body` returns the
    same structure. A loop variable's shape may not change across iterations
    unless `shape_invariants` gives a less specific one. Gradients flow through
    the loop (with back_prop=True); `swap_memory` is accepted and ignored.
    """
    if not callable(cond):
        raise TypeError("'cond' must be callable.")
    if not callable(body):
        raise TypeError("'body' must be callable.")
    if parallel_iterations < 1:
        raise TypeError("'parallel_iterations' must be a positive integer.")
    if not nest.is_nested(loop_vars):
        loop_vars = [loop_vars]
    if not loop_vars:
        raise ValueError("'loop_vars' must be provided.")
    with name_scope(name, "while", nest.flatten(loop_vars)) as scope:
        try_to_pack = len(loop_vars) == 1 and not return_same_structure
        if maximum_iterations is not None:
            maximum_iterations = convert_to_tensor(maximum_iterations, name="maximum_iterations")
            if maximum_iterations.shape.ndims not in (None, 0):
                raise ValueError(
                    f"'maximum_iterations' must be a scalar. Received shape: {maximum_iterations.shape}"
                )
            counter = api.constant(0, dtype=maximum_iterations.dtype, name="iteration_counter")
            orig_cond, orig_body = cond, body
            if try_to_pack:
                loop_vars = (counter, loop_vars[0])
                cond = lambda i, lv: api.logical_and(i < maximum_iterations, orig_cond(lv))  # noqa: E731
                body = lambda i, lv: (i + 1, orig_body(lv))  # noqa: E731
            else:
                loop_vars = (counter, loop_vars)
                cond = lambda i, lv: api.logical_and(i < maximum_iterations, orig_cond(*lv))  # noqa: E731
                body = lambda i, lv: (i + 1, orig_body(*lv))  # noqa: E731
            if shape_invariants is not None:
                shape_invariants = (TensorShape([]), shape_invariants)
            try_to_pack = False
        result = _build_loop(
            scope.rstrip("/"), cond, body, loop_vars, shape_invariants, parallel_iterations, back_prop
        )
        if maximum_iterations is not None:
            return result[1]
        if return_same_structure:
            return result
        flat = nest.flatten(result)
        return flat[0] if len(flat) == 1 else result


def _build_loop(prefix, cond, body, loop_vars, shape_invariants, parallel_iterations, back_prop):
    leaves = nest.flatten(loop_vars)
    initial, specs = [], []
    for leaf in leaves:
        if isinstance(leaf, TensorArray):
            initial.append(leaf.flow)
            specs.append((dtypes.variant, TensorShape([]), leaf))
        else:
            t = convert_to_tensor(leaf)
            initial.append(t)
            specs.append((t.dtype, t.shape, None))
    if shape_invariants is not None:
        invariants = nest.flatten(shape_invariants)
        if len(invariants) != len(leaves):
            raise ValueError(
                f"shape_invariants has {len(invariants)} shapes for {len(leaves)} loop variables"
            )
        for k, (spec, shape) in enumerate(zip(specs, invariants)):
            if spec[2] is None:
                shape = as_shape(shape)
                if not initial[k].shape.is_compatible_with(shape) or not _less_or_equal(
                    initial[k].shape, shape
                ):
                    raise ValueError(
                        f"The shape invariant specified for {initial[k].name} is not compatible with the "
                        f"initial shape of the loop variable. It enters the loop with shape "
                        f"{initial[k].shape}, but the specified shape invariant is {shape}."
                    )
                specs[k] = (spec[0], shape, None)
    structure = (
        list(loop_vars)
        if isinstance(loop_vars, list | _tuple) and not hasattr(loop_vars, "_fields")
        else loop_vars
    )
    cond_trace = _trace(prefix + "/cond", cond, structure, specs, what="cond")
    if len(cond_trace.function.outputs) != 1:
        raise ValueError("'cond' must return a single boolean scalar tensor")
    pred = cond_trace.function.outputs[0]
    if pred.dtype != dtypes.bool or pred.shape.ndims not in (None, 0):
        raise ValueError(
            f"'cond' must return a boolean scalar tensor, got {pred.dtype.name} of shape {pred.shape}"
        )

    def body_fn(*args):
        out = body(*args)
        if isinstance(structure, list) and len(structure) == 1 and not isinstance(out, list | _tuple):
            out = [out]  # a body may return the lone loop variable itself
        return out

    body_trace = _trace(prefix, body_fn, structure, specs, what="body")
    body_structure = body_trace.structure
    try:
        nest.assert_same_structure(
            list(structure),
            list(body_structure)
            if isinstance(body_structure, list | _tuple) and not hasattr(body_structure, "_fields")
            else body_structure,
            check_types=False,
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"body must return the structure of loop_vars: {e}") from None
    shapes = []
    for x, out, spec in zip(initial, body_trace.function.outputs, specs):
        if out.dtype != spec[0]:
            raise TypeError(
                f"Loop variable {x.name} enters the loop with type {spec[0].name}, but has type "
                f"{out.dtype.name} after one iteration."
            )
        if spec[2] is None and not _less_or_equal(out.shape, spec[1]):
            raise ValueError(
                f"Input tensor '{x.name}' enters the loop with shape {spec[1]}, but has shape "
                f"{out.shape} after one iteration. To allow the shape to vary across iterations, "
                "use the `shape_invariants` argument of tf.while_loop to specify a less-specific shape."
            )
        shapes.append(spec[1])
    cond_caps, body_caps = cond_trace.outer_captures(), body_trace.outer_captures()
    with control_dependencies(_control_inputs(cond_trace, body_trace)):
        outs = build(
            "While",
            [initial + cond_caps + body_caps],
            {
                "cond": cond_trace.function,
                "body": body_trace.function,
                "num_loop_vars": len(initial),
                "num_cond_captures": len(cond_caps),
                "shapes": shapes,
                "parallel_iterations": int(parallel_iterations),
                "back_prop": bool(back_prop),
            },
            name=prefix,
        )
    exits = [ta._derive(t) if ta is not None else t for t, (_, _, ta) in zip(outs[:-1], specs)]
    return nest.pack_sequence_as(body_structure, exits)


def _less_or_equal(shape: TensorShape, invariant: TensorShape) -> bool:
    """True when `shape` is at least as specific as `invariant`."""
    if invariant.ndims is None:
        return True
    if shape.ndims != invariant.ndims:
        return False
    return all(b is None or a == b for a, b in zip(shape.as_list(), invariant.as_list()))


# -- map_fn, scan, foldl, foldr -------------------------------------------------------


def _elems(elems):
    flat = [convert_to_tensor(e, name="elems") for e in nest.flatten(elems)]
    if not flat:
        raise ValueError("elems must be a Tensor or a (possibly nested) sequence of Tensors")
    for e in flat:
        if e.shape.ndims == 0:
            raise ValueError(f"Elements in elems must be 1+ dimensional Tensors, not scalars: {e.name}")
    first = flat[0]
    static = first.shape.dims[0] if first.shape.ndims else None
    n = static if static is not None else api.shape(first, out_type=dtypes.int32)[0]
    return flat, n, static


def map_fn(
    fn,
    elems,
    dtype=None,
    parallel_iterations=None,
    back_prop=True,
    swap_memory=False,
    infer_shape=True,
    name=None,
):
    """`fn` applied to each slice of `elems` along axis 0, results stacked (tf.map_fn).

    >>> squares = tf.map_fn(lambda x: x * x, tf.constant([1.0, 2.0, 3.0]))
    """
    if not callable(fn):
        raise TypeError("fn must be callable.")
    with name_scope(name, "map"):
        flat, n, static = _elems(elems)
        out_structure = dtype if dtype is not None else nest.map_structure(lambda e: e.dtype, elems)
        out_dtypes = [dtypes.as_dtype(d) for d in nest.flatten(out_structure)]
        in_tas = [TensorArray(e.dtype, size=n, infer_shape=True).unstack(e) for e in flat]
        out_tas = [TensorArray(d, size=n, infer_shape=infer_shape) for d in out_dtypes]

        def compute(i, tas):
            value = nest.pack_sequence_as(elems, [ta.read(i) for ta in in_tas])
            result = fn(value)
            results = nest.flatten(result)
            if len(results) != len(tas):
                raise ValueError(
                    f"The structure of the fn's output ({len(results)} tensors) does not match the "
                    f"dtype argument ({len(tas)} dtypes); pass dtype= when fn's output differs from elems"
                )
            return i + 1, [ta.write(i, r) for ta, r in zip(tas, results)]

        _, final = while_loop(
            lambda i, _: i < n,
            compute,
            (api.constant(0), out_tas),
            parallel_iterations=parallel_iterations or 10,
            back_prop=back_prop,
            swap_memory=swap_memory,
        )
        stacked = [ta.stack() for ta in final]
        for t in stacked:
            if static is not None and t.shape.ndims is not None:
                t.set_shape([static, *t.shape.dims[1:]])
        return nest.pack_sequence_as(out_structure, stacked)


def scan(
    fn,
    elems,
    initializer=None,
    parallel_iterations=10,
    back_prop=True,
    swap_memory=False,
    infer_shape=True,
    reverse=False,
    name=None,
):
    """Every running result of `fn(accumulator, element)` over `elems` (tf.scan).

    >>> tf.scan(lambda a, x: a + x, tf.constant([1, 2, 3]))   # [1, 3, 6]
    """
    if not callable(fn):
        raise TypeError("fn must be callable.")
    with name_scope(name, "scan"):
        flat, n, static = _elems(elems)
        in_tas = [TensorArray(e.dtype, size=n, infer_shape=True).unstack(e) for e in flat]
        start = n - 1 if reverse else 0
        step = -1 if reverse else 1

        def read(i):
            return nest.pack_sequence_as(elems, [ta.read(i) for ta in in_tas])

        if initializer is None:
            a0 = read(start if not isinstance(start, int) else api.constant(start))
            acc_structure = elems
            i0 = start + step
            count = n - 1
        else:
            a0 = initializer
            acc_structure = initializer
            i0 = start
            count = n
        a0_flat = [convert_to_tensor(a) for a in nest.flatten(a0)]
        out_tas = [TensorArray(a.dtype, size=n, infer_shape=infer_shape) for a in a0_flat]
        if initializer is None:
            out_tas = [ta.write(start, a) for ta, a in zip(out_tas, a0_flat)]

        def compute(k, i, a_flat, tas):
            a = nest.pack_sequence_as(acc_structure, a_flat)
            result = fn(a, read(i))
            r_flat = [convert_to_tensor(r) for r in nest.flatten(result)]
            if len(r_flat) != len(a_flat):
                raise ValueError("fn's output must have the structure of the accumulator (initializer)")
            return k + 1, i + step, r_flat, [ta.write(i, r) for ta, r in zip(tas, r_flat)]

        _, _, _, final = while_loop(
            lambda k, i, a, tas: k < count,
            compute,
            (api.constant(0), convert_to_tensor(i0, dtype=dtypes.int32), a0_flat, out_tas),
            parallel_iterations=parallel_iterations,
            back_prop=back_prop,
            swap_memory=swap_memory,
        )
        stacked = [ta.stack() for ta in final]
        for t in stacked:
            if static is not None and t.shape.ndims is not None:
                t.set_shape([static, *t.shape.dims[1:]])
        return nest.pack_sequence_as(acc_structure, stacked)


def _fold(fn, elems, initializer, parallel_iterations, back_prop, swap_memory, name, default_name, reverse):
    if not callable(fn):
        raise TypeError("fn must be callable.")
    with name_scope(name, default_name):
        flat, n, _ = _elems(elems)
        in_tas = [TensorArray(e.dtype, size=n, infer_shape=True).unstack(e) for e in flat]

        def read(i):
            return nest.pack_sequence_as(elems, [ta.read(i) for ta in in_tas])

        if initializer is None:
            first = n - 1 if reverse else 0
            a0 = read(first if not isinstance(first, int) else api.constant(first))
            acc_structure, count = elems, n - 1
            i0 = (n - 2) if reverse else 1
        else:
            a0, acc_structure, count = initializer, initializer, n
            i0 = (n - 1) if reverse else 0
        step = -1 if reverse else 1
        a0_flat = [convert_to_tensor(a) for a in nest.flatten(a0)]

        def compute(k, i, a_flat):
            result = fn(nest.pack_sequence_as(acc_structure, a_flat), read(i))
            return k + 1, i + step, [convert_to_tensor(r) for r in nest.flatten(result)]

        _, _, final = while_loop(
            lambda k, i, a: k < count,
            compute,
            (api.constant(0), convert_to_tensor(i0, dtype=dtypes.int32), a0_flat),
            parallel_iterations=parallel_iterations,
            back_prop=back_prop,
            swap_memory=swap_memory,
        )
        return nest.pack_sequence_as(acc_structure, final)


def foldl(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """`fn(...fn(fn(initializer, e0), e1)..., en)` (tf.foldl)."""
    return _fold(fn, elems, initializer, parallel_iterations, back_prop, swap_memory, name, "foldl", False)


def foldr(fn, elems, initializer=None, parallel_iterations=10, back_prop=True, swap_memory=False, name=None):
    """`fn(...fn(fn(initializer, en), en-1)..., e0)` (tf.foldr)."""
    return _fold(fn, elems, initializer, parallel_iterations, back_prop, swap_memory, name, "foldr", True)


def tuple(tensors, name=None, control_inputs=None):  # noqa: A001 - TensorFlow's name
    """The `tensors`, each available only once all of them are computed (tf.tuple)."""
    with name_scope(name, "tuple", tensors):
        items = [t for t in tensors if t is not None]
        gate = api.group(*items, *(control_inputs or []))
        out = []
        for t in tensors:
            if t is None:
                out.append(None)
            elif isinstance(t, Operation):
                with control_dependencies([gate]):
                    out.append(api.group(t))
            else:
                with control_dependencies([gate]):
                    out.append(api.identity(t))
        return out
