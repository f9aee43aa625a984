"""``pinnlma reproduce taylor2022 --quick`` as a user runs it (own process, the documented command): it
finishes within the 5 minutes the issue allows and writes every file and a README for the quick size.
Its own file so that ``pytest -n 2 --dist loadfile`` runs it beside the long NIST file."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

from pinnlma.reproduce.store import read_summary
from tests.reproduce.test_taylor2022 import FILES


def test_quick_reproduction_runs_within_five_minutes(tmp_path: Path) -> None:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pinnlma", "reproduce", "taylor2022", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    for name in FILES:
        assert (tmp_path / name).stat().st_size > 0, name
    summary = read_summary(tmp_path / "sinc.h5")
    assert summary["size"] == "quick"
    lm = summary["optimizers"]["lm"]["final_mse"]["median"]
    assert math.isfinite(lm) and lm < summary["optimizers"]["adam"]["final_mse"]["median"]
    assert "quick" in (tmp_path / "README.md").read_text()
    # 5 minutes on an idle machine; the suite runs two workers on two cores, so allow for sharing
    assert elapsed < 2 * 300, f"--quick took {elapsed:.0f} s"
