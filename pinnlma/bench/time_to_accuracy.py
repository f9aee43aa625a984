"""``time-to-accuracy``: Burgers with LM, L-BFGS and Adam under one wall-time budget each.

Each optimizer runs through :func:`pinnlma.run.solve` (what ``pinnlma run burgers --optimizer ...
--time-limit T`` does: same problem, points, network, seed and initial parameters) until the budget of
optimizer time is spent. The clock counts the optimizer's steps only (``history/time``); evaluating
the relative L2 error on the reference grid is off the clock (every iteration for LM, every 10th for
L-BFGS and Adam, the run loop's defaults). Reported per optimizer: the error and loss against time, the
first time the relative L2 error reaches 1e-2 and 1e-3 (None if it never does), the final and best
values; a two-panel figure (error and loss against time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..machine import load_average
from ..pinn.registry import apply_options, load_problem
from ..run import RunConfig, solve
from . import output
from .timing import fmt_s

CASE = "time-to-accuracy"
OPTIMIZERS = ("lm", "lbfgs", "adam")
THRESHOLDS = (1e-2, 1e-3)
MAX_HISTORY = 1500  # points per curve kept in the JSON


def first_time_below(times: list[float], errors: list[float], threshold: float) -> float | None:
    """The first time at which the error is at most ``threshold`` (None if never)."""
    for t, e in zip(times, errors):
        if e is not None and math.isfinite(e) and e <= threshold:
            return float(t)
    return None


def _thin(n: int) -> np.ndarray:
    if n <= MAX_HISTORY:
        return np.arange(n)
    return np.unique(np.concatenate([np.linspace(0, n - 1, MAX_HISTORY).round().astype(int), [n - 1]]))


def _problem(quick: bool, tiny: bool) -> Any:
    problem = load_problem("burgers")
    if tiny:
        problem = apply_options(problem, quick=True, points=300, boundary_points=40, width=8, depth=2)
        return problem.with_options(eval_grid=(64, 21))
    return apply_options(problem, quick=quick)


def run(out: Path, *, quick: bool = False, tiny: bool = False, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure the case; ``{"summary", "path", "payload", "figure"}`` (see :mod:`pinnlma.bench`)."""
    load = load_average()
    budget = 2.0 if tiny else (30.0 if quick else 300.0)
    problem = _problem(quick, tiny)
    runs: dict[str, dict[str, Any]] = {}
    echo(
        f"{CASE}: burgers ({problem.n_interior} interior points, {problem.n_boundary} per condition, "
        f"MLP width {problem.model.get('width')} depth {problem.model.get('depth')}), {budget:g} s of optimizer "
        f"time each for {', '.join(OPTIMIZERS)}"
    )
    for name in OPTIMIZERS:
        started = time.perf_counter()
        result = solve(problem, RunConfig(optimizer=name, time_limit=budget, iters=10**9, seed=0), progress=False)
        wall = time.perf_counter() - started
        h = result.record.history
        times = [float(t) for t in h["time"]]
        errors = [float(e) for e in h["rel_l2"]]
        losses = [float(v) for v in h["loss"]]
        finite = [(t, e) for t, e in zip(times, errors) if math.isfinite(e)]
        keep = _thin(len(times))
        runs[name] = {
            "iterations": int(result.record.attrs["iterations"]),
            "optimizer_time_s": float(result.record.attrs["elapsed"]),
            "wall_s": wall,
            "status": result.status,
            "final_loss": float(result.record.attrs["final_loss"]),
            "final_rel_l2": float(result.record.attrs["final_rel_l2"]),
            "best_rel_l2": min((e for _, e in finite), default=math.nan),
            **{f"time_to_{t:g}": first_time_below(times, errors, t) for t in THRESHOLDS},
            "history": {
                "time": [times[i] for i in keep],
                "loss": [losses[i] for i in keep],
                "rel_l2": [errors[i] for i in keep],
            },
        }
        r = runs[name]
        echo(
            f"  {name}: {r['iterations']} iterations, rel L2 {r['final_rel_l2']:.2e} (best {r['best_rel_l2']:.2e}), "
            + ", ".join(
                f"1e{round(math.log10(t))} at {fmt_s(r[f'time_to_{t:g}'])}"
                if r[f"time_to_{t:g}"] is not None
                else f"1e{round(math.log10(t))} not reached"
                for t in THRESHOLDS
            )
        )
        n_params, n_rows = int(result.record.attrs["n_params"]), int(result.record.attrs["n_residuals"])
    figure = out / f"{CASE}.png"
    _plot(runs, figure, budget, f"burgers, {n_params} parameters, {n_rows} residuals")

    def reached(name: str, t: float) -> str:
        v = runs[name][f"time_to_{t:g}"]
        return f"{v:.1f}s" if v is not None else "never"

    summary = f"{CASE}: burgers, {budget:g} s each; " + "; ".join(
        f"{name} 1e-2 {reached(name, 1e-2)}, 1e-3 {reached(name, 1e-3)}, final {runs[name]['final_rel_l2']:.1e}"
        for name in OPTIMIZERS
    )
    payload = {
        "quick": quick,
        "tiny": tiny,
        "configuration": {
            "problem": "burgers",
            "n_interior": problem.n_interior,
            "n_boundary": problem.n_boundary,
            "model": dict(problem.model),
            "n_params": n_params,
            "n_residuals": n_rows,
            "budget_s": budget,
            "seed": 0,
            "dtype": "float64",
            "thresholds": list(THRESHOLDS),
            "clock": "optimizer steps only (history/time of the run); error evaluation off the clock",
        },
        "optimizers": runs,
        "figure": figure.name,
        "summary": summary,
    }
    path = output.write_json(out, CASE, payload, started_load=load)
    return {"summary": summary, "path": path, "payload": payload, "figure": figure}


def _plot(runs: dict[str, dict[str, Any]], path: Path, budget: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = {"lm": "Levenberg–Marquardt", "lbfgs": "L-BFGS", "adam": "Adam"}
    for name, r in runs.items():
        t = np.asarray(r["history"]["time"], float)
        e = np.asarray([np.nan if v is None else v for v in r["history"]["rel_l2"]], float)
        ok = np.isfinite(e)
        axes[0].semilogy(t[ok], e[ok], label=labels.get(name, name))
        axes[1].semilogy(t, np.asarray(r["history"]["loss"], float), label=labels.get(name, name))
    for threshold in THRESHOLDS:
        axes[0].axhline(threshold, color="0.6", lw=0.8, ls="--")
    axes[0].set_ylabel("relative L2 error")
    axes[1].set_ylabel("loss Σ w·mean(residual²)")
    for ax in axes:
        ax.set_xlabel("optimizer time [s]")
        ax.set_xlim(0, budget)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"time to accuracy: {title}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
