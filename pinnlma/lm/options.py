"""What the LM iteration is told and what it reports: options, stop reasons, per-iteration info, results.

:class:`LMOptions` holds the tolerances and limits (:meth:`LMOptions.unlimited` the settings under which
only the caller stops a run); :class:`StopReason` says why a run stopped and :data:`MESSAGES` says it in
words; :class:`IterationInfo` goes to callbacks after each iteration; :class:`LMResult` is the outcome
of :func:`pinnlma.least_squares` and :meth:`pinnlma.lm.core.LMCore.run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "HISTORY_KEYS",
    "MESSAGES",
    "IterationInfo",
    "LMOptions",
    "LMResult",
    "NonFiniteJacobianError",
    "NonFiniteResidualError",
    "StopReason",
]


class StopReason(str, Enum):
    """Why the iteration stopped; ``converged`` tells whether that counts as success."""

    RUNNING = "running"
    FTOL = "ftol"
    XTOL = "xtol"
    GTOL = "gtol"
    ZERO_RESIDUAL = "zero_residual"
    MAX_ITER = "max_iter"
    TIME_LIMIT = "time_limit"
    DAMPING_CEILING = "damping_ceiling"
    NONFINITE_JACOBIAN = "nonfinite_jacobian"
    NONFINITE_BOUNDARY = "nonfinite_boundary"
    CALLBACK = "callback"

    @property
    def converged(self) -> bool:
        """Whether this stop counts as success (a tolerance met or a zero residual)."""
        return self in (StopReason.FTOL, StopReason.XTOL, StopReason.GTOL, StopReason.ZERO_RESIDUAL)


MESSAGES = {
    StopReason.RUNNING: "not finished",
    StopReason.FTOL: "relative reduction of the cost below ftol",
    StopReason.XTOL: "relative step size below xtol",
    StopReason.GTOL: "gradient infinity-norm below gtol",
    StopReason.ZERO_RESIDUAL: "residual is exactly zero",
    StopReason.MAX_ITER: "iteration limit reached",
    StopReason.TIME_LIMIT: "wall-time limit reached",
    StopReason.DAMPING_CEILING: "damping reached its ceiling without reducing the cost",
    StopReason.NONFINITE_JACOBIAN: "the Jacobian holds NaN/Inf",
    StopReason.NONFINITE_BOUNDARY: "the steps shrank against parameters where the residual is NaN/Inf: not a minimum",
    StopReason.CALLBACK: "stopped by the callback",
}


class NonFiniteResidualError(ValueError):
    """The residual holds NaN or Inf at the starting point."""


class NonFiniteJacobianError(ValueError):
    """The Jacobian holds NaN or Inf (raised by step-by-step front ends; runs stop with a status)."""


@dataclass
class LMOptions:
    """Settings of the LM iteration (see :func:`pinnlma.least_squares` for their meaning)."""

    ftol: float = 1e-15
    xtol: float = 1e-12
    gtol: float = 1e-12
    max_iter: int = 10000
    time_limit: float | None = None
    geodesic: bool = False
    geodesic_alpha: float = 0.75
    form: str = "auto"
    max_trials: int = 64
    step_scale: float = 1.0
    """η in x ← x + η·h (a learning rate on the LM step; the gain ratio is that of the scaled step)."""

    def __post_init__(self) -> None:
        for name in ("ftol", "xtol", "gtol"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_iter < 0:
            raise ValueError(f"max_iter must be >= 0, got {self.max_iter}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be a positive number of seconds, got {self.time_limit}")
        if self.form not in ("auto", "normal", "residual"):
            raise ValueError(f"form must be 'auto', 'normal' or 'residual', got {self.form!r}")
        if not self.geodesic_alpha > 0:
            raise ValueError(f"geodesic_alpha must be positive, got {self.geodesic_alpha}")
        if not 0 < self.step_scale <= 2:
            raise ValueError(f"step_scale must be in (0, 2], got {self.step_scale}")

    @classmethod
    def unlimited(cls, **overrides: Any) -> LMOptions:
        """Options under which only the caller stops the iteration (as ``pinnlma run`` does): no iteration
        limit worth the name and ftol = xtol = gtol = 0; ``overrides`` set other fields (e.g. geodesic)."""
        return cls(**{"max_iter": 10**12, "ftol": 0.0, "xtol": 0.0, "gtol": 0.0, **overrides})

    def effective(self, dtype: torch.dtype) -> tuple[float, float, float]:
        """Tolerances no finer than the dtype can resolve: eps for the relative cost change (a cost
        change below it is rounding), 10·eps for the relative step. Zero turns a test off."""
        eps = torch.finfo(dtype).eps
        return (max(self.ftol, eps) if self.ftol else 0.0), (max(self.xtol, 10 * eps) if self.xtol else 0.0), self.gtol


HISTORY_KEYS = ("iteration", "time", "cost", "lam", "grad_norm", "step_norm", "trials")


@dataclass
class IterationInfo:
    """Handed to callbacks after each iteration."""

    iteration: int
    cost: float
    lam: float
    grad_norm: float
    step_norm: float
    trials: int
    time: float
    x: Tensor


@dataclass
class LMResult:
    """Outcome of a run; ``history`` maps each of HISTORY_KEYS to a list (entry 0 is the start)."""

    x: Tensor
    cost: float
    fun: Tensor
    grad: Tensor | None
    nit: int
    nfev: int
    njev: int
    status: StopReason
    message: str
    history: dict[str, list[float]]
    time: float
    jacobian: str = ""
    backend: str = ""
    form: str = ""
    fallback_solves: int = 0

    @property
    def success(self) -> bool:
        """True when the run converged (see :attr:`StopReason.converged`)."""
        return self.status.converged
