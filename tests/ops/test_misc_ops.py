"""String, bitwise, CTC, bounding-box and patch ops, tf.custom_gradient and friends, on Session("local").

Covers the ops that tests/ops/cases_misc.py names in TESTED_ELSEWHERE: StringSplit,
StringSplitV2, EncodeBase64, DecodeBase64, StringToNumber, StringToHashBucketFast,
StringJoin, ReduceJoin, Substr, StringStrip, StringLower, StringUpper, StringLength,
RegexReplace, AsString, CTCLoss, CTCGreedyDecoder, EditDistance, CropAndResize,
CropAndResizeGradImage, CropAndResizeGradBoxes, DrawBoundingBoxes, NonMaxSuppressionV3,
NonMaxSuppressionV4, NonMaxSuppressionV5, SampleDistortedBoundingBoxV2 and
ExtractImagePatchesGrad (checked through ExtractImagePatches' gradient).
"""

from __future__ import annotations

import numpy as np
import pytest

import raygraph as tf


def run(fetches, feed=None):
    with tf.Session("local") as sess:
        return sess.run(fetches, feed)


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default():
        yield


def _bytes(values):
    return [v if isinstance(v, bytes) else v.encode() for v in values]


# -- strings ------------------------------------------------------------------------------------------


def test_string_split_is_a_sparse_tensor_of_tokens():
    sp = tf.string_split(["a b  c", "hello,world", ""])
    value = run(sp)
    assert value.indices.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0]]
    assert list(value.values) == [b"a", b"b", b"c", b"hello,world"]
    assert value.dense_shape.tolist() == [3, 3]
    chars = run(tf.string_split(["ab"], delimiter=""))
    assert list(chars.values) == [b"a", b"b"]
    kept = run(tf.string_split(["a,,b"], delimiter=",", skip_empty=False))
    assert list(kept.values) == [b"a", b"", b"b"]
    several = run(tf.string_split(["a,b;c"], delimiter=",;"))
    assert list(several.values) == [b"a", b"b", b"c"]


def test_strings_split_follows_python_split():
    value = run(tf.strings.split(["a,b,,c", " x  y "], sep=","))
    assert list(value.values) == [b"a", b"b", b"", b"c", b" x  y "]
    whitespace = run(tf.strings.split([" x  y "]))
    assert list(whitespace.values) == [b"x", b"y"] and whitespace.dense_shape.tolist() == [1, 2]
    limited = run(tf.strings.split(["a b c"], sep=" ", maxsplit=1))
    assert list(limited.values) == [b"a", b"b c"]
    with pytest.raises(ValueError, match="vector"):
        tf.string_split([["a"]])


def test_base64_is_web_safe_and_strict():
    encoded = tf.encode_base64([b"\xff\xfe\xfd\x01", b"ab"])
    assert list(run(encoded)) == [b"__79AQ", b"YWI"]
    assert list(run(tf.encode_base64([b"ab"], pad=True))) == [b"YWI="]
    decoded = run(tf.decode_base64(["__79AQ", "__79AQ==", "YWI=", "YW"]))
    assert list(decoded) == [b"\xff\xfe\xfd\x01", b"\xff\xfe\xfd\x01", b"ab", b"a"]
    for bad in ("a+b/", "Y", "YW=I"):
        with pytest.raises(tf.errors.InvalidArgumentError):
            run(tf.decode_base64([bad]))


def test_string_to_number():
    got = run(tf.string_to_number([" 1.5 ", "inf", "1e3", "0x10"]))
    np.testing.assert_array_equal(got, np.array([1.5, np.inf, 1000.0, 16.0], np.float32))
    assert got.dtype == np.float32
    ints = run(tf.strings.to_number(["12", " -3", "+4"], out_type=tf.int64))
    assert ints.tolist() == [12, -3, 4] and ints.dtype == np.int64
    for bad, dtype in (
        ("1_0", tf.float32),
        ("abc", tf.float32),
        ("1.0", tf.int32),
        ("99999999999", tf.int32),
    ):
        with pytest.raises(
            tf.errors.InvalidArgumentError, match="StringToNumberOp could not correctly convert"
        ):
            run(tf.string_to_number([bad], dtype))


