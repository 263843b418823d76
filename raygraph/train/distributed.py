"""TF1's distributed-training names on Ray: ClusterSpec, Server, replica_device_setter, SyncReplicasOptimizer.

The Ray cluster is the cluster. A TF1 program describes its jobs with a
`ClusterSpec` ({"ps": [...], "worker": [...]}); raygraph keeps the job names
and task counts (the addresses are not used: nothing listens on them) and maps
each task onto one of the session's device actors, round robin over the
devices in node-interleaved order (CPU:0 of every node, then CPU:1 of every
node...), jobs in sorted order, so tasks spread over Ray's nodes
(scheduler.engine.placement.cluster_devices). A session learns the cluster
from its target (a `Server`'s `target`) or from ConfigProto(cluster_def=...):

    cluster = tf.train.ClusterSpec({"ps": ["ps0:2222"], "worker": ["w0:2222", "w1:2222"]})
    server = tf.train.Server(cluster, job_name="worker", task_index=0)
    with tf.device(tf.train.replica_device_setter(cluster=cluster)):
        w = tf.get_variable("w", [10])          # on /job:ps/task:0
    with tf.Session(server.target) as sess:     # the Ray cluster, with these jobs
        ...

Then "/job:ps/task:1" and "/job:worker/task:0" are device actors, and
`log_device_placement` shows which. Without a cluster, "/job:worker/task:T"
keeps its meaning of the Ray node T (scheduler.shell.runtime).

This is in-graph replication: one driver builds every worker's tower and runs
them all. `SyncReplicasOptimizer` then aggregates the towers' gradients of
each variable where the variable lives and applies them once; its tokens,
queues and hooks, which coordinate separate worker processes in TF, are
accepted and do nothing here. Between-graph programs (one process per task,
`server.join()` on the ps) are not run: `join` returns at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ops import api
from raygraph.device import DeviceSpec
from raygraph.graph import (
    GraphKeys,
    colocate_with,
    control_dependencies,
    convert_to_tensor,
    get_default_graph,
    name_scope,
)
from raygraph.train.session_run_hook import SessionRunHook

__all__ = [
    "ClusterSpec",
    "Server",
    "SyncReplicasOptimizer",
    "replica_device_setter",
]

_log = logging.getLogger("raygraph")


# -- the cluster ----------------------------------------------------------------


@dataclass
class JobDef:
    """One job of a ClusterDef: its name and {task index: address}, as TF's proto."""

    name: str
    tasks: dict = field(default_factory=dict)


@dataclass
class ClusterDef:
    """TF's ClusterDef proto as plain data: `job` is a list of JobDef."""

    job: list = field(default_factory=list)


