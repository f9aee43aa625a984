"""Fixtures shared by the test suite."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


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
