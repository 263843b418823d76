"""raygraph's op registry and op families (internal: users import `raygraph`).

`ops.registry` is the registry; each family module (math, array, nn, reduce,
state, random, control) declares its ops there when imported. `raygraph`
imports every family, so importing raygraph registers every built-in op.
"""

FAMILIES = ("math", "array", "reduce", "nn", "state", "random", "control", "training")


def load_all() -> None:
    """Imports every op family, registering its ops."""
    import importlib

    for family in FAMILIES:
        importlib.import_module(f"ops.{family}")
