"""What the LM iteration is told and what it reports: options, stop reasons, per-iteration info, results.

:class:`LMOptions` holds the tolerances and limits (:meth:`LMOptions.unlimited` the settings under which
only the caller stops a run); :class:`StopReason` says why a run stopped and :data:`MESSAGES` says it in
words; :class:`IterationInfo` goes to callbacks after each iteration; :class:`LMResult` is the outcome
of :func:`pinnlma.least_squares` and :meth:`pinnlma.lm.core.LMCore.run`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import torch
from torch import Tensor

from .matrix_free import MatrixFreeOptions, SolveRecord
from .sampled_gram import check_gram_rows
from .solvers import FORMS, SOLVERS, check_choice

__all__ = [
    "HISTORY_DEFAULTS",
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
    """Settings of the LM iteration (see :func:`pinnlma.least_squares` for their meaning).

    ``solver`` ('auto', 'dense', 'matrix-free') and ``form`` ('auto', 'normal', 'residual'): how the damped
    system is solved (:mod:`pinnlma.lm.solvers`, which states the auto rule); ``memory_limit``: bytes the
    dense system may take before 'auto' goes matrix-free (None: half the available memory);
    ``matrix_free``: the matrix-free solver's settings (:class:`~pinnlma.lm.matrix_free.MatrixFreeOptions`).
    """

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
    solver: str = "auto"
    memory_limit: int | None = None
    matrix_free: MatrixFreeOptions = field(default_factory=MatrixFreeOptions)
    lambda_search: tuple[float, ...] = ()
    """Factors f₁, …, f_k: each trial solves for every λ·f_j on the iteration's one system (one
    factorisation and one residual evaluation each) and keeps the trial point of lowest cost; the damping
    rule then continues from that λ (:meth:`~pinnlma.lm.damping.Damping.adopt`). Empty: one λ per trial."""
    frozen_steps: int = 0
    """After an accepted step, up to this many further steps with the same Jacobian, λ and factor,
    h' = −(JᵀJ + λD)⁻¹ J(x)ᵀ r(x_new) (one product Jᵀw, one back-substitution and one residual each),
    each kept while it lowers the cost: the Shamanskii-like LM of Fan (2013), Comput. Optim. Appl. 56, 63-80."""
    gram_rows: int | float | None = None
    """Rows sampled for the Gauss–Newton matrix, afresh each iteration: a count s, or a fraction of the m rows;
    the system is ((m/s)·J_SᵀJ_S + λD) v = Jᵀr with Jᵀr over all rows (:mod:`pinnlma.lm.sampled_gram`).
    None (or s ≥ m): all rows, plain LM. Needs the dense solver in the normal form."""
    gram_seed: int = 0
    """The seed of the row samples (with the iteration number, so a resumed run draws the same rows)."""

    def __post_init__(self) -> None:
        for name in ("ftol", "xtol", "gtol"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_iter < 0:
            raise ValueError(f"max_iter must be >= 0, got {self.max_iter}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(f"time_limit must be a positive number of seconds, got {self.time_limit}")
        check_choice(self.form, FORMS, "form")
        check_choice(self.solver, SOLVERS, "solver")
        if self.memory_limit is not None and not self.memory_limit > 0:
            raise ValueError(f"memory_limit must be a positive number of bytes (or None), got {self.memory_limit}")
        if not isinstance(self.matrix_free, MatrixFreeOptions):
            raise TypeError(f"matrix_free must be a MatrixFreeOptions, got {type(self.matrix_free).__name__}")
        if not self.geodesic_alpha > 0:
            raise ValueError(f"geodesic_alpha must be positive, got {self.geodesic_alpha}")
        if not 0 < self.step_scale <= 2:
            raise ValueError(f"step_scale must be in (0, 2], got {self.step_scale}")
        self.lambda_search = tuple(float(f) for f in self.lambda_search)
        if not all(0 < f < math.inf for f in self.lambda_search):
            raise ValueError(
                f"lambda_search must hold positive finite factors on λ (e.g. (0.1, 1.0, 10.0)), got {self.lambda_search}"
            )
        self.gram_rows = check_gram_rows(self.gram_rows)
        for name in ("gram_seed", "frozen_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")

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


HISTORY_KEYS = (
    "iteration",
    "time",
    "cost",
    "lam",
    "grad_norm",
    "step_norm",
    "trials",
    "linear_iterations",
    "linear_residual",
)
"""Per iteration; ``linear_iterations``: CG iterations of all its solves (0 for dense solves),
``linear_residual``: the achieved relative residual of its last solve (NaN for dense solves)."""

HISTORY_DEFAULTS = {"linear_iterations": 0.0, "linear_residual": math.nan}
"""Values of the series a checkpoint from before them lacks (they are filled in on loading)."""


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
    linear_iterations: int = 0
    """CG iterations of this iteration's solves (matrix-free solver; 0 for dense solves)."""
    linear_residual: float = math.nan
    """Achieved relative residual of its last solve (matrix-free solver; NaN for dense solves)."""


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
    solver: str = ""
    """'dense' or 'matrix-free' (:mod:`pinnlma.lm.solvers`); ``solver_reason`` says why."""
    solver_reason: str = ""
    linear_solves: list[SolveRecord] = field(default_factory=list)
    """Every matrix-free solve made by this LMCore (CG iterations, relative residual, η, stop)."""

    @property
    def success(self) -> bool:
        """True when the run converged (see :attr:`StopReason.converged`)."""
        return self.status.converged
