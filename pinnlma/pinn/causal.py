"""Causal residual weights in time (Wang, Sankaran, Perdikaris 2022, "Respecting causality is all you need
for training physics-informed neural networks", arXiv:2203.07404).

The time span [t₀, T] of a space-time problem is cut into N_t equal chunks; PDE row j whose point has its
time in chunk i(j) gets the weight

    w_i = exp(−ε · Σ_{k<i} L_k),      L_k = Σ_b mean_{points of PDE block b in chunk k} raw_b²,

(w₀ = 1; a chunk without points adds 0; the block weights do not enter L_k), so a later time only counts
once the residual before it is small. With a schedule ε₁ < ε₂ < … (``--causal 0.01,0.1,1,10,100:32``) the
ε in force is the first one at which some weight is still ≤ δ (default 0.99), the last once all are passed:
the paper's annealing (Algorithm 1 there moves to the next ε once min_i w_i > δ), read off the current θ.
In least squares the rows are scaled, r_j → √w_{i(j)} · r_j, and the loss is Σ_b w_b · mean(w_i · raw_b²).
Condition rows (initial, boundary, data) keep weight 1.

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


@dataclass(frozen=True, repr=False)
class Causal:
    """Causal weights with tolerance ``eps`` (ε > 0, or an increasing schedule ε₁ < ε₂ < … of them) over
    ``chunks`` time chunks (N_t ≥ 1), recomputed every ``every`` iterations (≥ 1); with a schedule, ε moves
    on once every weight exceeds ``delta`` (0 < δ < 1)."""

    eps: float | tuple[float, ...]
    chunks: int = 32
    every: int = 1
    delta: float = 0.99

    def __post_init__(self) -> None:
        values = tuple(float(e) for e in self.eps) if isinstance(self.eps, (tuple, list)) else (float(self.eps),)
        if not values or not all(math.isfinite(e) and e > 0 for e in values) or self.chunks < 1 or self.every < 1:
            raise ValueError(
                f"causal weights need eps > 0 (finite), chunks >= 1 and every >= 1, got eps={self.eps}, "
                f"chunks={self.chunks}, every={self.every}"
            )
        if any(b <= a for a, b in zip(values, values[1:])):
            raise ValueError(f"a causal eps schedule must increase, got {list(values)}")
        if not 0 < self.delta < 1:
            raise ValueError(f"causal delta (the weight at which eps moves on) must lie in (0, 1), got {self.delta}")
        object.__setattr__(self, "eps", values[0] if len(values) == 1 else values)

    def __repr__(self) -> str:
        delta = f", delta={self.delta!r}" if self.delta != 0.99 else ""
        return f"Causal(eps={self.eps!r}, chunks={self.chunks!r}, every={self.every!r}{delta})"

    @property
    def schedule(self) -> tuple[float, ...]:
        """The tolerances ε₁ < ε₂ < … in order (one for a fixed ε)."""
        return self.eps if isinstance(self.eps, tuple) else (self.eps,)

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

    def tolerance(self, losses: Tensor, occupied: Tensor) -> float:
        """The ε in force for chunk losses L_k: the first of the schedule at which some chunk holding points
        (``occupied``) still has w_i = exp(−ε Σ_{k<i} L_k) ≤ δ, the last once every ε is passed.

        This is the annealing of Wang et al. (their Algorithm 1: ε moves on when min_i w_i > δ), read off
        the current θ, so it needs no state of its own; while the losses fall it is their rule, and where
        they rise again (new points, a new window) it returns to a smaller ε."""
        before = torch.cat([losses.new_zeros(1), torch.cumsum(losses, 0)[:-1]])
        worst = float(before[occupied].max()) if bool(occupied.any()) else 0.0
        for eps in self.schedule:
            if math.exp(-eps * worst) <= self.delta:
                return eps
        return self.schedule[-1]

    def update(self, assembler: ResidualAssembler, theta: Tensor) -> tuple[dict[str, Tensor], float]:
        """The weights w (one per row) of each PDE block of ``assembler`` at θ, and the ε they use."""
        self.check(assembler.problem)
        domain = assembler.problem.domain
        assert isinstance(domain, SpaceTime)
        losses = torch.zeros(self.chunks, dtype=assembler.dtype, device=assembler.device)
        occupied = torch.zeros(self.chunks, dtype=torch.bool, device=assembler.device)
        index = {}
        for name, _ in assembler.problem.pde_blocks():
            points = assembler.block_points(name)
            index[name] = chunk_index(points[:, -1], domain.t0, domain.t1, self.chunks)
            occupied[index[name]] = True
            raw = assembler.block_residual_at(name, points, theta)
            losses += chunk_losses(index[name], raw * raw, self.chunks)
        eps = self.tolerance(losses, occupied)
        w = chunk_weights(losses, eps)
        return {name: w[i] for name, i in index.items()}, eps

    def weights(self, assembler: ResidualAssembler, theta: Tensor) -> dict[str, Tensor]:
        """The weights w (one per row) of each PDE block of ``assembler`` at θ."""
        return self.update(assembler, theta)[0]

    def apply(self, assembler: ResidualAssembler, theta: Tensor) -> float | None:
        """Recompute and set the weights at θ; the ε in force when any weight changed (then the optimizer
        must ``refresh()``), None when none did."""
        weights, eps = self.update(assembler, theta)
        changed = False
        for name, w in weights.items():
            old = assembler.row_weights(name)
            if old is None or not torch.equal(old, w):
                assembler.set_row_weights(name, w)
                changed = True
        return eps if changed else None


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
    """``--causal`` text → :class:`Causal`: "none" → None, "EPS[:CHUNKS[:EVERY[:DELTA]]]" with EPS one
    tolerance or an increasing comma-separated schedule (e.g. "1", "1:32", "10:64:5",
    "0.01,0.1,1,10,100:32:1:0.99"); ValueError saying the form otherwise."""
    text = text.strip()
    if text == "none":
        return None
    parts = text.split(":")
    try:
        if len(parts) > 4:
            raise ValueError
        eps = tuple(float(e) for e in parts[0].split(","))
        counts = [int(p) for p in parts[1:3]]
        delta = [float(parts[3])] if len(parts) == 4 else []
    except ValueError:
        raise ValueError(
            f"--causal takes EPS[:CHUNKS[:EVERY[:DELTA]]] (e.g. 1:32: ε = 1 over 32 time chunks, weights updated "
            f"every iteration; 0.01,0.1,1,10,100:32: that schedule of ε, each until every weight exceeds DELTA, "
            f"default 0.99) or none, got {text!r}"
        ) from None
    return Causal(eps if len(eps) > 1 else eps[0], *counts, *delta)
