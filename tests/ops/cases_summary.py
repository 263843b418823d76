"""Op test cases for the summary family: their output is a serialized proto, not an array."""

TESTED_ELSEWHERE = {
    op: "tests/ops/test_summary.py"
    for op in (
        "ScalarSummary",
        "HistogramSummary",
        "ImageSummary",
        "AudioSummaryV2",
        "TensorSummaryV2",
        "MergeSummary",
        "SetSummaryTags",
    )
}
