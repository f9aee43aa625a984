"""Experiment 1b — the paper lineage's own protocol on sinc(10x): mini-batches, Keras initialisation.

The public LM-versus-Adam run of the paper's code lineage (tf-levenberg-marquardt's curve-fitting
example) trains a 1–20–1 tanh network on 20000 points of sinc(10x) in mini-batches of 1000 (reshuffled
each epoch here), from Keras' initialisation (Glorot-uniform weights, zero biases):

- Adam, lr 0.01, 1000 epochs (20000 steps), by ``torch.optim.Adam`` on the MSE of each batch;
- LM, 100 epochs (2000 steps), by :class:`pinnlma.LevenbergMarquardt` stepping on each batch
  (r = u(x_b) − y_b; the damping carries over from batch to batch).

After every epoch the MSE over all points is recorded. Paper lineage: LM ≈ 1.0e-8, Adam ≈ 6.6e-4.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...lm import LevenbergMarquardt
from .figures import COLORS, LABELS, plot_median_band, pyplot, spread
from ..store import write_h5

NAME = "minibatch"


@dataclass(frozen=True)
class MinibatchSize:
    """Sizes of the mini-batch experiment."""

    points: int
    batch: int
    seeds: tuple[int, ...]
    epochs: dict[str, int]  # "lm", "adam"
    adam_lr: float = 0.01


def keras_network(seed: int) -> nn.Sequential:
    """1 → 20 (tanh) → 1 in float64, Glorot-uniform weights and zero biases (Keras' Dense default)."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, 20), nn.Tanh(), nn.Linear(20, 1)).double()
    for layer in (net[0], net[2]):
        assert isinstance(layer, nn.Linear)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
    return net


def _mse(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(((net(x) - y) ** 2).mean())


def _train(name: str, seed: int, size: MinibatchSize, x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
    net = keras_network(seed)
    order = torch.Generator().manual_seed(1000 + seed)
    if name == "lm":
        lm = LevenbergMarquardt(net, lambda model, a, b: (model(a) - b).reshape(-1), rowwise=True)
    else:
        adam = torch.optim.Adam(net.parameters(), lr=size.adam_lr)
    mse, times, elapsed = [_mse(net, x, y)], [0.0], 0.0
    for _ in range(size.epochs[name]):
        perm = torch.randperm(len(x), generator=order)
        t0 = time.perf_counter()
        for start in range(0, len(x), size.batch):
            idx = perm[start : start + size.batch]
            xb, yb = x[idx], y[idx]
            if name == "lm":
                lm.step(xb, yb)
            else:
                adam.zero_grad()
                loss = ((net(xb) - yb) ** 2).mean()
                loss.backward()
                adam.step()
        elapsed += time.perf_counter() - t0
        mse.append(_mse(net, x, y))
        times.append(elapsed)
    return {
        "epoch": np.arange(len(mse), dtype=float),
        "time": np.asarray(times),
        "mse": np.asarray(mse),
        "final_mse": mse[-1],
        "optimizer_s": elapsed,
    }


def run(out: Path, size: MinibatchSize, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Mini-batch Adam and LM for every seed; write minibatch.h5 and a figure; return the summary."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    x = torch.linspace(-1, 1, size.points, dtype=torch.float64).unsqueeze(1)
    y = torch.sinc(10 * x)
    runs: dict[str, dict[int, dict[str, Any]]] = {"adam": {}, "lm": {}}
    for seed in size.seeds:
        for name in runs:
            r = _train(name, seed, size, x, y)
            runs[name][seed] = r
            echo(
                f"  minibatch seed {seed} {name:4s}: MSE {r['final_mse']:.2e} after {size.epochs[name]} epochs "
                f"({size.points // size.batch} batches of {size.batch}), {r['optimizer_s']:.1f} s"
            )
    summary = {
        "experiment": NAME,
        "points": size.points,
        "batch": size.batch,
        "seeds": list(size.seeds),
        "epochs": dict(size.epochs),
        "adam_lr": size.adam_lr,
        "optimizers": {
            name: {
                "final_mse": spread([r["final_mse"] for r in rs.values()]),
                "optimizer_s": spread([r["optimizer_s"] for r in rs.values()]),
                "mse_at_epoch": {
                    str(k): spread([r["mse"][k] for r in rs.values()])
                    for k in (10, 100)
                    if k < len(next(iter(rs.values()))["mse"])
                },
            }
            for name, rs in runs.items()
        },
    }
    summary["figures"] = [_plot(out, runs, size)]
    summary["seconds"] = time.perf_counter() - started
    data = {name: {f"seed{s}": {k: v for k, v in r.items()} for s, r in rs.items()} for name, rs in runs.items()}
    write_h5(out / f"{NAME}.h5", data, summary)
    return summary


def _plot(out: Path, runs: dict[str, dict[int, dict[str, Any]]], size: MinibatchSize) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for name, per_seed in runs.items():
        rs = list(per_seed.values())
        epochs = np.arange(max(len(r["mse"]) for r in rs))
        plot_median_band(axes[0], epochs, [r["mse"] for r in rs], COLORS[name], f"{LABELS[name]} (median)", skip=1)
        for k, r in enumerate(rs):
            axes[1].loglog(
                r["time"][1:], r["mse"][1:], color=COLORS[name], lw=0.9, label=LABELS[name] if k == 0 else None
            )
    for level, text in ((1.0e-8, "LM, paper lineage"), (6.6e-4, "Adam, paper lineage")):
        for ax in axes:
            ax.axhline(level, color="0.5", ls=":", lw=0.9)
        axes[0].annotate(text, (1, level), fontsize=7, xytext=(2, 2), textcoords="offset points", color="0.4")
    axes[0].set_xlabel(f"epoch ({size.points // size.batch} mini-batches of {size.batch})")
    axes[1].set_xlabel("optimizer time [s] (one thread)")
    for ax in axes:
        ax.set_ylabel("MSE over all points")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("sinc(10x), 1–20–1 tanh, the paper lineage's mini-batch protocol")
    fig.tight_layout()
    path = out / "minibatch_mse.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
