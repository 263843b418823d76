"""`tf.test`: TensorFlow 1.x's TestCase, `tf.test.main` and the GPU queries.

    class SquareTest(tf.test.TestCase):
        def test_square(self):
            with self.session() as sess:             # tf.Session("local"), this test's graph
                y = sess.run(tf.square([2.0, 3.0]))
            self.assertAllClose(y, [4.0, 9.0])

    if __name__ == "__main__":
        tf.test.main()

`TestCase` is a `unittest.TestCase` (so pytest runs it too). Each test starts
in a fresh default graph. Its sessions run on `TestCase.session_target`,
"local" (this process, no Ray) unless a test class sets "" for Ray actors.
`cached_session()` gives the same session for the whole test (closed in
tearDown); `session()` a new one each time; `test_session()` is TF1's older name.

raygraph's GPU path is cupy: `is_built_with_cuda()` says whether cupy is
installed, `is_gpu_available()` whether it sees a CUDA device (of at least
`min_cuda_compute_capability`, if given).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import shutil
import sys
import tempfile
import unittest

import numpy as np

from raygraph import flags
from raygraph.graph import Graph, reset_default_graph
from raygraph.session import Session

__all__ = [
    "TestCase",
    "get_temp_dir",
    "gpu_device_name",
    "is_built_with_cuda",
    "is_built_with_gpu_support",
    "is_built_with_rocm",
    "is_gpu_available",
    "main",
]


def main(argv: list[str] | None = None) -> None:
    """Runs the tests of `__main__`, as `unittest.main`, after absl parsed the flags it knows."""
    rest = flags.FLAGS(sys.argv if argv is None else argv, known_only=True)
    unittest.main(module="__main__", argv=rest, testLoader=_Loader())


class _Loader(unittest.TestLoader):
    """unittest's loader, less the helpers whose names start with "test" (test_session)."""

    def getTestCaseNames(self, testCaseClass):  # noqa: N802 - unittest's name
        names = super().getTestCaseNames(testCaseClass)
        return [n for n in names if getattr(getattr(testCaseClass, n), "__test__", True)]


