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

from ops import registry
from ops.registry import REQUIRED, NotDifferentiable, Op, RegisterGradient, api_function

__all__ = ["Op", "RegisterGradient", "NotDifferentiable", "REQUIRED", "api_function", "raw_ops"]


class _RawOps:
    """`tf.raw_ops.<OpType>(**inputs_and_attrs)`: any registered op, by keyword.

    >>> tf.raw_ops.MatMul(a=x, b=w, transpose_b=True)
    """

    def __getattr__(self, op_type: str):
        op_def = registry.get(op_type)

        def build(name=None, **kwargs):
            inputs = []
            for input_name in op_def.input_names():
                if input_name not in kwargs:
                    raise TypeError(f"raw_ops.{op_type} is missing input {input_name!r}")
                inputs.append(kwargs.pop(input_name))
            unknown = set(kwargs) - set(op_def.attrs)
            if unknown:
                raise TypeError(f"raw_ops.{op_type} got unknown arguments {sorted(unknown)}")
            return registry.build(op_type, inputs, kwargs, name=name)

        build.__name__ = op_type
        build.__doc__ = op_def.__doc__
        return build

    def __dir__(self):
        return sorted(registry.registered_ops())


raw_ops = _RawOps()
