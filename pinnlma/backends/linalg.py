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


def spd_solve(matrix: Tensor, rhs: Tensor, rcond: float | None = None, *,
              overwrite: bool = False) -> tuple[Tensor, bool]:
    """Solve ``matrix @ x = rhs`` for a symmetric positive semidefinite ``matrix``.

    Returns ``(x, used_fallback)``. ``rhs`` may be a vector or a matrix of columns. ``overwrite=True``
    equilibrates ``matrix`` in place (its contents are lost), which saves two n×n temporaries.
    """
    diag = torch.diagonal(matrix)
    safe = torch.where(diag > 0, diag, torch.ones_like(diag))
    s = torch.rsqrt(safe)
    if overwrite:
        scaled = matrix.mul_(s[:, None]).mul_(s[None, :])
    else:
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


def rank_k_update(acc: Tensor, rows: Tensor) -> bool:
    """acc ← acc + rowsᵀ·rows in the *lower* triangle of ``acc`` (row-major), by BLAS syrk; True if done.

    A symmetric rank-k update costs s·n² flops, half of ``acc.addmm_(rows.T, rows)``; torch exposes none,
    so this calls scipy's BLAS (dsyrk/ssyrk) on NumPy views of the torch memory, no copies: torch's
    row-major ``rows`` (s×n) is the column-major n×s matrix Rᵀ, and syrk's C = Rᵀ(Rᵀ)ᵀ = rowsᵀrows,
    upper triangle in column-major order = lower triangle of the row-major ``acc``. Returns False (and
    leaves ``acc`` untouched) where that does not apply: not a CPU float32/float64 tensor, not
    contiguous, no scipy, or scipy would have to copy ``acc``. :class:`~pinnlma.backends.normal_matrix.PackedNormalMatrix`
    keeps A in that triangle.
    """
    if (acc.device.type != "cpu" or rows.device != acc.device or acc.dtype != rows.dtype
            or acc.dtype not in (torch.float64, torch.float32) or not acc.is_contiguous()
            or not rows.is_contiguous() or rows.requires_grad or acc.requires_grad):
        return False
    try:
        from scipy.linalg import blas
    except ImportError:
        return False
    syrk = blas.dsyrk if acc.dtype == torch.float64 else blas.ssyrk
    c = acc.numpy().T  # column-major view of acc
    out = syrk(1.0, rows.numpy().T, beta=1.0, c=c, trans=0, lower=0, overwrite_c=1)
    if out.ctypes.data != c.ctypes.data:  # scipy made a copy after all: bring the result back
        acc.copy_(torch.from_numpy(out.T))
    return True
