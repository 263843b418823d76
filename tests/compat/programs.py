"""TF1 programs written once and run twice: with `tf = raygraph` and `tf = tensorflow.compat.v1`.

Each function takes the module as `tf` and is otherwise an ordinary TensorFlow 1.x
program, so "ported by changing only the import" is literally what the comparison
runs. Initial values and data come from numpy with fixed seeds, so both runs start
from the same numbers. The training programs take TF1's Session `target` ("" for
both; raygraph's "local" runs the same program without Ray).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits


def _digits(n=512, seed=0):
    d = load_digits()
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(d.target))[:n]
    return (d.data[idx] / 16.0).astype(np.float32), d.target[idx].astype(np.int32)


def linear_regression(tf, steps=30, target=""):
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, 64).astype(np.float32)
    ys = (3 * xs + 2 + rng.normal(0, 0.1, 64)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32)
        y = tf.placeholder(tf.float32)
        w = tf.Variable(0.5)
        b = tf.Variable(-0.3)
        loss = tf.reduce_mean(tf.square(w * x + b - y))
        train = tf.train.GradientDescentOptimizer(0.3).minimize(loss)
        with tf.Session(target) as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([train, loss], {x: xs, y: ys})[1] for _ in range(steps)]
            return losses, sess.run([w, b])


def softmax_regression(tf, steps=30, target=""):
    xs, labels = _digits()
    onehot = np.eye(10, dtype=np.float32)[labels]
    rng = np.random.default_rng(1)
    w0 = rng.normal(0, 0.1, (64, 10)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 64])
        y_ = tf.placeholder(tf.float32, [None, 10])
        W = tf.Variable(w0)
        b = tf.Variable(tf.zeros([10]))
        y = tf.nn.softmax(tf.matmul(x, W) + b)
        cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y + 1e-9), axis=[1]))
        train = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1)), tf.float32))
        with tf.Session(target) as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([train, cross_entropy], {x: xs, y_: onehot})[1] for _ in range(steps)]
            return losses, sess.run(accuracy, {x: xs, y_: onehot})


def mlp_adam(tf, steps=30, target=""):
    xs, labels = _digits()
    rng = np.random.default_rng(2)
    w1 = rng.normal(0, 0.2, (64, 32)).astype(np.float32)
    w2 = rng.normal(0, 0.2, (32, 10)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 64])
        t = tf.placeholder(tf.int32, [None])
        W1 = tf.Variable(w1)
        b1 = tf.Variable(tf.constant(0.1, shape=[32]))
        W2 = tf.Variable(w2)
        b2 = tf.Variable(tf.zeros([10]))
        h = tf.nn.relu(tf.matmul(x, W1) + b1)
        logits = tf.matmul(h, W2) + b2
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits=logits))
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        correct = tf.equal(tf.cast(tf.argmax(logits, 1), tf.int32), t)
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
        with tf.Session(target) as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([train, loss], {x: xs, t: labels})[1] for _ in range(steps)]
            return losses, sess.run(accuracy, {x: xs, t: labels})


def cnn_momentum(tf, steps=30, target=""):
    xs, labels = _digits(256)
    images = xs.reshape(-1, 8, 8, 1)
    onehot = np.eye(10, dtype=np.float32)[labels]
    rng = np.random.default_rng(3)
    k1 = rng.normal(0, 0.3, (3, 3, 1, 8)).astype(np.float32)
    k2 = rng.normal(0, 0.1, (3, 3, 8, 16)).astype(np.float32)
    wd = rng.normal(0, 0.1, (2 * 2 * 16, 10)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 8, 8, 1])
        y_ = tf.placeholder(tf.float32, [None, 10])
        K1, B1 = tf.Variable(k1), tf.Variable(tf.zeros([8]))
        K2, B2 = tf.Variable(k2), tf.Variable(tf.zeros([16]))
        WD, BD = tf.Variable(wd), tf.Variable(tf.zeros([10]))
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(x, K1, strides=[1, 1, 1, 1], padding="SAME"), B1))
        h = tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
        h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, K2, strides=[1, 1, 1, 1], padding="SAME"), B2))
        h = tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
        logits = tf.matmul(tf.reshape(h, [-1, 2 * 2 * 16]), WD) + BD
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=logits))
        train = tf.train.MomentumOptimizer(0.05, 0.9).minimize(loss)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y_, 1)), tf.float32))
        with tf.Session(target) as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([train, loss], {x: images, y_: onehot})[1] for _ in range(steps)]
            return losses, sess.run(accuracy, {x: images, y_: onehot})


def mixed_gradients(tf):
    rng = np.random.default_rng(4)
    a = rng.uniform(0.5, 1.5, (4, 3)).astype(np.float32)
    m = rng.uniform(-1, 1, (3, 5)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.constant(a)
        w = tf.constant(m)
        h = tf.tanh(tf.matmul(x, w))
        e = tf.exp(tf.sigmoid(h))
        s = tf.nn.softmax(tf.concat([h, e], axis=1))
        t = tf.transpose(s)
        z = tf.maximum(t, 0.05) + tf.sqrt(tf.abs(t) + 1.0)
        y = tf.reduce_sum(z * tf.reduce_max(z, axis=0, keepdims=True))
        grads = tf.gradients(y, [x, w])
        with tf.Session() as sess:
            return sess.run([y] + grads)


def saver_round_trip(tf, directory):
    with tf.Graph().as_default():
        v1 = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="v1")
        v2 = tf.Variable(np.array([7, 8], np.int64), name="v2")
        bump = tf.group(v1.assign_add(tf.ones([2, 3])), v2.assign_add(tf.constant([1, 1], tf.int64)))
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(bump)
            path = saver.save(sess, directory + "/model.ckpt", global_step=1)
            sess.run(bump)
            saver.restore(sess, path)
            restored = sess.run([v1, v2])
        latest = tf.train.latest_checkpoint(directory)
    return restored, latest == path
