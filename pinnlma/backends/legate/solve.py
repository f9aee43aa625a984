"""The damped SPD solve in cuPyNumeric: equilibration, Cholesky, and the eigendecomposition fallback."""

from __future__ import annotations

from typing import Any

import numpy
import torch
from torch import Tensor

from ..torch.linalg import eigen_solve
from .arrays import to_legate, to_torch

__all__ = ["EquilibratedSPD", "spd_solve_legate"]


def spd_solve_legate(np: Any, matrix: Any, diag_add: Any, rhs: Any) -> tuple[Any, bool]:
    """Solve ``(matrix + diag(diag_add)) x = rhs`` for symmetric PSD ``matrix``, in cuPyNumeric.

    The same algorithm as :func:`pinnlma.backends.torch.linalg.spd_solve`: equilibrate symmetrically with
    S = diag(1/√M_ii), try Cholesky (``cupynumeric.linalg.cholesky`` raises ``LinAlgError`` on a matrix
    that is not positive definite, and returns NaNs for NaN input, hence the finiteness check), else the
    minimum-norm solution through ``eigh``. Returns ``(x, used_fallback)``; never raises on a singular
    system. (The LM systems use :class:`EquilibratedSPD`, which equilibrates once for many λ.)
    """
    diag = np.diagonal(matrix) + diag_add
    # (np.where with a Python scalar promotes float32 to float64 in cuPyNumeric: use *_like arrays)
    s = 1.0 / np.sqrt(np.where(diag > 0, diag, np.ones_like(diag)))
    scaled = matrix * s[:, None]
    scaled *= s[None, :]
    scaled += np.diag(diag_add * s * s)
    y, fell_back = _cholesky_or_eigen(np, scaled, rhs * s)
    return y * s, fell_back


def _cholesky_or_eigen(np: Any, scaled: Any, srhs: Any) -> tuple[Any, bool]:
    """Cholesky solve of an equilibrated SPD matrix; the eigen fallback when it breaks down."""
    try:
        factor = np.linalg.cholesky(scaled)
        # check_finite=False: the default scans the n×n factor twice (and waits for it); NaNs reach y
        # anyway and are caught by the one check below
        y = np.linalg.solve_triangular(factor, srhs, lower=True, check_finite=False)
        y = np.linalg.solve_triangular(factor, y, trans="T", lower=True, check_finite=False)
        if bool(np.isfinite(y).all()):
            return y, False
    except (np.linalg.LinAlgError, ValueError):
        pass
    return _eigen_solve_legate(np, scaled, srhs), True


class EquilibratedSPD:
    """A symmetric PSD matrix A (cuPyNumeric) prepared for many damped solves (A + diag(d)) x = b.

    S·A·S with S = diag(1/√A_ii) (1 where A_ii ≤ 0) is formed once, in cuPyNumeric; each solve then
    adds diag(d·s²) and runs Cholesky (eigen fallback) on S(A + diag d)S, and x = S·y. This is the
    equilibration of :func:`spd_solve_legate` with the diagonal of A instead of A + diag(d): Cholesky's
    backward error does not depend on the diagonal scaling (van der Sluis), and the n-vector work
    (scaling d, b and y) stays in torch, which saves about ten small Legate tasks per solve; for small
    systems those task launches, not the flops, are the cost of a Legate iteration.
    """

    def __init__(self, np: Any, matrix: Any, diag: Tensor) -> None:
        self.np = np
        self.s = torch.rsqrt(torch.where(diag > 0, diag, torch.ones_like(diag)))
        self.diag = diag
        s_l = to_legate(np, self.s)
        self.scaled = matrix * s_l[:, None]  # S·A·S in two broadcast passes (no n×n outer product)
        self.scaled *= s_l[None, :]

    def solve(self, diag_add: Tensor, rhs: Tensor) -> tuple[Tensor, bool]:
        """x with (A + diag(diag_add)) x = rhs (torch n-vectors in and out), and whether it fell back."""
        np, s = self.np, self.s
        # a copy with a new diagonal: two passes over n² (``scaled + np.diag(..)`` made four and an
        # n×n temporary: 75-160 ms instead of 26-30 ms at n = 3297)
        new_diag = (self.diag + diag_add) * s * s
        if bool(torch.isfinite(new_diag).all()):
            damped = self.scaled.copy()
            np.fill_diagonal(damped, new_diag.cpu().numpy())  # (host values: its NaN check needs no sync)
        else:  # cuPyNumeric's fill_diagonal refuses NaN: let the NaN reach the solve, which falls back
            damped = self.scaled + np.diag(to_legate(np, new_diag))
        y, fell_back = _cholesky_or_eigen(np, damped, to_legate(np, rhs * s))
        return to_torch(y, s.device) * s, fell_back


def _eigen_solve_legate(np: Any, matrix: Any, rhs: Any) -> Any:
    """Minimum-norm solution via ``eigh``, ignoring eigenvalues below n·eps·max|λ| (as the torch code)."""
    eps = float(numpy.finfo(matrix.dtype).eps)
    tiny = float(numpy.finfo(matrix.dtype).tiny)
    rcond = matrix.shape[0] * eps
    sym = 0.5 * (matrix + matrix.T)
    if not bool(np.isfinite(sym).all()):
        return np.full(rhs.shape, numpy.nan, dtype=rhs.dtype)
    try:
        values, vectors = np.linalg.eigh(sym)
    except Exception:  # a cuPyNumeric build without a working eigh: do this rare solve in torch
        m_t = to_torch(sym, torch.device("cpu"))
        r_t = to_torch(rhs, torch.device("cpu"))
        return to_legate(np, eigen_solve(m_t, r_t, rcond))
    cutoff = rcond * max(float(np.abs(values).max()), tiny)
    keep = values > cutoff
    inverse = np.where(keep, 1.0 / np.where(keep, values, np.ones_like(values)), np.zeros_like(values))
    coeff = (vectors.T @ rhs) * inverse
    return vectors @ coeff
