"""raygraph's op registry and op families (internal: users import `raygraph`).

`ops.registry` is the registry; each family module declares its ops there when
imported. `load_all()` imports every family; raygraph and every device actor
call it, and the ops it declares are the built-in ones (`registry.is_builtin`).
A family imports only the graph core, the registry and the helpers that declare
no op (`ops.common`, `ops.args`, `ops.elementwise`); it reaches the ops of other
families through `ops.api`, so any family imports on its own.

    math_arithmetic binary arithmetic (AddV2, Sub, Mul, RealDiv, Pow, Maximum...), AddN
    math_compare    comparisons and logic (Equal, Less, LogicalAnd, LogicalNot...)
    math_unary      elementwise unary functions, declared as one table (Neg, Exp, Sin...)
    math_special    Erf, Lgamma, Digamma, Polygamma (scipy's special functions)
    math_cast       Cast and tf.to_float etc.
    math_matmul     MatMul, Einsum, tensordot
    array_const     Const, Placeholder, PlaceholderWithDefault, Identity, StopGradient
    array_shape     Shape, Size, Rank, Reshape, ExpandDims, Squeeze, Transpose, BroadcastTo
    array_create    Fill, zeros/ones(_like), Range, LinSpace, OneHot, SequenceMask, meshgrid
    array_pad       PadV2, MirrorPad, Tile, ReverseV2
    array_join      Pack/Unpack (stack), ConcatV2, Split, SplitV
    array_slice     Slice, StridedSlice, `Tensor.__getitem__`
    array_gather    GatherV2, GatherNd, ScatterNd, UnsortedSegmentSum, boolean_mask
    array_select    Where, Select, SelectV2
    reduce          reductions, arg max/min, scans
    nn, nn_conv     activations, softmax, losses, bias; convolution and pooling
    state           VariableV2, Assign, AssignAdd, AssignSub
    random          random ops and graph seeds
    control         NoOp and tf.group
    control_flow    If and While, which call sub-graphs (tf.cond, tf.while_loop), and their gradients
    tensor_array    TensorArray's ops on its run-time list of tensors
    training        the optimizers' fused updates and learning-rate schedules
    summary         tf.summary's ops: serialized Summary protos for TensorBoard
    parsing         ParseExample, ParseSingleSequenceExample (tf.train protos), DecodeRaw, DecodeCSV
    data_flow       queues (FIFOQueueV2, RandomShuffleQueueV2...), enqueue, dequeue, close; CountUpTo
    readers         TFRecordReaderV2, WholeFileReaderV2... and ReaderReadV2 on a queue of files; ReadFile
"""

FAMILIES = (
    "math_arithmetic",
    "math_compare",
    "math_unary",
    "math_special",
    "math_cast",
    "math_matmul",
    "array_const",
    "array_shape",
    "array_create",
    "array_pad",
    "array_join",
    "array_slice",
    "array_gather",
    "array_select",
    "reduce",
    "nn",
    "nn_conv",
    "state",
    "random",
    "control",
    "control_flow",
    "tensor_array",
    "training",
    "summary",
    "parsing",
    "data_flow",
    "readers",
)


def load_all() -> None:
    """Imports every op family, registering its ops as the built-in ones."""
    import importlib

    from ops import registry

    for family in FAMILIES:
        module = importlib.import_module(f"ops.{family}")
        registry.add_builtin_family(module.__name__)
