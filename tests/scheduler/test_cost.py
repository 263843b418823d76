"""Static cost estimates come from the op declarations: cost.py names no op type."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

import raygraph as tf
from ops import registry
from scheduler.engine import cost


def test_the_cost_module_names_no_op_type():
    tree = ast.parse(inspect.getsource(cost))
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not strings & set(registry.registered_ops())
    assert not {s for s in strings if s.isidentifier() and s[:1].isupper()}  # nor one that is not registered


def test_every_per_element_cost_has_a_rate():
    assert set(cost._PER_ELEMENT) == set(registry.COSTS) - {"free", "flops"}


def test_estimates_follow_the_declared_cost():
    a = tf.placeholder(tf.float32, [1024, 1024], name="a")
    n = 1024 * 1024
    assert cost.estimate_us(tf.matmul(a, a).op) == pytest.approx(2 * 1024**3 / cost.FLOPS_PER_US)
    assert cost.estimate_us(tf.matmul(a[:, :8], a[:8, :], transpose_a=False).op) == pytest.approx(
        2 * n * 8 / cost.FLOPS_PER_US
    )
    assert cost.estimate_us(tf.exp(a).op) == pytest.approx(cost.TRANSCENDENTAL * n / cost.ELEMENTS_PER_US)
    assert cost.estimate_us(tf.add(a, a).op) == pytest.approx(n / cost.ELEMENTS_PER_US)
    assert cost.estimate_us(tf.reshape(a, [-1]).op) == 0.0


def test_a_convolution_and_its_gradients_cost_their_arithmetic():
    x = tf.placeholder(tf.float32, [8, 32, 32, 16], name="x")
    w = tf.constant(np.ones((3, 3, 16, 32), np.float32), name="w")
    y = tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")
    dx, dw = tf.gradients(tf.reduce_sum(y), [x, w])
    flops = 2.0 * (8 * 32 * 32 * 32) * (3 * 3 * 16)
    for t in (y, dx, dw):
        assert t.op.type.startswith("Conv2D")
        assert cost.estimate_us(t.op) == pytest.approx(flops / cost.FLOPS_PER_US), t.op.type
