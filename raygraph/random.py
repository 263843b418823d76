"""`tf.random`: random tensors and seeds (random.normal, random.uniform, random.shuffle, ...).

The functions come from the op registry (`ops/random.py` registers them under
"random.<name>"); names registered later by user code resolve through __getattr__.
"""

from ops import registry as _registry

__getattr__ = _registry.namespace(globals(), "random.")
