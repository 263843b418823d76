"""The public face of the op registry: declare ops and gradients from user code.

    import raygraph as tf

    class Swish(tf.Op):
        '''x * sigmoid(x).'''
        inputs = ("x",)
        api = "swish"

        def infer(x):
            return x.dtype, x.shape

        def kernel(xp, x):
            return x / (1 + xp.exp(-x))

    @tf.RegisterGradient("Swish")
    def _swish_grad(op, dy):
        x = op.inputs[0]
        s = tf.sigmoid(x)
        return [dy * (s + x * s * (1 - s))]

    y = tf.swish(x)

See examples/custom_op.py and ops/registry.py for the whole contract.
"""

from ops.registry import REQUIRED, NotDifferentiable, Op, RegisterGradient, api_function

__all__ = ["Op", "RegisterGradient", "NotDifferentiable", "REQUIRED", "api_function"]
