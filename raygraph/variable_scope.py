"""TensorFlow 1.x variable scopes and `get_variable`: variables shared by name.

    with tf.variable_scope("layer1"):
        w = tf.get_variable("w", [784, 256])      # creates "layer1/w"
    with tf.variable_scope("layer1", reuse=True):
        same = tf.get_variable("w")               # returns the same Variable

State, per graph (so `tf.reset_default_graph()` starts afresh):
- the variable store: full variable name -> Variable, for variables made by
  `get_variable` (a plain `tf.Variable` is not in it, as in TensorFlow);
- per thread, the current `VariableScope` and a count of how often each scope name
  was opened, which makes `variable_scope(None, default_name="dense")` unique
  ("dense", "dense_1", ...). Leaving a scope opened by name resets the counts of
  its sub-scopes, as TensorFlow does.

Variable names depend only on the variable scope; op names depend on the name
scope. Entering `variable_scope("foo")` also opens the name scope "foo" (made
unique, so "foo_1/" the second time); `get_variable` creates its ops from the root
name scope, so a variable is "foo/w" whatever name scope is open.

Reuse is False (create; an existing name is an error), True (the variable must
exist) or AUTO_REUSE (either). Nested scopes inherit True and AUTO_REUSE; reuse=False
inside a reusing scope does not switch it off.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import threading

from raygraph import dtypes, partitioned_variables
from raygraph.func_graph import FuncGraph
from raygraph.graph import (
    GraphKeys,
    Tensor,
    _unwrap,
    add_to_collection,
    format_location,
    get_default_graph,
    to_numpy,
)
from raygraph.shapes import as_shape
from raygraph.variables import Variable

__all__ = [
    "AUTO_REUSE",
    "VariableScope",
    "get_local_variable",
    "get_variable",
    "get_variable_scope",
    "no_regularizer",
    "variable_scope",
]


class _ReuseMode(enum.Enum):
    """Reuse modes beyond True and False; only AUTO_REUSE exists."""

    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE
"""`reuse=tf.AUTO_REUSE`: `get_variable` creates a variable if it is missing, else returns it."""


def no_regularizer(_):
    """A regularizer that adds no loss: turns off a scope's regularizer for one variable.

    >>> b = tf.get_variable("b", [10], regularizer=tf.no_regularizer)
    """
    return None


class VariableScope:
    """The defaults `get_variable` uses inside a `variable_scope`: name prefix, reuse, initializer...

    >>> with tf.variable_scope("foo") as scope:
    ...     scope.name, scope.original_name_scope
    ('foo', 'foo/')
    """

    def __init__(
        self,
        reuse,
        name="",
        initializer=None,
        regularizer=None,
        caching_device=None,
        partitioner=None,
        custom_getter=None,
        name_scope="",
        dtype=dtypes.float32,
        use_resource=None,
        constraint=None,
    ):
        self._name = name
        self._reuse = reuse
        self._initializer = initializer
        self._regularizer = regularizer
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._name_scope = name_scope
        self._dtype = dtypes.as_dtype(dtype)
        self._use_resource = use_resource
        self._constraint = constraint

    name = property(lambda self: self._name)
    original_name_scope = property(lambda self: self._name_scope, doc="The name scope first opened with it.")
    reuse = property(lambda self: self._reuse)
    initializer = property(lambda self: self._initializer)
    regularizer = property(lambda self: self._regularizer)
    caching_device = property(lambda self: self._caching_device)
    partitioner = property(lambda self: self._partitioner)
    custom_getter = property(lambda self: self._custom_getter)
    dtype = property(lambda self: self._dtype)
    use_resource = property(lambda self: self._use_resource)
    constraint = property(lambda self: self._constraint)

    def reuse_variables(self) -> None:
        """Makes `get_variable` in this scope return existing variables from now on."""
        self._reuse = True

    def set_initializer(self, initializer) -> None:
        self._initializer = initializer

    def set_regularizer(self, regularizer) -> None:
        self._regularizer = regularizer

    def set_dtype(self, dtype) -> None:
        self._dtype = dtypes.as_dtype(dtype)

    def set_caching_device(self, caching_device) -> None:
        self._caching_device = caching_device

    def set_partitioner(self, partitioner) -> None:
        self._partitioner = partitioner

    def set_custom_getter(self, custom_getter) -> None:
        self._custom_getter = custom_getter

    def set_use_resource(self, use_resource) -> None:
        self._use_resource = use_resource

    def get_collection(self, name: str) -> list:
        """Items of collection `name` whose names start with this scope's name."""
        scope = self._name + "/" if self._name else ""
        return [item for item in get_default_graph().get_collection(name) if _has_prefix(item, scope)]

    def global_variables(self) -> list:
        return self.get_collection(GraphKeys.GLOBAL_VARIABLES)

    def trainable_variables(self) -> list:
        return self.get_collection(GraphKeys.TRAINABLE_VARIABLES)

    def local_variables(self) -> list:
        return self.get_collection(GraphKeys.LOCAL_VARIABLES)

    def get_variable(
        self,
        var_store,
        name,
        shape=None,
        dtype=None,
        initializer=None,
        regularizer=None,
        reuse=None,
        trainable=None,
        collections=None,
        caching_device=None,
        partitioner=None,
        validate_shape=True,
        use_resource=None,
        custom_getter=None,
        constraint=None,
        synchronization=None,
        aggregation=None,
    ):
        """`get_variable` with this scope's defaults filled in (see the module function)."""
        if regularizer is None:
            regularizer = self._regularizer
        if caching_device is None:
            caching_device = self._caching_device
        if partitioner is None:
            partitioner = self._partitioner
        if custom_getter is None:
            custom_getter = self._custom_getter
        if reuse is None:
            reuse = self._reuse
        full_name = f"{self._name}/{name}" if self._name else name
        if dtype is not None and initializer is not None and not callable(initializer):
            _check_initializer_dtype(full_name, initializer, dtypes.as_dtype(dtype))
        if initializer is None:
            initializer = self._initializer
        if constraint is None:
            constraint = self._constraint
        if dtype is None:
            dtype = self._dtype
        with get_default_graph().name_scope(None):  # variable names ignore the name scope
            return var_store.get_variable(
                full_name,
                shape=shape,
                dtype=dtype,
                initializer=initializer,
                regularizer=regularizer,
                reuse=reuse,
                trainable=trainable,
                collections=collections,
                caching_device=caching_device,
                partitioner=partitioner,
                validate_shape=validate_shape,
                use_resource=use_resource,
                custom_getter=custom_getter,
                constraint=constraint,
                synchronization=synchronization,
                aggregation=aggregation,
            )

    def __repr__(self) -> str:
        return f"<VariableScope {self._name!r} reuse={self._reuse}>"


