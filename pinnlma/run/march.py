"""Time-marching in growing windows: train on [t₀, t₁], then on [t₀, t₂] from the last window's θ, … up to T.

A PINN of an evolution problem that sees the whole of [t₀, T] at once can settle on a wrong solution that
satisfies the PDE late in time before the initial data have propagated (Wight & Zhao 2020,
arXiv:2007.04542; Krishnapriyan et al. 2021, arXiv:2109.01050). Marching respects causality: window k
trains the *same* network on Ω × [t₀, t_k] (fresh collocation points there, a fresh optimizer state, so LM
starts with a fresh λ) from the parameters window k − 1 ended with. The network keeps the scaling of the
full time span, so θ means the same thing in every window; errors are always reported on the whole domain.

Window k gets the share (t_k − t₀)/(T − t₀) of the run's iteration and time limits, counted from the start
(so windows that grow by equal steps get equal budgets); a window whose optimizer stops early (converged)
hands over at once, and so does one whose loss has reached the run's ``march_tol`` (``--march-tol 1e-9``,
``run={"march_tol": 1e-9}``; default none), so a long run does not spend its early shares on losses far below
what the next window starts from. Turn marching on with ``--march 0.1,0.25,0.5,1`` or ``run={"march": (...)}``
in the problem.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..pinn.geometry import SpaceTime
from ..pinn.problem import Problem

__all__ = ["march_windows", "parse_march", "run_windows", "window_converged", "window_limits", "window_problem"]


def march_windows(problem: Problem, ends: Sequence[float] | None) -> tuple[float, ...]:
    """The window ends t₁ < t₂ < … < T checked against ``problem`` (T appended when missing); () for none.
    ValueError when the domain is not a SpaceTime or an end lies outside (t₀, T]."""
    if not ends:
        return ()
    domain = problem.domain
    if not isinstance(domain, SpaceTime):
        raise ValueError(f"--march needs a space-time problem; {problem.name} has coordinates {domain.names}")
    t0, t1 = domain.t0, domain.t1
    out = [float(t) for t in ends]
    if any(not t0 < t <= t1 * (1 + 1e-12) for t in out) or any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"--march window ends must increase within ({t0:g}, {t1:g}], got {list(ends)}")
    if not math.isclose(out[-1], t1, rel_tol=1e-12, abs_tol=1e-12):
        out.append(t1)
    out[-1] = t1
    return tuple(out)


def parse_march(text: str) -> tuple[float, ...]:
    """``--march`` text → window ends: "none" → (), "0.25,0.5,1" → (0.25, 0.5, 1.0); ValueError otherwise."""
    if text.strip() == "none":
        return ()
    try:
        return tuple(float(t) for t in text.split(","))
    except ValueError:
        raise ValueError(
            f"--march takes comma-separated window end times (e.g. 0.25,0.5,1) or none, got {text!r}"
        ) from None


def run_windows(problem: Problem, march: Sequence[float] | None) -> tuple[float, ...]:
    """The windows of a run: ``march`` (the run's setting; () for none) or, when None, the problem's
    ``run["march"]``; checked by :func:`march_windows`."""
    return march_windows(problem, problem.run.get("march") if march is None else march)


def window_problem(problem: Problem, t_end: float) -> Problem:
    """``problem`` on the window Ω × [t₀, t_end] (same conditions; points are drawn there)."""
    domain = problem.domain
    assert isinstance(domain, SpaceTime)  # march_windows checked it
    if t_end == domain.t1:
        return problem
    return problem.with_options(domain=SpaceTime(domain.space, (domain.t0, t_end), domain.names[-1]))


def window_limits(
    problem: Problem, ends: Sequence[float], k: int, iters: int, time_limit: float | None
) -> tuple[int, float | None]:
    """(iteration limit, time limit) at which window k hands over: the share (t_k − t₀)/(T − t₀) of each."""
    domain = problem.domain
    assert isinstance(domain, SpaceTime)
    share = (ends[k] - domain.t0) / (domain.t1 - domain.t0)
    return math.ceil(iters * share), (None if time_limit is None else time_limit * share)


def window_converged(history: dict[str, list[float]], window_end: float, tol: float) -> bool:
    """Whether the window ending at ``window_end`` has reached the loss ``tol`` (> 0): the last recorded row
    belongs to this window and its loss is at or below ``tol``. Always False for ``tol`` = 0."""
    ends, losses = history.get("window_end", []), history.get("loss", [])
    return tol > 0 and bool(ends) and bool(losses) and ends[-1] == window_end and losses[-1] <= tol
