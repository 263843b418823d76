"""A fuzz pass over the op registry: every op's test cases (tests/ops/cases*.py), mutated.

Each fuzz case takes one `Case` (an op, how to build it, its numpy reference, shapes
and dtypes) and one mutation:

- "values":  the case's shapes, with NaN, +-inf, -0 and +-1e-30 among the floats
             and -1, 0 and the type's extremes among some integer inputs;
- "empty":   one dimension set to 0 in every input that has it;
- "shapes":  one dimension changed (in every input, or in one input only), a rank
             added or removed; fed through placeholders of unknown shape;
- "dtypes":  one input of another dtype (float16/64, ints, uint8, bool, complex64);
- "attrs":   one attribute of the op set out of range (negative, huge, NaN, a bad
             string, an empty or negative list, another dtype);
- "huge":    every integer input (shapes, sizes, depths, indices) set to a huge value.

The contract checked for each: building raises nothing but TypeError, ValueError
or a tf.errors class (TensorFlow raises those when a graph is built); running gives
outputs of the inferred dtype and a shape compatible with the inferred one, equal
to the numpy reference where the mutation keeps the op's meaning (values, empty,
shapes) and the reference computes, or raises a tf.errors class. Anything else is a
failure: another exception class, a run longer than `CASE_SECONDS`, a crash (the
parent, tests/fuzz/test_op_fuzz.py, sees the process die and names the case).

Run as a process (so that a crash is seen, and under an address-space limit, so that
a huge allocation fails as MemoryError instead of taking the machine's memory):

    python -m tests.fuzz.fuzzer --seed 0 --rounds 1 --out report.jsonl

Each line of the report is one case: {"id", "op", "kind", "outcome", "detail"}, the
outcome one of "match" (equal to numpy), "typed" (a tf.errors class at run time),
"build" (TypeError/ValueError at build time), "ran" (ran, checked against the
inferred dtype and shape only) or "FAIL".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import signal
import sys
import time
import traceback
import warnings
from dataclasses import dataclass

import numpy as np

import raygraph as tf
from raygraph import errors
from tests.ops.cases import Case, all_cases, uniform

KINDS = ("values", "empty", "shapes", "dtypes", "attrs", "huge")
SAFE_KINDS = ("values", "empty", "shapes", "dtypes")  # no huge allocation: for a Ray actor
CASE_SECONDS = 20.0
HEADROOM_BYTES = 3 << 30  # the address space a fuzz process may add to what it has at start
FLOAT_SPECIALS = (np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30)
NUMPY_HANGS = {"Svd"}  # LAPACK's gesdd may loop forever on inf or nan (OpenBLAS 0.3.31)
OTHER_DTYPES = ("float16", "float64", "int32", "int64", "uint8", "bool", "complex64")


class Hang(Exception):
    """A case ran past CASE_SECONDS."""


@dataclass
class Outcome:
    outcome: str
    detail: str = ""


@dataclass
class Built:
    placeholders: list
    arrays: list
    outputs: list
    compare: bool  # whether the numpy reference means the same thing
    originals: list  # the inputs before their values were mutated


# -- inputs ------------------------------------------------------------------------------


def _make(case: Case, rng, shapes, dtypes) -> list[np.ndarray]:
    make = case.inputs or uniform()
    return [np.asarray(a) for a in make(rng, [tuple(s) for s in shapes], list(dtypes))]


def _dtypes(case: Case, n: int) -> list[str]:
    return [case.dtype_of(i) for i in range(n)]


def _sprinkle(rng, array: np.ndarray, kind: str) -> np.ndarray:
    """`array` with about a third of its elements replaced by special values."""
    if array.size == 0 or array.dtype.kind not in kind:
        return array
    out = array.copy()
    flat = out.reshape(-1)
    chosen = rng.random(flat.size) < 0.35
    if array.dtype.kind == "f":
        specials = np.array(FLOAT_SPECIALS, np.float64).astype(array.dtype)
    else:
        info = np.iinfo(array.dtype)
        specials = np.array([-1, 0, info.min, info.max], np.int64).astype(array.dtype)
    flat[chosen] = rng.choice(specials, size=int(chosen.sum()))
    return out


def _mutated_shapes(rng, shapes: list[tuple]) -> tuple[list[tuple], str]:
    shapes = [tuple(s) for s in shapes]
    ranks = [len(s) for s in shapes]
    how = rng.choice(["dim", "one", "rank+", "rank-"])
    if how == "dim" and max(ranks, default=0) > 0:
        axis = int(rng.integers(max(ranks)))
        size = int(rng.integers(1, 7))
        return [
            s[:axis] + (size,) + s[axis + 1 :] if len(s) > axis else s for s in shapes
        ], f"dim {axis}={size}"
    i = int(rng.integers(len(shapes))) if shapes else 0
    if not shapes:
        return shapes, "no inputs"
    s = shapes[i]
    if how == "rank+":
        s = (int(rng.integers(1, 4)),) + s
    elif how == "rank-" and s:
        s = s[1:]
    else:
        s = tuple(int(rng.integers(0, 6)) for _ in s)
    return shapes[:i] + [s] + shapes[i + 1 :], f"input {i} {how} -> {s}"


def _emptied(rng, shapes: list[tuple]) -> tuple[list[tuple], str]:
    shapes = [tuple(s) for s in shapes]
    ranks = [len(s) for s in shapes]
    if max(ranks, default=0) == 0:
        return shapes, "scalars only"
    axis = int(rng.integers(max(ranks)))
    return [s[:axis] + (0,) + s[axis + 1 :] if len(s) > axis else s for s in shapes], f"dim {axis}=0"


def _huge(rng, array: np.ndarray) -> np.ndarray:
    if array.dtype.kind not in "iu":
        return array
    info = np.iinfo(array.dtype)
    value = rng.choice([info.max, min(info.max, 10**9), min(info.max, 2**40), info.min, -1])
    return np.full(array.shape, value, array.dtype)


# -- building ----------------------------------------------------------------------------


def _placeholders(arrays, rank_known: bool):
    return [
        tf.placeholder(tf.as_dtype(a.dtype), [None] * a.ndim if rank_known else None, name=f"in{i}")
        for i, a in enumerate(arrays)
    ]


def _as_list(x):
    return list(x) if isinstance(x, list | tuple) else [x]


def build(case: Case, kind: str, rng) -> tuple[Built | None, str]:
    """Builds the mutated case in the default graph: (Built, what was mutated)."""
    shapes = [tuple(s) for s in case.shapes[int(rng.integers(len(case.shapes)))]]
    dtypes = _dtypes(case, len(shapes))
    what = ""
    dynamic = False
    if kind == "empty":
        shapes, what = _emptied(rng, shapes)
        dynamic = True
    elif kind == "shapes":
        shapes, what = _mutated_shapes(rng, shapes)
        dynamic = True
    elif kind == "dtypes" and dtypes:
        i = int(rng.integers(len(dtypes)))
        new = str(rng.choice([d for d in OTHER_DTYPES if d != dtypes[i]]))
        what = f"input {i} {dtypes[i]} -> {new}"
        dtypes = dtypes[:i] + [new] + dtypes[i + 1 :]
    try:
        arrays = _make(case, rng, shapes, dtypes)
    except Exception as e:  # noqa: BLE001 - the case's input maker cannot make these shapes
        return None, f"no inputs ({type(e).__name__})"
    originals = arrays
    if kind == "values":
        ints = rng.random() < 0.5
        arrays = [_sprinkle(rng, a, "fiu" if ints else "f") for a in arrays]
        what = "specials" + (" and int extremes" if ints else "")
    elif kind == "huge":
        arrays = [_huge(rng, a) for a in arrays]
        what = "ints " + ",".join(str(a.reshape(-1)[0]) for a in arrays if a.dtype.kind in "iu" and a.size)
    placeholders = (
        _placeholders(arrays, rank_known=rng.random() < 0.7)
        if dynamic
        else [tf.placeholder(tf.as_dtype(a.dtype), a.shape, name=f"in{i}") for i, a in enumerate(arrays)]
    )
    outputs = _as_list(case.build(*placeholders))
    if kind == "attrs":
        outputs, what = _with_mutated_attr(case, outputs, rng)
        if outputs is None:
            return None, what
    compare = kind in ("values", "empty") or (kind == "shapes" and "rank" not in what)  # same meaning
    return Built(placeholders, arrays, outputs, compare, originals), what


def _with_mutated_attr(case: Case, outputs, rng):
    graph = tf.get_default_graph()
    targets = [op for op in graph.get_operations() if op.type == case.op]
    if not targets:
        return None, "no op to mutate"
    op = targets[-1]
    names = [k for k, v in sorted(op.attrs.items()) if _attr_choices(v)]
    if not names:
        return None, "no attrs"
    name = str(rng.choice(names))
    choices = _attr_choices(op.attrs[name])
    value = choices[int(rng.integers(len(choices)))]
    attrs = dict(op.attrs, **{name: value})
    inputs, flat = [], list(op.inputs)
    for i, n in enumerate(op.input_arity):
        group, flat = flat[:n], flat[n:]
        inputs.append(group if op.op_def.is_list_input(i) else group[0])
    new = graph.create_op(op.type, inputs, attrs, name="mutated")
    return list(new.outputs), f"{name}={value!r}"


def _attr_choices(value) -> list:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [-1, -7, 0, value + 7, 2**31, 10**12]
    if isinstance(value, float):
        return [math.nan, math.inf, -math.inf, -1.0, 0.0, 1e30]
    if isinstance(value, str):
        return ["", "BOGUS", value * 3]
    if isinstance(value, list | tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        n = max(len(value), 1)
        return [type(value)(), type(value)([-1] * n), type(value)([10**9] * n), type(value)([*value, 0])]
    if isinstance(value, tf.DType):
        return [tf.float16, tf.int8, tf.string, tf.bool, tf.complex128]
    return []


# -- running -------------------------------------------------------------------------------


def _on_alarm(signum, frame):
    raise Hang(f"ran past {CASE_SECONDS:g} s")


def run_case(case: Case, kind: str, seed: int, target: str = "local") -> tuple[Outcome, str]:
    """One fuzz case in a fresh graph: its Outcome and what was mutated."""
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default():
        try:
            built, what = build(case, kind, rng)
        except (TypeError, ValueError, errors.OpError) as e:
            return Outcome("build", f"{type(e).__name__}: {_short(e)}"), ""
        except NotImplementedError as e:  # a documented gap, said when the graph is built
            return Outcome("unsupported", _short(e)), ""
        except Exception as e:  # noqa: BLE001 - any other class is what we look for
            return Outcome("FAIL", f"untyped at build: {type(e).__name__}: {_short(e)}\n{_where(e)}"), ""
        if built is None:
            return Outcome("skip", what), what
        feeds = dict(zip(built.placeholders, built.arrays))
        try:
            with tf.Session(target) as sess:
                got = sess.run(built.outputs, feeds)
        except errors.OpError as e:
            return Outcome("typed", f"{type(e).__name__}: {_short(e)}"), what
        except (TypeError, ValueError) as e:
            if str(e).startswith("Cannot feed"):
                return Outcome("typed", f"feed {type(e).__name__}: {_short(e)}"), what
            return Outcome("FAIL", f"untyped at run: {type(e).__name__}: {_short(e)}\n{_where(e)}"), what
        except Hang as e:
            return Outcome("FAIL", f"hang: {e}"), what
        except Exception as e:  # noqa: BLE001
            return Outcome("FAIL", f"untyped at run: {type(e).__name__}: {_short(e)}\n{_where(e)}"), what
        problem = _against_inference(built.outputs, got)
        if problem:
            return Outcome("FAIL", problem), what
        if not built.compare:
            return Outcome("ran"), what
        return _against_reference(case, built, got), what


def _against_inference(outputs, got) -> str:
    for t, value in zip(outputs, got):
        if value is None:
            continue
        value = np.asarray(value)
        if t.dtype != tf.string and value.dtype != t.dtype.as_numpy_dtype:
            return f"{t.name}: the kernel gave {value.dtype}, inference said {t.dtype.name}"
        if not t.shape.is_compatible_with(value.shape):
            return f"{t.name}: the kernel gave shape {list(value.shape)}, inference said {t.shape}"
    return ""


def _against_reference(case: Case, built: Built, got) -> Outcome:
    if case.op in NUMPY_HANGS and not all(np.isfinite(a).all() for a in built.arrays if a.dtype.kind in "fc"):
        return Outcome("ran", "numpy's reference may never return on inf or nan")
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = _as_list(case.reference(*[a.copy() for a in built.arrays]))
    except Exception as e:  # noqa: BLE001 - numpy refuses: nothing to compare with
        return Outcome("ran", f"no reference ({type(e).__name__})")
    if len(expected) != len(got):
        return Outcome("ran", "reference of another arity")
    if _ignores_its_inputs(case, built, expected):
        return Outcome("ran", "the case's reference is a constant")
    for t, g, e in zip(built.outputs, got, expected):
        g, e = np.asarray(g), np.asarray(e)
        if g.shape != e.shape:
            return Outcome(
                "ran", f"reference of shape {list(e.shape)}"
            )  # a case's reference may assume shapes
        if g.dtype.kind in "fc":
            e = e.astype(g.dtype, copy=False)
            tol = max(case.rtol, 1e-5) * (100 if g.dtype == np.float16 else 10)
            atol = max(case.atol, 1e-6) * 10
            if not _close(g, e, tol, atol):
                finite = np.isfinite(g) & np.isfinite(e)
                if _close(np.where(finite, g, 0), np.where(finite, e, 0), tol, atol):
                    # inf and nan in sums of products depend on the order and the method
                    # (0 * inf in a padding, a contraction order): TensorFlow's own differ
                    return Outcome("nonfinite", f"{t.name}: {_first_difference(g, e)}")
                return Outcome("FAIL", f"{t.name}: differs from numpy {_first_difference(g, e)}")
        elif g.dtype.kind in "biu" and e.dtype.kind in "biuf":
            if not np.array_equal(g, e.astype(g.dtype)):
                if _reference_is_undefined(case, built):
                    return Outcome(
                        "ran", "numpy's integer result is undefined (nan or a division by zero cast)"
                    )
                return Outcome("FAIL", f"{t.name}: differs from numpy {_first_difference(g, e)}")
    return Outcome("match")


def _ignores_its_inputs(case: Case, built: Built, expected) -> bool:
    """Whether the reference gave the same for the original inputs as for the mutated ones."""
    if all(
        np.array_equal(a, o, equal_nan=a.dtype.kind in "fc") for a, o in zip(built.arrays, built.originals)
    ):
        return False
    try:
        with np.errstate(all="ignore"):
            original = _as_list(case.reference(*[a.copy() for a in built.originals]))
    except Exception:  # noqa: BLE001
        return False
    return all(
        np.shape(x) == np.shape(y) and np.array_equal(x, y, equal_nan=np.asarray(x).dtype.kind in "fc")
        for x, y in zip(expected, original)
    )


def _reference_is_undefined(case: Case, built: Built) -> bool:
    """Whether numpy's reference met an invalid operation (an int result made from nan)."""
    try:
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error")
            case.reference(*[a.copy() for a in built.arrays])
    except Exception:  # noqa: BLE001
        return True
    return False


