"""`tf.nn`: neural-network ops (activations, losses, convolutions, pooling).

The functions come from the op registry (`ops/nn.py` declares them under
"nn.<name>"); names registered later by user code resolve through __getattr__.
"""

import ops as _ops
from ops import registry as _registry

_ops.load_all()

__getattr__ = _registry.namespace(globals(), "nn.")

from raygraph import rnn_cell  # noqa: E402, F401 - tf.nn.rnn_cell
from raygraph.rnn import (  # noqa: E402, F401 - tf.nn.dynamic_rnn etc.
    bidirectional_dynamic_rnn,
    dynamic_rnn,
    static_bidirectional_rnn,
    static_rnn,
)
