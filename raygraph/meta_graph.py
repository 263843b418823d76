"""Meta graphs and GraphDef files: `tf.train.export_meta_graph`, `import_meta_graph`, `write_graph`.

A MetaGraphDef (TensorFlow's protocol buffer; tensorboard.compat.proto's copy) holds
what a second program needs to rebuild and restore a graph:

    graph_def       every op (raygraph.graph_def; Const values in full)
    saver_def       the Saver's restore op, which raygraph's Saver rebuilds itself
                    from (see raygraph.train.saver)
    collection_def  the graph's collections: variables as VariableDefs (the names of
                    their ops), tensors and ops as names, strings and numbers as lists

    saver.save(sess, "ckpt/model")          # writes ckpt/model.meta too
    ...                                      # in another program:
    saver = tf.train.import_meta_graph("ckpt/model.meta")
    saver.restore(sess, "ckpt/model")
    sess.run("logits:0", {"x:0": batch})

Collections whose items are none of those (queue runners, Python objects) are left
out with a warning, as TensorFlow does. The ops of a meta graph written by
TensorFlow itself import only when they are raygraph's op types: its Saver's SaveV2
and RestoreV2 ops are not (raygraph's checkpoints are safetensors files).
"""

from __future__ import annotations

import os
import warnings

from google.protobuf import message, text_format
from tensorboard.compat.proto import graph_pb2, meta_graph_pb2, variable_pb2

from raygraph import gfile, importer, version
from raygraph import graph_def as _graph_def  # noqa: F401 - installs Graph.as_graph_def
from raygraph.graph import GraphKeys, Operation, Tensor, get_default_graph
from raygraph.variables import Variable

__all__ = ["export_meta_graph", "import_meta_graph", "read_meta_graph_file", "write_graph"]

VARIABLE_COLLECTIONS = frozenset(
    {
        GraphKeys.GLOBAL_VARIABLES,
        GraphKeys.TRAINABLE_VARIABLES,
        GraphKeys.LOCAL_VARIABLES,
        GraphKeys.MODEL_VARIABLES,
        GraphKeys.MOVING_AVERAGE_VARIABLES,
        GraphKeys.GLOBAL_STEP,
        "metric_variables",
        "concatenated_variables",
    }
)
"""Collections whose bytes_list items are VariableDefs (TensorFlow's registered ones)."""


# -- GraphDef files -------------------------------------------------------------------


def write_graph(graph_or_graph_def, logdir, name, as_text=True) -> str:
    """Writes a graph (or GraphDef) to `logdir/name`, as text or binary protobuf; returns the path.

    >>> tf.train.write_graph(sess.graph, "/tmp/model", "graph.pbtxt")
    '/tmp/model/graph.pbtxt'
    >>> tf.train.write_graph(sess.graph_def, "/tmp/model", "graph.pb", as_text=False)

    The directory is created if needed; the text form is TensorFlow's, so
    `text_format.Parse(text, tf.GraphDef())` reads it in TensorFlow too.
    """
    proto = graph_or_graph_def
    if hasattr(proto, "as_graph_def"):
        proto = proto.as_graph_def()
    proto = importer.as_graph_def_proto(proto)
    logdir, name = os.fspath(logdir), os.fspath(name)
    path = os.path.join(logdir, name)
    if logdir and not gfile.isdir(logdir):
        gfile.makedirs(logdir)
    _write(path, proto, as_text)
    return path


def _write(path: str, proto, as_text: bool) -> None:
    data = text_format.MessageToString(proto).encode() if as_text else proto.SerializeToString()
    with gfile.GFile(path, "wb") as f:
        f.write(data)


# -- export -----------------------------------------------------------------------------


