"""TensorFlow 1.x variables: state that lives on a device actor between runs.

`tf.Variable(initial_value, name="w")` adds, as TensorFlow does:
    w               VariableV2   the variable itself (reading it gives its value)
    w/initial_value Const        when the initial value is a Python or numpy value
    w/Assign        Assign       the initializer: w = initial_value
    w/read          Identity     the value other ops read

The value is held by the device actor the variable is placed on, per session,
so two sessions on one graph have separate values, as in TensorFlow.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading

from ops import api
from raygraph.graph import (
    GraphKeys,
    Tensor,
    control_dependencies,
    convert_to_tensor,
    get_default_graph,
    name_scope,
)
from raygraph.shapes import as_shape


@contextlib.contextmanager
def _in_root_graph():
    """Variables live in the outermost graph, also when made inside a control-flow body
    (an RNN cell's weights, made on first call inside dynamic_rnn's loop): the body's
    name scope carries over, its control dependencies do not."""
    default = get_default_graph()
    root = default.root
    if root is default:
        yield root
        return
    scope = default.get_name_scope()
    with root.as_default(), root.name_scope(scope + "/" if scope else None):
        yield root


class _VariableMeta(type):
    """Routes `tf.Variable(...)` through the creators of `variable_creator_scope`, innermost first."""

    def __call__(cls, *args, **kwargs):
        creators = _creator_stack(get_default_graph())
        if cls is not Variable or not creators:
            return super().__call__(*args, **kwargs)
        bound = _VARIABLE_ARGS.bind(None, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        del arguments["self"]

        def default_creator(**kwargs):
            return type.__call__(cls, **kwargs)

        creator = default_creator
        for outer in creators:  # each creator's next_creator is the one opened before it
            creator = functools.partial(outer, creator)
        return creator(**arguments)


class Variable(metaclass=_VariableMeta):
    """A mutable tensor kept between runs.

    >>> w = tf.Variable(tf.zeros([784, 10]), name="w")
    >>> sess.run(tf.global_variables_initializer())
    >>> sess.run(w.assign_add(tf.ones([784, 10])))
    """

    def __init__(
        self,
        initial_value=None,
        trainable=True,
        collections=None,
        validate_shape=True,
        caching_device=None,
        name=None,
        variable_def=None,
        dtype=None,
        expected_shape=None,
        import_scope=None,
        constraint=None,
        use_resource=None,
        synchronization=None,
        aggregation=None,
        shape=None,
    ):
        if variable_def is not None:
            if initial_value is not None:
                raise ValueError("variable_def and initial_value are mutually exclusive.")
            self._init_from_proto(variable_def, import_scope)
            return
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        with _in_root_graph() as graph:
            self._init(
                graph, initial_value, trainable, collections, validate_shape, name, dtype, shape, constraint
            )

    def _init(
        self, graph, initial_value, trainable, collections, validate_shape, name, dtype, shape, constraint
    ):
        collections = list(collections) if collections is not None else [GraphKeys.GLOBAL_VARIABLES]
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        self._trainable = trainable
        self.constraint = constraint
        with control_dependencies(None), name_scope(name, "Variable") as scope:
            var_name = scope[:-1]
            with name_scope("Initializer"):
                value = initial_value() if callable(initial_value) else initial_value
                value = convert_to_tensor(value, dtype=dtype, name="initial_value")
            shape = as_shape(shape) if shape is not None else value.shape
            if validate_shape and not shape.is_fully_defined():
                raise ValueError(
                    f"initial_value of variable {var_name!r} must have a fully defined shape "
                    f"when validate_shape=True, got {shape}"
                )
            self._variable = graph.create_op(
                "VariableV2", [], {"shape": shape, "dtype": value.dtype}, name=scope
            ).outputs[0]
            self._initial_value = value
            self._initializer_op = api.assign(
                self._variable, value, validate_shape=validate_shape, name="Assign"
            ).op
            with graph.colocate_with(self._variable.op):
                self._snapshot = api.identity(self._variable, name="read")
        graph.add_to_collections(collections, self)

    def _init_from_proto(self, variable_def, import_scope=None, find=None):
        """Adopts the ops a VariableDef names (in the default graph, or as `find` resolves names)."""
        if find is None:
            graph = get_default_graph()

            def find(name):
                return graph.as_graph_element(f"{import_scope}/{name}" if import_scope else name)

        self._variable = find(variable_def.variable_name)
        self._initializer_op = find(variable_def.initializer_name)
        self._snapshot = find(variable_def.snapshot_name)
        initial = variable_def.initial_value_name
        self._initial_value = find(initial) if initial else None
        self._trainable = variable_def.trainable
        self.constraint = None

    def to_proto(self, export_scope=None):
        """The variable as TensorFlow's VariableDef (the names of its ops), as meta graphs store it.

        Returns None when the variable is not under `export_scope`.
        """
        from tensorboard.compat.proto import variable_pb2

        def strip(name):
            return name[len(export_scope) + 1 :] if export_scope else name

        if export_scope and not self._variable.name.startswith(export_scope + "/"):
            return None
        proto = variable_pb2.VariableDef(
            variable_name=strip(self._variable.name),
            initializer_name=strip(self._initializer_op.name),
            snapshot_name=strip(self._snapshot.name),
            trainable=self._trainable,
        )
        if self._initial_value is not None:
            proto.initial_value_name = strip(self._initial_value.name)
        return proto

    @staticmethod
    def from_proto(variable_def, import_scope=None):
        """The Variable a VariableDef describes, over ops already in the default graph."""
        return Variable(variable_def=variable_def, import_scope=import_scope)

    # -- identity --
    @property
    def name(self) -> str:
        return self._variable.name

    @property
    def op(self):
        return self._variable.op

    @property
    def graph(self):
        return self._variable.graph

    @property
    def dtype(self):
        return self._variable.dtype

    @property
    def shape(self):
        return self._variable.shape

    def get_shape(self):
        return self._variable.shape

    @property
    def device(self) -> str:
        return self._variable.device

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def initializer(self):
        """The op that sets the variable to its initial value."""
        return self._initializer_op

    @property
    def initial_value(self) -> Tensor:
        return self._initial_value

    def _as_graph_element(self) -> Tensor:
        """What a fetch or a name lookup of the variable means: the variable itself."""
        return self._variable

    def _as_tensor(self) -> Tensor:
        """What an op reading the variable takes: its value, `w/read:0`."""
        return self._snapshot

    def _ref(self) -> Tensor:
        return self._variable

    def value(self) -> Tensor:
        """The variable's value, as read by other ops (`w/read:0`)."""
        return self._snapshot

    def read_value(self) -> Tensor:
        return api.identity(self._variable, name="read")

    def initialized_value(self) -> Tensor:
        """The value, initializing the variable first if needed (runs the initializer)."""
        with control_dependencies([self._initializer_op]):
            return api.identity(self._variable)

    # -- updates --
    def assign(self, value, use_locking=False, name=None, read_value=True):
        out = api.assign(self._variable, value, use_locking=use_locking, name=name)
        return out if read_value else out.op

    def assign_add(self, delta, use_locking=False, name=None, read_value=True):
        out = api.assign_add(self._variable, delta, use_locking=use_locking, name=name)
        return out if read_value else out.op

    def assign_sub(self, delta, use_locking=False, name=None, read_value=True):
        out = api.assign_sub(self._variable, delta, use_locking=use_locking, name=name)
        return out if read_value else out.op

    def count_up_to(self, limit):
        """Adds 1 to the variable until it reaches `limit` (tf.count_up_to)."""
        return api.count_up_to(self._variable, limit)

    def eval(self, session=None):
        return self._variable.eval(session=session)

    def load(self, value, session=None):
        """Sets the variable's value from Python, without adding ops per call."""
        from raygraph.session import _session_for

        session = _session_for(self.graph, session)
        session.run(self._initializer_op, {self._initial_value: value})

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    # A variable behaves as its value in expressions.
    def _binary(name, reverse=False):  # noqa: N805
        def method(self, other):
            fn = getattr(Tensor, name)
            return fn(self._snapshot, other)

        return method

    for _m in (
        "__add__",
        "__radd__",
        "__sub__",
        "__rsub__",
        "__mul__",
        "__rmul__",
        "__truediv__",
        "__rtruediv__",
        "__floordiv__",
        "__rfloordiv__",
        "__mod__",
        "__rmod__",
        "__pow__",
        "__rpow__",
        "__matmul__",
        "__rmatmul__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__and__",
        "__or__",
        "__getitem__",
    ):
        locals()[_m] = _binary(_m)
    del _m, _binary

    def __neg__(self):
        return -self._snapshot

    def __abs__(self):
        return abs(self._snapshot)

    __array_priority__ = 100