def test_hash_bucket_fast_has_tensorflows_fingerprints():
    # Values from TensorFlow: tf.strings.to_hash_bucket_fast(["hello", "", b"\xff\xfe abc"], 2**62).
    got = run(tf.string_to_hash_bucket_fast(["hello", "", b"\xff\xfe abc"], 2**62))
    assert got.tolist() == [3786372426573024488, 1936946117179621455, 4339017935150944165]
    assert run(tf.string_to_hash_bucket_fast(["hello"], 10)).tolist() == [
        13009744463427800296 % 10
    ]  # Fingerprint64("hello")


def test_join_reduce_join_substr_and_case():
    x = [["a", "b"], ["c", "d"]]
    assert run(tf.strings.join([["a", "b"], "x"], separator="+")).tolist() == [b"a+x", b"b+x"]
    assert run(tf.reduce_join(x)) == b"abcd"
    assert run(tf.reduce_join(x, axis=[0, 1])) == b"acbd"  # the first axis listed is joined first
    assert run(tf.reduce_join(x, axis=1, separator="-")).tolist() == [b"a-b", b"c-d"]
    kept = tf.reduce_join(x, axis=-1, keep_dims=True)
    assert kept.shape.as_list() == [2, 1] and run(kept).tolist() == [[b"ab"], [b"cd"]]
    assert run(tf.substr(["hello", "abc"], -2, 5)).tolist() == [b"lo", b"bc"]
    assert run(tf.strings.substr(["héllo"], 1, 2, unit="UTF8_CHAR")).tolist() == ["él".encode()]
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        run(tf.substr(["hello"], 6, 1))
    assert run(tf.strings.strip([" \t a b \n"])).tolist() == [b"a b"]
    assert run(tf.strings.lower(["ÀBC"])).tolist() == ["Àbc".encode()]  # ASCII only by default
    assert run(tf.strings.lower(["ÀBC"], encoding="utf-8")).tolist() == ["àbc".encode()]
    assert run(tf.strings.upper(["abc"])).tolist() == [b"ABC"]
    assert run(tf.strings.length(["héllo"])).tolist() == [6]
    assert run(tf.strings.length(["héllo"], unit="UTF8_CHAR")).tolist() == [5]
    assert run(tf.regex_replace(["aabb", "ab"], "a(b)", r"<\1>")).tolist() == [b"a<b>b", b"<b>"]
    assert run(tf.strings.regex_replace(["aaa"], "a", "b", replace_global=False)).tolist() == [b"baa"]


def test_as_string_formats_like_printf():
    assert run(tf.as_string([1.5, 2.25])).tolist() == [b"1.500000", b"2.250000"]
    assert run(tf.as_string([3], width=4, fill="0")).tolist() == [b"0003"]
    assert run(tf.as_string([True, False])).tolist() == [b"true", b"false"]
    assert run(tf.as_string([1.5], shortest=True)).tolist() == [b"1.5"]
    assert run(tf.as_string([1.5e10], scientific=True, precision=2)).tolist() == [b"1.50e+10"]
    with pytest.raises(ValueError, match="precision"):
        tf.as_string([1], precision=2)


# -- bitwise, bitcast, ensure_shape, identity_n ----------------------------------------------------


def test_bitwise_shifts_clamp_and_bitcast_shapes():
    x = tf.constant(np.array([1, -8, 5], np.int32))
    y = tf.constant(np.array([1, 2, 40], np.int32))
    left, right = run([tf.bitwise.left_shift(x, y), tf.bitwise.right_shift(x, y)])
    assert left.tolist() == [2, -32, -2147483648] and right.tolist() == [0, -2, 0]
    wide = tf.bitcast(tf.constant([1.0, 2.0]), tf.uint8)
    assert wide.shape.as_list() == [2, 4]
    back = tf.bitcast(wide, tf.float32)
    assert back.shape.as_list() == [2]
    assert run(back).tolist() == [1.0, 2.0]
    assert run(tf.bitcast(tf.constant(1.0), tf.int32)) == 1065353216
    with pytest.raises(ValueError, match="must end in 4"):
        tf.bitcast(tf.constant([1, 2, 3], tf.uint8), tf.int32)
    with pytest.raises(TypeError, match="int"):
        tf.bitwise.bitwise_and(tf.constant(1.0), tf.constant(2.0))