def export_meta_graph(
    filename=None,
    meta_info_def=None,
    graph_def=None,
    saver_def=None,
    collection_list=None,
    as_text=False,
    graph=None,
    export_scope=None,
    clear_devices=False,
    clear_extraneous_savers=False,
    strip_default_attrs=False,
    save_debug_info=False,
    **kwargs,
) -> meta_graph_pb2.MetaGraphDef:
    """The graph, a SaverDef and the collections as a MetaGraphDef, written to `filename` if given.

    >>> tf.train.export_meta_graph("model.meta")
    >>> meta = tf.train.export_meta_graph(collection_list=["train_op"], as_text=True)

    `export_scope` keeps only the ops under that name scope, with the scope taken
    off their names; `clear_devices` drops the devices. `collection_list` (None:
    all) names the collections to keep.
    """
    graph = graph or get_default_graph()
    if graph_def is None:
        graph_def = graph.as_graph_def(add_shapes=True)
    graph_def = _scoped_graph_def(importer.as_graph_def_proto(graph_def), export_scope, clear_devices)
    meta = meta_graph_pb2.MetaGraphDef()
    meta.meta_info_def.tensorflow_version = version.VERSION
    meta.meta_info_def.tensorflow_git_version = version.GIT_VERSION
    _stripped_op_list(meta.meta_info_def, graph_def)
    if meta_info_def is not None:
        meta.meta_info_def.MergeFrom(meta_info_def)
    meta.graph_def.CopyFrom(graph_def)
    if saver_def is not None:
        meta.saver_def.CopyFrom(saver_def)
    keys = graph.get_all_collection_keys() if collection_list is None else collection_list
    for key in keys:
        _add_collection(meta, graph, key, export_scope)
    if filename is not None:
        _write(os.fspath(filename), meta, as_text)
    return meta


def _stripped_op_list(meta_info_def, graph_def) -> None:
    """The op types the graph uses, by name (TF lists their OpDefs; raygraph's ops have none)."""
    del meta_info_def.stripped_op_list.op[:]
    for op_type in sorted({node.op for node in graph_def.node}):
        meta_info_def.stripped_op_list.op.add(name=op_type)


def _scoped_graph_def(proto: graph_pb2.GraphDef, export_scope, clear_devices: bool) -> graph_pb2.GraphDef:
    if not export_scope and not clear_devices:
        return proto
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(proto.versions)
    prefix = f"{export_scope}/" if export_scope else ""
    for node in proto.node:
        if not node.name.startswith(prefix):
            continue
        new = out.node.add()
        new.CopyFrom(node)
        if clear_devices:
            new.device = ""
        if prefix:
            new.name = node.name[len(prefix) :]
            del new.input[:]
            new.input.extend(_strip_input(i, prefix) for i in node.input)
            groups = [s for s in node.attr["_class"].list.s] if "_class" in node.attr else []
            if groups:
                new.attr["_class"].list.s[:] = [
                    g.replace(b"loc:@" + prefix.encode(), b"loc:@", 1) for g in groups
                ]
    return out


def _strip_input(text: str, prefix: str) -> str:
    control = text.startswith("^")
    name = text[1:] if control else text
    if not name.startswith(prefix):
        raise ValueError(f"export_scope {prefix[:-1]!r} cuts input {name!r} off a node inside it")
    return ("^" if control else "") + name[len(prefix) :]


def _add_collection(meta, graph, key: str, export_scope) -> None:
    items = graph.get_collection(key)
    if not items:
        return
    prefix = f"{export_scope}/" if export_scope else ""
    collection = meta_graph_pb2.CollectionDef()
    if all(isinstance(i, Variable) for i in items):
        protos = [v.to_proto(export_scope) for v in items]
        collection.bytes_list.value.extend(p.SerializeToString() for p in protos if p is not None)
    elif key == GraphKeys.SAVERS and all(hasattr(i, "saver_def") for i in items):  # SaverDefs, as TF's
        protos = [s.to_proto(export_scope) for s in items]
        collection.bytes_list.value.extend(p.SerializeToString() for p in protos if p is not None)
    elif all(isinstance(i, Tensor | Operation) for i in items):
        names = [i.name for i in items if i.name.startswith(prefix)]
        collection.node_list.value.extend(n[len(prefix) :] for n in names)
    elif all(isinstance(i, str | bytes) for i in items):
        collection.bytes_list.value.extend(i.encode() if isinstance(i, str) else i for i in items)
    elif all(isinstance(i, int) for i in items):
        collection.int64_list.value.extend(int(i) for i in items)
    elif all(isinstance(i, float | int) for i in items):
        collection.float_list.value.extend(float(i) for i in items)
    else:
        kinds = sorted({type(i).__name__ for i in items})
        warnings.warn(
            f"Issue encountered when serializing: {key}. Collection items of type {', '.join(kinds)} "
            "cannot go into a MetaGraphDef; the collection is left out.",
            stacklevel=3,
        )
        return
    if collection.WhichOneof("kind") is not None:
        meta.collection_def[key].CopyFrom(collection)


# -- import -----------------------------------------------------------------------------


