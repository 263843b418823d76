"""`tf.saved_model.builder.SavedModelBuilder` and `tf.saved_model.simple_save`.

    builder = tf.saved_model.builder.SavedModelBuilder("export/1")
    builder.add_meta_graph_and_variables(
        sess, [tf.saved_model.tag_constants.SERVING],
        signature_def_map={"serving_default": tf.saved_model.predict_signature_def({"x": x}, {"y": y})})
    builder.save()

The first meta graph comes with the variables' values (read from `sess` in one
run: every variable of the GLOBAL_VARIABLES collection, by op name, optimizer
slots and the global step included); more meta graphs (add_meta_graph) share them.
`save` writes the export directory (raygraph.saved_model.store): each graph as a
JSON document (raygraph.saved_model.format), the values in safetensors, and the
manifest. A graph holding a user-declared op or a Python function (tf.py_func)
is refused with a ValueError naming the op. main_op, legacy_init_op and train_op
are stored in the exported graph's collections (TensorFlow's keys); the graph
itself is not changed. The `saver` and `strip_default_attrs` arguments are
accepted and ignored; assets are not supported.
"""

from __future__ import annotations

import os

import numpy as np
from google.protobuf import json_format

from raygraph import io
from raygraph.graph import GraphKeys, Operation, Tensor, get_default_graph
from raygraph.saved_model import constants, format, store
from raygraph.saved_model import signature_constants as sc
from raygraph.saved_model import signature_def_utils as sdu

__all__ = ["SavedModelBuilder", "simple_save"]


class SavedModelBuilder:
    """Builds a SavedModel: meta graphs with tags and signatures, and one set of variables.

    >>> b = tf.saved_model.builder.SavedModelBuilder("export/1")
    >>> b.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={...})
    >>> b.save()
    'export/1/saved_model.json'
    """

    def __init__(self, export_dir):
        self._export_dir = os.fspath(export_dir)
        if os.path.exists(self._export_dir):
            if os.listdir(self._export_dir):
                raise AssertionError(
                    f"Export directory {self._export_dir} already exists, and isn't empty. Please choose a "
                    "different export directory, or delete all the contents of the specified directory."
                )
        else:
            os.makedirs(self._export_dir)
        self._meta_graphs: list[dict] = []
        self._variables: dict[str, np.ndarray] | None = None

    def add_meta_graph_and_variables(
        self,
        sess,
        tags,
        signature_def_map=None,
        assets_collection=None,
        legacy_init_op=None,
        clear_devices=False,
        main_op=None,
        strip_default_attrs=False,
        saver=None,
        train_op=None,
    ) -> None:
        """Adds `sess.graph` under `tags` and records the values of its global variables."""
        if self._variables is not None:
            raise AssertionError(
                "Graph state including variables and assets has already been saved. "
                "Please invoke `add_meta_graph()` instead."
            )
        graph = sess.graph
        entry = _meta_graph(graph, tags, signature_def_map, assets_collection, clear_devices)
        _add_ops_collections(entry, main_op or legacy_init_op, train_op)
        self._variables = _variable_values(sess, graph)
        self._meta_graphs.append(entry)

    def add_meta_graph(
        self,
        tags,
        signature_def_map=None,
        assets_collection=None,
        legacy_init_op=None,
        clear_devices=False,
        main_op=None,
        strip_default_attrs=False,
        saver=None,
    ) -> None:
        """Adds the default graph under `tags`; it shares the variables saved with the first graph."""
        if self._variables is None:
            raise AssertionError(
                "Graph state including variables and assets has not been saved yet. "
                "Please invoke `add_meta_graph_and_variables()` first."
            )
        entry = _meta_graph(get_default_graph(), tags, signature_def_map, assets_collection, clear_devices)
        _add_ops_collections(entry, main_op or legacy_init_op, None)
        self._meta_graphs.append(entry)

    def save(self, as_text=False) -> str:
        """Writes the export directory; returns the path of its saved_model.json."""
        if self._variables is None:
            raise AssertionError("Nothing to save: call add_meta_graph_and_variables() first.")
        doc = {"format": store.FORMAT_NAME, "version": store.FORMAT_VERSION, "meta_graphs": self._meta_graphs}
        store.write_export(self._export_dir, doc, self._variables)
        return os.path.join(self._export_dir, store.SAVED_MODEL_FILENAME)


