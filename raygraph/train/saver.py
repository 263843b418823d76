"""`tf.train.Saver` and the checkpoint helpers of `tf.train`.

    saver = tf.train.Saver(max_to_keep=3)
    ...
    path = saver.save(sess, "ckpt/model.ckpt", global_step=step)   # "ckpt/model.ckpt-100"
    ...
    saver.restore(sess, tf.train.latest_checkpoint("ckpt"))

How it works:
- Building a Saver decides which variables it covers ({checkpoint name: variable};
  the name is the variable's op name, "dense/kernel", unless var_list is a dict) and
  adds, once, the ops that restore them: per variable a placeholder colocated with
  it and an Assign, grouped under "save/restore_all". Save and restore add no ops,
  so the graph may be finalized after the Saver is built.
- `save` reads every variable with one `sess.run` (the session gathers them from the
  device actors that hold them; a global_step tensor rides in the same run), writes
  them to `<prefix>.safetensors` (a safetensors file with raygraph's checksums in its
  metadata; see raygraph.io), then the "checkpoint" state file, then deletes
  checkpoints beyond `max_to_keep`. Each file is replaced atomically, in that order,
  so a save killed at any point leaves the previous checkpoint readable; the
  temporary files such a save leaves are removed by the next save to that prefix
  (restore never reads them).
- Paths may be URLs ("gs://bucket/ckpt/model", "memory://ckpt/model"): directories,
  files, the state file and deletions go through raygraph.gfile (fsspec), never
  through `os` functions that would make a local directory named "gs:".
- `restore` checks the checkpoint's header against the variables (missing name:
  NotFoundError; shape or dtype differs: InvalidArgumentError; each names the
  variable and the file) before reading any data, then feeds every value to the
  restore ops in one `sess.run`.

- `save` also writes `<prefix>.meta`, the MetaGraphDef (raygraph.meta_graph), unless
  `write_meta_graph=False`. Its SaverDef names the restore op; the checkpoint
  keys are a string Const beside it ("save/checkpoint_keys", in the order of the
  restore Assigns), so `Saver(saver_def=...)` (what `import_meta_graph` returns)
  finds its variables and restore placeholders in an imported graph.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping

import numpy as np

from ops import api
from raygraph import dtypes, errors, gfile, io
from raygraph.graph import Tensor
from raygraph.io import CheckpointState
from raygraph.shapes import format_shape

__all__ = [
    "CheckpointReader",
    "NewCheckpointReader",
    "Saver",
    "checkpoint_exists",
    "get_checkpoint_mtimes",
    "get_checkpoint_state",
    "latest_checkpoint",
    "list_variables",
    "load_checkpoint",
    "load_variable",
    "remove_checkpoint",
    "update_checkpoint_state",
]

_STATE_FILENAME = "checkpoint"


# -- which variables a Saver covers -------------------------------------------------


class _Slot:
    """One saved variable: its name in the checkpoint and its VariableV2 tensor."""

    def __init__(self, name: str, ref: Tensor):
        self.name = name
        self.ref = ref
        self.feed: Tensor | None = None  # the restore placeholder, once built

    @property
    def dtype(self):
        return self.ref.dtype

    @property
    def shape(self):
        return self.ref.shape

    def describe(self) -> str:
        var = self.ref.op.name
        return f"variable '{var}'" if var == self.name else f"variable '{var}' (checkpoint key '{self.name}')"


def _variable_ref(obj) -> Tensor:
    """The VariableV2 tensor behind a tf.Variable (or that tensor itself); TypeError otherwise."""
    ref = obj._ref() if hasattr(obj, "_ref") else obj
    if not isinstance(ref, Tensor) or ref.op.type != "VariableV2":
        raise TypeError(
            f"Saver var_list must hold tf.Variable objects, got {obj!r} of type {type(obj).__name__}"
        )
    return ref


def _slots(var_list) -> list[_Slot]:
    """The Saver's variables as slots sorted by checkpoint name; ValueError on duplicates."""
    if var_list is None:
        from raygraph.variables import global_variables

        var_list = global_variables()
    if isinstance(var_list, Mapping):
        slots = _slots_from_dict(var_list)
    elif isinstance(var_list, list | tuple | set | frozenset):
        slots = _slots_from_list(var_list)
    else:
        raise TypeError(
            f"Saver var_list must be a list or a dict of variables, got {type(var_list).__name__}"
        )
    graphs = {id(s.ref.graph): s for s in slots}
    if len(graphs) > 1:
        a, b = list(graphs.values())[:2]
        raise ValueError(
            f"Saver variables come from different graphs: '{a.ref.op.name}' and '{b.ref.op.name}'"
        )
    for slot in slots:
        if slot.dtype.name not in io.DTYPES:
            raise TypeError(
                f"Saver cannot save {slot.describe()} of dtype {slot.dtype.name}: checkpoints hold only "
                f"{', '.join(sorted(io.DTYPES))}"
            )
    return sorted(slots, key=lambda s: s.name)