def test_ensure_shape_merges_statically_and_checks_at_run_time():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.ensure_shape(x, [2, None])
    assert y.shape.as_list() == [2, 3]
    assert run(y, {x: np.ones((2, 3))}).shape == (2, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected shape"):
        run(y, {x: np.ones((3, 3))})
    with pytest.raises(ValueError, match="not compatible"):
        tf.ensure_shape(x, [2, 4])
    (g,) = tf.gradients(tf.reduce_sum(y * 2.0), [x])
    np.testing.assert_allclose(run(g, {x: np.ones((2, 3))}), np.full((2, 3), 2.0))


# -- custom gradients ----------------------------------------------------------------------------


def test_custom_gradient_replaces_the_gradient_of_its_function():
    x = tf.placeholder(tf.float32, [None, 3])

    @tf.custom_gradient
    def clipped_square(x):
        def grad(dy):
            return tf.clip_by_value(dy * 2.0 * x, -1.0, 1.0)

        return tf.square(x), grad

    y = clipped_square(x)
    (g,) = tf.gradients(tf.reduce_sum(y), [x])
    feed = {x: [[0.1, 2.0, -3.0]]}
    value, grad = run([y, g], feed)
    np.testing.assert_allclose(value, [[0.01, 4.0, 9.0]], rtol=1e-6)
    np.testing.assert_allclose(grad, [[0.2, 1.0, -1.0]], rtol=1e-6)


def test_custom_gradient_with_variables_and_several_outputs():
    w = tf.Variable(2.0)
    x = tf.placeholder(tf.float32, [2])

    @tf.custom_gradient
    def f(x):
        def grad(da, db, variables=None):
            assert variables == [w]
            return [da * 3.0 + db], [tf.reduce_sum(da) * 5.0]

        return (x * w, x + 1.0), grad

    a, b = f(x)
    gx, gw = tf.gradients(tf.reduce_sum(a) + tf.reduce_sum(b), [x, w])
    with tf.Session("local") as sess:
        sess.run(w.initializer)
        values = sess.run([a, b, gx, gw], {x: [1.0, 2.0]})
    np.testing.assert_allclose(values[0], [2.0, 4.0])
    np.testing.assert_allclose(values[1], [2.0, 3.0])
    np.testing.assert_allclose(values[2], [4.0, 4.0])
    assert values[3] == 10.0


def test_custom_gradient_needs_a_variables_argument_when_variables_are_read():
    w = tf.Variable(1.0)

    @tf.custom_gradient
    def f(x):
        return x * w, lambda dy: dy

    with pytest.raises(TypeError, match="variables"):
        f(tf.constant(1.0))


def test_gradient_override_map_uses_the_named_gradient():
    @tf.RegisterGradient("MiscTestTimesTen")
    def _times_ten(op, dy):
        return [dy * 10.0]

    x = tf.constant([1.0, 2.0])
    with tf.get_default_graph().gradient_override_map({"Identity": "MiscTestTimesTen"}):
        y = tf.identity(x)
    z = tf.identity(x)
    gy, gz = tf.gradients(tf.reduce_sum(y), [x])[0], tf.gradients(tf.reduce_sum(z), [x])[0]
    np.testing.assert_allclose(run(gy), [10.0, 10.0])
    np.testing.assert_allclose(run(gz), [1.0, 1.0])
    with pytest.raises(TypeError, match="strings"):
        with tf.get_default_graph().gradient_override_map({"Identity": 3}):
            pass


def test_aggregation_method_is_accepted_and_checked():
    x = tf.constant(3.0)
    y = x * x + x
    for method in (
        None,
        tf.AggregationMethod.DEFAULT,
        tf.AggregationMethod.ADD_N,
        tf.AggregationMethod.EXPERIMENTAL_TREE,
        tf.AggregationMethod.EXPERIMENTAL_ACCUMULATE_N,
    ):
        assert run(tf.gradients(y, [x], aggregation_method=method)[0]) == 7.0
    with pytest.raises(ValueError, match="aggregation_method"):
        tf.gradients(y, [x], aggregation_method=7)


# -- session, compat and version names ----------------------------------------------------------------


def test_optimizer_options_in_a_config_proto():
    config = tf.ConfigProto()
    config.graph_options.optimizer_options.global_jit_level = tf.OptimizerOptions.ON_1
    assert tf.OptimizerOptions.ON_1 == 1 and tf.OptimizerOptions.L0 == -1 and tf.OptimizerOptions.L1 == 0
    options = tf.GraphOptions(optimizer_options=tf.OptimizerOptions(opt_level=tf.OptimizerOptions.L0))
    with tf.Session("local", config=tf.ConfigProto(graph_options=options)) as sess:
        assert sess.run(tf.constant(2.0)) == 2.0
    with tf.Session("local", config=config) as sess:
        assert sess.run(tf.constant(1.0)) == 1.0


def test_session_reset_closes_the_targets_sessions():
    v = tf.Variable(1.0)
    sess = tf.Session("local")
    sess.run(v.initializer)
    tf.Session.reset("local")
    with pytest.raises(RuntimeError, match="closed Session"):
        sess.run(v)
    with tf.Session("local") as fresh:  # a new session starts without the old state
        with pytest.raises(tf.errors.FailedPreconditionError):
            fresh.run(v)
    with pytest.raises(ValueError, match="not supported"):
        tf.Session.reset("tcp://elsewhere:2222")


def test_compat_text_and_versions():
    assert tf.compat.as_str(b"ab") == "ab" and tf.compat.as_text("ab") == "ab"
    assert tf.compat.as_bytes("é") == "é".encode() and tf.compat.as_bytes(bytearray(b"x")) == b"x"
    assert tf.compat.as_str_any(3) == "3" and tf.compat.as_str_any(b"x") == "x"
    with pytest.raises(TypeError, match="Expected binary or unicode string"):
        tf.compat.as_text(3)
    assert tf.__git_version__ == tf.GIT_VERSION and tf.__compiler_version__ == tf.COMPILER_VERSION


def test_batch_svd_is_svd():
    x = np.random.default_rng(0).normal(size=(2, 3, 3))
    s, u, v = run(tf.batch_svd(tf.constant(x)))
    np.testing.assert_allclose(u @ (s[..., None] * np.swapaxes(v, -1, -2)), x, atol=1e-10)


# -- CTC and edit distance ---------------------------------------------------------------------------


def _ctc_program(logits, labels, lengths, **kwargs):
    x = tf.placeholder(tf.float64, logits.shape)
    indices = [(b, j) for b, seq in enumerate(labels) for j in range(len(seq))]
    values = [v for seq in labels for v in seq]
    sp = tf.SparseTensor(np.array(indices, np.int64), np.array(values, np.int32), [len(labels), 5])
    return x, tf.nn.ctc_loss(sp, x, lengths, **kwargs)


def test_ctc_loss_of_a_single_step_is_the_softmax_probability():
    logits = np.log(np.array([[[0.2, 0.5, 0.3]]]))  # one step, one sequence, blank = class 2
    x, loss = _ctc_program(logits, [[1]], [1])
    np.testing.assert_allclose(run(loss, {x: logits}), [-np.log(0.5)])
    # Two steps, label [0]: paths "0 0", "0 _", "_ 0" all give it.
    logits = np.log(np.array([[[0.2, 0.5, 0.3]], [[0.6, 0.1, 0.3]]]))
    x, loss = _ctc_program(logits, [[0]], [2])
    expected = 0.2 * 0.6 + 0.2 * 0.3 + 0.3 * 0.6
    np.testing.assert_allclose(run(loss, {x: logits}), [-np.log(expected)])
    x, loss = _ctc_program(logits, [[0]], [2], ctc_merge_repeated=False)  # "0 0" reads as two labels
    np.testing.assert_allclose(run(loss, {x: logits}), [-np.log(0.2 * 0.3 + 0.3 * 0.6)])


@pytest.mark.parametrize("merge", [True, False])
def test_ctc_loss_gradient_matches_finite_differences(merge):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 2, 4))
    labels, lengths = [[0, 1, 1], [2]], [6, 4]
    x, loss = _ctc_program(logits, labels, lengths, ctc_merge_repeated=merge)
    weights = np.array([1.0, -0.5])
    (g,) = tf.gradients(tf.reduce_sum(loss * weights), [x])
    with tf.Session("local") as sess:
        analytic = sess.run(g, {x: logits})

        def f(v):
            return float(np.sum(sess.run(loss, {x: v}) * weights))

        numeric = np.zeros_like(logits)
        for i in np.ndindex(logits.shape):
            plus, minus = logits.copy(), logits.copy()
            plus[i] += 1e-6
            minus[i] -= 1e-6
            numeric[i] = (f(plus) - f(minus)) / 2e-6
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)
    assert np.all(analytic[4:, 1] == 0)  # past the sequence's length