def _close(g, e, rtol, atol) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True))


def _first_difference(g, e) -> str:
    with np.errstate(all="ignore"):
        if g.dtype.kind in "biu":
            same = (g == e.astype(g.dtype)).reshape(-1)
        else:
            g64, e64 = g.astype(np.complex128).reshape(-1), e.astype(np.complex128).reshape(-1)
            same = (g64 == e64) | (np.isnan(g64) & np.isnan(e64))
            same |= np.isclose(g64, e64, rtol=1e-4, atol=1e-5)
    i = int(np.argmin(same)) if not same.all() else 0
    return f"at flat index {i}: got {g.reshape(-1)[i]!r}, numpy {e.reshape(-1)[i]!r}"


def _short(e: BaseException, limit: int = 300) -> str:
    text = str(e).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


def _where(e: BaseException) -> str:
    frames = traceback.extract_tb(e.__traceback__)
    return " <- ".join(f"{os.path.relpath(f.filename)}:{f.lineno}" for f in frames[-3:][::-1])


# -- ops whose test cases live elsewhere: decoders fed damaged files, random ops bad shapes --


def _encoded(kind: str) -> bytes:
    import io as _io

    from PIL import Image

    pixels = (np.arange(4 * 5 * 3) * 7 % 256).astype(np.uint8).reshape(4, 5, 3)
    buffer = _io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=kind)
    return buffer.getvalue()


