"""`tf.saved_model.loader.load`: a SavedModel's graph and variables into a session.

    with tf.Session(graph=tf.Graph()) as sess:
        meta = tf.saved_model.loader.load(sess, ["serve"], "export/1")
        sig = meta.signature_def["serving_default"]
        y = sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: batch})

Everything is checked before the graph is touched: the files against the
manifest and for pickles (raygraph.saved_model.store), the meta graph's document
(op types registered and built in, attrs, dtypes, shapes, every name; see
raygraph.saved_model.format), the signatures, and the variables file's header
against the variables (each present, same dtype and shape). A refused export
leaves the session's graph as it was and has run nothing. The ops are built once
into a scratch graph, where each op's shape function checks its inputs and attrs
and its inferred dtype and shape must match the recorded ones; then they are built
(raygraph.saved_model.rebuild), the variables are set from the file (by feeding
each variable's initializer), and the main op, if any, runs.

The loaded graph is an ordinary graph: its variables, collections
(trainable_variables, the global step, the train op under "saved_model_train_op"
or "train_op") and optimizer slots are all there, so training can go on.
"""

from __future__ import annotations

from google.protobuf import json_format
from tensorboard.compat.proto import meta_graph_pb2

import ops
from raygraph import errors, graph_def, io
from raygraph.graph import Graph, GraphKeys
from raygraph.saved_model import constants, format, rebuild, store

__all__ = ["load", "maybe_saved_model_directory"]


def load(sess, tags, export_dir, import_scope=None, **saver_kwargs) -> meta_graph_pb2.MetaGraphDef:
    """Loads the meta graph tagged exactly `tags` into `sess.graph` and restores its variables.

    Returns the MetaGraphDef proto (tags, signature_def, collection_def, graph_def).
    Raises OSError when `export_dir` holds no SavedModel, RuntimeError when no meta
    graph has these tags, DataLossError for a corrupt, tampered or pickled file,
    NotFoundError for an unknown op type or a missing variable value, and
    InvalidArgumentError for a newer format version or a malformed document.
    """
    ops.load_all()  # the built-in ops, whatever of raygraph this process has imported yet
    doc, variables_path = store.read_export(export_dir)
    meta = _select(doc, tags, export_dir)
    checked = format.check_graph(meta["graph"], "meta graph " + repr(list(meta["tags"])))
    signatures = _signatures(meta["signature_def"], checked)
    with io.CheckpointFile(variables_path) as ckpt:
        saved = _check_variables(checked, ckpt)
        values = {name: ckpt.read(name) for name in saved}
    rebuild.import_checked(checked, Graph())  # a dry run: shape functions may refuse an op yet
    imported = rebuild.import_checked(checked, sess.graph, import_scope)
    if values:
        variables = {name: imported.variables[name] for name in values}  # by their names in the export
        feeds = {variables[name].initial_value: value for name, value in values.items()}
        sess.run([v.initializer for v in variables.values()], feed_dict=feeds)
    init = sess.graph.get_collection(constants.MAIN_OP_KEY) or sess.graph.get_collection(
        constants.LEGACY_INIT_OP_KEY
    )
    if init:
        sess.run(init[-1])
    return _meta_graph_def(meta, signatures, imported, checked)


def maybe_saved_model_directory(export_dir) -> bool:
    """Whether `export_dir` may hold a SavedModel (its files exist; nothing is read or checked)."""
    return store.contains_saved_model(export_dir)


def _select(doc: dict, tags, export_dir) -> dict:
    metas = doc.get("meta_graphs")
    if not isinstance(metas, list) or not all(
        isinstance(m, dict) and set(m) == {"tags", "signature_def", "graph"} for m in metas
    ):
        raise errors.InvalidArgumentError(
            None, None, f"Invalid SavedModel {export_dir}: malformed 'meta_graphs'"
        )
    wanted = set([tags] if isinstance(tags, str) else tags)
    available = []
    for meta in metas:
        meta_tags = meta["tags"]
        if not isinstance(meta_tags, list) or not all(isinstance(t, str) for t in meta_tags):
            raise errors.InvalidArgumentError(
                None, None, f"Invalid SavedModel {export_dir}: tags {meta_tags!r}"
            )
        if set(meta_tags) == wanted:
            return meta
        available.append(meta_tags)
    raise RuntimeError(
        f"MetaGraphDef associated with tags {str(sorted(wanted)).strip('[]')} could not be found in SavedModel, "
        f"with available tags '{available}'."
    )


def _signatures(raw, checked: format.CheckedGraph) -> dict:
    """{key: SignatureDef} parsed with protobuf's JSON parser, every tensor checked against the graph."""
    if not isinstance(raw, dict):
        raise format.invalid("signature_def", "expected an object")
    root = checked.outputs_of(0)
    out = {}
    for key, value in raw.items():
        try:
            sig = json_format.ParseDict(value, meta_graph_pb2.SignatureDef())
        except (json_format.ParseError, TypeError, ValueError) as e:
            raise format.invalid(f"signature {key!r}", str(e)) from None
        for info in list(sig.inputs.values()) + list(sig.outputs.values()):
            where = f"signature {key!r}"
            format._tensor_ref(info.name, root, where)
            op_name, _, index = info.name.rpartition(":")
            dtype = root[op_name][int(index)][0]
            if info.dtype != graph_def.data_type(dtype):
                raise format.invalid(
                    where, f"tensor {info.name!r} is {dtype.name}; the signature says enum {info.dtype}"
                )
        out[key] = sig
    return out


def _check_variables(checked: format.CheckedGraph, ckpt: io.CheckpointFile) -> list[str]:
    """Names of the global variables to restore, each checked against the file's header."""
    specs = {op.name: op.outputs[0] for op in checked.ops if op.type == "VariableV2"}
    global_names = [
        item["variable"]
        for item in checked.collections.get(GraphKeys.GLOBAL_VARIABLES, [])
        if "variable" in item
    ]
    for name in global_names:
        if name not in ckpt:
            raise errors.NotFoundError(
                None, None, f"Invalid SavedModel: variable {name!r} has no value in {ckpt.path}"
            )
        dtype, shape = specs[name]
        entry = ckpt.entry(name)
        if entry.dtype != dtype.np or not shape.is_compatible_with(entry.shape):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Invalid SavedModel: variable {name!r} is {dtype.name} {shape} in the graph but "
                f"{entry.dtype} {list(entry.shape)} in {ckpt.path}",
            )
    return sorted(set(global_names))


def _meta_graph_def(meta, signatures, imported, checked) -> meta_graph_pb2.MetaGraphDef:
    out = meta_graph_pb2.MetaGraphDef()
    out.meta_info_def.tags.extend(meta["tags"])
    for key, sig in signatures.items():
        out.signature_def[key].CopyFrom(sig)
    for key, items in checked.collections.items():
        names = [imported.name(ref) for item in items for kind, ref in item.items() if kind != "value"]
        if names:
            out.collection_def[key].node_list.value.extend(names)
    loaded = {imported.name(op.name) for op in checked.ops}
    nodes = [graph_def.node_def(op) for op in imported.graph.get_operations() if op.name in loaded]
    out.graph_def.node.extend(nodes)
    return out
