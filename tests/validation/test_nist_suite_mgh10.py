"""NIST StRD MGH10 on the torch and the cupynumeric backend (the other 25 problems: test_nist_suite.py).

Start 1 is the suite's longest run, about 5600 iterations: on Legate's CPU processors every small LM
iteration costs task launches (52-82 ms each when Legate factors, as here; 15 ms with the default
factorization in torch), and that one run took 4 to 8 minutes of the suite's wall time on the 2-core
machine. So torch runs both starts and Legate start 2 (144 iterations, the same code path);
Legate from start 1 is scored by ``python -m pinnlma.validation.nist_strd --backend cupynumeric``
(docs/nist_strd_cupynumeric.md). Every run must reach LRE ≥ 6."""

from __future__ import annotations

from tests.validation.nist_compare import assert_backends_agree


def test_mgh10_reaches_six_digits_on_both_backends(legate) -> None:
    assert_backends_agree(legate, lambda name: name == "MGH10", expected_failures=set(), legate_starts=(1,))
