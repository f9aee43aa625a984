"""Experiment 1 — sinc(10x): Adam, LM, BFGS and L-BFGS on one 1–20–1 tanh network.

The data fit of Taylor et al. (2022): y = sinc(10x) = sin(10πx)/(10πx) sampled at m points evenly on
[−1, 1], a 1–20–1 tanh network (61 parameters), loss = MSE = (1/m)Σ(u(x_k) − y_k)². Every optimizer
runs full batch through :func:`pinnlma.run.solve` on the bundled ``sinc`` problem with the same
seeds (same initial parameters per seed); one "epoch" = one optimizer iteration over all m points.
The fits are also evaluated on [−1.5, 1.5], beyond the data (extrapolation shown as it is).

Amplitude split: the main lobe |x| < 0.1 holds the large values (|y| up to 1), the tails |x| > 0.5
only |y| < 1/(5π) ≈ 0.064. For each fit the relative RMS error ‖u − y‖/‖y‖ is measured on each part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...pinn import PointData
from ...pinn.registry import load_problem
from ...run import RunConfig, solve
from .figures import COLORS, LABELS, pad_curves, plot_median_band, pyplot, spread, thin
from ..store import write_h5

OPTIMIZERS = ("adam", "lm", "bfgs", "lbfgs")
NAME = "sinc"


@dataclass(frozen=True)
class SincSize:
    """Sizes of the sinc experiment."""

    points: int
    seeds: tuple[int, ...]
    iters: dict[str, int]  # iterations (epochs) per optimizer
    adam_lr: float = 0.01
    fit_points: int = 3001


def target(x: np.ndarray) -> np.ndarray:
    """sinc(10x) = sin(10πx)/(10πx) (numpy's normalized sinc)."""
    return np.sinc(10 * x)


def sinc_problem(points: int) -> Any:
    """The bundled ``sinc`` problem, with ``points`` data points when that differs from its 20000."""
    problem = load_problem("sinc")
    x = np.linspace(-1.0, 1.0, points)[:, None]
    return problem.with_options(conditions=[PointData(x, target(x[:, 0]), name="data")])


def part_errors(x: np.ndarray, u: np.ndarray) -> dict[str, float]:
    """Relative RMS error on the main lobe (|x| < 0.1) and the tails (0.5 < |x| ≤ 1), and the MSE on [−1, 1]."""
    y = target(x)
    inside = np.abs(x) <= 1.0
    out = {"mse_in_domain": float(np.mean((u[inside] - y[inside]) ** 2))}
    for name, mask in (("lobe", np.abs(x) < 0.1), ("tails", (np.abs(x) > 0.5) & inside)):
        out[f"rel_err_{name}"] = float(np.linalg.norm(u[mask] - y[mask]) / np.linalg.norm(y[mask]))
    return out


def run(out: Path, size: SincSize, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train every optimizer for every seed; write sinc.h5 and the figures; return the summary."""
    problem = sinc_problem(size.points)
    xs = np.linspace(-1.5, 1.5, size.fit_points)
    data: dict[str, Any] = {"fit_x": xs, "fit_target": target(xs)}
    runs: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in OPTIMIZERS}
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for seed in size.seeds:
        for name in OPTIMIZERS:
            config = RunConfig(
                optimizer=name,
                iters=size.iters[name],
                seed=seed,
                time_limit=10**9,
                lr=size.adam_lr if name == "adam" else None,
                eval_every=10**9,
            )
            t0 = time.perf_counter()
            result = solve(problem, config, progress=False)
            wall = time.perf_counter() - t0
            h = result.record.history
            fit = result.assembler.predict(result.theta, xs[:, None])[:, 0]
            r: dict[str, Any] = {
                "iteration": np.asarray(h["iteration"]),
                "time": np.asarray(h["time"]),
                "mse": np.asarray(h["loss"]),
                "fit": fit,
                "wall_s": wall,
                "optimizer_s": float(result.record.attrs["elapsed"]),
                "status": result.status,
                "final_mse": float(result.record.attrs["final_loss"]),
                **part_errors(xs, fit),
            }
            runs[name][seed] = r
            echo(
                f"  sinc seed {seed} {name:5s}: MSE {r['final_mse']:.2e} after {int(r['iteration'][-1])} "
                f"iterations, {r['optimizer_s']:.1f} s"
            )
    n_params = int(result.record.attrs["n_params"])
    summary = _summarize(runs, size, n_params, time.perf_counter() - started)
    for name, per_seed in runs.items():
        for seed, r in per_seed.items():
            keep = thin(len(r["mse"]))
            data.setdefault(name, {})[f"seed{seed}"] = {
                "iteration": r["iteration"][keep],
                "time": r["time"][keep],
                "mse": r["mse"][keep],
                "fit": r["fit"],
                "final_mse": r["final_mse"],
                "optimizer_s": r["optimizer_s"],
                "wall_s": r["wall_s"],
                "status": r["status"],
            }
    write_h5(out / f"{NAME}.h5", data, summary)
    summary["figures"] = [_plot_curves(out, runs, n_params), _plot_fits(out, runs, xs, size.seeds[0])]
    write_h5(out / f"{NAME}.h5", data, summary)
    return summary


def _summarize(
    runs: dict[str, dict[int, dict[str, Any]]], size: SincSize, n_params: int, seconds: float
) -> dict[str, Any]:
    per_opt: dict[str, Any] = {}
    for name, per_seed in runs.items():
        rs = list(per_seed.values())
        mse = pad_curves([r["mse"] for r in rs])
        at = {str(k): spread(mse[:, k].tolist()) for k in (100, 200) if k < mse.shape[1]}
        per_opt[name] = {
            "iterations": size.iters[name],
            "final_mse": spread([r["final_mse"] for r in rs]),
            "mse_at_iteration": at,
            "optimizer_s": spread([r["optimizer_s"] for r in rs]),
            "rel_err_lobe": spread([r["rel_err_lobe"] for r in rs]),
            "rel_err_tails": spread([r["rel_err_tails"] for r in rs]),
            "per_seed_final_mse": {str(s): r["final_mse"] for s, r in per_seed.items()},
        }
    return {
        "experiment": NAME,
        "points": size.points,
        "n_params": n_params,
        "seeds": list(size.seeds),
        "adam_lr": size.adam_lr,
        "optimizers": per_opt,
        "seconds": seconds,
    }


def _plot_curves(out: Path, runs: dict[str, dict[int, dict[str, Any]]], n_params: int) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for name, per_seed in runs.items():
        rs = list(per_seed.values())
        epochs = np.arange(max(len(r["mse"]) for r in rs)) + 1
        plot_median_band(axes[0], epochs, [r["mse"] for r in rs], COLORS[name], f"{LABELS[name]} (median of {len(rs)})")
        for k, r in enumerate(rs):
            axes[1].loglog(
                np.maximum(r["time"], 1e-3),
                r["mse"],
                color=COLORS[name],
                lw=0.9,
                label=LABELS[name] if k == 0 else None,
            )
    axes[0].set_xlabel("epoch = iteration + 1 (full batch)")
    axes[1].set_xlabel("optimizer time [s] (one thread)")
    for ax in axes:
        ax.set_ylabel("MSE")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("MSE against epoch (band: min–max over seeds)")
    axes[1].set_title("MSE against wall time (each seed)")
    fig.suptitle(f"sinc(10x), 1–20–1 tanh ({n_params} parameters)")
    fig.tight_layout()
    path = out / "sinc_mse.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _plot_fits(out: Path, runs: dict[str, dict[int, dict[str, Any]]], xs: np.ndarray, seed: int) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    y = target(xs)
    axes[0].plot(xs, y, color="k", lw=2.2, alpha=0.35, label="sinc(10x)")
    for name in OPTIMIZERS:
        r = runs[name][seed]
        axes[0].plot(xs, r["fit"], color=COLORS[name], lw=1, label=f"{LABELS[name]} (MSE {r['final_mse']:.1e})")
        axes[1].semilogy(xs, np.abs(r["fit"] - y) + 1e-16, color=COLORS[name], lw=0.8)
    for ax in axes:
        for edge in (-1, 1):
            ax.axvline(edge, color="0.5", ls="--", lw=0.8)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylim(-0.6, 1.3)
    axes[0].legend(fontsize=8, loc="upper right")
    axes[0].set_title(f"fits of seed {seed}; data on [−1, 1], beyond the dashed lines is extrapolation")
    axes[1].set_ylabel("|u − y|")
    axes[1].set_xlabel("x")
    fig.tight_layout()
    path = out / "sinc_fits.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
