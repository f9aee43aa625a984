"""Dense symmetric positive (semi)definite solves in torch: Cholesky first, a robust fallback second.

The damped matrix M = A + λ·diag(D) is positive definite in exact arithmetic whenever λ > 0, but with a
tiny λ and a rank-deficient or badly scaled Jacobian Cholesky can still break down in floating point. The
solve therefore (1) equilibrates M symmetrically, S M S with S = diag(1/√M_ii), which leaves the solution
unchanged and often rescues Cholesky, and (2) falls back to a symmetric eigendecomposition that discards
eigenvalues below rcond·max|λ_i| (the minimum-norm least-squares solution). It never raises on a
singular system; it reports that it fell back.
"""
from __future__ import annotations

import torch
from torch import Tensor


def spd_solve(matrix: Tensor, rhs: Tensor, rcond: float | None = None) -> tuple[Tensor, bool]:
    """Solve ``matrix @ x = rhs`` for a symmetric positive semidefinite ``matrix``.

    Returns ``(x, used_fallback)``. ``rhs`` may be a vector or a matrix of columns.
    """
    diag = torch.diagonal(matrix)
    safe = torch.where(diag > 0, diag, torch.ones_like(diag))
    s = torch.rsqrt(safe)
    scaled = matrix * s[:, None] * s[None, :]
    srhs = rhs * (s if rhs.ndim == 1 else s[:, None])
    factor, info = torch.linalg.cholesky_ex(scaled)
    if int(info) == 0:
        y = torch.cholesky_solve(srhs.unsqueeze(-1) if rhs.ndim == 1 else srhs, factor)
        y = y.squeeze(-1) if rhs.ndim == 1 else y
        if bool(torch.isfinite(y).all()):
            return y * (s if rhs.ndim == 1 else s[:, None]), False
    return _eigen_solve(scaled, srhs, rcond) * (s if rhs.ndim == 1 else s[:, None]), True


def _eigen_solve(matrix: Tensor, rhs: Tensor, rcond: float | None) -> Tensor:
    """Minimum-norm solution through the eigendecomposition, ignoring near-null directions."""
    if rcond is None:
        rcond = matrix.shape[0] * torch.finfo(matrix.dtype).eps
    sym = 0.5 * (matrix + matrix.T)
    if not bool(torch.isfinite(sym).all()):
        return torch.full_like(rhs, float("nan"))
    values, vectors = torch.linalg.eigh(sym)
    cutoff = rcond * values.abs().max().clamp_min(torch.finfo(matrix.dtype).tiny)
    inverse = torch.where(values > cutoff, 1.0 / values, torch.zeros_like(values))
    coeff = vectors.T @ rhs
    coeff = coeff * (inverse if rhs.ndim == 1 else inverse[:, None])
    return vectors @ coeff