def _slots_from_list(var_list) -> list[_Slot]:
    slots: dict[str, _Slot] = {}
    for obj in var_list:
        ref = _variable_ref(obj)
        if ref.op.name in slots:
            raise ValueError(f"At least two variables have the same name: {ref.op.name}")
        slots[ref.op.name] = _Slot(ref.op.name, ref)
    return list(slots.values())


def _slots_from_dict(var_dict: Mapping) -> list[_Slot]:
    slots, seen = [], {}
    for name, obj in var_dict.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"Saver var_list keys must be non-empty strings, got {name!r}")
        ref = _variable_ref(obj)
        if ref in seen:
            raise ValueError(
                f"The same saveable will be restored with two names: {name} (variable '{ref.op.name}' "
                f"is also saved as {seen[ref]!r})"
            )
        seen[ref] = name
        slots.append(_Slot(name, ref))
    return slots


def _build_restore_ops(slots: list[_Slot], name: str | None):
    """Adds a placeholder + Assign per slot (sets slot.feed) and returns their group."""
    graph = slots[0].ref.graph
    with graph.as_default(), graph.control_dependencies(None), graph.name_scope(name or "save"):
        api.constant(np.array([slot.name.encode() for slot in slots], dtype=object), name=_KEYS_NAME)
        assigns = []
        for slot in slots:
            with graph.colocate_with(slot.ref.op):
                slot.feed = api.placeholder(slot.dtype, slot.shape, name="restore_value")
                assign = api.assign(
                    slot.ref, slot.feed, validate_shape=slot.shape.is_fully_defined(), name="Assign"
                )
            assigns.append(assign.op)
        return api.group(*assigns, name="restore_all")


_KEYS_NAME = "checkpoint_keys"


def _slots_from_saver_def(saver_def, import_scope: str | None):
    """The slots and restore op of a Saver whose ops are in the default graph (an imported one)."""
    from raygraph.graph import get_default_graph

    graph = get_default_graph()
    restore_name = saver_def.restore_op_name
    if import_scope:
        restore_name = f"{import_scope}/{restore_name}"
    restore_op = graph.get_operation_by_name(restore_name)
    scope = restore_op.name.rpartition("/")[0]
    keys_op = graph.get_operation_by_name(f"{scope}/{_KEYS_NAME}" if scope else _KEYS_NAME)
    keys = [k.decode() if isinstance(k, bytes) else str(k) for k in np.reshape(keys_op.attrs["value"], [-1])]
    assigns = sorted(_assigns_under(restore_op), key=lambda op: op.creation_order)
    if len(assigns) != len(keys):
        raise ValueError(
            f"SaverDef's restore op {restore_op.name!r} assigns {len(assigns)} variables but "
            f"{keys_op.name!r} names {len(keys)}"
        )
    slots = []
    for key, assign in zip(keys, assigns):
        slot = _Slot(key, assign.inputs[0])
        slot.feed = assign.inputs[1]
        slots.append(slot)
    return slots, restore_op


def _assigns_under(op) -> list:
    """The Assign ops that `op` (tf.group's NoOps) depends on through control inputs."""
    found, stack, seen = [], [op], set()
    while stack:
        current = stack.pop()
        for c in current.control_inputs:
            if c.name in seen:
                continue
            seen.add(c.name)
            (found if c.type == "Assign" else stack).append(c)
    return found


# -- the Saver ------------------------------------------------------------------------


