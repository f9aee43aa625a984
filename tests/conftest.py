"""Fixtures shared by the test suite."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

LONG_FILES = ("test_nist_suite.py", "test_reproduce_quick.py")
"""Files that take minutes each (NIST on both backends; the quick paper reproduction)."""


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
