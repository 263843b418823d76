"""Stateful ops: variables and their assignments.

A variable's value lives in the device actor that holds it, in the session's
state, keyed by the VariableV2 op's name; it survives between runs. Assign ops
take the variable by reference (`ref_inputs`): their kernel receives the
variable's name, and the variable is not read to run them, so an uninitialized
variable can be initialized.
"""

from __future__ import annotations

from ops.registry import REQUIRED, Op
from raygraph.shapes import as_shape, format_shape


class VariableV2(Op):
    """A mutable tensor that keeps its value between runs (see raygraph.Variable)."""

    attrs = {"shape": REQUIRED, "dtype": REQUIRED, "container": "", "shared_name": ""}
    stateful = True
    read_at_use = True
    cost = "free"

    def infer(shape, dtype, container, shared_name):
        return dtype, as_shape(shape)

    def kernel(ctx, shape, dtype, container, shared_name):
        return ctx.read_variable(shared_name or ctx.node_name)


class _Update(Op, register=False):
    inputs = ("ref", "value")
    ref_inputs = ("ref",)
    same_dtype = ("ref", "value")
    stateful = True
    differentiable = False

    def infer(ref, value, **attrs):
        if attrs.get("validate_shape", True) and not ref.shape.is_compatible_with(value.shape):
            raise ValueError(
                f"cannot assign a value of shape {format_shape(value.shape)} to variable "
                f"{ref.op.name!r} of shape {format_shape(ref.shape)}"
            )
        shape = value.shape if not attrs.get("validate_shape", True) else ref.shape
        return ref.dtype, shape


class Assign(_Update):
    """Sets the variable to `value`; outputs the new value."""

    api = "assign"
    attrs = {"validate_shape": True, "use_locking": True}

    def kernel(ctx, ref, value, validate_shape, use_locking):
        return ctx.assign_variable(ref, value, validate_shape)


class AssignAdd(_Update):
    """Adds `value` to the variable; outputs the new value."""

    api = "assign_add"
    attrs = {"use_locking": False}

    def kernel(ctx, ref, value, use_locking):
        return ctx.assign_variable(ref, ctx.read_variable(ref) + value, True)


class AssignSub(_Update):
    """Subtracts `value` from the variable; outputs the new value."""

    api = "assign_sub"
    attrs = {"use_locking": False}

    def kernel(ctx, ref, value, use_locking):
        return ctx.assign_variable(ref, ctx.read_variable(ref) - value, True)
