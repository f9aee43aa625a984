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
    y, fell_back = cholesky_or_eigen(scaled, srhs, rcond)
    return y * (s if rhs.ndim == 1 else s[:, None]), fell_back


def cholesky_or_eigen(matrix: Tensor, rhs: Tensor, rcond: float | None = None) -> tuple[Tensor, bool]:
    """Solve ``matrix @ y = rhs`` (``matrix`` symmetric, already equilibrated; ``rhs`` a vector or columns)
    by Cholesky, or by :func:`eigen_solve` when Cholesky breaks down or gives non-finite values.

    Returns ``(y, used_fallback)``; never raises on a singular system."""
    factor, info = torch.linalg.cholesky_ex(matrix)
    if int(info) == 0:
        y = torch.cholesky_solve(rhs.unsqueeze(-1) if rhs.ndim == 1 else rhs, factor)
        y = y.squeeze(-1) if rhs.ndim == 1 else y
        if bool(torch.isfinite(y).all()):
            return y, False
    return eigen_solve(matrix, rhs, rcond), True


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


MIRROR_BAND = 256
"""Rows per band of :func:`symmetrize_lower` (its only temporary memory is one band's diagonal tile)."""


def symmetrize_lower(acc: Tensor) -> None:
    """Copy the strict lower triangle of the square ``acc`` onto its upper triangle, in place, a band of
    rows at a time (no n×n temporary): completes what :func:`rank_k_update` accumulated."""
    n = acc.shape[0]
    for i0 in range(0, n, MIRROR_BAND):
        i1 = min(n, i0 + MIRROR_BAND)
        tile = acc[i0:i1, i0:i1]
        tile.copy_(torch.tril(tile) + torch.tril(tile, -1).T)
        if i1 < n:
            acc[i0:i1, i1:].copy_(acc[i1:, i0:i1].T)


KERNEL_COLUMNS = 2048
"""Columns of J scaled at a time by :func:`scaled_kernel` (its temporary is m × this many numbers)."""


def scaled_kernel(jac: Tensor, inverse_scale: Tensor) -> Tensor:
    """K = J·diag(inverse_scale)·Jᵀ (m×m) for the residual-space solve, without an m×n temporary.

    K = Σ_c B_c B_cᵀ over blocks of :data:`KERNEL_COLUMNS` columns, B_c = J[:, c]·diag(√d_c): each block
    is a symmetric rank-k update (:func:`rank_k_update`, m²·|c| flops, half a plain product) into K's lower
    triangle, mirrored once at the end. Memory: K plus one m×|c| block (``(jac / scale) @ jac.T`` makes a
    whole scaled copy of J, m×n, every time the scaling changes)."""
    m, n = jac.shape
    if inverse_scale.shape != (n,):
        raise ValueError(f"inverse_scale has shape {tuple(inverse_scale.shape)}, expected ({n},)")
    root = inverse_scale.to(jac).sqrt()
    kernel = torch.zeros(m, m, dtype=jac.dtype, device=jac.device)
    for c0 in range(0, n, KERNEL_COLUMNS):
        c1 = min(n, c0 + KERNEL_COLUMNS)
        block = jac[:, c0:c1] * root[c0:c1]  # m×|c|; its transpose is the column-major layout rank_k_update likes
        rank_k_update(kernel, block.T)
    symmetrize_lower(kernel)
    return kernel
