"""The Levenberg–Marquardt iteration, independent of where residuals come from and of the backend.

One iteration at parameters x with residual r and cost F = ½‖r‖²:

1. A LinearSystem from the solver (:mod:`pinnlma.lm.solvers`): dense (Jacobian slices → backend: normal
   form JᵀJ, or residual space when n > m) or matrix-free (PCG on Jacobian products,
   :mod:`pinnlma.lm.matrix_free`), chosen by memory and shape; g = Jᵀr, D = damping.scaling(diag JᵀJ).
2. Trial loop: solve (JᵀJ + λD) v = g, step h = −v (plus ½·a, the geodesic acceleration, if enabled);
   predicted reduction L(0) − L(h) = −gᵀh − ½‖Jh‖²; actual reduction F(x) − F(x + h).
   Non-finite trial residuals or no reduction reject the step and raise λ; otherwise ρ = actual /
   predicted goes to the damping rule and x ← x + h.
3. Stop on ftol (actual < ftol·F with ρ > ¼), xtol (‖h‖ < xtol·(xtol + ‖x‖)), gtol (‖g‖∞ < gtol),
   a zero residual, the iteration or wall-time limit, a callback, or the damping ceiling; a Jacobian
   with NaN/Inf entries (diag JᵀJ or Jᵀr not finite) stops the run too, saying which parameters. When
   ftol or xtol fires in an iteration whose longer trial steps met NaN/Inf residuals, the steps were cut
   short by that region, not by a minimum: the run stops as ``nonfinite_boundary``, not as converged.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

import torch
from torch import Tensor

from ..backends import Backend, LinearSystem, get_backend
from ..jacobian import DEFAULT_MEMORY_BUDGET
from .damping import Damping, make_damping
from .matrix_free import MatrixFreeOptions, MatrixFreeSystem, SolveRecord
from .solvers import FORMS, SOLVERS, SolverChoice, check_choice, choose_solver, make_solver


class ResidualModel(Protocol):
    """What the LM core needs to see of a problem: r(x), its Jacobian in slices, and its products.

    ``j_times(x, v)`` (J·v, an m-vector) is used by the matrix-free solver only; a model without it
    gets ``torch.func.jvp`` of ``residual``."""

    def residual(self, x: Tensor) -> Tensor: ...

    def slices(self, x: Tensor, m: int) -> Iterator[tuple[Tensor, Tensor]]: ...

    def jt_times(self, x: Tensor, w: Tensor) -> Tensor: ...

    def j_times(self, x: Tensor, v: Tensor) -> Tensor: ...

    def second_directional(self, x: Tensor, v: Tensor) -> Tensor: ...


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
    system is solved (:mod:`pinnlma.lm.solvers`, which also states the auto rule); ``memory_limit``: bytes
    the dense system may take before 'auto' goes matrix-free (None: half the available memory);
    ``matrix_free``: the settings of the matrix-free solver."""

    ftol: float = 1e-15
    xtol: float = 1e-12
    gtol: float = 1e-12
    max_iter: int = 10000
    time_limit: float | None = None
    geodesic: bool = False
    geodesic_alpha: float = 0.75
    form: str = "auto"
    max_trials: int = 64
    solver: str = "auto"
    memory_limit: int | None = None
    matrix_free: MatrixFreeOptions = field(default_factory=MatrixFreeOptions)

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
        if not 0 < self.geodesic_alpha:
            raise ValueError(f"geodesic_alpha must be positive, got {self.geodesic_alpha}")

    def effective(self, dtype: torch.dtype) -> tuple[float, float, float]:
        """Tolerances no finer than the dtype can resolve: eps for the relative cost change (a cost
        change below it is rounding), 10·eps for the relative step. Zero turns a test off."""
        eps = torch.finfo(dtype).eps
        return (max(self.ftol, eps) if self.ftol else 0.0), (max(self.xtol, 10 * eps) if self.xtol else 0.0), self.gtol


HISTORY_KEYS = ("iteration", "time", "cost", "lam", "grad_norm", "step_norm", "trials", "linear_iterations",
                "linear_residual")
"""Per iteration; ``linear_iterations``: CG iterations of all its solves (0 for dense solves),
``linear_residual``: the achieved relative residual of its last solve (NaN for dense solves)."""


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
    linear_residual: float = math.nan


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
    solver_reason: str = ""
    linear_solves: list[SolveRecord] = field(default_factory=list)
    """Every matrix-free solve made by this LMCore (CG iterations, relative residual, η, stop)."""

    @property
    def success(self) -> bool:
        return self.status.converged