def test_ctc_loss_checks_its_labels():
    logits = np.zeros((2, 1, 3))
    x, loss = _ctc_program(logits, [[0, 1, 0]], [2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Not enough time"):
        run(loss, {x: logits})
    x, loss = _ctc_program(logits, [[0, 1, 0]], [2], ignore_longer_outputs_than_inputs=True)
    assert run(loss, {x: logits}).tolist() == [0.0]
    x, loss = _ctc_program(logits, [[2, 0]], [2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-null label"):
        run(loss, {x: logits})
    with pytest.raises(TypeError, match="SparseTensor"):
        tf.nn.ctc_loss(tf.constant([[1]]), tf.constant(logits), [2])


def test_ctc_greedy_decoder_and_edit_distance():
    # classes: 0, 1, blank = 2; best path 0 0 _ 1 1 0 -> [0, 1, 0] merged, [0, 0, 1, 1, 0] not.
    best = [0, 0, 2, 1, 1, 0]
    logits = np.full((6, 1, 3), -1.0)
    logits[np.arange(6), 0, best] = 2.0
    (decoded,), neg_sum = tf.nn.ctc_greedy_decoder(tf.constant(logits, tf.float32), [6])
    (unmerged,), _ = tf.nn.ctc_greedy_decoder(tf.constant(logits, tf.float32), [6], merge_repeated=False)
    d, n, u = run([decoded, neg_sum, unmerged])
    assert d.values.tolist() == [0, 1, 0] and d.dense_shape.tolist() == [1, 3]
    assert n.tolist() == [[-12.0]]
    assert u.values.tolist() == [0, 0, 1, 1, 0]
    truth = tf.SparseTensor([[0, 0], [0, 1]], np.array([0, 0], np.int64), [1, 2])
    distance = tf.edit_distance(decoded, truth)
    raw = tf.edit_distance(decoded, truth, normalize=False)
    assert run(distance).tolist() == [0.5] and run(raw).tolist() == [1.0]  # one insertion
    hyp = tf.SparseTensor([[0, 0], [1, 0]], ["a", "b"], [2, 1])
    empty_truth = tf.SparseTensor([[1, 0]], ["b"], [2, 1])
    assert run(tf.edit_distance(hyp, empty_truth)).tolist() == [np.inf, 0.0]


# -- boxes ---------------------------------------------------------------------------------------------


def test_crop_and_resize_of_the_whole_image_is_the_image():
    image = np.random.default_rng(0).uniform(size=(1, 4, 5, 2)).astype(np.float32)
    crop = tf.image.crop_and_resize(image, [[0.0, 0.0, 1.0, 1.0]], [0], [4, 5])
    assert crop.shape.as_list() == [1, 4, 5, 2]
    np.testing.assert_allclose(run(crop), image, rtol=1e-6)
    flipped = tf.image.crop_and_resize(image, [[1.0, 0.0, 0.0, 1.0]], [0], [4, 5], method="nearest")
    np.testing.assert_allclose(run(flipped)[0], image[0, ::-1])
    outside = tf.image.crop_and_resize(image, [[-1.0, 0.0, -0.5, 1.0]], [0], [2, 2], extrapolation_value=7.0)
    assert np.all(run(outside) == 7.0)


def test_crop_and_resize_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    image = rng.uniform(size=(2, 5, 6, 2))
    boxes = np.array([[0.13, 0.21, 0.77, 0.66], [0.91, 0.07, 0.28, 0.58]], np.float32)
    x = tf.placeholder(tf.float64, image.shape)
    b = tf.placeholder(tf.float32, boxes.shape)
    crop = tf.image.crop_and_resize(x, b, [1, 0], [3, 4])
    weights = rng.uniform(-1, 1, (2, 3, 4, 2))
    loss = tf.reduce_sum(tf.cast(crop, tf.float64) * weights)
    gx, gb = tf.gradients(loss, [x, b])
    with tf.Session("local") as sess:
        analytic_x, analytic_b = sess.run([gx, gb], {x: image, b: boxes})

        def f(img, bx):
            return sess.run(loss, {x: img, b: bx})

        numeric_x = np.zeros_like(image)
        for i in np.ndindex(image.shape):
            plus, minus = image.copy(), image.copy()
            plus[i] += 1e-3
            minus[i] -= 1e-3
            numeric_x[i] = (f(plus, boxes) - f(minus, boxes)) / 2e-3
        numeric_b = np.zeros(boxes.shape)
        for i in np.ndindex(boxes.shape):
            plus, minus = boxes.copy(), boxes.copy()
            plus[i] += 1e-3
            minus[i] -= 1e-3
            numeric_b[i] = (f(image, plus) - f(image, minus)) / 2e-3
    np.testing.assert_allclose(analytic_x, numeric_x, atol=1e-4)
    np.testing.assert_allclose(analytic_b, numeric_b, rtol=2e-2, atol=2e-2)


def test_draw_bounding_boxes_draws_outlines_in_tensorflows_colours():
    image = tf.zeros([1, 5, 6, 3])
    drawn = run(tf.image.draw_bounding_boxes(image, [[[0.1, 0.2, 0.7, 0.9], [-0.5, 0.5, 0.5, 1.5]]]))
    # Picture from TensorFlow: box 0 (yellow) rows 0-2, columns 1-4; box 1 (blue) clipped, drawn over it.
    expected_red = [
        [0, 1, 0, 1, 1, 0],
        [0, 1, 0, 0, 1, 0],
        [0, 1, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ]
    expected_blue = [
        [0, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0],
        [0, 0, 1, 1, 1, 1],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ]
    np.testing.assert_array_equal(drawn[0, :, :, 0], expected_red)
    np.testing.assert_array_equal(drawn[0, :, :, 2], expected_blue)


def test_non_max_suppression_variants():
    boxes = [[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 0, 1, 0.5], [2, 2, 3, 3]]
    scores = [0.9, 0.8, 0.85, 0.1]
    # IoU(0, 1) = 0.82, IoU(0, 2) = 0.5: box 2 stays unless the threshold is below 0.5.
    assert run(tf.image.non_max_suppression(boxes, scores, 10)).tolist() == [0, 2, 3]
    assert run(tf.image.non_max_suppression(boxes, scores, 10, iou_threshold=0.4)).tolist() == [0, 3]
    assert run(tf.image.non_max_suppression(boxes, scores, 10, score_threshold=0.2)).tolist() == [0, 2]
    assert run(tf.image.non_max_suppression(boxes, scores, 1)).tolist() == [0]
    indices, valid = tf.image.non_max_suppression_padded(boxes, scores, 4, 0.4, pad_to_max_output_size=True)
    assert indices.shape.as_list() == [4]
    got, n = run([indices, valid])
    assert got.tolist() == [0, 3, 0, 0] and n == 2
    kept, kept_scores = tf.image.non_max_suppression_with_scores(
        [[0, 0, 1, 1], [0, 0, 1, 0.5]], [0.9, 0.8], 2, iou_threshold=0.6, soft_nms_sigma=0.5
    )
    k, s = run([kept, kept_scores])
    assert k.tolist() == [0, 1]
    np.testing.assert_allclose(s, [0.9, 0.8 * np.exp(-0.25)], rtol=1e-6)  # iou 0.5 decays 0.8


def test_sample_distorted_bounding_box_properties():
    box = np.array([[[0.1, 0.2, 0.5, 0.4]]], np.float32)
    begin, size, drawn = tf.image.sample_distorted_bounding_box(
        [100, 200, 3],
        box,
        seed=3,
        min_object_covered=0.5,
        aspect_ratio_range=[0.5, 2.0],
        area_range=[0.1, 0.9],
    )
    assert begin.shape.as_list() == [3] and drawn.shape.as_list() == [1, 1, 4]
    with tf.Session("local") as sess:
        draws = [sess.run([begin, size, drawn]) for _ in range(30)]
    with tf.Session("local") as sess:
        assert np.array_equal(sess.run(begin), draws[0][0])  # seeded: a new session replays
    y0, x0, y1, x1 = box[0, 0] * [100, 200, 100, 200]
    for (y, x, _), (h, w, c), bbox in draws:
        assert c == -1 and 0 <= y and y + h <= 100 and 0 <= x and x + w <= 200
        assert 0.1 * 20000 <= h * w <= 0.9 * 20000
        assert 0.5 <= w / h <= 2.0 + 1 / h
        covered = max(0, min(y + h, y1) - max(y, y0)) * max(0, min(x + w, x1) - max(x, x0))
        assert covered >= 0.5 * (y1 - y0) * (x1 - x0)
        np.testing.assert_allclose(bbox[0, 0], [y / 100, x / 200, (y + h) / 100, (x + w) / 200], rtol=1e-6)
    assert len({tuple(d[0]) for d in draws}) > 1
    whole = tf.image.sample_distorted_bounding_box(
        [10, 10, 1],
        np.zeros([1, 0, 4], np.float32),
        use_image_if_no_bounding_boxes=True,
        area_range=[1.0, 1.0],
    )
    assert run(list(whole[:2]))[1].tolist() == [10, 10, -1]
    missing = tf.image.sample_distorted_bounding_box([10, 10, 1], np.zeros([1, 0, 4], np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="No bounding boxes"):
        run(missing[0])