@functools.cache
def _temp_root() -> str:
    root = tempfile.mkdtemp(prefix="raygraph-test-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)  # as TensorFlow's: gone at exit
    return root


def get_temp_dir() -> str:
    """A temporary directory for this test process (made once, removed when the process exits)."""
    return _temp_root()


def _cuda_capabilities() -> list[tuple[int, int]]:
    """(major, minor) of every CUDA device cupy sees; [] without cupy, driver or device."""
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
        caps = [cupy.cuda.Device(i).compute_capability for i in range(count)]  # e.g. "90"
    except Exception:  # noqa: BLE001 - no cupy, no driver, or no device
        return []
    return [(int(c[:-1]), int(c[-1])) for c in caps]


def is_built_with_cuda() -> bool:
    """Whether raygraph's CUDA path (cupy) is installed."""
    return importlib.util.find_spec("cupy") is not None


def is_built_with_gpu_support() -> bool:
    """Same as is_built_with_cuda(): cupy is raygraph's only GPU path."""
    return is_built_with_cuda()


def is_built_with_rocm() -> bool:
    """False: raygraph has no ROCm path."""
    return False


def is_gpu_available(cuda_only: bool = False, min_cuda_compute_capability: tuple | None = None) -> bool:
    """Whether a CUDA device is usable, of compute capability >= `min_cuda_compute_capability`.

    >>> tf.test.is_gpu_available(min_cuda_compute_capability=(7, 0))
    False
    """
    minimum = tuple(min_cuda_compute_capability or (0, 0))
    return any(cap >= minimum for cap in _cuda_capabilities())


def gpu_device_name() -> str:
    """ "/device:GPU:0" when a GPU is available, else ""."""
    return "/device:GPU:0" if is_gpu_available() else ""


class TestCase(unittest.TestCase):
    """A unittest.TestCase with TensorFlow 1.x's session helpers and array assertions."""

    session_target = "local"

    def setUp(self) -> None:
        super().setUp()
        reset_default_graph()
        self._cached_session: Session | None = None

    def tearDown(self) -> None:
        if getattr(self, "_cached_session", None) is not None:
            self._cached_session.close()
            self._cached_session = None
        super().tearDown()

    # -- sessions --
    @contextlib.contextmanager
    def session(
        self, graph: Graph | None = None, config=None, use_gpu: bool = False, force_gpu: bool = False
    ):
        """A new Session on `session_target` for `graph` (default: the default graph), made default.

        `use_gpu` and `force_gpu` are accepted for TF1 tests; placement follows the graph.
        """
        sess = Session(self.session_target, graph=graph, config=config)
        with sess.graph.as_default(), sess.as_default():
            try:
                yield sess
            finally:
                sess.close()

    @contextlib.contextmanager
    def cached_session(
        self, graph: Graph | None = None, config=None, use_gpu: bool = False, force_gpu: bool = False
    ):
        """The test's one Session (made on first use, closed in tearDown), made default."""
        if self._cached_session is None:
            self._cached_session = Session(self.session_target, graph=graph, config=config)
        elif graph is not None and graph is not self._cached_session.graph:
            raise ValueError(
                "The cached session was made for another graph; use self.session(graph) instead."
            )
        sess = self._cached_session
        with sess.graph.as_default(), sess.as_default():
            yield sess

    def test_session(
        self, graph: Graph | None = None, config=None, use_gpu: bool = False, force_gpu: bool = False
    ):
        """TF1's older name: cached_session() without a graph, session(graph) with one."""
        if graph is None:
            return self.cached_session(config=config, use_gpu=use_gpu, force_gpu=force_gpu)
        return self.session(graph, config, use_gpu, force_gpu)

    test_session.__test__ = False  # not a test, despite its name (for pytest)

    def evaluate(self, tensors):
        """The values of `tensors` (any nesting), run in the cached session."""
        with self.cached_session() as sess:
            return sess.run(tensors)

    def get_temp_dir(self) -> str:
        """A temporary directory for this test."""
        return tempfile.mkdtemp(dir=get_temp_dir())

    # -- assertions --
    def assertAllClose(self, a, b, rtol: float = 1e-6, atol: float = 1e-6, msg: str | None = None) -> None:  # noqa: N802
        """a and b (arrays, numbers, or dicts/lists/tuples of them) agree within atol + rtol*|b|."""
        if isinstance(a, dict) or isinstance(b, dict):
            self.assertIsInstance(a, dict, msg)
            self.assertIsInstance(b, dict, msg)
            self.assertEqual(sorted(a), sorted(b), msg)
            for key in a:
                self.assertAllClose(a[key], b[key], rtol, atol, msg)
            return
        a_arr, b_arr = _as_array(a), _as_array(b)
        if a_arr is None or b_arr is None:  # ragged nesting: compare item by item
            self.assertEqual(len(a), len(b), msg)
            for x, y in zip(a, b):
                self.assertAllClose(x, y, rtol, atol, msg)
            return
        self.assertEqual(
            a_arr.shape, b_arr.shape, f"shapes differ: {a_arr.shape} vs {b_arr.shape}. {msg or ''}"
        )
        np.testing.assert_allclose(a_arr, b_arr, rtol=rtol, atol=atol, err_msg=msg or "", equal_nan=True)

    def assertAllEqual(self, a, b, msg: str | None = None) -> None:  # noqa: N802
        """a and b have the same shape and equal elements."""
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        self.assertEqual(
            a_arr.shape, b_arr.shape, f"shapes differ: {a_arr.shape} vs {b_arr.shape}. {msg or ''}"
        )
        np.testing.assert_array_equal(a_arr, b_arr, err_msg=msg or "")

    def assertNotAllClose(self, a, b, **kwargs) -> None:  # noqa: N802
        """The opposite of assertAllClose."""
        try:
            self.assertAllClose(a, b, **kwargs)
        except AssertionError:
            return
        raise AssertionError("The two values are close at all elements")

    def assertAllInRange(  # noqa: N802
        self, target, lower_bound, upper_bound, open_lower_bound: bool = False, open_upper_bound: bool = False
    ) -> None:
        """Every element of `target` lies between the bounds (closed unless said open)."""
        values = np.asarray(target)
        low = values > lower_bound if open_lower_bound else values >= lower_bound
        high = values < upper_bound if open_upper_bound else values <= upper_bound
        outside = values[~(low & high)]
        interval = f"{'(' if open_lower_bound else '['}{lower_bound}, {upper_bound}{')' if open_upper_bound else ']'}"
        if outside.size:
            raise AssertionError(f"{outside.size} element(s) outside {interval}: {outside[:10]}")

    def assertAllLess(self, a, comparison_target) -> None:  # noqa: N802
        """Every element of `a` is less than `comparison_target`."""
        self.assertLess(np.max(a), comparison_target)

    def assertAllGreater(self, a, comparison_target) -> None:  # noqa: N802
        """Every element of `a` is greater than `comparison_target`."""
        self.assertGreater(np.min(a), comparison_target)

    def assertNear(self, f1: float, f2: float, err: float, msg: str | None = None) -> None:  # noqa: N802
        """|f1 - f2| <= err."""
        self.assertTrue(abs(f1 - f2) <= err, f"{f1} != {f2} +/- {err}. {msg or ''}")

    def assertArrayNear(self, farray1, farray2, err: float, msg: str | None = None) -> None:  # noqa: N802
        """Two float lists agree element by element within `err`."""
        self.assertEqual(len(farray1), len(farray2), msg)
        for f1, f2 in zip(farray1, farray2):
            self.assertNear(float(f1), float(f2), err, msg)

    def assertShapeEqual(self, np_array, tf_tensor, msg: str | None = None) -> None:  # noqa: N802
        """The numpy array's shape equals the tensor's static shape."""
        self.assertEqual(list(np.shape(np_array)), tf_tensor.get_shape().as_list(), msg)

    def assertDTypeEqual(self, target, expected_dtype) -> None:  # noqa: N802
        """Every element of `target` has numpy dtype `expected_dtype`."""
        expected = getattr(expected_dtype, "as_numpy_dtype", expected_dtype)
        self.assertEqual(np.asarray(target).dtype, np.dtype(expected))


def _as_array(x):
    """x as a numeric numpy array, or None if it is ragged or not numeric."""
    try:
        arr = np.asarray(x)
    except ValueError:  # ragged
        return None
    return None if arr.dtype == object else arr
