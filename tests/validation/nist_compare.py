"""Shared by the two NIST StRD suite files: run some problems through ``pinnlma.least_squares`` with
default options on the torch and on the cupynumeric backend, and compare.

The suite is split in two files so that ``pytest -n 2 --dist loadfile`` (``make test``) gives each
worker about half of the Legate work: on Legate's CPU processors every small LM iteration costs task
launches, and MGH10 from start 1 alone takes about 5600 iterations (as many as all other runs together),
so test_nist_suite_mgh10.py runs Legate on MGH10 from start 2 only (see its docstring).
"""

from __future__ import annotations

from collections.abc import Callable

import pinnlma
from pinnlma.validation.nist.suite import NIST_DAMPING
from pinnlma.validation.nist_strd import default_data_dir, load_suite, run_suite


def failed_runs(rows: list[dict]) -> set[tuple[str, int]]:
    """(problem, start) of the runs that reached fewer than 6 correct digits (LRE < 6)."""
    return {(r["name"], r["start"]) for r in rows if r["min_lre"] < 6}


def assert_backends_agree(
    legate: pinnlma.backends.Backend, select: Callable[[str], bool], expected_failures: set[tuple[str, int]]
) -> None:
    """On both backends exactly the runs ``expected_failures`` (problem, start) miss LRE ≥ 6: a run that
    fails instead of, or besides, the expected ones fails the test, and so does an expected one that passes."""
    problems = [p for p in load_suite(default_data_dir()) if select(p.name)]
    torch_rows = run_suite(lambda f, x0: pinnlma.least_squares(f, x0, damping=NIST_DAMPING), problems)
    legate_rows = run_suite(lambda f, x0: pinnlma.least_squares(f, x0, damping=NIST_DAMPING, backend=legate), problems)
    for backend, rows in (("torch", torch_rows), ("cupynumeric", legate_rows)):
        lre = {(r["name"], r["start"]): round(r["min_lre"], 2) for r in rows if r["min_lre"] < 6}
        assert failed_runs(rows) == expected_failures, (backend, lre)
    for a, b in zip(torch_rows, legate_rows, strict=True):
        assert (a["name"], a["start"]) == (b["name"], b["start"])
