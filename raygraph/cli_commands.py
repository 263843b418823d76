"""The `raygraph` subcommands `devices`, `graph`, `bench` and `version` (see raygraph.cli).

    raygraph devices                      # this process's devices; a running Ray cluster's, if any
    raygraph devices --address 10.0.0.5:6379 --json
    raygraph graph ckpt/model.ckpt-100.meta --svg model.svg
    raygraph graph export/1 --tags serve --text
    raygraph bench tiny cnn --rounds 3
    raygraph version

Each command is a function of the parsed arguments that prints to stdout and
returns the exit status. Nothing here is imported by the library: it is the
user-facing shell over raygraph.session's devices, raygraph.viz, and bench/.

`devices` lists what a Session would place ops on, in TF's device names:
`tf.Session("local")`'s devices in this process, and, when a Ray cluster is
reachable (`--address`, RAY_ADDRESS, or one `ray start` made on this machine),
what `tf.Session()` gets on it: every alive node with its CPUs, GPUs and memory,
and the device names raygraph gives them. It never starts a Ray cluster of its own.

`graph` reads a model without running it: a meta graph (".meta", or a checkpoint
prefix or directory whose latest checkpoint has one beside it), a SavedModel
directory (`--tags`, needed when it holds several meta graphs), or a GraphDef
(".pb" binary, ".pbtxt" text), and draws it with raygraph.viz.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys

from raygraph import version as _version


def register(subparsers) -> None:
    """Adds the subcommands of this module to `raygraph`'s parser."""
    p = subparsers.add_parser("devices", help="list the devices a Session would run on here")
    p.add_argument("--address", help="a Ray cluster to ask (host:port, or 'auto'); default: RAY_ADDRESS")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=devices)

    p = subparsers.add_parser("graph", help="draw or list a saved model's graph")
    p.add_argument(
        "model", help="a .meta file, checkpoint prefix or directory, SavedModel directory, .pb/.pbtxt"
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--svg", metavar="FILE", help="write the graph as SVG")
    out.add_argument("--dot", metavar="FILE", help="write Graphviz source")
    out.add_argument("--text", action="store_true", help="print the ops (the default)")
    p.add_argument("--tags", help="the SavedModel meta graph's tags, comma-separated (e.g. serve)")
    p.add_argument("--expand", action="append", default=[], metavar="SCOPE", help="draw SCOPE's ops")
    p.add_argument("--engine", choices=("auto", "dot", "builtin"), default="auto", help="SVG layout")
    p.set_defaults(func=graph)

    p = subparsers.add_parser(
        "bench",
        help="run the benchmarks (python -m bench)",
        description="Passes its arguments to python -m bench.",
    )
    p.add_argument("passthrough", nargs="*", metavar="ARG", help="workloads and options of python -m bench")
    p.set_defaults(func=bench)

    p = subparsers.add_parser("version", help="print versions")
    p.set_defaults(func=version)


# -- devices ------------------------------------------------------------------------------


def devices(args) -> int:
    """Prints the local target's devices and those of a reachable Ray cluster."""
    report = {"local": _local_devices(), "ray": _ray_devices(args.address)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_devices_text(report))
    ray = report["ray"]
    return 1 if args.address and ray.get("error") else 0


def _local_devices() -> list[dict]:
    from scheduler.engine.local import LocalClient

    return [{"name": d.name, "type": d.device_type} for d in LocalClient().devices(None)]


def _ray_devices(address: str | None) -> dict:
    """The cluster at `address` (or the one this machine knows of): nodes and devices; never starts one."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        import ray
    except ImportError:
        return {"error": "ray is not installed"}
    if address in (None, "auto"):
        address = _ray_cluster_known()
        if address is None:
            return {"error": "no Ray cluster is running here (tf.Session() would start a local one)"}
    if not _reachable(address):  # ray.init would retry a dead cluster's address for minutes
        return {"error": f"the Ray cluster at {address} does not answer"}
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    except Exception as e:  # noqa: BLE001 - any failure to connect is reported, not raised
        return {"error": f"could not connect to Ray at {address or 'auto'}: {e}"}
    try:
        from scheduler.shell import runtime

        nodes = [
            {
                "task": task,
                "node_id": node["NodeID"],
                "address": node.get("NodeManagerAddress", ""),
                "cpus": node.get("Resources", {}).get("CPU", 0),
                "gpus": node.get("Resources", {}).get("GPU", 0),
                "memory_bytes": int(node.get("Resources", {}).get("memory", 0)),
            }
            for task, node in enumerate(runtime._nodes())
        ]
        found = [{"name": d.name, "type": d.device_type, "task": d.task} for d in runtime.devices()]
        return {"address": ray.get_runtime_context().gcs_address, "nodes": nodes, "devices": found}
    finally:
        ray.shutdown()


def _ray_cluster_known() -> str | None:
    """The address `ray.init(address="auto")` would use (a cluster `ray start` made here), or None."""
    try:
        from ray._private.services import canonicalize_bootstrap_address

        return canonicalize_bootstrap_address("auto")
    except Exception:  # noqa: BLE001 - no cluster found, or Ray moved the helper
        return None


def _reachable(address: str, timeout_s: float = 3.0) -> bool:
    """Whether the GCS at "host:port" accepts a TCP connection (other address forms: assumed so)."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return True
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


def _devices_text(report: dict) -> str:
    lines = ['tf.Session("local") (this process):']
    lines += [f"  {d['name']}" for d in report["local"]]
    ray = report["ray"]
    if "error" in ray:
        lines.append(f"tf.Session() (Ray): {ray['error']}")
        return "\n".join(lines)
    nodes = ray["nodes"]
    cpus = sum(n["cpus"] for n in nodes)
    gpus = sum(n["gpus"] for n in nodes)
    lines.append(
        f"tf.Session() (Ray cluster at {ray['address']}): {len(nodes)} node(s), {cpus:g} CPUs, {gpus:g} GPUs"
    )
    for n in nodes:
        memory = n["memory_bytes"] / 2**30
        lines.append(
            f"  task {n['task']}: node {n['node_id'][:12]} at {n['address']}, "
            f"{n['cpus']:g} CPUs, {n['gpus']:g} GPUs, {memory:.1f} GiB"
        )
        lines += [f"    {d['name']}" for d in ray["devices"] if d["task"] == n["task"]]
    return "\n".join(lines)


# -- graph --------------------------------------------------------------------------------


def graph(args) -> int:
    """Loads the model's graph and writes it as SVG or dot, or prints its ops."""
    from raygraph import errors

    try:
        g = load_graph(args.model, args.tags)
    except (OSError, ValueError, RuntimeError, errors.OpError) as e:
        print(f"raygraph graph: {e}", file=sys.stderr)
        return 1
    from raygraph import viz

    expand = args.expand or False
    if args.svg:
        viz.to_svg(g, args.svg, expand=expand, engine=args.engine)
        print(f"wrote {args.svg}: {len(g.get_operations())} ops")
    elif args.dot:
        with open(args.dot, "w") as f:
            f.write(viz.to_dot(g, expand=expand))
        print(f"wrote {args.dot}: {len(g.get_operations())} ops")
    else:
        print(graph_text(g))
    return 0


def load_graph(path: str, tags: str | None = None):
    """A new Graph holding the model at `path` (see the module docstring for what it may be)."""
    from raygraph import gfile
    from raygraph.graph import Graph
    from raygraph.saved_model import store

    path = os.fspath(path)
    if gfile.isdir(path) and store.contains_saved_model(path):
        return _saved_model_graph(path, tags)
    meta = _meta_graph_file(path)
    g = Graph()
    with g.as_default():
        if meta is not None:
            from raygraph.meta_graph import import_meta_graph

            import_meta_graph(meta)
        elif path.endswith((".pb", ".pbtxt")) and gfile.exists(path):
            _import_graph_def_file(path)
        else:
            raise FileNotFoundError(
                f"{path}: no meta graph, SavedModel or GraphDef here (looked for {path}, {path}.meta, "
                "a directory's latest checkpoint's .meta, saved_model.json, .pb/.pbtxt)"
            )
    return g


def _meta_graph_file(path: str) -> str | None:
    """The .meta file `path` names: itself, `<path>.meta`, or its latest checkpoint's."""
    from raygraph import gfile
    from raygraph.train import saver

    candidates = [path] if path.endswith(".meta") else [path + ".meta"]
    if gfile.isdir(path):
        latest = saver.latest_checkpoint(path)
        candidates = [latest + ".meta"] if latest else []
    return next((c for c in candidates if gfile.exists(c)), None)


def _import_graph_def_file(path: str) -> None:
    from google.protobuf import text_format
    from tensorboard.compat.proto import graph_pb2

    from raygraph import gfile, importer

    with gfile.GFile(path, "rb") as f:
        data = f.read()
    proto = graph_pb2.GraphDef()
    if path.endswith(".pbtxt"):
        text_format.Parse(data.decode("utf-8"), proto)
    else:
        proto.ParseFromString(data)
    importer.import_graph_def(proto, name="")


def _saved_model_graph(export_dir: str, tags: str | None):
    import ops
    from raygraph.graph import Graph
    from raygraph.saved_model import format, loader, rebuild, store

    ops.load_all()  # the checks look op types up in the registry
    doc, _ = store.read_export(export_dir)
    metas = doc.get("meta_graphs") or []
    if tags is None:
        if len(metas) != 1:
            available = [m.get("tags") for m in metas if isinstance(m, dict)]
            raise ValueError(
                f"{export_dir} holds {len(metas)} meta graphs {available}: choose one with --tags"
            )
        wanted = metas[0]["tags"]
    else:
        wanted = [t for t in tags.split(",") if t]
    meta = loader._select(doc, wanted, export_dir)
    checked = format.check_graph(meta["graph"], f"meta graph {list(meta['tags'])!r}")
    g = Graph()
    rebuild.import_checked(checked, g)
    return g


def graph_text(g) -> str:
    """One line per op: name, type, device, and its outputs' dtypes and shapes; then a count by type."""
    from collections import Counter

    from raygraph.shapes import format_shape

    ops = g.get_operations()
    lines = []
    for op in ops:
        outputs = ", ".join(f"{t.dtype.name}{format_shape(t.shape)}" for t in op.outputs)
        device = f"  @{op.device}" if op.device else ""
        lines.append(f"{op.name}  {op.type}{device}  -> {outputs or '()'}")
    counts = Counter(op.type for op in ops)
    lines.append(f"{len(ops)} ops: " + ", ".join(f"{t} {n}" for t, n in counts.most_common()))
    return "\n".join(lines)


# -- bench and version --------------------------------------------------------------------


def bench(args) -> int:
    """Runs `python -m bench ARGS` from the source checkout this raygraph was imported from."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isfile(os.path.join(root, "bench", "__main__.py")):
        print(
            "raygraph bench: the benchmarks ship with the source checkout (bench/ beside raygraph/), "
            f"not found under {root}",
            file=sys.stderr,
        )
        return 2
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return subprocess.call([sys.executable, "-m", "bench", *args.passthrough], cwd=root, env=env)


def version(args) -> int:
    """Prints raygraph's version, the TF API level, and the versions of what it runs on."""
    from importlib import metadata

    print(f"raygraph {_version.RAYGRAPH_VERSION} (TensorFlow API {_version.VERSION})")
    print(f"python {platform.python_version()} ({sys.executable})")
    for package in ("numpy", "ray", "tensorboard", "cupy-cuda12x"):
        try:
            print(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            print(f"{package} not installed")
    return 0
