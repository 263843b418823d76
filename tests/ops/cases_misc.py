"""Op test cases for array_identity, bitwise, image_patches, strings, ctc and image_boxes.

The string, CTC and box ops have no numpy reference here: they are tested
against hand-worked values and finite differences in tests/ops/test_misc_ops.py
and against TensorFlow in tests/compat/test_misc_names_vs_tf.py.
"""

from __future__ import annotations

import numpy as np

import raygraph as tf
from tests.ops.cases import Case, uniform


def _patches_ref(ksizes, strides, rates, padding):
    """A plain-loop ExtractImagePatches."""

    def ref(x):
        b, h, w, d = x.shape
        out_axes = []
        for size, k, s, r in ((h, ksizes[1], strides[1], rates[1]), (w, ksizes[2], strides[2], rates[2])):
            span = k + (k - 1) * (r - 1)
            if padding == "VALID":
                n, before = -(-(size - span + 1) // s), 0
            else:
                n = -(-size // s)
                before = max((n - 1) * s + span - size, 0) // 2
            out_axes.append((n, before))
        (oh, top), (ow, left) = out_axes
        out = np.zeros((b, oh, ow, ksizes[1], ksizes[2], d), x.dtype)
        for i in range(oh):
            for j in range(ow):
                for p in range(ksizes[1]):
                    for q in range(ksizes[2]):
                        row = i * strides[1] + p * rates[1] - top
                        col = j * strides[2] + q * rates[2] - left
                        if 0 <= row < h and 0 <= col < w:
                            out[:, i, j, p, q] = x[:, row, col]
        return out.reshape(b, oh, ow, -1)

    return ref


def _shift_amounts(rng, shapes, dtypes):
    x = rng.integers(-100, 100, size=shapes[0]).astype(dtypes[0])
    y = rng.integers(-2, 40, size=shapes[1]).astype(dtypes[1])  # beyond the width: clamped
    return [x, y]


def _clamp(y, bits=32):
    return np.clip(y, 0, bits - 1)


CASES = [
    Case("IdentityN", lambda x, y: tf.identity_n([x, y]), lambda x, y: [x, y], [((2, 3), (4,))]),
    Case("EnsureShape", lambda x: tf.ensure_shape(x, [2, None]), lambda x: x, [((2, 3),)]),
    Case(
        "BitwiseAnd",
        tf.bitwise.bitwise_and,
        np.bitwise_and,
        [((2, 3), (3,))],
        ("int32",),
        uniform(-50, 50),
        grad=False,
    ),
    Case(
        "BitwiseOr",
        tf.bitwise.bitwise_or,
        np.bitwise_or,
        [((2, 3), (2, 3))],
        ("int64",),
        uniform(-50, 50),
        grad=False,
    ),
    Case(
        "BitwiseXor",
        tf.bitwise.bitwise_xor,
        np.bitwise_xor,
        [((4,), ())],
        ("uint8",),
        uniform(0, 255),
        grad=False,
    ),
    Case("Invert", tf.bitwise.invert, np.invert, [((2, 3),)], ("int16",), uniform(-50, 50), grad=False),
    Case(
        "LeftShift",
        tf.bitwise.left_shift,
        lambda x, y: (x.astype(np.int64) << _clamp(y)).astype(np.uint32).astype(np.int32),
        [((2, 3), (2, 3))],
        ("int32",),
        _shift_amounts,
        grad=False,
    ),
    Case(
        "RightShift",
        tf.bitwise.right_shift,
        lambda x, y: x >> _clamp(y),
        [((2, 3), (2, 3))],
        ("int32",),
        _shift_amounts,
        grad=False,
    ),
    Case("Bitcast", lambda x: tf.bitcast(x, tf.int32), lambda x: x.view(np.int32), [((2, 3),)], grad=False),
    Case(
        "Bitcast",
        lambda x: tf.bitcast(x, tf.uint8),
        lambda x: x.reshape(-1).view(np.uint8).reshape(*x.shape, 4),
        [((2, 3),), ((),)],
        grad=False,
        label="smaller",
    ),
    Case(
        "ExtractImagePatches",
        lambda x: tf.extract_image_patches(x, [1, 3, 2, 1], [1, 2, 1, 1], [1, 1, 2, 1], "SAME"),
        _patches_ref([1, 3, 2, 1], [1, 2, 1, 1], [1, 1, 2, 1], "SAME"),
        [((2, 5, 6, 2),)],
        dtypes=("float64",),
    ),
    Case(
        "ExtractImagePatches",
        lambda x: tf.extract_image_patches(x, [1, 2, 2, 1], [1, 2, 3, 1], [1, 1, 1, 1], "VALID"),
        _patches_ref([1, 2, 2, 1], [1, 2, 3, 1], [1, 1, 1, 1], "VALID"),
        [((1, 5, 7, 3),)],
        dtypes=("float64",),
        label="valid",
    ),
]

_UNIT = "tests/ops/test_misc_ops.py"
TESTED_ELSEWHERE = {
    op: _UNIT
    for op in (
        "ExtractImagePatchesGrad",
        "StringSplit",
        "StringSplitV2",
        "EncodeBase64",
        "DecodeBase64",
        "StringToNumber",
        "StringToHashBucketFast",
        "StringJoin",
        "ReduceJoin",
        "Substr",
        "StringStrip",
        "StringLower",
        "StringUpper",
        "StringLength",
        "RegexReplace",
        "AsString",
        "CTCLoss",
        "CTCGreedyDecoder",
        "EditDistance",
        "CropAndResize",
        "CropAndResizeGradImage",
        "CropAndResizeGradBoxes",
        "DrawBoundingBoxes",
        "NonMaxSuppressionV3",
        "NonMaxSuppressionV4",
        "NonMaxSuppressionV5",
        "SampleDistortedBoundingBoxV2",
    )
}
