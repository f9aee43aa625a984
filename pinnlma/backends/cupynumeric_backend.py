"""The cuPyNumeric (Legate) backend: the n×n (or m×m) matrices live in Legate's distributed arrays.

The LM core hands over torch row slices ``(r_s, J_s)``; this backend

1. groups them into *blocks* of rows: a slice of at least ``GATHER_ROWS`` rows is a block by itself,
   thinner ones are gathered until a block has that many rows (never more than ``block_bytes``),
2. hands each block to Legate without copying it (DLPack attach, see :func:`to_legate`),
3. accumulates ``A = Σ J_bᵀ J_b`` (its lower column tiles only, mirrored at the end: about half the
   flops of a full product, see :func:`add_lower_gram`) and ``g = Σ J_bᵀ r_b`` in cuPyNumeric arrays,
   which Legate partitions over all its processors (CPU cores, OpenMP groups, GPUs, nodes),
4. solves the damped system in cuPyNumeric: symmetric equilibration (once per system, see
   :class:`EquilibratedSPD`) and Cholesky, with the eigendecomposition fallback of
   :func:`pinnlma.backends.linalg.spd_solve`,

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

Always start Legate through this module (or :func:`legate_setup.import_cupynumeric`): a plain
``import cupynumeric`` before it fails on machines without an NVIDIA driver.

Measured against the torch backend by ``pinnlma bench backends`` (docs/performance.md).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy
import torch
from torch import Tensor

from . import legate_setup
from .base import Backend, LinearSystem, Slices, check_scale, warn_fallback
from .legate_setup import BackendUnavailable

DEFAULT_BLOCK_BYTES = 512 * 2**20
"""Rows of J are gathered into blocks of at most this many bytes before one ``J_bᵀJ_b`` product."""

MIN_BLOCK_ROWS = 256
"""Never make blocks thinner than this: below it the n×n additions cost more than the products."""

GATHER_ROWS = 2048
"""Slices thinner than this are gathered (copied) into blocks of this many rows; thicker ones are
attached to Legate as they are, without a copy."""

GRAM_TILE_COLUMNS = 800
"""Column width of the tiles of ``JᵀJ`` (see :func:`column_tiles`); narrower tiles save flops but
each tile is one more Legate task, and products thinner than this lose BLAS efficiency."""


def column_tiles(n: int, width: int | None = None) -> list[tuple[int, int]]:
    """Split ``range(n)`` into k ≈ n/width nearly equal column ranges (k = 1 below 2·width);
    ``width`` defaults to :data:`GRAM_TILE_COLUMNS`."""
    k = max(1, n // (width or GRAM_TILE_COLUMNS))
    edges = [round(i * n / k) for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))


def add_lower_gram(np: Any, acc: Any, jac: Any, tiles: list[tuple[int, int]]) -> Any:
    """acc[I, K] += J[:, I]ᵀ J[:, K] for the tiles on and below the diagonal (I ≥ K); returns ``acc``
    (a new array when ``acc`` is None).

    cuPyNumeric has no symmetric rank-k update, so ``jac.T @ jac`` costs 2·m·n² flops where BLAS syrk
    needs m·n². Forming only the k(k+1)/2 lower tiles of a k×k tiling costs (1 + 1/k)·m·n²; the upper
    tiles are mirrored once, after the last block (:func:`mirror_lower`)."""
    if len(tiles) == 1:  # one tile: the plain product (fewest Legate tasks, what small n needs)
        product = jac.T @ jac
        if acc is None:
            return product
        acc += product
        return acc
    if acc is None:
        acc = np.zeros((jac.shape[1], jac.shape[1]), dtype=jac.dtype)
    for i, (a0, a1) in enumerate(tiles):
        for b0, b1 in tiles[: i + 1]:
            acc[a0:a1, b0:b1] += jac[:, a0:a1].T @ jac[:, b0:b1]
    return acc


def mirror_lower(acc: Any, tiles: list[tuple[int, int]]) -> None:
    """Copy the tiles below the diagonal onto those above it (the diagonal tiles are full already)."""
    for i, (a0, a1) in enumerate(tiles):
        for b0, b1 in tiles[:i]:
            acc[b0:b1, a0:a1] = acc[a0:a1, b0:b1].T


# --------------------------------------------------------------------------------------------------
# torch <-> Legate


def to_legate(np: Any, tensor: Tensor) -> Any:
    """A cuPyNumeric view of a torch tensor, without copying when the memory is reachable by Legate.

    CPU tensors go through DLPack: ``cupynumeric.from_dlpack`` → ``legate.core.from_dlpack`` wraps the
    buffer as a sysmem ``ExternalAllocation`` and attaches it to a Legate store; the DLPack capsule
    keeps the tensor alive for as long as Legate uses it. (``cupynumeric.asarray(t.numpy())`` would
    *copy*: cuPyNumeric attaches a NumPy array only when ``arr.base is None``, and ``Tensor.numpy()``
    sets the tensor as base; ``asarray(tensor)`` itself also takes the DLPack path.) Legate reads
    attached memory asynchronously, so the tensor must not be modified in place until the work that
    reads it is done; the systems below fence before handing control back.

    CUDA tensors (not exercised on the CPU-only development machine): DLPack reports
    ``(kDLCUDA, device_id)``, and Legate wraps the pointer as an ``ExternalAllocation.from_fbmem`` on
    that GPU, again without a copy. Legate launches its tasks on its own CUDA streams, so torch's
    current stream is synchronised first (cheap, and correct whether or not Legate honours the DLPack
    ``stream`` handshake). Tasks on that GPU then read the buffer in place; tasks on other GPUs receive
    Legion copies of their tiles over NVLink/PCIe, which is the distribution we want. If Legate runs
    without GPUs (or the attach is refused), the tensor is copied to host memory instead.
    """
    tensor = tensor.detach()
    if tensor.ndim == 2 and not tensor.is_contiguous() and tensor.T.is_contiguous():
        return to_legate(np, tensor.T).T  # column-major (as the Jacobian slices are): attach Jᵀ, view it transposed
    if not tensor.is_contiguous():
        tensor = tensor.contiguous()  # copy: Legate attaches only dense buffers
    if tensor.device.type == "cuda":
        if legate_setup.machine_summary().get("gpus", 0) > 0:
            torch.cuda.current_stream(tensor.device).synchronize()
            try:
                return np.from_dlpack(tensor)
            except (BufferError, RuntimeError, ValueError, TypeError):
                pass
        tensor = tensor.cpu()  # copy: Legate has no GPU here (or refused the device buffer)
    elif tensor.device.type != "cpu":
        tensor = tensor.cpu()  # copy: a device Legate does not know (mps, xpu, ...)
    return np.from_dlpack(tensor)


def to_torch(array: Any, device: torch.device) -> Tensor:
    """Copy a (small) cuPyNumeric array into a new torch tensor on ``device``.

    ``numpy.asarray`` waits for the producing tasks and maps the store into host memory (Legate copies
    it there first if it lives on a GPU); the mapping is only valid while Legate keeps the store, so
    the data is copied into torch-owned memory. Used only for n- and m-vectors.
    """
    host = numpy.array(numpy.asarray(array), copy=True)
    out = torch.from_numpy(host)
    return out if device.type == "cpu" else out.to(device)


def _fence() -> None:
    """Wait until every Legate operation issued so far has run (attached torch memory is then free)."""
    from legate.core import get_legate_runtime

    get_legate_runtime().issue_execution_fence(block=True)


# --------------------------------------------------------------------------------------------------
# the damped SPD solve, in cuPyNumeric


def spd_solve_legate(np: Any, matrix: Any, diag_add: Any, rhs: Any) -> tuple[Any, bool]:
    """Solve ``(matrix + diag(diag_add)) x = rhs`` for symmetric PSD ``matrix``, in cuPyNumeric.

    The same algorithm as :func:`pinnlma.backends.linalg.spd_solve`: equilibrate symmetrically with
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
        from .linalg import _eigen_solve

        m_t = to_torch(sym, torch.device("cpu"))
        r_t = to_torch(rhs, torch.device("cpu"))
        return to_legate(np, _eigen_solve(m_t, r_t, rcond))
    cutoff = rcond * max(float(np.abs(values).max()), tiny)
    keep = values > cutoff
    inverse = np.where(keep, 1.0 / np.where(keep, values, np.ones_like(values)), np.zeros_like(values))
    coeff = (vectors.T @ rhs) * inverse
    return vectors @ coeff


