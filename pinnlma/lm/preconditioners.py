"""Preconditioners for the damped Gauss–Newton operators K = Ã + μI (Ã symmetric positive semidefinite).

- ``none``: M = I.
- ``jacobi``: M = diag(Ã) + μI.
- ``nystrom``: the randomized Nyström preconditioner of Frangella, Tropp & Udell (2023), "Randomized
  Nyström preconditioning", SIAM J. Matrix Anal. Appl. 44(2) (Algorithm 2.1 and eq. (5.3)), the one
  Jnini & Vella (2025, arXiv:2505.21404) use for matrix-free natural-gradient PINN training. From a
  sketch Y = ÃΩ with k test vectors Ω it builds a rank-k approximation Â = U Λ̂ Uᵀ and

      M⁻¹ = (λ̂_k + μ) U (Λ̂ + μI)⁻¹ Uᵀ + (I − UUᵀ),

  which maps the top-k eigenvalues of Ã + μI to about λ̂_k + μ and leaves the rest: CG then converges
  at the rate of the condition number (λ̂_k + μ)/μ instead of (λ₁ + μ)/μ. The sketch costs k products
  with Ã (or one pass over the Jacobian slices, see :mod:`pinnlma.lm.matrix_free`) and n·k memory; the
  damping μ enters only at application time, so one sketch serves every trial λ of an iteration.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

PRECONDITIONERS = {
    "nystrom": "randomized Nyström approximation of rank k (Frangella, Tropp & Udell 2023)",
    "jacobi": "the diagonal of the damped operator",
    "none": "no preconditioning",
}
"""The preconditioner choices of the matrix-free solver (``MatrixFreeOptions.preconditioner``)."""


def check_preconditioner(name: str) -> str:
    """``name`` if it is a key of PRECONDITIONERS, else a ValueError listing them."""
    if name not in PRECONDITIONERS:
        raise ValueError(f"unknown preconditioner {name!r}; choose one of {', '.join(PRECONDITIONERS)}")
    return name


def jacobi(diagonal: Tensor, mu: float) -> Callable[[Tensor], Tensor]:
    """r ↦ r / (diag(Ã) + μ); ``diagonal`` must be ≥ 0 and μ > 0 (or the diagonal positive)."""
    denominator = diagonal + mu
    if not bool(torch.all(denominator > 0)):
        raise ValueError("the Jacobi preconditioner needs diag(Ã) + μ > 0 everywhere")
    return lambda r: r / denominator


class NystromApproximation:
    """Â = U diag(λ̂) Uᵀ ≈ Ã from a sketch Y = ÃΩ (Ω: n×k, any full-rank test matrix)."""

    def __init__(self, omega: Tensor, sketch: Tensor) -> None:
        if omega.shape != sketch.shape or omega.ndim != 2:
            raise ValueError(
                f"Nyström needs Ω and Y = ÃΩ of the same shape (n, k); got {tuple(omega.shape)} "
                f"and {tuple(sketch.shape)}"
            )
        # orthonormal test matrix: Y is linear in Ω, so ÃQ = Y R⁻¹ for Ω = QR (same range, same Â)
        q, r = torch.linalg.qr(omega)
        y = torch.linalg.solve_triangular(r, sketch, upper=True, left=False)
        eps = torch.finfo(y.dtype).eps
        nu = eps * max(float(torch.linalg.matrix_norm(y, ord=2)), torch.finfo(y.dtype).tiny) * y.shape[0] ** 0.5
        for _ in range(8):  # stability shift (Algorithm 2.1); raised if rounding leaves QᵀY_ν indefinite
            y_nu = y + nu * q
            core = q.T @ y_nu
            chol, info = torch.linalg.cholesky_ex(0.5 * (core + core.T))
            if int(info) == 0:
                break
            nu *= 10.0
        else:
            raise ValueError("the Nyström sketch is not positive semidefinite (non-finite or indefinite products)")
        b = torch.linalg.solve_triangular(chol, y_nu.T, upper=False).T  # B = Y_ν C⁻ᵀ with C Cᵀ = QᵀY_ν
        u, sigma, _ = torch.linalg.svd(b, full_matrices=False)
        self.u = u
        self.eigenvalues = (sigma * sigma - nu).clamp_min(0.0)
        self.shift = nu

    @property
    def rank(self) -> int:
        """k, the number of retained eigenpairs."""
        return int(self.u.shape[1])

    def matmul(self, v: Tensor) -> Tensor:
        """Â v."""
        return self.u @ (self.eigenvalues * (self.u.T @ v))

    def preconditioner(self, mu: float) -> Callable[[Tensor], Tensor]:
        """r ↦ M⁻¹ r for K = Ã + μI (μ > 0), eq. (5.3) of Frangella, Tropp & Udell."""
        if not mu > 0:
            raise ValueError(f"the Nyström preconditioner needs a positive damping, got {mu}")
        u, lam = self.u, self.eigenvalues
        weights = (lam[-1] + mu) / (lam + mu) - 1.0  # M⁻¹ = I + U diag(weights) Uᵀ

        def apply(r: Tensor) -> Tensor:
            return r + u @ (weights * (u.T @ r))

        return apply
