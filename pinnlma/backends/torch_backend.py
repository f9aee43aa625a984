"""The embedded default backend: the normal equations in torch, on whatever device the Jacobian lives."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .base import Backend, LinearSystem, Slices, check_scale, warn_fallback
from .linalg import spd_solve
from .normal_matrix import DenseNormalMatrix, PackedNormalMatrix, normal_matrix


class TorchNormalSystem(LinearSystem):
    """A = JᵀJ and g = Jᵀr accumulated slice by slice: memory n² + one slice, whatever m is.

    On the CPU A lives in packed storage (:class:`~pinnlma.backends.normal_matrix.PackedNormalMatrix`:
    BLAS syrk, half the flops of a product, and each trial's Cholesky factor in the same n×n memory);
    on other devices as a dense matrix."""

    form = "normal"

    def __init__(self, slices: Slices, n: int, jt_times: Callable[[Tensor], Tensor]) -> None:
        self.n, self.m = n, 0
        self._jt_times = jt_times
        self.matrix: PackedNormalMatrix | DenseNormalMatrix | None = None
        self.g: Tensor | None = None
        for r_s, j_s in slices:
            if self.matrix is None:
                self.matrix = normal_matrix(n, j_s.dtype, j_s.device)
                self.g = torch.zeros(n, dtype=j_s.dtype, device=j_s.device)
            self.matrix.add_rows(j_s)  # A += J_sᵀ J_s
            self.g.addmv_(j_s.T, r_s)  # g += J_sᵀ r_s
            self.m += r_s.shape[0]
        if self.matrix is None:
            raise ValueError("the Jacobian has no rows: the residual vector is empty")
        self.matrix.finish()
        self.fallback_solves = 0

    @property
    def jtj(self) -> Tensor:
        """JᵀJ as a new full n×n tensor (for inspection; the solves never build it)."""
        return self.matrix.matrix()

    def gradient(self) -> Tensor:
        return self.g

    def jtj_diagonal(self) -> Tensor:
        return self.matrix.diagonal()

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
        check_scale(scale, self.n)
        rhs = self.g if w is None else self._jt_times(w)
        v, fell_back = self.matrix.solve(lam * scale.to(self.g), rhs)
        if fell_back:
            self.fallback_solves += 1
            warn_fallback("normal equations", lam)
        return v

    def curvature(self, v: Tensor) -> float:
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
        return self.jac.T @ self.r

    def jtj_diagonal(self) -> Tensor:
        return (self.jac * self.jac).sum(dim=0)

    def _scaled_kernel(self, scale: Tensor) -> Tensor:
        """J D⁻¹ Jᵀ, rebuilt only when D changes (once per iteration, not once per trial λ)."""
        if self._kernel_scale is None or not torch.equal(self._kernel_scale, scale):
            self._kernel = (self.jac / scale) @ self.jac.T
            self._kernel_scale = scale.clone()
        return self._kernel

    def solve(self, lam: float, scale: Tensor, w: Tensor | None = None) -> Tensor:
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
        jv = self.jac @ v
        return float(jv @ jv)


class TorchBackend(Backend):
    """Linear algebra in torch on the device of the Jacobian slices."""

    name = "torch"

    def normal_system(self, slices: Slices, n: int, jt_times: Callable[[Tensor], Tensor]) -> LinearSystem:
        return TorchNormalSystem(slices, n, jt_times)

    def residual_system(self, slices: Slices, n: int) -> LinearSystem:
        return TorchResidualSystem(list(slices), n)

    def describe(self) -> str:
        return f"torch {torch.__version__} (threads={torch.get_num_threads()})"
