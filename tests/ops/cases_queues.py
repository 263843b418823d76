"""Queue and reader ops: stateful and blocking, tested through their Python classes."""

TESTED_ELSEWHERE = {
    op: "tests/raygraph/test_queues.py"
    for op in (
        "FIFOQueueV2",
        "PaddingFIFOQueueV2",
        "PriorityQueueV2",
        "RandomShuffleQueueV2",
        "QueueEnqueueV2",
        "QueueEnqueueManyV2",
        "QueueDequeueV2",
        "QueueDequeueManyV2",
        "QueueDequeueUpToV2",
        "QueueCloseV2",
        "QueueSizeV2",
        "QueueIsClosedV2",
        "CountUpTo",
        "TFRecordReaderV2",
        "WholeFileReaderV2",
        "IdentityReaderV2",
        "TextLineReaderV2",
        "FixedLengthRecordReaderV2",
        "ReaderReadV2",
        "ReaderReadUpToV2",
        "ReaderNumRecordsProducedV2",
        "ReaderNumWorkUnitsCompletedV2",
        "ReaderResetV2",
        "ReadFile",
    )
}
