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
    nn_extra        top_k, lrn, fused_batch_norm, swish and other tf.nn composites
    nn_embed        embedding_lookup (one table or partitioned)
    nn_sampled      candidate samplers, compute_accidental_hits, nce_loss, sampled_softmax_loss
    nn_conv_extra   depthwise/separable, 1-D, atrous and transposed convolutions; 1-D pooling
    state           VariableV2, Assign, AssignAdd, AssignSub
    random          random ops and graph seeds
    control         NoOp and tf.group
    control_flow    If and While, which call sub-graphs (tf.cond, tf.while_loop), and their gradients
    tensor_array    TensorArray's ops on its run-time list of tensors
    training        the optimizers' fused updates and learning-rate schedules
    summary         tf.summary's ops: serialized Summary protos for TensorBoard
    parsing         ParseExample, ParseSingleSequenceExample (tf.train protos), DecodeRaw, DecodeCSV
    debug, checks   Print, PrintV2, Assert, CheckNumerics; tf.Print, tf.print, tf.assert_*
    clip            clip_by_norm, global_norm, clip_by_global_norm (composed, no op types)
    pyfunc          PyFunc, PyFuncStateless: tf.py_func, tf.numpy_function
    sparse          SparseToDense; tf.SparseTensor, IndexedSlices, sparse_placeholder
    aliases         pre-1.0 names (tf.pack, tf.concat_v2, tf.scalar_summary...), no op types
    image_resize    ResizeBilinear, ResizeNearestNeighbor, ResizeBicubic, ResizeArea and gradients
    array_misc      DepthToSpace, SpaceToDepth, ReverseSequence, Unique, saturate_cast
    image           tf.image: resize by name, flips, crops, pads, dtype and colour adjustments
    image_codec     PNG/JPEG/GIF/BMP decoding and encoding through Pillow
    linalg          diagonals, bands, inverse, determinants, solves, Cholesky, SVD, QR, eigh
    checkpoint      RestoreV2: tensors read from a checkpoint when it runs (tf.train.init_from_checkpoint)
    data            tf.data's iterators: MakeIterator, IteratorGetNext over a pipeline kept on the device
    data_flow       queues (FIFOQueueV2, RandomShuffleQueueV2...), enqueue, dequeue, close; CountUpTo
    readers         TFRecordReaderV2, WholeFileReaderV2... and ReaderReadV2 on a queue of files; ReadFile
    collective      CollectiveAllReduce: one instance per device, merged in rank order
    array_identity  IdentityN, EnsureShape (tf.identity_n, tf.ensure_shape)
    bitwise         BitwiseAnd/Or/Xor, Invert, LeftShift, RightShift (tf.bitwise.*); Bitcast
    image_boxes     CropAndResize (+ grads), DrawBoundingBoxes, NonMaxSuppressionV3-5, SampleDistortedBoundingBoxV2
    image_patches   ExtractImagePatches and its gradient
    ctc             CTCLoss, CTCGreedyDecoder (tf.nn.ctc_*), EditDistance
    strings         tf.strings: split, join, substr, case, regex_replace, base64, to_number, hash buckets
    state_scatter   ScatterUpdate/Add/Sub/Mul/Div/Min/Max, ScatterNdUpdate/Add/Sub on variables
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
    "debug",
    "checks",
    "clip",
    "pyfunc",
    "sparse",
    "aliases",
    "nn_extra",
    "nn_embed",
    "nn_sampled",
    "nn_conv_extra",
    "linalg",
    "image_resize",
    "image",
    "array_misc",
    "image_codec",
    "checkpoint",
    "data",
    "data_flow",
    "readers",
    "collective",
    "array_identity",
    "strings",
    "bitwise",
    "ctc",
    "image_boxes",
    "image_patches",
    "state_scatter",
    "nn_rnn",
)


def load_all() -> None:
    """Imports every op family, registering its ops as the built-in ones."""
    import importlib

    from ops import registry

    for family in FAMILIES:
        module = importlib.import_module(f"ops.{family}")
        registry.add_builtin_family(module.__name__)
