"""L-BFGS: ``torch.optim.LBFGS`` with the strong-Wolfe line search, one outer iteration per step.

``max_eval`` is set so the line search really runs: with ``max_iter=1`` torch's default ``max_eval`` (= 1)
would leave it zero evaluations, i.e. no line search at all. Tolerances default to 0 so a run is stopped by its
budget, not by torch's absolute defaults (1e-7 / 1e-9), which stop well before float64 accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .base import ResidualFunction, StepReport, check_finite, loss_and_grad, start_vector, state_tensor, state_vector

__all__ = ["LBFGS"]


# how a number that torch's L-BFGS keeps as either a Python number or a 0-d tensor is stored
_INT, _FLOAT, _TENSOR = 0, 1, 2


def _encode_number(value: Any) -> tuple[Tensor, int]:
    """A Python int / float or a 0-d tensor as (float64 0-d tensor, kind) — exact for all three."""
    if isinstance(value, Tensor):
        return value.detach().to(device="cpu", dtype=torch.float64).reshape(()).clone(), _TENSOR
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float64), _INT
    return torch.tensor(float(value), dtype=torch.float64), _FLOAT


def _decode_number(value: Any, kind: Any, like: Tensor) -> Any:
    kind = int(kind)
    number = float(np.asarray(value.detach().cpu() if isinstance(value, Tensor) else value).reshape(()))
    if kind == _TENSOR:
        return torch.tensor(number, dtype=like.dtype, device=like.device)
    return int(number) if kind == _INT else number


_LBFGS_NUMBERS = ("t", "H_diag")


class LBFGS:
    """``torch.optim.LBFGS`` (strong-Wolfe line search), one outer iteration per :meth:`step`.

    ``lr`` is torch's initial step length, ``max_ls`` the most line-search evaluations per step. The
    loss and gradient at the accepted point are taken from the line search's own evaluation when it
    ended there (the usual case), else evaluated once; the next step starts from them.
    """

    name = "lbfgs"
    eval_every = 10

    def __init__(
        self,
        model: ResidualFunction,
        x0: Tensor,
        lr: float = 1.0,
        history_size: int = 50,
        max_ls: int = 25,
        tolerance_grad: float = 0.0,
        tolerance_change: float = 0.0,
    ) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if history_size < 1:
            raise ValueError(f"history_size must be >= 1, got {history_size}")
        if max_ls < 1:
            raise ValueError(f"max_ls must be >= 1, got {max_ls}")
        self.model = model
        self._x = start_vector(x0).requires_grad_(True)
        self._opt = torch.optim.LBFGS(
            [self._x],
            lr=lr,
            max_iter=1,
            max_eval=1 + max_ls,
            history_size=history_size,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            line_search_fn="strong_wolfe",
        )
        self.history_size = history_size
        self.iteration = 0
        self.evaluations = 0
        self._cache: tuple[Tensor, Tensor] | None = None  # (loss, grad) at the current x
        self._use_cache = False
        self._seen: list[tuple[Tensor, Tensor, Tensor]] = []  # (x, loss, grad) of this step's evaluations

    @property
    def x(self) -> Tensor:
        """The current parameters (detached)."""
        return self._x.detach()

    def _closure(self) -> Tensor:
        if self._use_cache and self._cache is not None:
            self._use_cache = False
            loss, grad = self._cache
        else:
            self._use_cache = False
            loss, grad = loss_and_grad(self.model, self._x)
            self.evaluations += 1
            self._seen.append((self._x.detach().clone(), loss, grad))
        self._x.grad = grad.clone()
        return loss.clone()

    def step(self) -> StepReport:
        """One L-BFGS iteration (direction from the memory, strong-Wolfe line search, memory update)."""
        before = self.evaluations
        if self._cache is None:  # the starting point, or after refresh(): check it before moving
            loss, grad = loss_and_grad(self.model, self._x)
            self.evaluations += 1
            check_finite(self.name, float(loss), self.iteration)
            self._cache = (loss, grad)
        start = self._x.detach().clone()
        self._use_cache, self._seen = True, []
        self._opt.step(self._closure)
        self._x.grad = None
        self.iteration += 1
        x = self._x.detach()
        found = self._cache if torch.equal(x, start) else None  # equal: converged, or no acceptable step
        if found is None:
            found = next(((loss, grad) for xs, loss, grad in reversed(self._seen) if torch.equal(xs, x)), None)
        if found is None:
            found = loss_and_grad(self.model, self._x)
            self.evaluations += 1
        self._seen = []
        self._cache = found
        check_finite(self.name, float(found[0]), self.iteration)
        return StepReport(loss=float(found[0]), evaluations=self.evaluations - before)

    def describe(self) -> str:
        """Where the linear algebra runs: torch."""
        return "torch"

    def refresh(self) -> None:
        """Forget the loss and gradient cached at the current point (the points changed)."""
        self._cache = None

    def state_dict(self) -> dict[str, Any]:
        """Parameters, torch's L-BFGS memory (stacked into fixed-key tensors) and the cached loss."""
        st = self._opt.state.get(self._x, {})
        n, like = self._x.numel(), self._x.detach()
        started = "d" in st
        empty = like.new_zeros(0)
        out: dict[str, Any] = {
            "x": like.clone(),
            "iteration": self.iteration,
            "evaluations": self.evaluations,
            "func_evals": int(st.get("func_evals", 0)),
            "n_iter": int(st.get("n_iter", 0)),
            "started": started,
            "d": st["d"].detach().clone() if started else empty.clone(),
            "prev_flat_grad": st["prev_flat_grad"].detach().clone() if started else empty.clone(),
            "prev_loss": float(st["prev_loss"]) if started else math.nan,
            "old_dirs": torch.stack(st["old_dirs"]).detach().clone()
            if started and st["old_dirs"]
            else like.new_zeros(0, n),
            "old_stps": torch.stack(st["old_stps"]).detach().clone()
            if started and st["old_stps"]
            else like.new_zeros(0, n),
            "ro": torch.stack([torch.as_tensor(v, dtype=like.dtype) for v in st["ro"]]).detach().clone()
            if started and st["ro"]
            else empty.clone(),
            "loss": float(self._cache[0]) if self._cache is not None else math.nan,
            "grad": self._cache[1].clone() if self._cache is not None else empty.clone(),
        }
        for key in _LBFGS_NUMBERS:
            value, kind = _encode_number(st[key]) if started else (torch.tensor(math.nan, dtype=torch.float64), _FLOAT)
            out[key], out[f"{key}_kind"] = value, kind
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state_dict` (numpy arrays and scalars accepted)."""
        like = self._x.detach()
        x = state_vector(state["x"], like, "x")
        with torch.no_grad():
            self._x.copy_(x)
        self.iteration, self.evaluations = int(state["iteration"]), int(state["evaluations"])
        self._opt.state.clear()
        st: dict[str, Any] = {"func_evals": int(state["func_evals"]), "n_iter": int(state["n_iter"])}
        if bool(state["started"]):
            dirs = state_tensor(state["old_dirs"], like).reshape(-1, like.numel())
            stps = state_tensor(state["old_stps"], like).reshape(-1, like.numel())
            ro = state_tensor(state["ro"], like).reshape(-1)
            if not dirs.shape[0] == stps.shape[0] == ro.shape[0]:
                raise ValueError("inconsistent L-BFGS memory in the state (old_dirs, old_stps, ro lengths differ)")
            st.update(
                {
                    "d": state_vector(state["d"], like, "d"),
                    "prev_flat_grad": state_vector(state["prev_flat_grad"], like, "prev_flat_grad"),
                    "prev_loss": float(state["prev_loss"]),
                    "old_dirs": [v.clone() for v in dirs],
                    "old_stps": [v.clone() for v in stps],
                    "ro": [v.clone() for v in ro],
                }
            )
            for key in _LBFGS_NUMBERS:
                st[key] = _decode_number(state[key], state[f"{key}_kind"], like)
        self._opt.state[self._x] = st
        grad = state_tensor(state["grad"], like).reshape(-1)
        self._cache = None
        if grad.numel():
            self._cache = (
                torch.tensor(float(state["loss"]), dtype=like.dtype, device=like.device),
                state_vector(grad, like, "grad"),
            )
