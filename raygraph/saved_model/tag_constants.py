"""`tf.saved_model.tag_constants`: the tags that name a SavedModel's meta graphs (TensorFlow's values).

>>> builder.add_meta_graph_and_variables(sess, [tf.saved_model.tag_constants.SERVING])
"""

SERVING = "serve"
"""The meta graph for serving (inference)."""
TRAINING = "train"
"""The meta graph for training."""
EVAL = "eval"
"""The meta graph for evaluation."""
GPU = "gpu"
"""A meta graph meant to run on a GPU."""
TPU = "tpu"
"""A meta graph meant to run on a TPU (accepted as a name; raygraph has no TPU support)."""
