"""The bundled-problems report keeps its hand-written part (from the marker on) when it is regenerated."""

from __future__ import annotations

from pathlib import Path

from pinnlma.validation.kept import KEPT_MARKER, kept_part


def test_hand_written_part_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "problems.md"
    assert kept_part(path) == "" and kept_part(None) == ""
    path.write_text("# old table\n| a |\n" + KEPT_MARKER + "\n## Techniques\ntext\n", encoding="utf-8")
    assert kept_part(path) == KEPT_MARKER + "\n## Techniques\ntext\n"
    path.write_text("# a table only\n", encoding="utf-8")
    assert kept_part(path) == ""
