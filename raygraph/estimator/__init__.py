"""`tf.estimator`: TF1's Estimator API on raygraph's monitored sessions.

    def model_fn(features, labels, mode, params):
        ...
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op,
                                          eval_metric_ops={"acc": tf.metrics.accuracy(labels, pred)})

    est = tf.estimator.Estimator(model_fn, model_dir="model",
                                 config=tf.estimator.RunConfig(master="local"))
    est.train(tf.estimator.inputs.numpy_input_fn({"x": xs}, ys, shuffle=True, num_epochs=5))
    print(est.evaluate(tf.estimator.inputs.numpy_input_fn({"x": xs}, ys, shuffle=False)))

Modules: model_fn (ModeKeys, EstimatorSpec), run_config (RunConfig), estimator
(Estimator), training (train_and_evaluate), inputs (numpy_input_fn), export
(ServingInputReceiver and the ExportOutput classes). Canned estimators
(DNNClassifier, LinearRegressor, ...) and SavedModel export are not implemented.
"""

from raygraph.estimator import export, inputs
from raygraph.estimator.estimator import Estimator
from raygraph.estimator.model_fn import EstimatorSpec, ModeKeys
from raygraph.estimator.run_config import RunConfig
from raygraph.estimator.training import EvalSpec, TrainSpec, train_and_evaluate

__all__ = [
    "Estimator",
    "EstimatorSpec",
    "EvalSpec",
    "ModeKeys",
    "RunConfig",
    "TrainSpec",
    "export",
    "inputs",
    "train_and_evaluate",
]
