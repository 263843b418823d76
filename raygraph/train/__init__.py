"""`tf.train`: optimizers, the global step, learning-rate schedules and the Saver."""

from raygraph.train.optimizers import *  # noqa: F403
from raygraph.train.saver import *  # noqa: F403
from raygraph.train.training_util import *  # noqa: F403
