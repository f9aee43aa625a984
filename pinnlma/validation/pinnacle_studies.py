"""Measured studies of the PINNacle cases a single PINN does not reach (part of
``python -m pinnlma.validation.pinnacle --studies``).

- **Heat2d-LT, time windows**: the case's own network, points and solver on [0, T] for growing T, each with
  the same training time; the error against the project's converged solve on the window. It shows how the
  error depends on the number of saturation switches in the window (one about every 8 time units), i.e.
  whether a time-marching scheme of shorter windows would help.
- **Heat2d-MS, frequency**: the case with the x-mode sin(kπx) for k = 2 … 20 (PINNacle's is 20), same
  network (with the bundled exact periodic embedding of x, harmonics 1 … 16), points and time; the error
  on the dense grid. It shows whether the embedded network still has a spectral bias, i.e. whether the
  accuracy depends on the mode's frequency (the plain MLP stays at u ≈ 0 for k = 20: the problem's docstring).
- **PInv, observation noise**: the inverse case with a consistent source and noise σ = 0.1 … 0 on the
  observations; the errors of the recovered coefficient a and of u. It separates what the noise costs from
  what the inverse problem itself costs.

``python -m pinnlma.validation.pinnacle --studies-only`` runs them alone and keeps the case rows of the
report. Each run is :func:`pinnlma.run.solve` in this process on a problem variant (``build(t_end=…)``,
``build(frequency=…)`` of the bundled modules) with the bundled defaults and a time limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["STUDIES", "format_studies", "run_studies"]

STUDIES: dict[str, dict[str, tuple[float, ...]]] = {
    "heat2d_lt_windows": {"full": (2.0, 8.0, 24.0, 100.0), "quick": (1.0, 2.0)},
    "heat2d_ms_frequency": {"full": (2, 6, 10, 20), "quick": (2, 20)},
    "pinv_noise": {"full": (0.1, 0.01, 0.001, 0.0), "quick": (0.1, 0.0)},
}
"""The study variants: time windows T (Heat2d-LT), x-mode numbers k (Heat2d-MS), noise σ (PInv)."""


def _solve(problem: Any, time_limit: float, quick: bool) -> dict[str, Any]:
    from pinnlma.pinn.registry import apply_options
    from pinnlma.run import RunConfig, solve

    problem = apply_options(problem, quick=quick)
    config = RunConfig(seed=0, iters=None if quick else 10**9, time_limit=None if quick else time_limit)
    started = time.perf_counter()
    result = solve(problem, config, progress=False)
    attrs = result.record.attrs
    return {
        "l2re": float(attrs["final_rel_l2"]),
        "iterations": int(attrs["iterations"]),
        "train_s": float(attrs["elapsed"]),
        "wall_s": time.perf_counter() - started,
        "extra": {k[len("extra_rel_l2_") :]: float(v) for k, v in attrs.items() if k.startswith("extra_rel_l2_")},
        "outputs": {k[len("final_rel_l2_") :]: float(v) for k, v in attrs.items() if k.startswith("final_rel_l2_")},
        "n_params": int(attrs["n_params"]),
        "n_residuals": int(attrs["n_residuals"]),
    }


def run_studies(
    *, quick: bool = False, time_limit: float = 240.0, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the three studies; each variant trains for ``time_limit`` seconds (its quick size with ``quick``)."""
    import torch

    from pinnlma.problems import pinnacle_heat2d_lt, pinnacle_heat2d_ms, pinnacle_pinv

    size = "quick" if quick else "full"
    out: dict[str, Any] = {
        "time_limit": time_limit,
        "quick": quick,
        "threads": torch.get_num_threads(),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    rows = []
    for t_end in STUDIES["heat2d_lt_windows"][size]:
        row = {"t_end": t_end, **_solve(pinnacle_heat2d_lt.build(t_end=t_end), time_limit, quick)}
        rows.append(row)
        echo(f"heat2d_lt window [0, {t_end:g}]: vs spectral {row['extra']['spectral']:.2e}, file {row['l2re']:.2e}")
    out["heat2d_lt_windows"] = rows
    rows = []
    for k in STUDIES["heat2d_ms_frequency"][size]:
        row = {"frequency": k, **_solve(pinnacle_heat2d_ms.build(frequency=k), time_limit, quick)}
        rows.append(row)
        echo(f"heat2d_ms sin({k}πx): dense {row['extra']['dense']:.2e}, test grid {row['l2re']:.2e}")
    out["heat2d_ms_frequency"] = rows
    rows = []
    for noise in STUDIES["pinv_noise"][size]:
        problem = pinnacle_pinv.build("pinnacle_pinv_consistent", consistent=True, doc="", noise=noise)
        row = {"noise": noise, **_solve(problem, time_limit, quick)}
        rows.append(row)
        echo(f"pinv_consistent noise {noise:g}: a {row['outputs']['a']:.2e}, u {row['outputs']['u']:.2e}")
    out["pinv_noise"] = rows
    return out


def format_studies(data: dict[str, Any]) -> str:
    """The Markdown section of the studies."""
    limit = data["time_limit"]
    lines = [
        "## Measured studies of the cases out of reach",
        "",
        f"Each variant: the bundled case's network, points and LM settings, seed 0, trained for "
        f"{'its quick size' if data.get('quick') else f'{limit:g} s'} in one process with "
        f"{data.get('threads', '?')} torch thread(s), started {data.get('started', '(date not recorded)')} "
        f"(`{data.get('command', 'python -m pinnlma.validation.pinnacle --studies')}`).",
        "",
        "**Heat2d-LT on [0, T]** (error against the converged spectral solve on the window's test points; "
        "the saturated state switches at t ≈ 8.8, 16.8, …, 88.8):",
        "",
        "| T | iterations | vs spectral | vs PINNacle's file |",
        "|---:|---:|---:|---:|",
    ]
    for r in data["heat2d_lt_windows"]:
        lines.append(f"| {r['t_end']:g} | {r['iterations']} | {r['extra']['spectral']:.2e} | {r['l2re']:.2e} |")
    lines += [
        "",
        "**Heat2d-MS with the x-mode sin(kπx)** (k = 20 is PINNacle's case; error on the dense "
        "201 × 21 × 26 grid and on PINNacle's 8 × 8 × 313 test grid):",
        "",
        "| k | iterations | dense grid | PINNacle's test grid |",
        "|---:|---:|---:|---:|",
    ]
    for r in data["heat2d_ms_frequency"]:
        lines.append(f"| {r['frequency']} | {r['iterations']} | {r['extra']['dense']:.2e} | {r['l2re']:.2e} |")
    lines += [
        "",
        "**PInv, consistent source, observation noise σ** (σ = 0.1 is PINNacle's; errors on the 50 × 50 test grid):",
        "",
        "| σ | iterations | a | u | joint L2RE |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in data.get("pinv_noise", []):
        lines.append(
            f"| {r['noise']:g} | {r['iterations']} | {r['outputs']['a']:.2e} | {r['outputs']['u']:.2e} | "
            f"{r['l2re']:.2e} |"
        )
    return "\n".join(lines) + "\n"
