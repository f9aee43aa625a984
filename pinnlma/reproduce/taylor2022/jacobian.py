"""Experiment 4 — Jacobian strategies: time and peak memory of J against batch size (cf. cuPyLMA).

For a small DNN (1 → widths → 1, tanh) and m points of sinc(10x), J = ∂r/∂θ ∈ ℝ^{m×n} of the residual
r_k = u(x_k; θ) − y_k is formed by :class:`pinnlma.JacobianEngine` with each strategy:

- ``forward``: n Jacobian-vector products (vmap over columns) — cost ≈ n forward passes, memory ≈ n×
  the activations (all tangents at once), so it is run only up to ``forward_max``;
- ``reverse``: m vector-Jacobian products of the whole residual — cost ≈ m backward passes of all m
  rows, O(m²); it also builds an m-wide cotangent basis per slice, so it is run only up to ``reverse_max``;
- ``rowwise``: vmap over rows of the one-row reverse Jacobian — cost ≈ one backward pass per row;
- ``auto``: the engine's own choice (:func:`pinnlma.choose_strategy`; the chosen strategy is recorded).

Each (strategy, m) is measured in a freshly forked process. Peak memory: the growth of the process's
resident-set high-water mark over the first call (Linux /proc: VmHWM reset through clear_refs), so it
includes J itself (m·n·8 bytes) and every temporary (after a warm-up on 16 rows). Time: median of ``repeats`` further calls of
``engine.full``.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from ...lm import JacobianEngine
from ...machine import peak_rss_bytes, reset_peak_rss, rss_bytes
from .figures import pyplot
from ..store import write_h5

NAME = "jacobian"
STRATEGIES = ("forward", "reverse", "rowwise", "auto")
STYLE = {"forward": ("C0", "o"), "reverse": ("C1", "s"), "rowwise": ("C2", "^"), "auto": ("k", "x")}


@dataclass(frozen=True)
class JacobianSize:
    """Sizes of the Jacobian-strategy experiment."""

    widths: tuple[int, ...]
    batches: tuple[int, ...]
    reverse_max: int
    forward_max: int | None = None  # forward mode vmaps all n tangents at once: ~n× the activations' memory
    repeats: int = 3


def _network(widths: tuple[int, ...], seed: int = 0) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    sizes = [1, *widths, 1]
    layers: list[torch.nn.Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=torch.float64))
        if k < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def _engine(net: torch.nn.Module, strategy: str, m: int) -> tuple[JacobianEngine, torch.Tensor]:
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def residual(p: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        tensors, start = {}, 0
        for name, shape in zip(names, shapes):
            tensors[name] = p[start : start + shape.numel()].reshape(shape)
            start += shape.numel()
        return (functional_call(net, tensors, (x,)) - y).reshape(-1)

    x = torch.linspace(-1, 1, m, dtype=torch.float64).unsqueeze(1)
    return JacobianEngine(residual, (x, torch.sinc(10 * x)), strategy=strategy, rowwise=True), theta


def _measure(widths: tuple[int, ...], strategy: str, m: int, repeats: int) -> dict[str, Any]:
    """In this (fresh) process, after a warm-up on 16 rows: peak-memory growth of the first
    ``engine.full`` call at m rows (J and every temporary), then the median time of ``repeats`` further
    calls; and the strategy actually used."""
    net = _network(widths)
    warm, theta = _engine(net, strategy, min(m, 16))
    warm.full(theta)  # one-off set-up (lazy imports, vmap machinery) is not the Jacobian's memory
    engine, theta = _engine(net, strategy, m)
    gc.collect()
    _trim()
    base = rss_bytes()
    ok = reset_peak_rss()
    _, jac = engine.full(theta)
    top = peak_rss_bytes()
    del jac
    peak = float(top - base) if ok and base is not None and top is not None else None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        engine.full(theta)
        times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "peak": peak, "plan": engine.plan.strategy if engine.plan else ""}


def _trim() -> None:
    """Hand free heap memory back to the system (glibc malloc_trim), so that memory freed earlier in this
    process — or inherited from the parent — is not silently reused and hidden from the peak."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _child(queue: Any, *args: Any) -> None:
    torch.set_num_threads(1)
    queue.put(_measure(*args))


