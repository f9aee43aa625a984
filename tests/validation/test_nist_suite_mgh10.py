"""NIST StRD MGH10 on the torch and the cupynumeric backend (the other 25 problems: test_nist_suite.py).

Start 1 is the suite's longest run, about 5600 iterations: on Legate's CPU processors every small LM
iteration costs task launches, and that one run took 4 to 8 minutes of the suite's wall time on the
2-core machine. So torch runs both starts, Legate start 2 (144 iterations, the same code path); Legate
from start 1 is scored by ``python -m pinnlma.validation.nist_strd --backend cupynumeric`` (docs/nist_strd.md).
Every run must reach LRE ≥ 6."""

from __future__ import annotations

import pinnlma
from pinnlma.validation.nist.suite import NIST_DAMPING
from pinnlma.validation.nist_strd import default_data_dir, load_suite, run_suite
from tests.validation.nist_compare import failed_runs


def test_mgh10_reaches_six_digits_on_both_backends(legate) -> None:
    (mgh10,) = [p for p in load_suite(default_data_dir()) if p.name == "MGH10"]
    torch_rows = run_suite(lambda f, x0: pinnlma.least_squares(f, x0, damping=NIST_DAMPING), [mgh10])
    legate_rows = run_suite(
        lambda f, x0: pinnlma.least_squares(f, x0, damping=NIST_DAMPING, backend=legate), [mgh10], starts=(1,)
    )
    assert [r["start"] for r in torch_rows] == [1, 2] and [r["start"] for r in legate_rows] == [2]
    assert failed_runs(torch_rows) == set(), [(r["start"], r["min_lre"]) for r in torch_rows]
    assert failed_runs(legate_rows) == set(), [(r["start"], r["min_lre"]) for r in legate_rows]
    assert abs(legate_rows[0]["nit"] - torch_rows[1]["nit"]) <= 0.1 * torch_rows[1]["nit"]  # the same path