def _damaged(kind: str):
    """Input maker: a valid PNG or JPEG file cut short, with bytes flipped, or random bytes."""

    def make(rng, shapes, dtypes):
        data = bytearray(_encoded(kind))
        how = rng.integers(4)
        if how == 0:
            data = data[: int(rng.integers(len(data)))]
        elif how == 1:
            for i in rng.integers(0, len(data), size=int(rng.integers(1, 8))):
                data[i] = int(rng.integers(256))
        elif how == 2:
            data = bytearray(rng.integers(0, 256, size=int(rng.integers(0, 64))).astype(np.uint8).tobytes())
        return [np.array(bytes(data), object)] + [
            rng.integers(-2, 6, size=shape).astype(dtype) for shape, dtype in zip(shapes[1:], dtypes[1:])
        ]

    return make


def _random_bytes(rng, shapes, dtypes):
    size = shapes[0]
    return [
        np.array([rng.bytes(int(rng.integers(0, 40))) for _ in range(int(np.prod(size)))], object).reshape(
            size
        )
    ]


def _no_reference(*arrays):
    raise NotImplementedError("checked against inference and tf.errors only")


def _shape_input(rng, shapes, dtypes):
    return [rng.integers(0, 4, size=shapes[0]).astype(dtypes[0])]


EXTRA_CASES = [
    Case(
        "DecodePng",
        lambda c: tf.image.decode_png(c, channels=3),
        _no_reference,
        [((),)],
        ("string",),
        _damaged("PNG"),
    ),
    Case(
        "DecodeJpeg", lambda c: tf.image.decode_jpeg(c), _no_reference, [((),)], ("string",), _damaged("JPEG")
    ),
    Case("DecodeImage", tf.image.decode_image, _no_reference, [((),)], ("string",), _damaged("PNG")),
    Case(
        "ExtractJpegShape", tf.image.extract_jpeg_shape, _no_reference, [((),)], ("string",), _damaged("JPEG")
    ),
    Case(
        "DecodeAndCropJpeg",
        tf.image.decode_and_crop_jpeg,
        _no_reference,
        [((), (4,))],
        ("string", "int32"),
        _damaged("JPEG"),
    ),
    Case(
        "DecodeRaw",
        lambda b: tf.io.decode_raw(b, tf.int32),
        _no_reference,
        [((3,),)],
        ("string",),
        _random_bytes,
    ),
    Case(
        "DecodeCSV",
        lambda r: tf.io.decode_csv(r, [[0], [0.0], [""]]),
        _no_reference,
        [((3,),)],
        ("string",),
        _random_bytes,
    ),
    Case(
        "ParseExample",
        lambda s: tf.io.parse_example(s, {"x": tf.io.FixedLenFeature([2], tf.float32)})["x"],
        _no_reference,
        [((3,),)],
        ("string",),
        _random_bytes,
    ),
    Case("RandomUniform", tf.random.uniform, _no_reference, [((2,),)], ("int32",), _shape_input),
    Case("RandomStandardNormal", tf.random_normal, _no_reference, [((3,),)], ("int64",), _shape_input),
    Case("TruncatedNormal", tf.truncated_normal, _no_reference, [((2,),)], ("int32",), _shape_input),
    Case(
        "Multinomial",
        lambda logits, n: tf.multinomial(logits, n),
        _no_reference,
        [((2, 3), ())],
        ("float32", "int32"),
    ),
    Case("RandomShuffle", tf.random_shuffle, _no_reference, [((5, 2),)], ("float32",)),
]


