"""Strings, bitwise, CTC, bounding boxes, patches, custom gradients and small names against TensorFlow.

Each program is a function of a module (`raygraph` or `tensorflow.compat.v1`);
it is built in a fresh graph of each, run in a session, and every fetched value
must agree: arrays (strings as bytes) exactly or to float tolerance,
SparseTensorValues part by part. Gradients are fetched like any other tensor.
sample_distorted_bounding_box draws differently from TensorFlow by design: only
its static shapes and dtypes are compared.
"""

from __future__ import annotations

import numpy as np
import pytest

tf1 = pytest.importorskip("tensorflow")

import raygraph  # noqa: E402

pytestmark = pytest.mark.compat

v1 = tf1.compat.v1
RTOL, ATOL = 2e-5, 2e-5


def _run(lib, program):
    with lib.Graph().as_default():
        fetches = program(lib)
        session = v1.Session() if lib is v1 else raygraph.Session("local")
        with session as sess:
            return sess.run(fetches)


def _same(ours, theirs, where="output", rtol=RTOL, atol=ATOL):
    if isinstance(theirs, tuple | list) and not isinstance(theirs, np.ndarray):
        assert len(ours) == len(theirs), f"{where}: {len(ours)} values vs TensorFlow's {len(theirs)}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            _same(a, b, f"{where}[{k}]", rtol, atol)
        return
    a, b = np.asarray(ours), np.asarray(theirs)
    assert a.shape == b.shape, f"{where}: shape {a.shape} vs TensorFlow's {b.shape}"
    if b.dtype.kind == "f":
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=where)
    else:
        assert a.tolist() == b.tolist(), f"{where}: {a.tolist()} vs TensorFlow's {b.tolist()}"
        assert a.dtype == b.dtype or b.dtype == object, f"{where}: dtype {a.dtype} vs {b.dtype}"


def compare(program, rtol=RTOL, atol=ATOL):
    """Runs `program` with TensorFlow and raygraph; every fetched value must agree."""
    theirs = _run(v1, program)
    ours = _run(raygraph, program)
    _same(ours, theirs, rtol=rtol, atol=atol)
    return ours


# -- strings ----------------------------------------------------------------------------------------


def test_string_split_and_strings_split():
    words = ["a b  c", "hello,world ", "", " x"]
    compare(
        lambda tf: [
            tf.string_split(words),
            tf.string_split(words, delimiter=", "),
            tf.string_split(words, delimiter=""),
            tf.string_split(words, delimiter=",", skip_empty=False),
            tf.strings.split(words, sep=","),
            tf.strings.split(words),
            tf.strings.split(["a b c d"], sep=" ", maxsplit=2),
        ]
    )


def test_base64_numbers_and_hash_buckets():
    data = [b"\xff\xfe\xfd\x01", b"ab", b"", b"hello world"]
    compare(
        lambda tf: [
            tf.encode_base64(data),
            tf.encode_base64(data, pad=True),
            tf.decode_base64(tf.encode_base64(data)),
            tf.decode_base64(tf.encode_base64(data, pad=True)),
            tf.string_to_number([" 1.5 ", "inf", "-2e3", "0x10", "nan"]),
            tf.string_to_number(["12", " -3", "+4"], out_type=tf.int64),
            tf.strings.to_number(["1.25"], out_type=tf.float64),
            tf.string_to_hash_bucket_fast(["hello", "", "cat", "dog", "héllo"], 1000),
            tf.string_to_hash_bucket_fast([["a", "b"], ["c", "d"]], 2**40),
        ]
    )


