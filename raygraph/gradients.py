"""Symbolic differentiation: `gradients(ys, xs)` extends the graph with gradient ops.

Reverse mode over the ops between `xs` and `ys`, in reverse creation order (the
graph's creation order is topological). Each op's registered gradient function
(`grad` on its declaration in ops/, or `tf.RegisterGradient`) receives the op and
the gradients of its outputs, and returns one tensor or None per input, built
from ordinary ops. This driver then, in one place:

- sums the contributions of several paths (add_n),
- reduces a gradient to its input's shape when the op broadcasts its inputs
  (declared with `broadcasts = True`): a sum over the broadcast dimensions,
- fills zeros for the unconnected outputs of a multi-output op,
- stops at `stop_gradients`, at StopGradient ops, at ops declared
  not differentiable, and at non-floating tensors (integers and bools),
- uses the gradient an op's `_gradient_op_type` attr names instead of its
  type's, for ops made under `Graph.gradient_override_map` (tf.custom_gradient).

New ops land under the "gradients/" name scope, one "<op>_grad" scope per op.
"""

from __future__ import annotations

import functools
import inspect
import itertools

from ops import api, registry
from raygraph import nest
from raygraph.graph import Operation, Tensor, convert_to_tensor, get_default_graph, hooks, name_scope


class AggregationMethod:
    """How `gradients` sums the gradients of a tensor used several times (TF1's constants).

    raygraph accepts each and sums with one add_n (ADD_N) for all of them: the
    sum is the same, and the scheduler frees inputs as soon as add_n has run.

    >>> tf.gradients(loss, xs, aggregation_method=tf.AggregationMethod.EXPERIMENTAL_TREE)
    """

    ADD_N = 0
    DEFAULT = ADD_N
    EXPERIMENTAL_TREE = 1
    EXPERIMENTAL_ACCUMULATE_N = 2


_AGGREGATION_METHODS = (
    None,
    AggregationMethod.ADD_N,
    AggregationMethod.EXPERIMENTAL_TREE,
    AggregationMethod.EXPERIMENTAL_ACCUMULATE_N,
)


def gradients(
    ys,
    xs,
    grad_ys=None,
    name="gradients",
    colocate_gradients_with_ops=False,
    gate_gradients=False,
    aggregation_method=None,
    stop_gradients=None,
    unconnected_gradients="none",
):
    """Symbolic derivatives of sum(ys) with respect to each x in xs.

    >>> dw, db = tf.gradients(loss, [w, b])

    Returns a list with one Tensor per x, or None where ys does not depend on x
    (zeros instead with unconnected_gradients="zero").
    """
    if aggregation_method not in _AGGREGATION_METHODS:
        raise ValueError(f"Invalid aggregation_method specified {aggregation_method}.")
    ys = _as_list(ys)
    xs = _as_list(xs)
    xs = [getattr(x, "_as_graph_element", lambda x=x: x)() for x in xs]
    ys = [convert_to_tensor(y) for y in ys]
    xs = [convert_to_tensor(x) for x in xs]
    graph = ys[0].graph if ys else get_default_graph()
    for t in ys + xs:
        graph._check_same_graph(t)
    grad_ys = _as_list(grad_ys) if grad_ys is not None else [None] * len(ys)
    if len(grad_ys) != len(ys):
        raise ValueError(f"Passed {len(grad_ys)} grad_ys for {len(ys)} ys")
    stops = {convert_to_tensor(s) for s in _as_list(stop_gradients or [])}

    with graph.as_default(), name_scope(name, "gradients") as scope:
        between = _ops_between(ys, xs, stops)
        pending: dict[Tensor, list[Tensor]] = {}
        for y, gy in zip(ys, grad_ys):
            if gy is None:
                with name_scope(scope + "grad_ys"):
                    gy = api.ones_like(y)
            else:
                gy = convert_to_tensor(gy, dtype=y.dtype)
            pending.setdefault(y, []).append(gy)

        for op in sorted(between, key=lambda o: o._id, reverse=True):
            out_grads = [_sum(pending.get(t, [])) for t in op.outputs]
            if all(g is None for g in out_grads):
                continue
            _backprop(op, out_grads, pending, stops)

        results = []
        for x in xs:
            g = _sum(pending.get(x, []))
            if g is None and unconnected_gradients in ("zero", "ZERO"):
                g = api.zeros_like(x)
            results.append(g)
    return results


def _backprop(op: Operation, out_grads: list, pending: dict, stops: set) -> None:
    op_def = registry.get(op.type)
    override = op.attrs.get("_gradient_op_type")  # Graph.gradient_override_map, tf.custom_gradient
    if override is None and (not op_def.differentiable or op.type == "StopGradient"):
        return
    grad_fn = registry.gradient_function(override or op.type)
    if grad_fn is None:
        raise LookupError(
            f"No gradient defined for operation '{op.name}' (op type: {op.type}, created at "
            f"{op.describe()}). Register one with @tf.RegisterGradient({op.type!r}), or wrap "
            "the input in tf.stop_gradient."
        )
    with name_scope(op.name + "_grad"):
        if len(op.outputs) > 1:
            out_grads = [
                g if g is not None or not t.dtype.is_floating else api.zeros_like(t)
                for g, t in zip(out_grads, op.outputs)
            ]
        in_grads = grad_fn(op, *out_grads)
        in_grads = list(in_grads) if isinstance(in_grads, list | tuple) else [in_grads]
        if len(in_grads) != len(op.inputs):
            raise ValueError(
                f"The gradient of {op.type} returned {len(in_grads)} values for "
                f"{len(op.inputs)} inputs (op '{op.name}')"
            )
        for x, g in zip(op.inputs, in_grads):
            if g is None or x in stops or not x.dtype.is_differentiable:
                continue
            g = convert_to_tensor(g)
            if g.dtype != x.dtype:
                g = api.cast(g, x.dtype)
            if op_def.broadcasts:
                g = reduce_to_shape(g, x)
            pending.setdefault(x, []).append(g)


