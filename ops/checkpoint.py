"""RestoreV2: tensors read from a checkpoint file when the op runs.

`tf.train.init_from_checkpoint` makes a variable's initializer assign from this
op, as TensorFlow does, so the checkpoint is read when the initializer runs, on
the device that holds the variable (the file must be readable there), and the
graph holds only the file's name, not the values. The file is a raygraph
checkpoint (raygraph.io: safetensors with checksums); `prefix` is the checkpoint
prefix, as the Saver writes it. Only whole tensors are read: a `shape_and_slices`
entry other than "" is an error.
"""

from __future__ import annotations

import numpy as np

from ops.registry import REQUIRED, Op
from raygraph import errors
from raygraph.dtypes import as_dtype, string
from raygraph.shapes import TensorShape, format_shape


def _text(value) -> str:
    value = value.item() if isinstance(value, np.ndarray) else value
    return value.decode() if isinstance(value, bytes) else str(value)


class RestoreV2(Op):
    """Reads `tensor_names` from the checkpoint at `prefix` (its dtypes given by `dtypes`)."""

    inputs = ("prefix", "tensor_names", "shape_and_slices")
    attrs = {"dtypes": REQUIRED}
    stateful = True
    multi_output = True
    differentiable = False

    def infer(prefix, tensor_names, shape_and_slices, dtypes):  # noqa: A002
        for t in (prefix, tensor_names, shape_and_slices):
            if t.dtype != string:
                raise TypeError(f"{t.name} must be a string tensor, got {t.dtype.name}")
        if prefix.shape.ndims not in (None, 0):
            raise ValueError(f"prefix must be a scalar, got shape {format_shape(prefix.shape)}")
        n = tensor_names.shape.dims[0] if tensor_names.shape.ndims == 1 else None
        if n is not None and n != len(dtypes):
            raise ValueError(f"RestoreV2 reads {n} tensors but has {len(dtypes)} dtypes")
        return [(as_dtype(d), TensorShape(None)) for d in dtypes]

    def kernel(ctx, prefix, tensor_names, shape_and_slices, dtypes):  # noqa: A002
        from raygraph import io

        path = _text(prefix)
        path = path if path.endswith(io.CHECKPOINT_SUFFIX) else path + io.CHECKPOINT_SUFFIX
        names = [_text(n) for n in np.reshape(tensor_names, [-1])]
        for spec in np.reshape(shape_and_slices, [-1]):
            if _text(spec):
                raise errors.UnimplementedError(
                    None, None, f"RestoreV2 reads whole tensors; got slice {_text(spec)!r}"
                )
        out = []
        with io.CheckpointFile(path) as ckpt:
            for name, dtype in zip(names, dtypes):
                value = ckpt.read(name)
                if value.dtype != as_dtype(dtype).np:
                    raise errors.InvalidArgumentError(
                        None,
                        None,
                        f"tensor {name!r} in {path} has dtype {value.dtype}, expected {as_dtype(dtype).name}",
                    )
                out.append(ctx.xp.asarray(value))
        return out
