"""Experiment 3 — the Burgers PINN: LM against L-BFGS and Adam under one wall-time budget each.

    u_t + u u_x − ν u_xx = 0 on [−1, 1] × [0, 1],  ν = 0.01/π,  u(0, x) = −sin(πx),  u(t, ±1) = 0

The bundled ``burgers`` problem with the paper lineage's sizes (interior, initial and boundary points,
a 2–32–16–32–1 tanh network); each optimizer runs through :func:`pinnlma.run.solve` from the same
seed (same points, same initial parameters) until ``budget_s`` seconds of optimizer time are spent.
Error: relative L2 ‖u − u_ref‖/‖u_ref‖ on the problem's evaluation grid against the Cole–Hopf reference.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...pinn.registry import apply_options, load_problem
from ...run import RunConfig, solve
from .figures import COLORS, LABELS, pyplot, spread, thin
from ..store import write_h5

NAME = "burgers"
OPTIMIZERS = ("lm", "lbfgs", "adam")
SLICES = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class BurgersSize:
    """Sizes of the Burgers experiment."""

    interior: int
    boundary: int  # points per condition (initial; boundary x = ±1)
    widths: tuple[int, ...]
    budget_s: float
    seeds: tuple[int, ...]
    eval_grid: tuple[int, int] = (256, 101)


def burgers_problem(size: BurgersSize) -> Any:
    """The bundled Burgers problem at this size."""
    problem = apply_options(load_problem("burgers"), points=size.interior, boundary_points=size.boundary)
    return problem.with_options(
        model={"widths": list(size.widths), "activation": "tanh"}, eval_grid=tuple(size.eval_grid)
    )


def run(out: Path, size: BurgersSize, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train LM, L-BFGS and Adam for ``size.budget_s`` s each per seed; write burgers.h5 + figures."""
    problem = burgers_problem(size)
    points, reference = problem.evaluation()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runs: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in OPTIMIZERS}
    data: dict[str, Any] = {
        "grid": {"points": points, "reference": reference[:, 0], "shape": np.asarray(size.eval_grid, float)}
    }
    for seed in size.seeds:
        for name in OPTIMIZERS:
            config = RunConfig(optimizer=name, iters=10**9, time_limit=size.budget_s, seed=seed)
            result = solve(problem, config, progress=False)
            h, a = result.record.history, result.record.attrs
            r: dict[str, Any] = {
                "iteration": np.asarray(h["iteration"]),
                "time": np.asarray(h["time"]),
                "loss": np.asarray(h["loss"]),
                "rel_l2": np.asarray(h["rel_l2"]),
                "prediction": np.asarray(result.record.solution["prediction"])[:, 0],
                "final_rel_l2": float(a["final_rel_l2"]),
                "final_loss": float(a["final_loss"]),
                "iterations": int(a["iterations"]),
                "optimizer_s": float(a["elapsed"]),
            }
            runs[name][seed] = r
            n_params, n_rows = int(a["n_params"]), int(a["n_residuals"])
            echo(
                f"  burgers seed {seed} {name:5s}: rel L2 {r['final_rel_l2']:.2e}, loss {r['final_loss']:.2e}, "
                f"{r['iterations']} iterations in {r['optimizer_s']:.0f} s"
            )
            keep = thin(len(r["time"]))
            data.setdefault(name, {})[f"seed{seed}"] = {
                "iteration": r["iteration"][keep],
                "time": r["time"][keep],
                "loss": r["loss"][keep],
                "rel_l2": r["rel_l2"][keep],
                "prediction": r["prediction"],
                "final_rel_l2": r["final_rel_l2"],
                "final_loss": r["final_loss"],
                "iterations": r["iterations"],
            }
    summary = {
        "experiment": NAME,
        "interior": size.interior,
        "boundary": size.boundary,
        "widths": list(size.widths),
        "n_params": n_params,
        "n_residuals": n_rows,
        "budget_s": size.budget_s,
        "seeds": list(size.seeds),
        "nu": float(problem.parameters["nu"]),
        "optimizers": {
            name: {
                "final_rel_l2": spread([r["final_rel_l2"] for r in rs.values()]),
                "final_loss": spread([r["final_loss"] for r in rs.values()]),
                "iterations": spread([r["iterations"] for r in rs.values()]),
            }
            for name, rs in runs.items()
        },
        "at_lm_iterations": _at_lm_iterations(runs),
    }
    seed = size.seeds[0]
    summary["figures"] = [
        _plot_maps(out, points, reference[:, 0], runs, seed, size.eval_grid),
        _plot_slices(out, points, reference[:, 0], runs, seed, size.eval_grid),
        _plot_history(out, runs, size.budget_s, n_params, n_rows),
    ]
    summary["seconds"] = time.perf_counter() - started
    write_h5(out / f"{NAME}.h5", data, summary)
    return summary


