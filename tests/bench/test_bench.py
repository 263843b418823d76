"""The benchmark code runs (no timing is asserted: bench/ measures, tests check correctness).

The workloads run raygraph on Ray actors, as the benchmarks do: that test requests
`ray_cluster`, and is `slow` (it builds and steps every benchmark).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import runner, workloads


@pytest.mark.slow
@pytest.mark.usefixtures("ray_cluster")
@pytest.mark.parametrize("name", sorted(workloads.WORKLOADS))
def test_every_workload_steps_in_raygraph_and_numpy(name):
    workload = workloads.WORKLOADS[name]
    for impl in ("raygraph", "numpy"):
        step = workload.make(impl)
        if step is None:
            continue
        step()
        getattr(step, "sync", lambda: None)()


def test_the_numpy_mlp_step_is_the_graphs_step():
    """The hand-written baseline computes what the graph computes (one SGD step)."""
    import raygraph as tf

    xs, ys, weights = workloads._mlp_data()
    params = [(w.copy(), b.copy()) for w, b in weights]
    workloads.numpy_mlp_step(params, xs[0], ys[0], workloads.MLP_LR)
    x, y, train = workloads._mlp_graph(tf, weights)
    variables = tf.trainable_variables()
    with tf.Session("local") as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: xs[0], y: ys[0]})
        after = sess.run(variables)
    expected = [a for pair in params for a in pair]
    for got, want in zip(after, expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_table_and_write(tmp_path):
    results = {("tiny", "raygraph"): 100e-6, ("tiny", "numpy"): 1e-6}
    text = runner.table(results, ["tiny"])
    assert "| tiny | per run | 100.0 us | 1.0 us | 100.00x |" in text
    path = tmp_path / "B.md"
    path.write_text("# Benchmarks\n\nkept\n")
    runner.write(text, str(path))
    runner.write(text, str(path))  # a second write replaces the block
    content = path.read_text()
    assert content.count(runner.BEGIN) == 1 and "kept" in content