def _has_prefix(item, prefix: str) -> bool:
    name = getattr(item, "name", None)
    return isinstance(name, str) and name.startswith(prefix)


def _check_initializer_dtype(name, initializer, dtype) -> None:
    value = _unwrap(getattr(initializer, "_as_tensor", lambda: initializer)())
    init_dtype = value.dtype if isinstance(value, Tensor) else dtypes.as_dtype(to_numpy(value).dtype)
    if init_dtype != dtype:
        raise ValueError(
            f"Initializer type '{init_dtype.name}' and explicit dtype '{dtype.name}' don't match "
            f"(variable {name})."
        )


# -- per-graph state -----------------------------------------------------------


class _GraphState:
    """What one graph remembers: its variable store, and per thread its scope state."""

    def __init__(self):
        self.store = _VariableStore()
        self._local = threading.local()

    @property
    def scopes(self) -> _ScopeState:
        if not hasattr(self._local, "scopes"):
            self._local.scopes = _ScopeState()
        return self._local.scopes


class _ScopeState:
    def __init__(self):
        self.current = VariableScope(False)
        self.counts: dict[str, int] = {}

    def open(self, scope_name: str) -> None:
        self.counts[scope_name] = self.counts.get(scope_name, 0) + 1

    def close_subscopes(self, scope_name: str) -> None:
        prefix = scope_name + "/"
        for key in self.counts:
            if key.startswith(prefix):
                self.counts[key] = 0

    def unique_name(self, prefix: str) -> str:
        """`prefix`, or `prefix_N`, unused under the current variable scope."""
        base = f"{self.current.name}/{prefix}" if self.current.name else prefix
        if not self.counts.get(base):
            return prefix
        index = 1
        while self.counts.get(f"{base}_{index}"):
            index += 1
        return f"{prefix}_{index}"


