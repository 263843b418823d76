"""Several steps per request on Ray actors: the device actor runs K steps of one request.

The semantics are tested on Session("local") (tests/raygraph/test_steps_per_run.py);
here the same programs run on device actors, one and two of them (transfers
between actors keyed per step).
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf
from tests.raygraph.test_steps_per_run import _regression

pytestmark = pytest.mark.usefixtures("ray_cluster")


def _train(steps_per_run, runs, config=None, **devices):
    with tf.Graph().as_default():
        loss, train, w = _regression(**devices)
        options = tf.RunOptions(steps_per_run=steps_per_run)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([loss, train], options=options)[0] for _ in range(runs)]
            with pytest.raises(tf.errors.OutOfRangeError, match="End of sequence"):
                sess.run(train, options=options)
                sess.run(w)  # a train step returns early: its error comes with the next run
            return losses, sess.run(w)


def test_k_steps_on_a_device_actor_match_single_steps():
    single_losses, single_w = _train(1, 8)
    losses, w = _train(4, 2)
    np.testing.assert_allclose(w, single_w, rtol=1e-6)
    np.testing.assert_allclose(losses, [single_losses[3], single_losses[7]], rtol=1e-6)


def test_k_steps_over_two_device_actors_match_single_steps():
    two = tf.ConfigProto(device_count={"CPU": 2})
    single_losses, single_w = _train(1, 8)
    losses, w = _train(4, 2, config=two, data_device="/cpu:0", model_device="/cpu:1")
    np.testing.assert_allclose(w, single_w, rtol=1e-6)
    np.testing.assert_allclose(losses, [single_losses[3], single_losses[7]], rtol=1e-6)