class ClusterSpec:
    """The jobs of a cluster and the addresses of their tasks, TF's spelling.

    >>> cluster = tf.train.ClusterSpec({"ps": ["ps0:2222"], "worker": ["w0:2222", "w1:2222"]})
    >>> cluster.num_tasks("worker"), cluster.jobs
    (2, ['ps', 'worker'])
    """

    def __init__(self, cluster):
        if isinstance(cluster, ClusterSpec):
            self._jobs = {job: dict(tasks) for job, tasks in cluster._jobs.items()}
        elif isinstance(cluster, ClusterDef):
            self._jobs = {j.name: dict(j.tasks) for j in cluster.job}
        elif isinstance(cluster, dict):
            self._jobs = {}
            for job, tasks in cluster.items():
                if isinstance(tasks, (list, tuple)):
                    self._jobs[str(job)] = dict(enumerate(tasks))
                elif isinstance(tasks, dict):
                    self._jobs[str(job)] = {int(i): a for i, a in tasks.items()}
                else:
                    raise TypeError(
                        f"The tasks for job {job!r} must be a list or a dict from integers to strings."
                    )
        else:
            raise TypeError(
                f"`cluster` must be a dictionary mapping one or more job names to lists of network addresses, or a ClusterDef, got {cluster!r}"
            )

    def __bool__(self) -> bool:
        return bool(self._jobs)

    def __eq__(self, other) -> bool:
        return isinstance(other, ClusterSpec) and self._jobs == other._jobs

    def __repr__(self) -> str:
        return f"ClusterSpec({self.as_dict()!r})"

    @property
    def jobs(self) -> list[str]:
        """The job names, sorted."""
        return sorted(self._jobs)

    def as_dict(self) -> dict:
        """{job: [addresses]} (or {job: {index: address}} when the indices have gaps)."""
        out = {}
        for job, tasks in self._jobs.items():
            dense = sorted(tasks) == list(range(len(tasks)))
            out[job] = [tasks[i] for i in sorted(tasks)] if dense else dict(tasks)
        return out

    def as_cluster_def(self) -> ClusterDef:
        return ClusterDef([JobDef(job, dict(self._jobs[job])) for job in self.jobs])

    def num_tasks(self, job_name: str) -> int:
        return len(self._job(job_name))

    def task_indices(self, job_name: str) -> list[int]:
        return sorted(self._job(job_name))

    def task_address(self, job_name: str, task_index: int) -> str:
        tasks = self._job(job_name)
        if task_index not in tasks:
            raise ValueError(f"No task with index {task_index!r} in job {job_name!r}")
        return tasks[task_index]

    def job_tasks(self, job_name: str) -> list:
        tasks = self._job(job_name)
        return [tasks.get(i) for i in range(max(tasks) + 1)] if tasks else []

    def _job(self, job_name: str) -> dict:
        if job_name not in self._jobs:
            raise ValueError(f"No such job in cluster: {job_name!r}")
        return self._jobs[job_name]


def cluster_jobs(cluster) -> dict[str, int]:
    """{job name: number of tasks} of a ClusterSpec, ClusterDef or dict (what placement needs)."""
    spec = cluster if isinstance(cluster, ClusterSpec) else ClusterSpec(cluster)
    return {job: max(spec.task_indices(job), default=-1) + 1 for job in spec.jobs}


class Server:
    """A task of the cluster, accepted for TF1 programs: the Ray cluster serves every task.

    `target` ("grpc://<this task's address>") names the cluster for tf.Session;
    nothing listens there. `join()` returns at once (there is no server thread).

    >>> server = tf.train.Server(cluster, job_name="worker", task_index=0)
    >>> sess = tf.Session(server.target)
    """

    def __init__(
        self, server_or_cluster_def, job_name=None, task_index=None, protocol=None, config=None, start=True
    ):
        self._cluster = ClusterSpec(server_or_cluster_def)
        if job_name is None:
            if len(self._cluster.jobs) != 1:
                raise ValueError("Must specify an explicit `job_name` for a cluster with several jobs.")
            job_name = self._cluster.jobs[0]
        if task_index is None:
            indices = self._cluster.task_indices(job_name)
            if len(indices) != 1:
                raise ValueError(
                    f"Must specify an explicit `task_index` for job {job_name!r}, which has several tasks."
                )
            task_index = indices[0]
        address = self._cluster.task_address(job_name, task_index)
        self.job_name, self.task_index, self.protocol = job_name, task_index, protocol or "grpc"
        self.config = config
        self._target = f"{self.protocol}://{address}"
        from raygraph import session

        session.register_cluster_target(self._target, self._cluster)

    @property
    def target(self) -> str:
        """The string to pass to tf.Session: this task's address; the session runs on the Ray cluster."""
        return self._target

    @property
    def server_def(self):
        return self._cluster.as_cluster_def()

    def start(self) -> None:
        """Does nothing: the Ray cluster is already serving."""

    def join(self) -> None:
        """Returns at once: on Ray a parameter server needs no process of its own."""
        _log.info(
            "Server.join(): %s task %d is served by Ray's device actors", self.job_name, self.task_index
        )

    @staticmethod
    def create_local_server(config=None, start=True) -> Server:
        """A one-task cluster ("localhost" job) whose target runs on this process's Ray cluster."""
        return Server(
            {"localhost": ["localhost:0"]}, job_name="localhost", task_index=0, config=config, start=start
        )