_STATE_LOCK = threading.Lock()


def _state(graph=None) -> _GraphState:
    """The graph's variable-scope state, kept on the graph itself (it goes with the graph)."""
    graph = (graph if graph is not None else get_default_graph()).root  # one store per graph nest
    state = getattr(graph, "_variable_scope_state", None)
    if state is None:
        with _STATE_LOCK:
            state = getattr(graph, "_variable_scope_state", None)
            if state is None:
                state = graph._variable_scope_state = _GraphState()
    return state


def _get_default_variable_store() -> _VariableStore:
    return _state().store


def get_variable_scope() -> VariableScope:
    """The current variable scope (the root scope, named "", outside any `variable_scope`).

    >>> with tf.variable_scope("model"):
    ...     tf.get_variable_scope().name
    'model'
    """
    return _state().scopes.current


# -- the variable store --------------------------------------------------------


class _VariableStore:
    """Variables created by `get_variable`, by full name; applies the reuse rules.

    `partitioned` holds the PartitionedVariables (raygraph.partitioned_variables)
    by name; their parts "<name>/part_<i>" are in `vars` like any variable.
    """

    def __init__(self):
        self.vars: dict[str, Variable] = {}
        self.partitioned: dict[str, partitioned_variables.PartitionedVariable] = {}

    def get_variable(
        self,
        name,
        shape=None,
        dtype=dtypes.float32,
        initializer=None,
        regularizer=None,
        reuse=None,
        trainable=None,
        collections=None,
        caching_device=None,
        partitioner=None,
        validate_shape=True,
        use_resource=None,
        custom_getter=None,
        constraint=None,
        synchronization=None,
        aggregation=None,
    ):
        if custom_getter is not None and not callable(custom_getter):
            raise ValueError(f"Passed a custom_getter which is not callable: {custom_getter!r}")
        dtype = getattr(dtype, "base_dtype", dtype)
        kwargs = dict(
            name=name,
            shape=shape,
            dtype=dtype,
            initializer=initializer,
            regularizer=regularizer,
            reuse=reuse,
            trainable=trainable,
            collections=collections,
            caching_device=caching_device,
            partitioner=partitioner,
            validate_shape=validate_shape,
            use_resource=use_resource,
            constraint=constraint,
            synchronization=synchronization,
            aggregation=aggregation,
        )
        if custom_getter is None:
            return self._true_getter(**kwargs)
        if not _accepts(custom_getter, "constraint"):
            kwargs.pop("constraint")
        return custom_getter(getter=self._true_getter, **kwargs)

    def _true_getter(
        self,
        name,
        shape=None,
        dtype=dtypes.float32,
        initializer=None,
        regularizer=None,
        reuse=None,
        trainable=None,
        collections=None,
        caching_device=None,
        partitioner=None,
        validate_shape=True,
        use_resource=None,
        constraint=None,
        synchronization=None,
        aggregation=None,
    ):
        if reuse is None:
            reuse = False
        trainable = True if trainable is None else trainable
        scalar = shape is not None and as_shape(shape).dims == ()
        if (partitioner is not None and not scalar) or (reuse is True and name in self.partitioned):
            if partitioner is not None and not callable(partitioner):
                raise ValueError(f"Partitioner must be callable, but received: {partitioner}")
            return partitioned_variables.get_partitioned_variable(
                self,
                name,
                partitioner,
                shape,
                dtypes.as_dtype(dtype),
                initializer,
                reuse,
                regularizer=regularizer,
                trainable=trainable,
                collections=collections,
                caching_device=caching_device,
                validate_shape=validate_shape,
                constraint=constraint,
            )
        if f"{name}/part_0" in self.vars:
            raise ValueError(
                f"No partitioner was provided, but a partitioned version of the variable was found: "
                f"{name}/part_0. Perhaps a variable of the same name was already created with partitioning?"
            )
        return self._get_single_variable(
            name,
            shape,
            dtypes.as_dtype(dtype),
            initializer,
            regularizer,
            reuse,
            trainable,
            collections,
            caching_device,
            validate_shape,
            constraint,
        )

    def _get_single_variable(
        self,
        name,
        shape,
        dtype,
        initializer,
        regularizer,
        reuse,
        trainable,
        collections,
        caching_device,
        validate_shape,
        constraint,
        partition_info=None,
    ):
        from_value = initializer is not None and not callable(initializer)
        if shape is not None and from_value:
            raise ValueError(f"If initializer is a constant, do not specify shape (variable {name}).")
        shape = as_shape(shape)
        if name in self.vars:
            return self._existing(name, shape, dtype, reuse)
        if reuse is True:
            raise ValueError(
                f"Variable {name} does not exist, or was not created with tf.get_variable(). "
                "Did you mean to set reuse=tf.AUTO_REUSE in VarScope?"
            )
        if from_value:
            initial_value, variable_dtype = initializer, None
        else:
            initial_value = _initial_value_fn(name, initializer, shape, dtype, partition_info)
            variable_dtype = dtype
        variable = Variable(
            initial_value=initial_value,
            name=name,
            trainable=trainable,
            collections=collections,
            caching_device=caching_device,
            dtype=variable_dtype,
            validate_shape=validate_shape,
            constraint=constraint,
        )
        self.vars[name] = variable
        if regularizer:
            _add_regularization_loss(name, variable, regularizer)
        return variable

    def _existing(self, name, shape, dtype, reuse):
        found = self.vars[name]
        if reuse is False:
            raise ValueError(
                f"Variable {name} already exists, disallowed. Did you mean to set reuse=True or "
                "reuse=tf.AUTO_REUSE in VarScope? Originally defined at: "
                f"{format_location(found.op.location)}"
            )
        if not shape.is_compatible_with(found.shape):
            raise ValueError(
                f"Trying to share variable {name}, but specified shape {shape} and found shape {found.shape}."
            )
        if dtype != found.dtype:
            raise ValueError(
                f"Trying to share variable {name}, but specified dtype {dtype.name} and found dtype "
                f"{found.dtype.name}."
            )
        return found


