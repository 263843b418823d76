"""Op test cases for tf.data's iterator ops: they read datasets, tested through tf.data."""

TESTED_ELSEWHERE = {
    op: "tests/raygraph/test_data.py"
    for op in ("IteratorV2", "MakeIterator", "OneShotIterator", "IteratorGetNext")
}
