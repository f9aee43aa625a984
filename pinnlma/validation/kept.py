"""The hand-written part of a generated report: everything from :data:`KEPT_MARKER` on survives when the
report's command writes the file again (docs/problems.md keeps its techniques' study, docs/pinnacle.md its
analyses of the cases out of reach)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["KEPT_MARKER", "kept_part"]

KEPT_MARKER = "<!-- written by hand below this line: kept when the table above is regenerated -->"
"""The line from which an existing report is kept."""


def kept_part(path: Path | None) -> str:
    """The hand-written part of an existing report (from :data:`KEPT_MARKER` on), or "" (no file, no marker)."""
    if path is None or not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8")
    return text[text.index(KEPT_MARKER) :] if KEPT_MARKER in text else ""
