"""Op test cases for the parsing family: their inputs are serialized strings, not random arrays."""

TESTED_ELSEWHERE = {
    op: "tests/ops/test_parsing.py"
    for op in ("ParseExample", "ParseSingleSequenceExample", "DecodeRaw", "DecodeCSV")
}
