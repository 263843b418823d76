"""From a graph to execution on Ray actors (internal: users import `raygraph`).

plan.py        prune, place (placement.py), partition: pure functions of the graph
cost.py        which kernels are worth a thread hop, from static shapes
segments.py    a partition split into straight-line units between async points
executor.py    units compiled to Python; SessionState; the in-process executor
dataflow.py    one run of a compiled partition inside an actor, asynchronously
actor.py       the device actor: runs, transfers actor to actor, aborts
runtime.py     Ray: connecting, naming devices, starting and pinning actors
central.py     the driver side: plan cache, one call per device per run, errors
transport.py   tensors as Arrow IPC messages through the object store
step_stats.py  traced runs as TF's StepStats (read by raygraph.timeline)
"""
