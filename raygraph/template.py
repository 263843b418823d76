"""tf.make_template and the checks on variable initialization.

`make_template("net", fn)` wraps `fn` so that its first call creates variables
in a new variable scope ("net", made unique) and every later call reuses them:

    encode = tf.make_template("encoder", build_encoder)
    a, b = encode(x1), encode(x2)     # one set of variables: encoder/w, encoder/b

`report_uninitialized_variables()` is a string tensor of the names of the
variables not yet initialized in the session that runs it (IsVariableInitialized
ops, which read no variable); `assert_variables_initialized()` fails the run
with FailedPreconditionError when one is not.
"""

from __future__ import annotations

import functools

import numpy as np

import ops as _ops
from ops import api
from raygraph import dtypes
from raygraph.graph import GraphKeys, colocate_with, get_default_graph, name_scope
from raygraph.variable_scope import variable_scope
from raygraph.variables import global_variables, local_variables, variables_initializer

_ops.load_all()

__all__ = [
    "Template",
    "assert_variables_initialized",
    "initialize_local_variables",
    "make_template",
    "report_uninitialized_variables",
    "tables_initializer",
]


class Template:
    """A function whose variables are created on its first call and reused on every later one."""

    def __init__(self, name, func, create_scope_now=False, unique_name=None, custom_getter=None):
        self._func = func
        self._name = name
        self._unique_name = unique_name
        self._custom_getter = custom_getter
        self._variable_scope = None
        if create_scope_now:
            with variable_scope(unique_name, name, custom_getter=custom_getter) as scope:
                self._variable_scope = scope
        self._variables_created = False

    def __call__(self, *args, **kwargs):
        if self._variable_scope is None:
            with variable_scope(self._unique_name, self._name, custom_getter=self._custom_getter) as scope:
                self._variable_scope = scope
                result = self._func(*args, **kwargs)
        else:
            reuse = True if self._variables_created else None
            with variable_scope(self._variable_scope, reuse=reuse, custom_getter=self._custom_getter):
                result = self._func(*args, **kwargs)
        self._variables_created = True
        return result

    name = property(lambda self: self._name)
    variable_scope = property(lambda self: self._variable_scope)

    @property
    def variable_scope_name(self) -> str:
        return self._variable_scope.name if self._variable_scope is not None else ""

    def _collection(self, key):
        if self._variable_scope is None:
            return []
        return get_default_graph().get_collection(key, self.variable_scope_name + "/")

    global_variables = property(lambda self: self._collection(GraphKeys.GLOBAL_VARIABLES))
    trainable_variables = property(lambda self: self._collection(GraphKeys.TRAINABLE_VARIABLES))
    local_variables = property(lambda self: self._collection(GraphKeys.LOCAL_VARIABLES))
    variables = global_variables


def make_template(name_, func_, create_scope_now_=False, unique_name_=None, custom_getter_=None, **kwargs):
    """Wraps `func_` (with `kwargs` bound) so that all its calls share one set of variables.

    >>> dense = tf.make_template("dense", lambda x: tf.layers.dense(x, 10))
    >>> y1, y2 = dense(x1), dense(x2)
    """
    func = functools.partial(func_, **kwargs) if kwargs else func_
    return Template(name_, func, create_scope_now_, unique_name_, custom_getter_)


def report_uninitialized_variables(var_list=None, name="report_uninitialized_variables"):
    """A 1-D string tensor: the names of the variables of `var_list` not yet initialized.

    `var_list` defaults to the global and local variables.
    """
    if var_list is None:
        var_list = global_variables() + local_variables()
    var_list = list(var_list)
    with name_scope(name):
        if not var_list:
            return api.constant(np.array([], dtype=object), dtype=dtypes.string)
        names = api.constant(np.array([v.op.name for v in var_list], dtype=object), dtype=dtypes.string)
        flags = []
        for v in var_list:
            with colocate_with(v.op):
                flags.append(api.is_variable_initialized(v))
        return api.boolean_mask(names, api.logical_not(api.stack(flags)))


def assert_variables_initialized(var_list=None):
    """An op that fails the run (FailedPreconditionError) if a variable of `var_list` is uninitialized.

    `var_list` defaults to the global and local variables; None if there are none.
    """
    if var_list is None:
        var_list = global_variables() + local_variables()
    var_list = list(var_list)
    if not var_list:
        return None
    with name_scope("assert_variables_initialized"):
        ranks = []
        for v in var_list:
            with colocate_with(v.op):
                ranks.append(api.rank(v.value()))
        return api.stack(ranks)


def initialize_local_variables():
    """The pre-1.0 name of tf.local_variables_initializer."""
    return variables_initializer(local_variables(), name="init")


def tables_initializer(name="init_all_tables"):
    """An op that initializes every lookup table (raygraph has none yet: a no_op)."""
    initializers = get_default_graph().get_collection(GraphKeys.TABLE_INITIALIZERS)
    if initializers:
        return api.group(*initializers, name=name)
    return api.no_op(name=name)
