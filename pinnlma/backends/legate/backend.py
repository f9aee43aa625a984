"""The cuPyNumeric (Legate) backend: the n×n (or m×m) matrices live in Legate's distributed arrays.

The LM core hands over torch row slices ``(r_s, J_s)``; this backend

1. groups them into *blocks* of rows: a slice of at least ``GATHER_ROWS`` rows is a block by itself,
   thinner ones are gathered until a block has that many rows (never more than ``block_bytes``),
2. hands each block to Legate without copying it (a read-only DLPack attach, see :func:`to_legate`),
3. accumulates ``A = Σ J_bᵀ J_b`` (its lower column tiles only, mirrored at the end: about half the
   flops of a full product, see :func:`add_lower_gram`) and ``g = Σ J_bᵀ r_b`` in cuPyNumeric arrays,
   which Legate partitions over all its processors (CPU cores, OpenMP groups, GPUs, nodes),
4. solves the damped system in cuPyNumeric: symmetric equilibration (once per system, see
   :class:`EquilibratedSPD`) and Cholesky, with the eigendecomposition fallback of
   :func:`pinnlma.backends.torch.linalg.spd_solve`; a system of at most ``torch_solve_max_n`` unknowns
   (512) is copied to torch once and factored there (:mod:`~pinnlma.backends.legate.solve` has the
   measurements: Legate's fixed cost per solve is more than torch's whole solve at that size),

and only n-vectors (m-vectors in residual space) travel back to torch.

Where data is copied (everything else is zero-copy):

- slices thinner than ``GATHER_ROWS`` are concatenated with ``torch.cat`` into one block (boundary
  and initial-condition blocks of a few hundred rows, say): thin products lose BLAS efficiency and
  each block adds an n×n accumulation. Slices of the Jacobian engine's usual size (thousands of rows)
  are attached as they are. Gathering *those* into one big block too was measured slower on the
  2-core machine (m = 10000, n = 3297: 1.74-1.91 s vs 1.51-1.66 s for the whole build): the copy of
  J into fresh memory cost more than the larger product saved.
- the residual-space form concatenates all slices into J (as the torch backend does).
- column-major tensors (the Jacobian slices) are attached as Jᵀ and viewed transposed; other
  non-contiguous tensors are made contiguous first (Legate attaches only dense buffers).
- n- and m-vectors coming back to torch are copied out of Legate's memory (n·8 bytes, negligible).
- tensors on devices Legate cannot address (a CUDA tensor while Legate has no GPU, mps, ...) go
  through host memory.

Contract with the slice producer: Legate reads attached memory asynchronously, so a yielded tensor
must not be overwritten in place until ``normal_system`` returns (it ends with an execution fence;
``residual_system`` copies J and keeps nothing of the producer's). The Jacobian engine yields fresh
tensors or views of a J it does not modify.

Always start Legate through this module (or :func:`~pinnlma.backends.legate.runtime.import_cupynumeric`): a plain
``import cupynumeric`` before it fails on machines without an NVIDIA driver.

Measured against the torch backend by ``pinnlma bench backends`` (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from ...machine import version
from ...ranks import SINGLE_PROCESS, RowPartition
from ..base import Backend, LinearSystem, NormalPartials, Slices, check_scale, sum_partials, warn_fallback
from ..torch.linalg import KERNEL_COLUMNS
from . import runtime
from .arrays import add_lower_gram, column_tiles, fence, mirror_lower, to_legate, to_torch
from .partition import legate_partition, sum_rank_tiles
from .solve import TORCH_SOLVE_MAX_N, EquilibratedSPD, machine_factorization, spd_solve_legate

DEFAULT_BLOCK_BYTES = 512 * 2**20
"""Rows of J are gathered into blocks of at most this many bytes before one ``J_bᵀJ_b`` product."""

MIN_BLOCK_ROWS = 256
"""Never make blocks thinner than this: below it the n×n additions cost more than the products."""

GATHER_ROWS = 2048
"""Slices thinner than this are gathered (copied) into blocks of this many rows; thicker ones are
attached to Legate as they are, without a copy."""

# --------------------------------------------------------------------------------------------------
# the two linear systems


def _check_slice(r_s: Tensor, j_s: Tensor, n: int) -> None:
    if j_s.ndim != 2 or j_s.shape[1] != n or r_s.shape != (j_s.shape[0],):
        raise ValueError(
            f"Jacobian slice has shape {tuple(j_s.shape)} with residuals {tuple(r_s.shape)}, expected (s, {n}) and (s,)"
        )


class LegateNormalSystem(LinearSystem):
    """A = JᵀJ (n×n) and g = Jᵀr accumulated in cuPyNumeric arrays, block by block."""

    form = "normal"

    def __init__(
        self,
        np: Any,
        slices: Slices,
        n: int,
        jt_times: Callable[[Tensor], Tensor],
        block_rows: int | None,
        block_bytes: int,
        partials: NormalPartials | None = None,
        partition: RowPartition | None = None,
        torch_solve_max_n: int = TORCH_SOLVE_MAX_N,
    ) -> None:
        self.np = np
        self.n, self.m = n, 0
        self.factorization = machine_factorization(np, n, torch_solve_max_n)  # a key of FACTORIZATIONS
        self._jt_times = jt_times
        self.jtj: Any = None  # cuPyNumeric n×n
        self._g: Any = None  # cuPyNumeric n
        self.dtype: torch.dtype | None = None
        self.device = torch.device("cpu")
        self.blocks = 0
        self._tiles = column_tiles(n)
        self._block_bytes = block_bytes
        self._unread_bytes = 0  # attached block memory Legate may not have read yet
        if partials is not None and partition is not None and partition.split:
            self._sum_ranks(partials, partition)  # this rank's rows only: summed over the ranks in Legate
            slices = ()
        elif partials is not None:  # device replicas' J_dᵀJ_d and J_dᵀr_d: summed here, no rows
            self._sum_partials(partials)
            slices = ()
        pending: list[tuple[Tensor, Tensor]] = []
        pending_rows = 0
        rows_per_block = 0
        for r_s, j_s in slices:
            _check_slice(r_s, j_s, n)
            if self.dtype is None:
                self.dtype, self.device = j_s.dtype, j_s.device
                fit = block_bytes // max(1, n * j_s.element_size())
                rows_per_block = block_rows or max(MIN_BLOCK_ROWS, min(GATHER_ROWS, fit))
            self.m += r_s.shape[0]
            if r_s.shape[0] == 0:
                continue
            pending.append((r_s, j_s))
            pending_rows += r_s.shape[0]
            if pending_rows >= rows_per_block:
                self._add_block(pending)
                pending, pending_rows = [], 0
        if pending:
            self._add_block(pending)
        if self.dtype is None or self.m == 0:
            raise ValueError("the Jacobian has no rows: the residual vector is empty")
        if partials is None:
            mirror_lower(self.jtj, self._tiles)
            self.g = to_torch(self._g, self.device)
        # a system solved in torch is copied there once: its diagonal and every trial need no Legate task
        self._jtj_torch = to_torch(self.jtj, self.device) if self.factorization == "torch" else None
        fence()  # nothing may read the producer's tensors after we return
        self.fallback_solves = 0
        self._diag: Tensor | None = None
        self._equilibrated: EquilibratedSPD | None = None
        self._last: tuple[Tensor, Tensor, Tensor] | None = None  # (v, b, d) of the last Cholesky solve

    def _sum_ranks(self, partials: NormalPartials, partition: RowPartition) -> None:
        """A = Σ_ranks A_k from the ranks' tiles of one store (:func:`sum_rank_tiles`: A stays in Legate);
        g and m by the partition's ``allreduce``. A_k = this rank's partials summed in torch."""
        jtj, g, rows = sum_partials(partials, self.n, SINGLE_PROCESS)
        self.dtype, self.device = jtj.dtype, g.device
        self.jtj = sum_rank_tiles(self.np, [(partition.rank, jtj)], partition.ranks)
        self.g = partition.allreduce(g)
        self.m = int(partition.allreduce(torch.tensor(float(rows), dtype=torch.float64)))
        self.blocks = 1

    def _sum_partials(self, partials: NormalPartials) -> None:
        """A = Σ A_d in cuPyNumeric (each full symmetric A_d attached read-only, the sum Legate's own array);
        g = Σ g_d in torch (n-vectors)."""
        g: Tensor | None = None
        for jtj, g_d, rows in partials:
            if self.dtype is None:
                self.dtype, self.device = jtj.dtype, g_d.device
            if jtj.shape != (self.n, self.n) or g_d.shape != (self.n,):
                raise ValueError(
                    f"partial normal equations have shapes {tuple(jtj.shape)} and {tuple(g_d.shape)}, expected "
                    f"({self.n}, {self.n}) and ({self.n},)"
                )
            attached = to_legate(self.np, jtj)
            self.jtj = attached * 1.0 if self.jtj is None else self.jtj + attached  # never the attached memory itself
            g = g_d.to(self.device).clone() if g is None else g + g_d.to(g)
            self.m += int(rows)
            self.blocks += 1
        if g is not None:
            self.g = g

    def _add_block(self, parts: list[tuple[Tensor, Tensor]]) -> None:
        np = self.np
        if len(parts) == 1:
            r_b, j_b = parts[0]  # a slice that fills a block by itself: attached without a copy
        else:
            # the one copy of this backend: gather small slices into one block (see the module notes)
            r_b = torch.cat([p[0] for p in parts])
            j_b = torch.cat([p[1] for p in parts])
        jac, res = to_legate(np, j_b), to_legate(np, r_b)
        self.jtj = add_lower_gram(np, self.jtj, jac, self._tiles)  # A += J_bᵀJ_b, lower tiles
        if self._g is None:
            self._g = jac.T @ res
        else:
            self._g += jac.T @ res
        self.blocks += 1
        # Legate reads attached blocks asynchronously and the producer keeps making slices: without a
        # limit, all of J could be waiting in host memory. Wait once block_bytes of it are unread.
        self._unread_bytes += j_b.numel() * j_b.element_size()
        if self._unread_bytes >= self._block_bytes:
            fence()
            self._unread_bytes = 0

    def gradient(self) -> Tensor:
        """g = Jᵀr (a torch n-vector)."""
        return self.g

    def jtj_diagonal(self) -> Tensor:
        """diag(JᵀJ) (a torch n-vector)."""
        if self._diag is None and self._jtj_torch is not None:
            self._diag = self._jtj_torch.diagonal().clone()
        elif self._diag is None:
            self._diag = to_torch(self.np.diagonal(self.jtj), self.device)
        return self._diag.clone()

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
        """Solve (JᵀJ + lam·diag(scale)) v = Jᵀw (w defaults to r) in cuPyNumeric (in torch for a small
        system, see :attr:`factorization`); v as a torch n-vector."""
        check_scale(scale, self.n)
        if self._equilibrated is None:  # once per system, not once per trial λ
            matrix = self.jtj if self._jtj_torch is None else self._jtj_torch
            self._equilibrated = EquilibratedSPD(
                self.np, matrix, self.jtj_diagonal().to(self.dtype), self.factorization
            )
        rhs = self.g if w is None else self._jt_times(w).to(self.dtype)
        add = float(lam) * scale.to(self.g)
        v, fell_back = self._equilibrated.solve(add, rhs)
        self._last = None if fell_back else (v, rhs, add)
        if fell_back:
            self.fallback_solves += 1
            warn_fallback("normal equations", lam)
        return v

    def curvature(self, v: Tensor) -> float:
        """vᵀ(JᵀJ)v. For ±(the last Cholesky solution), (JᵀJ + diag d)v = b gives vᵀJᵀJv = vᵀb − vᵀ(d∘v)
        from n-vectors in torch (no Legate round trip); any other v is multiplied in cuPyNumeric."""
        if self._last is not None:
            solved, rhs, add = self._last
            if torch.equal(v, solved) or torch.equal(v, -solved):
                return float(solved @ rhs - solved @ (add * solved))
        if self._jtj_torch is not None:
            v = v.to(self._jtj_torch)
            return float(v @ (self._jtj_torch @ v))
        vl = to_legate(self.np, v.to(self.dtype))
        return float(vl @ (self.jtj @ vl))


class LegateResidualSystem(LinearSystem):
    """J (m×n, m < n) kept in a cuPyNumeric array; solves with K = J D⁻¹ Jᵀ + λI (m×m)."""

    form = "residual"

    def __init__(self, np: Any, slices: Slices, n: int, torch_solve_max_n: int = TORCH_SOLVE_MAX_N) -> None:
        parts = []
        for r_s, j_s in slices:
            _check_slice(r_s, j_s, n)
            parts.append((r_s, j_s))
        if not parts or sum(p[0].shape[0] for p in parts) == 0:
            raise ValueError("the Jacobian has no rows: the residual vector is empty")
        self.np = np
        # J is needed for every solve, so it must be memory we own: torch.cat copies (as the torch backend)
        self._r_t = torch.cat([p[0] for p in parts]).detach()
        self._j_t = torch.cat([p[1] for p in parts]).detach()
        self.dtype, self.device = self._j_t.dtype, self._j_t.device
        self.n, self.m = n, self._r_t.shape[0]
        self.factorization = machine_factorization(np, self.m, torch_solve_max_n)  # of the m×m kernel
        self.jac = to_legate(np, self._j_t)  # zero-copy attach of our own tensor
        self.r = to_legate(np, self._r_t)
        self._kernel_scale: Tensor | None = None
        self._kernel: EquilibratedSPD | None = None
        self._g: Tensor | None = None
        self.fallback_solves = 0

    def gradient(self) -> Tensor:
        """g = Jᵀr (a torch n-vector)."""
        if self._g is None:
            self._g = to_torch(self.jac.T @ self.r, self.device)
        return self._g

    def jtj_diagonal(self) -> Tensor:
        """diag(JᵀJ), the squared column norms of J."""
        return to_torch((self.jac * self.jac).sum(axis=0), self.device)

    def _scaled_kernel(self, scale: Tensor) -> EquilibratedSPD:
        """J D⁻¹ Jᵀ, equilibrated; rebuilt only when D changes (once per iteration, not once per trial λ)."""
        if self._kernel is None or self._kernel_scale is None or not torch.equal(self._kernel_scale, scale):
            np = self.np
            inverse = to_legate(np, 1.0 / scale)
            kernel = None
            for c0, c1 in column_tiles(self.n, KERNEL_COLUMNS):  # temporaries m×|c|, never a scaled copy of J
                part = (self.jac[:, c0:c1] * inverse[None, c0:c1]) @ self.jac[:, c0:c1].T
                if kernel is None:
                    kernel = part
                else:
                    kernel += part
            diag = to_torch(np.diagonal(kernel), self.device).to(self.dtype)  # diag(J D⁻¹ Jᵀ), an m-vector
            self._kernel = EquilibratedSPD(np, kernel, diag, self.factorization)
            self._kernel_scale = scale.clone()
        return self._kernel

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
        """v = D⁻¹Jᵀ(JD⁻¹Jᵀ + lam·I)⁻¹w (w defaults to r), the residual-space solve."""
        check_scale(scale, self.n)
        scale = scale.to(self.dtype)
        kernel = self._scaled_kernel(scale)
        rhs = self._r_t if w is None else w.to(self.dtype)
        z, fell_back = kernel.solve(torch.full_like(rhs, float(lam)), rhs)
        if fell_back:
            self.fallback_solves += 1
            warn_fallback("residual-space system", lam)
        v = self.jac.T @ to_legate(self.np, z)
        return to_torch(v, self.device) / scale

    def curvature(self, v: Tensor) -> float:
        """‖Jv‖²."""
        jv = self.jac @ to_legate(self.np, v.to(self.dtype))
        return float(jv @ jv)


# --------------------------------------------------------------------------------------------------


class CupynumericBackend(Backend):
    """Normal equations (or residual-space systems) in cuPyNumeric arrays distributed by Legate.

    ``slice_rows``: rows per accumulation block (each block is one distributed ``J_bᵀJ_b`` product).
    ``None`` gathers thin slices into blocks of :data:`GATHER_ROWS` rows (at most ``block_bytes``,
    default 512 MiB) and uses thicker incoming slices as they come. ``cpus``: Legate CPU processors
    when pinnlma configures Legate on a machine without GPU (ignored if ``LEGATE_CONFIG`` is set or
    Legate already started). ``torch_solve_max_n``: systems of at most this size (n, or m in residual
    space) are accumulated in Legate but factored in torch, once copied (default
    :data:`~pinnlma.backends.legate.solve.TORCH_SOLVE_MAX_N`: there Legate's fixed cost per solve exceeds
    torch's whole solve); 0 factors everything in Legate. Raises
    :class:`~pinnlma.backends.base.BackendUnavailable` with the fix when cuPyNumeric cannot start.
    """

    name = "cupynumeric"

    def __init__(
        self,
        slice_rows: int | None = None,
        *,
        block_bytes: int = DEFAULT_BLOCK_BYTES,
        cpus: int | None = None,
        torch_solve_max_n: int = TORCH_SOLVE_MAX_N,
    ) -> None:
        if slice_rows is not None and slice_rows < 1:
            raise ValueError(f"slice_rows must be a positive number of rows, got {slice_rows}")
        if block_bytes < 1:
            raise ValueError(f"block_bytes must be positive, got {block_bytes}")
        if isinstance(torch_solve_max_n, bool) or not isinstance(torch_solve_max_n, int) or torch_solve_max_n < 0:
            raise ValueError(
                f"torch_solve_max_n must be an int >= 0 (0: every solve in Legate), got {torch_solve_max_n!r}"
            )
        self.torch_solve_max_n = torch_solve_max_n
        self.np = runtime.import_cupynumeric(cpus)
        self.slice_rows = slice_rows
        self.block_bytes = int(block_bytes)

    def normal_system(self, slices: Slices, n: int, jt_times: Callable[[Tensor], Tensor]) -> LinearSystem:
        """A :class:`LegateNormalSystem` accumulated from the slices."""
        return LegateNormalSystem(
            self.np, slices, n, jt_times, self.slice_rows, self.block_bytes, torch_solve_max_n=self.torch_solve_max_n
        )

    accepts_partials = True

    def gram_system(
        self,
        partials: NormalPartials,
        n: int,
        jt_times: Callable[[Tensor], Tensor],
        partition: RowPartition | None = None,
    ) -> LinearSystem | None:
        """A :class:`LegateNormalSystem` summed from device replicas' partial normal equations (n×n each,
        attached read-only; no Jacobian rows reach Legate). With a split ``partition`` (its ranks being
        Legate's), each rank's sum is tile ``rank`` of one store and A is their sum in cuPyNumeric."""
        return LegateNormalSystem(
            self.np,
            (),
            n,
            jt_times,
            self.slice_rows,
            self.block_bytes,
            partials=partials,
            partition=partition,
            torch_solve_max_n=self.torch_solve_max_n,
        )

    def row_partition(self, environ: Mapping[str, str] | None = None) -> RowPartition:
        """The launch's :class:`~pinnlma.ranks.RowPartition`, its sums through Legate (:func:`legate_partition`)."""
        return legate_partition(self.np, environ)

    def residual_system(self, slices: Slices, n: int) -> LinearSystem:
        """A :class:`LegateResidualSystem` holding J."""
        return LegateResidualSystem(self.np, slices, n, self.torch_solve_max_n)

    def machine(self) -> dict[str, int]:
        """Processor counts of the Legate machine: ``{"cpus": .., "omps": .., "gpus": ..}``."""
        return runtime.machine_summary()

    def describe(self) -> str:
        """Versions, the Legate machine's processors, the configuration and the driver, in one line."""
        env = runtime.prepare_legate()
        counts = self.machine()
        config = f"LEGATE_CONFIG={env.legate_config!r} ({env.config_source})" if env.legate_config else "auto-config"
        return (
            f"cupynumeric {version('nvidia-cupynumeric') or '?'} on legate {version('legate') or '?'} "
            f"(machine: {counts['cpus']} CPU, {counts['omps']} OpenMP, {counts['gpus']} GPU processor(s); "
            f"{config}; driver {env.driver_source})"
        )


__all__ = [
    "CupynumericBackend",
    "EquilibratedSPD",
    "LegateNormalSystem",
    "LegateResidualSystem",
    "spd_solve_legate",
    "to_legate",
    "to_torch",
]
