"""Packed and dense storage of JᵀJ: the same solves, the fallback, one factor for several right-hand sides."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


@pytest.mark.parametrize("lapack", ["torch", "scipy"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_packed_normal_matrix_matches_the_dense_one(dtype: torch.dtype, lapack: str) -> None:
    """JᵀJ and each trial's factor share one n×n matrix: solves, quadratic forms and the stored JᵀJ
    agree with the dense storage, and a solve leaves JᵀJ intact for the next λ; with torch's LAPACK and
    with scipy's (the fallback where torch's cannot be reached)."""
    from pinnlma.backends.torch.normal_matrix import (
        DenseNormalMatrix,
        PackedNormalMatrix,
    )

    gen = torch.Generator().manual_seed(5)
    n = 300  # more than one band of rows
    jac = torch.randn(900, n, dtype=dtype, generator=gen)
    rhs = torch.randn(n, dtype=dtype, generator=gen)
    packed, dense = PackedNormalMatrix(n, dtype), DenseNormalMatrix(n, dtype, torch.device("cpu"))
    if lapack == "scipy":
        packed._lapack = None
    for start in range(0, 900, 200):
        packed.add_rows(jac[start : start + 200])
        dense.add_rows(jac[start : start + 200])
    packed.finish()
    dense.finish()
    tol = 1e-11 if dtype == torch.float64 else 1e-4
    for lam in (1e-6, 1.0, 1e3, 1.0):
        shift = lam * (1.0 + torch.rand(n, dtype=dtype, generator=gen))
        (x, fell_back), (y, _) = packed.solve(shift, rhs), dense.solve(shift, rhs)
        assert not fell_back and float((x - y).norm() / y.norm()) < tol
        v = torch.randn(n, dtype=dtype, generator=gen)
        assert packed.quadratic(v) == pytest.approx(dense.quadratic(v), rel=tol)
        assert float((packed.matrix() - dense.matrix()).abs().max() / dense.matrix().abs().max()) < tol
    assert torch.equal(packed.diagonal(), packed.matrix().diagonal())


def test_packed_normal_matrix_falls_back_on_a_singular_system() -> None:
    from pinnlma.backends.torch.normal_matrix import PackedNormalMatrix

    jac = torch.zeros(10, 4, dtype=torch.float64)
    jac[:, :2] = 1.0  # rank one: JᵀJ is singular and undamped Cholesky breaks down
    packed = PackedNormalMatrix(4, torch.float64)
    packed.add_rows(jac)
    packed.finish()
    rhs = jac.T @ torch.ones(10, dtype=torch.float64)
    x, fell_back = packed.solve(torch.zeros(4, dtype=torch.float64), rhs)
    assert fell_back and torch.allclose(x, torch.tensor([0.5, 0.5, 0.0, 0.0], dtype=torch.float64))
    x, fell_back = packed.solve(torch.full((4,), 1e-3, dtype=torch.float64), rhs)  # damped: Cholesky again
    damped = jac.T @ jac + 1e-3 * torch.eye(4, dtype=torch.float64)
    assert not fell_back and torch.allclose(damped @ x, rhs, rtol=1e-12, atol=1e-12)
    with pytest.raises(RuntimeError, match="after finish"):
        packed.add_rows(jac)


@pytest.mark.parametrize("storage", ["packed", "dense"])
def test_factor_reuses_one_cholesky_and_inf_norm_is_the_row_sum_norm(storage: str) -> None:
    from pinnlma.backends.torch.normal_matrix import (
        DenseNormalMatrix,
        PackedNormalMatrix,
    )

    gen = torch.Generator().manual_seed(9)
    jac = torch.randn(300, 37, dtype=torch.float64, generator=gen)
    matrix = (
        PackedNormalMatrix(37, torch.float64)
        if storage == "packed"
        else DenseNormalMatrix(37, torch.float64, torch.device("cpu"))
    )
    matrix.add_rows(jac[:100])
    matrix.add_rows(jac[100:])
    matrix.finish()
    exact = jac.T @ jac
    shift = torch.full((37,), 0.5, dtype=torch.float64)
    solver = matrix.factor(shift)
    damped = exact + torch.diag(shift)
    for seed in (1, 2):  # one factor, several right-hand sides
        b = torch.randn(37, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        assert torch.allclose(damped @ solver(b), b, rtol=1e-12, atol=1e-12)
    assert matrix.inf_norm() == pytest.approx(float(exact.abs().sum(1).max()), rel=1e-13)
    assert matrix.factor(torch.full((37,), -1e9, dtype=torch.float64)) is None  # indefinite: no factor


@pytest.mark.parametrize("product_dtype", [None, torch.float32])
def test_dense_normal_matrix_is_the_full_symmetric_gram_matrix(product_dtype: torch.dtype | None) -> None:
    """The dense storage (the GPU one) accumulates by rank-k updates into the lower triangle and mirrors
    at finish(): the result is JᵀJ, exactly symmetric, against one plain product."""
    from pinnlma.backends.torch.normal_matrix import DenseNormalMatrix

    gen = torch.Generator().manual_seed(8)
    n = 300
    jac = torch.randn(700, n, dtype=torch.float64, generator=gen)
    dense = DenseNormalMatrix(n, torch.float64, torch.device("cpu"), product_dtype)
    for start in range(0, 700, 250):
        dense.add_rows(jac[start : start + 250])
    dense.finish()
    exact = jac.T @ jac
    a = dense.matrix()
    assert torch.equal(a, a.T)
    tol = 1e-13 if product_dtype is None else 1e-6
    assert float((a - exact).abs().max() / exact.abs().max()) < tol
    v = torch.randn(n, dtype=torch.float64, generator=gen)
    assert dense.quadratic(v) == pytest.approx(float(v @ exact @ v), rel=tol)
