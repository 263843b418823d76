"""A user-defined op: declare it, give it a gradient, train with it.

raygraph's op registry is public. An op is a class: its inputs, a shape-and-dtype
function run when the graph is built, a kernel written against an array module
`xp` (numpy on CPUs, cupy on GPUs) and, optionally, a gradient made of graph ops.
Its kernel travels to the device actors with the plan (the registry ships a user op's
kernel as a KernelSpec): nothing to install there.

    python examples/custom_op.py
"""

import numpy as np

import raygraph as tf


class Swish(tf.Op):
    """swish(x) = x * sigmoid(beta * x), elementwise."""

    inputs = ("x",)
    attrs = {"beta": 1.0}
    api = "swish"  # exposed as tf.swish(x, beta=1.0, name=None)

    def infer(x, beta):
        if not x.dtype.is_floating:
            raise TypeError(f"swish needs a floating tensor, got {x.dtype.name}")
        return x.dtype, x.shape

    def kernel(xp, x, beta):
        return (x / (1 + xp.exp(-beta * x))).astype(x.dtype)


@tf.RegisterGradient("Swish")
def _swish_grad(op, grad):
    x = op.inputs[0]
    beta = op.get_attr("beta")
    s = tf.sigmoid(beta * x)
    return [grad * (s + beta * x * s * (1 - s))]


def main():
    rng = np.random.default_rng(0)
    xs = rng.uniform(-3, 3, size=(256, 1)).astype(np.float32)
    ys = np.sin(xs)

    x = tf.placeholder(tf.float32, [None, 1], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    w1 = tf.Variable(rng.normal(0, 1, (1, 32)).astype(np.float32), name="w1")
    b1 = tf.Variable(np.zeros(32, np.float32), name="b1")
    w2 = tf.Variable(rng.normal(0, 0.2, (32, 1)).astype(np.float32), name="w2")
    hidden = tf.swish(tf.matmul(x, w1) + b1, beta=1.5)
    prediction = tf.matmul(hidden, w2)
    loss = tf.reduce_mean(tf.square(prediction - y))
    dw1, dw2 = tf.gradients(loss, [w1, w2])
    lr = 0.05
    train = tf.group(w1.assign_sub(lr * dw1), w2.assign_sub(lr * dw2))

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, {x: xs, y: ys})
        for _ in range(300):
            sess.run(train, {x: xs, y: ys})
        last = sess.run(loss, {x: xs, y: ys})
    print(f"custom op Swish: loss {first:.4f} -> {last:.4f}")
    return first, last


if __name__ == "__main__":
    main()