def _default_initializer(name, dtype):
    """glorot_uniform for floating variables, zeros for integers and bools, as in TensorFlow."""
    from raygraph import initializers

    if dtype.is_floating:
        return initializers.glorot_uniform_initializer()
    if dtype.is_integer or dtype.is_bool or dtype == dtypes.string:
        return initializers.zeros_initializer()
    raise ValueError(f"An initializer for variable {name} of {dtype.name} is required")


def _initial_value_fn(name, initializer, shape, dtype, partition_info=None):
    """A no-argument callable that builds the initial value (inside the variable's scope)."""
    if initializer is None and not shape.is_fully_defined():
        raise ValueError(
            f"Variable {name} did not get an initializer, so its `shape` argument must be specified."
        )
    if initializer is None:
        initializer = _default_initializer(name, dtype)
    if inspect.isclass(initializer):
        initializer = initializer()
    if shape.is_fully_defined():
        if _accepts(initializer, "partition_info"):
            return functools.partial(initializer, shape.as_list(), dtype=dtype, partition_info=partition_info)
        return functools.partial(initializer, shape.as_list(), dtype=dtype)
    if _needs_no_arguments(initializer):
        return initializer
    raise ValueError(
        f"Variable {name}: the initializer {initializer!r} needs a fully defined shape, got "
        f"{shape}. Give the `shape` argument, or an initializer that takes no arguments."
    )


def _accepts(fn, argument: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return argument in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _needs_no_arguments(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in params
    )


def _add_regularization_loss(name, variable, regularizer) -> None:
    graph = get_default_graph()
    with graph.colocate_with(variable.op), graph.name_scope(name + "/Regularizer/"):
        loss = regularizer(variable)
    if loss is not None:
        add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)


# -- the public functions ------------------------------------------------------


