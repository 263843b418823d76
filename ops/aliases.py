"""TensorFlow's pre-1.0 names, kept by old programs: tf.pack, tf.concat_v2, tf.merge_summary... (the pre-1.0 summary functions live in ops.summary)

Each calls the current function with the old argument order; no op types.
"""

from __future__ import annotations

from ops import api as tf
from ops.registry import api_function

_summary = tf._Namespace("summary.")


@api_function("concat_v2")
def concat_v2(values, axis, name="concat_v2"):
    """The pre-1.0 `tf.concat(values, axis)` (the order tf.concat has now)."""
    return tf.concat(values, axis, name=name)


@api_function("pack")
def pack(values, axis=0, name="pack"):
    """The pre-1.0 name of `tf.stack`."""
    return tf.stack(values, axis=axis, name=name)


@api_function("unpack")
def unpack(value, num=None, axis=0, name="unpack"):
    """The pre-1.0 name of `tf.unstack`."""
    return tf.unstack(value, num=num, axis=axis, name=name)


@api_function("sub")
def sub(x, y, name=None):
    """The pre-1.0 name of `tf.subtract`."""
    return tf.subtract(x, y, name=name)


@api_function("mul")
def mul(x, y, name=None):
    """The pre-1.0 name of `tf.multiply`."""
    return tf.multiply(x, y, name=name)


@api_function("neg")
def neg(x, name=None):
    """The pre-1.0 name of `tf.negative`."""
    return tf.negative(x, name=name)


@api_function("merge_summary")
def merge_summary(inputs, collections=None, name=None):
    """The pre-1.0 `tf.summary.merge(inputs)`."""
    return _summary.merge(inputs, collections=collections, name=name)


@api_function("merge_all_summaries")
def merge_all_summaries(key="summaries"):
    """The pre-1.0 `tf.summary.merge_all()`."""
    return _summary.merge_all(key=key)


@api_function("batch_svd")
def batch_svd(tensor, compute_uv=True, full_matrices=False, name=None):
    """The pre-1.0 name of `tf.svd` (which takes batches of matrices): `s, u, v = tf.batch_svd(x)`."""
    return tf.svd(tensor, full_matrices=full_matrices, compute_uv=compute_uv, name=name)
