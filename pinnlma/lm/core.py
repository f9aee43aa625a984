"""The Levenberg–Marquardt iteration (:class:`LMCore`), independent of where residuals come from and of the backend.

One iteration at parameters x with residual r and cost F = ½‖r‖²:

1. A LinearSystem from the solver (:mod:`pinnlma.lm.solvers`): dense (Jacobian slices → backend: normal
   form JᵀJ, or residual space when n > m) or matrix-free (PCG on Jacobian products,
   :mod:`pinnlma.lm.matrix_free`), chosen by memory and shape; g = Jᵀr, D = damping.scaling(diag JᵀJ).
2. Trial loop: solve (JᵀJ + λD) v = g, step h = −v (plus ½·a, the geodesic acceleration, if enabled;
   times η, ``step_scale``, if set);
   predicted reduction L(0) − L(h) = −gᵀh − ½‖Jh‖²; actual reduction F(x) − F(x + h).
   Non-finite trial residuals or no reduction reject the step and raise λ; otherwise ρ = actual /
   predicted goes to the damping rule and x ← x + h.
   ``LMOptions.lambda_search``: a trial tries several λ, keeping the lowest cost; ``frozen_steps``: steps
   on the same Jacobian follow an accepted one (:mod:`pinnlma.lm.trials` says how); ``gram_rows``: JᵀJ from a
   fresh sample of the rows each iteration, Jᵀr from all of them (:mod:`pinnlma.lm.sampled_gram`).
3. Stop on ftol (actual < ftol·F with ρ > ¼), xtol (‖h‖ < xtol·(xtol + ‖x‖)), gtol (‖g‖∞ < gtol),
   a zero residual, the iteration or wall-time limit, a callback, or the damping ceiling; a Jacobian
   with NaN/Inf entries (diag JᵀJ or Jᵀr not finite) stops the run too, saying which parameters. When
   ftol or xtol fires in an iteration whose longer trial steps met NaN/Inf residuals, the steps were cut
   short by that region, not by a minimum: the run stops as ``nonfinite_boundary``, not as converged.

A model whose rows are shared among processes (its ``row_partition``) gives each process its own rows;
costs, finiteness checks, m and Jᵀw are then summed over them (:mod:`pinnlma.lm.row_sums`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..backends import Backend, LinearSystem, get_backend
from .damping import Damping, make_damping
from .matrix_free import MatrixFreeSystem, SolveRecord, linear_summary
from .model import ResidualModel, check_residual
from .options import (
    HISTORY_DEFAULTS,
    HISTORY_KEYS,
    MESSAGES,
    IterationInfo,
    LMOptions,
    LMResult,
    NonFiniteResidualError,
    StopReason,
)
from .phases import PHASES, PhaseCallback, TimedSlices
from .row_sums import RowSums
from .sampled_gram import SampledGramSystem, check_sampling, draw_rows, sample_size, sampled_slices, sampling_note
from .solvers import select_solver
from .trials import Point, best_trial, damped_step, frozen_steps

__all__ = ["PHASES", "LMCore", "PhaseCallback"]


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


class LMCore:
    """The LM loop on a :class:`ResidualModel`; :func:`~pinnlma.least_squares` and
    :class:`~pinnlma.LevenbergMarquardt` are thin front ends over it.

    ``damping``: a rule name or :class:`~pinnlma.lm.damping.Damping` instance (used as it is, not copied);
    ``backend``: a name or :class:`~pinnlma.backends.Backend` (the dense solver's linear algebra);
    ``options.solver``/``options.form`` pick the solver (:attr:`choice`); ``callback(info)`` after each iteration
    (True stops the run); ``on_phase``: timing hook (:data:`PhaseCallback`), also settable later as the
    attribute of the same name. Raises :class:`~pinnlma.lm.options.NonFiniteResidualError` when r(x0)
    holds NaN/Inf and TypeError/ValueError when r breaks its shape or dtype contract.
    """

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
        on_phase: PhaseCallback | None = None,
    ) -> None:
        self.model = model
        self.on_phase = on_phase
        self.damping = make_damping(damping)
        self.backend = get_backend(backend)
        self.options = options or LMOptions()
        self.callback = callback
        self.jacobian_name = jacobian_name
        self.rows = RowSums(model)  # sums over the processes sharing the rows (pinnlma.lm.row_sums)
        x = x0.detach().clone()
        with torch.no_grad():
            r = model.residual(x)
        check_residual(r, x, None, "at the starting point")
        r = r.detach()
        if bad := self.rows.describe_nonfinite(r):
            raise NonFiniteResidualError(
                f"the residual has {bad} at the starting point; check the data and the initial parameters"
            )
        self.m, self.n = r.shape[0], x.shape[0]
        self._choose_solver(x)
        self.state = _State(x=x, r=r, cost=self.rows.cost(r))
        self._record(step_norm=0.0, trials=0, grad_norm=math.nan)

    def _choose_solver(self, x: Tensor, current: Any = None) -> None:
        """Solver and form for the m rows of all processes; shared rows need the dense normal form."""
        self.choice, self.solver = select_solver(
            self.options, self.model, x, self.rows.rows(self.m), self.backend, current
        )
        self.form = self.choice.form
        self.rows.check_solver(self.choice.solver, self.form)
        self._check_gram_sampling()

    def _check_gram_sampling(self) -> None:
        """``gram_rows`` needs the dense normal form on rows one process holds (ValueError otherwise)."""
        check_sampling(
            self.options.gram_rows, self.m, self.choice.solver, self.form, self.choice.reason, self.rows.split
        )

    # ---------------------------------------------------------------------------------------------
    def _build_system(self) -> LinearSystem:
        x = self.state.x
        rows = self._gram_sample()
        slices = self.model.slices(x, self.m) if rows is None else sampled_slices(self.model, x, rows, self.m)
        on_phase = self.on_phase
        if on_phase is not None:
            started, timed = time.perf_counter(), TimedSlices(slices, on_phase)
            system = self._system_from(timed, x, rows)
            used = self.m if rows is None else int(rows.numel())
            on_phase("normal_equations", time.perf_counter() - started - timed.seconds, used)
            return system
        return self._system_from(slices, x, rows)

    def _gram_sample(self) -> Tensor | None:
        """This iteration's rows for the Gauss–Newton matrix (``LMOptions.gram_rows``), None for all rows."""
        s = sample_size(self.options.gram_rows, self.m)
        if s >= self.m:
            return None
        self._check_gram_sampling()  # the options may have changed since the solver was chosen
        return draw_rows(self.m, s, self.options.gram_seed, self.state.iteration)

    def _system_from(self, slices: Iterator[tuple[Tensor, Tensor]], x: Tensor, rows: Tensor | None) -> LinearSystem:
        if rows is None:
            return self.solver.system(self.form, self.model, x, self.state.r, self.state.iteration, slices)
        jt_times = lambda w: self.model.jt_times(x, w)  # noqa: E731
        return SampledGramSystem.build(self.backend, slices, self.n, self.m, jt_times(self.state.r), jt_times)

    def _residual_at(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            r = self.model.residual(x)
        check_residual(r, x, self.m, "at a trial point")
        self.state.nfev += 1
        return r.detach()

    def _trial_residual(self, x: Tensor) -> Tensor:
        if self.on_phase is None:
            return self._residual_at(x)
        started = time.perf_counter()
        r = self._residual_at(x)
        self.on_phase("trial_residual", time.perf_counter() - started, self.m)
        return r

    def _record(
        self, *, step_norm: float, trials: int, grad_norm: float, linear: tuple[int, float] = (0, math.nan)
    ) -> None:
        s, h = self.state, self.state.history
        for key, value in (
            ("iteration", s.iteration),
            ("time", s.elapsed),
            ("cost", s.cost),
            ("lam", self.damping.lam),
            ("grad_norm", grad_norm),
            ("step_norm", step_norm),
            ("trials", trials),
            ("linear_iterations", linear[0]),
            ("linear_residual", linear[1]),
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
            where = (
                f"in {len(columns)} of {self.n} parameter columns (first: parameter {columns[0]})"
                if columns
                else "(in Jᵀr)"
            )
            s.detail = (
                f"{where} at iteration {s.iteration}, so the residual is not differentiable there (e.g. "
                "sqrt or log at 0, or an overflow); start from other parameters or guard the residual"
            )
        else:
            grad_norm = float(grad.abs().max())
            if grad_norm <= gtol:
                status = StopReason.GTOL
        if status is StopReason.RUNNING:
            scale = self.damping.scaling(jtj_diag)
            solve = self._solver(system, scale)
            if s.first:
                self.damping.start(jtj_diag)
                s.first = False
        while status is StopReason.RUNNING:
            if self.damping.exhausted(jtj_diag) or trials >= opts.max_trials:
                status = StopReason.DAMPING_CEILING
                break
            trials += 1
            best, nonfinite = best_trial(
                self.damping.lam,
                opts.lambda_search or (1.0,),
                lambda lam: damped_step(self.model, opts, s.x, scale, lam, solve, self.rows.nonfinite),
                self._trial_point,
            )
            nonfinite_trials += nonfinite
            if best is None:
                self.damping.reject()
                continue
            lam, h, (x_new, r_new, cost_new) = best
            self.damping.adopt(lam)
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
            if opts.frozen_steps:
                point = (x_new, r_new, cost_new)
                h, (x_new, r_new, cost_new) = frozen_steps(
                    opts.frozen_steps, opts.step_scale, lam, h, point, solve, self._trial_point
                )
                actual = s.cost - cost_new
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
            s.detail = (
                f"(iteration {s.iteration + 1}: {nonfinite_trials} trial step(s) gave NaN/Inf, damping "
                f"{self.damping.lam:.3g}, gradient ‖Jᵀr‖∞ {grad_norm:.3g}); the minimum may lie beyond "
                "that region: constrain or reparametrize the parameters there, or start elsewhere"
            )
        s.fallback_solves += system.fallback_solves
        solves = system.records if isinstance(system, MatrixFreeSystem) else []
        s.solves.extend(solves)
        linear = linear_summary(solves)
        s.iteration += 1
        s.elapsed += time.perf_counter() - started
        self._record(step_norm=step_norm, trials=trials, grad_norm=grad_norm, linear=linear)
        if status is StopReason.RUNNING:
            status = self._limits()
        if status is StopReason.RUNNING and self.callback is not None:
            info = IterationInfo(
                s.iteration, s.cost, self.damping.lam, grad_norm, step_norm, trials, s.elapsed, s.x, *linear
            )
            if self.callback(info):
                status = StopReason.CALLBACK
        s.status = status
        return status

    def _trial_point(self, h: Tensor) -> Point:
        """x + h, r there and its cost (inf where r holds NaN/Inf)."""
        x_new = self.state.x + h
        r_new = self._trial_residual(x_new)
        return x_new, r_new, self.rows.cost(r_new)  # +inf where any process's rows hold NaN/Inf

    def _solver(self, system: LinearSystem, scale: Tensor) -> Callable[[float, Tensor | None], Tensor]:
        """``solve(lam, w)``: (JᵀJ + lam·D) v = Jᵀw (w None: r), each call reported as a "solve" phase."""

        def solve(lam: float, w: Tensor | None) -> Tensor:
            if self.on_phase is None:
                return system.solve(lam, scale, w)
            started = time.perf_counter()
            v = system.solve(lam, scale, w)
            self.on_phase("solve", time.perf_counter() - started, 0)
            return v

        return solve

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
        if self.rows.nonfinite(r):
            raise NonFiniteResidualError("the residual is non-finite at the current parameters after a refresh")
        self.m = r.shape[0]
        self._choose_solver(self.state.x, self.solver)
        self.state.r, self.state.cost = r, self.rows.cost(r)

    def resume(self) -> None:
        """Let a stopped run go on: the next :meth:`step` iterates again (limits and tolerances are checked
        afresh after it). For stepping by hand, and for continuing after a stop or a restored checkpoint."""
        self.state.status = StopReason.RUNNING

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
        """The run so far as an :class:`~pinnlma.lm.options.LMResult`."""
        s = self.state
        plan = getattr(self.model, "plan", None)
        return LMResult(
            x=s.x,
            cost=s.cost,
            fun=s.r,
            grad=s.grad,
            nit=s.iteration,
            nfev=s.nfev,
            njev=s.njev,
            status=s.status,
            message=self.message,
            history={k: list(v) for k, v in s.history.items()},
            time=s.elapsed,
            jacobian=plan.strategy if plan is not None else self.jacobian_name,
            backend=self.backend.name,
            form=self.form,
            fallback_solves=s.fallback_solves,
            solver=self.choice.solver,
            solver_reason=self.choice.reason + sampling_note(self.options.gram_rows, self.m),
            linear_solves=list(s.solves),
        )

    # -- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly (parameters, damping, counters, history)."""
        s = self.state
        return {
            "x": s.x.clone(),
            "iteration": s.iteration,
            "nfev": s.nfev,
            "njev": s.njev,
            "elapsed": s.elapsed,
            "first": s.first,
            "status": s.status.value,
            "history": {k: list(v) for k, v in s.history.items()},
            "damping": self.damping.state_dict(),
            "fallback_solves": s.fallback_solves,
            "detail": s.detail,
            "solver": self.solver.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint; the residual is recomputed at the saved parameters."""
        x = state["x"].detach().clone().to(self.state.x)
        if x.shape != self.state.x.shape:
            raise ValueError(f"checkpoint has {x.shape[0]} parameters, this problem has {self.n}")
        r = self._residual_at(x)
        s = _State(
            x=x,
            r=r,
            cost=self.rows.cost(r),
            iteration=int(state["iteration"]),
            nfev=int(state["nfev"]),
            njev=int(state["njev"]),
            elapsed=float(state["elapsed"]),
            first=bool(state["first"]),
            fallback_solves=int(state.get("fallback_solves", 0)),
            detail=str(state.get("detail", "")),
        )
        saved, length = state["history"], len(state["history"]["iteration"])
        s.history = {
            k: list(map(float, saved[k] if k in saved else [HISTORY_DEFAULTS[k]] * length)) for k in HISTORY_KEYS
        }
        status = StopReason(state.get("status", "running"))
        # a run stopped by a limit may be continued with a larger limit
        s.status = (
            StopReason.RUNNING
            if status in (StopReason.MAX_ITER, StopReason.TIME_LIMIT, StopReason.CALLBACK)
            else status
        )
        self.damping.load_state_dict(state["damping"])
        self.solver.load_state_dict(state.get("solver") or {})
        self.state = s
