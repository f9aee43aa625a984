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
  residual and the rest stay spread out. With ``final=F`` (F > 1) the run's last ``final_share`` of its
  limits (10 % by default; the last window when time-marching) begins with one more round that draws F
  times the points by the same density, and no round follows it: the run ends fitted to a point set F
  times as dense instead of part-way into the fit of a fresh one (:meth:`Adaptive.finish`).

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
    None: twice the initial count) for rar; exponent ``k`` and offset ``c`` of the density for rad, and
    ``final`` (the point multiplier of the closing round, 1 for none) with ``final_share`` (the share of the
    run's limits it leaves to that round) for rad."""

    kind: str
    every: int = 50
    pool: int = 10000
    points: int = 100
    budget: int | None = None
    k: float = 1.0
    c: float = 1.0
    final: int = 1
    final_share: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in ADAPTIVE:
            raise ValueError(f"unknown adaptive sampling {self.kind!r}; choose one of {', '.join(ADAPTIVE)}")
        if self.every < 1 or self.pool < 1 or self.points < 1 or (self.budget is not None and self.budget < 1):
            raise ValueError(f"adaptive sampling needs every, pool, points and budget >= 1, got {self}")
        if not (self.k >= 0 and self.c >= 0 and self.k + self.c > 0):
            raise ValueError(f"rad needs k >= 0 and c >= 0, not both 0, got k={self.k}, c={self.c}")
        if self.final < 1 or not 0 < self.final_share < 1:
            raise ValueError(f"adaptive sampling needs final >= 1 and 0 < final_share < 1, got {self}")
        if self.final > 1 and self.kind != "rad":
            raise ValueError(f"final={self.final} is a rad setting (a denser closing draw); {self.kind} adds points")

    def __repr__(self) -> str:
        """The settings as run files record them; without a closing round, as before it existed (so those
        files resume)."""
        shown = [f.name for f in fields(self) if self.closes or f.name not in ("final", "final_share")]
        return f"Adaptive({', '.join(f'{name}={getattr(self, name)!r}' for name in shown)})"

    def due(self, iteration: int) -> bool:
        """Whether a round is due after ``iteration`` iterations."""
        return iteration > 0 and iteration % self.every == 0

    def apply(self, assembler: ResidualAssembler, theta: Tensor) -> bool:
        """One round on every PDE block of ``assembler`` at parameters θ; whether any block's points changed."""
        changed = False
        for name, _ in assembler.problem.pde_blocks():
            changed |= ADAPTIVE[self.kind](self, assembler, name, theta)
        return changed

    @property
    def closes(self) -> bool:
        """Whether the run ends with a denser closing round (:meth:`finish`)."""
        return self.final > 1

    def check(self, assembler: ResidualAssembler) -> None:
        """ValueError when the pool cannot supply the closing round's ``final`` × points of a PDE block."""
        for name, _ in assembler.problem.pde_blocks() if self.closes else ():
            need = self.final * len(assembler.block_points(name))
            if need > self.pool:
                raise ValueError(
                    f"--adapt {self.kind} with final={self.final} draws {need} points for block {name!r} "
                    f"from a pool of {self.pool}; give pool >= {need}"
                )

    def finish(self, assembler: ResidualAssembler, theta: Tensor) -> None:
        """The closing round: each PDE block's points replaced by ``final`` times as many, drawn from the
        pool by the rad density p ∝ |r|^k / mean |r|^k + c at θ. The caller runs no round after it."""
        for name, _ in assembler.problem.pde_blocks():
            _redistribute(self, assembler, name, theta, self.final * len(assembler.block_points(name)))


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
    _redistribute(rule, assembler, name, theta, len(assembler.block_points(name)))
    return True


def _redistribute(rule: Adaptive, assembler: ResidualAssembler, name: str, theta: Tensor, count: int) -> None:
    """Replace the block's points by ``count`` pool candidates drawn without replacement by the rad density."""
    current = assembler.block_points(name)
    candidates, size = _pool(assembler, rule, name, theta)
    power = size.double() ** rule.k
    density = (power / power.mean().clamp_min(1e-300) + rule.c).cpu().numpy()
    count = min(count, len(candidates))
    chosen = assembler.sampler.rng.choice(len(candidates), size=count, replace=False, p=density / density.sum())
    assembler.set_block_points(name, candidates[np.sort(chosen)].to(current))


ADAPTIVE: dict[str, Callable[[Adaptive, ResidualAssembler, str, Tensor], bool]] = {"rar": _rar, "rad": _rad}
"""Adaptive collocation rule name → one round on one PDE block (the ``--adapt`` choices)."""


def parse_adaptive(text: str) -> Adaptive | None:
    """``--adapt`` text → :class:`Adaptive`: "none" → None; "rar:every=25,points=100,pool=20000,budget=6000";
    "rad:every=50,k=1,c=1,final=3,final_share=0.1". ValueError naming the kinds and settings otherwise."""
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
            number: float | int = float(value) if key in ("k", "c", "final_share") else int(value)
        except ValueError:
            raise ValueError(f"--adapt {text!r}: {key} must be a number, got {value!r}") from None
        settings[key] = number
    return Adaptive(kind, **settings)