def get_variable(
    name,
    shape=None,
    dtype=None,
    initializer=None,
    regularizer=None,
    trainable=None,
    collections=None,
    caching_device=None,
    partitioner=None,
    validate_shape=True,
    use_resource=None,
    custom_getter=None,
    constraint=None,
    synchronization=None,
    aggregation=None,
) -> Variable:
    """Gets an existing variable or creates a new one, named by the current variable scope.

    >>> with tf.variable_scope("dense"):
    ...     w = tf.get_variable("w", [3, 2], initializer=tf.zeros_initializer())
    >>> w.name
    'dense/w:0'

    Without an initializer, floating variables use glorot_uniform and integer or bool
    ones zeros. `initializer` may also be a value or Tensor (then give no shape).
    """
    return get_variable_scope().get_variable(
        _get_default_variable_store(),
        name,
        shape=shape,
        dtype=dtype,
        initializer=initializer,
        regularizer=regularizer,
        trainable=trainable,
        collections=collections,
        caching_device=caching_device,
        partitioner=partitioner,
        validate_shape=validate_shape,
        use_resource=use_resource,
        custom_getter=custom_getter,
        constraint=constraint,
        synchronization=synchronization,
        aggregation=aggregation,
    )


def get_local_variable(
    name,
    shape=None,
    dtype=None,
    initializer=None,
    regularizer=None,
    trainable=False,
    collections=None,
    caching_device=None,
    partitioner=None,
    validate_shape=True,
    use_resource=None,
    custom_getter=None,
    constraint=None,
    synchronization=None,
    aggregation=None,
) -> Variable:
    """`get_variable` for a non-trainable variable in the LOCAL_VARIABLES collection.

    >>> count = tf.get_local_variable("count", [], dtype=tf.int32)
    """
    collections = list(collections or []) + [GraphKeys.LOCAL_VARIABLES]
    return get_variable(
        name,
        shape=shape,
        dtype=dtype,
        initializer=initializer,
        regularizer=regularizer,
        trainable=False,
        collections=collections,
        caching_device=caching_device,
        partitioner=partitioner,
        validate_shape=validate_shape,
        use_resource=use_resource,
        custom_getter=custom_getter,
        constraint=constraint,
        synchronization=synchronization,
        aggregation=aggregation,
    )


