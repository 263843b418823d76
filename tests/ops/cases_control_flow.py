"""Control-flow and TensorArray ops: they call sub-graphs or carry host lists, so a
forward comparison on random arrays cannot show them; test_control_flow.py runs
them through tf.cond, tf.while_loop and tf.TensorArray (values, errors and
gradients against finite differences), and tests/compat compares them with TF."""

from __future__ import annotations

_FILE = "tests/raygraph/test_control_flow.py"

TESTED_ELSEWHERE = {
    op: _FILE
    for op in (
        "If",
        "IfGrad",
        "While",
        "WhileGrad",
        "EmptyTensorList",
        "TensorArrayV3",
        "TensorArrayReadV3",
        "TensorArrayWriteV3",
        "TensorArrayGatherV3",
        "TensorArrayScatterV3",
        "TensorArrayStackV3",
        "TensorArrayConcatV3",
        "TensorArraySplitV3",
        "TensorArraySizeV3",
        "TensorArrayReadGrad",
        "TensorArrayWriteGrad",
        "TensorArrayGatherGrad",
        "TensorArrayScatterGrad",
        "TensorArrayFromRows",
        "TensorArraySplitGrad",
        "TensorArrayConcatGrad",
    )
}
