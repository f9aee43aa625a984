"""Shared by the two NIST StRD suite files: run some problems through ``pinnlma.least_squares`` with
default options on the torch and on the cupynumeric backend, and compare.

The suite is split in two files so that ``pytest -n 2 --dist loadfile`` (``make test``) gives each
worker about half of the Legate work: on Legate's CPU processors every small LM iteration costs task
launches, and MGH10 from start 1 alone takes about 5600 iterations (as many as all other runs together).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import pinnlma
from pinnlma.validation.nist_strd import default_data_dir, load_suite, run_suite


def legate_backend() -> pinnlma.backends.Backend:
    from pinnlma.backends import BackendUnavailable

    try:
        return pinnlma.get_backend("cupynumeric")
    except BackendUnavailable as exc:
        pytest.fail(f"cupynumeric backend unavailable: {exc}", pytrace=False)


def assert_backends_agree(select: Callable[[str], bool], allowed_failures: int) -> None:
    """Both backends reach LRE ≥ 6 on all but ``allowed_failures`` of the selected runs, and pass and
    fail the same runs."""
    problems = [p for p in load_suite(default_data_dir()) if select(p.name)]
    legate = legate_backend()
    torch_rows = run_suite(lambda f, x0: pinnlma.least_squares(f, x0), problems)
    legate_rows = run_suite(lambda f, x0: pinnlma.least_squares(f, x0, backend=legate), problems)
    for rows in (torch_rows, legate_rows):
        failed = [(r["name"], r["start"], r["min_lre"]) for r in rows if r["min_lre"] < 6]
        assert len(failed) <= allowed_failures, failed
    for a, b in zip(torch_rows, legate_rows, strict=True):
        assert (a["name"], a["start"]) == (b["name"], b["start"])
        assert (a["min_lre"] >= 6) == (b["min_lre"] >= 6), (a["name"], a["start"], a["min_lre"], b["min_lre"])