class variable_scope:  # noqa: N801 - TensorFlow's name
    """A context manager for variable names (and the name scope of the ops inside).

    >>> with tf.variable_scope("model", initializer=tf.zeros_initializer()):
    ...     w = tf.get_variable("w", [2])                  # "model/w", zeros
    >>> with tf.variable_scope("model", reuse=True):
    ...     assert tf.get_variable("w") is w
    >>> with tf.variable_scope(None, default_name="block"):   # "block", then "block_1"
    ...     pass

    `name_or_scope` is a string or a `VariableScope` (re-entering it gives the same
    variable names). With `auxiliary_name_scope=False` no name scope is opened.
    """

    def __init__(
        self,
        name_or_scope,
        default_name=None,
        values=None,
        initializer=None,
        regularizer=None,
        caching_device=None,
        partitioner=None,
        custom_getter=None,
        reuse=None,
        dtype=None,
        use_resource=None,
        constraint=None,
        auxiliary_name_scope=True,
    ):
        if name_or_scope is None and default_name is None:
            raise TypeError("If default_name is None then name_or_scope is required")
        if name_or_scope is not None and not isinstance(name_or_scope, str | VariableScope):
            raise TypeError(
                f"VariableScope: name_or_scope must be a string or VariableScope, got {name_or_scope!r}"
            )
        if reuse is False:
            reuse = None  # reuse=False does not switch off an outer scope's reuse
        if reuse not in (True, None, AUTO_REUSE):
            raise ValueError("The reuse parameter must be True or False or None.")
        if not isinstance(auxiliary_name_scope, bool):
            raise TypeError(
                f"The auxiliary_name_scope must be `True` or `False`, got {auxiliary_name_scope!r}"
            )
        if name_or_scope is None and reuse:
            raise ValueError("reuse=True cannot be used without a name_or_scope")
        self._name_or_scope = name_or_scope
        self._default_name = default_name
        self._values = values or []
        self._settings = dict(
            initializer=initializer,
            regularizer=regularizer,
            caching_device=caching_device,
            partitioner=partitioner,
            custom_getter=custom_getter,
            dtype=dtype,
            use_resource=use_resource,
            constraint=constraint,
        )
        self._reuse = reuse
        self._auxiliary_name_scope = auxiliary_name_scope
        self._stack = None

    def __enter__(self) -> VariableScope:
        if self._stack is not None:
            raise RuntimeError("a variable_scope object cannot be entered twice at once; make a new one")
        stack = contextlib.ExitStack()
        try:
            graph = _graph_of(self._values)
            stack.enter_context(graph.as_default())
            scope = self._enter(stack, graph)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return scope

    def __exit__(self, *exc_info):
        stack, self._stack = self._stack, None
        return stack.__exit__(*exc_info)

    def _enter(self, stack, graph) -> VariableScope:
        scopes = _state(graph).scopes
        name_or_scope = self._name_or_scope
        if name_or_scope is None:
            name_scope = stack.enter_context(self._name_scope(graph, self._default_name))
            name_or_scope = scopes.unique_name(self._default_name)
        else:
            short = name_or_scope if isinstance(name_or_scope, str) else name_or_scope.name.split("/")[-1]
            opens = short or not self._auxiliary_name_scope
            name_scope = stack.enter_context(self._name_scope(graph, short)) if opens else None
        return self._enter_pure(stack, scopes, name_or_scope, name_scope)

    def _name_scope(self, graph, name):
        if self._auxiliary_name_scope:
            return graph.name_scope(name)
        current = graph.get_name_scope()
        return graph.name_scope(current + "/" if current else None)

    def _enter_pure(self, stack, scopes, name_or_scope, name_scope) -> VariableScope:
        """Sets the current VariableScope (TensorFlow's `_pure_variable_scope`)."""
        old = scopes.current
        if isinstance(name_or_scope, VariableScope):
            new = self._copy_of(name_or_scope)
            scopes.open(new.name)
            saved_counts = dict(scopes.counts)
            stack.callback(setattr, scopes, "counts", saved_counts)
        else:
            full = f"{old.name}/{name_or_scope}" if old.name else name_or_scope
            new = VariableScope(
                self._reuse or old.reuse,
                name=full,
                initializer=old.initializer,
                regularizer=old.regularizer,
                caching_device=old.caching_device,
                partitioner=old.partitioner,
                dtype=old.dtype,
                custom_getter=old.custom_getter,
                name_scope=name_scope if name_scope is not None else name_or_scope,
                use_resource=old.use_resource,
                constraint=self._settings["constraint"],
            )
            self._apply_settings(new, old.custom_getter)
            scopes.open(full)
            stack.callback(scopes.close_subscopes, full)
        scopes.current = new
        stack.callback(setattr, scopes, "current", old)
        return new

    def _copy_of(self, scope: VariableScope) -> VariableScope:
        new = VariableScope(
            self._reuse if self._reuse else scope.reuse,
            name=scope.name,
            initializer=scope.initializer,
            regularizer=scope.regularizer,
            caching_device=scope.caching_device,
            partitioner=scope.partitioner,
            dtype=scope.dtype,
            custom_getter=scope.custom_getter,
            name_scope=scope.original_name_scope,
            use_resource=scope.use_resource,
            constraint=self._settings["constraint"],
        )
        self._apply_settings(new, scope.custom_getter)
        return new

    def _apply_settings(self, scope: VariableScope, old_getter) -> None:
        s = self._settings
        if s["initializer"] is not None:
            scope.set_initializer(s["initializer"])
        if s["regularizer"] is not None:
            scope.set_regularizer(s["regularizer"])
        if s["caching_device"] is not None:
            scope.set_caching_device(s["caching_device"])
        if s["partitioner"] is not None:
            scope.set_partitioner(s["partitioner"])
        if s["custom_getter"] is not None:
            scope.set_custom_getter(_wrap_custom_getter(s["custom_getter"], old_getter))
        if s["dtype"] is not None:
            scope.set_dtype(s["dtype"])
        if s["use_resource"] is not None:
            scope.set_use_resource(s["use_resource"])


def _wrap_custom_getter(custom_getter, old_getter):
    """Nests getters: the inner scope's getter sees the outer one as its `getter`."""
    if old_getter is None:
        return custom_getter

    def wrapped(getter, *args, **kwargs):
        return custom_getter(functools.partial(old_getter, getter), *args, **kwargs)

    return wrapped


def _graph_of(values):
    default = get_default_graph()
    for value in values:
        element = _unwrap(value)
        graph = getattr(element, "graph", None)
        if graph is not None:
            # inside a control-flow body, values of the enclosing graphs are captured
            inside = graph is default or (isinstance(default, FuncGraph) and default.outer_chain_has(graph))
            return default if inside else graph
    return default
