"""`tf.train`: optimizers, the global step, learning-rate schedules, the Saver, tf.train.Example,
and the queue-based input pipelines (Coordinator, QueueRunner, batch, string_input_producer...)."""

from raygraph.example import *  # noqa: F403 - tf.train.Example, Feature, ...
from raygraph.train.coordinator import *  # noqa: F403 - tf.train.Coordinator
from raygraph.train.input import *  # noqa: F403 - tf.train.batch, string_input_producer...
from raygraph.train.optimizers import *  # noqa: F403
from raygraph.train.queue_runner import *  # noqa: F403 - tf.train.QueueRunner, start_queue_runners
from raygraph.train.saver import *  # noqa: F403
from raygraph.train.training_util import *  # noqa: F403
