"""A multilayer perceptron in the style of the classic TF1 MNIST tutorial.

The classic tutorial's MNIST needs a download; this uses scikit-learn's bundled
8x8 digits instead, flattened to 64 features, with one-hot labels, softmax
cross-entropy and minibatch training, exactly as the tutorial wrote it.

    python examples/mnist_style_mlp.py
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import raygraph as tf


def main(epochs: int = 40, batch_size: int = 100, learning_rate: float = 0.01):
    digits = load_digits()
    features = (digits.data / 16.0).astype(np.float32)
    one_hot = np.eye(10, dtype=np.float32)[digits.target]
    x_train, x_test, y_train, y_test = train_test_split(features, one_hot, test_size=0.25, random_state=1)

    x = tf.placeholder(tf.float32, [None, 64])
    y_ = tf.placeholder(tf.float32, [None, 10])
    W1 = tf.Variable(tf.truncated_normal([64, 128], stddev=0.1, seed=1))
    b1 = tf.Variable(tf.constant(0.1, shape=[128]))
    hidden = tf.nn.relu(tf.matmul(x, W1) + b1)
    W2 = tf.Variable(tf.truncated_normal([128, 10], stddev=0.1, seed=2))
    b2 = tf.Variable(tf.constant(0.1, shape=[10]))
    y = tf.matmul(hidden, W2) + b2

    cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=y))
    train_step = tf.train.AdamOptimizer(learning_rate).minimize(cross_entropy)
    correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch in range(epochs):
            for i in range(0, len(x_train), batch_size):
                sess.run(
                    train_step, feed_dict={x: x_train[i : i + batch_size], y_: y_train[i : i + batch_size]}
                )
            if (epoch + 1) % 10 == 0:
                acc = sess.run(accuracy, feed_dict={x: x_test, y_: y_test})
                print(f"epoch {epoch + 1}: test accuracy {acc:.4f}")
        final = sess.run(accuracy, feed_dict={x: x_test, y_: y_test})
    print(f"test accuracy: {final:.4f}")
    return final


if __name__ == "__main__":
    main()
