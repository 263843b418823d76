"""From a graph to execution (internal: users import `raygraph`).

Two layers, the lower one knowing nothing of the upper:

engine/        plans and runs; no Ray, no sockets
  plan.py        prune, place (placement.py), partition: pure functions of the graph
  cost.py        which kernels are worth a thread hop, from static shapes
  segments.py    a partition split into straight-line units between async points
  executor.py    units compiled to Python; SessionState; the in-process Executor
  dataflow.py    one run of a compiled partition, asynchronously
  device.py      DeviceRunner: a device's sessions; run(Request) -> Reply, deliver, abort
  protocol.py    Device, Request, Reply, and the Client/Link interface to devices
  central.py     the driver side: plan cache, one request per device per run, errors
  local.py       LocalClient: every device in this process (Session(target="local"))
  step_stats.py  traced runs as TF's StepStats (read by raygraph.timeline)
shell/         the thin Ray shell around the engine
  runtime.py     connecting to Ray, naming devices, starting and pinning actors
  actor.py       the device actor: a DeviceRunner in a Ray actor; transfers actor to actor
  channel.py     one authenticated connection per session and device
  shm.py         large feeds through shared memory to actors on the driver's node
  transport.py   tensors as Arrow IPC messages through the object store
  client.py      RayClient: the Client interface over actors and channels
"""
