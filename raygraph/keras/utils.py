"""`tf.keras.utils`: to_categorical, normalize, and get_file (which refuses to download).

y = tf.keras.utils.to_categorical([0, 2, 1], num_classes=3)    # one-hot rows, float32
"""

from __future__ import annotations

import os

import numpy as np


def to_categorical(y, num_classes=None, dtype="float32"):
    """Integer class labels as one-hot rows: shape y.shape + (num_classes,) (a trailing 1 dropped)."""
    y = np.array(y, dtype="int")
    shape = y.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    y = y.ravel()
    if num_classes is None:
        num_classes = int(np.max(y)) + 1
    categorical = np.zeros((y.shape[0], num_classes), dtype=dtype)
    categorical[np.arange(y.shape[0]), y] = 1
    return categorical.reshape((*shape, num_classes))


def normalize(x, axis=-1, order=2):
    """`x` divided by its `order`-norm along `axis` (zeros stay zeros)."""
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def _keras_dir() -> str:
    return os.path.join(os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras"))


def get_file(fname, origin=None, cache_subdir="datasets", cache_dir=None, **kwargs) -> str:
    """The path of `fname` in the Keras cache (~/.keras/<cache_subdir>/), which must exist:
    raygraph never downloads, so put the file there yourself."""
    path = fname if os.path.isabs(fname) else os.path.join(cache_dir or _keras_dir(), cache_subdir, fname)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} does not exist and raygraph does not download files"
            + (f" (origin {origin})" if origin else "")
            + f". Copy the file to {path}."
        )
    return path


class Sequence:
    """Base of a batch source for fit_generator: `__len__` batches, `__getitem__(i)` -> (x, y)."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    def on_epoch_end(self):
        pass
