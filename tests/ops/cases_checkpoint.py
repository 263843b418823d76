"""Op test cases for the checkpoint family: RestoreV2 reads files, so its tests write one."""

CASES = []

TESTED_ELSEWHERE = {
    "RestoreV2": "tests/raygraph/test_graph_io.py",
}
