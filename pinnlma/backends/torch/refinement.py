"""Mixed-precision normal equations: JᵀJ from single-precision products, solves refined to full precision.

LAPACK's ``dsposv`` idea, applied to the damped Gauss–Newton system K v = b with K = JᵀJ + diag(shift):
form Ã = JᵀJ and factor M = Ã + diag(shift) entirely in float32 (products at twice the flops per second
of float64 on CPUs, 2–64× on GPUs; half the memory and half the Cholesky time), then refine against the
exact operator, applied through the kept rows of J in the Jacobian's own precision:

    x₀ = M⁻¹b,    x_{k+1} = x_k + M⁻¹(b − K x_k),    K x = Jᵀ(J x) + shift ⊙ x.

Each sweep shrinks the error by about ‖M⁻¹(K − M)‖ ≈ κ(M)·u₃₂ (measured along the sinc fit of the
benchmarks: 1e-7 to 1e-3), so a few sweeps reach the backward error of a direct float64 Cholesky solve.
Stop test (dsposv's): ‖b − Kx‖∞ ≤ ‖x‖∞ · ‖K‖∞ · ε · √n. The quadratic form vᵀJᵀJv = ‖Jv‖² and diag(JᵀJ)
are also computed from J in full precision, so the LM core sees a float64 system throughout.

When M is not positive definite, or the sweeps stop contracting (κ(M)·u₃₂ near 1, late in a fit when λ
is tiny), the system is rebuilt from the kept rows with full-precision products, and ``on_breakdown``
tells the backend, which then forms JᵀJ in full precision from the next iteration on.

Memory: the rows of J are kept for the matrix–vector products, m·n numbers on top of the n×n matrix —
use it where J fits (the benchmark's sinc fit: 31 MB).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..base import LinearSystem, Slices, check_scale, warn_fallback
from .normal_matrix import DenseNormalMatrix, PackedNormalMatrix, normal_matrix

MAX_SWEEPS = 10
"""Refinement sweeps before giving up on a system (each must at least halve the residual)."""


class RefinedNormalSystem(LinearSystem):
    """A = JᵀJ from ``gram_dtype`` products; every solve refined to the Jacobian's precision."""

    form = "normal"

    def __init__(
        self,
        slices: Slices,
        n: int,
        jt_times: Callable[[Tensor], Tensor],
        gram_dtype: torch.dtype,
        on_breakdown: Callable[[], None] | None = None,
    ) -> None:
        self.n, self.m = n, 0
        self._jt_times = jt_times
        self._on_breakdown = on_breakdown
        self.rows: list[Tensor] = []
        matrix: PackedNormalMatrix | DenseNormalMatrix | None = None
        g: Tensor | None = None
        diag: Tensor | None = None
        for r_s, j_s in slices:
            if matrix is None or g is None or diag is None:
                matrix = normal_matrix(n, gram_dtype, j_s.device)
                g = torch.zeros(n, dtype=j_s.dtype, device=j_s.device)
                diag = torch.zeros(n, dtype=j_s.dtype, device=j_s.device)
            j_s = j_s.detach()
            matrix.add_rows(j_s.to(gram_dtype))  # Ã += J_sᵀ J_s, all in gram_dtype
            g.addmv_(j_s.T, r_s)  # g += J_sᵀ r_s
            diag += torch.linalg.vector_norm(j_s, dim=0).square()
            self.rows.append(j_s)
            self.m += r_s.shape[0]
        if matrix is None or g is None or diag is None:
            raise ValueError("the Jacobian has no rows: the residual vector is empty")
        self.diag, self.g = diag, g
        matrix.finish(diag)
        self.matrix: PackedNormalMatrix | DenseNormalMatrix = matrix
        self.exact = False  # True once rebuilt with full-precision products
        self.sweeps: list[int] = []  # refinement sweeps each solve needed
        self.fallback_solves = 0
        self._norm_a: float | None = None
        self._last: tuple[Tensor, float] | None = None  # (x, ‖Jx‖²) of the last refined solve

    @property
    def jtj(self) -> Tensor:
        """The matrix the solves factor (Ã, or JᵀJ after a rebuild) as a new full n×n tensor."""
        return self.matrix.matrix().to(self.g.dtype)

    def gradient(self) -> Tensor:
        """g = Jᵀr in the Jacobian's precision."""
        return self.g

    def jtj_diagonal(self) -> Tensor:
        """diag(JᵀJ) in the Jacobian's precision."""
        return self.diag.clone()

    def curvature(self, v: Tensor) -> float:
        """‖Jv‖² against J itself."""
        v = v.to(self.g)
        if self._last is not None:  # the core asks for h = ±x of the last solve: ‖Jx‖² is known already
            x, jx_squared = self._last
            if torch.equal(v, x) or torch.equal(v, -x):
                return jx_squared
        return self._apply(v)[1]

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
        """Solve (JᵀJ + lam·diag(scale)) v = Jᵀw, refined against J to its precision."""
        check_scale(scale, self.n)
        rhs = self.g if w is None else self._jt_times(w).to(self.g)
        shift = lam * scale.to(self.g)
        if not self.exact:
            x = self._refined(shift, rhs)
            if x is not None:
                return x
            self._rebuild_exact()
        v, fell_back = self.matrix.solve(shift, rhs)
        if fell_back:
            self.fallback_solves += 1
            warn_fallback("normal equations", lam)
        return v

    def _apply(self, x: Tensor) -> tuple[Tensor, float]:
        """(JᵀJ x, ‖Jx‖²) through the kept rows (two matrix–vector products per slice)."""
        out = torch.zeros_like(x)
        squared = 0.0
        for rows in self.rows:
            jx = rows @ x
            squared += float(jx @ jx)
            out.addmv_(rows.T, jx)
        return out, squared

    def _refined(self, shift: Tensor, rhs: Tensor) -> Tensor | None:
        """x with K x = rhs to full-precision backward error, or None (M indefinite, no contraction)."""
        solver = self.matrix.factor(shift)
        if solver is None:
            return None
        x = solver(rhs)
        if x is None:
            return None
        x = x.to(rhs.dtype)
        if self._norm_a is None:
            self._norm_a = self.matrix.inf_norm()
        tolerance = (self._norm_a + float(shift.abs().max())) * torch.finfo(x.dtype).eps * math.sqrt(self.n)
        previous = math.inf
        for sweep in range(MAX_SWEEPS + 1):
            jtj_x, jx_squared = self._apply(x)
            residual = rhs - jtj_x - shift * x
            size = float(residual.abs().max())
            if not math.isfinite(size):
                return None
            if size <= float(x.abs().max()) * tolerance:
                self.sweeps.append(sweep)
                self._last = (x, jx_squared)
                return x
            if sweep == MAX_SWEEPS or not size < 0.5 * previous:
                return None
            previous = size
            correction = solver(residual)
            if correction is None:
                return None
            x = x + correction.to(x.dtype)
        return None

    def _rebuild_exact(self) -> None:
        """JᵀJ again from the kept rows, in their own precision; later systems too (``on_breakdown``)."""
        del self.matrix  # release the n×n of the single-precision products first
        matrix = normal_matrix(self.n, self.g.dtype, self.g.device)
        for rows in self.rows:
            matrix.add_rows(rows)
        matrix.finish(self.diag)
        self.matrix, self.exact = matrix, True
        if self._on_breakdown is not None:
            self._on_breakdown()