def test_join_substr_case_regex_and_as_string():
    x = [["a", "b", "c"], ["d", "e", "f"]]
    cube = np.array([[[b"a", b"b"], [b"c", b"d"]], [[b"e", b"f"], [b"g", b"h"]]], object)
    compare(
        lambda tf: [
            tf.strings.join([["a", "b"], "x", ["1", "2"]], separator="+"),
            tf.reduce_join(x),
            tf.reduce_join(x, axis=0),
            tf.reduce_join(x, axis=[0, 1], separator="."),
            tf.reduce_join(x, axis=-1, keep_dims=True),
            tf.reduce_join(tf.constant(cube), axis=[2, 0]),
            tf.substr(["hello", "abc", "xy"], 1, 3),
            tf.substr(["hello", "abc"], [-2, 0], [5, 1]),
            tf.strings.strip([" \t a b \n", "c "]),
            tf.strings.lower(["ÀBC", "MiXeD"]),
            tf.strings.upper(["àbc", "MiXeD"]),
            tf.strings.lower(["ÀBC"], encoding="utf-8"),
            tf.strings.length(["héllo", ""]),
            tf.strings.length(["héllo", ""], unit="UTF8_CHAR"),
            tf.regex_replace(["aabb", "ab", "xyz"], "a(b)", r"<\1>"),
            tf.strings.regex_replace(["a1b22c333"], "[0-9]+", "#", replace_global=False),
            tf.as_string([1.5, -2.25, 1e10]),
            tf.as_string([1.5, -2.25], precision=1, width=8),
            tf.as_string([3, -42], width=5, fill="0"),
            tf.as_string([1.5e10, 3e-5], scientific=True, precision=2),
            tf.as_string([1.5e10, 0.25], shortest=True),
            tf.as_string([True, False]),
        ]
    )


# -- bitwise, bitcast, ensure_shape, custom gradients ---------------------------------------------------


def test_bitwise_and_bitcast():
    x = np.array([[1, -8, 5, 2**30], [7, 0, -1, 99]], np.int32)
    y = np.array([1, 2, 31, 3], np.int32)
    u = np.array([0, 1, 200, 255], np.uint8)
    compare(
        lambda tf: [
            tf.bitwise.bitwise_and(x, y),
            tf.bitwise.bitwise_or(x, y),
            tf.bitwise.bitwise_xor(x, y),
            tf.bitwise.invert(x),
            tf.bitwise.invert(u),
            tf.bitwise.left_shift(x, y),
            tf.bitwise.right_shift(x, y),
            tf.bitwise.left_shift(u, np.array([1, 7, 1, 4], np.uint8)),
            tf.bitcast(tf.constant([1.0, -2.5]), tf.int32),
            tf.bitcast(tf.constant([1.0, -2.5]), tf.uint8),
            tf.bitcast(tf.constant(u), tf.int32),
            tf.bitcast(tf.constant(np.array([1, 2], np.int64)), tf.float64),
        ]
    )


def test_ensure_shape_static_shape_and_value():
    shapes = {}
    for tf in (v1, raygraph):
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float32, [None, 3, None])
            shapes[tf] = tf.ensure_shape(x, [2, None, 4]).shape.as_list()
    assert shapes[raygraph] == shapes[v1] == [2, 3, 4]
    compare(lambda tf: [tf.ensure_shape(tf.ones([2, 3]), [None, 3])])


def test_custom_gradient():
    x0 = np.array([0.3, -1.2, 2.0], np.float32)

    def program(tf):
        x = tf.constant(x0)

        @tf.custom_gradient
        def log1pexp(x):
            e = tf.exp(x)

            def grad(dy):
                return dy * (1 - 1 / (1 + e)) * 3.0

            return tf.log(1 + e), grad

        y = log1pexp(x)
        return [y, tf.gradients(tf.reduce_sum(y * y), [x])[0]]

    compare(program)


# -- CTC -----------------------------------------------------------------------------------------------

_T, _B, _C = 9, 3, 5
_LOGITS = np.random.default_rng(0).normal(size=(_T, _B, _C)).astype(np.float32)
_LABELS = [[1, 2, 2], [0], [3, 1, 1, 3]]
_INDICES = np.array([(b, j) for b, seq in enumerate(_LABELS) for j in range(len(seq))], np.int64)
_VALUES = np.array([v for seq in _LABELS for v in seq], np.int32)
_LENGTHS = np.array([9, 5, 8], np.int32)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"ctc_merge_repeated": False},
        {"preprocess_collapse_repeated": True},
        {"time_major": False},
    ],
    ids=["default", "no-merge", "collapse", "batch-major"],
)
def test_ctc_loss_and_gradient(kwargs):
    def program(tf):
        x = tf.constant(_LOGITS if kwargs.get("time_major", True) else _LOGITS.transpose(1, 0, 2))
        labels = tf.SparseTensor(_INDICES, _VALUES, [_B, 4])
        loss = tf.nn.ctc_loss(labels, x, _LENGTHS, **kwargs)
        weights = tf.constant([1.0, -2.0, 0.5])
        return [loss, tf.gradients(tf.reduce_sum(loss * weights), [x])[0]]

    compare(program, rtol=1e-4, atol=1e-5)