def _at_lm_iterations(runs: dict[str, dict[int, dict[str, Any]]]) -> dict[str, Any]:
    """Each optimizer's rel L2 error after as many iterations as LM made in its budget (per-iteration view)."""
    out: dict[str, Any] = {}
    for seed, lm in runs["lm"].items():
        k = int(lm["iteration"][-1])
        row: dict[str, Any] = {"iterations": k}
        for name in OPTIMIZERS:
            r = runs[name][seed]
            ok = np.isfinite(r["rel_l2"]) & (r["iteration"] <= k)
            row[name] = float(r["rel_l2"][ok][-1]) if ok.any() else None
        out[str(seed)] = row
    return out


def _grid(points: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """x, t axes and values as an (nx, nt) array (the grid is C-ordered with t fastest)."""
    x = points[:, 0].reshape(shape)[:, 0]
    t = points[:, 1].reshape(shape)[0, :]
    return x, t, values.reshape(shape)


def _plot_maps(
    out: Path, points: np.ndarray, ref: np.ndarray, runs: dict[str, Any], seed: int, shape: tuple[int, int]
) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(2, 4, figsize=(16, 6.5))
    x, t, u_ref = _grid(points, ref, shape)
    extent = (t[0], t[-1], x[0], x[-1])
    style = {"aspect": "auto", "origin": "lower", "extent": extent}
    im = axes[0, 0].imshow(u_ref, cmap="RdBu_r", vmin=-1, vmax=1, **style)
    axes[0, 0].set_title("reference (Cole–Hopf)")
    fig.colorbar(im, ax=axes[0, 0])
    axes[1, 0].axis("off")
    errs = [np.abs(_grid(points, runs[n][seed]["prediction"], shape)[2] - u_ref) for n in OPTIMIZERS]
    emax = max(float(e.max()) for e in errs)
    for k, name in enumerate(OPTIMIZERS):
        r = runs[name][seed]
        im = axes[0, k + 1].imshow(_grid(points, r["prediction"], shape)[2], cmap="RdBu_r", vmin=-1, vmax=1, **style)
        axes[0, k + 1].set_title(f"{LABELS[name]}: rel L2 {r['final_rel_l2']:.2e}")
        fig.colorbar(im, ax=axes[0, k + 1])
        im = axes[1, k + 1].imshow(errs[k], cmap="magma", vmin=0, vmax=emax, **style)
        axes[1, k + 1].set_title(f"|error|, {LABELS[name]}")
        fig.colorbar(im, ax=axes[1, k + 1])
    for ax in axes.flat:
        ax.set_xlabel("t")
        ax.set_ylabel("x")
    fig.suptitle(f"Burgers u(t, x), seed {seed}")
    fig.tight_layout()
    path = out / "burgers_solutions.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def _plot_slices(
    out: Path, points: np.ndarray, ref: np.ndarray, runs: dict[str, Any], seed: int, shape: tuple[int, int]
) -> str:
    plt = pyplot()
    x, t, u_ref = _grid(points, ref, shape)
    fig, axes = plt.subplots(1, len(SLICES), figsize=(14, 4))
    for ax, ts in zip(axes, SLICES):
        j = int(np.argmin(np.abs(t - ts)))
        ax.plot(x, u_ref[:, j], color="k", lw=2.5, alpha=0.35, label="reference")
        for name in OPTIMIZERS:
            u = _grid(points, runs[name][seed]["prediction"], shape)[2]
            ax.plot(x, u[:, j], color=COLORS[name], lw=1, ls="--" if name != "lm" else "-", label=LABELS[name])
        ax.set_title(f"t = {t[j]:.2f}")
        ax.set_xlabel("x")
        ax.set_ylabel("u")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path = out / "burgers_slices.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _plot_history(out: Path, runs: dict[str, Any], budget: float, n_params: int, n_rows: int) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.3))
    for name in OPTIMIZERS:
        for k, r in enumerate(runs[name].values()):
            ok = np.isfinite(r["rel_l2"])
            label = LABELS[name] if k == 0 else None
            axes[0].semilogy(r["time"][ok], r["rel_l2"][ok], color=COLORS[name], label=label)
            axes[1].semilogy(r["time"], r["loss"], color=COLORS[name], label=label)
            axes[2].loglog(r["iteration"][ok] + 1, r["rel_l2"][ok], color=COLORS[name], label=label)
    axes[0].set_ylabel("relative L2 error")
    axes[1].set_ylabel("loss Σ mean(residual²)")
    axes[2].set_ylabel("relative L2 error")
    axes[2].set_xlabel("iteration + 1")
    axes[2].set_title("per iteration (not per second)")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[:2]:
        ax.set_xlabel("optimizer time [s] (one thread)")
        ax.set_xlim(0, budget)
    fig.suptitle(f"Burgers PINN, {n_params} parameters, {n_rows} residuals, {budget:g} s per optimizer")
    fig.tight_layout()
    path = out / "burgers_history.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
