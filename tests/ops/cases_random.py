"""Op test cases for the random family: random values have no numpy reference, so
test_random.py checks shapes, dtypes, statistics and seeding instead."""

TESTED_ELSEWHERE = {
    op: "tests/ops/test_random.py"
    for op in (
        "RandomStandardNormal",
        "TruncatedNormal",
        "RandomUniform",
        "RandomUniformInt",
        "RandomShuffle",
        "Multinomial",
    )
}