def test_ctc_loss_with_too_little_time():
    def program(tf):
        x = tf.constant(_LOGITS[:2])
        labels = tf.SparseTensor([[0, 0], [0, 1], [1, 0], [2, 0], [2, 1], [2, 2]], [1, 1, 0, 3, 1, 3], [3, 3])
        loss = tf.nn.ctc_loss(labels, x, [2, 2, 2], ignore_longer_outputs_than_inputs=True)
        return [loss, tf.gradients(tf.reduce_sum(loss), [x])[0]]

    ours = compare(program)
    assert np.isinf(ours[0][0]) and ours[0][2] == 0.0  # "1 1" needs a blank between; [3, 1, 3] is skipped


def test_ctc_greedy_decoder_and_edit_distance():
    def program(tf):
        x = tf.constant(_LOGITS)
        (merged,), neg_sum = tf.nn.ctc_greedy_decoder(x, _LENGTHS)
        (unmerged,), _ = tf.nn.ctc_greedy_decoder(x, _LENGTHS, merge_repeated=False)
        truth = tf.SparseTensor(_INDICES, _VALUES.astype(np.int64), [_B, 4])
        return [
            merged,
            unmerged,
            neg_sum,
            tf.edit_distance(merged, truth),
            tf.edit_distance(unmerged, truth, normalize=False),
        ]

    compare(program)


def test_edit_distance_of_strings_with_missing_groups():
    def program(tf):
        hyp = tf.SparseTensor([[0, 0, 0], [0, 0, 1], [1, 1, 0]], ["a", "b", "c"], [2, 2, 2])
        truth = tf.SparseTensor([[0, 0, 0], [0, 1, 0], [1, 0, 0]], ["a", "x", "y"], [2, 3, 1])
        return [tf.edit_distance(hyp, truth), tf.edit_distance(hyp, truth, normalize=False)]

    compare(program)


# -- boxes and patches -----------------------------------------------------------------------------------

_IMAGE = np.random.default_rng(1).uniform(size=(2, 6, 7, 3)).astype(np.float32)
_BOXES = np.array(
    [[0.1, 0.2, 0.8, 0.7], [-0.2, 0.3, 0.5, 1.2], [0.9, 0.9, 0.2, 0.1], [0.3, 0.3, 0.3, 0.6]], np.float32
)
_BOX_IND = np.array([0, 1, 1, 0], np.int32)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
@pytest.mark.parametrize("crop_size", [[4, 5], [1, 3], [3, 1]])
def test_crop_and_resize_and_gradients(method, crop_size):
    weights = np.random.default_rng(5).uniform(size=(4, *crop_size, 3)).astype(np.float32)

    def program(tf):
        x, b = tf.constant(_IMAGE), tf.constant(_BOXES)
        crops = tf.image.crop_and_resize(x, b, _BOX_IND, crop_size, method=method, extrapolation_value=-1.0)
        loss = tf.reduce_sum(crops * weights) + tf.reduce_sum(crops * crops)
        return [crops, *tf.gradients(loss, [x, b])]

    compare(program, rtol=1e-4, atol=1e-4)


def test_draw_bounding_boxes():
    boxes = np.array(
        [[[0.1, 0.2, 0.7, 0.9], [-0.5, 0.5, 0.5, 1.5], [0.5, 0.5, 0.2, 0.9], [0.0, 0.0, 1.0, 1.0]]] * 2,
        np.float32,
    )
    boxes = np.concatenate(
        [boxes, np.random.default_rng(2).uniform(size=(2, 12, 4)).astype(np.float32)], axis=1
    )
    compare(
        lambda tf: [
            tf.image.draw_bounding_boxes(tf.constant(_IMAGE), boxes),
            tf.image.draw_bounding_boxes(tf.constant(_IMAGE[..., :1]), boxes),
        ]
    )


