"""The layers point one way: graph core <- ops/ <- scheduler/ (engine <- shell) <- user API.

Checked two ways:
- statically, from the source: every import in ops/ and scheduler/ points down,
  and the module-level imports of raygraph/, ops/ and scheduler/ have no cycle;
- at run time: each module imported alone, in a process that has imported
  nothing of the project (a child forked from a fresh interpreter that loaded
  numpy only), succeeds, and loads only what its layer may load.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("raygraph", "ops", "scheduler")
CORE = {
    "raygraph",
    "raygraph.graph",
    "raygraph.dtypes",
    "raygraph.shapes",
    "raygraph.errors",
    "raygraph.device",
    "raygraph.func_graph",
    "raygraph.version",  # version strings (tf.__version__, tf.__git_version__): imports only platform
    "raygraph.example",  # tf.train.Example's protobuf classes: the parsing kernels read them
    "raygraph.gfile",  # file access (fsspec): readers and tf.data's sources open files
    "raygraph.tfrecord",  # the TFRecord format: readers and TFRecordDataset read it
}


def _modules() -> dict[str, str]:
    """{module name: file} for every module of the three packages."""
    out = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(folder, f)
                    name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    out[name.removesuffix(".__init__")] = path
    return out


MODULES = _modules()


def is_user_api(name: str) -> bool:
    return name.split(".")[0] == "raygraph" and name not in CORE


def layer(name: str) -> int:
    """0 core, 1 ops, 2 scheduler.engine, 3 scheduler.shell, 4 user API."""
    if name in CORE:
        return 0
    top = name.split(".")[0]
    if top == "ops":
        return 1
    if name.startswith("scheduler.shell"):
        return 3
    if top == "scheduler":
        return 2
    return 4


def _imports(path: str, module: str, top_level_only: bool) -> set[str]:
    """The project modules that `module` imports (at module level only, if asked)."""
    tree = ast.parse(open(path).read(), path)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # module level includes if/try blocks, not function bodies
        nodes = [n for stmt in tree.body for n in _outside_functions(stmt)]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                package = parts if path.endswith("__init__.py") else parts[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    targets = set()
    for name in found:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name:
            targets.add(name)
    return targets - {module}


def _outside_functions(stmt):
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
        if isinstance(stmt, ast.ClassDef):  # a class body runs at import
            for s in stmt.body:
                yield from _outside_functions(s)
        return
    yield stmt
    for child in ast.iter_child_nodes(stmt):
        if isinstance(child, ast.stmt):
            yield from _outside_functions(child)


# Imports up that happen only inside a kernel, at run time, never at import: the
# RestoreV2 kernel (tf.train.init_from_checkpoint) reads the checkpoint format.
LATE_IMPORTS = {("ops.checkpoint", "raygraph.io")}


def test_imports_in_ops_and_scheduler_point_down():
    wrong = []
    for module, path in MODULES.items():
        if layer(module) in (0, 4) and module not in CORE:
            continue
        for target in _imports(path, module, top_level_only=False):
            if (
                layer(target) > layer(module)
                and target != "raygraph"
                and (module, target) not in LATE_IMPORTS
            ):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports that point up:\n" + "\n".join(sorted(wrong))


def test_no_cycle_among_module_level_imports():
    graph = {m: _imports(p, m, top_level_only=True) for m, p in MODULES.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycle = stack[stack.index(n) :] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


_CHILD = r"""
import json, os, sys
import numpy  # a third-party module, loaded once for speed: the project's are not
out = {}
for name in sys.argv[1:]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            __import__(name)
            result = {"ok": True, "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("raygraph", "ops", "scheduler", "ray", "tensorflow"))}
        except BaseException as e:
            result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        os.write(w, json.dumps(result).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.waitpid(pid, 0)
    out[name] = json.loads(data)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def imported_alone() -> dict:
    """{module: {"ok", "loaded" or "error"}}, each module imported alone in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *sorted(MODULES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_module_imports_on_its_own(imported_alone):
    failed = {m: r["error"] for m, r in imported_alone.items() if not r["ok"]}
    assert not failed, failed


def test_importing_ops_or_scheduler_loads_no_user_api(imported_alone):
    leaks = {
        m: [x for x in r["loaded"] if is_user_api(x)]
        for m, r in imported_alone.items()
        if m.split(".")[0] in ("ops", "scheduler") and r["ok"]
    }
    assert not {m: x for m, x in leaks.items() if x}


def test_the_graph_core_loads_nothing_above_it(imported_alone):
    for m in CORE:
        assert imported_alone[m]["ok"], imported_alone[m]
        above = [x for x in imported_alone[m]["loaded"] if x not in CORE]
        assert not above, f"{m} loads {above}"


def test_the_engine_loads_no_ray(imported_alone):
    for m, r in imported_alone.items():
        if m.startswith("scheduler.engine"):
            assert "ray" not in r["loaded"], f"{m} loads ray"


def test_a_local_session_loads_no_ray():
    code = (
        "import sys, numpy as np, raygraph as tf\n"
        "x = tf.placeholder(tf.float32, [2])\n"
        "with tf.Session('local') as s: assert (s.run(x * 2, {x: [1, 2]}) == [2, 4]).all()\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.usefixtures("ray_cluster")
def test_a_device_actor_loads_no_user_api():
    """The actor process that ran a training step holds the graph core, not the user API."""
    import numpy as np
    import ray

    import raygraph as tf
    from scheduler.shell import runtime

    x = tf.placeholder(tf.float32, [None, 2])
    w = tf.Variable(tf.ones([2, 1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w)))
    step = tf.train.AdamOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run([step, loss], {x: np.ones((4, 2), np.float32)})
        (device,) = sess._scheduler.links
        loaded = ray.get(runtime.existing_actor(device).ping.remote())["raygraph_modules"]
    assert loaded and not [m for m in loaded if is_user_api(m)], loaded
