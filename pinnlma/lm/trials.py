"""The trial steps of one LM iteration on its damped system: the step for one λ (with geodesic acceleration
if enabled), the λ search over candidate dampings, and the frozen-Jacobian steps after an accepted step.

The functions know the system, the options and two callables of the caller's: ``solve(lam, w)`` (the damped
solve (JᵀJ + λD) v = Jᵀw, w None for r, timed by the caller) and ``evaluate(h)`` (the trial point x + h,
its residual and cost, counted by the caller). They hold no state.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .model import ResidualModel
from .options import LMOptions

__all__ = ["Candidate", "Point", "best_trial", "damped_step", "frozen_steps"]

Point = tuple[Tensor, Tensor, float]
"""``(x + h, r(x + h), ½‖r‖²)``, the cost inf where r holds NaN/Inf."""

Candidate = tuple[float, Tensor, Point]
"""``(λ, h, point)``: a trial step, the damping it was solved with and where it lands."""

Solve = Callable[[float, "Tensor | None"], Tensor]
Evaluate = Callable[[Tensor], Point]


def damped_step(
    model: ResidualModel,
    options: LMOptions,
    x: Tensor,
    scale: Tensor,
    lam: float,
    solve: Solve,
    nonfinite: Callable[[Tensor], int] = lambda rows: int((~torch.isfinite(rows)).sum()),
) -> Tensor | None:
    """h = −v, v = (JᵀJ + λD)⁻¹Jᵀr, plus ½·a with geodesic acceleration (a = −(JᵀJ + λD)⁻¹Jᵀr_vv,
    r_vv = d²/dt² r(x + t·h); vetoed when 2‖√D·a‖/‖√D·h‖ > ``geodesic_alpha``), times ``step_scale``;
    None when the solve gave no usable step. ``nonfinite(rows)`` counts the NaN/Inf entries of r_vv (over
    every process sharing the rows, :class:`pinnlma.lm.row_sums.RowSums`)."""
    v = solve(lam, None)
    if not bool(torch.isfinite(v).all()):
        return None
    h = -v
    if options.geodesic:
        r_vv = model.second_directional(x, h)
        if nonfinite(r_vv):
            return None
        accel = -solve(lam, r_vv)
        root = scale.to(h).sqrt()
        ratio = 2.0 * float((root * accel).norm()) / max(float((root * h).norm()), 1e-300)
        if not ratio <= options.geodesic_alpha:
            return None  # the second-order term dominates: the quadratic model is not trusted here
        h = h + 0.5 * accel
    return h if options.step_scale == 1.0 else options.step_scale * h


def best_trial(
    lam0: float, factors: tuple[float, ...], step: Callable[[float], Tensor | None], evaluate: Evaluate
) -> tuple[Candidate | None, int]:
    """One trial: ``step(λ)`` for each λ = lam0·f (f in ``factors``) and its trial point; the candidate of the
    lowest cost (the first of equal ones; None when no solve gave a step) and how many trial points had
    NaN/Inf residuals."""
    best: Candidate | None = None
    nonfinite = 0
    for factor in factors:
        lam = lam0 * factor
        h = step(lam)
        if h is None:
            continue
        point = evaluate(h)
        nonfinite += point[2] == math.inf
        if best is None or point[2] < best[2][2]:
            best = (lam, h, point)
    return best, nonfinite


def frozen_steps(
    count: int, step_scale: float, lam: float, h: Tensor, point: Point, solve: Solve, evaluate: Evaluate
) -> tuple[Tensor, Point]:
    """Up to ``count`` further steps h' = −(JᵀJ + λD)⁻¹ J(x)ᵀ r(x_new) on the same system (same J, λ and
    factor), each kept while it lowers the cost (Fan 2013's Shamanskii-like LM); the total step and its point."""
    for _ in range(count):
        v = solve(lam, point[1])
        if not bool(torch.isfinite(v).all()):
            break
        total = h - (v if step_scale == 1.0 else step_scale * v)
        nxt = evaluate(total)
        if not nxt[2] < point[2]:
            break
        h, point = total, nxt
    return h, point
