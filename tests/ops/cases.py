"""The registry-wide op test table: at least one `Case` per registered op type.

Each op family has a module `cases_<family>.py` defining `CASES` (a list of
`Case`) and `TESTED_ELSEWHERE` ({op type: test file} for ops that a forward
comparison cannot show, such as variables and random ops). test_ops.py runs
every case through a real Session against its numpy reference on random inputs
of each listed shape (and once more with every placeholder dimension unknown),
checks the output dtype against the op's inferred dtype, and checks gradients
against central finite differences in float64. A registered op without a case
fails `test_every_op_has_a_case`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Case:
    """One op under test: how to build it and what numpy says it computes."""

    op: str  # the registered op type this case covers
    build: Callable  # (*input tensors) -> Tensor or list of Tensors
    reference: Callable  # (*input arrays) -> array or list of arrays
    shapes: list  # input shape tuples to try: [((2, 3), (3, 4)), ...]
    dtypes: tuple = ("float32",)  # one per input, or one for all
    inputs: Callable | None = None  # (rng, shapes, dtypes) -> arrays; default uniform(-2, 2)
    grad: bool = True  # check the gradient with finite differences
    grad_inputs: tuple | None = None  # indices to differentiate (default: floating inputs)
    dynamic: bool = True  # also run with every placeholder dimension unknown
    rtol: float = 1e-5
    atol: float = 1e-6
    label: str = ""
    extra: dict = field(default_factory=dict)

    def dtype_of(self, i: int) -> str:
        return self.dtypes[i] if len(self.dtypes) > 1 else self.dtypes[0]

    @property
    def id(self) -> str:
        return f"{self.op}{'-' + self.label if self.label else ''}"


def uniform(low: float = -2.0, high: float = 2.0):
    """Input generator: uniform values (ints drawn in [low, high])."""

    def make(rng, shapes, dtypes):
        out = []
        for shape, dtype in zip(shapes, dtypes):
            dt = np.dtype(dtype)
            if dt.kind in "iu":
                out.append(rng.integers(int(low), int(high) + 1, size=shape).astype(dt))
            elif dt.kind == "b":
                out.append(rng.random(shape) < 0.5)
            else:
                out.append(rng.uniform(low, high, size=shape).astype(dt))
        return out

    return make


def positive(low: float = 0.5, high: float = 3.0):
    return uniform(low, high)


FAMILY_MODULES = (
    "math",
    "array",
    "reduce",
    "nn",
    "random",
    "state",
    "control",
    "training",
    "summary",
    "parsing",
    "trainmisc",
    "control_flow",
    "nn_extra",
    "linalg",
    "image",
    "checkpoint",
    "data",
    "queues",
    "collective",
    "misc",
)


def all_cases() -> tuple[list[Case], dict[str, str]]:
    """Every family's cases and TESTED_ELSEWHERE entries, merged."""
    import importlib

    cases, elsewhere = [], {}
    for family in FAMILY_MODULES:
        try:
            module = importlib.import_module(f"tests.ops.cases_{family}")
        except ModuleNotFoundError as e:
            if e.name != f"tests.ops.cases_{family}":
                raise
            continue
        cases.extend(getattr(module, "CASES", []))
        elsewhere.update(getattr(module, "TESTED_ELSEWHERE", {}))
    return cases, elsewhere
