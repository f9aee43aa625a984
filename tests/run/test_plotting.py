"""Run figures for 1-D, gridded 2-D, scattered 2-D and two-output solutions; history comparisons."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from pinnlma.run.io import RunRecord
from pinnlma.run.plotting import plot_history, plot_run


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def history(n: int = 20, lm: bool = True) -> dict[str, np.ndarray]:
    rel = np.logspace(0, -3, n)
    rel[1::2] = np.nan  # evaluated every other iteration
    return {
        "iteration": np.arange(n),
        "time": np.linspace(0, 2, n),
        "loss": np.logspace(0, -6, n),
        "rel_l2": rel,
        "damping": np.logspace(-2, -5, n) if lm else np.full(n, np.nan),
        "loss/pde": np.logspace(-1, -7, n),
        "loss/boundary": np.logspace(-1, -6, n),
    }


def record(inputs: np.ndarray, prediction: np.ndarray, reference: np.ndarray | None) -> RunRecord:
    attrs = {
        "problem": "demo",
        "optimizer": "lm",
        "backend": "torch",
        "dtype": "float64",
        "seed": 0,
        "n_params": 10,
        "n_residuals": 50,
        "status": "max_iter",
        "final_loss": 1e-6,
        "final_rel_l2": math.nan if reference is None else 1e-3,
        "pinnlma_version": "0.1.0",
    }
    solution = {"inputs": inputs, "prediction": prediction}
    if reference is not None:
        solution["reference"] = reference
    return RunRecord(attrs=attrs, history=history(), params=np.zeros(10), solution=solution)


def grid_2d(nx: int = 30, nt: int = 20) -> np.ndarray:
    x, t = np.meshgrid(np.linspace(-1, 1, nx), np.linspace(0, 1, nt), indexing="ij")
    return np.stack([x.ravel(), t.ravel()], axis=1)


def check_png(path: Path, size: tuple[int, int]) -> None:
    assert path.exists()
    assert path.stat().st_size > 20_000
    assert png_size(path) == size


def test_one_dimensional(tmp_path: Path) -> None:
    x = np.random.default_rng(0).uniform(0, 1, (200, 1))  # unsorted on purpose
    ref = np.sin(np.pi * x)
    out = plot_run(record(x, ref + 1e-3 * x, ref), tmp_path / "line.png", ["x"])
    check_png(out, (1500, 900))


def test_two_dimensional_grid(tmp_path: Path) -> None:
    pts = grid_2d()
    ref = (-np.sin(np.pi * pts[:, 0]) * np.exp(-pts[:, 1]))[:, None]
    rec = record(pts, ref * 1.01, ref)
    rec.attrs["coordinates"] = "x,t"  # the default coordinate names
    check_png(plot_run(rec, tmp_path / "grid.png"), (1500, 900))


def test_two_dimensional_scattered_without_reference(tmp_path: Path) -> None:
    pts = np.random.default_rng(1).uniform(0, 1, (400, 2))
    pred = np.sin(3 * pts[:, 0]) * pts[:, 1]
    out = plot_run(record(pts, pred, None), tmp_path / "scatter.png", ["x", "y"], dpi=50)
    check_png(out, (750, 450))


def test_two_outputs_modulus_and_each(tmp_path: Path) -> None:
    pts = grid_2d(25, 15)
    h = np.stack([np.cos(pts[:, 0]) * np.cos(pts[:, 1]), np.sin(pts[:, 0]) * np.cos(pts[:, 1])], axis=1)
    rec = record(pts, h * 0.99, h)
    # by default each output by name (two outputs mean nothing together unless a problem says so):
    # one row per output plus the history row, 3 rows of 4.5 inches
    check_png(plot_run(rec, tmp_path / "auto.png", ["x", "t"]), (1500, 1350))
    check_png(plot_run(rec, tmp_path / "each.png", ["x", "t"], outputs="each"), (1500, 1350))
    check_png(plot_run(rec, tmp_path / "modulus.png", ["x", "t"], outputs="modulus"), (1500, 900))


def test_coordinates_mismatch(tmp_path: Path) -> None:
    rec = record(grid_2d(10, 8), np.zeros(80), None)
    with pytest.raises(ValueError, match="coordinate names"):
        plot_run(rec, tmp_path / "never-written.png", ["x"])
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    x = np.linspace(0, 1, 50)[:, None]
    rec = record(x, x, x)
    path = plot_run(rec, tmp_path / "fig.png", ["x"])
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite"):
        plot_run(rec, path, ["x"])
    with pytest.raises(FileExistsError, match="--overwrite"):
        plot_history({"lm": rec.history}, path)
    assert path.read_bytes() == before
    plot_history({"lm": rec.history}, path, overwrite=True, dpi=40)
    assert png_size(path) == (320, 200)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]


def test_plot_history(tmp_path: Path) -> None:
    runs = {"lm": history(30), "adam": history(200, lm=False), "bfgs": history(60, lm=False)}
    out = plot_history(runs, tmp_path / "cmp.png", x="time", y="loss")
    check_png(out, (800, 500))
    out = plot_history(runs, tmp_path / "cmp_rel.png", x="iteration", y="rel_l2", title="rel. L2")
    check_png(out, (800, 500))
    with pytest.raises(ValueError, match="'walltime'"):
        plot_history(runs, tmp_path / "bad.png", x="walltime")
    with pytest.raises(ValueError, match="no histories"):
        plot_history({}, tmp_path / "bad.png")