def reduce_to_shape(g: Tensor, x: Tensor) -> Tensor:
    """`g` summed over the dimensions along which `x` was broadcast to g's shape.

    Decided when the graph is built if x's shape is fully known (the usual case for
    weights and biases); otherwise a ReduceToShape op decides at run time.
    """
    if x.shape.is_fully_defined() and g.shape.ndims is not None:
        x_dims, g_dims = x.shape.as_list(), g.shape.dims
        lead = len(g_dims) - len(x_dims)
        axes = list(range(lead)) + [
            lead + i for i, d in enumerate(x_dims) if d == 1 and g_dims[lead + i] != 1
        ]
        out = api.reduce_sum(g, axis=axes) if axes else g
        return out if out.shape.as_list() == x_dims else api.reshape(out, x_dims)
    return registry.build("ReduceToShape", [g, api.shape(x)])


def _ops_between(ys, xs, stops) -> set[Operation]:
    """Ops on a path from some x to some y (backwards from ys, forwards from xs)."""
    from_ys: set[Operation] = set()
    stack = [y.op for y in ys]
    while stack:
        op = stack.pop()
        if op in from_ys:
            continue
        from_ys.add(op)
        stack.extend(t.op for t in op.inputs if t not in stops)
    reached: set[Operation] = set()
    stack = [c for x in xs for c in x.consumers() if c in from_ys]
    while stack:
        op = stack.pop()
        if op in reached:
            continue
        reached.add(op)
        for t in op.outputs:
            stack.extend(c for c in t.consumers() if c in from_ys)
    return reached


def _sum(grads: list):
    grads = [g for g in grads if g is not None]
    if not grads:
        return None
    if len(grads) == 1:
        return grads[0]
    return api.add_n(grads)


def _as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


hooks.gradients = gradients


# -- tf.custom_gradient ----------------------------------------------------------

_custom_gradient_count = itertools.count()


def custom_gradient(f=None):
    """Decorates `f(*xs) -> (ys, grad_fn)` so that gradients through it use `grad_fn`.

    >>> @tf.custom_gradient
    ... def log1pexp(x):
    ...     e = tf.exp(x)
    ...     def grad(dy):
    ...         return dy * (1 - 1 / (1 + e))
    ...     return tf.log(1 + e), grad

    `grad_fn(*dys)` gets one gradient per output of `f` and returns one per input
    (a tensor, or a list). If `f` reads variables, `grad_fn` must take a
    `variables` keyword and return `(input_grads, variable_grads)`. As in
    TensorFlow's graph mode, the results and inputs pass through one IdentityN op
    whose gradient is `grad_fn` (Graph.gradient_override_map), so gradients do not
    flow through the ops inside `f`.
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args, **kwargs):
        if kwargs:
            raise ValueError(
                "The custom_gradient decorator currently supports keywords arguments only when eager execution is enabled."
            )
        return _call_with_custom_gradient(f, args)

    return decorated


def _call_with_custom_gradient(f, args):
    graph = get_default_graph()
    xs = [convert_to_tensor(x) for x in args]
    first_new_op = graph.version
    result, grad_fn = f(*xs)
    variables = _variables_read(graph, graph.get_operations()[first_new_op:])
    takes_variables = "variables" in inspect.signature(grad_fn).parameters
    if variables and not takes_variables:
        raise TypeError(
            "If using @custom_gradient with a function that uses variables, then grad_fn must "
            "accept a keyword argument 'variables'."
        )
    flat_result = [convert_to_tensor(y) for y in nest.flatten(result)]
    n_results, n_inputs = len(flat_result), len(xs)
    name = f"CustomGradient-{next(_custom_gradient_count)}"

    @registry.RegisterGradient(name)
    def _grad(op, *dys):
        dys = list(dys[:n_results])
        if variables:
            input_grads, variable_grads = grad_fn(*dys, variables=variables)
            variable_grads = _as_list(variable_grads)
            if len(variable_grads) != len(variables):
                raise ValueError(
                    f"custom_gradient's grad_fn returned {len(variable_grads)} variable gradients for "
                    f"{len(variables)} variables"
                )
        else:
            input_grads, variable_grads = grad_fn(*dys), []
        input_grads = _as_list(input_grads)
        if len(input_grads) != n_inputs:
            raise ValueError(
                f"custom_gradient's grad_fn returned {len(input_grads)} gradients for {n_inputs} inputs"
            )
        return [None] * n_results + input_grads + variable_grads

    with graph.gradient_override_map({"IdentityN": name}):
        outputs = api.identity_n(flat_result + xs + [v._variable for v in variables])
    return nest.pack_sequence_as(result, outputs[:n_results])


def _variables_read(graph, new_ops) -> list:
    """The variables (made before `new_ops`) that the ops in `new_ops` read."""
    by_tensor = {}
    for collection in ("variables", "local_variables"):
        for v in graph.get_collection(collection):
            for t in (getattr(v, "_variable", None), getattr(v, "_snapshot", None)):
                if t is not None:
                    by_tensor[t] = v
    new, found = set(new_ops), []
    for op in new_ops:
        for t in op.inputs:
            v = by_tensor.get(t)
            if v is not None and v not in found and t.op not in new:
                found.append(v)
    return found
