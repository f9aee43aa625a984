"""The n×n matrix A = JᵀJ of the normal form, and the damped solves made from it.

Two storages with one interface (``add_rows``, ``finish``, ``diagonal``, ``matrix``, ``quadratic``,
``solve``, ``factor``, ``inf_norm``); :func:`normal_matrix` picks one:

- :class:`PackedNormalMatrix` (CPU float32/float64): A and the Cholesky factor of one damped system in
  the memory of a single n×n matrix, described below;
- :class:`DenseNormalMatrix` (any other device or dtype, e.g. CUDA): A as a full symmetric matrix built
  by symmetric rank-k updates (torch products, any device), plus one damped work matrix per solve (and
  the factor torch allocates).

Packed storage.

The normal form of an LM iteration needs A = JᵀJ for the whole iteration and, for each trial λ, the
factor of the equilibrated damped matrix M = S(A + λD)S, S = diag(1/√(A_ii + λD_i)). Held as separate
matrices (A, a damped copy, its factor) that is 3n² numbers; here it is n² + O(n):

    row-major W (n×n)     strictly lower triangle   A's off-diagonal part (syrk writes it)
                          upper triangle + diagonal the Cholesky factor of M (LAPACK potrf, in place)
    n-vector              diag(A), kept aside (the diagonal of W belongs to the factor)

The trick is that a row-major triangle is the opposite triangle of the same memory read column-major,
which is how LAPACK sees it: the rank-k updates (:func:`~pinnlma.backends.torch.linalg.rank_k_update`, torch
matrix products) accumulate A in the row-major lower triangle, potrf factors M in the column-major
*lower* (= row-major upper) triangle, and neither touches the other. Refilling M for a new λ copies A's
triangle across in bands of rows (temporary memory: one band, not another n×n matrix). potrf/potrs are
torch's own LAPACK (:mod:`~pinnlma.backends.torch.lapack`: same threads as torch) or, where that cannot
be reached, scipy's. CPU float32/float64 tensors only; :func:`packed_available` says when.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .lapack import torch_lapack
from .linalg import rank_k_update, spd_solve, symmetrize_lower

BAND = 256

Solver = Callable[[Tensor], "Tensor | None"]
"""x = M⁻¹b for the damped matrix M of the last ``factor`` call (None if the triangular solve failed)."""


def normal_matrix(
    n: int, dtype: torch.dtype, device: torch.device, product_dtype: torch.dtype | None = None
) -> PackedNormalMatrix | DenseNormalMatrix:
    """The storage for A on ``device``: packed where LAPACK can work in place, dense elsewhere.

    ``product_dtype`` (e.g. float32 under float64 rows): the precision the products rowsᵀ·rows are formed
    in; A itself, its sums over slices and every solve stay in ``dtype``."""
    if packed_available(dtype, device):
        return PackedNormalMatrix(n, dtype, product_dtype)
    return DenseNormalMatrix(n, dtype, device, product_dtype)


def packed_available(dtype: torch.dtype, device: torch.device) -> bool:
    """True where the packed storage works: CPU float32/float64 (LAPACK from torch, or else scipy)."""
    return device.type == "cpu" and dtype in (torch.float64, torch.float32)


class PackedNormalMatrix:
    """A = JᵀJ accumulated from row slices; solves (A + diag(shift)) x = b; quadratic forms vᵀAv."""

    def __init__(self, n: int, dtype: torch.dtype, product_dtype: torch.dtype | None = None) -> None:
        self.n = n
        self.work = torch.zeros(n, n, dtype=dtype)
        self.product_dtype = product_dtype
        self.diag: Tensor | None = None  # diag(A), set by finish()
        self._lapack = torch_lapack(dtype)
        self._cache = FactorCache()

    def add_rows(self, rows: Tensor) -> None:
        """A += rowsᵀ·rows (a symmetric rank-k update of the lower triangle, diagonal included)."""
        if self.diag is not None:
            raise RuntimeError("add_rows after finish(): the diagonal of the work matrix now holds a factor")
        if rows.device.type != "cpu" or rows.dtype != self.work.dtype:
            raise TypeError(f"packed accumulation needs CPU {self.work.dtype} rows, got {rows.dtype} on {rows.device}")
        rank_k_update(self.work, rows.detach(), self.product_dtype)

    def add_gram(self, partial: Tensor) -> None:
        """A += partial, a full symmetric n×n JᵀJ of other rows (a device replica's); only its lower
        triangle is read."""
        if self.diag is not None:
            raise RuntimeError("add_gram after finish(): the diagonal of the work matrix now holds a factor")
        self.work += torch.tril(partial.to(self.work))

    def finish(self, diagonal: Tensor | None = None) -> None:
        """End of accumulation: move diag(A) aside so the factor may take the diagonal. A caller that
        knows diag(A) more exactly (squared column norms of J in full precision) passes it."""
        self.diag = (self.work.diagonal() if diagonal is None else diagonal.to(self.work.dtype)).clone()

    def diagonal(self) -> Tensor:
        """diag(A) (a copy)."""
        return self._finished_diag().clone()

    def matrix(self) -> Tensor:
        """The full symmetric A as a new n×n tensor (for inspection and the rare fallback solve)."""
        full = torch.tril(self.work, -1)
        full += full.T.clone()
        full.diagonal().copy_(self._finished_diag())
        return full

    def quadratic(self, v: Tensor) -> float:
        """vᵀAv = Σ A_ii v_i² + 2·Σ_{i>j} v_i A_ij v_j, a band of rows of the strict lower triangle at a time
        (never reading W's diagonal or upper triangle, where the factor lives)."""
        vv = v.detach().to(self.work.dtype)
        total = (self._finished_diag() * vv * vv).sum()
        for i0 in range(0, self.n, BAND):
            i1 = min(self.n, i0 + BAND)
            strict = torch.tril(self.work[i0:i1, i0:i1], -1) @ vv[i0:i1]
            if i0:
                strict += self.work[i0:i1, :i0] @ vv[:i0]
            total += 2.0 * (vv[i0:i1] @ strict)
        return float(total)

    def inf_norm(self) -> float:
        """‖A‖∞ = max_i Σ_j |A_ij|, from A's strict lower triangle (a band of rows at a time) and diag(A)."""
        sums = self._finished_diag().abs().clone()
        for i0 in range(0, self.n, BAND):
            i1 = min(self.n, i0 + BAND)
            strict = torch.tril(self.work[i0:i1, :i1], diagonal=i0 - 1).abs_()  # columns j < row i
            sums[i0:i1] += strict.sum(dim=1)
            sums[:i1] += strict.sum(dim=0)
        return float(sums.max())

    def solve(self, shift: Tensor, rhs: Tensor) -> tuple[Tensor, bool]:
        """x with (A + diag(shift)) x = rhs, by Cholesky of the equilibrated matrix in W's upper triangle.

        Returns ``(x, used_fallback)``; when Cholesky breaks down the full matrix is rebuilt (n² more
        memory, rare) and :func:`pinnlma.backends.torch.linalg.spd_solve` takes over. A solve with the
        shift of the previous one reuses its factor (two triangular solves, n² flops, instead of a new
        n³/3 factorisation): a second right-hand side for the same λ (geodesic acceleration, the extra
        steps of ``LMOptions.frozen_steps``).
        """
        x = self._cache.solve(shift, rhs, self.factor)
        if x is not None:
            return x, False
        full = self.matrix()
        full.diagonal().add_(shift.to(full.dtype))
        x, _ = spd_solve(full, rhs.to(full.dtype), overwrite=True)
        return x, True

    def factor(self, shift: Tensor) -> Solver | None:
        """Factor M = A + diag(shift) (equilibrated, in W's upper triangle); the returned solver applies
        M⁻¹ until the next ``factor``/``solve``. None when Cholesky breaks down."""
        self._cache.clear()  # the factor in W is about to change
        damped_diag = self._finished_diag() + shift.to(self.work.dtype)
        s = torch.rsqrt(torch.where(damped_diag > 0, damped_diag, torch.ones_like(damped_diag)))
        self._fill_upper(s)
        self.work.diagonal().copy_(damped_diag * s * s)
        if not self._potrf():
            return None

        def solver(rhs: Tensor) -> Tensor | None:
            y = self._potrs((rhs.to(self.work.dtype) * s).contiguous())
            return None if y is None else y.mul_(s)

        return solver

    def _potrf(self) -> bool:
        """Cholesky of W's column-major lower triangle in place; False if it breaks down."""
        if self._lapack is not None:
            return self._lapack.potrf(self.work) == 0
        potrf = self._scipy_lapack()[0]
        colmajor = self.work.numpy().T
        factor, info = potrf(colmajor, lower=1, clean=0, overwrite_a=1)
        if factor.ctypes.data != colmajor.ctypes.data:  # scipy copied after all (never seen): keep its result
            self.work.copy_(torch.from_numpy(factor.T))
        return info == 0

    def _potrs(self, rhs: Tensor) -> Tensor | None:
        """The solve with the factor of :meth:`_potrf`, overwriting the contiguous ``rhs``; None on failure."""
        if self._lapack is not None:
            return rhs if self._lapack.potrs(self.work, rhs) == 0 else None
        potrs = self._scipy_lapack()[1]
        y, info = potrs(self.work.numpy().T, rhs.numpy()[:, None], lower=1)
        return torch.from_numpy(y[:, 0]) if info == 0 else None

    def _scipy_lapack(self) -> tuple[Callable, Callable]:
        """potrf/potrs from scipy, where torch's own LAPACK could not be reached."""
        from scipy.linalg import lapack

        single = self.work.dtype == torch.float32
        return (lapack.spotrf, lapack.spotrs) if single else (lapack.dpotrf, lapack.dpotrs)

    def _fill_upper(self, s: Tensor) -> None:
        """W[i, j] = s_i A_ij s_j for i < j, copied from the strict lower triangle a band of rows at a time."""
        n, work = self.n, self.work
        for i0 in range(0, n, BAND):
            i1 = min(n, i0 + BAND)
            tile = work[i0:i1, i0:i1]
            strict_lower = torch.tril(tile, -1)
            upper = strict_lower.T * s[i0:i1, None] * s[None, i0:i1]
            tile.copy_(strict_lower + upper)  # the diagonal is written by the caller
            if i1 < n:  # the rectangle right of the tile, from the one below it (no temporaries)
                right = work[i0:i1, i1:]
                torch.mul(work[i1:, i0:i1].T, s[i0:i1, None], out=right)
                right.mul_(s[None, i1:])

    def _finished_diag(self) -> Tensor:
        if self.diag is None:
            raise RuntimeError("call finish() after the last add_rows()")
        return self.diag


class DenseNormalMatrix:
    """A = JᵀJ as a full symmetric n×n tensor on any device (accumulated by matrix products)."""

    def __init__(
        self, n: int, dtype: torch.dtype, device: torch.device, product_dtype: torch.dtype | None = None
    ) -> None:
        self.n = n
        self.work = torch.zeros(n, n, dtype=dtype, device=device)
        self.product_dtype = product_dtype
        self._cache = FactorCache()

    def add_rows(self, rows: Tensor) -> None:
        """A += rowsᵀ·rows in the lower triangle: the symmetric rank-k update of
        :func:`~pinnlma.backends.torch.linalg.rank_k_update` (s·n² flops, where ``addmm_`` took 2·s·n²),
        torch matrix products only, so it runs on any device."""
        rank_k_update(self.work, rows.detach(), None if self.product_dtype == rows.dtype else self.product_dtype)

    def add_gram(self, partial: Tensor) -> None:
        """A += partial, a full symmetric n×n JᵀJ of other rows (a device replica's); only its lower
        triangle is read (the upper is mirrored at finish())."""
        self.work += torch.tril(partial.to(self.work))

    def finish(self, diagonal: Tensor | None = None) -> None:
        """End of accumulation: mirror the lower triangle (A is then the full symmetric matrix) and keep
        diag(A) (``diagonal`` if given)."""
        symmetrize_lower(self.work)
        if diagonal is not None:
            self.work.diagonal().copy_(diagonal)

    def diagonal(self) -> Tensor:
        """diag(A) (a copy)."""
        return self.work.diagonal().clone()

    def inf_norm(self) -> float:
        """‖A‖∞ = max_i Σ_j |A_ij|."""
        return float(self.work.abs().sum(dim=1).max())

    def matrix(self) -> Tensor:
        """A as a new n×n tensor."""
        return self.work.clone()

    def quadratic(self, v: Tensor) -> float:
        """vᵀAv."""
        return float(v @ (self.work @ v))

    def solve(self, shift: Tensor, rhs: Tensor) -> tuple[Tensor, bool]:
        """x with (A + diag(shift)) x = rhs; ``(x, used_fallback)``. The factor of the last shift is kept:
        a solve with the same shift reuses it (as :meth:`PackedNormalMatrix.solve` does)."""
        x = self._cache.solve(shift, rhs, self.factor)
        if x is not None:
            return x, False
        damped = self.work.clone()  # the robust solve: equilibrated, Cholesky again, eigendecomposition last
        damped.diagonal().add_(shift.to(damped))
        return spd_solve(damped, rhs, overwrite=True)

    def factor(self, shift: Tensor) -> Solver | None:
        """Cholesky of the equilibrated M = A + diag(shift); the solver applies M⁻¹. None on breakdown."""
        damped = self.work.clone()
        damped.diagonal().add_(shift.to(damped))
        diag = damped.diagonal()
        s = torch.rsqrt(torch.where(diag > 0, diag, torch.ones_like(diag)))
        factor, info = torch.linalg.cholesky_ex(damped.mul_(s[:, None]).mul_(s[None, :]))
        if int(info) != 0:
            return None
        return lambda rhs: torch.cholesky_solve((rhs.to(s) * s).unsqueeze(-1), factor).squeeze(-1) * s


class FactorCache:
    """The solver of the last factored shift, for reuse by a solve with the same shift (compared exactly)."""

    def __init__(self) -> None:
        self._shift: Tensor | None = None
        self._solver: Solver | None = None

    def get(self, shift: Tensor) -> Solver | None:
        """The kept solver if ``shift`` equals the kept shift entry for entry, else None."""
        if self._shift is None or self._shift.shape != shift.shape or not torch.equal(self._shift, shift):
            return None
        return self._solver

    def keep(self, shift: Tensor, solver: Solver | None) -> None:
        """Keep ``solver`` (None: Cholesky broke down, nothing to keep) for ``shift``."""
        self._shift, self._solver = (None, None) if solver is None else (shift.detach().clone(), solver)

    def solve(self, shift: Tensor, rhs: Tensor, factor: Callable[[Tensor], Solver | None]) -> Tensor | None:
        """(A + diag(shift))⁻¹ rhs by the kept solver of ``shift``, else by ``factor(shift)`` (then kept);
        None when the factorisation broke down or the result holds NaN/Inf (the caller's fallback)."""
        solver = self.get(shift)
        if solver is None:
            solver = factor(shift)
            self.keep(shift, solver)
        x = solver(rhs) if solver is not None else None
        return x if x is not None and bool(torch.isfinite(x).all()) else None

    def clear(self) -> None:
        """Forget the kept solver (its factor is being overwritten)."""
        self._shift, self._solver = None, None
