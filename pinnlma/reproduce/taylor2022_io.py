"""Shared pieces of the taylor2022 reproduction: HDF5 output, figure set-up, statistics over seeds.

Every experiment writes ``<out>/<name>.h5``: nested dicts become groups, arrays become datasets and
its summary (the numbers the generated README quotes) is stored as a JSON string in the root attribute
``summary``, so the report can be rebuilt from the files alone.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

LABELS = {"lm": "Levenberg–Marquardt", "adam": "Adam", "bfgs": "BFGS", "lbfgs": "L-BFGS"}
COLORS = {"lm": "C3", "adam": "C0", "bfgs": "C2", "lbfgs": "C1"}


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    return obj


def write_h5(path: Path, data: Mapping[str, Any], summary: Mapping[str, Any]) -> Path:
    """Write nested ``data`` (dicts → groups, arrays/lists of numbers → datasets, scalars/str → attrs)."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)

    def fill(group: Any, tree: Mapping[str, Any]) -> None:
        for key, value in tree.items():
            if isinstance(value, Mapping):
                fill(group.create_group(str(key)), value)
            elif isinstance(value, (str, bool, int, float, np.integer, np.floating)) or value is None:
                group.attrs[str(key)] = "None" if value is None else value
            else:
                group.create_dataset(str(key), data=np.asarray(value, dtype=float), compression="gzip")

    with h5py.File(path, "w") as fh:
        fh.attrs["summary"] = json.dumps(_json_safe(summary))
        fill(fh, data)
    return path


def read_summary(path: Path) -> dict[str, Any]:
    """The summary JSON stored in an experiment's HDF5 file."""
    import h5py

    with h5py.File(path, "r") as fh:
        return json.loads(fh.attrs["summary"])


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum and maximum of the finite values (NaN when there are none)."""
    finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], float)
    if finite.size == 0:
        return {"median": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    return {"median": float(np.median(finite)), "min": float(finite.min()), "max": float(finite.max()),
            "n": int(finite.size)}


def pad_curves(curves: Sequence[np.ndarray]) -> np.ndarray:
    """Stack curves of unequal length (a run that stopped early keeps its last value)."""
    n = max(len(c) for c in curves)
    return np.stack([np.concatenate([c, np.full(n - len(c), c[-1])]) if len(c) < n else c for c in curves])


def plot_median_band(ax: Any, x: np.ndarray, curves: Sequence[np.ndarray], color: str, label: str,
                     skip: int = 0) -> None:
    """Median over seeds as a line, min–max as a shaded band, on log-log axes (from index ``skip``)."""
    stacked = pad_curves(curves)[:, skip:]
    x = np.asarray(x)[skip:]
    ax.loglog(x, np.median(stacked, axis=0), color=color, label=label)
    ax.fill_between(x, stacked.min(axis=0), stacked.max(axis=0), color=color, alpha=0.2, lw=0)


def thin(n: int, keep: int = 2000) -> np.ndarray:
    """About ``keep`` indices of 0..n−1, log-spaced in the start and always with the last one."""
    if n <= keep:
        return np.arange(n)
    idx = np.unique(np.concatenate([np.geomspace(1, n, keep // 2).astype(int) - 1,
                                    np.linspace(0, n - 1, keep // 2).round().astype(int), [n - 1]]))
    return idx


def fmt(value: float | None, digits: int = 2) -> str:
    """A number in short scientific notation ('–' for missing)."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}e}"


def update_summary(path: Path, summary: Mapping[str, Any]) -> None:
    """Replace the summary JSON of an existing experiment file."""
    import h5py

    with h5py.File(path, "a") as fh:
        fh.attrs["summary"] = json.dumps(_json_safe(summary))
