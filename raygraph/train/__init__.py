"""`tf.train`: optimizers, the global step, learning-rate schedules, the Saver, moving averages,
tf.train.Example, and the training loop (hooks, MonitoredSession, Scaffold, Supervisor).

Also meta graphs (export_meta_graph, import_meta_graph, write_graph), init_from_checkpoint,
and the queue-based input pipelines (Coordinator, QueueRunner, batch, string_input_producer...).
"""

from raygraph.example import *  # noqa: F403 - tf.train.Example, Feature, ...
from raygraph.meta_graph import export_meta_graph, import_meta_graph, write_graph  # noqa: F401
from raygraph.summary import FileWriter as SummaryWriter  # noqa: F401 - the pre-1.0 name
from raygraph.summary import FileWriterCache as SummaryWriterCache  # noqa: F401, E402
from raygraph.train.basic_hooks import *  # noqa: F403, E402
from raygraph.train.checkpoint_utils import init_from_checkpoint  # noqa: F401
from raygraph.train.coordinator import *  # noqa: F403 - tf.train.Coordinator
from raygraph.train.cosine_decay import *  # noqa: F403, E402 - cosine_decay, natural_exp_decay...
from raygraph.train.distributed import *  # noqa: F403 - ClusterSpec, Server, replica_device_setter, SyncReplicasOptimizer
from raygraph.train.input import *  # noqa: F403 - tf.train.batch, string_input_producer...
from raygraph.train.monitored_session import *  # noqa: F403, E402
from raygraph.train.moving_averages import *  # noqa: F403
from raygraph.train.optimizers import *  # noqa: F403
from raygraph.train.queue_runner import *  # noqa: F403 - tf.train.QueueRunner, start_queue_runners
from raygraph.train.saver import *  # noqa: F403
from raygraph.train.session_manager import *  # noqa: F403, E402
from raygraph.train.session_run_hook import *  # noqa: F403, E402
from raygraph.train.supervisor import *  # noqa: F403, E402
from raygraph.train.training_util import *  # noqa: F403
