"""Experiment (not part of the library): the float64 sinc LM step with scipy's OpenBLAS doing the products.

docs/performance.md asks whether a faster BLAS than torch's MKL could lift pinnlma's float64 step to 2x
torch-levenberg-marquardt (tlm). On the 2-core development machine scipy's OpenBLAS dsyrk is the one
syrk faster than pinnlma's rank-k recursion (about 32 vs 39 ms for 5000x769) — but only when torch's
OpenMP threads are not spinning beside it. This script therefore runs the whole LM step with torch held
at one thread (its pool then never spins) while OpenBLAS (its own two threads) does the rank-k update,
the Cholesky and the solves, and compares, in alternating repeats of 100 steps each:

  tlm (cholesky solver) | pinnlma as shipped (torch's MKL, 2 threads) | pinnlma with the OpenBLAS products

It first times the parts on their own. It patches library internals (``rank_k_update`` and the LAPACK
routines of ``PackedNormalMatrix``) for the experiment only, so it may need adjusting if those change.

    .venv/bin/python docs/experiments/openblas_step.py [REPEATS]

Needs the bench extra (torch-levenberg-marquardt).
"""
from __future__ import annotations

import copy
import ctypes
import statistics
import sys
import time
from typing import Any, Callable

import scipy.linalg.cython_blas as cython_blas
import scipy.linalg.cython_lapack as cython_lapack
import torch

import pinnlma.backends.torch.normal_matrix as normal_matrix
from pinnlma.bench import fixtures, peers
from pinnlma.bench.peer_tlm import _pinnlma_runner, _tlm_runner
from pinnlma.lm import LevenbergMarquardt, Nielsen

INT = ctypes.POINTER(ctypes.c_int)
DOUBLE = ctypes.POINTER(ctypes.c_double)
CHAR = ctypes.c_char_p


def _routine(module: Any, name: str, *argtypes: Any) -> Callable[..., None]:
    """A BLAS/LAPACK routine of scipy's OpenBLAS, from the capsules scipy exports for Cython."""
    capsule = module.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return ctypes.CFUNCTYPE(None, *argtypes)(get_pointer(capsule, get_name(capsule)))


dsyrk = _routine(cython_blas, "dsyrk", CHAR, CHAR, INT, INT, DOUBLE, DOUBLE, INT, DOUBLE, DOUBLE, INT)
dpotrf = _routine(cython_lapack, "dpotrf", CHAR, INT, DOUBLE, INT, INT)
dpotrs = _routine(cython_lapack, "dpotrs", CHAR, INT, INT, DOUBLE, INT, DOUBLE, INT, INT)


def _int(value: int) -> Any:
    return ctypes.byref(ctypes.c_int(value))


def _doubles(tensor: torch.Tensor) -> Any:
    return ctypes.cast(ctypes.c_void_p(tensor.data_ptr()), DOUBLE)


ONE = ctypes.byref(ctypes.c_double(1.0))


def openblas_rank_k_update(acc: torch.Tensor, rows: torch.Tensor, product_dtype: Any = None) -> None:
    """acc's row-major lower triangle += rowsᵀ rows (rows column-major s×n, as the Jacobian engine makes them)."""
    s, n = rows.shape
    if rows.stride() != (1, s) or product_dtype is not None or rows.dtype != torch.float64:
        raise ValueError("the experiment handles column-major float64 rows only")
    dsyrk(b"U", b"T", _int(n), _int(s), ONE, _doubles(rows), _int(s), ONE, _doubles(acc), _int(n))


class OpenBlasLapack:
    """The potrf/potrs interface of pinnlma.backends.torch.lapack.TorchLapack, through scipy's OpenBLAS."""
    dtype = torch.float64

    def potrf(self, work: torch.Tensor) -> int:
        n, info = work.shape[0], ctypes.c_int(0)
        dpotrf(b"L", _int(n), _doubles(work), _int(n), ctypes.byref(info))
        return info.value

    def potrs(self, factor: torch.Tensor, rhs: torch.Tensor) -> int:
        n, info = factor.shape[0], ctypes.c_int(0)
        dpotrs(b"L", _int(n), _int(1), _doubles(factor), _int(n), _doubles(rhs), _int(n), ctypes.byref(info))
        return info.value


