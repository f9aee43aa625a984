"""Benchmark output: ``<out>/<case>.json`` with the machine, the versions, the time and the case's payload."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..machine import machine_info, versions
from ..run.trees import json_safe

__all__ = ["BenchUnavailable", "write_json"]


class BenchUnavailable(RuntimeError):
    """A case cannot run on this installation (an optional dependency is missing)."""


def write_json(
    out: Path,
    case: str,
    payload: dict[str, Any],
    started_load: list[float] | None = None,
    extra_versions: Sequence[str] = (),
) -> Path:
    """``<out>/<case>.json`` with the machine, the versions (plus those of ``extra_versions``), the time,
    then the case's payload."""
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    if started_load is not None:
        machine["load_average_at_start"] = started_load
    record = {
        "case": case,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "versions": versions(extra=extra_versions),
        **payload,
    }
    path = out / f"{case}.json"
    path.write_text(json.dumps(json_safe(record), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path
