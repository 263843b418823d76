"""CollectiveAllReduce runs as a collective among devices: one op per device, each taking
every rank's tensor. tests/raygraph/test_data_parallel.py checks its values, its gradient
(through DataParallel training equal to one device's) and the ring variant."""

TESTED_ELSEWHERE = {"CollectiveAllReduce": "tests/raygraph/test_data_parallel.py"}
