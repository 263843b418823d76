"""`tf.keras.initializers`: raygraph's initializers under Keras's names, and `get`.

    tf.keras.layers.Dense(10, kernel_initializer="he_normal")
    tf.keras.initializers.glorot_uniform(seed=1)

Keras's "uniform" and "normal" (RandomUniform(-0.05, 0.05), RandomNormal(0, 0.05)) are
the defaults of tf.keras's random initializers; the glorot/he/lecun ones are raygraph's
variance-scaling initializers.
"""

from __future__ import annotations

from raygraph import initializers as _init
from raygraph.initializers import (  # noqa: F401 - re-exported
    Constant,
    GlorotNormal,
    GlorotUniform,
    Initializer,
    Ones,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
    he_normal,
    he_uniform,
    lecun_normal,
    lecun_uniform,
)


class RandomUniform(_init.RandomUniform):
    """U(minval, maxval), by default U(-0.05, 0.05) as in Keras."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None, dtype=None, **kwargs):
        super().__init__(minval, maxval, seed=seed, **({"dtype": dtype} if dtype else {}))


class RandomNormal(_init.RandomNormal):
    """N(mean, stddev), by default N(0, 0.05) as in Keras."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None, dtype=None, **kwargs):
        super().__init__(mean, stddev, seed=seed, **({"dtype": dtype} if dtype else {}))


def Identity(gain=1.0, dtype=None):  # noqa: N802 - Keras's class name
    """Not supported by raygraph (raises NotImplementedError)."""
    raise NotImplementedError("tf.keras.initializers.Identity is not supported by raygraph")


zeros = Zeros
ones = Ones
constant = Constant
uniform = random_uniform = RandomUniform
normal = random_normal = RandomNormal
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal

_BY_NAME = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "uniform": RandomUniform,
    "random_uniform": RandomUniform,
    "normal": RandomNormal,
    "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
}
_BY_NAME.update(
    {cls.__name__: cls for cls in (Zeros, Ones, Constant, RandomUniform, RandomNormal, TruncatedNormal)}
)
_BY_NAME.update(
    {"VarianceScaling": VarianceScaling, "GlorotUniform": GlorotUniform, "GlorotNormal": GlorotNormal}
)


def get(identifier):
    """An initializer for a name ("glorot_uniform"), a class, an instance or None."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Unknown initializer: {identifier!r}; known: {sorted(_BY_NAME)}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
