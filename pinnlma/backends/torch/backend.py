"""The embedded default backend: the normal equations in torch, on whatever device the Jacobian lives."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ...ranks import RowPartition
from ..base import Backend, LinearSystem, NormalPartials, Slices, check_scale, sum_partials, warn_fallback
from .linalg import scaled_kernel, spd_solve
from .normal_matrix import DenseNormalMatrix, PackedNormalMatrix, normal_matrix
from .refinement import RefinedNormalSystem


class TorchNormalSystem(LinearSystem):
    """A = JᵀJ and g = Jᵀr accumulated slice by slice: memory n² + one slice, whatever m is.

    On the CPU A lives in packed storage (:class:`~pinnlma.backends.torch.normal_matrix.PackedNormalMatrix`:
    BLAS syrk, half the flops of a product, and each trial's Cholesky factor in the same n×n memory);
    on other devices as a dense matrix."""

    form = "normal"

    def __init__(
        self,
        slices: Slices,
        n: int,
        jt_times: Callable[[Tensor], Tensor],
        gram_dtype: torch.dtype | None = None,
        on_breakdown: Callable[[], None] | None = None,
        allow_empty: bool = False,
    ) -> None:
        self.n, self.m = n, 0
        self._jt_times = jt_times
        self._on_breakdown = on_breakdown
        self.fallback_solves = 0
        if allow_empty:  # from_partials fills in the matrix
            return
        matrix: PackedNormalMatrix | DenseNormalMatrix | None = None
        g: Tensor | None = None
        for r_s, j_s in slices:
            if matrix is None or g is None:
                matrix = normal_matrix(n, j_s.dtype, j_s.device, gram_dtype)
                g = torch.zeros(n, dtype=j_s.dtype, device=j_s.device)
            matrix.add_rows(j_s)  # A += J_sᵀ J_s
            g.addmv_(j_s.T, r_s)  # g += J_sᵀ r_s
            self.m += r_s.shape[0]
        if matrix is None or g is None:
            raise ValueError("the Jacobian has no rows: the residual vector is empty")
        matrix.finish()
        self.matrix, self.g = matrix, g
        self.fallback_solves = 0

    @classmethod
    def from_partials(
        cls,
        partials: NormalPartials,
        n: int,
        jt_times: Callable[[Tensor], Tensor],
        on_breakdown: Callable[[], None] | None = None,
    ) -> TorchNormalSystem:
        """The system A = Σ A_d, g = Σ g_d from partial normal equations on one device (device
        replicas'): n×n additions only, no Jacobian rows."""
        system = cls([], n, jt_times, on_breakdown=on_breakdown, allow_empty=True)
        matrix: PackedNormalMatrix | DenseNormalMatrix | None = None
        g: Tensor | None = None
        for jtj, g_d, rows in partials:
            if matrix is None or g is None:
                matrix = normal_matrix(n, jtj.dtype, jtj.device)
                g = torch.zeros(n, dtype=jtj.dtype, device=jtj.device)
            matrix.add_gram(jtj)
            g += g_d.to(g)
            system.m += int(rows)
        if matrix is None or g is None or system.m == 0:
            raise ValueError("the Jacobian has no rows: the residual vector is empty")
        matrix.finish()
        system.matrix, system.g = matrix, g
        return system

    @property
    def jtj(self) -> Tensor:
        """JᵀJ as a new full n×n tensor (for inspection; the solves never build it)."""
        return self.matrix.matrix()

    def gradient(self) -> Tensor:
        """g = Jᵀr."""
        return self.g

    def jtj_diagonal(self) -> Tensor:
        """diag(JᵀJ)."""
        return self.matrix.diagonal()

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
        """Solve (JᵀJ + lam·diag(scale)) v = Jᵀw (w defaults to r)."""
        check_scale(scale, self.n)
        rhs = self.g if w is None else self._jt_times(w)
        v, fell_back = self.matrix.solve(lam * scale.to(self.g), rhs)
        if fell_back:
            self.fallback_solves += 1
            warn_fallback("normal equations", lam)
            if self._on_breakdown is not None:
                self._on_breakdown()
        return v

    def curvature(self, v: Tensor) -> float:
        """‖Jv‖² = vᵀ(JᵀJ)v."""
        return self.matrix.quadratic(v)


class TorchResidualSystem(LinearSystem):
    """J kept whole (m < n); solves with K = J D⁻¹ Jᵀ + λI, an m×m system."""

    form = "residual"

    def __init__(self, slices: Slices, n: int) -> None:
        rows, jacs = zip(*slices) if slices else ((), ())
        if not rows:
            raise ValueError("the Jacobian has no rows: the residual vector is empty")
        self.r = torch.cat(rows)
        self.jac = torch.cat(jacs)
        self.n, self.m = n, self.r.shape[0]
        self._kernel_scale: Tensor | None = None
        self._kernel: Tensor | None = None
        self.fallback_solves = 0

    def gradient(self) -> Tensor:
        """g = Jᵀr."""
        return self.jac.T @ self.r

    def jtj_diagonal(self) -> Tensor:
        """diag(JᵀJ), the squared column norms of J."""
        return (self.jac * self.jac).sum(dim=0)

    def _scaled_kernel(self, scale: Tensor) -> Tensor:
        """J D⁻¹ Jᵀ, rebuilt only when D changes (once per iteration, not once per trial λ)."""
        if self._kernel is None or self._kernel_scale is None or not torch.equal(self._kernel_scale, scale):
            self._kernel = scaled_kernel(self.jac, 1.0 / scale)  # no m×n temporary
            self._kernel_scale = scale.clone()
        return self._kernel

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
        """v = D⁻¹Jᵀ(JD⁻¹Jᵀ + lam·I)⁻¹w (w defaults to r)."""
        check_scale(scale, self.n)
        scale = scale.to(self.jac)
        kernel = self._scaled_kernel(scale)
        damped = kernel.clone()
        damped.diagonal().add_(lam)
        z, fell_back = spd_solve(damped, self.r if w is None else w, overwrite=True)
        if fell_back:
            self.fallback_solves += 1
            warn_fallback("residual-space system", lam)
        return (self.jac.T @ z) / scale

    def curvature(self, v: Tensor) -> float:
        """‖Jv‖²."""
        jv = self.jac @ v
        return float(jv @ jv)


class TorchBackend(Backend):
    """Linear algebra in torch on the device of the Jacobian slices.

    ``gram_dtype`` (default: the Jacobian's own): the precision the products JᵀJ are formed in. With
    ``torch.float32`` under a float64 Jacobian the products run at single-precision speed (twice the
    flops per second on CPUs, far more on most GPUs) while Jᵀr, the sums over slices and the residuals
    stay float64.

    ``refine`` (default True, only with a lower ``gram_dtype``): every solve is refined against J in
    its own precision (:mod:`pinnlma.backends.torch.refinement`: LAPACK dsposv's scheme; the rows of J are
    kept, m·n numbers), so the steps, the predicted reductions and diag(JᵀJ) are those of the float64
    system to float64 accuracy. With ``refine=False`` the solves use the single-precision products as
    they are (A exact to about 1e-7 relative, which an LM step tolerates while λ is large) and J is not
    kept. Either way, once the single-precision matrix fails (Cholesky breaks down, or refinement stops
    contracting) the backend forms JᵀJ in the Jacobian's precision from the next iteration on
    (``gram_dtype_now`` says which is in use). The residual-space form is not affected.
    """

    name = "torch"

    def __init__(self, gram_dtype: torch.dtype | str | None = None, refine: bool = True) -> None:
        self.gram_dtype = _as_float_dtype(gram_dtype)
        self.gram_dtype_now = self.gram_dtype
        self.refine = bool(refine)

    def normal_system(self, slices: Slices, n: int, jt_times: Callable[[Tensor], Tensor]) -> LinearSystem:
        """JᵀJ and Jᵀr accumulated from the slices (float32 products and refinement as configured)."""
        if self.gram_dtype_now is None:
            return TorchNormalSystem(slices, n, jt_times)
        if self.refine:
            return RefinedNormalSystem(slices, n, jt_times, self.gram_dtype_now, on_breakdown=self._widen_gram)
        return TorchNormalSystem(slices, n, jt_times, gram_dtype=self.gram_dtype_now, on_breakdown=self._widen_gram)

    @property
    def accepts_partials(self) -> bool:  # type: ignore[override]
        """Partial normal equations are summed as they are, in the Jacobian's precision (not with float32
        products: those, and their refinement, need the rows)."""
        return self.gram_dtype_now is None

    def gram_system(
        self,
        partials: NormalPartials,
        n: int,
        jt_times: Callable[[Tensor], Tensor],
        partition: RowPartition | None = None,
    ) -> LinearSystem | None:
        """A :class:`TorchNormalSystem` summed from per-device partials (and over the processes of a split
        ``partition``, by its ``allreduce``: torch tensors are per process); None with float32 products."""
        if not self.accepts_partials:
            return None
        if partition is not None and partition.split:
            partials = [sum_partials(partials, n, partition)]
        return TorchNormalSystem.from_partials(partials, n, jt_times)

    def residual_system(self, slices: Slices, n: int) -> LinearSystem:
        """J kept whole for the residual-space solves."""
        return TorchResidualSystem(list(slices), n)

    def describe(self) -> str:
        """torch's version, threads and the precision of the JᵀJ products."""
        products = (
            ""
            if self.gram_dtype_now is None
            else (f", JᵀJ products in {self.gram_dtype_now}" + (" with refined solves" if self.refine else ""))
        )
        return f"torch {torch.__version__} (threads={torch.get_num_threads()}{products})"

    def _widen_gram(self) -> None:
        self.gram_dtype_now = None


def _as_float_dtype(value: torch.dtype | str | None) -> torch.dtype | None:
    """None, torch.float32/float64, or their names; anything else is a clear error."""
    names = {"float32": torch.float32, "float64": torch.float64}
    if value is None or value in names.values():
        return value  # type: ignore[return-value]
    if isinstance(value, str) and value in names:
        return names[value]
    raise ValueError(f"gram_dtype must be 'float32', 'float64' (or the torch dtypes), or None; got {value!r}")
