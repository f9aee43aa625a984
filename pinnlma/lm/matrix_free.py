"""Matrix-free inexact LM: the damped Gauss–Newton system solved by PCG on Jacobian products.

Neither J nor an n×n matrix is formed. Each product with the damped operator costs one
Jacobian–vector product Jv (forward mode) and one vector–Jacobian product Jᵀw (reverse mode) of the
model (:meth:`~pinnlma.lm.core.ResidualModel.j_times`, ``jt_times``); memory is O(m + n·k) for a
rank-k preconditioner, plus one Jacobian slice where the diagonal comes from slices (below).

**Normal form** (:class:`MatrixFreeNormalSystem`). With D = diag(scale), S = D^{-1/2} and v = S u,

    (JᵀJ + λD) v = Jᵀw   ⇔   (Ã + λI) u = S Jᵀw,   Ã = S JᵀJ S,

solved by CG on u ↦ S Jᵀ(J(S u)) + λu. Working in the scaled variables makes Marquardt's scaling
part of the operator (diag Ã ≈ 1) and keeps the stopping rule scale-invariant: CG stops when
‖S(Jᵀw − (JᵀJ + λD)v)‖ ≤ η‖S Jᵀw‖ (:mod:`pinnlma.lm.krylov`). Started from 0, each CG iterate
minimises the LM model over its Krylov subspace, so a truncated step still has a positive predicted
reduction (Steihaug).

**Residual form** (:class:`MatrixFreeResidualSystem`, for n > m). By the push-through identity

    v = D⁻¹Jᵀ y,   (J D⁻¹Jᵀ + λI) y = w,

CG runs on the m-vector y with products y ↦ J(D⁻¹(Jᵀy)) + λy and stops at ‖w − Ky‖ ≤ η‖w‖. Its
vectors and its preconditioner have m entries instead of n. (A truncated residual-space iterate is not
guaranteed a positive predicted reduction; the LM core then counts the step's gain ratio as 0 and
raises λ.)

**The diagonal D** (``MatrixFreeOptions.diagonal``). The core needs diag(JᵀJ) every iteration
(Marquardt's scaling, the first λ, the damping ceiling, the check for a NaN Jacobian):

- ``slices`` (default): exact, from one pass over the model's Jacobian slices per LM iteration
  (memory: one slice, which the model bounds by its memory budget). The same pass gives g = Jᵀr and,
  at no extra products, the Nyström sketch (normal form: Y = JᵀJΩ; residual form: JᵀΩ, finished by a
  second pass once D is known). Cost: one Jacobian per iteration plus 4·m·n·k flops for the sketch.
- ``estimate``: Hutchinson's unbiased estimate diag(JᵀJ) ≈ (1/p) Σᵢ (Jᵀzᵢ)² over p Rademacher probes
  zᵢ (p products Jᵀz), for models whose slices are expensive (rows coupled, so a slice costs a
  backward pass of the whole residual per row). The Nyström sketch then costs k operator products.

Each solve is recorded (:class:`SolveRecord`: CG iterations, achieved relative residual, η, why CG
stopped); the LM core keeps them in its history and its result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.func import jvp

from ..backends.base import LinearSystem, Slices, check_scale
from .krylov import Forcing, pcg
from .preconditioners import NystromApproximation, check_preconditioner, jacobi

DIAGONALS = {
    "slices": "exact diag(JᵀJ) from one pass over the Jacobian slices per iteration",
    "estimate": "Hutchinson estimate of diag(JᵀJ) from `probes` products Jᵀz with Rademacher z",
}
"""How the matrix-free solver obtains diag(JᵀJ) (``MatrixFreeOptions.diagonal``)."""


@dataclass(frozen=True)
class MatrixFreeOptions:
    """Settings of the matrix-free solver (``LMOptions.matrix_free``).

    - ``preconditioner``: 'nystrom' (default), 'jacobi' or 'none' (:data:`~pinnlma.lm.preconditioners.PRECONDITIONERS`);
    - ``rank``: test vectors k of the Nyström sketch (capped at the system's dimension);
    - ``forcing``: 'eisenstat-walker' (default) or a fixed relative tolerance η in (0, 1);
      ``eta_max``/``eta_min`` bound the Eisenstat–Walker η;
    - ``max_iterations``: CG iterations (products with the damped operator) per solve at most;
    - ``diagonal``: 'slices' (exact, default) or 'estimate' (:data:`DIAGONALS`); ``probes``: Hutchinson probes;
    - ``seed``: the random test vectors and probes of iteration i come from seed and i (runs repeat and
      resume exactly).
    """

    preconditioner: str = "nystrom"
    rank: int = 100
    forcing: str | float = "eisenstat-walker"
    eta_max: float = 1e-3
    eta_min: float = 1e-10
    max_iterations: int = 100
    diagonal: str = "slices"
    probes: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        check_preconditioner(self.preconditioner)
        if self.diagonal not in DIAGONALS:
            raise ValueError(f"unknown diagonal {self.diagonal!r}; choose one of {', '.join(DIAGONALS)}")
        for name in ("rank", "max_iterations", "probes"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        Forcing(self.forcing, eta_max=self.eta_max, eta_min=self.eta_min)  # validates the forcing settings


@dataclass(frozen=True)
class SolveRecord:
    """One linear solve of the matrix-free solver: LM iteration (0-based), damping λ, right-hand side
    ('gradient' or 'other', e.g. geodesic acceleration), CG iterations, achieved relative residual, the
    forcing term η asked for, and why CG stopped (a key of :data:`~pinnlma.lm.krylov.CG_STOPS`)."""

    iteration: int
    lam: float
    rhs: str
    iterations: int
    relative_residual: float
    tolerance: float
    stop: str


def linear_summary(records: list[SolveRecord]) -> tuple[int, float]:
    """(CG iterations of all ``records``, achieved relative residual of the last; 0 and NaN for none)."""
    return sum(r.iterations for r in records), records[-1].relative_residual if records else math.nan


class JacobianProducts:
    """Products with the Jacobian J of ``model`` at fixed x, and its slices; counts the products."""

    def __init__(self, model: Any, x: Tensor, m: int) -> None:
        self.model, self.x, self.m = model, x, m
        self.jvps = self.vjps = 0
        own = getattr(model, "j_times", None)
        self._j_times: Callable[[Tensor, Tensor], Tensor] = own if callable(own) else self._generic_j_times

    def _generic_j_times(self, x: Tensor, v: Tensor) -> Tensor:
        return jvp(self.model.residual, (x,), (v,))[1]

    def j(self, v: Tensor) -> Tensor:
        """J v (an m-vector)."""
        self.jvps += 1
        return self._j_times(self.x, v).detach()

    def jt(self, w: Tensor) -> Tensor:
        """Jᵀ w (an n-vector)."""
        self.vjps += 1
        return self.model.jt_times(self.x, w).detach()

    def slices(self) -> Iterator[tuple[Tensor, Tensor]]:
        """A fresh pass over the Jacobian slices of the model at x."""
        return self.model.slices(self.x, self.m)


def _generator(seed: int, iteration: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(iteration))


def _gaussian(rows: int, cols: int, like: Tensor, gen: torch.Generator) -> Tensor:
    return torch.randn(rows, cols, generator=gen, dtype=like.dtype).to(like.device)


def _rademacher(rows: int, cols: int, like: Tensor, gen: torch.Generator) -> Tensor:
    signs = torch.randint(0, 2, (rows, cols), generator=gen).to(like.dtype)
    return (2 * signs - 1).to(like.device)


class MatrixFreeSystem(LinearSystem):
    """Shared parts of the two forms: the pass over the slices, the diagonal, the records, the
    per-scale cache of the preconditioner and the CG call. Subclasses define the operator."""

    form = ""

    def __init__(
        self,
        products: JacobianProducts,
        r: Tensor,
        options: MatrixFreeOptions,
        forcing: Forcing,
        iteration: int = 0,
        slices: Slices | None = None,
    ) -> None:
        self.ops, self.r, self.options, self.forcing = products, r, options, forcing
        self.iteration = iteration
        self.n, self.m = products.x.shape[0], r.shape[0]
        self.fallback_solves = 0
        self.records: list[SolveRecord] = []
        self._gen = _generator(options.seed, iteration)
        self._eta: float | None = None
        self._cached_scale: Tensor | None = None
        self._cached: dict[str, Any] = {}
        self.k = min(options.rank, self.sketch_dimension)
        self.omega = (
            _gaussian(self.sketch_dimension, self.k, r, self._gen) if options.preconditioner == "nystrom" else None
        )
        self.sketch_partial: Tensor | None = None
        if options.diagonal == "slices":
            self._g, self._diag = self._first_pass(self.ops.slices() if slices is None else slices)
        else:
            self._g = self.ops.jt(r)
            self._diag = self._hutchinson_diagonal()

    sketch_dimension: int  # n or m: the space the operator and its preconditioner act on

    # -- the pass over the slices (diagonal="slices") --------------------------------------------------------
    def _first_pass(self, slices: Slices) -> tuple[Tensor, Tensor]:
        g = torch.zeros(self.n, dtype=self.r.dtype, device=self.r.device)
        diag = torch.zeros_like(g)
        offset = 0
        for r_s, j_s in slices:
            g.addmv_(j_s.T, r_s)
            diag.add_((j_s * j_s).sum(dim=0))
            self._sketch_slice(j_s, slice(offset, offset + j_s.shape[0]))
            offset += j_s.shape[0]
        if offset == 0:
            raise ValueError("the Jacobian has no rows: the residual vector is empty")
        return g, diag

    def _sketch_slice(self, j_s: Tensor, rows: slice) -> None:
        """Accumulate this slice's share of the sketch (subclasses)."""

    def _hutchinson_diagonal(self) -> Tensor:
        """(1/p) Σᵢ (Jᵀzᵢ)², zᵢ Rademacher: E[(Jᵀz)_j²] = Σᵢ J_ij² exactly."""
        p = self.options.probes
        z = _rademacher(self.m, p, self.r, self._gen)
        total = torch.zeros(self.n, dtype=self.r.dtype, device=self.r.device)
        for i in range(p):
            col = self.ops.jt(z[:, i])
            total.add_(col * col)
        return total / p

    # -- LinearSystem ----------------------------------------------------------------------------------------
    def gradient(self) -> Tensor:
        """g = Jᵀr (from the pass over the slices, or one product Jᵀr)."""
        return self._g

    def jtj_diagonal(self) -> Tensor:
        """diag(JᵀJ): exact from the slices, or Hutchinson's estimate (``MatrixFreeOptions.diagonal``)."""
        return self._diag

    def curvature(self, v: Tensor) -> float:
        """‖Jv‖² by one Jacobian–vector product."""
        jv = self.ops.j(v)
        return float(jv @ jv)

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
        """v with (JᵀJ + λD) v ≈ Jᵀw (w = r by default), D = diag(``scale``), by PCG to the forcing term; recorded in ``records``."""
        check_scale(scale, self.n)
        scale = scale.to(self._g)
        if self._cached_scale is None or not torch.equal(self._cached_scale, scale):
            self._cached_scale, self._cached = scale.clone(), {}
        if self._eta is None:  # no finer than the dtype resolves (float32: 1.2e-6)
            self._eta = max(self.forcing.next(float(self._g.norm())), 10 * torch.finfo(self._g.dtype).eps)
        rhs = self._rhs(scale, w)
        result = pcg(
            lambda p: self._apply(p, lam, scale),
            rhs,
            rtol=self._eta,
            max_iterations=self.options.max_iterations,
            precondition=self._preconditioner(lam, scale),
        )
        self.records.append(
            SolveRecord(
                self.iteration,
                float(lam),
                "gradient" if w is None else "other",
                result.iterations,
                result.relative_residual,
                self._eta,
                result.stop,
            )
        )
        return self._step(result.x, scale)

    # -- the form-specific parts -----------------------------------------------------------------------------
    def _rhs(self, scale: Tensor, w: Tensor | None) -> Tensor:
        raise NotImplementedError

    def _apply(self, p: Tensor, lam: float, scale: Tensor) -> Tensor:
        raise NotImplementedError

    def _step(self, solution: Tensor, scale: Tensor) -> Tensor:
        raise NotImplementedError

    def operator_diagonal(self, scale: Tensor) -> Tensor:
        """The diagonal of the undamped scaled operator (Ã, or J D⁻¹Jᵀ in residual space) for D =
        diag(``scale``): what the Jacobi preconditioner divides by (plus λ)."""
        raise NotImplementedError

    def nystrom(self, scale: Tensor) -> NystromApproximation:
        """The rank-k Nyström approximation of the scaled operator (Ã, or J D⁻¹Jᵀ in residual space) for
        the damping scale D = diag(``scale``), from the test matrix ``omega``."""
        raise NotImplementedError

    def _preconditioner(self, lam: float, scale: Tensor) -> Callable[[Tensor], Tensor] | None:
        build, apply = PRECONDITIONER_PARTS[self.options.preconditioner]
        if "part" not in self._cached:  # built once per scale; the damping λ enters per solve
            self._cached["part"] = build(self, scale)
        return apply(self._cached["part"], lam)

    def test_matrix(self) -> Tensor:
        """Ω, the Nyström sketch's Gaussian test vectors (drawn when the preconditioner is 'nystrom')."""
        if self.omega is None:
            raise ValueError("this system has no Nyström sketch: its preconditioner is not 'nystrom'")
        return self.omega

    def _sketch_by_products(self, scale: Tensor) -> NystromApproximation:
        """Y = ÃΩ (or GΩ) from k operator products (diagonal='estimate')."""
        omega = self.test_matrix()
        cols = [self._apply(omega[:, i], 0.0, scale) for i in range(self.k)]
        return NystromApproximation(omega, torch.stack(cols, dim=1))


PRECONDITIONER_PARTS: dict[
    str, tuple[Callable[[MatrixFreeSystem, Tensor], Any], Callable[[Any, float], Callable[[Tensor], Tensor] | None]]
] = {
    "none": (lambda system, scale: None, lambda part, lam: None),
    "jacobi": (lambda system, scale: system.operator_diagonal(scale), jacobi),
    "nystrom": (lambda system, scale: system.nystrom(scale), lambda part, lam: part.preconditioner(lam)),
}
"""Per preconditioner name (the keys of PRECONDITIONERS): what is built once per scale D from a
system, and how a solve with damping λ turns it into r ↦ M⁻¹r (None: no preconditioning)."""


class MatrixFreeNormalSystem(MatrixFreeSystem):
    """(JᵀJ + λD) v = Jᵀw by CG in the scaled variables u = D^{1/2} v (module docstring)."""

    form = "normal"

    @property
    def sketch_dimension(self) -> int:  # type: ignore[override]
        """The dimension the CG vectors and the preconditioner live in."""
        return self.n

    def _sketch_slice(self, j_s: Tensor, rows: slice) -> None:
        if self.omega is None:
            return
        if self.sketch_partial is None:
            self.sketch_partial = torch.zeros_like(self.omega)
        self.sketch_partial.add_(j_s.T @ (j_s @ self.omega))  # Y = JᵀJΩ, slice by slice

    def _rhs(self, scale: Tensor, w: Tensor | None) -> Tensor:
        g = self._g if w is None else self.ops.jt(w)
        return g / scale.sqrt()

    def _apply(self, p: Tensor, lam: float, scale: Tensor) -> Tensor:
        s = scale.rsqrt()
        out = s * self.ops.jt(self.ops.j(s * p))
        return out.add_(p, alpha=lam) if lam else out

    def _step(self, solution: Tensor, scale: Tensor) -> Tensor:
        return solution * scale.rsqrt()

    def operator_diagonal(self, scale: Tensor) -> Tensor:
        """See :meth:`MatrixFreeSystem.operator_diagonal`."""
        return self._diag / scale

    def nystrom(self, scale: Tensor) -> NystromApproximation:
        """See :meth:`MatrixFreeSystem.nystrom`."""
        if self.sketch_partial is None:
            return self._sketch_by_products(scale)
        # Ã = S A S with S = D^{-1/2}: Ã(S⁻¹Ω) = S(AΩ), a Nyström sketch of Ã with test matrix S⁻¹Ω
        s = scale.rsqrt().unsqueeze(1)
        return NystromApproximation(self.test_matrix() / s, s * self.sketch_partial)


class MatrixFreeResidualSystem(MatrixFreeSystem):
    """v = D⁻¹Jᵀy with (J D⁻¹Jᵀ + λI) y = w by CG on the m-vector y (module docstring)."""

    form = "residual"

    @property
    def sketch_dimension(self) -> int:  # type: ignore[override]
        """The dimension the CG vectors and the preconditioner live in."""
        return self.m

    def _sketch_slice(self, j_s: Tensor, rows: slice) -> None:
        if self.omega is None:
            return
        if self.sketch_partial is None:
            self.sketch_partial = torch.zeros(self.n, self.k, dtype=j_s.dtype, device=j_s.device)
        self.sketch_partial.add_(j_s.T @ self.omega[rows])  # JᵀΩ; J D⁻¹(JᵀΩ) once D is known

    def _rhs(self, scale: Tensor, w: Tensor | None) -> Tensor:
        return self.r if w is None else w

    def _apply(self, p: Tensor, lam: float, scale: Tensor) -> Tensor:
        out = self.ops.j(self.ops.jt(p) / scale)
        return out.add_(p, alpha=lam) if lam else out

    def _step(self, solution: Tensor, scale: Tensor) -> Tensor:
        return self.ops.jt(solution) / scale

    def operator_diagonal(self, scale: Tensor) -> Tensor:
        """diag(J D⁻¹Jᵀ)_i = Σ_j J_ij²/D_j: a second pass over the slices, or p probes J(D^{-1/2}ζ)."""
        if self.options.diagonal == "slices":
            return torch.cat([(j_s * j_s) @ (1.0 / scale) for _, j_s in self.ops.slices()])
        p = self.options.probes
        zeta = _rademacher(self.n, p, self.r, self._gen)
        total = torch.zeros(self.m, dtype=self.r.dtype, device=self.r.device)
        for i in range(p):
            col = self.ops.j(zeta[:, i] * scale.rsqrt())
            total.add_(col * col)
        return total / p

    def nystrom(self, scale: Tensor) -> NystromApproximation:
        """See :meth:`MatrixFreeSystem.nystrom`."""
        if self.sketch_partial is None:
            return self._sketch_by_products(scale)
        z = self.sketch_partial / scale.unsqueeze(1)  # D⁻¹JᵀΩ
        return NystromApproximation(self.test_matrix(), torch.cat([j_s @ z for _, j_s in self.ops.slices()]))


MATRIX_FREE_SYSTEMS: dict[str, type[MatrixFreeSystem]] = {
    "normal": MatrixFreeNormalSystem,
    "residual": MatrixFreeResidualSystem,
}


class MatrixFreeSolver:
    """Builds one matrix-free system per LM iteration and carries what lives across iterations: the
    options and the forcing term's state (resumable through ``state_dict``)."""

    matrix_free = True

    def __init__(self, options: MatrixFreeOptions | None = None) -> None:
        self.options = options or MatrixFreeOptions()
        self.forcing = Forcing(self.options.forcing, eta_max=self.options.eta_max, eta_min=self.options.eta_min)

    @classmethod
    def from_options(cls, backend: Any, options: MatrixFreeOptions) -> MatrixFreeSolver:
        """The matrix-free solver with ``options`` (it does not use the ``backend``)."""
        return cls(options)

    def system(
        self, form: str, model: Any, x: Tensor, r: Tensor, iteration: int, slices: Slices | None = None
    ) -> MatrixFreeSystem:
        """The damped system of the LM iteration ``iteration`` at parameters x with residual r; ``slices``:
        the Jacobian slices of its one pass (default ``model.slices(x, m)``; unused with diagonal='estimate')."""
        products = JacobianProducts(model, x, r.shape[0])
        return MATRIX_FREE_SYSTEMS[form](products, r, self.options, self.forcing, iteration, slices)

    def state_dict(self) -> dict[str, Any]:
        """The forcing term's state (what lives across iterations)."""
        return {"forcing": self.forcing.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s result."""
        self.forcing.load_state_dict(state.get("forcing", {}))
