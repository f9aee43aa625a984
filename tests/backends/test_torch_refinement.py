"""float32 JᵀJ products with solves refined against J to float64 accuracy."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


def _graded_problem(m: int, n: int, decades: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A column-major J with singular values from 1 down to 10^-decades, and a residual."""
    gen = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(m, n, dtype=torch.float64, generator=gen))
    v, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=gen))
    sigma = torch.logspace(0, -decades, n, dtype=torch.float64)
    jac = ((u * sigma) @ v.T).T.contiguous().T
    return jac, torch.randn(m, dtype=torch.float64, generator=gen)


def test_refined_float32_products_solve_the_float64_system() -> None:
    """TorchBackend(gram_dtype='float32') refines every solve against J: the steps, ‖Jv‖², diag(JᵀJ)
    and Jᵀr are those of float64, to float64 accuracy, from single-precision products."""
    from pinnlma.backends import TorchBackend
    from pinnlma.backends.torch.refinement import RefinedNormalSystem

    jac, r = _graded_problem(600, 80, decades=2.0, seed=4)
    slices = [(r[:250], jac[:250]), (r[250:], jac[250:])]
    backend = TorchBackend(gram_dtype="float32")
    assert "refined" in backend.describe()
    system = backend.normal_system(slices, 80, lambda w: jac.T @ w)
    assert isinstance(system, RefinedNormalSystem) and len(system.rows) == 2
    exact = jac.T @ jac
    assert 1e-12 < float((system.jtj - exact).abs().max() / exact.abs().max()) < 1e-5  # float32 products
    assert torch.allclose(system.jtj_diagonal(), exact.diagonal(), rtol=1e-14, atol=0)
    assert torch.allclose(system.gradient(), jac.T @ r, rtol=1e-13, atol=1e-13)
    scale = exact.diagonal().clone()
    w = torch.randn(600, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    for lam in (1e-1, 1e-3, 1e-6):
        damped = exact + lam * torch.diag(scale)
        for rhs_w in (None, w):
            v = system.solve(lam, scale, rhs_w)
            b = jac.T @ (r if rhs_w is None else w)
            reference = torch.linalg.solve(damped, b)
            assert float((v - reference).norm() / reference.norm()) < 1e-11, lam
            # the backward error of a float64 solve, not of a float32 one
            assert float((damped @ v - b).abs().max()) <= 80 * 2.3e-16 * float(
                damped.abs().sum(1).max() * v.abs().max()
            )
            assert system.curvature(-v) == pytest.approx(float((jac @ v).square().sum()), rel=1e-13)
    assert not system.exact and system.sweeps and max(system.sweeps) <= 4
    assert backend.gram_dtype_now == torch.float32


def test_refinement_that_cannot_contract_rebuilds_in_float64() -> None:
    """κ(JᵀJ)·u₃₂ ≫ 1 and a tiny λ: the float32 matrix fails (indefinite or no contraction); the system
    is rebuilt from the kept rows in float64, solves correctly, and the backend widens for good."""
    from pinnlma.backends import TorchBackend

    jac, r = _graded_problem(400, 60, decades=6.0, seed=6)
    backend = TorchBackend(gram_dtype="float32")
    system = backend.normal_system([(r, jac)], 60, lambda w: jac.T @ w)
    scale = torch.ones(60, dtype=torch.float64)
    v = system.solve(1e-13, scale)
    reference = torch.linalg.solve(jac.T @ jac + 1e-13 * torch.eye(60, dtype=torch.float64), jac.T @ r)
    assert system.exact and backend.gram_dtype_now is None
    assert float((v - reference).norm() / reference.norm()) < 1e-3  # κ ≈ 1e12: float64's own accuracy
    assert float(((jac.T @ jac) @ v + 1e-13 * v - jac.T @ r).norm() / (jac.T @ r).norm()) < 1e-9
    assert "float32" not in backend.describe()


def test_unrefined_float32_products_do_not_keep_the_jacobian() -> None:
    from pinnlma.backends import TorchBackend
    from pinnlma.backends.torch.backend import TorchNormalSystem

    jac, r = _graded_problem(300, 40, decades=1.0, seed=7)
    system = TorchBackend(gram_dtype="float32", refine=False).normal_system([(r, jac)], 40, lambda w: jac.T @ w)
    assert isinstance(system, TorchNormalSystem)
    v = system.solve(1e-3, torch.ones(40, dtype=torch.float64))
    reference = torch.linalg.solve(jac.T @ jac + 1e-3 * torch.eye(40, dtype=torch.float64), jac.T @ r)
    assert 1e-12 < float((v - reference).norm() / reference.norm()) < 1e-4  # single-precision A, as documented
