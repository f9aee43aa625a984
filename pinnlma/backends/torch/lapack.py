"""Cholesky factor and solve in place, through the LAPACK that torch itself links (MKL on x86 wheels).

Why not scipy: scipy brings a second BLAS (OpenBLAS) with a thread pool of its own. On a machine with few
cores the two pools fight: torch's OpenMP threads spin for a while after each torch operation, OpenBLAS's
threads after each call, and whichever library runs next loses cores to the other's spinning. On the
2-core development machine a Cholesky of n = 769 took 2.6 ms through torch's LAPACK right after a torch
operation and 8 ms through scipy's; a BLAS syrk of 5000×769 lost 8 ms of its 32 in the same way.

torch has no public in-place ``potrf`` on a view of a bigger buffer (``torch.linalg.cholesky`` copies and
allocates its result), so this module calls the Fortran symbols ``?potrf_`` / ``?potrs_`` of torch's own
library through ctypes, on the memory of CPU tensors. Integer arguments are passed as 8-byte words
holding the value in their low half, which reads correctly under both 32-bit (LP64) and 64-bit (ILP64)
LAPACK integers on a little-endian machine. :func:`torch_lapack` checks the routines once on a small
matrix against ``torch.linalg``; if anything is off (symbols missing, a big-endian machine, a wrong
result) it returns None and callers use scipy instead.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import sys

import torch
from torch import Tensor


class TorchLapack:
    """``potrf``/``potrs`` of one precision, on the column-major view of row-major square tensors.

    The column-major lower triangle of a row-major n×n tensor W is W's row-major *upper* triangle: that
    is where :meth:`potrf` leaves the factor L (so Wᵀ's lower triangle is L), and the only part of W it
    reads or writes.
    """

    def __init__(self, library: ctypes.CDLL, dtype: torch.dtype) -> None:
        prefix = "d" if dtype == torch.float64 else "s"
        self.dtype = dtype
        self._potrf = getattr(library, f"{prefix}potrf_")
        self._potrs = getattr(library, f"{prefix}potrs_")
        for routine in (self._potrf, self._potrs):
            routine.restype = None

    def potrf(self, work: Tensor) -> int:
        """Factor the column-major lower triangle of ``work`` in place; LAPACK's ``info`` (0: success)."""
        n = self._square(work)
        info = _word(0)
        self._potrf(
            ctypes.c_char_p(b"L"),
            ctypes.byref(_word(n)),
            ctypes.c_void_p(work.data_ptr()),
            ctypes.byref(_word(max(1, n))),
            ctypes.byref(info),
        )
        return _value(info)

    def potrs(self, factor: Tensor, rhs: Tensor) -> int:
        """Overwrite the contiguous n-vector ``rhs`` with the solution of L Lᵀ x = rhs (L from :meth:`potrf`)."""
        n = self._square(factor)
        if rhs.shape != (n,) or not rhs.is_contiguous() or rhs.dtype != self.dtype or rhs.device.type != "cpu":
            raise ValueError(f"potrs needs a contiguous CPU {self.dtype} vector of length {n}")
        info = _word(0)
        self._potrs(
            ctypes.c_char_p(b"L"),
            ctypes.byref(_word(n)),
            ctypes.byref(_word(1)),
            ctypes.c_void_p(factor.data_ptr()),
            ctypes.byref(_word(max(1, n))),
            ctypes.c_void_p(rhs.data_ptr()),
            ctypes.byref(_word(max(1, n))),
            ctypes.byref(info),
        )
        return _value(info)

    def _square(self, work: Tensor) -> int:
        if (
            work.ndim != 2
            or work.shape[0] != work.shape[1]
            or not work.is_contiguous()
            or work.dtype != self.dtype
            or work.device.type != "cpu"
        ):
            raise ValueError(
                f"LAPACK routines here need a contiguous square CPU {self.dtype} tensor, "
                f"got {tuple(work.shape)} {work.dtype} on {work.device}"
            )
        return int(work.shape[0])


def _word(value: int) -> ctypes.c_int64:
    return ctypes.c_int64(value)


def _value(word: ctypes.c_int64) -> int:
    """LAPACK's info from an 8-byte word: a 32-bit LAPACK writes only the low half (sign in bit 31)."""
    low = word.value & 0xFFFFFFFF
    return low - (1 << 32) if low >= 1 << 31 else low


@functools.cache
def torch_lapack(dtype: torch.dtype) -> TorchLapack | None:
    """The checked routines for float64/float32, or None where torch's library does not offer them."""
    if dtype not in (torch.float64, torch.float32) or sys.byteorder != "little":
        return None
    for path in _torch_libraries():
        try:
            lapack = TorchLapack(ctypes.CDLL(path), dtype)
        except (OSError, AttributeError):
            continue
        if _passes_check(lapack):
            return lapack
    return None


def _torch_libraries() -> list[str]:
    folder = os.path.join(os.path.dirname(torch.__file__), "lib")
    return sorted(glob.glob(os.path.join(folder, "libtorch_cpu.*")))


def _passes_check(lapack: TorchLapack) -> bool:
    """Factor and solve a small SPD system and compare with torch.linalg; a non-SPD one must fail."""
    dtype = lapack.dtype
    a = torch.tensor(
        [[4.0, 2.0, 0.4, 0.0], [2.0, 5.0, 1.0, 0.3], [0.4, 1.0, 3.0, 0.2], [0.0, 0.3, 0.2, 2.0]], dtype=dtype
    )
    rhs = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=dtype)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    try:
        work = a.clone()  # symmetric: its row-major upper triangle is also the column-major lower one
        if lapack.potrf(work) != 0:
            return False
        expected = torch.linalg.cholesky(a)
        if not torch.allclose(torch.triu(work).T, expected, rtol=tol, atol=tol):
            return False
        x = rhs.clone()
        if lapack.potrs(work, x) != 0 or not torch.allclose(x, torch.linalg.solve(a, rhs), rtol=tol, atol=tol):
            return False
        indefinite = torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=dtype)
        return lapack.potrf(indefinite) == 2
    except (OSError, ValueError, RuntimeError):
        return False


def describe_lapack() -> str:
    """Which LAPACK the packed CPU solves use, in words (torch's own, else scipy's)."""
    if torch_lapack(torch.float64) is not None:
        return "CPU solves with torch's own LAPACK"
    return "CPU solves with scipy's LAPACK: torch's LAPACK symbols were not found"
