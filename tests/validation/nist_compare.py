"""Shared by the two NIST StRD suite files: run some problems through ``pinnlma.least_squares`` with
default options on the torch and on the cupynumeric backend, and compare.

The suite is split in two files so that ``pytest -n 2 --dist loadfile`` (``make test``) gives each
worker about half of the Legate work: on Legate's CPU processors every small LM iteration costs task
launches, and MGH10 from start 1 alone takes about 5600 iterations (as many as all other runs together),
so test_nist_suite_mgh10.py runs Legate on MGH10 from start 2 only (see its docstring).

The Legate runs factor every damped system in Legate (``torch_solve_max_n=0``): by default systems this
small (n ≤ 9) are factored in torch (pinnlma/backends/legate/solve.py), which tests/backends/test_legate.py
checks against the torch backend; here Legate's own Cholesky and eigen fallback meet the suite's
ill-conditioned problems.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import pinnlma
from pinnlma.backends.legate.backend import CupynumericBackend
from pinnlma.validation.nist.suite import pinnlma_solve
from pinnlma.validation.nist_strd import default_data_dir, load_suite, run_suite


def failed_runs(rows: list[dict]) -> set[tuple[str, int]]:
    """(problem, start) of the runs that reached fewer than 6 correct digits (LRE < 6)."""
    return {(r["name"], r["start"]) for r in rows if r["min_lre"] < 6}


def assert_backends_agree(
    legate: pinnlma.backends.Backend,
    select: Callable[[str], bool],
    expected_failures: set[tuple[str, int]],
    legate_starts: Sequence[int] = (0, 1),
) -> None:
    """On both backends exactly the runs ``expected_failures`` (problem, start) miss LRE ≥ 6: a run that
    fails instead of, or besides, the expected ones fails the test, and so does an expected one that passes.
    torch runs both starts; Legate the 0-based ``legate_starts``, each on the same path as torch's (its
    iteration count within 10 %)."""
    problems = [p for p in load_suite(default_data_dir()) if select(p.name)]
    torch_rows = run_suite(pinnlma_solve, problems)
    legate_solves = CupynumericBackend(torch_solve_max_n=0)  # (Legate has started: the fixture did it)
    legate_rows = run_suite(functools.partial(pinnlma_solve, backend=legate_solves), problems, starts=legate_starts)
    legate_runs = {(r["name"], r["start"]) for r in legate_rows}
    for backend, rows, expected in (
        ("torch", torch_rows, expected_failures),
        ("cupynumeric", legate_rows, expected_failures & legate_runs),
    ):
        lre = {(r["name"], r["start"]): round(r["min_lre"], 2) for r in rows if r["min_lre"] < 6}
        assert failed_runs(rows) == expected, (backend, lre)
    by_run = {(r["name"], r["start"]): r for r in torch_rows}
    assert len(legate_rows) == len(problems) * len(legate_starts)
    for b in legate_rows:
        a = by_run[(b["name"], b["start"])]
        if a["nit"] is not None and b["nit"] is not None:
            assert abs(a["nit"] - b["nit"]) <= 0.1 * a["nit"] + 2, (b["name"], b["start"], a["nit"], b["nit"])