def read_meta_graph_file(filename) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef in a file, binary or text protobuf; IOError if the file does not exist."""
    filename = os.fspath(filename)
    if not gfile.exists(filename):
        raise OSError(f"File {filename} does not exist.")
    with gfile.GFile(filename, "rb") as f:
        data = f.read()
    meta = meta_graph_pb2.MetaGraphDef()
    try:
        meta.ParseFromString(data)
    except message.DecodeError:
        try:
            text_format.Merge(data.decode("utf-8"), meta)
        except (text_format.ParseError, UnicodeDecodeError) as e:
            raise OSError(f"Cannot parse file {filename}: {e}.") from None
    return meta


def _as_meta_graph_def(meta_graph_or_file) -> meta_graph_pb2.MetaGraphDef:
    if isinstance(meta_graph_or_file, meta_graph_pb2.MetaGraphDef):
        return meta_graph_or_file
    descriptor = getattr(meta_graph_or_file, "DESCRIPTOR", None)
    if descriptor is not None and descriptor.full_name.endswith(".MetaGraphDef"):
        return meta_graph_pb2.MetaGraphDef.FromString(meta_graph_or_file.SerializeToString())
    return read_meta_graph_file(meta_graph_or_file)


def import_meta_graph(meta_graph_or_file, clear_devices=False, import_scope=None, **kwargs):
    """Rebuilds a meta graph's ops and collections in the default graph; returns its Saver.

    >>> saver = tf.train.import_meta_graph("ckpt/model.ckpt-100.meta")
    >>> saver.restore(sess, "ckpt/model.ckpt-100")
    >>> sess.run(tf.get_collection("train_op")[0], {"x:0": batch})

    `meta_graph_or_file` is a MetaGraphDef or the path of one (binary or text).
    Names get the prefix `import_scope`, if given. Returns a Saver built from the
    meta graph's SaverDef, or over all its variables if it has none, or None if it
    has no variables. `input_map` and `return_elements` may be passed as keywords.
    """
    from raygraph.train.saver import Saver  # the Saver writes meta graphs: import it late

    meta = _as_meta_graph_def(meta_graph_or_file)
    proto = meta.graph_def
    if clear_devices:
        proto = _scoped_graph_def(proto, None, clear_devices=True)
    graph = get_default_graph()
    imported = importer.import_nodes(proto, kwargs.get("input_map"), import_scope or "")
    _restore_collections(graph, meta, imported, import_scope)
    returned = kwargs.get("return_elements")
    if meta.HasField("saver_def"):
        saver = Saver(saver_def=meta.saver_def, name=import_scope)
    elif graph.get_collection(GraphKeys.GLOBAL_VARIABLES):
        saver = Saver()
    else:
        saver = None
    if returned is not None:
        return saver, [importer.returned_element(imported, name) for name in returned]
    return saver


def _restore_collections(graph, meta, imported: dict, import_scope=None) -> None:
    variables: dict[str, Variable] = {v.op.name: v for v in graph.get_collection(GraphKeys.GLOBAL_VARIABLES)}
    for key, collection in meta.collection_def.items():
        kind = collection.WhichOneof("kind")
        if kind == "node_list":
            items = [importer.returned_element(imported, name) for name in collection.node_list.value]
        elif kind == "bytes_list" and key in VARIABLE_COLLECTIONS:
            items = [_variable(variables, data, imported) for data in collection.bytes_list.value]
        elif kind == "bytes_list" and key == GraphKeys.SAVERS:
            items = [_saver(data, import_scope) for data in collection.bytes_list.value]
        elif kind == "bytes_list":
            items = list(collection.bytes_list.value)
        elif kind == "int64_list":
            items = list(collection.int64_list.value)
        elif kind == "float_list":
            items = list(collection.float_list.value)
        else:
            warnings.warn(
                f"Collection {key!r} holds {kind} items, which raygraph does not import", stacklevel=3
            )
            continue
        for item in items:
            graph.add_to_collection(key, item)


def _saver(data: bytes, import_scope):
    """The Saver of a SaverDef in the savers collection (it adopts the imported restore op)."""
    from tensorboard.compat.proto import saver_pb2

    from raygraph.train.saver import Saver

    return Saver.from_proto(saver_pb2.SaverDef.FromString(data), import_scope)


def _variable(variables: dict, data: bytes, imported: dict) -> Variable:
    """The Variable a VariableDef names, one object per variable across collections."""
    proto = variable_pb2.VariableDef.FromString(data)
    ref = importer.returned_element(imported, proto.variable_name)
    if ref.op.name not in variables:
        variable = Variable.__new__(Variable)
        variable._init_from_proto(proto, find=lambda name: importer.returned_element(imported, name))
        variables[ref.op.name] = variable
    return variables[ref.op.name]
