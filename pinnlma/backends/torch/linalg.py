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


def spd_solve(
    matrix: Tensor, rhs: Tensor, rcond: float | None = None, *, overwrite: bool = False
) -> tuple[Tensor, bool]:
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
    return eigen_solve(scaled, srhs, rcond) * (s if rhs.ndim == 1 else s[:, None]), True


def eigen_solve(matrix: Tensor, rhs: Tensor, rcond: float | None) -> Tensor:
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


GRAM_LEAF = 64
"""Width of the diagonal blocks :func:`rank_k_update` multiplies whole (their upper halves are the only
wasted flops: about GRAM_LEAF/(2n) of the total)."""


def rank_k_update(acc: Tensor, rows: Tensor, product_dtype: torch.dtype | None = None) -> None:
    """acc ← acc + rowsᵀ·rows in the lower triangle (diagonal included) of ``acc``; the rest is untouched.

    A symmetric rank-k update costs s·n² flops, half of ``acc.addmm_(rows.T, rows)``. torch has no syrk,
    so this one halves the columns recursively: with rows = [R₁ R₂],

        lower(RᵀR) = [ lower(R₁ᵀR₁)          ]
                     [ R₂ᵀR₁   lower(R₂ᵀR₂) ]

    the off-diagonal block is one matrix product written into its view of ``acc`` and the two diagonal
    blocks recurse down to GRAM_LEAF columns. All products run in torch (its BLAS, its threads), which on a
    machine with few cores beats calling a second BLAS such as scipy's: see
    :mod:`pinnlma.backends.torch.lapack` for why two thread pools fight.

    Column-major ``rows`` (a transposed view of a contiguous n×s tensor, as the Jacobian engine makes
    them) are faster than row-major ones: every block product then reads both operands along unit
    strides. Measured on the 2-core machine: 34.5 vs 38.8 ms for 5000×769, 11.2 vs 13.8 ms for
    1190×881, 0.87 vs 0.95 s for 10000×3000.

    ``product_dtype`` (e.g. float32 for a float64 ``acc``): the products are formed in that precision from
    a converted copy of ``rows`` and added block by block into ``acc`` (one block of temporary memory, at
    most n²/4 numbers); the sums over slices stay in ``acc``'s precision.
    """
    if acc.ndim != 2 or acc.shape[0] != acc.shape[1] or rows.ndim != 2 or rows.shape[1] != acc.shape[0]:
        raise ValueError(
            f"rank_k_update needs an n×n accumulator and s×n rows, got {tuple(acc.shape)} and {tuple(rows.shape)}"
        )
    if rows.dtype != acc.dtype or rows.device != acc.device:
        raise ValueError(
            f"rows ({rows.dtype} on {rows.device}) must match the accumulator ({acc.dtype} on {acc.device})"
        )
    _lower_gram(acc, rows if product_dtype is None else rows.to(product_dtype), 0, acc.shape[0])


def _lower_gram(acc: Tensor, rows: Tensor, lo: int, hi: int) -> None:
    if hi - lo <= GRAM_LEAF:
        block = rows[:, lo:hi]
        acc[lo:hi, lo:hi] += torch.tril(block.T @ block)
        return
    mid = (lo + hi) // 2
    _lower_gram(acc, rows, lo, mid)
    if rows.dtype == acc.dtype:  # straight into acc's memory, no temporary
        acc[mid:hi, lo:mid].addmm_(rows[:, mid:hi].T, rows[:, lo:mid])
    else:  # products in rows' (lower) precision, summed in acc's
        acc[mid:hi, lo:mid] += rows[:, mid:hi].T @ rows[:, lo:mid]
    _lower_gram(acc, rows, mid, hi)
