"""Linear regression with gradient descent: the classic first TensorFlow 1.x program.

python examples/linear_regression.py
"""

import numpy as np

import raygraph as tf


def main(steps: int = 200):
    rng = np.random.default_rng(0)
    train_x = rng.uniform(-1, 1, 100).astype(np.float32)
    train_y = (3.0 * train_x + 2.0 + rng.normal(0, 0.1, 100)).astype(np.float32)

    X = tf.placeholder(tf.float32, name="X")
    Y = tf.placeholder(tf.float32, name="Y")
    W = tf.Variable(0.0, name="weight")
    b = tf.Variable(0.0, name="bias")
    prediction = W * X + b
    cost = tf.reduce_mean(tf.square(prediction - Y))
    optimizer = tf.train.GradientDescentOptimizer(0.5).minimize(cost)

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(steps):
            sess.run(optimizer, feed_dict={X: train_x, Y: train_y})
            if (step + 1) % 50 == 0:
                c = sess.run(cost, feed_dict={X: train_x, Y: train_y})
                print(f"step {step + 1:4d}  cost={c:.5f}  W={sess.run(W):.4f}  b={sess.run(b):.4f}")
        w_value, b_value = sess.run([W, b])
    print(f"fitted y = {w_value:.3f} x + {b_value:.3f} (true: y = 3x + 2)")
    return w_value, b_value


if __name__ == "__main__":
    main()
