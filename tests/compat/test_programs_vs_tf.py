"""TF1 programs give TensorFlow's numbers when only the import changes.

Each program in programs.py runs with raygraph and with TensorFlow 2.21's
tf.compat.v1 (graph mode) from the same initial values and data; loss
trajectories must agree to float32 rounding (relative error under 2e-3 over the
first 30 steps) and accuracies within a point.
"""

from __future__ import annotations

import numpy as np
import pytest

tensorflow = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402
from tests.compat import programs  # noqa: E402

# Whole TF1 programs through the device actors: the end-to-end check that Ray gives TF's numbers.
pytestmark = [pytest.mark.compat, pytest.mark.usefixtures("ray_cluster")]
tf1 = tensorflow.compat.v1


def relative_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6)))


@pytest.mark.parametrize("target", ["", "local"])
@pytest.mark.parametrize("program", ["linear_regression", "softmax_regression", "mlp_adam", "cnn_momentum"])
def test_training_trajectories_match_tensorflow(program, target):
    fn = getattr(programs, program)
    ours, our_final = fn(raygraph, target=target)
    theirs, their_final = fn(tf1)
    assert len(ours) == len(theirs) == 30
    assert relative_error(ours, theirs) < 2e-3, (ours, theirs)
    if np.ndim(their_final) == 0:  # an accuracy
        assert abs(float(our_final) - float(their_final)) <= 0.01
    else:
        np.testing.assert_allclose(our_final, their_final, rtol=2e-3)


def test_gradients_of_a_mixed_graph_match_tensorflow():
    ours = programs.mixed_gradients(raygraph)
    theirs = programs.mixed_gradients(tf1)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_saver_round_trip_matches_tensorflow(tmp_path):
    (ours, ours_latest) = programs.saver_round_trip(raygraph, str(tmp_path / "rg"))
    (theirs, theirs_latest) = programs.saver_round_trip(tf1, str(tmp_path / "tf"))
    assert ours_latest and theirs_latest
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
