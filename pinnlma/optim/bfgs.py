"""Dense BFGS on the inverse Hessian with a strong-Wolfe line search (``torch.optim.lbfgs._strong_wolfe``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor
from torch.optim.lbfgs import _strong_wolfe

from .base import ResidualFunction, StepReport, check_finite, loss_and_grad, start_vector, state_tensor, state_vector

__all__ = ["BFGS"]


class _NonFiniteTrial(Exception):
    """A line-search trial point gave a non-finite loss (handled by backtracking)."""

    def __init__(self, t: Any) -> None:
        super().__init__(t)
        self.t = t


class BFGS:
    """Dense BFGS on the inverse Hessian H with a strong-Wolfe line search.

    Update (skipped when yᵀs ≤ ``curvature_eps``·‖y‖‖s‖):  H ← (I − ρsyᵀ) H (I − ρysᵀ) + ρssᵀ, ρ = 1/yᵀs;
    before the first update H = (yᵀs / yᵀy)·I. The first trial step is min(1, 1/‖g‖₁)·``lr`` along −g,
    later ones ``lr`` along −Hg. When −Hg is not a descent direction (H spoiled by rounding) H is reset to
    I; when a trial point's loss is not finite the step is halved until it is (backtracking, Armijo).
    Memory is n² numbers, so this is for small networks (a few thousand parameters).
    """

    name = "bfgs"
    eval_every = 1

    def __init__(
        self,
        model: ResidualFunction,
        x0: Tensor,
        lr: float = 1.0,
        max_ls: int = 25,
        c1: float = 1e-4,
        c2: float = 0.9,
        curvature_eps: float | None = None,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not 0 < c1 < c2 < 1:
            raise ValueError(f"need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
        if max_ls < 1:
            raise ValueError(f"max_ls must be >= 1, got {max_ls}")
        self.model = model
        self.lr, self.max_ls, self.c1, self.c2 = float(lr), int(max_ls), float(c1), float(c2)
        self._x = start_vector(x0)
        self.curvature_eps = torch.finfo(self._x.dtype).eps if curvature_eps is None else float(curvature_eps)
        n = self._x.numel()
        self._H = torch.eye(n, dtype=self._x.dtype, device=self._x.device)
        self._scaled = False  # H still the unscaled identity
        self._f = math.nan
        self._g: Tensor | None = None
        self.iteration = 0
        self.evaluations = 0
        self.updates_skipped = 0

    @property
    def x(self) -> Tensor:
        """The current parameters."""
        return self._x

    def _evaluate(self, x: Tensor) -> tuple[float, Tensor]:
        loss, grad = loss_and_grad(self.model, x)
        self.evaluations += 1
        return float(loss), grad

    def _trial(self, x: Tensor, t: Any, d: Tensor) -> tuple[float, Tensor]:
        f, g = self._evaluate(x + t * d)
        if not (math.isfinite(f) and bool(torch.isfinite(g).all())):
            raise _NonFiniteTrial(t)
        return f, g

    def _backtrack(self, t: Any, d: Tensor, gtd: float) -> tuple[float, Tensor | None, Any]:
        """Halve t (from a step whose loss was not finite) until the loss is finite and decreases enough."""
        t = float(t)
        for _ in range(self.max_ls + 30):
            t *= 0.5
            f, g = self._evaluate(self._x + t * d)
            if math.isfinite(f) and bool(torch.isfinite(g).all()) and f <= self._f + self.c1 * t * gtd:
                return f, g, t
        return math.nan, None, 0.0

    def _reset(self) -> None:
        self._H = torch.eye(self._x.numel(), dtype=self._x.dtype, device=self._x.device)
        self._scaled = False

    def step(self) -> StepReport:
        """One BFGS iteration: d = −Hg, strong-Wolfe line search, inverse-Hessian update."""
        before = self.evaluations
        if self._g is None:  # the starting point, or after refresh()
            self._f, self._g = self._evaluate(self._x)
            check_finite(self.name, self._f, self.iteration)
        self.iteration += 1
        g = self._g
        if not bool(g.any()):  # exactly stationary: nothing to do
            return StepReport(loss=self._f, evaluations=self.evaluations - before)
        d = -(self._H @ g)
        gtd = g.dot(d)
        if not gtd < 0:
            self._reset()
            d = -g
            gtd = g.dot(d)
        t0 = self.lr if self._scaled else min(1.0, 1.0 / float(g.abs().sum())) * self.lr
        try:
            f_new, g_new, t, _ = _strong_wolfe(
                self._trial, self._x, t0, d, self._f, g, gtd, c1=self.c1, c2=self.c2, max_ls=self.max_ls
            )
        except _NonFiniteTrial as err:
            f_new, g_new, t = self._backtrack(err.t, d, float(gtd))
        if g_new is None or not f_new < self._f or float(t) == 0.0:
            # no decrease along d: restart from steepest descent next time, stay at x
            self._reset()
            return StepReport(loss=self._f, evaluations=self.evaluations - before)
        x_new = self._x + t * d
        s, y = x_new - self._x, g_new - g
        ys = float(y.dot(s))
        if ys > self.curvature_eps * float(y.norm()) * float(s.norm()):
            if not self._scaled:
                self._H = torch.eye(s.numel(), dtype=s.dtype, device=s.device) * (ys / float(y.dot(y)))
                self._scaled = True
            rho = 1.0 / ys
            hy = self._H @ y
            a = torch.outer(hy, s)
            self._H = self._H - rho * (a + a.T) + (rho * rho * float(y.dot(hy)) + rho) * torch.outer(s, s)
        else:
            self.updates_skipped += 1
        self._x, self._f, self._g = x_new, f_new, g_new
        check_finite(self.name, self._f, self.iteration)
        return StepReport(loss=self._f, evaluations=self.evaluations - before)

    def describe(self) -> str:
        """Where the linear algebra runs: torch."""
        return "torch"

    def refresh(self) -> None:
        """Forget the loss and gradient cached at the current point (the points changed)."""
        self._g = None
        self._f = math.nan

    def state_dict(self) -> dict[str, Any]:
        """Parameters, loss and gradient there, the inverse Hessian and the counters."""
        empty = self._x.new_zeros(0)
        return {
            "x": self._x.clone(),
            "H": self._H.clone(),
            "scaled": self._scaled,
            "loss": self._f if self._g is not None else math.nan,
            "grad": self._g.clone() if self._g is not None else empty,
            "iteration": self.iteration,
            "evaluations": self.evaluations,
            "updates_skipped": self.updates_skipped,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state_dict` (numpy arrays and scalars accepted)."""
        self._x = state_vector(state["x"], self._x, "x")
        n = self._x.numel()
        H = state_tensor(state["H"], self._x)
        if H.shape != (n, n):
            raise ValueError(f"state has an inverse Hessian of shape {tuple(H.shape)}, expected ({n}, {n})")
        self._H, self._scaled = H, bool(state["scaled"])
        grad = state_tensor(state["grad"], self._x).reshape(-1)
        self._g = state_vector(grad, self._x, "grad") if grad.numel() else None
        self._f = float(state["loss"]) if self._g is not None else math.nan
        self.iteration, self.evaluations = int(state["iteration"]), int(state["evaluations"])
        self.updates_skipped = int(state.get("updates_skipped", 0))
