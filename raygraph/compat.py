"""`tf.compat.v1`: raygraph itself, so `tf.compat.v1.Session` and friends resolve.

Programs written for TensorFlow 2's `tf.compat.v1` run by changing
`import tensorflow as tf` to `import raygraph as tf`.
"""

import raygraph as v1  # noqa: F401 - raygraph is being initialized; the module object is complete later
