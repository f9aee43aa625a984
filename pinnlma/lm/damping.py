"""Damping strategies: how λ and the scaling D of (JᵀJ + λ·diag(D)) v = Jᵀr evolve.

A strategy is a small object with typed hooks called by the LM loop:

- ``scaling(jtj_diag)``: the vector D for this iteration (called once per Jacobian);
- ``start(jtj_diag)``: set the first λ (called once, at the first Jacobian);
- ``accept(rho)``: the trial step reduced the cost; ρ is the gain ratio actual/predicted reduction;
- ``reject()``: the trial step failed (no reduction, non-finite residuals, or a geodesic veto);
- ``exhausted(jtj_diag)``: λ has grown so large that steps can no longer change x: stop.

``state_dict`` / ``load_state_dict`` make a run resumable bit for bit.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from copy import deepcopy
from typing import Any

import torch
from torch import Tensor


class Scaling(ABC):
    """The diagonal D."""

    @abstractmethod
    def __call__(self, jtj_diag: Tensor) -> Tensor: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 - stateless by default
        pass


class IdentityScaling(Scaling):
    """D = I (Levenberg)."""

    def __call__(self, jtj_diag: Tensor) -> Tensor:
        return torch.ones_like(jtj_diag)


class MarquardtScaling(Scaling):
    """D = max(diag(JᵀJ), floor·max diag(JᵀJ)), optionally the running maximum over iterations (Moré).

    The floor keeps D positive for parameters the residual does not (yet) depend on; the running
    maximum makes the scaling invariant to a column that shrinks temporarily, as MINPACK does.
    """

    def __init__(self, floor: float = 1e-10, running_max: bool = True) -> None:
        if not floor > 0:
            raise ValueError(f"floor must be positive, got {floor}")
        self.floor, self.running_max = floor, running_max
        self._max: Tensor | None = None

    def __call__(self, jtj_diag: Tensor) -> Tensor:
        d = jtj_diag.clone()
        if self.running_max:
            if self._max is not None and self._max.shape == d.shape:
                d = torch.maximum(d, self._max.to(d))
            self._max = d.clone()
        top = float(d.max()) if d.numel() else 0.0
        floor = self.floor * top if top > 0 else 1.0
        return d.clamp_min(floor)

    def state_dict(self) -> dict[str, Any]:
        return {"max": None if self._max is None else self._max.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._max = state.get("max")


def _make_scaling(scaling: str | Scaling) -> Scaling:
    if isinstance(scaling, Scaling):
        return scaling
    if scaling == "identity":
        return IdentityScaling()
    if scaling == "marquardt":
        return MarquardtScaling()
    raise ValueError(f"unknown scaling {scaling!r}; choose 'identity' or 'marquardt' or pass a Scaling")


class Damping(ABC):
    """Base class: holds λ and a scaling; subclasses decide how λ moves."""

    def __init__(self, scaling: str | Scaling, lam0: float | None, lambda_max: float) -> None:
        if lam0 is not None and not lam0 > 0:
            raise ValueError(f"initial damping lam0 must be positive, got {lam0}")
        self.scale_rule = _make_scaling(scaling)
        self.lam0 = lam0
        self.lam = lam0 if lam0 is not None else 1e-3
        self.lambda_max = lambda_max
        self._scale: Tensor | None = None

    def scaling(self, jtj_diag: Tensor) -> Tensor:
        self._scale = self.scale_rule(jtj_diag)
        return self._scale

    def start(self, jtj_diag: Tensor) -> None:
        """Default: keep lam0."""

    @abstractmethod
    def accept(self, rho: float) -> None: ...

    @abstractmethod
    def reject(self) -> None: ...

    def exhausted(self, jtj_diag: Tensor) -> bool:
        """λ·max(D) beyond lambda_max·max(diag JᵀJ): the step is pure, vanishing gradient descent."""
        top = float(jtj_diag.max()) if jtj_diag.numel() else 0.0
        scale = float(self._scale.max()) if self._scale is not None else 1.0
        return self.lam * scale > self.lambda_max * max(top, torch.finfo(jtj_diag.dtype).tiny)

    def state_dict(self) -> dict[str, Any]:
        return {"lam": self.lam, "scaling": self.scale_rule.state_dict(), **self._extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lam = float(state["lam"])
        self.scale_rule.load_state_dict(state.get("scaling", {}))
        self._load_extra_state(state)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lam={self.lam:.3g}, scaling={type(self.scale_rule).__name__})"


class _Multiplicative(Damping):
    """λ ← λ/down after a success, λ ← λ·up after a failure."""

    def __init__(self, scaling: str | Scaling, lam0: float, up: float, down: float, lambda_max: float) -> None:
        if not (up > 1 and down > 1):
            raise ValueError(f"up and down factors must exceed 1, got up={up}, down={down}")
        super().__init__(scaling, lam0, lambda_max)
        self.up, self.down = up, down

    def accept(self, rho: float) -> None:
        self.lam = max(self.lam / self.down, 1e-300)

    def reject(self) -> None:
        self.lam *= self.up


class Levenberg(_Multiplicative):
    """Levenberg: (JᵀJ + λI) v = Jᵀr; λ divided by ``down`` on success, multiplied by ``up`` on failure."""

    def __init__(self, lam0: float = 1e-3, up: float = 10.0, down: float = 10.0, lambda_max: float = 1e16) -> None:
        super().__init__("identity", lam0, up, down, lambda_max)


class Marquardt(_Multiplicative):
    """Marquardt: (JᵀJ + λ·diag(JᵀJ)) v = Jᵀr with a floor on the diagonal (scale-invariant steps)."""

    def __init__(
        self,
        lam0: float = 1e-3,
        up: float = 10.0,
        down: float = 10.0,
        floor: float = 1e-10,
        running_max: bool = False,
        lambda_max: float = 1e16,
    ) -> None:
        super().__init__(MarquardtScaling(floor, running_max), lam0, up, down, lambda_max)


class Nielsen(Damping):
    """Gain-ratio rule (Nielsen 1999; Madsen, Nielsen & Tingleff 2004).

    λ₀ = τ·max(diag JᵀJ)/max(D) unless lam0 is given. With ρ = actual / predicted reduction:
    accept when ρ > 0 and set λ ← λ·max(1/3, 1 − (2ρ − 1)³), ν ← 2; on rejection λ ← λ·ν, ν ← 2ν.
    """

    def __init__(
        self,
        scaling: str | Scaling = "marquardt",
        tau: float = 1e-3,
        lam0: float | None = None,
        lambda_max: float = 1e16,
    ) -> None:
        if not tau > 0:
            raise ValueError(f"tau must be positive, got {tau}")
        super().__init__(scaling, lam0, lambda_max)
        self.tau, self.nu = tau, 2.0

    def start(self, jtj_diag: Tensor) -> None:
        if self.lam0 is None:
            scale = self._scale if self._scale is not None else torch.ones_like(jtj_diag)
            top = float(jtj_diag.max())
            self.lam = self.tau * (top / float(scale.max()) if top > 0 else 1.0)

    def accept(self, rho: float) -> None:
        self.lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
        self.lam = max(self.lam, 1e-300)
        self.nu = 2.0

    def reject(self) -> None:
        self.lam *= self.nu
        self.nu *= 2.0

    def _extra_state(self) -> dict[str, Any]:
        return {"nu": self.nu}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.nu = float(state.get("nu", 2.0))


DAMPINGS = {"levenberg": Levenberg, "marquardt": Marquardt, "nielsen": Nielsen}


def make_damping(damping: str | Damping | None, *, copy: bool = False) -> Damping:
    """A fresh strategy from a name ('nielsen', 'levenberg', 'marquardt'); an instance is passed through,
    or with ``copy=True`` deep-copied (what the front ends do, so that a user's instance is a reusable
    template: every run starts from its settings and leaves it untouched)."""
    if damping is None:
        return Nielsen()
    if isinstance(damping, Damping):
        return deepcopy(damping) if copy else damping
    try:
        return DAMPINGS[damping]()
    except KeyError:
        raise ValueError(f"unknown damping {damping!r}; choose one of {', '.join(DAMPINGS)} "
                     "or pass a pinnlma.Damping instance") from None
