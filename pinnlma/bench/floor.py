"""The measured floor of one LM iteration of shape (m, n): the bare matrix products it cannot avoid.

:class:`Floor` times JᵀJ by ``addmm`` into a preallocated n×n and the Cholesky of an n×n SPD matrix;
:class:`Syrk` times a real symmetric rank-k update (BLAS dsyrk through scipy, which torch lacks), the
reference for what a syrk-based accumulation costs.
"""

from __future__ import annotations

import gc
import math
import time

import numpy as np
import torch

__all__ = ["Floor", "Syrk"]


def _openblas_threads(threads: int) -> int | None:
    """Set the thread count of the OpenBLAS that scipy loaded (to match torch's); the count, or None."""
    import ctypes

    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and line.strip().endswith(".so")}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in (
            ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
            ("openblas_set_num_threads", "openblas_get_num_threads"),
        ):
            if hasattr(lib, setter) and hasattr(lib, getter):
                getattr(lib, setter)(int(threads))
                return int(getattr(lib, getter)())
    return None


class Syrk:
    """C ← JᵀJ (lower triangle) by BLAS dsyrk through scipy, on a Fortran view of torch's row-major J (no
    copy): m·n² flops, half the JᵀJ matrix product. The reference for what a syrk-based accumulation costs."""

    def __init__(self, jac: torch.Tensor) -> None:
        from scipy.linalg import blas

        self._dsyrk = blas.dsyrk
        self._a = jac.detach().cpu().numpy().T  # n×m, Fortran order, shares memory with jac
        n = self._a.shape[0]
        self._c = np.zeros((n, n), order="F")
        self.threads = _openblas_threads(torch.get_num_threads())

    def __call__(self) -> None:
        """One C ← JᵀJ by dsyrk."""
        self._c[...] = 0.0
        self._dsyrk(1.0, self._a, beta=0.0, c=self._c, trans=0, lower=1, overwrite_c=1)


class Floor:
    """The bare products of one iteration of shape (m, n): JᵀJ by addmm into a preallocated n×n, and the
    Cholesky of an n×n SPD matrix. Inputs are allocated once, outside the timed region."""

    def __init__(self, m: int, n: int, dtype: torch.dtype = torch.float64, seed: int = 1) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.jac = torch.randn(m, n, dtype=dtype, generator=gen) / math.sqrt(m)
        self.out = torch.zeros(n, n, dtype=dtype)
        spd = self.jac.T @ self.jac
        spd.diagonal().add_(1.0)
        self.spd = spd
        try:
            self.syrk: Syrk | None = Syrk(self.jac) if dtype == torch.float64 else None
        except ImportError:
            self.syrk = None

    def measure(self) -> dict[str, float]:
        """One timed floor: ``{"floor", "gemm", "cholesky"}`` seconds (and ``"syrk"`` where available)."""
        gc.collect()
        start = time.perf_counter()
        self.out.zero_()
        self.out.addmm_(self.jac.T, self.jac)
        mid = time.perf_counter()
        torch.linalg.cholesky(self.spd)
        end = time.perf_counter()
        out = {"floor": end - start, "gemm": mid - start, "cholesky": end - mid}
        if self.syrk is not None:
            gc.collect()
            begin = time.perf_counter()
            self.syrk()
            out["syrk"] = time.perf_counter() - begin
        return out