def _isolated(widths: tuple[int, ...], strategy: str, m: int, repeats: int) -> dict[str, Any]:
    """:func:`_measure` in a forked child, so that one measurement's allocations cannot leak into the
    next; falls back to this process where fork is unavailable."""
    import multiprocessing as mp

    if "fork" not in mp.get_all_start_methods():
        return _measure(widths, strategy, m, repeats)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, widths, strategy, m, repeats))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def run(out: Path, size: JacobianSize, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Time and peak memory of every strategy at every batch size; write jacobian.h5 + figure."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    net = _network(size.widths)
    n = sum(p.numel() for p in net.parameters())
    rows: dict[str, dict[str, list[float]]] = {s: {"batch": [], "seconds": [], "peak_bytes": []} for s in STRATEGIES}
    chosen: dict[str, str] = {}
    for m in size.batches:
        for strategy in STRATEGIES:
            if strategy == "reverse" and m > size.reverse_max:
                continue
            if strategy == "forward" and size.forward_max is not None and m > size.forward_max:
                continue
            measured = _isolated(tuple(size.widths), strategy, m, size.repeats)
            seconds, peak = measured["seconds"], measured["peak"]
            if strategy == "auto":
                chosen[str(m)] = measured["plan"]
            rows[strategy]["batch"].append(m)
            rows[strategy]["seconds"].append(seconds)
            rows[strategy]["peak_bytes"].append(np.nan if peak is None else peak)
        echo(
            f"  jacobian m={m:6d}: "
            + ", ".join(
                f"{s} {rows[s]['seconds'][-1] * 1e3:.1f} ms"
                for s in STRATEGIES
                if rows[s]["batch"] and rows[s]["batch"][-1] == m
            )
            + f" (auto → {chosen[str(m)]})"
        )
    auto_vs_best = {}  # time of the strategy auto chose (measured on its own) / the fastest strategy's
    for m in size.batches:
        timing = {s: rows[s]["seconds"][rows[s]["batch"].index(m)] for s in STRATEGIES[:3] if m in rows[s]["batch"]}
        pick = chosen[str(m)]
        auto_vs_best[str(m)] = timing[pick] / min(timing.values()) if pick in timing else None
    summary = {
        "experiment": NAME,
        "widths": list(size.widths),
        "n_params": n,
        "batches": list(size.batches),
        "reverse_max": size.reverse_max,
        "forward_max": size.forward_max,
        "repeats": size.repeats,
        "auto_choice": chosen,
        "auto_vs_best": auto_vs_best,
        "results": rows,
        "seconds": time.perf_counter() - started,
    }
    summary["figures"] = [_plot(out, rows, n, size.widths)]
    write_h5(out / f"{NAME}.h5", {s: {k: np.asarray(v, float) for k, v in r.items()} for s, r in rows.items()}, summary)
    return summary


def _plot(out: Path, rows: dict[str, dict[str, list[float]]], n: int, widths: tuple[int, ...]) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for s, r in rows.items():
        color, marker = STYLE[s]
        kw = {"color": color, "marker": marker, "ls": ":" if s == "auto" else "-", "label": s}
        axes[0].loglog(r["batch"], r["seconds"], **kw)
        mem = np.asarray(r["peak_bytes"], float) / 2**20
        ok = np.isfinite(mem) & (mem > 0)
        axes[1].loglog(np.asarray(r["batch"])[ok], mem[ok], **kw)
    b = np.asarray(rows["forward"]["batch"], float)
    axes[1].loglog(b, b * n * 8 / 2**20, color="0.6", ls="--", label="size of J (m·n·8 B)")
    axes[0].set_ylabel("time to form J [s]")
    axes[1].set_ylabel("peak memory growth [MiB]")
    for ax in axes:
        ax.set_xlabel("batch size m (rows of J)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Jacobian strategies, DNN 1–{'–'.join(map(str, widths))}–1 tanh ({n} parameters), one thread")
    fig.tight_layout()
    path = out / "jacobian_strategies.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
