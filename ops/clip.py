"""Gradient clipping by norm: clip_by_norm, global_norm, clip_by_global_norm, clip_by_average_norm.

Built from other ops, as in TensorFlow, so they differentiate and place like
any expression; no op type of their own. The usual training loop:

    grads, variables = zip(*optimizer.compute_gradients(loss))
    grads, norm = tf.clip_by_global_norm(grads, 5.0)
    train_op = optimizer.apply_gradients(zip(grads, variables))

None entries (variables without a gradient) pass through as None.
"""

from __future__ import annotations

from ops import api as tf
from ops.registry import api_function
from raygraph.graph import convert_to_tensor, name_scope


@api_function("clip_by_norm")
def clip_by_norm(t, clip_norm, axes=None, name=None):
    """Scales `t` so that its L2 norm (over `axes`, default all) is at most `clip_norm`.

    >>> tf.clip_by_norm([3.0, 4.0], 1.0)   # [0.6, 0.8]
    """
    with name_scope(name, "clip_by_norm", [t, clip_norm]) as scope:
        t = convert_to_tensor(t, name="t")
        l2sum = tf.reduce_sum(t * t, axes, keepdims=True)
        positive = tf.greater(l2sum, 0.0)
        l2sum_safe = tf.where(positive, l2sum, tf.ones_like(l2sum))  # no NaN gradient at 0
        l2norm = tf.where(positive, tf.sqrt(l2sum_safe), l2sum)
        clip_norm = tf.cast(clip_norm, t.dtype)
        return tf.identity(t * clip_norm / tf.maximum(l2norm, clip_norm), name=scope)


def _check_list(t_list, what: str) -> list:
    if not isinstance(t_list, list | tuple) or isinstance(t_list, str):
        raise TypeError(f"{what} should be a sequence of tensors, got {type(t_list).__name__}")
    return list(t_list)


@api_function("global_norm", "linalg.global_norm")
def global_norm(t_list, name=None):
    """sqrt(sum of the squared L2 norms of the tensors in `t_list`); None entries are ignored."""
    t_list = _check_list(t_list, "t_list")
    with name_scope(name, "global_norm", [t for t in t_list if t is not None]):
        halves = []
        for i, t in enumerate(t_list):
            if t is None:
                continue
            t = convert_to_tensor(t, name=f"t_{i}")
            halves.append(tf.nn.l2_loss(t))
        half_squared_norm = tf.reduce_sum(tf.stack(halves))
        return tf.sqrt(half_squared_norm * 2.0, name="global_norm")


@api_function("clip_by_global_norm")
def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scales every tensor of `t_list` by clip_norm / max(global_norm, clip_norm).

    Returns `(list_clipped, global_norm)`; a NaN or Inf norm makes every entry NaN,
    as in TensorFlow.
    """
    t_list = _check_list(t_list, "t_list")
    if use_norm is None:
        use_norm = global_norm(t_list, name)
    with name_scope(name, "clip_by_global_norm", [t for t in t_list if t is not None] + [clip_norm]):
        clip_norm = tf.cast(clip_norm, use_norm.dtype)
        scale_for_finite = clip_norm * tf.minimum(1.0 / use_norm, tf.ones([], use_norm.dtype) / clip_norm)
        scale = scale_for_finite + (use_norm - use_norm)  # NaN when the norm is not finite
        clipped = []
        for i, t in enumerate(t_list):
            if t is None:
                clipped.append(None)
                continue
            t = convert_to_tensor(t, name=f"t_{i}")
            clipped.append(tf.identity(t * tf.cast(scale, t.dtype), name=f"clipped_{i}"))
        return clipped, use_norm


@api_function("clip_by_average_norm")
def clip_by_average_norm(t, clip_norm, name=None):
    """Scales `t` so that its L2 norm divided by its number of elements is at most `clip_norm`."""
    with name_scope(name, "clip_by_average_norm", [t, clip_norm]) as scope:
        t = convert_to_tensor(t, name="t")
        l2norm_inv = tf.rsqrt(tf.reduce_sum(t * t))
        n = tf.cast(tf.size(t), t.dtype)
        clip_norm = tf.cast(clip_norm, t.dtype)
        return tf.identity(t * clip_norm * tf.minimum(l2norm_inv * n, 1.0 / clip_norm), name=scope)
