"""`tf.saved_model` (TensorFlow 1.x): export a trained graph with its variables, and load it back.

    tf.saved_model.simple_save(sess, "export/1", inputs={"x": x}, outputs={"y": y})
    ...
    with tf.Session(graph=tf.Graph()) as sess:
        meta = tf.saved_model.loader.load(sess, [tf.saved_model.tag_constants.SERVING], "export/1")
        sig = meta.signature_def["serving_default"]
        print(sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: batch}))

TensorFlow's API (builder.SavedModelBuilder, loader.load, signature_def_utils,
utils.build_tensor_info, tag_constants, signature_constants); raygraph's own
format, made to be safe to load from an untrusted source. An export directory
holds `saved_model.json` (each meta graph: tags, signatures as protobuf JSON,
the graph as a declarative, versioned document naming only registered built-in
ops, see raygraph.saved_model.format), `variables/variables.safetensors` and
`manifest.json` with each file's SHA-256 (raygraph.saved_model.store). Loading
checks all of it before building anything and runs no code from the directory:
no pickle, no eval, no import. It is not TensorFlow's saved_model.pb; raygraph
neither reads nor writes that.

Pieces: format (graph <-> JSON, the checks), rebuild (checked JSON -> Graph),
store (files, manifest), builder, loader.
"""

# ruff: noqa: F401 - the public namespace re-exports

from raygraph.saved_model import (
    builder,
    constants,
    loader,
    main_op,
    signature_constants,
    signature_def_utils,
    tag_constants,
    utils,
)
from raygraph.saved_model.builder import SavedModelBuilder, simple_save
from raygraph.saved_model.constants import (
    ASSETS_DIRECTORY,
    ASSETS_KEY,
    LEGACY_INIT_OP_KEY,
    MAIN_OP_KEY,
    SAVED_MODEL_SCHEMA_VERSION,
    VARIABLES_DIRECTORY,
    VARIABLES_FILENAME,
)
from raygraph.saved_model.loader import load, maybe_saved_model_directory
from raygraph.saved_model.signature_constants import (
    CLASSIFY_INPUTS,
    CLASSIFY_METHOD_NAME,
    CLASSIFY_OUTPUT_CLASSES,
    CLASSIFY_OUTPUT_SCORES,
    DEFAULT_SERVING_SIGNATURE_DEF_KEY,
    PREDICT_INPUTS,
    PREDICT_METHOD_NAME,
    PREDICT_OUTPUTS,
    REGRESS_INPUTS,
    REGRESS_METHOD_NAME,
    REGRESS_OUTPUTS,
)
from raygraph.saved_model.signature_def_utils import (
    build_signature_def,
    classification_signature_def,
    is_valid_signature,
    predict_signature_def,
    regression_signature_def,
)
from raygraph.saved_model.store import contains_saved_model
from raygraph.saved_model.tag_constants import GPU, SERVING, TPU, TRAINING
from raygraph.saved_model.utils import build_tensor_info, get_tensor_from_tensor_info

Builder = SavedModelBuilder
