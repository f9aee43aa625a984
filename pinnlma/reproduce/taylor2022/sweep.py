"""Experiment 2 — how big must Adam's network be to fit sinc(10x) as well as LM's 1–20–1?

Adam (same learning rate and epoch count as in experiment 1) trains networks 1–w₁–…–w_d–1 of growing
size P = Σ_l (w_{l−1}+1)·w_l; the sweep stops at the first model whose median MSE over the seeds is at
most the target — the median final MSE of LM on the 61-parameter network (experiment 1) — or at the
largest model of the list (the cap). Reported: the parameter ratio P/61 at which Adam first comes within
1×, 10× and 100× of LM's MSE (the paper: "up to 26×" more parameters to approach LM's fit).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...run import RunConfig, solve
from .figures import pyplot, spread, thin
from .sinc import sinc_problem
from ..store import write_h5

NAME = "sweep"
FACTORS = (1.0, 10.0, 100.0)


@dataclass(frozen=True)
class SweepSize:
    """Sizes of the Adam network-size sweep."""

    models: tuple[tuple[int, ...], ...]  # hidden widths, smallest first
    seeds: tuple[int, ...]
    steps: int
    lr: float = 0.01
    points: int = 20000


def n_params(widths: Sequence[int]) -> int:
    """Parameters of 1 → widths → 1: Σ (fan_in + 1)·fan_out."""
    sizes = [1, *widths, 1]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def arch(widths: Sequence[int]) -> str:
    """ "1-20-1" for widths (20,)."""
    return "1–" + "–".join(map(str, widths)) + "–1"


def run(
    out: Path, size: SweepSize, lm_target: float, base_params: int, echo: Callable[[str], None] = print
) -> dict[str, Any]:
    """Adam on each model of ``size.models`` until its median MSE ≤ ``lm_target``; write sweep.h5 + figure."""
    problem = sinc_problem(size.points)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    for widths in size.models:
        model_problem = problem.with_options(model={"widths": list(widths), "activation": "tanh"})
        finals, seconds, curves = [], [], {}
        for seed in size.seeds:
            config = RunConfig(
                optimizer="adam", iters=size.steps, seed=seed, lr=size.lr, time_limit=10**9, eval_every=10**9
            )
            result = solve(model_problem, config, progress=False)
            finals.append(float(result.record.attrs["final_loss"]))
            seconds.append(float(result.record.attrs["elapsed"]))
            mse = np.asarray(result.record.history["loss"])
            keep = thin(len(mse))
            curves[f"seed{seed}"] = {"iteration": keep.astype(float), "mse": mse[keep]}
        p = n_params(widths)
        row: dict[str, Any] = {
            "arch": arch(widths),
            "widths": list(widths),
            "n_params": p,
            "ratio": p / base_params,
            "final_mse": spread(finals),
            "optimizer_s": spread(seconds),
        }
        rows.append(row)
        data[arch(widths).replace("–", "-")] = {"n_params": p, **curves}
        med = row["final_mse"]["median"]
        echo(
            f"  sweep {row['arch']:>14s} ({p:5d} parameters, {row['ratio']:.1f}×): Adam MSE {med:.2e} "
            f"(LM target {lm_target:.2e})"
        )
        if med <= lm_target:
            break
    reached = {}
    for factor in FACTORS:
        hit = next((r for r in rows if r["final_mse"]["median"] <= factor * lm_target), None)
        reached[f"{factor:g}"] = (
            None if hit is None else {"arch": hit["arch"], "n_params": hit["n_params"], "ratio": hit["ratio"]}
        )
    best = min(rows, key=lambda r: r["final_mse"]["median"])
    summary = {
        "experiment": NAME,
        "lm_target": lm_target,
        "base_params": base_params,
        "steps": size.steps,
        "lr": size.lr,
        "seeds": list(size.seeds),
        "points": size.points,
        "models": rows,
        "cap": {"arch": rows[-1]["arch"], "n_params": rows[-1]["n_params"], "ratio": rows[-1]["ratio"]},
        "matched": reached["1"] is not None,
        "reached": reached,
        "best": {
            "arch": best["arch"],
            "n_params": best["n_params"],
            "ratio": best["ratio"],
            "mse": best["final_mse"]["median"],
        },
        "seconds": time.perf_counter() - started,
    }
    summary["figures"] = [_plot(out, rows, lm_target, base_params)]
    write_h5(out / f"{NAME}.h5", data, summary)
    return summary


def _plot(out: Path, rows: list[dict[str, Any]], lm_target: float, base_params: int) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    p = np.array([r["n_params"] for r in rows], float)
    med = np.array([r["final_mse"]["median"] for r in rows])
    lo = np.array([r["final_mse"]["min"] for r in rows])
    hi = np.array([r["final_mse"]["max"] for r in rows])
    ax.errorbar(p, med, yerr=[med - lo, hi - med], fmt="o-", color="C0", capsize=3, label="Adam (median, min–max)")
    for r in rows:
        ax.annotate(
            r["arch"], (r["n_params"], r["final_mse"]["median"]), fontsize=7, xytext=(4, 4), textcoords="offset points"
        )
    ax.axhline(lm_target, color="C3", ls="--", label=f"LM, 1–20–1 ({base_params} parameters)")
    ax.axvline(26 * base_params, color="0.5", ls=":", label="26× the parameters (paper)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("final MSE")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Adam model-size sweep on sinc(10x)")
    fig.tight_layout()
    path = out / "sweep_adam_size.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