class Saver:
    """Saves and restores variables (TensorFlow 1.x `tf.train.Saver`).

    >>> saver = tf.train.Saver()                      # every global variable
    >>> saver.save(sess, "ckpt/model.ckpt", global_step=100)
    'ckpt/model.ckpt-100'
    >>> saver.restore(sess, tf.train.latest_checkpoint("ckpt"))

    `var_list` is None (all global variables), a list of variables (saved under
    their op names) or a dict {checkpoint name: variable}. `max_to_keep` recent
    checkpoints are kept (None or 0: all); one every `keep_checkpoint_every_n_hours`
    is kept besides. `reshape=True` restores a value of another shape with as many
    elements. `sharded`, `restore_sequentially`, `write_version` and `filename`
    are accepted for compatibility: there is one file per checkpoint.
    `saver_def` (from `saver.saver_def` or a meta graph) adopts the restore ops
    of a Saver already in the default graph; `tf.train.import_meta_graph` uses it.
    """

    def __init__(
        self,
        var_list=None,
        reshape=False,
        sharded=False,
        max_to_keep=5,
        keep_checkpoint_every_n_hours=10000.0,
        name=None,
        restore_sequentially=False,
        saver_def=None,
        builder=None,
        defer_build=False,
        allow_empty=False,
        write_version=2,
        pad_step_number=False,
        save_relative_paths=False,
        filename=None,
    ):
        if builder is not None:
            raise NotImplementedError("raygraph's Saver is built from var_list; builder is not supported")
        self._var_list = var_list
        self._reshape = reshape
        self._sharded = sharded
        self._max_to_keep = max_to_keep
        self._keep_every_hours = keep_checkpoint_every_n_hours
        self._name = name
        self._allow_empty = allow_empty
        self._pad_step_number = pad_step_number
        self._save_relative_paths = save_relative_paths
        self._filename = filename
        self._slots: list[_Slot] = []
        self._restore_op = None
        self._is_built = False
        self._is_empty = False
        self._last_checkpoints: list[tuple[str, float]] = []
        self._checkpoints_to_be_deleted: list[tuple[str, float]] = []
        self._next_checkpoint_time = time.time() + keep_checkpoint_every_n_hours * 3600
        if saver_def is not None:
            self._adopt(saver_def, name)
        elif not defer_build:
            self.build()

    def _adopt(self, saver_def, import_scope) -> None:
        self._slots, self._restore_op = _slots_from_saver_def(saver_def, import_scope)
        self._is_empty = not self._slots
        self._max_to_keep = saver_def.max_to_keep
        self._keep_every_hours = saver_def.keep_checkpoint_every_n_hours or 10000.0
        self._next_checkpoint_time = time.time() + self._keep_every_hours * 3600
        self._is_built = True

    @property
    def saver_def(self):
        """This Saver as TensorFlow's SaverDef: its restore op and settings (None before build)."""
        from tensorboard.compat.proto import saver_pb2

        if not self._is_built or self._restore_op is None:
            return None
        return saver_pb2.SaverDef(
            restore_op_name=self._restore_op.name,
            max_to_keep=self._max_to_keep or 0,
            sharded=bool(self._sharded),
            keep_checkpoint_every_n_hours=float(self._keep_every_hours),
            version=saver_pb2.SaverDef.V2,
        )

    def as_saver_def(self):
        """The SaverDef (see `saver_def`)."""
        return self.saver_def

    def to_proto(self, export_scope=None):
        """The SaverDef, with `export_scope/` taken off the restore op's name."""
        proto = self.saver_def
        if proto is not None and export_scope:
            prefix = export_scope + "/"
            if not proto.restore_op_name.startswith(prefix):
                return None
            proto.restore_op_name = proto.restore_op_name[len(prefix) :]
        return proto

    @staticmethod
    def from_proto(saver_def, import_scope=None):
        """The Saver whose ops a SaverDef names, in the default graph."""
        return Saver(saver_def=saver_def, name=import_scope)

    def export_meta_graph(
        self,
        filename=None,
        collection_list=None,
        as_text=False,
        export_scope=None,
        clear_devices=False,
        clear_extraneous_savers=False,
        strip_default_attrs=False,
        save_debug_info=False,
    ):
        """Writes (if `filename`) and returns the MetaGraphDef of this Saver's graph, with its SaverDef.

        >>> saver.export_meta_graph("ckpt/model.meta")
        """
        from raygraph.meta_graph import export_meta_graph

        graph = self._slots[0].ref.graph if self._slots else None
        return export_meta_graph(
            filename=filename,
            saver_def=self.to_proto(export_scope),
            collection_list=collection_list,
            as_text=as_text,
            graph=graph,
            export_scope=export_scope,
            clear_devices=clear_devices,
        )

    def build(self) -> None:
        """Resolves the variables and adds the restore ops (once; later calls do nothing)."""
        if self._is_built:
            return
        slots = _slots(self._var_list)
        if not slots and not self._allow_empty:
            raise ValueError("No variables to save")
        self._is_empty = not slots
        if slots:
            self._restore_op = _build_restore_ops(slots, self._name)
        self._slots = slots
        self._is_built = True

    # -- saving --
    def save(
        self,
        sess,
        save_path,
        global_step=None,
        latest_filename=None,
        meta_graph_suffix="meta",
        write_meta_graph=True,
        write_state=True,
        strip_default_attrs=False,
        save_debug_info=False,
    ):
        """Writes the variables' values; returns the checkpoint prefix ("dir/model.ckpt-100").

        `global_step` (an int, or a tensor or variable whose value is read) is
        appended to `save_path`. With `write_state`, the "checkpoint" state file
        (`latest_filename`) in the same directory is updated and checkpoints beyond
        `max_to_keep` are deleted. With `write_meta_graph`, the graph goes to
        `<prefix>.<meta_graph_suffix>` ("model.ckpt-100.meta") as a MetaGraphDef.
        Returns None if the Saver has no variables.
        """
        if not self._is_built:
            raise RuntimeError("`build()` should be called before save if defer_build==True")
        if not hasattr(sess, "run"):
            raise TypeError(f"'sess' must be a Session; {sess!r}")
        latest_filename = latest_filename or _STATE_FILENAME
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        if os.path.basename(save_path) == latest_filename:
            raise ValueError(
                f"'latest_filename' collides with 'save_path': '{latest_filename}' and '{save_path}'"
            )
        if self._is_empty:
            return None
        values, step = self._read_values(sess, global_step)
        prefix = _prefix_with_step(save_path, step, self._pad_step_number)
        save_dir = os.path.dirname(prefix)
        if write_state:
            _state_file(save_dir, latest_filename, prefix)  # fails before anything is written
        if save_dir:
            gfile.makedirs(save_dir)
        _remove_stale_temp_files(save_path, latest_filename if write_state else None)
        io.write_checkpoint(prefix + io.CHECKPOINT_SUFFIX, values)
        if write_state:
            self._record_last_checkpoint(prefix)
            _write_state(save_dir, prefix, self.last_checkpoints, latest_filename, self._save_relative_paths)
            self._delete_old_checkpoints(meta_graph_suffix)
        if write_meta_graph:  # last, as in TensorFlow
            self.export_meta_graph(f"{prefix}.{meta_graph_suffix}")
        return prefix

    def _read_values(self, sess, global_step) -> tuple[dict[str, np.ndarray], int | None]:
        """{checkpoint name: value} from one sess.run, and the global step as an int."""
        fetches = [slot.ref for slot in self._slots]
        step_is_tensor = global_step is not None and not _is_integral(global_step)
        if step_is_tensor:
            fetches.append(global_step)
        results = sess.run(fetches)
        if step_is_tensor:
            global_step = int(results.pop())
        values = {slot.name: np.asarray(v, dtype=slot.dtype.np) for slot, v in zip(self._slots, results)}
        return values, None if global_step is None else int(global_step)

    def _record_last_checkpoint(self, prefix: str) -> None:
        if not self._max_to_keep:
            return
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != prefix]
        self._last_checkpoints.append((prefix, time.time()))
        while len(self._last_checkpoints) > self._max_to_keep:
            self._checkpoints_to_be_deleted.append(self._last_checkpoints.pop(0))

    def _delete_old_checkpoints(self, meta_graph_suffix: str = "meta") -> None:
        """Deletes checkpoints dropped from the list, except one per N hours."""
        while self._checkpoints_to_be_deleted:
            prefix, saved_at = self._checkpoints_to_be_deleted.pop(0)
            if saved_at > self._next_checkpoint_time:
                self._next_checkpoint_time += self._keep_every_hours * 3600
                continue
            try:
                remove_checkpoint(prefix, meta_graph_suffix=meta_graph_suffix)
            except (OSError, errors.OpError) as e:
                warnings.warn(
                    f"Ignoring: could not delete old checkpoint {prefix}: {e}", RuntimeWarning, stacklevel=3
                )

    # -- restoring --
    def restore(self, sess, save_path) -> None:
        """Sets the variables to the values saved at `save_path` (a checkpoint prefix).

        Raises ValueError when there is no checkpoint at `save_path`, NotFoundError
        when it lacks a variable, InvalidArgumentError when a shape or dtype
        differs and DataLossError when the file is corrupt.
        """
        if self._is_empty:
            return
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        save_path = os.fspath(save_path)
        if not checkpoint_exists(save_path):
            raise ValueError(
                f"The passed save_path is not a valid checkpoint: {save_path}{_tf_format_hint(save_path)}"
            )
        with io.CheckpointFile(_checkpoint_file(save_path)) as ckpt:
            self._check_against(ckpt)
            feeds = {slot.feed: self._value_for(ckpt, slot) for slot in self._slots}
        sess.run(self._restore_op, feed_dict=feeds)

    def _check_against(self, ckpt: io.CheckpointFile) -> None:
        """Raises if the checkpoint lacks a variable or holds one of another shape/dtype."""
        missing = [slot for slot in self._slots if slot.name not in ckpt]
        if missing:
            names = ", ".join(slot.describe() for slot in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise errors.NotFoundError(
                None,
                missing[0].ref.op,
                f"Restoring from checkpoint failed: {names}{more} not found in checkpoint file {ckpt.path}. "
                f"The graph must match the one that was saved; the checkpoint holds {_some(ckpt.names())}.",
            )
        for slot in self._slots:
            entry = ckpt.entry(slot.name)
            if entry.dtype.name != slot.dtype.name:
                raise errors.InvalidArgumentError(
                    None,
                    slot.ref.op,
                    f"Restoring from checkpoint failed: {slot.describe()} has dtype {slot.dtype.name} in the "
                    f"graph but {entry.dtype.name} in checkpoint file {ckpt.path}",
                )
            if not self._shape_fits(slot, entry.shape):
                raise errors.InvalidArgumentError(
                    None,
                    slot.ref.op,
                    f"Restoring from checkpoint failed: {slot.describe()} has shape {format_shape(slot.shape)} "
                    f"in the graph but {format_shape(entry.shape)} in checkpoint file {ckpt.path}",
                )

    def _shape_fits(self, slot: _Slot, shape: tuple[int, ...]) -> bool:
        if slot.shape.is_compatible_with(shape):
            return True
        return (
            self._reshape
            and slot.shape.is_fully_defined()
            and slot.shape.num_elements() == int(np.prod(shape))
        )

    def _value_for(self, ckpt: io.CheckpointFile, slot: _Slot) -> np.ndarray:
        value = ckpt.read(slot.name)
        if not slot.shape.is_compatible_with(value.shape):  # reshape=True, checked above
            value = value.reshape(slot.shape.as_list())
        return value

    # -- the list of recent checkpoints --
    @property
    def last_checkpoints(self) -> list[str]:
        """The prefixes of the checkpoints not yet deleted, oldest first."""
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints) -> None:
        """Replaces the list of recent checkpoints (their times become unknown, 0)."""
        if not isinstance(last_checkpoints, list):
            raise TypeError("last_checkpoints must be a list")
        self._last_checkpoints = [(str(p), 0.0) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time) -> None:
        """Replaces the list of recent checkpoints with (prefix, timestamp) pairs."""
        if not isinstance(last_checkpoints_with_time, list):
            raise TypeError("last_checkpoints_with_time must be a list")
        self._last_checkpoints = [(str(p), float(t)) for p, t in last_checkpoints_with_time]

    def recover_last_checkpoints(self, checkpoint_paths) -> None:
        """Adopts the existing checkpoints among `checkpoint_paths`, timed by their files' mtimes.

        >>> state = tf.train.get_checkpoint_state("ckpt")
        >>> saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
        """
        recovered = []
        for path in checkpoint_paths:
            mtimes = get_checkpoint_mtimes([path])
            if mtimes:
                recovered.append((path, mtimes[0]))
        self.set_last_checkpoints_with_time(recovered)


