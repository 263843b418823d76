"""Op test cases for the state family: variables are covered by session tests."""

TESTED_ELSEWHERE = {
    "VariableV2": "tests/raygraph/test_variables.py",
    "Assign": "tests/raygraph/test_variables.py",
    "AssignAdd": "tests/raygraph/test_variables.py",
    "AssignSub": "tests/raygraph/test_variables.py",
}

TESTED_ELSEWHERE.update(
    {
        op: "tests/ops/test_state_scatter.py"
        for op in (
            "ScatterUpdate",
            "ScatterAdd",
            "ScatterSub",
            "ScatterMul",
            "ScatterDiv",
            "ScatterMin",
            "ScatterMax",
            "ScatterNdUpdate",
            "ScatterNdAdd",
            "ScatterNdSub",
        )
    }
)