# -- replica_device_setter ------------------------------------------------------

STANDARD_PS_OPS = (
    "Variable",
    "VariableV2",
    "AutoReloadVariable",
    "MutableHashTable",
    "MutableHashTableV2",
    "MutableHashTableOfTensors",
    "MutableHashTableOfTensorsV2",
    "MutableDenseHashTable",
    "MutableDenseHashTableV2",
    "VarHandleOp",
)


class _RoundRobinStrategy:
    """Variables to ps tasks 0, 1, ..., ps_tasks-1, 0, ... in creation order."""

    def __init__(self, num_tasks: int):
        self._num_tasks = num_tasks
        self._next = 0

    def __call__(self, unused_op) -> int:
        task = self._next
        self._next = (self._next + 1) % self._num_tasks
        return task


def replica_device_setter(
    ps_tasks=0,
    ps_device="/job:ps",
    worker_device="/job:worker",
    merge_devices=True,
    cluster=None,
    ps_ops=None,
    ps_strategy=None,
):
    """A device function for tf.device: variables on ps tasks, everything else on `worker_device`.

    Variables go round robin over the ps tasks, or where `ps_strategy(op)` (a task
    index) says. With `cluster`, `ps_tasks` is its "ps" job's size; None when
    there are no ps tasks, as in TF.

    >>> with tf.device(tf.train.replica_device_setter(ps_tasks=2)):
    ...     w = tf.Variable(...)     # "/job:ps/task:0"
    """
    if cluster is not None:
        spec = cluster if isinstance(cluster, ClusterSpec) else ClusterSpec(cluster)
        ps_job = DeviceSpec.from_string(ps_device).job if ps_device else None
        if ps_job not in spec.jobs:
            return None
        ps_tasks = spec.num_tasks(ps_job)
    if ps_tasks == 0:
        return None
    if not merge_devices:
        _log.warning("DEPRECATION: It is recommended to set merge_devices=true in replica_device_setter")
    strategy = ps_strategy if ps_strategy is not None else _RoundRobinStrategy(ps_tasks)
    if not callable(strategy):
        raise TypeError("ps_strategy must be callable")
    ps_types = set(STANDARD_PS_OPS if ps_ops is None else ps_ops)

    def device_function(op) -> str:
        current = DeviceSpec.from_string(op.device or "")
        if ps_device and op.type in ps_types:
            ps = DeviceSpec.from_string(ps_device)
            if ps.job and (not current.job or current.job == ps.job):
                ps = ps.make_merged_spec(DeviceSpec(task=strategy(op)))
            return ps.make_merged_spec(current).to_string()
        worker = DeviceSpec.from_string(worker_device or "")
        return worker.make_merged_spec(current).to_string()

    return device_function


# -- SyncReplicasOptimizer ------------------------------------------------------


