"""Fixtures shared by the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

LONG_FILES = ("test_nist_suite_mgh10.py", "test_taylor2022_quick.py", "test_nist_suite.py")
"""Files that take minutes each (NIST on both backends, in two halves of about equal Legate work; the
quick paper reproduction)."""


def pytest_configure(config: pytest.Config) -> None:
    """Under ``pytest -n N`` give each worker's torch cores/N threads: N workers with torch's default
    (all cores each) oversubscribe the machine, and the Legate worker (NIST suite) suffered most —
    274 s alone, 442 s beside a worker running 2 torch threads on the 2-core machine. Child processes
    the tests start (CLI runs) keep torch's default."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the long files first (a stable sort: the rest keeps its order). With ``make test``
    (``-n 2 --dist loadfile --no-loadscope-reorder``) each of them then starts at once on its own
    worker; xdist's default reordering by test count would start them last, after everything else."""
    items.sort(key=lambda item: item.path.name not in LONG_FILES)


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
