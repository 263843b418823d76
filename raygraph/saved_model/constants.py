"""`tf.saved_model.constants`: collection keys and file names of a SavedModel.

The collection keys are TensorFlow's. The file names are raygraph's: its export
directory holds `saved_model.json`, `variables/variables.safetensors` and
`manifest.json` (raygraph.saved_model.store), not TensorFlow's protobuf files.
"""

from raygraph.saved_model import store

ASSETS_DIRECTORY = "assets"
ASSETS_KEY = "saved_model_assets"
LEGACY_INIT_OP_KEY = "legacy_init_op"
MAIN_OP_KEY = "saved_model_main_op"
TRAIN_OP_KEY = "saved_model_train_op"
INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
TRAIN_OP_SIGNATURE_KEY = "__saved_model_train_op"
SAVED_MODEL_SCHEMA_VERSION = 1
SAVED_MODEL_FILENAME_JSON = store.SAVED_MODEL_FILENAME
MANIFEST_FILENAME = store.MANIFEST_FILENAME
VARIABLES_DIRECTORY = store.VARIABLES_DIRECTORY
VARIABLES_FILENAME = store.VARIABLES_FILENAME
