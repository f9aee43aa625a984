"""docs/geometry.md: its Python blocks run, in order, in one namespace (the worked example trains)."""
from __future__ import annotations

import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def test_geometry_page_examples_run() -> None:
    torch.set_num_threads(1)
    text = (ROOT / "docs" / "geometry.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "docs/geometry.md", "exec"), namespace)
    assert namespace["result"].rel_l2 < 2e-3


def test_speed_script_runs(capsys) -> None:
    """The measurement the page quotes runs (one repeat) and prints its table."""
    import importlib.util

    path = ROOT / "docs" / "experiments" / "geometry_sampling.py"
    assert "docs/experiments/geometry_sampling.py" in (ROOT / "docs" / "geometry.md").read_text()
    spec = importlib.util.spec_from_file_location("geometry_sampling", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(1)
    out = capsys.readouterr().out
    assert "area 0.874336293856" in out
    assert all(f"| {method} |" in out for method in ("uniform", "lhs", "sobol", "grid"))
