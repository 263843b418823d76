"""`tf.keras.datasets`: data sets read from local files only (raygraph does not download).

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
"""

from raygraph.keras.datasets import mnist

__all__ = ["mnist"]
