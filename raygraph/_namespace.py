"""The public namespace of `import raygraph as tf`, assembled on first use.

`raygraph/__init__.py` imports nothing; the first attribute looked up on the
package (`tf.placeholder`, `tf.Session`, ...) imports this module, which loads
every op family and the user API, and copies the names below into the package.
So the graph core, the op registry and the scheduler import without the user
API (a device actor loads none of it).

The op functions (`tf.matmul`, `tf.nn.relu`, ...) come from the op registry in
`ops/`: each op type is declared once there, with its shape function, kernel and
gradient. New ops registered by user code appear here under their `api` names.
"""

from __future__ import annotations

import ops as _ops
from ops import registry as _registry

_ops.load_all()

from raygraph import (  # noqa: E402
    app,
    bitwise,
    data,
    debugging,
    distributions,
    dtypes,
    errors,
    flags,
    gfile,
    image,
    initializers,
    io,
    layers,
    linalg,
    logging,
    losses,
    math,
    metrics,
    nest,  # noqa: E402
    nn,
    python_io,
    random,
    sparse,
    strings,
    summary,
    sysconfig,
    test,
    timeline,
    train,
    version,
    viz,
)
from raygraph.control_flow import case, cond, foldl, foldr, map_fn, scan, tuple, while_loop  # noqa: E402, A004
from raygraph.data_flow_ops import (  # noqa: E402
    FIFOQueue,
    PaddingFIFOQueue,
    PriorityQueue,
    QueueBase,
    RandomShuffleQueue,
)
from raygraph.device import DeviceSpec  # noqa: E402
from raygraph.dtypes import (  # noqa: E402
    DType,
    as_dtype,
    bfloat16,
    bool,  # noqa: A004 - TensorFlow's name
    complex64,
    complex128,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
    variant,
)
from raygraph.gradients import AggregationMethod, custom_gradient, gradients  # noqa: E402
from raygraph.graph import (  # noqa: E402
    Graph,
    GraphKeys,
    Operation,
    Tensor,
    add_to_collection,
    add_to_collections,
    colocate_with,
    control_dependencies,
    convert_to_tensor,
    device,
    get_collection,
    get_collection_ref,
    get_default_graph,
    name_scope,
    reset_default_graph,
)
from raygraph.initializers import *  # noqa: E402, F403 - tf.zeros_initializer and friends
from raygraph.io_ops import (  # noqa: E402
    FixedLengthRecordReader,
    IdentityReader,
    ReaderBase,
    TextLineReader,
    TFRecordReader,
    WholeFileReader,
)
from raygraph.logging import get_logger  # noqa: E402 - tf.get_logger (TF 1.14+)
from raygraph.random import set_random_seed  # noqa: E402
from raygraph.registry_api import NotDifferentiable, Op, RegisterGradient, raw_ops  # noqa: E402
from raygraph.session import (  # noqa: E402
    ConfigProto,
    GPUOptions,
    GraphOptions,
    InteractiveSession,
    OptimizerOptions,
    RunMetadata,
    RunOptions,
    Session,
    get_default_session,
)
from raygraph.shapes import Dimension, TensorShape  # noqa: E402
from raygraph.summary import Event, HistogramProto, SessionLog, Summary, SummaryMetadata  # noqa: E402
from raygraph.tensor_array import TensorArray  # noqa: E402
from raygraph.variable_scope import *  # noqa: E402, F403 - variable_scope, get_variable
from raygraph.variables import (  # noqa: E402
    Variable,
    all_variables,
    global_variables,
    global_variables_initializer,
    initialize_all_variables,
    local_variables,
    local_variables_initializer,
    trainable_variables,
    variables_initializer,
)
from raygraph.version import COMPILER_VERSION, GIT_VERSION, GRAPH_DEF_VERSION, VERSION  # noqa: E402

__getattr__ = _registry.namespace(globals(), "")  # user ops registered later resolve too

from raygraph import compat  # noqa: E402
from raygraph.template import *  # noqa: E402, F403 - make_template, report_uninitialized_variables

newaxis = None

from tensorboard.compat.proto.attr_value_pb2 import AttrValue  # noqa: E402 - TF1's protos
from tensorboard.compat.proto.graph_pb2 import GraphDef  # noqa: E402
from tensorboard.compat.proto.meta_graph_pb2 import MetaGraphDef  # noqa: E402
from tensorboard.compat.proto.node_def_pb2 import NodeDef  # noqa: E402

from raygraph import graph_util  # noqa: E402
from raygraph.importer import import_graph_def  # noqa: E402


def disable_eager_execution() -> None:
    """Does nothing: raygraph always builds graphs (kept for tf.compat.v1 programs)."""


def disable_v2_behavior() -> None:
    """Does nothing: raygraph has TensorFlow 1.x behaviour (kept for tf.compat.v1 programs)."""


def disable_resource_variables() -> None:
    """Does nothing: raygraph's variables behave as TF1's reference variables (a fetch of a
    variable that the run updates shows the update)."""


def enable_resource_variables() -> None:
    """Does nothing (kept for tf.compat.v1 programs); see disable_resource_variables."""


def executing_eagerly() -> bool:
    """Always False: ops build a graph; values come from Session.run."""
    return False


# tf.estimator and tf.saved_model load on first use (raygraph/__init__.py's __getattr__
# imports a submodule when it is first looked up): most programs use neither.
from raygraph import parallel  # noqa: E402 - tf.parallel: DataParallel, all_reduce
from raygraph.partitioned_variables import *  # noqa: E402, F403 - tf.fixed_size_partitioner and friends
from raygraph.variables import variable_creator_scope  # noqa: E402
# tf.keras (raygraph/keras/) loads on first use as well, like tf.estimator: it is listed in
# raygraph/__init__.py's _LAZY so dir(tf) shows it.
