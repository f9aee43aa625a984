"""Residual-based adaptive collocation: RAR (add where |r| is large) and RAD (redistribute by |r|).

Every ``every`` iterations a pool of ``pool`` candidate points is drawn in the domain (with the
assembler's sampler, whose state the run file keeps), the raw residual of each PDE block is evaluated
there, and

- **rar** (residual-based adaptive refinement, Lu et al. 2021, arXiv:1907.04502): the ``points``
  candidates with the largest |r| join the block, until it holds ``budget`` points (default twice its
  initial count); the points already there stay;
- **rad** (residual-based adaptive distribution, Wu et al. 2023, arXiv:2207.10289): the block's points
  are all replaced by as many candidates drawn without replacement with probability
  p(x) ∝ |r(x)|^k / mean |r|^k + c (k = 1, c = 1 by default), so about 1/(1 + c) of them follow the
  residual and the rest stay spread out.

The choices live in :data:`ADAPTIVE`; a run turns one on with ``--adapt rar:every=25,points=100`` or the
problem's ``run={"adapt": "rad:every=50"}``. Points, sizes and the sampler are in the run file, so a
resumed run continues exactly. Each change is followed by the optimizer's ``refresh()`` (LM re-evaluates r
and re-chooses its solver for the new m).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .assembler import ResidualAssembler

__all__ = ["ADAPTIVE", "Adaptive", "parse_adaptive"]


@dataclass(frozen=True)
class Adaptive:
    """One adaptive collocation rule: ``kind`` in :data:`ADAPTIVE`, applied every ``every`` iterations
    with a pool of ``pool`` candidates; ``points`` added per round and ``budget`` (max points per PDE block,
    None: twice the initial count) for rar; exponent ``k`` and offset ``c`` of the density for rad."""

    kind: str
    every: int = 50
    pool: int = 10000
    points: int = 100
    budget: int | None = None
    k: float = 1.0
    c: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ADAPTIVE:
            raise ValueError(f"unknown adaptive sampling {self.kind!r}; choose one of {', '.join(ADAPTIVE)}")
        if self.every < 1 or self.pool < 1 or self.points < 1 or (self.budget is not None and self.budget < 1):
            raise ValueError(f"adaptive sampling needs every, pool, points and budget >= 1, got {self}")
        if not (self.k >= 0 and self.c >= 0 and self.k + self.c > 0):
            raise ValueError(f"rad needs k >= 0 and c >= 0, not both 0, got k={self.k}, c={self.c}")

    def due(self, iteration: int) -> bool:
        """Whether a round is due after ``iteration`` iterations."""
        return iteration > 0 and iteration % self.every == 0

    def apply(self, assembler: ResidualAssembler, theta: Tensor) -> bool:
        """One round on every PDE block of ``assembler`` at parameters θ; whether any block's points changed."""
        changed = False
        for name, _ in assembler.problem.pde_blocks():
            changed |= ADAPTIVE[self.kind](self, assembler, name, theta)
        return changed


def _pool(assembler: ResidualAssembler, rule: Adaptive, name: str, theta: Tensor) -> tuple[Tensor, Tensor]:
    """(candidates (pool, dim), |raw residual| there)."""
    problem = assembler.problem
    candidates = torch.as_tensor(problem.domain.interior(rule.pool, assembler.sampler), dtype=assembler.dtype)
    return candidates, assembler.block_residual_at(name, candidates, theta).abs()


def _rar(rule: Adaptive, assembler: ResidualAssembler, name: str, theta: Tensor) -> bool:
    current = assembler.block_points(name)
    room = (rule.budget or 2 * assembler.problem.n_interior) - len(current)
    if room <= 0:
        return False
    candidates, size = _pool(assembler, rule, name, theta)
    top = torch.topk(size, min(rule.points, room, len(size))).indices
    assembler.set_block_points(name, torch.cat([current, candidates[top].to(current)]))
    return True


def _rad(rule: Adaptive, assembler: ResidualAssembler, name: str, theta: Tensor) -> bool:
    current = assembler.block_points(name)
    candidates, size = _pool(assembler, rule, name, theta)
    power = size.double() ** rule.k
    density = (power / power.mean().clamp_min(1e-300) + rule.c).cpu().numpy()
    count = min(len(current), len(candidates))
    chosen = assembler.sampler.rng.choice(len(candidates), size=count, replace=False, p=density / density.sum())
    assembler.set_block_points(name, candidates[np.sort(chosen)].to(current))
    return True


ADAPTIVE: dict[str, Callable[[Adaptive, ResidualAssembler, str, Tensor], bool]] = {"rar": _rar, "rad": _rad}
"""Adaptive collocation rule name → one round on one PDE block (the ``--adapt`` choices)."""


def parse_adaptive(text: str) -> Adaptive | None:
    """``--adapt`` text → :class:`Adaptive`: "none" → None; "rar:every=25,points=100,pool=20000,budget=6000";
    "rad:every=50,k=1,c=1". ValueError naming the kinds and settings otherwise."""
    text = text.strip()
    if text == "none":
        return None
    kind, _, rest = text.partition(":")
    if kind not in ADAPTIVE:
        raise ValueError(
            f"unknown adaptive sampling {kind!r} in --adapt {text!r}; choose {', '.join(ADAPTIVE)} or none"
        )
    settings: dict[str, Any] = {}
    types = {f.name: f for f in fields(Adaptive) if f.name != "kind"}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if key not in types or not eq:
            raise ValueError(f"--adapt {text!r}: settings are KEY=VALUE with KEY one of {', '.join(types)}")
        try:
            number: float | int = float(value) if key in ("k", "c") else int(value)
        except ValueError:
            raise ValueError(f"--adapt {text!r}: {key} must be a number, got {value!r}") from None
        settings[key] = number
    return Adaptive(kind, **settings)
