"""Presenting the taylor2022 results: labels and colours per optimizer, figures, statistics over seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["COLORS", "LABELS", "fmt", "pad_curves", "plot_median_band", "pyplot", "spread", "thin"]

LABELS = {"lm": "Levenberg–Marquardt", "adam": "Adam", "bfgs": "BFGS", "lbfgs": "L-BFGS"}
COLORS = {"lm": "C3", "adam": "C0", "bfgs": "C2", "lbfgs": "C1"}


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
    return {
        "median": float(np.median(finite)),
        "min": float(finite.min()),
        "max": float(finite.max()),
        "n": int(finite.size),
    }


def pad_curves(curves: Sequence[np.ndarray]) -> np.ndarray:
    """Stack curves of unequal length (a run that stopped early keeps its last value)."""
    n = max(len(c) for c in curves)
    return np.stack([np.concatenate([c, np.full(n - len(c), c[-1])]) if len(c) < n else c for c in curves])


def plot_median_band(
    ax: Any, x: np.ndarray, curves: Sequence[np.ndarray], color: str, label: str, skip: int = 0
) -> None:
    """Median over seeds as a line, min–max as a shaded band, on log-log axes (from index ``skip``)."""
    stacked = pad_curves(curves)[:, skip:]
    x = np.asarray(x)[skip:]
    ax.loglog(x, np.median(stacked, axis=0), color=color, label=label)
    ax.fill_between(x, stacked.min(axis=0), stacked.max(axis=0), color=color, alpha=0.2, lw=0)


def thin(n: int, keep: int = 2000) -> np.ndarray:
    """About ``keep`` indices of 0..n−1, log-spaced in the start and always with the last one."""
    if n <= keep:
        return np.arange(n)
    idx = np.unique(
        np.concatenate(
            [
                np.geomspace(1, n, keep // 2).astype(int) - 1,
                np.linspace(0, n - 1, keep // 2).round().astype(int),
                [n - 1],
            ]
        )
    )
    return idx


def fmt(value: float | None, digits: int = 2) -> str:
    """A number in short scientific notation ('–' for missing)."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}e}"
