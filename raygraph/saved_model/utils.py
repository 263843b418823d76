"""`tf.saved_model.utils`: TensorInfo protos that name a graph's tensors in a signature.

>>> info = tf.saved_model.utils.build_tensor_info(x)
>>> info.name, info.dtype
('x:0', 1)
>>> tf.saved_model.utils.get_tensor_from_tensor_info(info) is x
True

The protos are TensorFlow's (meta_graph.proto, from tensorboard.compat.proto), so a
SignatureDef made here is field for field the one TensorFlow makes.
"""

from __future__ import annotations

from tensorboard.compat.proto import meta_graph_pb2

from raygraph import graph_def
from raygraph.graph import Tensor, get_default_graph


def build_tensor_info(tensor) -> meta_graph_pb2.TensorInfo:
    """A TensorInfo proto with the tensor's name, dtype and static shape."""
    as_tensor = getattr(tensor, "_as_tensor", None)
    tensor = as_tensor() if as_tensor is not None else tensor
    if not isinstance(tensor, Tensor):
        raise TypeError(f"build_tensor_info takes a Tensor, got {type(tensor).__name__} {tensor!r}")
    return meta_graph_pb2.TensorInfo(
        name=tensor.name,
        dtype=graph_def.data_type(tensor.dtype),
        tensor_shape=graph_def.shape_proto(tensor.shape),
    )


def get_tensor_from_tensor_info(tensor_info, graph=None, import_scope=None) -> Tensor:
    """The tensor a TensorInfo names, in `graph` (default: the default graph), under `import_scope`."""
    if tensor_info.WhichOneof("encoding") != "name":
        raise ValueError(
            f"Invalid TensorInfo.encoding: {tensor_info.WhichOneof('encoding')} (raygraph reads 'name')"
        )
    graph = graph or get_default_graph()
    name = f"{import_scope}/{tensor_info.name}" if import_scope else tensor_info.name
    return graph.get_tensor_by_name(name)