# -- the pass ------------------------------------------------------------------------------


def plan(rounds: int, seed: int, kinds=KINDS, ops: set | None = None) -> list[tuple[Case, str, int]]:
    """The fuzz cases: per round, every op case once with a kind drawn at random."""
    cases = all_cases()[0] + EXTRA_CASES
    rng = np.random.default_rng(seed)
    out = []
    for r in range(rounds):
        for i, case in enumerate(cases):
            if ops and case.op not in ops:
                continue
            kind = str(rng.choice(kinds))
            out.append((case, kind, seed * 1_000_003 + r * 10_007 + i))
    return out


def limit_memory(headroom: int = HEADROOM_BYTES) -> None:
    """Caps this process's address space at what it has now plus `headroom`."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    now = pages * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (now + headroom, now + headroom))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--ops", default="", help="comma-separated op types (default: all)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    limit_memory()
    signal.signal(signal.SIGALRM, _on_alarm)
    todo = plan(args.rounds, args.seed, tuple(args.kinds.split(",")), set(filter(None, args.ops.split(","))))
    warnings.simplefilter("ignore")
    with open(args.out, "w", buffering=1) as report:
        for case, kind, seed in todo:
            line = {"id": case.id, "op": case.op, "kind": kind, "seed": seed}
            print(json.dumps({**line, "outcome": "started"}), file=report)  # a crash names this case
            start = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
            try:
                outcome, what = run_case(case, kind, seed)
            except Hang as e:  # outside a run: in a build or a reference
                outcome, what = Outcome("FAIL", f"hang: {e}"), ""
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            line.update(outcome=outcome.outcome, detail=outcome.detail, what=what)
            line["seconds"] = round(time.perf_counter() - start, 4)
            print(json.dumps(line), file=report)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
