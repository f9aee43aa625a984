"""NIST StRD MGH10 from both starts on the torch and the cupynumeric backend (the other 25 problems:
test_nist_suite.py). Start 1 is the suite's longest run, about 5600 iterations; both starts must reach
LRE ≥ 6 on both backends."""

from __future__ import annotations

from tests.validation.nist_compare import assert_backends_agree


def test_mgh10_scores_are_the_same_on_both_backends(legate) -> None:
    assert_backends_agree(legate, lambda name: name == "MGH10", expected_failures=set())