# --------------------------------------------------------------------------------------------------
# the two linear systems


def _check_slice(r_s: Tensor, j_s: Tensor, n: int) -> None:
    if j_s.ndim != 2 or j_s.shape[1] != n or r_s.shape != (j_s.shape[0],):
        raise ValueError(
            f"Jacobian slice has shape {tuple(j_s.shape)} with residuals {tuple(r_s.shape)}, "
            f"expected (s, {n}) and (s,)"
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
    ) -> None:
        self.np = np
        self.n, self.m = n, 0
        self._jt_times = jt_times
        self.jtj: Any = None  # cuPyNumeric n×n
        self._g: Any = None  # cuPyNumeric n
        self.dtype: torch.dtype | None = None
        self.device = torch.device("cpu")
        self.blocks = 0
        self._tiles = column_tiles(n)
        self._block_bytes = block_bytes
        self._unread_bytes = 0  # attached block memory Legate may not have read yet
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
        mirror_lower(self.jtj, self._tiles)
        self.g = to_torch(self._g, self.device)
        _fence()  # nothing may read the producer's tensors after we return
        self.fallback_solves = 0
        self._diag: Tensor | None = None
        self._equilibrated: EquilibratedSPD | None = None
        self._last: tuple[Tensor, Tensor, Tensor] | None = None  # (v, b, d) of the last Cholesky solve

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
            _fence()
            self._unread_bytes = 0

    def gradient(self) -> Tensor:
        return self.g

    def jtj_diagonal(self) -> Tensor:
        if self._diag is None:
            self._diag = to_torch(self.np.diagonal(self.jtj), self.device)
        return self._diag.clone()

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
        check_scale(scale, self.n)
        if self._equilibrated is None:  # once per system, not once per trial λ
            self._equilibrated = EquilibratedSPD(self.np, self.jtj, self.jtj_diagonal().to(self.dtype))
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
        vl = to_legate(self.np, v.to(self.dtype))
        return float(vl @ (self.jtj @ vl))


