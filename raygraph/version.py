"""`tf.VERSION` and friends: the TensorFlow API level raygraph implements, and raygraph's own.

    >>> tf.VERSION            # the TensorFlow 1.x API that `import raygraph as tf` stands in for
    '1.15.0'
    >>> tf.__version__        # the raygraph package, as pip and bug reports know it
    '0.1.0'

In TensorFlow, `tf.VERSION == tf.__version__`. raygraph splits them on purpose:

- `VERSION` (also `tf.version.VERSION`) is "1.15.0", the TensorFlow 1.x release
  whose graph API, names and argument names raygraph follows. TF1 programs that
  gate features on the API level (`LooseVersion(tf.VERSION) >= "1.4"`) take
  their TF1 paths.
- `__version__` stays raygraph's own release ("0.1.0", pyproject.toml's
  version, what `importlib.metadata.version("raygraph")` says), because Python
  tooling, pinned requirements and bug reports read it. A program that checks
  `tf.__version__.startswith("1.")` sees "0.1.0" and must check `tf.VERSION`
  instead: a one-line change that says which API it means.
- `GIT_VERSION` is "raygraph-<version>", `COMPILER_VERSION` the compiler of the
  Python running it (raygraph compiles no code of its own); GRAPH_DEF_VERSION and
  friends keep TensorFlow 1.15's numbers for programs that print them.
"""

from __future__ import annotations

import platform

__all__ = ["COMPILER_VERSION", "GIT_VERSION", "GRAPH_DEF_VERSION", "VERSION"]

RAYGRAPH_VERSION = "0.1.0"
VERSION = "1.15.0"
GIT_VERSION = f"raygraph-{RAYGRAPH_VERSION}"
COMPILER_VERSION = platform.python_compiler()
GRAPH_DEF_VERSION = 134
GRAPH_DEF_VERSION_MIN_CONSUMER = 0
GRAPH_DEF_VERSION_MIN_PRODUCER = 0
