"""tf.saved_model's constants and SignatureDefs against TensorFlow's; a TF-built signature loads in raygraph."""

from __future__ import annotations

import numpy as np
import pytest

v1 = pytest.importorskip("tensorflow.compat.v1")

import raygraph as tf  # noqa: E402

pytestmark = pytest.mark.compat

_CONSTANTS = (
    [("tag_constants", n) for n in ("SERVING", "TRAINING", "GPU", "TPU")]
    + [
        ("signature_constants", n)
        for n in (
            "DEFAULT_SERVING_SIGNATURE_DEF_KEY",
            "CLASSIFY_INPUTS",
            "CLASSIFY_METHOD_NAME",
            "CLASSIFY_OUTPUT_CLASSES",
            "CLASSIFY_OUTPUT_SCORES",
            "PREDICT_INPUTS",
            "PREDICT_METHOD_NAME",
            "PREDICT_OUTPUTS",
            "REGRESS_INPUTS",
            "REGRESS_METHOD_NAME",
            "REGRESS_OUTPUTS",
        )
    ]
    + [
        ("constants", n)
        for n in (
            "ASSETS_KEY",
            "LEGACY_INIT_OP_KEY",
            "MAIN_OP_KEY",
            "ASSETS_DIRECTORY",
            "VARIABLES_DIRECTORY",
            "VARIABLES_FILENAME",
        )
    ]
)


@pytest.mark.parametrize("module, name", _CONSTANTS)
def test_constants_equal_tensorflow(module, name):
    assert getattr(getattr(tf.saved_model, module), name) == getattr(getattr(v1.saved_model, module), name)


def _signatures(lib):
    """predict/classify/regress signatures built by `lib` on one small graph, serialized."""
    with lib.Graph().as_default():
        x = lib.placeholder(lib.float32, [None, 3], name="x")
        examples = lib.placeholder(lib.string, [None], name="examples")
        y = lib.identity(x * 2.0, name="y")
        scores = lib.nn.softmax(x, name="scores")
        sm = lib.saved_model
        out = {
            "predict": sm.signature_def_utils.predict_signature_def({"x": x}, {"y": y, "s": scores}),
            "regress": sm.signature_def_utils.regression_signature_def(
                examples, lib.reduce_sum(x, 1, name="r")
            ),
            "classify": sm.signature_def_utils.classification_signature_def(examples, None, scores),
            "info": sm.utils.build_tensor_info(x),
        }
        return {k: v.SerializeToString(deterministic=True) for k, v in out.items()}


def test_signature_defs_equal_tensorflow_byte_for_byte():
    assert _signatures(tf) == _signatures(v1)


def test_signature_errors_match_tensorflow():
    for lib in (tf, v1):
        with lib.Graph().as_default():
            x = lib.placeholder(lib.float32, [None, 3], name="x")
            with pytest.raises(ValueError, match="Prediction `inputs` cannot be None or empty."):
                lib.saved_model.predict_signature_def({}, {"y": x})
            with pytest.raises(ValueError, match="Regression input tensors must be of type string"):
                lib.saved_model.regression_signature_def(x, x)


def test_same_program_same_predictions_after_round_trip(tmp_path):
    """The same TF1 export/load program runs on TensorFlow (its format) and raygraph (its own)."""
    w0 = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
    batch = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    results = []
    for lib, target in ((v1, ""), (tf, "local")):
        export_dir = str(tmp_path / lib.__name__.replace(".", "_"))
        with lib.Graph().as_default():
            x = lib.placeholder(lib.float32, [None, 3], name="x")
            w = lib.Variable(w0, name="w")
            y = lib.nn.relu(lib.matmul(x, w) - 0.2, name="y")
            with lib.Session(target) as sess:
                sess.run(lib.global_variables_initializer())
                sess.run(w.assign_add(lib.ones_like(w)))
                lib.saved_model.simple_save(sess, export_dir, {"x": x}, {"y": y})
        with lib.Graph().as_default() as g, lib.Session(target, graph=g) as sess:
            meta = lib.saved_model.loader.load(sess, [lib.saved_model.tag_constants.SERVING], export_dir)
            sig = meta.signature_def[lib.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
            assert sig.method_name == "tensorflow/serving/predict"
            results.append(sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: batch}))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6)
