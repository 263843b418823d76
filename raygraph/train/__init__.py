"""`tf.train`: optimizers, the global step, learning-rate schedules, the Saver, and tf.train.Example."""

from raygraph.example import *  # noqa: F403 - tf.train.Example, Feature, ...
from raygraph.train.optimizers import *  # noqa: F403
from raygraph.train.saver import *  # noqa: F403
from raygraph.train.training_util import *  # noqa: F403
