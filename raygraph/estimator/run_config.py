"""`tf.estimator.RunConfig`: where an Estimator keeps its checkpoints and how often it writes them.

Every field is read-only; `replace(**changes)` returns a copy. raygraph adds
one field, `master`: the Session target ("" for Ray actors, the default, or
"local" for this process), which TF derives from its cluster (TF_CONFIG).
"""

from __future__ import annotations

import copy
import os

__all__ = ["RunConfig"]

_FIELDS = (
    "model_dir",
    "tf_random_seed",
    "save_summary_steps",
    "save_checkpoints_steps",
    "save_checkpoints_secs",
    "session_config",
    "keep_checkpoint_max",
    "keep_checkpoint_every_n_hours",
    "log_step_count_steps",
    "train_distribute",
    "device_fn",
    "protocol",
    "eval_distribute",
    "experimental_distribute",
    "experimental_max_worker_delay_secs",
    "session_creation_timeout_secs",
    "checkpoint_save_graph_def",
    "master",
)
_DEFAULT = object()


class RunConfig:
    """An Estimator's run configuration (TF1's fields; a checkpoint every 600 s by default).

    >>> config = tf.estimator.RunConfig(model_dir="model", save_checkpoints_steps=100,
    ...                                 tf_random_seed=0, log_step_count_steps=10)
    """

    def __init__(
        self,
        model_dir=None,
        tf_random_seed=None,
        save_summary_steps=100,
        save_checkpoints_steps=_DEFAULT,
        save_checkpoints_secs=_DEFAULT,
        session_config=None,
        keep_checkpoint_max=5,
        keep_checkpoint_every_n_hours=10000,
        log_step_count_steps=100,
        train_distribute=None,
        device_fn=None,
        protocol=None,
        eval_distribute=None,
        experimental_distribute=None,
        experimental_max_worker_delay_secs=None,
        session_creation_timeout_secs=7200,
        checkpoint_save_graph_def=True,
        *,
        master="",
    ):
        steps_given = save_checkpoints_steps not in (_DEFAULT, None)
        secs_given = save_checkpoints_secs not in (_DEFAULT, None)
        if steps_given and secs_given:
            raise ValueError("Can not provide both save_checkpoints_steps and save_checkpoints_secs.")
        if save_checkpoints_steps is _DEFAULT:
            save_checkpoints_steps = None
        if save_checkpoints_secs is _DEFAULT:
            save_checkpoints_secs = None if steps_given else 600
        if train_distribute is not None or eval_distribute is not None or experimental_distribute is not None:
            raise NotImplementedError(
                "raygraph's Estimator runs on one session: distribution strategies are not supported"
            )
        if master not in ("", "local"):
            raise ValueError(
                f"RunConfig master must be '' (Ray actors) or 'local' (this process), got {master!r}"
            )
        values = dict(locals())
        self._values = {name: values[name] for name in _FIELDS}
        if model_dir is not None:
            self._values["model_dir"] = os.fspath(model_dir)

    def __getattr__(self, name):
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"'RunConfig' object has no attribute {name!r}")

    def replace(self, **kwargs) -> RunConfig:
        """A copy with the given fields changed; ValueError for a field RunConfig does not have."""
        unknown = sorted(set(kwargs) - set(_FIELDS))
        if unknown:
            raise ValueError(
                f"Replacing {unknown} is not supported. Allowed properties are {sorted(_FIELDS)}."
            )
        new = copy.copy(self)
        new._values = {**self._values, **kwargs}
        if "save_checkpoints_steps" in kwargs and kwargs["save_checkpoints_steps"] is not None:
            if "save_checkpoints_secs" not in kwargs:
                new._values["save_checkpoints_secs"] = None
        if (
            new._values["save_checkpoints_steps"] is not None
            and new._values["save_checkpoints_secs"] is not None
        ):
            raise ValueError("Can not provide both save_checkpoints_steps and save_checkpoints_secs.")
        return new

    # the cluster: one chief, no parameter servers
    is_chief = True
    task_type = "worker"
    task_id = 0
    num_ps_replicas = 0
    num_worker_replicas = 1
    cluster_spec = None
    global_id_in_cluster = 0
    service = None

    @property
    def evaluation_master(self) -> str:
        return self._values["master"]

    def __repr__(self) -> str:
        return f"RunConfig({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"