def test_non_max_suppression():
    rng = np.random.default_rng(1)
    corner = rng.uniform(size=(30, 2)).astype(np.float32)
    boxes = np.concatenate([corner, corner + rng.uniform(0.05, 0.5, size=(30, 2)).astype(np.float32)], axis=1)
    boxes[::4] = boxes[::4][:, [2, 3, 0, 1]]  # some given with their corners swapped
    scores = rng.uniform(size=30).astype(np.float32)

    def program(tf):
        padded_op = (
            tf.raw_ops.NonMaxSuppressionV4 if tf is v1 else None
        )  # TF1.15's non_max_suppression_padded
        args = (boxes, scores, 12, 0.3, 0.2)
        if padded_op is not None:
            padded = list(
                padded_op(
                    boxes=boxes,
                    scores=scores,
                    max_output_size=12,
                    iou_threshold=0.3,
                    score_threshold=0.2,
                    pad_to_max_output_size=True,
                )
            )
        else:
            padded = list(tf.image.non_max_suppression_padded(*args, pad_to_max_output_size=True))
        return [
            tf.image.non_max_suppression(boxes, scores, 10),
            tf.image.non_max_suppression(*args),
            padded,
            list(tf.image.non_max_suppression_with_scores(boxes, scores, 15, 0.5, 0.1, soft_nms_sigma=0.4)),
            list(tf.image.non_max_suppression_with_scores(boxes, scores, 15, 0.4)),
        ]

    compare(program)


@pytest.mark.parametrize(
    "ksizes,strides,rates,padding",
    [
        ([1, 3, 3, 1], [1, 1, 1, 1], [1, 1, 1, 1], "SAME"),
        ([1, 2, 3, 1], [1, 2, 3, 1], [1, 2, 1, 1], "VALID"),
        ([1, 3, 2, 1], [1, 2, 2, 1], [1, 2, 2, 1], "SAME"),
    ],
)
def test_extract_image_patches(ksizes, strides, rates, padding):
    def program(tf):
        x = tf.constant(_IMAGE)
        patches = tf.extract_image_patches(x, ksizes, strides, rates, padding)
        weights = np.random.default_rng(3).uniform(size=patches.shape.as_list()).astype(np.float32)
        return [patches, tf.gradients(tf.reduce_sum(patches * weights), [x])[0]]

    compare(program)


def test_sample_distorted_bounding_box_shapes():
    specs = {}
    for tf in (v1, raygraph):
        with tf.Graph().as_default():
            outputs = tf.image.sample_distorted_bounding_box(
                tf.constant([100, 200, 3]),
                tf.constant([[[0.1, 0.1, 0.5, 0.5]]]),
                seed=1,
                min_object_covered=0.3,
            )
            specs[tf] = [(t.dtype.name, t.shape.as_list()) for t in outputs]
    assert specs[raygraph] == specs[v1]


# -- small names ----------------------------------------------------------------------------------------


def test_constants_and_compat_helpers():
    for name in ("ON_1", "ON_2", "OFF", "DEFAULT", "L0", "L1"):
        assert getattr(raygraph.OptimizerOptions, name) == getattr(v1.OptimizerOptions, name)
    for name in ("ADD_N", "DEFAULT", "EXPERIMENTAL_TREE", "EXPERIMENTAL_ACCUMULATE_N"):
        assert getattr(raygraph.AggregationMethod, name) == getattr(v1.AggregationMethod, name)
    for value in (b"abc", "héllo", bytearray(b"x")):
        assert raygraph.compat.as_bytes(value) == v1.compat.as_bytes(value)
    for value in (b"abc", "héllo"):
        assert raygraph.compat.as_str(value) == v1.compat.as_str(value)
        assert raygraph.compat.as_text(value) == v1.compat.as_text(value)
    for value in (b"abc", 3, 1.5):
        assert raygraph.compat.as_str_any(value) == v1.compat.as_str_any(value)
    config = raygraph.ConfigProto()
    config.graph_options.optimizer_options.global_jit_level = raygraph.OptimizerOptions.ON_1
    theirs = v1.ConfigProto()
    theirs.graph_options.optimizer_options.global_jit_level = v1.OptimizerOptions.ON_1
    assert config.graph_options.SerializeToString() == theirs.graph_options.SerializeToString()
    assert isinstance(raygraph.__git_version__, str) and isinstance(raygraph.__compiler_version__, str)
