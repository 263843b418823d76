"""`tf.saved_model.main_op`: the op a loader runs after restoring the variables.

>>> builder.add_meta_graph_and_variables(sess, ["serve"], main_op=tf.saved_model.main_op.main_op())
"""

from __future__ import annotations

from ops import api
from raygraph.graph import GraphKeys, get_default_graph


def main_op():
    """An op that initializes the local variables and the lookup tables (TF's main_op)."""
    from raygraph.variables import local_variables_initializer

    tables = get_default_graph().get_collection(GraphKeys.TABLE_INITIALIZERS)
    return api.group(local_variables_initializer(), *tables)


def main_op_with_restore(restore_op_name):
    """main_op, run after the op named `restore_op_name`."""
    with get_default_graph().control_dependencies([restore_op_name]):
        return main_op()
