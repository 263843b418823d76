"""Facts the registry records about every op: its cost, built-in or user, its table row.

The scheduler reads these facts from the registry and names no op type itself
(tests/scheduler/test_cost.py), so they are checked here, where they are declared.
"""

from __future__ import annotations

import pytest

import ops
import raygraph as tf
from ops import registry


class TwiceForFacts(tf.Op):
    """x * 2: a user op, declared outside the built-in families."""

    inputs = ("x",)

    def infer(x):
        return x.dtype, x.shape

    def kernel(xp, x):
        return x * 2


def test_the_ops_of_every_family_are_builtin():
    ops.load_all()
    for op_type, cls in registry.registered_ops().items():
        if cls.__module__.startswith("ops."):
            assert registry.is_builtin(op_type), op_type
    assert {"MatMul", "Exp", "StridedSlice", "Conv2D", "NoOp", "VariableV2"} <= {
        t for t in registry.registered_ops() if registry.is_builtin(t)
    }


def test_an_op_declared_elsewhere_is_a_user_op():
    assert not registry.is_builtin("TwiceForFacts")


def test_every_op_declares_a_known_cost():
    for op_type, cls in registry.registered_ops().items():
        assert cls.cost in registry.COSTS, op_type
        if cls.cost == "flops":
            assert callable(cls.flops), op_type


def test_a_cost_typo_fails_at_declaration():
    with pytest.raises(ValueError, match="has cost 'cheap'"):

        class CheapTypo(tf.Op):
            inputs = ("x",)
            cost = "cheap"

            def infer(x):
                return x.dtype, x.shape

            def kernel(xp, x):
                return x

    with pytest.raises(TypeError, match="does not define flops"):

        class FlopsMissing(tf.Op):
            inputs = ("x",)
            cost = "flops"

            def infer(x):
                return x.dtype, x.shape

            def kernel(xp, x):
                return x

    assert "CheapTypo" not in registry.registered_ops()
    assert "FlopsMissing" not in registry.registered_ops()


def test_a_table_row_is_where_its_op_is_declared():
    path, line = registry.get("Tanh").defined_at.rsplit(":", 1)
    assert path.endswith("math_unary.py") and registry.get("Tanh").__module__ == "ops.math_unary"
    with open(path) as f:
        assert '"Tanh"' in f.read().splitlines()[int(line) - 1]


def test_a_second_row_for_one_op_type_names_both_lines():
    from ops.math_unary import unary

    with pytest.raises(
        KeyError,
        match=r"'Exp' is declared twice: at .*test_registry_facts.py:\d+ and first at .*math_unary.py:\d+",
    ):
        unary("Exp", "exp_again", "exp", "float", None, "e ** x, once more.")
    assert "exp_again" not in registry._API