@dataclass
class _State:
    x: Tensor
    r: Tensor
    cost: float
    iteration: int = 0
    nfev: int = 1
    njev: int = 0
    elapsed: float = 0.0
    first: bool = True
    status: StopReason = StopReason.RUNNING
    detail: str = ""
    grad: Tensor | None = None
    fallback_solves: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    solves: list[SolveRecord] = field(default_factory=list)


def check_residual(r: Tensor, x: Tensor, m: int | None, where: str) -> None:
    """Shape and dtype contract of r(x): a 1-D tensor of x's dtype and (after the start) fixed length."""
    if not isinstance(r, Tensor):
        raise TypeError(f"the residual function returned {type(r).__name__} {where}; it must return a torch.Tensor")
    if r.ndim != 1:
        raise ValueError(
            f"the residual must be a 1-D tensor, got shape {tuple(r.shape)} {where}; flatten it with .reshape(-1)"
        )
    if r.dtype != x.dtype:
        raise TypeError(
            f"the residual has dtype {r.dtype} but the parameters are {x.dtype} {where}; "
            "make them match (e.g. build data tensors with the parameters' dtype)"
        )
    if m is not None and r.shape[0] != m:
        raise ValueError(f"the residual changed length from {m} to {r.shape[0]} {where}; it must stay fixed")