def _meta_graph(graph, tags, signature_def_map, assets_collection, clear_devices) -> dict:
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags or ()):
        raise TypeError(f"tags must be a list of strings, got {tags!r}")
    if assets_collection:
        raise NotImplementedError("raygraph's SavedModel does not export assets (assets_collection)")
    signatures = dict(signature_def_map or {})
    _validate_signatures(signatures, graph)
    doc = format.encode_graph(graph)
    if clear_devices:
        for ops in [doc["ops"]] + [s["ops"] for s in doc["subgraphs"]]:
            for op in ops:
                op["device"] = ""
    return {
        "tags": list(tags),
        "signature_def": {
            k: json_format.MessageToDict(v, preserving_proto_field_name=True) for k, v in signatures.items()
        },
        "graph": doc,
    }


def _validate_signatures(signatures: dict, graph) -> None:
    """TensorFlow's checks (AssertionError, KeyError), and that every tensor named is in `graph`."""
    for key, sig in signatures.items():
        for info in list(sig.inputs.values()) + list(sig.outputs.values()):
            if info.WhichOneof("encoding") != "name":
                raise AssertionError(
                    f"Invalid `tensor_info`: {info}. raygraph's SignatureDefs name dense tensors (encoding 'name')."
                )
            if info.dtype == 0:
                raise AssertionError(
                    f"Invalid `tensor_info`: {info}. All TensorInfo protos used in the SignatureDefs must have the "
                    "dtype field set."
                )
            try:
                graph.get_tensor_by_name(info.name)
            except (KeyError, ValueError) as e:
                raise ValueError(
                    f"Signature {key!r} names tensor {info.name!r}, which is not in the graph: {e}"
                ) from None
    for reserved in (constants.INIT_OP_SIGNATURE_KEY, constants.TRAIN_OP_SIGNATURE_KEY):
        if reserved in signatures:
            raise KeyError(f'SignatureDef map key "{reserved}" is reserved. Please use a different key.')


def _add_ops_collections(entry: dict, main_op, train_op) -> None:
    collections = entry["graph"]["collections"]
    if main_op is not None:
        if not isinstance(main_op, Operation):
            raise TypeError(f"Expected {main_op} to be an Operation but got type {type(main_op)} instead.")
        collections[constants.MAIN_OP_KEY] = [{"operation": main_op.name}]
    if train_op is not None:
        if isinstance(train_op, Tensor):
            collections[constants.TRAIN_OP_KEY] = [{"tensor": train_op.name}]
        elif isinstance(train_op, Operation):
            collections[constants.TRAIN_OP_KEY] = [{"operation": train_op.name}]
        else:
            raise TypeError(f"`train_op` {train_op} needs to be a Tensor or Op.")


def _variable_values(sess, graph) -> dict[str, np.ndarray]:
    """{variable op name: value} of the graph's global variables, read in one run."""
    variables = {}
    for v in graph.get_collection(GraphKeys.GLOBAL_VARIABLES):
        ref = v._ref() if hasattr(v, "_ref") else v
        if ref.dtype.name not in io.DTYPES:
            raise TypeError(f"Cannot export variable {ref.op.name!r} of dtype {ref.dtype.name}")
        variables.setdefault(ref.op.name, ref)
    names = sorted(variables)
    values = sess.run([variables[n] for n in names]) if names else []
    return {n: np.asarray(value, dtype=variables[n].dtype.np) for n, value in zip(names, values)}


def simple_save(session, export_dir, inputs, outputs, legacy_init_op=None) -> None:
    """Exports a model for serving in one call: tag "serve", one Predict signature "serving_default".

    >>> tf.saved_model.simple_save(sess, "export/1", inputs={"x": x}, outputs={"y": y})
    """
    signature_def_map = {sc.DEFAULT_SERVING_SIGNATURE_DEF_KEY: sdu.predict_signature_def(inputs, outputs)}
    b = SavedModelBuilder(export_dir)
    b.add_meta_graph_and_variables(
        session,
        tags=["serve"],
        signature_def_map=signature_def_map,
        main_op=legacy_init_op,
        clear_devices=True,
    )
    b.save()