class LegateResidualSystem(LinearSystem):
    """J (m×n, m < n) kept in a cuPyNumeric array; solves with K = J D⁻¹ Jᵀ + λI (m×m)."""

    form = "residual"

    def __init__(self, np: Any, slices: Slices, n: int) -> None:
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
        self.jac = to_legate(np, self._j_t)  # zero-copy attach of our own tensor
        self.r = to_legate(np, self._r_t)
        self._kernel_scale: Tensor | None = None
        self._kernel: EquilibratedSPD | None = None
        self._g: Tensor | None = None
        self.fallback_solves = 0

    def gradient(self) -> Tensor:
        if self._g is None:
            self._g = to_torch(self.jac.T @ self.r, self.device)
        return self._g

    def jtj_diagonal(self) -> Tensor:
        return to_torch((self.jac * self.jac).sum(axis=0), self.device)

    def _scaled_kernel(self, scale: Tensor) -> EquilibratedSPD:
        """J D⁻¹ Jᵀ, equilibrated; rebuilt only when D changes (once per iteration, not once per trial λ)."""
        if self._kernel_scale is None or not torch.equal(self._kernel_scale, scale):
            np = self.np
            kernel = (self.jac * to_legate(np, 1.0 / scale)[None, :]) @ self.jac.T
            diag = ((self._j_t * self._j_t) @ (1.0 / scale)).to(self.dtype)  # diag(J D⁻¹ Jᵀ), in torch
            self._kernel = EquilibratedSPD(np, kernel, diag)
            self._kernel_scale = scale.clone()
        return self._kernel

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
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
        jv = self.jac @ to_legate(self.np, v.to(self.dtype))
        return float(jv @ jv)


# --------------------------------------------------------------------------------------------------


class CupynumericBackend(Backend):
    """Normal equations (or residual-space systems) in cuPyNumeric arrays distributed by Legate.

    ``slice_rows``: rows per accumulation block (each block is one distributed ``J_bᵀJ_b`` product).
    ``None`` gathers thin slices into blocks of :data:`GATHER_ROWS` rows (at most ``block_bytes``,
    default 512 MiB) and uses thicker incoming slices as they come. ``cpus``: Legate CPU processors
    when pinnlma configures Legate on a machine without GPU (ignored if ``LEGATE_CONFIG`` is set or
    Legate already started). Raises :class:`~pinnlma.backends.legate_setup.BackendUnavailable` with
    the fix when cuPyNumeric cannot start.
    """

    name = "cupynumeric"

    def __init__(self, slice_rows: int | None = None, *, block_bytes: int = DEFAULT_BLOCK_BYTES,
                 cpus: int | None = None) -> None:
        if slice_rows is not None and slice_rows < 1:
            raise ValueError(f"slice_rows must be a positive number of rows, got {slice_rows}")
        if block_bytes < 1:
            raise ValueError(f"block_bytes must be positive, got {block_bytes}")
        self.np = legate_setup.import_cupynumeric(cpus)
        self.slice_rows = slice_rows
        self.block_bytes = int(block_bytes)

    def normal_system(self, slices: Slices, n: int, jt_times: Callable[[Tensor], Tensor]) -> LinearSystem:
        return LegateNormalSystem(self.np, slices, n, jt_times, self.slice_rows, self.block_bytes)

    def residual_system(self, slices: Slices, n: int) -> LinearSystem:
        return LegateResidualSystem(self.np, slices, n)

    def machine(self) -> dict[str, int]:
        """Processor counts of the Legate machine: ``{"cpus": .., "omps": .., "gpus": ..}``."""
        return legate_setup.machine_summary()

    def describe(self) -> str:
        import legate

        env = legate_setup.prepare_legate()
        counts = self.machine()
        config = f"LEGATE_CONFIG={env.legate_config!r} ({env.config_source})" if env.legate_config else "auto-config"
        return (
            f"cupynumeric {getattr(self.np, '__version__', '?')} on legate {getattr(legate, '__version__', '?')} "
            f"(machine: {counts['cpus']} CPU, {counts['omps']} OpenMP, {counts['gpus']} GPU processor(s); "
            f"{config}; driver {env.driver_source})"
        )


__all__ = [
    "BackendUnavailable",
    "CupynumericBackend",
    "EquilibratedSPD",
    "LegateNormalSystem",
    "LegateResidualSystem",
    "spd_solve_legate",
    "to_legate",
    "to_torch",
]
