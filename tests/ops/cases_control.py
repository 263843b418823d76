"""Op test cases for the control family."""

TESTED_ELSEWHERE = {
    "NoOp": "tests/raygraph/test_session.py",
}
