"""Adam on the flat parameter vector: ``torch.optim.Adam``, one update per step."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .base import ResidualFunction, StepReport, check_finite, loss_and_grad, start_vector, state_tensor, state_vector

__all__ = ["Adam"]


class Adam:
    """``torch.optim.Adam`` on the flat parameter vector; one parameter update per :meth:`step`."""

    name = "adam"
    eval_every = 10

    def __init__(
        self,
        model: ResidualFunction,
        x0: Tensor,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.model = model
        self._x = start_vector(x0).requires_grad_(True)
        self._opt = torch.optim.Adam([self._x], lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps)
        self.iteration = 0
        self.evaluations = 0
        self._cache: tuple[Tensor, Tensor] | None = None  # (loss, grad) at the current x

    @property
    def x(self) -> Tensor:
        """The current parameters (detached)."""
        return self._x.detach()

    def _evaluate(self) -> tuple[Tensor, Tensor]:
        if self._cache is None:
            loss, grad = loss_and_grad(self.model, self._x)
            self.evaluations += 1
            check_finite(self.name, float(loss), self.iteration)
            self._cache = (loss, grad)
        return self._cache

    def step(self) -> StepReport:
        """One Adam update; the loss (and gradient) at the new parameters are evaluated once."""
        before = self.evaluations
        _, grad = self._evaluate()
        self._x.grad = grad.clone()
        self._opt.step()
        self._x.grad = None
        self._cache = None
        self.iteration += 1
        loss, _ = self._evaluate()
        return StepReport(loss=float(loss), evaluations=self.evaluations - before)

    def describe(self) -> str:
        """Where the linear algebra runs: torch."""
        return "torch"

    def refresh(self) -> None:
        """Forget the loss and gradient cached at the current point (the points changed)."""
        self._cache = None

    def state_dict(self) -> dict[str, Any]:
        """Parameters, the moment estimates, the step count and the cached loss / gradient."""
        st = self._opt.state.get(self._x, {})
        empty = self._x.new_zeros(0).detach()
        has_moments = "exp_avg" in st
        return {
            "x": self.x.clone(),
            "iteration": self.iteration,
            "evaluations": self.evaluations,
            "step": int(float(st["step"])) if "step" in st else 0,
            "exp_avg": st["exp_avg"].detach().clone() if has_moments else empty.clone(),
            "exp_avg_sq": st["exp_avg_sq"].detach().clone() if has_moments else empty.clone(),
            "loss": float(self._cache[0]) if self._cache is not None else math.nan,
            "grad": self._cache[1].clone() if self._cache is not None else empty.clone(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state_dict` (numpy arrays and scalars accepted)."""
        x = state_vector(state["x"], self._x, "x")
        with torch.no_grad():
            self._x.copy_(x)
        self.iteration, self.evaluations = int(state["iteration"]), int(state["evaluations"])
        exp_avg = state_tensor(state["exp_avg"], self._x).reshape(-1)
        self._opt.state.clear()
        if exp_avg.numel():
            step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
            self._opt.state[self._x] = {
                "step": torch.tensor(float(int(state["step"])), dtype=step_dtype),
                "exp_avg": state_vector(exp_avg, self._x, "exp_avg"),
                "exp_avg_sq": state_vector(state["exp_avg_sq"], self._x, "exp_avg_sq"),
            }
        grad = state_tensor(state["grad"], self._x).reshape(-1)
        self._cache = None
        if grad.numel():
            self._cache = (
                torch.tensor(float(state["loss"]), dtype=self._x.dtype, device=self._x.device),
                state_vector(grad, self._x, "grad"),
            )
