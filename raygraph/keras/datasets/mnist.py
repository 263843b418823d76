"""`tf.keras.datasets.mnist.load_data`: MNIST from a local mnist.npz.

raygraph does not download: the file must already be at `path` (absolute or relative to
the working directory) or at ~/.keras/datasets/<path>, the file tf.keras itself saves.
"""

from __future__ import annotations

import os

import numpy as np

from raygraph.keras.utils import _keras_dir


def load_data(path="mnist.npz"):
    """((x_train, y_train), (x_test, y_test)) from mnist.npz: uint8 images [n, 28, 28], uint8 labels.

    The npz file holds arrays x_train, y_train, x_test, y_test (the file tf.keras
    downloads from https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz).
    """
    candidates = [path] if os.path.isabs(path) else [path, os.path.join(_keras_dir(), "datasets", path)]
    found = next((p for p in candidates if os.path.isfile(p)), None)
    if found is None:
        raise FileNotFoundError(
            f"MNIST file {path!r} not found (looked at {candidates}). raygraph does not download data sets: "
            "copy mnist.npz (arrays x_train, y_train, x_test, y_test) to ~/.keras/datasets/mnist.npz "
            "or pass its path: tf.keras.datasets.mnist.load_data(path='/data/mnist.npz')."
        )
    with np.load(found, allow_pickle=False) as data:
        return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
