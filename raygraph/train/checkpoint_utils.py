"""`tf.train.init_from_checkpoint`: variables initialized from a checkpoint instead of their initializers.

    tf.train.init_from_checkpoint("pretrained/", {"encoder/": "model/encoder/"})
    sess.run(tf.global_variables_initializer())   # reads the checkpoint

As in TensorFlow 1.x, each chosen variable's initializer becomes an Assign from a
RestoreV2 op (ops.checkpoint), so the file is read when the initializer runs, and
its `initial_value` becomes that op's output. Build the init op after calling this.
Names resolve like TF's: a key of `assignment_map` is a checkpoint tensor name or
a scope ("old/", or "/" for the root); a value is a Variable, a name of a variable
made by `tf.get_variable`, or a scope. Shapes are checked now, against the
checkpoint's header.
"""

from __future__ import annotations

from collections.abc import Mapping

from ops import api
from ops.registry import build
from raygraph import variable_scope
from raygraph.graph import control_dependencies, device
from raygraph.train.saver import _checkpoint_prefix, load_checkpoint
from raygraph.variables import Variable

__all__ = ["init_from_checkpoint"]


def init_from_checkpoint(ckpt_dir_or_file, assignment_map) -> None:
    """Makes variables' initializers load values from a checkpoint (TF1 `tf.train.init_from_checkpoint`).

    >>> tf.train.init_from_checkpoint("ckpt", {"dense/kernel": "new/dense/kernel"})
    >>> tf.train.init_from_checkpoint("ckpt", {"old_scope/": "new_scope/"})
    >>> tf.train.init_from_checkpoint("ckpt", {"/": "new_scope/"})   # everything, under new_scope
    >>> tf.train.init_from_checkpoint("ckpt", {"w": w_variable})

    Raises ValueError when a tensor is not in the checkpoint, a shape differs, or
    a scope maps to a tensor name.
    """
    prefix = _checkpoint_prefix(ckpt_dir_or_file)
    shapes = load_checkpoint(prefix).get_variable_to_shape_map()
    store = variable_scope._get_default_variable_store().vars
    pairs = assignment_map.items() if isinstance(assignment_map, Mapping) else assignment_map
    for ckpt_name, target in sorted(pairs, key=lambda pair: pair[0]):
        variable = target if isinstance(target, Variable) else store.get(target)
        if variable is not None:
            _check_in(shapes, ckpt_name, ckpt_dir_or_file)
            _set_initializer(variable, prefix, ckpt_name, shapes)
            continue
        if isinstance(target, list | tuple):
            raise ValueError(f"init_from_checkpoint: partitioned variables are not supported ({ckpt_name!r})")
        for name, tensor_name in _scope_pairs(ckpt_name, target, store):
            if tensor_name not in shapes:
                short = name[len(target) :] if target != "/" else name
                raise ValueError(
                    f"Tensor {tensor_name} ({short} in {ckpt_name}) is not found in {ckpt_dir_or_file} checkpoint"
                )
            _set_initializer(store[name], prefix, tensor_name, shapes)


def _check_in(shapes: dict, ckpt_name: str, where) -> None:
    if ckpt_name not in shapes:
        raise ValueError(f"Tensor {ckpt_name} is not found in {where} checkpoint {shapes}")


def _scope_pairs(ckpt_scope: str, scope_or_name: str, store: dict) -> list[tuple[str, str]]:
    """(variable name, checkpoint tensor name) for a scope-to-scope mapping, TF's rules."""
    scope = scope_or_name[: scope_or_name.rindex("/")] if "/" in scope_or_name else ""
    if not ckpt_scope.endswith("/"):
        raise ValueError(
            f"Assignment map with scope only name {scope} should map to scope only {ckpt_scope}. "
            "Should be 'scope/': 'other_scope/'."
        )
    pairs = []
    for name in sorted(store):
        if scope and not name.startswith(scope + "/"):
            continue
        tensor_name = name[len(scope) :]
        if scope_or_name != "/":
            tensor_name = tensor_name[1:]
        if ckpt_scope != "/":
            tensor_name = ckpt_scope + tensor_name
        pairs.append((name, tensor_name.rstrip("/")))
    return pairs


def _set_initializer(variable: Variable, prefix: str, tensor_name: str, shapes: dict) -> None:
    if not variable.shape.is_compatible_with(shapes[tensor_name]):
        raise ValueError(
            f"Shape of variable {variable.name} ({variable.shape}) doesn't match with shape of tensor "
            f"{tensor_name} ({shapes[tensor_name]}) from checkpoint reader."
        )
    graph = variable.graph
    with graph.as_default(), control_dependencies(None), device(variable.device or None):
        with graph.name_scope(variable.op.name + "/"):
            inputs = [api.constant(prefix), api.constant([tensor_name]), api.constant([""])]
            (restored,) = build(
                "RestoreV2", inputs, {"dtypes": (variable.dtype,)}, name="checkpoint_initializer"
            )
            with graph.colocate_with(variable.op):
                init = api.assign(variable._ref(), restored, name="Assign_checkpoint").op
    variable._initializer_op = init
    variable._initial_value = restored
