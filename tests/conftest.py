"""Fixtures and hooks shared by the test suite.

- Every test starts from torch's own defaults (float32 default dtype, this worker's thread count) and
  gets them back afterwards, whatever it changed: a test that needs float64 as the default asks for the
  ``float64_default`` fixture (or sets dtypes explicitly), so a file gives the same result alone and in
  the full run.
- No test skips in CI: with ``CI`` set (``.ci/run`` sets ``CI=true``) a skip is reported as a failure,
  so a missing optional dependency (torch-levenberg-marquardt, scikit-learn, Legate) cannot pass silently.
- ``legate``: the cuPyNumeric backend, started once per worker; a backend that cannot start fails the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent

LONG_FILES = ("test_nist_suite_mgh10.py", "test_nist_suite.py")
"""Files that take minutes each (NIST on both backends, in two halves of about equal Legate work)."""


def in_ci() -> bool:
    """Whether the suite runs in CI (``CI`` set to anything but empty, 0 or false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_configure(config: pytest.Config) -> None:
    """Under ``pytest -n N`` give each worker's torch cores/N threads: N workers with torch's default
    (all cores each) oversubscribe the machine, and the Legate worker (NIST suite) suffered most —
    274 s alone, 442 s beside a worker running 2 torch threads on the 2-core machine. Child processes
    the tests start (CLI runs) keep torch's default."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the long files first (a stable sort: the rest keeps its order). With ``make test``
    (``-n 2 --dist loadfile --no-loadscope-reorder``) each of them then starts at once on its own
    worker; xdist's default reordering by test count would start them last, after everything else.

    Also refuses a test module that changed torch's default dtype when it was imported: that setting
    would leak into every file collected after it."""
    if torch.get_default_dtype() != torch.float32:
        raise pytest.UsageError(
            f"a test module set torch's default dtype to {torch.get_default_dtype()} at import; "
            "use the float64_default fixture or explicit dtypes instead"
        )
    items.sort(key=lambda item: item.path.name not in LONG_FILES)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """In CI a skipped test is a failed one (the reason is kept)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which counts as a failure (CI={os.environ.get('CI')}): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """In CI a module skipped at collection (``pytest.importorskip`` at module level) fails too."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and in_ci():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which counts as a failure (CI={os.environ.get('CI')}): {reason}"


@pytest.fixture(autouse=True)
def _restore_torch_settings() -> Iterator[None]:
    """Give torch's default dtype and thread count back after every test (CLI commands set threads)."""
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    yield
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)


@pytest.fixture
def float64_default() -> Iterator[None]:
    """torch's default dtype is float64 for this test (restored afterwards)."""
    torch.set_default_dtype(torch.float64)
    yield


@pytest.fixture(scope="session")
def legate() -> Any:
    """The cuPyNumeric (Legate) backend; fails, never skips, when it cannot start here (run
    ``pinnlma setup-legate``, as ``make setup-full`` does)."""
    from pinnlma.backends import BackendUnavailable, get_backend

    try:
        return get_backend("cupynumeric")
    except BackendUnavailable as exc:
        pytest.fail(f"cupynumeric backend unavailable: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared reference-data folder: ``$PINNLMA_SHARED_DATA`` if set, else ``<repo>/../shared/data``.

    Fails (does not skip) when the folder is missing, so absent data never passes silently.
    """
    env = os.environ.get("PINNLMA_SHARED_DATA")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    if not path.is_dir():
        source = "PINNLMA_SHARED_DATA" if env else "default location <repo root>/../shared/data"
        pytest.fail(
            f"shared data folder {path} ({source}) does not exist; "
            "set PINNLMA_SHARED_DATA to the folder holding the reference data files",
            pytrace=False,
        )
    return path
