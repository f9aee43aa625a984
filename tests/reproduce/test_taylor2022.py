"""``pinnlma reproduce taylor2022`` at the hidden --tiny size: files, the generated README's table, and the
paper's first claim (LM fits sinc(10x) better than Adam). Sizes are far too small for the other claims."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import pytest
import torch

from pinnlma import cli
from pinnlma.reproduce.store import read_summary

FILES = (
    "README.md",
    "sinc.h5",
    "sinc_mse.png",
    "sinc_fits.png",
    "minibatch.h5",
    "minibatch_mse.png",
    "sweep.h5",
    "sweep_adam_size.png",
    "burgers.h5",
    "burgers_solutions.png",
    "burgers_slices.png",
    "burgers_history.png",
    "jacobian.h5",
    "jacobian_strategies.png",
)


@pytest.fixture(autouse=True)
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("taylor2022")
    threads = torch.get_num_threads()
    try:
        assert cli.main(["reproduce", "taylor2022", "--tiny", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    return out


def test_files_written(tiny_run: Path) -> None:
    for name in FILES:
        path = tiny_run / name
        assert path.exists() and path.stat().st_size > 0, name
    with h5py.File(tiny_run / "sinc.h5") as fh:
        for opt in ("adam", "lm", "bfgs", "lbfgs"):
            run = fh[opt]["seed0"]
            assert len(run["mse"]) > 1 and run["fit"].shape == fh["fit_x"].shape
        assert float(fh["fit_x"][0]) == -1.5 and float(fh["fit_x"][-1]) == 1.5
    with h5py.File(tiny_run / "burgers.h5") as fh:
        assert fh["lm"]["seed0"]["prediction"].shape == fh["grid"]["reference"].shape


def test_lm_beats_adam_on_sinc(tiny_run: Path) -> None:
    s = read_summary(tiny_run / "sinc.h5")
    lm = s["optimizers"]["lm"]["final_mse"]["median"]
    adam = s["optimizers"]["adam"]["final_mse"]["median"]
    assert math.isfinite(lm) and lm < adam
    assert s["size"] == "tiny" and s["n_params"] == 61


def test_readme_table(tiny_run: Path) -> None:
    text = (tiny_run / "README.md").read_text()
    assert "| statement | paper | this reproduction" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "**" in line]
    assert len(table) >= 8  # one row per paper statement, each with a verdict
    assert all(("agrees" in row or "disagrees" in row) for row in table[:8])
    assert "6.6e-4" in text and "26×" in text and "tiny" in text
    assert "pinnlma reproduce taylor2022" in text and "torch threads 1" in text
    for figure in ("sinc_mse.png", "sweep_adam_size.png", "burgers_slices.png", "jacobian_strategies.png"):
        assert f"]({figure})" in text


def test_unknown_experiment_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["reproduce", "nosuchpaper", "--tiny", "--out", str(tmp_path)]) == 2
    assert "unknown experiment 'nosuchpaper'" in capsys.readouterr().err
    assert cli.main(["reproduce", "taylor2022", "--tiny", "--only", "sinc,bogus", "--out", str(tmp_path)]) == 2
    assert "bogus" in capsys.readouterr().err


def test_rerun_says_which_stored_result_it_replaces(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    shutil.copy(tiny_run / "jacobian.h5", tmp_path / "jacobian.h5")
    earlier = read_summary(tmp_path / "jacobian.h5")["finished"]
    capsys.readouterr()
    assert cli.main(["reproduce", "taylor2022", "--tiny", "--only", "jacobian", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"replacing {tmp_path / 'jacobian.h5'} (the tiny run finished {earlier})" in out
    assert "--out DIR" in out