def global_variables(scope: str | None = None) -> list[Variable]:
    """Variables in the GLOBAL_VARIABLES collection."""
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


def trainable_variables(scope: str | None = None) -> list[Variable]:
    """Variables in the TRAINABLE_VARIABLES collection."""
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def variables_initializer(var_list, name: str = "init"):
    """An op that runs the initializers of `var_list`."""
    if not var_list:
        return api.no_op(name=name)
    return api.group(*[v.initializer for v in var_list], name=name)


def global_variables_initializer():
    """An op that initializes every global variable: run it once after building."""
    return variables_initializer(global_variables(), name="init")


def local_variables_initializer():
    return variables_initializer(local_variables(), name="init")


initialize_all_variables = global_variables_initializer
all_variables = global_variables


# -- variable creator scopes --------------------------------------------------------

_VARIABLE_ARGS = inspect.signature(Variable.__init__)
_CREATORS_LOCK = threading.Lock()


def _creator_stack(graph) -> list:
    """The creators open in this thread for `graph` (kept on its outermost graph), outermost first."""
    graph = graph.root
    local = getattr(graph, "_variable_creators", None)
    if local is None:
        with _CREATORS_LOCK:
            local = graph.__dict__.setdefault("_variable_creators", threading.local())
    if not hasattr(local, "stack"):
        local.stack = []
    return local.stack


@contextlib.contextmanager
def variable_creator_scope(variable_creator):
    """Makes `variable_creator(next_creator, **kwargs)` create the Variables made inside
    (also those of `get_variable`), in this thread and the default graph.

    `kwargs` are Variable's arguments (initial_value, trainable, name, dtype, ...);
    the creator may change them and call `next_creator(**kwargs)` (the creator of the
    enclosing scope, or Variable's own), or return a variable of its own.

    >>> def creator(next_creator, **kwargs):
    ...     kwargs["trainable"] = False
    ...     return next_creator(**kwargs)
    >>> with tf.variable_creator_scope(creator):
    ...     w = tf.Variable(1.0)          # not trainable
    """
    stack = _creator_stack(get_default_graph())
    stack.append(variable_creator)
    try:
        yield
    finally:
        if not stack or stack[-1] is not variable_creator:
            raise RuntimeError("variable_creator_scope exited out of order")
        stack.pop()