class LMCore:
    """The LM loop on a :class:`ResidualModel`; :func:`least_squares` and :class:`LevenbergMarquardt`
    are thin front ends over it."""

    def __init__(
        self,
        model: ResidualModel,
        x0: Tensor,
        *,
        damping: str | Damping | None = None,
        backend: str | Backend = "torch",
        options: LMOptions | None = None,
        callback: Callable[[IterationInfo], bool | None] | None = None,
        jacobian_name: str = "",
    ) -> None:
        self.model = model
        self.damping = make_damping(damping)
        self.backend = get_backend(backend)
        self.options = options or LMOptions()
        self.callback = callback
        self.jacobian_name = jacobian_name
        x = x0.detach().clone()
        with torch.no_grad():
            r = model.residual(x)
        check_residual(r, x, None, "at the starting point")
        r = r.detach()
        if not bool(torch.isfinite(r).all()):
            bad = int((~torch.isfinite(r)).sum())
            first = int((~torch.isfinite(r)).nonzero()[0])
            raise NonFiniteResidualError(
                f"the residual has {bad} non-finite entries (NaN/Inf) at the starting point, the first at row {first}; "
                "check the data and the initial parameters"
            )
        self.m, self.n = r.shape[0], x.shape[0]
        self.choice = self._choose_solver(x)
        self.form = self.choice.form
        self.solver = make_solver(self.choice.solver, self.backend, self.options.matrix_free)
        self.state = _State(x=x, r=r, cost=0.5 * float(r @ r))
        self._record(step_norm=0.0, trials=0, grad_norm=math.nan)

    # ---------------------------------------------------------------------------------------------
    def _choose_solver(self, x: Tensor) -> SolverChoice:
        return choose_solver(self.m, self.n, x.element_size(), solver=self.options.solver, form=self.options.form,
                             memory_limit=self.options.memory_limit, device=x.device,
                             slice_bytes=int(getattr(self.model, "memory_budget", DEFAULT_MEMORY_BUDGET)))

    def _build_system(self) -> LinearSystem:
        return self.solver.system(self.form, self.model, self.state.x, self.state.r, self.state.iteration)

    def _trial_residual(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            r = self.model.residual(x)
        check_residual(r, x, self.m, "at a trial point")
        self.state.nfev += 1
        return r.detach()

    def _record(self, *, step_norm: float, trials: int, grad_norm: float, linear_iterations: int = 0,
                linear_residual: float = math.nan) -> None:
        s, h = self.state, self.state.history
        for key, value in (
            ("iteration", s.iteration), ("time", s.elapsed), ("cost", s.cost), ("lam", self.damping.lam),
            ("grad_norm", grad_norm), ("step_norm", step_norm), ("trials", trials),
            ("linear_iterations", linear_iterations), ("linear_residual", linear_residual),
        ):
            h[key].append(float(value))

    # ---------------------------------------------------------------------------------------------
    def step(self) -> StopReason:
        """One iteration (one Jacobian, as many trial steps as it takes). Returns the stop reason,
        RUNNING if the run should go on."""
        s, opts = self.state, self.options
        if s.status is not StopReason.RUNNING:
            return s.status
        started = time.perf_counter()
        ftol, xtol, gtol = opts.effective(s.x.dtype)
        system = self._build_system()
        s.njev += 1
        jtj_diag = system.jtj_diagonal()
        grad = system.gradient()
        s.grad = grad
        status = StopReason.RUNNING
        step_norm, trials, nonfinite_trials = 0.0, 0, 0
        bad = ~torch.isfinite(jtj_diag)  # column sums of J²: which parameters' derivatives are NaN/Inf
        if bool(bad.any()) or not bool(torch.isfinite(grad).all()):
            status, grad_norm = StopReason.NONFINITE_JACOBIAN, math.nan
            columns = bad.nonzero().flatten().tolist()
            where = (f"in {len(columns)} of {self.n} parameter columns (first: parameter {columns[0]})" if columns
                     else "(in Jᵀr)")
            s.detail = (f"{where} at iteration {s.iteration}, so the residual is not differentiable there (e.g. "
                        "sqrt or log at 0, or an overflow); start from other parameters or guard the residual")
        else:
            grad_norm = float(grad.abs().max())
            if grad_norm <= gtol:
                status = StopReason.GTOL
        if status is StopReason.RUNNING:
            scale = self.damping.scaling(jtj_diag)
            if s.first:
                self.damping.start(jtj_diag)
                s.first = False
        while status is StopReason.RUNNING:
            if self.damping.exhausted(jtj_diag) or trials >= opts.max_trials:
                status = StopReason.DAMPING_CEILING
                break
            trials += 1
            h = self._trial_step(system, grad, scale)
            if h is None:
                self.damping.reject()
                continue
            x_new = s.x + h
            r_new = self._trial_residual(x_new)
            cost_new = 0.5 * float(r_new @ r_new) if bool(torch.isfinite(r_new).all()) else math.inf
            nonfinite_trials += cost_new == math.inf
            actual = s.cost - cost_new
            if not actual > 0:
                self.damping.reject()
                h_norm = float(h.norm())
                if h_norm <= torch.finfo(h.dtype).eps * (float(s.x.norm()) + torch.finfo(h.dtype).eps):
                    status = StopReason.XTOL  # the step no longer changes x in this precision
                continue
            predicted = -float(grad @ h) - 0.5 * system.curvature(h)
            rho = actual / predicted if predicted > 0 else 0.0
            self.damping.accept(rho)
            step_norm, x_norm = float(h.norm()), float(s.x.norm())
            old_cost = s.cost
            s.x, s.r, s.cost = x_new, r_new, cost_new
            if cost_new == 0.0:
                status = StopReason.ZERO_RESIDUAL
            elif actual < ftol * old_cost and rho > 0.25:
                status = StopReason.FTOL
            elif step_norm < xtol * (xtol + x_norm):
                status = StopReason.XTOL
            break
        if status in (StopReason.FTOL, StopReason.XTOL) and nonfinite_trials:
            status = StopReason.NONFINITE_BOUNDARY
            s.detail = (f"(iteration {s.iteration + 1}: {nonfinite_trials} trial step(s) gave NaN/Inf, damping "
                        f"{self.damping.lam:.3g}, gradient ‖Jᵀr‖∞ {grad_norm:.3g}); the minimum may lie beyond "
                        "that region: constrain or reparametrize the parameters there, or start elsewhere")
        s.fallback_solves += system.fallback_solves
        solves = system.records if isinstance(system, MatrixFreeSystem) else []
        s.solves.extend(solves)
        linear_iterations = sum(record.iterations for record in solves)
        linear_residual = solves[-1].relative_residual if solves else math.nan
        s.iteration += 1
        s.elapsed += time.perf_counter() - started
        self._record(step_norm=step_norm, trials=trials, grad_norm=grad_norm, linear_iterations=linear_iterations,
                     linear_residual=linear_residual)
        if status is StopReason.RUNNING:
            status = self._limits()
        if status is StopReason.RUNNING and self.callback is not None:
            info = IterationInfo(s.iteration, s.cost, self.damping.lam, grad_norm, step_norm, trials, s.elapsed, s.x,
                                 linear_iterations, linear_residual)
            if self.callback(info):
                status = StopReason.CALLBACK
        s.status = status
        return status

    def _trial_step(self, system: LinearSystem, grad: Tensor, scale: Tensor) -> Tensor | None:
        """h = −v (+ ½·a with geodesic acceleration); None when the solve gave no usable step."""
        lam = self.damping.lam
        v = system.solve(lam, scale)
        if not bool(torch.isfinite(v).all()):
            return None
        h = -v
        if self.options.geodesic:
            r_vv = self.model.second_directional(self.state.x, h)
            if not bool(torch.isfinite(r_vv).all()):
                return None
            accel = -system.solve(lam, scale, r_vv)
            root = scale.to(h).sqrt()
            ratio = 2.0 * float((root * accel).norm()) / max(float((root * h).norm()), 1e-300)
            if not ratio <= self.options.geodesic_alpha:
                return None  # the second-order term dominates: the quadratic model is not trusted here
            h = h + 0.5 * accel
        return h

    def _limits(self) -> StopReason:
        s, opts = self.state, self.options
        if s.iteration >= opts.max_iter:
            return StopReason.MAX_ITER
        if opts.time_limit is not None and s.elapsed >= opts.time_limit:
            return StopReason.TIME_LIMIT
        return StopReason.RUNNING

    def refresh(self) -> None:
        """Re-evaluate r at the current x after the residual function changed (e.g. new points)."""
        with torch.no_grad():
            r = self.model.residual(self.state.x).detach()
        check_residual(r, self.state.x, None, "after a refresh")
        self.state.nfev += 1
        if not bool(torch.isfinite(r).all()):
            raise NonFiniteResidualError("the residual is non-finite at the current parameters after a refresh")
        self.m = r.shape[0]
        choice = self._choose_solver(self.state.x)
        if choice.solver != self.choice.solver:
            self.solver = make_solver(choice.solver, self.backend, self.options.matrix_free)
        self.choice, self.form = choice, choice.form
        self.state.r, self.state.cost = r, 0.5 * float(r @ r)

    def run(self) -> LMResult:
        """Iterate until a stopping rule fires."""
        if self.state.status is StopReason.RUNNING:
            self.state.status = self._limits()
        while self.step() is StopReason.RUNNING:
            pass
        return self.result()

    @property
    def message(self) -> str:
        """Why the run stopped, in words, with the particulars of this stop where there are any."""
        s = self.state
        return MESSAGES[s.status] + (f" {s.detail}" if s.detail else "")

    def result(self) -> LMResult:
        s = self.state
        plan = getattr(self.model, "plan", None)
        return LMResult(
            x=s.x, cost=s.cost, fun=s.r, grad=s.grad, nit=s.iteration, nfev=s.nfev, njev=s.njev,
            status=s.status, message=self.message,
            history={k: list(v) for k, v in s.history.items()},
            time=s.elapsed, jacobian=plan.strategy if plan is not None else self.jacobian_name,
            backend=self.backend.name, form=self.form, fallback_solves=s.fallback_solves,
            solver=self.choice.solver, solver_reason=self.choice.reason, linear_solves=list(s.solves),
        )

    # -- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly (parameters, damping, counters, history)."""
        s = self.state
        return {
            "x": s.x.clone(), "iteration": s.iteration, "nfev": s.nfev, "njev": s.njev, "elapsed": s.elapsed,
            "first": s.first, "status": s.status.value, "history": {k: list(v) for k, v in s.history.items()},
            "damping": self.damping.state_dict(), "fallback_solves": s.fallback_solves, "detail": s.detail,
            "solver": self.solver.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint; the residual is recomputed at the saved parameters."""
        x = state["x"].detach().clone().to(self.state.x)
        if x.shape != self.state.x.shape:
            raise ValueError(f"checkpoint has {x.shape[0]} parameters, this problem has {self.n}")
        r = self._trial_residual(x)
        s = _State(x=x, r=r, cost=0.5 * float(r @ r), iteration=int(state["iteration"]), nfev=int(state["nfev"]),
                   njev=int(state["njev"]), elapsed=float(state["elapsed"]), first=bool(state["first"]),
                   fallback_solves=int(state.get("fallback_solves", 0)), detail=str(state.get("detail", "")))
        length = len(state["history"]["iteration"])
        missing = {"linear_iterations": 0.0, "linear_residual": math.nan}  # checkpoints from before these keys
        s.history = {k: list(map(float, state["history"][k] if k in state["history"] else [missing[k]] * length))
                     for k in HISTORY_KEYS}
        status = StopReason(state.get("status", "running"))
        # a run stopped by a limit may be continued with a larger limit
        s.status = StopReason.RUNNING if status in (StopReason.MAX_ITER, StopReason.TIME_LIMIT,
                                                    StopReason.CALLBACK) else status
        self.damping.load_state_dict(state["damping"])
        self.solver.load_state_dict(state.get("solver") or {})
        self.state = s
