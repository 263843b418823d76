"""Optimizers, fused training ops, the global step and learning-rate schedules.

Covers the ApplyGradientDescent, ApplyMomentum, ApplyAdam, ApplyRMSProp,
ApplyCenteredRMSProp and ApplyAdagrad ops for the registry-wide test table:
each runs several steps against a numpy implementation of TF's update rule.
tests/compat/test_optimizers_vs_tf.py compares whole training runs with TF.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
import pytest

import raygraph as tf
from scheduler.engine.executor import Executor, SessionState
from scheduler.engine.plan import build_plan

# -- the fused ops against numpy, step by step ---------------------------------------


def _np_gradient_descent(s, g, alpha):
    s["var"] -= alpha * g


def _np_momentum(s, g, lr, momentum, nesterov=False):
    s["accum"] = s["accum"] * momentum + g
    s["var"] -= g * lr + s["accum"] * momentum * lr if nesterov else s["accum"] * lr


def _np_adam(s, g, beta1_power, beta2_power, lr, beta1, beta2, epsilon, nesterov=False):
    alpha = lr * np.sqrt(1 - beta2_power) / (1 - beta1_power)
    s["m"] += (g - s["m"]) * (1 - beta1)
    s["v"] += (g * g - s["v"]) * (1 - beta2)
    m = g * (1 - beta1) + beta1 * s["m"] if nesterov else s["m"]
    s["var"] -= m * alpha / (np.sqrt(s["v"]) + epsilon)


def _np_rmsprop(s, g, lr, rho, momentum, epsilon):
    s["ms"] += (g * g - s["ms"]) * (1 - rho)
    s["mom"] = s["mom"] * momentum + g * lr / np.sqrt(s["ms"] + epsilon)
    s["var"] -= s["mom"]


def _np_centered_rmsprop(s, g, lr, rho, momentum, epsilon):
    s["ms"] += (g * g - s["ms"]) * (1 - rho)
    s["mg"] += (g - s["mg"]) * (1 - rho)
    s["mom"] = s["mom"] * momentum + g * lr / np.sqrt(s["ms"] - s["mg"] ** 2 + epsilon)
    s["var"] -= s["mom"]


def _np_adagrad(s, g, lr, update_slots=True):
    if update_slots:
        s["accum"] += g * g
    s["var"] -= g * lr / np.sqrt(s["accum"])


def _adam_hyper(step):
    return {
        "beta1_power": 0.9**step,
        "beta2_power": 0.999**step,
        "lr": 0.01,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-7,
    }


@dataclass
class UpdateSpec:
    op: str
    state: dict  # variable or slot name -> (low, high) of its random initial values
    hyper: object  # step -> {scalar input: value}
    reference: object  # (state, grad, **hyper, **attrs) -> None, updating state
    attrs: dict = field(default_factory=dict)
    grad: str = "grad"
    label: str = ""


RMS_HYPER = {"lr": 0.05, "rho": 0.9, "momentum": 0.5, "epsilon": 1e-6}
SPECS = [
    UpdateSpec(
        "ApplyGradientDescent",
        {"var": (-1, 1)},
        lambda step: {"alpha": 0.1 * step},
        _np_gradient_descent,
        grad="delta",
    ),
    UpdateSpec(
        "ApplyMomentum",
        {"var": (-1, 1), "accum": (-1, 1)},
        lambda step: {"lr": 0.1, "momentum": 0.9},
        _np_momentum,
    ),
    UpdateSpec(
        "ApplyMomentum",
        {"var": (-1, 1), "accum": (-1, 1)},
        lambda step: {"lr": 0.1, "momentum": 0.9},
        lambda s, g, **h: _np_momentum(s, g, nesterov=True, **h),
        {"use_nesterov": True},
        label="nesterov",
    ),
    UpdateSpec("ApplyAdam", {"var": (-1, 1), "m": (-1, 1), "v": (0, 1)}, _adam_hyper, _np_adam),
    UpdateSpec(
        "ApplyAdam",
        {"var": (-1, 1), "m": (-1, 1), "v": (0, 1)},
        _adam_hyper,
        lambda s, g, **h: _np_adam(s, g, nesterov=True, **h),
        {"use_nesterov": True},
        label="nesterov",
    ),
    UpdateSpec(
        "ApplyRMSProp", {"var": (-1, 1), "ms": (0.5, 1), "mom": (-1, 1)}, lambda step: RMS_HYPER, _np_rmsprop
    ),
    UpdateSpec(
        "ApplyCenteredRMSProp",
        {"var": (-1, 1), "mg": (-0.1, 0.1), "ms": (0.5, 1), "mom": (-1, 1)},
        lambda step: RMS_HYPER,
        _np_centered_rmsprop,
    ),
    UpdateSpec("ApplyAdagrad", {"var": (-1, 1), "accum": (0.1, 1)}, lambda step: {"lr": 0.1}, _np_adagrad),
    UpdateSpec(
        "ApplyAdagrad",
        {"var": (-1, 1), "accum": (0.1, 1)},
        lambda step: {"lr": 0.1},
        lambda s, g, **h: _np_adagrad(s, g, update_slots=False, **h),
        {"update_slots": False},
        label="no-slot-update",
    ),
]


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s.op}-{s.label}" if s.label else s.op for s in SPECS])
def test_fused_update_matches_numpy_over_steps(spec: UpdateSpec):
    rng = np.random.default_rng(0)
    initial = {n: rng.uniform(lo, hi, (3, 2)).astype(np.float32) for n, (lo, hi) in spec.state.items()}
    variables = {n: tf.Variable(v, name=n) for n, v in initial.items()}
    grad = tf.placeholder(tf.float32, [3, 2], name="grad")
    hyper = {n: tf.placeholder(tf.float32, [], name=n) for n in spec.hyper(1)}
    out = getattr(tf.raw_ops, spec.op)(**variables, **hyper, **{spec.grad: grad}, **spec.attrs)
    assert out.dtype == tf.float32 and out.shape.as_list() == [3, 2] and out.op.type == spec.op
    expected = {n: v.astype(np.float64) for n, v in initial.items()}
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(1, 6):
            g = rng.normal(size=(3, 2)).astype(np.float32)
            values = spec.hyper(step)
            feed = {grad: g, **{hyper[n]: v for n, v in values.items()}}
            got = sess.run(out, feed)
            spec.reference(expected, g.astype(np.float64), **values)
            np.testing.assert_allclose(got, expected["var"], rtol=1e-5, atol=1e-6)
        final = sess.run(variables)
    for name, value in final.items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_fused_ops_check_shapes_and_scalars_when_built():
    w = tf.Variable(np.zeros((3, 2), np.float32), name="w")
    with pytest.raises(ValueError, match=r"ApplyGradientDescent.*var and delta.*\[3, 2\].*\[2, 3\]"):
        tf.raw_ops.ApplyGradientDescent(var=w, alpha=0.1, delta=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="lr is not a scalar"):
        tf.raw_ops.ApplyAdagrad(var=w, accum=w, lr=[0.1, 0.2], grad=np.zeros((3, 2), np.float32))
    with pytest.raises(TypeError, match="must be a Variable"):
        tf.raw_ops.ApplyGradientDescent(var=w.value(), alpha=0.1, delta=np.zeros((3, 2), np.float32))


def _in_process(graph, state, targets, fetches=()):
    """Runs `targets` with the in-process executor on one device, sharing `state`."""
    plan = build_plan(graph, list(fetches), [], list(targets), lambda ops: {op.name: "/cpu:0" for op in ops})
    (partition,) = plan.partitions.values()
    return Executor(partition, state).run([])


def test_updates_are_in_place_once_the_variable_owns_its_array():
    w = tf.Variable(np.ones(4, np.float32), name="w")
    loss = tf.reduce_sum(w * w)
    train = tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
    graph, state = tf.get_default_graph(), SessionState()
    _in_process(graph, state, [tf.global_variables_initializer()])
    _in_process(graph, state, [train])  # the first step copies w away from its constant
    for _ in range(3):  # weak references: holding the arrays would make them shared
        arrays = {name: weakref.ref(state.variables[name]) for name in ("w", "w/Momentum")}
        _in_process(graph, state, [train])
        assert all(ref() is state.variables[name] for name, ref in arrays.items())
    w_np, accum = np.ones(4), np.zeros(4)
    for _ in range(4):
        accum = accum * 0.9 + 2 * w_np
        w_np = w_np - 0.1 * accum
    np.testing.assert_allclose(state.variables["w"], w_np, rtol=1e-6)
    held = state.variables["w"]  # now someone else holds the array: the next step copies
    before = held.copy()
    _in_process(graph, state, [train])
    assert state.variables["w"] is not held
    np.testing.assert_array_equal(held, before)


def test_updates_never_touch_arrays_shared_with_constants_or_other_variables():
    init = np.array([1.0, 2.0], np.float32)
    w = tf.Variable(init, name="w")
    v = tf.Variable(np.zeros(2, np.float32), name="v")
    copy = v.assign(w)
    train = tf.train.GradientDescentOptimizer(0.5).minimize(tf.reduce_sum(w * w), var_list=[w])
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(copy)
        for _ in range(3):
            sess.run(train)
        np.testing.assert_array_equal(sess.run(v), init)
        np.testing.assert_array_equal(sess.run(w), init * 0.0)
        sess.run(w.initializer)
        np.testing.assert_array_equal(sess.run(w), init)
    graph, state = tf.get_default_graph(), SessionState()
    _in_process(graph, state, [tf.global_variables_initializer()])
    _in_process(graph, state, [copy.op])
    _in_process(graph, state, [train])
    np.testing.assert_array_equal(state.variables["v"], init)
    np.testing.assert_array_equal(w.initial_value.op.attrs["value"], init)


def test_every_update_sees_the_gradients_of_the_values_before_the_step():
    a = tf.Variable([1.0, 2.0], name="a")
    b = tf.Variable([3.0, -1.0], name="b")
    loss = tf.reduce_sum(a * b)  # d/da = b and d/db = a: each reads the other
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    update_ops = [op for op in tf.get_default_graph().get_operations() if op.type == "ApplyGradientDescent"]
    assert all(op.control_inputs for op in update_ops)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        got_a, got_b = sess.run([a, b])
    np.testing.assert_allclose(got_a, [1.0 - 0.3, 2.0 + 0.1])
    np.testing.assert_allclose(got_b, [3.0 - 0.1, -1.0 - 0.2])


# -- optimizers -------------------------------------------------------------------------

OPTIMIZERS = {
    "GradientDescent": lambda: tf.train.GradientDescentOptimizer(0.1),
    "Momentum": lambda: tf.train.MomentumOptimizer(0.05, momentum=0.9),
    "Nesterov": lambda: tf.train.MomentumOptimizer(0.05, momentum=0.9, use_nesterov=True),
    "Adam": lambda: tf.train.AdamOptimizer(0.1),
    "RMSProp": lambda: tf.train.RMSPropOptimizer(0.05),
    "RMSPropMomentum": lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.5),
    "CenteredRMSProp": lambda: tf.train.RMSPropOptimizer(0.02, centered=True),
    "Adagrad": lambda: tf.train.AdagradOptimizer(0.5),
}


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_each_optimizer_minimizes_a_quadratic(make):
    target = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    w = tf.Variable(np.zeros((2, 2), np.float32), name="w")
    b = tf.Variable(0.0, name="b")
    diff = w + b - target
    loss = tf.reduce_sum(diff * diff)
    train = make().minimize(loss)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss)
        for _ in range(150):
            sess.run(train)
        last = sess.run(loss)
    assert last < 0.02 * first, (first, last)


SLOTS = {
    "GradientDescent": ({}, []),
    "Momentum": ({"momentum": "Momentum"}, []),
    "Adam": ({"m": "Adam", "v": "Adam_1"}, ["beta1_power", "beta2_power"]),
    "RMSProp": ({"rms": "RMSProp", "momentum": "RMSProp_1"}, []),
    "CenteredRMSProp": ({"rms": "RMSProp", "mg": "RMSProp_1", "momentum": "RMSProp_2"}, []),
    "Adagrad": ({"accumulator": "Adagrad"}, []),
}


@pytest.mark.parametrize("kind", SLOTS)
def test_slots_are_named_and_kept_as_in_tensorflow(kind):
    slots, extras = SLOTS[kind]
    w = tf.Variable(np.ones((2, 3), np.float32), name="w")
    a = tf.Variable(np.ones(3, np.float32), name="layer/a")
    with tf.name_scope("train"):
        opt = OPTIMIZERS[kind]()
        train = opt.minimize(tf.reduce_sum(w * a))
    assert train.type == "NoOp" and train.name == f"train/{opt.get_name()}"
    assert tf.get_collection(tf.GraphKeys.TRAIN_OP) == [train]
    assert opt.get_slot_names() == sorted(slots)
    expected = [f"train/{e}:0" for e in extras]
    for var in (w, a):
        for slot_name, suffix in slots.items():
            slot = opt.get_slot(var, slot_name)
            assert slot.name == f"{var.op.name}/{suffix}:0"
            assert slot.shape == var.shape and slot.dtype == var.dtype and not slot.trainable
            assert slot.op.colocation_groups == [var.op.name]
            expected.append(slot.name)
    assert opt.get_slot(w, "nonexistent") is None
    assert sorted(v.name for v in opt.variables()) == sorted(expected)
    assert tf.trainable_variables() == [w, a]
    assert [v.name for v in tf.global_variables()] == ["w:0", "layer/a:0"] + [
        v.name for v in tf.global_variables()[2:]
    ]
    assert {v.name for v in tf.global_variables()[2:]} == set(expected)
    updates = [op for op in tf.get_default_graph().get_operations() if op.type.startswith("Apply")]
    assert [op.name for op in updates] == [
        f"train/{opt.get_name()}/update_w/{updates[0].type}",
        f"train/{opt.get_name()}/update_layer/a/{updates[0].type}",
    ]


def test_slot_initial_values_follow_tensorflow():
    w = tf.Variable(np.full(2, 5.0, np.float32), name="w")
    loss = tf.reduce_sum(w)
    rms = tf.train.RMSPropOptimizer(0.1, centered=True)
    ada = tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.25)
    adam = tf.train.AdamOptimizer(0.1, beta1=0.8, beta2=0.7)
    for opt in (rms, ada, adam):
        opt.minimize(loss)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        values = sess.run(
            {
                "rms": rms.get_slot(w, "rms"),
                "mg": rms.get_slot(w, "mg"),
                "acc": ada.get_slot(w, "accumulator"),
                "m": adam.get_slot(w, "m"),
                "powers": adam._get_beta_accumulators(),
            }
        )
    np.testing.assert_array_equal(values["rms"], [1.0, 1.0])  # TF1's RMSProp starts rms at one
    np.testing.assert_array_equal(values["mg"], [0.0, 0.0])
    np.testing.assert_array_equal(values["acc"], [0.25, 0.25])
    np.testing.assert_array_equal(values["m"], [0.0, 0.0])
    np.testing.assert_allclose(values["powers"], [0.8, 0.7])


def test_adam_scales_its_beta_powers_after_each_step():
    w = tf.Variable([1.0, -1.0], name="w")
    opt = tf.train.AdamOptimizer(0.01)
    train = opt.minimize(tf.reduce_sum(w * w))
    beta1_power, beta2_power = opt._get_beta_accumulators()
    assert beta1_power.name == "beta1_power:0" and not beta1_power.trainable
    assert beta1_power.op.colocation_groups == ["w"]
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train)
        np.testing.assert_allclose(sess.run([beta1_power, beta2_power]), [0.9**4, 0.999**4], rtol=1e-6)


def test_a_second_minimize_reuses_slots_and_scopes_apart():
    w = tf.Variable([1.0, 2.0], name="w")
    opt = tf.train.MomentumOptimizer(0.1, 0.9)
    first = opt.minimize(tf.reduce_sum(w * w))
    second = opt.minimize(tf.reduce_sum(w))
    assert (first.name, second.name) == ("Momentum", "Momentum_1")
    assert [v.name for v in opt.variables()] == ["w/Momentum:0"]
    other = tf.train.MomentumOptimizer(0.1, 0.9)
    other.minimize(tf.reduce_sum(w))
    assert other.get_slot(w, "momentum").name == "w/Momentum_1:0"


def test_global_step_is_incremented_after_the_updates():
    w = tf.Variable([1.0, 2.0], name="w")
    step = tf.train.get_or_create_global_step()
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(w * w), global_step=step)
    assert train.type == "AssignAdd" and train.name == "GradientDescent"
    finish = train.control_inputs[0]
    assert finish.name == "GradientDescent/update" and finish.type == "NoOp"
    assert finish.control_inputs[0].type == "ApplyGradientDescent"
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train)
        assert tf.train.global_step(sess, step) == 3
        np.testing.assert_allclose(sess.run(w), np.array([1.0, 2.0]) * 0.8**3, rtol=1e-6)


def test_global_step_variable():
    assert tf.train.get_global_step() is None
    with tf.name_scope("somewhere"):
        step = tf.train.get_or_create_global_step()
    assert step.name == "global_step:0" and step.dtype == tf.int64 and step.shape.as_list() == []
    assert not step.trainable and step in tf.global_variables()
    assert tf.get_collection(tf.GraphKeys.GLOBAL_STEP) == [step]
    assert tf.train.get_global_step() is step and tf.train.get_or_create_global_step() is step
    with pytest.raises(ValueError, match="already exists"):
        tf.train.create_global_step()
    other = tf.Graph()
    assert tf.train.get_global_step(other) is None
    made = tf.train.create_global_step(other)
    assert made.graph is other and tf.train.get_global_step(other) is made
    with tf.Session("local") as sess:
        sess.run(step.initializer)
        assert sess.run(step) == 0


def test_assert_global_step_rejects_what_cannot_count():
    with pytest.raises(TypeError, match="integer"):
        tf.train.assert_global_step(tf.Variable(0.0))
    with pytest.raises(TypeError, match="scalar"):
        tf.train.assert_global_step(tf.Variable(np.zeros(2, np.int64)))
    with pytest.raises(TypeError, match="Variable or Tensor"):
        tf.train.assert_global_step(3)
    tf.train.assert_global_step(tf.Variable(np.int64(0)))


def test_a_tensor_named_global_step_is_found_without_the_collection():
    step = tf.Variable(np.int64(0), trainable=False, name="global_step")
    assert tf.train.get_global_step() is step.op.outputs[0]


def test_none_gradients_are_kept_and_skipped():
    w = tf.Variable([1.0, 2.0], name="w")
    unused = tf.Variable([5.0], name="unused")
    opt = tf.train.AdamOptimizer(0.1)
    pairs = opt.compute_gradients(tf.reduce_sum(w * w))
    assert [v for _, v in pairs] == [w, unused] and pairs[1][0] is None
    train = opt.apply_gradients(pairs)
    assert opt.get_slot(unused, "m") is None
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        np.testing.assert_array_equal(sess.run(unused), [5.0])
    with pytest.raises(ValueError, match=r"No gradients provided for any variable.*'unused:0'"):
        opt.minimize(tf.reduce_sum(w * w), var_list=[unused])
    with pytest.raises(ValueError, match=r"No gradients provided for any variable: .*unused"):
        opt.apply_gradients([(None, unused)])


def test_compute_gradients_options():
    w = tf.Variable([1.0, 2.0], name="w")
    loss = w * w
    opt = tf.train.GradientDescentOptimizer(1.0)
    ((g, v),) = opt.compute_gradients(loss, var_list=[w], grad_loss=tf.constant([1.0, 10.0]))
    ((gated, _),) = opt.compute_gradients(loss, gate_gradients=tf.train.Optimizer.GATE_GRAPH)
    ((from_fn, _),) = opt.compute_gradients(lambda: tf.reduce_sum(w * w))
    assert v is w and gated.op.type == "Identity" and gated.op.control_inputs
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        np.testing.assert_allclose(sess.run(g), [2.0, 40.0])
        np.testing.assert_allclose(sess.run([gated, from_fn]), [[2.0, 4.0], [2.0, 4.0]])


def test_optimizer_errors_speak_tensorflow():
    w = tf.Variable([1.0, 2.0], name="w")
    opt = tf.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="No variables provided"):
        opt.apply_gradients([])
    with pytest.raises(ValueError, match="gate_gradients must be one of"):
        opt.compute_gradients(tf.reduce_sum(w), gate_gradients=7)
    with pytest.raises(ValueError, match="Invalid type int32"):
        opt.compute_gradients(tf.constant(3))
    with pytest.raises(TypeError, match="unsupported type"):
        opt.compute_gradients(tf.reduce_sum(w), var_list=[w.value()])
    with pytest.raises(TypeError, match=r"\(gradient, variable\) pairs"):
        opt.apply_gradients([w])
    with pytest.raises(ValueError, match=r"update_w/ApplyGradientDescent.*shape"):
        opt.apply_gradients([(tf.constant([1.0, 2.0, 3.0]), w)])
    with pytest.raises(ValueError, match="initial_accumulator_value must be positive"):
        tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)
    with pytest.raises(ValueError, match="Must specify the optimizer name"):
        tf.train.GradientDescentOptimizer(0.1, name="")
    tf.reset_default_graph()
    with pytest.raises(ValueError, match="No variables to optimize"):
        opt.compute_gradients(tf.constant(1.0))


def test_hyperparameters_may_be_tensors_callables_and_other_dtypes():
    lr = tf.placeholder(tf.float32, [], name="lr")
    w = tf.Variable([1.0, 2.0], name="w")
    d = tf.Variable(np.array([1.0, 2.0]), name="d")  # float64: the rate is cast
    t1 = tf.train.GradientDescentOptimizer(lr).minimize(tf.reduce_sum(w * w))
    t2 = tf.train.MomentumOptimizer(lambda: tf.constant(0.25), momentum=0.0, use_locking=True).minimize(
        tf.reduce_sum(d * d)
    )
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(t1, {lr: 0.25})
        sess.run(t1, {lr: 0.5})
        sess.run(t2)
        np.testing.assert_allclose(sess.run(w), [0.0, 0.0])
        got = sess.run(d)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, [0.5, 1.0])


# -- learning-rate schedules -------------------------------------------------------------


def _at_steps(lr, step, steps):
    with tf.Session("local") as sess:
        sess.run(step.initializer)
        out = []
        for s in steps:
            step.load(s, sess)
            out.append(sess.run(lr))
    return np.array(out)


STEPS = [0, 1, 5, 9, 10, 11, 25, 99, 100, 101, 250]


def test_exponential_decay_matches_numpy():
    step = tf.train.get_or_create_global_step()
    smooth = tf.train.exponential_decay(0.1, step, 10, 0.5)
    stairs = tf.train.exponential_decay(0.1, step, 10, 0.5, staircase=True, name="stairs")
    assert smooth.op.name == "ExponentialDecay" and stairs.op.name == "stairs"
    assert smooth.dtype == tf.float32 and smooth.shape.as_list() == []
    s = np.array(STEPS, np.float32)
    np.testing.assert_allclose(_at_steps(smooth, step, STEPS), 0.1 * 0.5 ** (s / 10), rtol=1e-6)
    np.testing.assert_allclose(_at_steps(stairs, step, STEPS), 0.1 * 0.5 ** np.floor(s / 10), rtol=1e-6)


def test_inverse_time_and_polynomial_decay_match_numpy():
    step = tf.train.get_or_create_global_step()
    inverse = tf.train.inverse_time_decay(0.1, step, 10, 0.5)
    poly = tf.train.polynomial_decay(0.1, step, 100, end_learning_rate=0.01, power=0.5)
    cyclic = tf.train.polynomial_decay(0.1, step, 100, end_learning_rate=0.01, cycle=True)
    s = np.array(STEPS, np.float64)
    np.testing.assert_allclose(_at_steps(inverse, step, STEPS), 0.1 / (1 + 0.5 * s / 10), rtol=1e-6)
    clipped = np.minimum(s, 100)
    np.testing.assert_allclose(
        _at_steps(poly, step, STEPS), 0.09 * (1 - clipped / 100) ** 0.5 + 0.01, rtol=1e-5
    )
    period = 100 * np.where(s == 0, 1, np.ceil(s / 100))
    np.testing.assert_allclose(_at_steps(cyclic, step, STEPS), 0.09 * (1 - s / period) + 0.01, rtol=1e-5)


def test_piecewise_constant_matches_numpy():
    step = tf.train.get_or_create_global_step()
    lr = tf.train.piecewise_constant(step, [10, 100], [1.0, 0.5, 0.1])
    assert lr.dtype == tf.float32 and lr.op.name == "PiecewiseConstant"
    expected = [1.0 if s <= 10 else 0.5 if s <= 100 else 0.1 for s in STEPS]
    np.testing.assert_array_equal(_at_steps(lr, step, STEPS), np.float32(expected))
    with pytest.raises(ValueError, match="1 less than"):
        tf.train.piecewise_constant(step, [10], [1.0])
    with pytest.raises(ValueError, match="same dtype as x"):
        tf.train.piecewise_constant(step, [1.5], [1.0, 0.5])
    with pytest.raises(ValueError, match="all with the same dtype"):
        tf.train.piecewise_constant(step, [10], [1.0, 2])


def test_schedules_need_a_step_and_drive_an_optimizer():
    with pytest.raises(ValueError, match="global_step is required"):
        tf.train.exponential_decay(0.1, None, 10, 0.5)
    w = tf.Variable([1.0], name="w")
    step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(0.5, step, 1, 0.5, staircase=True)
    train = tf.train.GradientDescentOptimizer(lr).minimize(tf.reduce_sum(w), global_step=step)
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train)
        np.testing.assert_allclose(sess.run(w), [1.0 - 0.5 - 0.25 - 0.125])