class SyncReplicasOptimizer:
    """Synchronous replicas, in-graph: the towers' gradients of each variable, averaged, applied once.

    Build every worker's tower in one graph, collect their gradients, and call
    `apply_gradients` once with all of them: a variable listed by several towers
    gets the mean of its first `replicas_to_aggregate` gradients (summed
    where the variable lives), and the wrapped optimizer applies the means in
    one update, incrementing `global_step` once.

    >>> opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), replicas_to_aggregate=2)
    >>> gvs = []
    >>> for i in range(2):
    ...     with tf.device(f"/job:worker/task:{i}"):
    ...         gvs += opt.compute_gradients(tower_loss(i))
    >>> train_op = opt.apply_gradients(gvs, global_step=step)
    """

    def __init__(
        self,
        opt,
        replicas_to_aggregate,
        total_num_replicas=None,
        variable_averages=None,
        variables_to_average=None,
        use_locking=False,
        name="sync_replicas",
    ):
        if total_num_replicas is None:
            total_num_replicas = replicas_to_aggregate
        if replicas_to_aggregate < 1:
            raise ValueError(f"replicas_to_aggregate must be at least 1, got {replicas_to_aggregate}")
        self._opt = opt
        self._replicas_to_aggregate = replicas_to_aggregate
        self._total_num_replicas = total_num_replicas
        self._variable_averages = variable_averages
        self._variables_to_average = variables_to_average
        self._use_locking = use_locking
        self._name = name
        self._gradients_applied = False
        self._global_step = None
        self.local_step_init_op = None
        self.chief_init_op = None
        self.ready_for_local_init_op = None

    def compute_gradients(self, *args, **kwargs):
        """The wrapped optimizer's compute_gradients."""
        return self._opt.compute_gradients(*args, **kwargs)

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Averages each variable's gradients from the replicas and applies them once."""
        grads_and_vars = list(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("Must supply at least one variable")
        if global_step is None:
            raise ValueError("Global step is required to check staleness")
        self._global_step = global_step
        by_var: dict = {}
        for g, v in grads_and_vars:
            by_var.setdefault(v, []).append(g)
        averaged = []
        with name_scope(None, self._name):
            for v, grads in by_var.items():
                grads = [g for g in grads if g is not None]
                if not grads:
                    averaged.append((None, v))
                    continue
                if len(grads) < self._replicas_to_aggregate:
                    raise ValueError(
                        f"SyncReplicasOptimizer: variable {v.name} has {len(grads)} gradient(s) but "
                        f"replicas_to_aggregate={self._replicas_to_aggregate}. In-graph, pass every "
                        "replica's (gradient, variable) pairs to one apply_gradients call."
                    )
                grads = grads[: self._replicas_to_aggregate]
                with colocate_with(v.op):
                    total = grads[0] if len(grads) == 1 else api.add_n([convert_to_tensor(g) for g in grads])
                    averaged.append((api.divide(total, api.cast(len(grads), total.dtype)), v))
        train_op = self._opt.apply_gradients(averaged, global_step=global_step, name=name)
        if self._variable_averages is not None:
            with control_dependencies([train_op]):
                train_op = self._variable_averages.apply(self._variables_to_average)
        with name_scope(None, self._name):
            self.local_step_init_op = api.no_op(name="local_step_init")
            self.chief_init_op = api.no_op(name="chief_init")
            from raygraph.template import report_uninitialized_variables

            self.ready_for_local_init_op = report_uninitialized_variables(
                get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES)
            )
        self._gradients_applied = True
        return train_op

    def minimize(self, loss, global_step=None, var_list=None, name=None, **kwargs):
        """compute_gradients then apply_gradients: with one loss, one replica's gradients."""
        grads_and_vars = self.compute_gradients(loss, var_list=var_list, **kwargs)
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def get_slot(self, *args, **kwargs):
        return self._opt.get_slot(*args, **kwargs)

    def get_slot_names(self, *args, **kwargs):
        return self._opt.get_slot_names(*args, **kwargs)

    def variables(self):
        return self._opt.variables()

    def get_init_tokens_op(self, num_tokens=-1):
        """A no-op: in-graph replicas need no tokens. TF's checks on num_tokens are kept."""
        if self._gradients_applied is False:
            raise ValueError("get_init_tokens_op() should be called after apply_gradients().")
        if num_tokens < -1 or num_tokens == -1 and self._total_num_replicas < self._replicas_to_aggregate:
            raise ValueError(f"Too few tokens to finish the first step: {num_tokens}")
        return api.no_op(name="sync_token_init")

    def make_session_run_hook(self, is_chief, num_tokens=-1):
        """A SessionRunHook that does nothing here (TF's starts the chief's queue runner)."""
        return _SyncReplicasOptimizerHook(self, is_chief, num_tokens)


class _SyncReplicasOptimizerHook(SessionRunHook):
    """SyncReplicasOptimizer's hook: checks that apply_gradients ran; nothing to start in-graph."""

    def __init__(self, sync_optimizer, is_chief, num_tokens):
        self._sync_optimizer = sync_optimizer
        self._is_chief = is_chief
        self._num_tokens = num_tokens

    def begin(self):
        if self._sync_optimizer._gradients_applied is False:
            raise ValueError("SyncReplicasOptimizer.apply_gradient should be called before using the hook.")
