"""Causal residual weights in time (Wang, Sankaran, Perdikaris 2022, "Respecting causality is all you need
for training physics-informed neural networks", arXiv:2203.07404).

The time span [t₀, T] of a space-time problem is cut into N_t equal chunks; PDE row j whose point has its
time in chunk i(j) gets the weight

    w_i = exp(−ε · Σ_{k<i} L_k),      L_k = Σ_b mean_{points of PDE block b in chunk k} raw_b²,

(w₀ = 1; a chunk without points adds 0; the block weights do not enter L_k), so a later time only counts
once the residual before it is small. In least squares the rows are scaled, r_j → √w_{i(j)} · r_j, and the
loss is Σ_b w_b · mean(w_i · raw_b²). Condition rows (initial, boundary, data) keep weight 1.

The weights are constants of the objective: they are recomputed from the current θ between iterations
(every ``every`` iterations, and whenever the points change), and each change is followed by the
optimizer's ``refresh()``, so within an LM iteration the Jacobian, the trial residuals and the
actual/predicted reduction ratio all belong to one objective. Weights below √(tiny) of the dtype are held
there, so raw residuals stay recoverable from the rows. The run file keeps the weights (the assembler's
state), so a resumed run continues exactly. Turn it on with ``--causal EPS[:CHUNKS[:EVERY]]`` (e.g.
``--causal 1:32``) or ``run={"causal": "1:32"}`` in the problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .assembler import ResidualAssembler
from .geometry import SpaceTime
from .problem import Problem

__all__ = ["Causal", "chunk_index", "chunk_losses", "chunk_weights", "parse_causal"]


@dataclass(frozen=True)
class Causal:
    """Causal weights with tolerance ``eps`` (ε > 0) over ``chunks`` time chunks (N_t ≥ 1), recomputed
    every ``every`` iterations (≥ 1)."""

    eps: float
    chunks: int = 32
    every: int = 1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.eps) and self.eps > 0) or self.chunks < 1 or self.every < 1:
            raise ValueError(
                f"causal weights need eps > 0 (finite), chunks >= 1 and every >= 1, got eps={self.eps}, "
                f"chunks={self.chunks}, every={self.every}"
            )

    def check(self, problem: Problem) -> None:
        """ValueError unless ``problem`` has a time coordinate (a :class:`~pinnlma.pinn.geometry.SpaceTime`)."""
        if not isinstance(problem.domain, SpaceTime):
            raise ValueError(
                f"--causal weights PDE rows by time, and {problem.name} has no time coordinate (its coordinates: "
                f"{', '.join(problem.domain.names)}); use it on a space-time problem, or drop --causal"
            )

    def due(self, iteration: int, assembler: ResidualAssembler) -> bool:
        """Whether the weights are to be recomputed before iteration ``iteration``: every ``every``
        iterations, and whenever a PDE block has none (new points)."""
        missing = any(assembler.row_weights(name) is None for name, _ in assembler.problem.pde_blocks())
        return missing or iteration % self.every == 0

    def weights(self, assembler: ResidualAssembler, theta: Tensor) -> dict[str, Tensor]:
        """The weights w (one per row) of each PDE block of ``assembler`` at θ."""
        self.check(assembler.problem)
        domain = assembler.problem.domain
        assert isinstance(domain, SpaceTime)
        losses = torch.zeros(self.chunks, dtype=assembler.dtype, device=assembler.device)
        index = {}
        for name, _ in assembler.problem.pde_blocks():
            points = assembler.block_points(name)
            index[name] = chunk_index(points[:, -1], domain.t0, domain.t1, self.chunks)
            raw = assembler.block_residual_at(name, points, theta)
            losses += chunk_losses(index[name], raw * raw, self.chunks)
        w = chunk_weights(losses, self.eps)
        return {name: w[i] for name, i in index.items()}

    def apply(self, assembler: ResidualAssembler, theta: Tensor) -> bool:
        """Recompute and set the weights at θ; whether any changed (then the optimizer must ``refresh()``)."""
        changed = False
        for name, w in self.weights(assembler, theta).items():
            old = assembler.row_weights(name)
            if old is None or not torch.equal(old, w):
                assembler.set_row_weights(name, w)
                changed = True
        return changed


def chunk_index(t: Tensor, t0: float, t1: float, chunks: int) -> Tensor:
    """The chunk (0 … chunks − 1) of each time in ``t``: ⌊chunks · (t − t₀)/(t₁ − t₀)⌋, T in the last."""
    return ((t - t0) * (chunks / (t1 - t0))).floor().clamp(0, chunks - 1).long()


def chunk_losses(index: Tensor, squares: Tensor, chunks: int) -> Tensor:
    """L_k: the mean of ``squares`` over the rows in chunk k (0 for an empty chunk), k = 0 … chunks − 1."""
    total = torch.zeros(chunks, dtype=squares.dtype, device=squares.device).index_add_(0, index, squares)
    count = torch.bincount(index, minlength=chunks).to(squares)
    return total / count.clamp_min(1)


def chunk_weights(losses: Tensor, eps: float) -> Tensor:
    """w_i = exp(−ε Σ_{k<i} L_k) for each chunk i, held at or above √(tiny) of the dtype."""
    before = torch.cat([losses.new_zeros(1), torch.cumsum(losses, 0)[:-1]])
    floor = math.sqrt(torch.finfo(losses.dtype).tiny)
    return torch.exp(-eps * before).clamp_min(floor)


def parse_causal(text: str) -> Causal | None:
    """``--causal`` text → :class:`Causal`: "none" → None, "EPS[:CHUNKS[:EVERY]]" (e.g. "1", "1:32",
    "10:64:5"); ValueError saying the form otherwise."""
    text = text.strip()
    if text == "none":
        return None
    parts = text.split(":")
    try:
        if len(parts) > 3:
            raise ValueError
        eps = float(parts[0])
        counts = [int(p) for p in parts[1:]]
    except ValueError:
        raise ValueError(
            f"--causal takes EPS[:CHUNKS[:EVERY]] (e.g. 1:32: ε = 1 over 32 time chunks, weights updated every "
            f"iteration) or none, got {text!r}"
        ) from None
    return Causal(eps, *counts)
