"""The damped SPD solve in cuPyNumeric: equilibration, the factorization rule, and the eigendecomposition fallback.

Which factorization (:func:`choose_factorization`, the one place the rule lives). What cuPyNumeric
(26.6) does with one n×n matrix, read from its source (``cupynumeric/linalg/_cholesky.py``,
``_solve.py``):

- ``linalg.cholesky``: one potrf task when Legate has one processor or n ≤ 8192; a tiled algorithm over
  the processors above that, or cuSOLVERMp's distributed potrf when built with it and on ≥ 2 GPUs;
- ``linalg.solve_triangular``: always one task (``trsm_batched`` of a single matrix), so after a
  distributed factor the whole n×n factor is gathered onto one processor for each of the two solves;
- ``linalg.solve`` (LU with pivoting, getrf + getrs): cuSOLVERMp's distributed solve for n ≥ 2048 on
  ≥ 2 GPUs when built with it, else one task.

The rule: **torch for n ≤ ``TORCH_SOLVE_MAX_N``; above it, LU through ``linalg.solve``
when it is distributed (cuSOLVERMp, ≥ 2 GPUs, n ≥ 2048), else Cholesky.**

Small systems in torch: a damped solve in cuPyNumeric costs about 20-30 ms whatever n is below a few
hundred (the copy with a new diagonal, potrf, two trsm, the finiteness check and the copy back are each a
task launch), while torch's LAPACK needs a fraction of that. Measured 2026-12-03 on the 2-core machine,
one Legate CPU processor, torch on two threads, per damped solve:

| n | 3 | 30 | 300 | 600 | 1000 | 2000 |
|---|---:|---:|---:|---:|---:|---:|
| cuPyNumeric | 27 ms | 26 ms | 29 ms | 27 ms | 58 ms | 158 ms |
| torch | 0.2 ms | 0.3 ms | 1.8 ms | 6.9 ms | 22 ms | 112 ms |

Here torch's whole solve costs less than Legate's fixed cost alone up to n ≈ 1000, so it wins there on
whatever processors Legate has; the threshold takes n = 512 (an eighth of those flops) to leave room for
slower hosts, and the n×n matrix (at most 2 MiB) is cheap to copy once per system.
So A is copied to torch (on the system's torch device) once per system and every trial λ is a torch
Cholesky (``"torch"``, with the same equilibration and eigen fallback); the accumulation of A stays in
Legate. ``torch_max_n=0`` turns this off.

Above it, on P GPUs LU costs 2n³/3 flops spread over P processors and moves no factor; Cholesky costs
n³/3 on one processor below n = 8192 (and its two triangular solves gather the n²·8-byte factor above
it). So LU is ahead from P = 2 on wherever cuPyNumeric distributes it: argued from the flop counts and
the code paths above, not measured (this was written on a machine without GPU). On CPUs or one GPU
both are one task and Cholesky, half the flops, is the choice: measured on one Legate CPU processor
(2-core machine, load about 10), one damped solve took 0.036 s by Cholesky and 0.062 s by LU at n = 1000,
0.22-0.30 s and 0.49 s at n = 2000. LU does not detect indefiniteness as Cholesky's breakdown does,
so its solution is accepted only when it is finite and bᵀx > 0 (x = M⁻¹b with M SPD has bᵀx = xᵀMx
> 0); otherwise the eigendecomposition fallback runs, as after a failed Cholesky.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy
import torch
from torch import Tensor

from ..torch.linalg import cholesky_or_eigen, eigen_solve
from .arrays import to_legate, to_torch

__all__ = [
    "DISTRIBUTED_SOLVE_MIN_N",
    "FACTORIZATIONS",
    "TORCH_SOLVE_MAX_N",
    "EquilibratedSPD",
    "choose_factorization",
    "spd_solve_legate",
]

FACTORIZATIONS = {
    "torch": "torch Cholesky on a copy of S·A·S in torch, made once per system (n <= TORCH_SOLVE_MAX_N: no Legate task per trial)",
    "cholesky": "linalg.cholesky + two solve_triangular (n³/3 flops; one task below n = 8192)",
    "lu": "linalg.solve, LU with pivoting (2n³/3 flops; cuSOLVERMp-distributed for n >= 2048 on >= 2 GPUs)",
}
"""The factorizations of the damped system on the cuPyNumeric backend."""

DISTRIBUTED_SOLVE_MIN_N = 2048
"""cuPyNumeric hands ``linalg.solve`` to cuSOLVERMp from this size on (its MIN_SOLVE_MATRIX_SIZE)."""


TORCH_SOLVE_MAX_N = 512
"""Systems up to this size are factored by torch, not in Legate (see the module notes)."""


def choose_factorization(n: int, gpus: int, cusolvermp: bool, torch_max_n: int = TORCH_SOLVE_MAX_N) -> str:
    """The key of :data:`FACTORIZATIONS` for an n×n system on a Legate machine with ``gpus`` GPU processors
    (``cusolvermp``: cuPyNumeric was built with cuSOLVERMp; ``torch_max_n``: the largest n solved on the
    host, 0 for never): the rule of the module docstring."""
    if n < 0 or gpus < 0 or torch_max_n < 0:
        raise ValueError(f"n, gpus and torch_max_n must be >= 0, got n={n}, gpus={gpus}, torch_max_n={torch_max_n}")
    if n <= torch_max_n:
        return "torch"
    return "lu" if cusolvermp and gpus >= 2 and n >= DISTRIBUTED_SOLVE_MIN_N else "cholesky"


def machine_factorization(np: Any, n: int, torch_max_n: int = TORCH_SOLVE_MAX_N) -> str:
    """:func:`choose_factorization` for the running Legate machine."""
    from .runtime import machine_summary

    runtime = getattr(sys.modules.get("cupynumeric.runtime"), "runtime", None)
    gpus = machine_summary().get("gpus", 0)
    return choose_factorization(n, gpus, bool(getattr(runtime, "has_cusolvermp", False)), torch_max_n)


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


def _cholesky_or_eigen(np: Any, scaled: Any, srhs: Any, factorization: str = "cholesky") -> tuple[Any, bool]:
    """Cholesky (or LU, see :func:`choose_factorization`) solve of an equilibrated SPD matrix; the eigen
    fallback when it breaks down."""
    if factorization == "lu":
        try:
            y = np.linalg.solve(scaled, srhs)
            if bool(np.isfinite(y).all()) and float(srhs @ y) > 0:  # bᵀM⁻¹b > 0: M behaved as SPD
                return y, False
        except (np.linalg.LinAlgError, ValueError):
            pass
        return _eigen_solve_legate(np, scaled, srhs), True
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

    S·A·S with S = diag(1/√A_ii) (1 where A_ii ≤ 0) is formed once; each solve then adds diag(d·s²)
    and runs Cholesky or LU (``factorization``, default :func:`choose_factorization` for this machine;
    eigen fallback) on S(A + diag d)S, and x = S·y. This is the equilibration of
    :func:`spd_solve_legate` with the diagonal of A instead of A + diag(d): Cholesky's backward error
    does not depend on the diagonal scaling (van der Sluis), and the n-vector work (scaling d, b and y)
    stays in torch, which saves about ten small Legate tasks per solve; for small systems those task
    launches, not the flops, are the cost of a Legate iteration. With ``"torch"`` S·A·S is formed and
    factored in torch (``matrix`` may then already be a torch tensor: no copy out of Legate).
    """

    def __init__(self, np: Any, matrix: Any, diag: Tensor, factorization: str | None = None) -> None:
        if factorization is not None and factorization not in FACTORIZATIONS:
            raise ValueError(f"unknown factorization {factorization!r}; choose one of {', '.join(FACTORIZATIONS)}")
        self.np = np
        self.factorization = factorization or machine_factorization(np, int(diag.shape[0]))
        self.s = torch.rsqrt(torch.where(diag > 0, diag, torch.ones_like(diag)))
        self.diag = diag
        self.scaled: Any = None  # S·A·S in cuPyNumeric
        self.scaled_torch: Tensor | None = None  # or in torch ("torch")
        if self.factorization == "torch":
            a = matrix if isinstance(matrix, Tensor) else to_torch(matrix, diag.device)
            self.scaled_torch = a.to(diag) * self.s[:, None] * self.s[None, :]
        else:
            s_l = to_legate(np, self.s)
            self.scaled = matrix * s_l[:, None]  # S·A·S in two broadcast passes (no n×n outer product)
            self.scaled *= s_l[None, :]

    def solve(self, diag_add: Tensor, rhs: Tensor) -> tuple[Tensor, bool]:
        """x with (A + diag(diag_add)) x = rhs (torch n-vectors in and out), and whether it fell back."""
        np, s = self.np, self.s
        new_diag = (self.diag + diag_add) * s * s
        if self.scaled_torch is not None:
            y, fell_back = _torch_cholesky_or_eigen(self.scaled_torch, new_diag, rhs * s)
            return y * s, fell_back
        # a copy with a new diagonal: two passes over n² (``scaled + np.diag(..)`` made four and an
        # n×n temporary: 75-160 ms instead of 26-30 ms at n = 3297)
        if bool(torch.isfinite(new_diag).all()):
            damped = self.scaled.copy()
            np.fill_diagonal(damped, new_diag.cpu().numpy())  # (host values: its NaN check needs no sync)
        else:  # cuPyNumeric's fill_diagonal refuses NaN: let the NaN reach the solve, which falls back
            damped = self.scaled + np.diag(to_legate(np, new_diag))
        y, fell_back = _cholesky_or_eigen(np, damped, to_legate(np, rhs * s), self.factorization)
        return to_torch(y, s.device) * s, fell_back


def _torch_cholesky_or_eigen(scaled: Tensor, diagonal: Tensor, srhs: Tensor) -> tuple[Tensor, bool]:
    """Solve (``scaled`` with its diagonal replaced by ``diagonal``) y = srhs in torch: Cholesky, or the
    minimum-norm eigen solution (:func:`~pinnlma.backends.torch.linalg.eigen_solve`) when it breaks down
    or gives non-finite values."""
    damped = scaled.clone()
    damped.diagonal().copy_(diagonal)
    return cholesky_or_eigen(damped, srhs)


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
