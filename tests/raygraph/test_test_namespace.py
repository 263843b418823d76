"""tf.test, tf.sysconfig and the version names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import raygraph
import raygraph as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class SessionsTest(tf.test.TestCase):
    def test_session_runs_locally_in_a_fresh_graph(self):
        assert tf.get_default_graph().get_operations() == []
        with self.session() as sess:
            assert sess._target == "local"
            assert tf.get_default_session() is sess
            self.assertAllClose(sess.run(tf.square([2.0, 3.0])), [4.0, 9.0])

    def test_cached_session_is_one_per_test(self):
        x = tf.constant([1, 2])
        with self.cached_session() as first:
            self.assertAllEqual(first.run(x), [1, 2])
        with self.cached_session() as second, self.test_session() as third:
            assert first is second is third
        self.assertAllEqual(self.evaluate(x * 2), [2, 4])
        self.assertAllEqual(x.eval(session=first), [1, 2])

    def test_session_for_another_graph(self):
        graph = tf.Graph()
        with graph.as_default():
            c = tf.constant(5.0)
        with self.session(graph=graph) as sess:
            assert sess.graph is graph
            self.assertNear(sess.run(c), 5.0, 0.0)

    def test_assertions(self):
        self.assertAllClose([1.0, 2.0], np.array([1.0, 2.0 + 1e-7]))
        self.assertAllClose({"a": [1.0], "b": (2.0, [3.0, 4.0])}, {"a": [1.0], "b": (2.0, [3.0, 4.0])})
        self.assertNotAllClose([1.0], [1.1])
        with self.assertRaises(AssertionError):
            self.assertAllClose([1.0, 2.0], [1.0, 2.1])
        with self.assertRaises(AssertionError):
            self.assertAllClose([1.0, 2.0], [[1.0, 2.0]])  # shapes differ
        self.assertAllEqual([[1, 2]], np.array([[1, 2]]))
        with self.assertRaises(AssertionError):
            self.assertAllEqual([1, 2], [1, 3])
        self.assertAllInRange([0.0, 0.5, 1.0], 0.0, 1.0)
        with self.assertRaises(AssertionError):
            self.assertAllInRange([0.0, 1.0], 0.0, 1.0, open_upper_bound=True)
        self.assertAllLess([1, 2], 3)
        self.assertAllGreater([1, 2], 0)
        self.assertArrayNear([1.0, 2.0], [1.05, 2.0], 0.1)
        self.assertShapeEqual(np.zeros((2, 3)), tf.zeros([2, 3]))
        self.assertDTypeEqual(np.zeros(2, np.float32), tf.float32)
        assert os.path.isdir(self.get_temp_dir())


def test_testcase_sessions_fail_without_a_fresh_graph_reset():
    """Each test of a TestCase starts in a new default graph (setUp resets it)."""
    tf.constant(1.0)
    case = SessionsTest("test_session_runs_locally_in_a_fresh_graph")
    result = case.run()
    assert result.wasSuccessful(), result.failures + result.errors


def test_main_runs_the_tests_of_main(tmp_path):
    script = tmp_path / "some_test.py"
    script.write_text(
        textwrap.dedent(
            """
            import raygraph as tf
            tf.flags.DEFINE_integer("size", 2, "")

            class T(tf.test.TestCase):
                def test_size(self):
                    with self.session() as sess:
                        self.assertAllEqual(sess.run(tf.ones([tf.flags.FLAGS.size])), [1.0] * 3)

            if __name__ == "__main__":
                tf.test.main()
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run(
        [sys.executable, str(script), "--size=3"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Ran 1 test" in done.stderr and "OK" in done.stderr


def test_gpu_queries_agree_with_cupy():
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - no cupy, no driver, or no device
        count = 0
    assert tf.test.is_gpu_available() == (count > 0)
    assert tf.test.is_gpu_available(cuda_only=True, min_cuda_compute_capability=(99, 0)) is False
    assert tf.test.gpu_device_name() == ("/device:GPU:0" if count else "")
    assert isinstance(tf.test.is_built_with_cuda(), bool)
    assert tf.test.is_built_with_rocm() is False


def test_versions():
    assert tf.VERSION == tf.version.VERSION == "1.15.0"
    assert tf.VERSION.startswith("1.") and tuple(map(int, tf.VERSION.split("."))) >= (1, 4, 0)
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        (project_version,) = re.findall(r'^version = "(.*)"$', f.read(), re.M)
    assert raygraph.__version__ == tf.version.RAYGRAPH_VERSION == project_version
    assert raygraph.__version__ in tf.GIT_VERSION
    assert isinstance(tf.COMPILER_VERSION, str) and tf.COMPILER_VERSION
    assert isinstance(tf.GRAPH_DEF_VERSION, int)


def test_sysconfig():
    assert os.path.samefile(tf.sysconfig.get_lib(), os.path.dirname(raygraph.__file__))
    for fn in (tf.sysconfig.get_include, tf.sysconfig.get_compile_flags, tf.sysconfig.get_link_flags):
        with pytest.raises(tf.errors.UnimplementedError, match="no C\\+\\+ headers or library"):
            fn()