def median_ms(fn: Callable[[], Any], threads: int, repeats: int = 15) -> float:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fn()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return statistics.median(samples) * 1e3


def time_parts(x: torch.Tensor, y: torch.Tensor) -> None:
    net = fixtures.sinc_network(seed=0)
    lm = LevenbergMarquardt(net, fixtures.sinc_residual, rowwise=True)
    lm.engine.args = (x, y)
    params, m = lm.params, x.shape[0]
    jacobian = lambda: list(lm.engine.slices(params, m))  # noqa: E731
    jt = torch.randn(params.numel(), m, dtype=torch.float64)  # column-major J, as the engine makes it
    n = jt.shape[0]
    acc = torch.zeros(n, n, dtype=torch.float64)
    system = jt @ jt.T + torch.eye(n, dtype=torch.float64)
    work = torch.empty_like(system)
    mkl = normal_matrix.torch_lapack(torch.float64)

    def forward() -> None:
        with torch.no_grad():
            net(x)

    def step(threads: int, syrk: Callable[[], None], lapack: Any) -> Callable[[], None]:
        def run() -> None:
            jacobian()
            syrk()
            work.copy_(system)
            lapack.potrf(work)
            forward()
        return run

    mkl_syrk = lambda: normal_matrix.rank_k_update(acc, jt.T)  # noqa: E731
    ob_syrk = lambda: openblas_rank_k_update(acc, jt.T)  # noqa: E731
    for _ in range(3):
        print(f"parts (ms): Jacobian {median_ms(jacobian, 1):.1f} at 1 torch thread, {median_ms(jacobian, 2):.1f} at 2 | "
              f"forward {median_ms(forward, 1):.2f} / {median_ms(forward, 2):.2f} | rank-k update OpenBLAS "
              f"{median_ms(ob_syrk, 1):.1f}, torch/MKL {median_ms(mkl_syrk, 2):.1f} | in sequence (Jacobian, "
              f"rank-k, Cholesky, forward): OpenBLAS {median_ms(step(1, ob_syrk, OpenBlasLapack()), 1):.1f}, "
              f"MKL {median_ms(step(2, mkl_syrk, mkl), 2):.1f}", flush=True)


def main(repeats: int) -> None:
    x, y = fixtures.sinc_data(5000)
    time_parts(x, y)
    template = fixtures.sinc_network(seed=0)
    state = copy.deepcopy(template.state_dict())
    shipped = _pinnlma_runner(template, state, x, y, lambda: Nielsen(lam0=1e-3))
    original_init, original_update = normal_matrix.PackedNormalMatrix.__init__, normal_matrix.rank_k_update

    def with_openblas(epochs: int) -> dict[str, Any]:
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            self._lapack = OpenBlasLapack()
        previous = torch.get_num_threads()
        normal_matrix.PackedNormalMatrix.__init__ = init
        normal_matrix.rank_k_update = openblas_rank_k_update
        torch.set_num_threads(1)
        try:
            return shipped(epochs)
        finally:
            normal_matrix.PackedNormalMatrix.__init__ = original_init
            normal_matrix.rank_k_update = original_update
            torch.set_num_threads(previous)

    tlm = _tlm_runner(peers.load_tlm(), template, state, x, y, "cholesky")
    for run in (tlm, shipped, with_openblas):
        run(2)
    for _ in range(repeats):
        t, a, b = (run(100) for run in (tlm, shipped, with_openblas))
        ms = [r["time_per_step"] * 1e3 for r in (t, a, b)]
        print(f"tlm {ms[0]:.1f} ms/step | pinnlma {ms[1]:.1f} ({ms[0] / ms[1]:.2f}x, MSE {a['mse']:.3e}) | "
              f"pinnlma + OpenBLAS {ms[2]:.1f} ({ms[0] / ms[2]:.2f}x, MSE {b['mse']:.3e}, "
              f"{b['trials_per_step']:.2f} trials/step)", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
