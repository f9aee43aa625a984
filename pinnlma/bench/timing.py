"""Timing helpers of the benchmarks: one timed call, alternating repeats, medians, fitted exponents.

Every ratio is measured side by side in one process; the things compared are run alternately (the order
flips every repeat) so a drifting machine load hits all of them alike, and the median is reported.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["alternate", "fit_exponent", "fmt_s", "median", "timed"]


def median(values: Sequence[float]) -> float:
    """The median of the finite values (NaN when there are none)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call, after a garbage collection outside the timed region."""
    gc.collect()
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def alternate(measures: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[Any]]:
    """Run each measure ``repeats`` times, interleaved, the order reversed every other repeat
    (A B, B A, A B, ...) so a drifting machine load hits all of them alike. Returns name → results."""
    names = list(measures)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for k in range(repeats):
        for name in names if k % 2 == 0 else names[::-1]:
            out[name].append(measures[name]())
    return out


def fit_exponent(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Slope of log y against log x (least squares): y ∝ x^slope."""
    pairs = [(x, y) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0 and math.isfinite(y)]
    if len(pairs) < 2:
        return math.nan
    lx = np.log([p[0] for p in pairs])
    ly = np.log([p[1] for p in pairs])
    return float(np.polyfit(lx, ly, 1)[0])


def fmt_s(seconds: float | None) -> str:
    """Seconds for people: "375 ms", "1.30 s" ("n/a" when missing)."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