# -- saving helpers -------------------------------------------------------------------


def _is_integral(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _prefix_with_step(save_path: str, step: int | None, pad: bool) -> str:
    if step is None:
        return save_path
    return f"{save_path}-{step:08d}" if pad else f"{save_path}-{step}"


def _some(names: list[str], limit: int = 10) -> str:
    if not names:
        return "no tensors"
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _remove_stale_temp_files(save_path: str, latest_filename: str | None) -> None:
    """Removes what saves to `save_path` killed mid-write left: their temporary files."""
    save_dir = os.path.dirname(save_path)
    io.remove_stale_temp_files(save_dir, os.path.basename(save_path))
    if latest_filename:
        io.remove_stale_temp_files(save_dir, latest_filename)


def _checkpoint_file(prefix) -> str:
    """The file a checkpoint prefix names (a path to the file itself is accepted too)."""
    prefix = os.fspath(prefix)
    return prefix if prefix.endswith(io.CHECKPOINT_SUFFIX) else prefix + io.CHECKPOINT_SUFFIX


def _tf_format_hint(prefix: str) -> str:
    if os.path.exists(prefix + ".index"):
        return (
            f" ({prefix}.index is a TensorFlow checkpoint; raygraph reads its own format, "
            f"{prefix}{io.CHECKPOINT_SUFFIX})"
        )
    return ""


def _state_path(path: str, save_dir: str, relative: bool) -> str:
    """A checkpoint path as the state file records it (TensorFlow's rules)."""
    if (relative and os.path.isabs(path)) or (not os.path.isabs(save_dir) and not os.path.isabs(path)):
        return os.path.relpath(path, save_dir or os.curdir)
    return path


def _state_file(save_dir: str, latest_filename: str | None, prefix: str) -> str:
    """The state file's path; RuntimeError if it is the checkpoint file itself."""
    state_file = os.path.join(save_dir, latest_filename or _STATE_FILENAME)
    if os.path.abspath(state_file) == os.path.abspath(_checkpoint_file(prefix)):
        raise RuntimeError(
            f"Save path '{prefix}' conflicts with path used for checkpoint state. Please use a different save path."
        )
    return state_file


def _write_state(
    save_dir, prefix, all_paths, latest_filename, relative, timestamps=(), preserved=0.0
) -> None:
    """Writes the state file: `prefix` is the latest, `all_paths` (ending with it) the kept ones."""
    paths = list(all_paths)
    if not paths or paths[-1] != prefix:
        paths.append(prefix)
    state = CheckpointState(
        _state_path(prefix, save_dir, relative),
        [_state_path(p, save_dir, relative) for p in paths],
        timestamps,
        preserved,
    )
    io.write_checkpoint_state(_state_file(save_dir, latest_filename, prefix), state)


# -- tf.train's checkpoint functions --------------------------------------------------


def update_checkpoint_state(
    save_dir,
    model_checkpoint_path,
    all_model_checkpoint_paths=None,
    latest_filename=None,
    all_model_checkpoint_timestamps=None,
    last_preserved_timestamp=None,
) -> None:
    """Writes the "checkpoint" state file in `save_dir`, atomically.

    >>> tf.train.update_checkpoint_state("ckpt", "ckpt/model.ckpt-200",
    ...                                  ["ckpt/model.ckpt-100", "ckpt/model.ckpt-200"])
    """
    save_dir = os.fspath(save_dir)
    _write_state(
        save_dir,
        os.fspath(model_checkpoint_path),
        [os.fspath(p) for p in all_model_checkpoint_paths or []],
        latest_filename,
        False,
        [float(t) for t in all_model_checkpoint_timestamps or []],
        float(last_preserved_timestamp or 0.0),
    )


def get_checkpoint_state(checkpoint_dir, latest_filename=None) -> CheckpointState | None:
    """The "checkpoint" state file of `checkpoint_dir`, with paths resolved against it; None if absent.

    >>> tf.train.get_checkpoint_state("ckpt").model_checkpoint_path
    'ckpt/model.ckpt-200'

    A malformed state file raises DataLossError naming it.
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    state_file = os.path.join(checkpoint_dir, latest_filename or _STATE_FILENAME)
    state = io.read_checkpoint_state(state_file)
    if state is None:
        return None
    if not state.model_checkpoint_path:
        raise errors.DataLossError(
            None, None, f"Checkpoint state file {state_file} names no model_checkpoint_path"
        )
    state.model_checkpoint_path = _resolve(checkpoint_dir, state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [_resolve(checkpoint_dir, p) for p in state.all_model_checkpoint_paths]
    return state


def _resolve(checkpoint_dir: str, path: str) -> str:
    return path if os.path.isabs(path) else os.path.join(checkpoint_dir, path)


def latest_checkpoint(checkpoint_dir, latest_filename=None) -> str | None:
    """The prefix of the newest checkpoint in `checkpoint_dir`, or None if there is none.

    >>> saver.restore(sess, tf.train.latest_checkpoint("ckpt"))
    """
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None:
        return None
    if checkpoint_exists(state.model_checkpoint_path):
        return state.model_checkpoint_path
    warnings.warn(
        f"Couldn't match files for checkpoint {state.model_checkpoint_path}", RuntimeWarning, stacklevel=2
    )
    return None


def checkpoint_exists(checkpoint_prefix) -> bool:
    """Whether a checkpoint file exists for `checkpoint_prefix` (a local path or a URL)."""
    path = _checkpoint_file(checkpoint_prefix)
    local = gfile.local_path(path)
    if local is not None:
        return os.path.isfile(local)
    return gfile.exists(path) and not gfile.isdir(path)


def get_checkpoint_mtimes(checkpoint_prefixes) -> list[float]:
    """The modification times of the checkpoints that exist among `checkpoint_prefixes`."""
    mtimes = []
    for prefix in checkpoint_prefixes:
        try:
            mtimes.append(gfile.stat(_checkpoint_file(prefix)).mtime_nsec / 1e9)
        except (OSError, errors.NotFoundError):
            continue
    return mtimes


def remove_checkpoint(checkpoint_prefix, checkpoint_format_version=2, meta_graph_suffix="meta") -> None:
    """Deletes a checkpoint's files (and a `.meta` file beside it, if any)."""
    for path in (_checkpoint_file(checkpoint_prefix), f"{os.fspath(checkpoint_prefix)}.{meta_graph_suffix}"):
        try:
            gfile.remove(path)
        except errors.NotFoundError:
            pass


class CheckpointReader:
    """Reads tensors from a checkpoint by name (TensorFlow's `tf.train.load_checkpoint`).

    >>> reader = tf.train.load_checkpoint("ckpt")
    >>> reader.get_variable_to_shape_map()
    {'w': [2, 3]}
    >>> reader.get_tensor("w").shape
    (2, 3)

    The reader keeps the checkpoint file open (see `io.CheckpointFile`) until it
    is collected, so a newer save that replaces the file does not change what it reads.
    """

    def __init__(self, checkpoint_prefix):
        prefix = os.fspath(checkpoint_prefix)
        if not checkpoint_exists(prefix):
            raise errors.NotFoundError(
                None,
                None,
                f"Failed to find any matching files for {prefix} (no file {_checkpoint_file(prefix)})"
                f"{_tf_format_hint(prefix)}",
            )
        self._file = io.CheckpointFile(_checkpoint_file(prefix))

    def has_tensor(self, name: str) -> bool:
        return name in self._file

    def get_tensor(self, name: str) -> np.ndarray:
        if name not in self._file:
            raise errors.NotFoundError(None, None, f"Key {name} not found in checkpoint {self._file.path}")
        return self._file.read(name)

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {n: list(self._file.entry(n).shape) for n in self._file.names()}

    def get_variable_to_dtype_map(self) -> dict:
        return {n: dtypes.as_dtype(self._file.entry(n).dtype.name) for n in self._file.names()}


NewCheckpointReader = CheckpointReader


def load_checkpoint(ckpt_dir_or_file) -> CheckpointReader:
    """A reader for a checkpoint prefix, or for the latest checkpoint of a directory."""
    return CheckpointReader(_checkpoint_prefix(ckpt_dir_or_file))


def _checkpoint_prefix(ckpt_dir_or_file) -> str:
    path = os.fspath(ckpt_dir_or_file)
    if gfile.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory {path}")
        return latest
    return path


def list_variables(ckpt_dir_or_file) -> list[tuple[str, list[int]]]:
    """(name, shape) of every tensor in a checkpoint, sorted by name.

    >>> tf.train.list_variables("ckpt")
    [('dense/bias', [10]), ('dense/kernel', [784, 10])]
    """
    shapes = load_checkpoint(ckpt_dir_or_file).get_variable_to_shape_map()
    return sorted(shapes.items())


def load_variable(ckpt_dir_or_file, name: str) -> np.ndarray:
    """The value of tensor `name` ("w" or "w:0") in a checkpoint.

    >>> tf.train.load_variable("ckpt", "dense/bias")
    array([0., 0., ...], dtype=float32)
    """
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)
