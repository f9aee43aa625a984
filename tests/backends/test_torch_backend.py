"""The torch backend's two system forms against dense solves, the singular fallback, float32 products."""

from __future__ import annotations

import pytest
import torch

import pinnlma
from pinnlma.backends import TorchBackend
from pinnlma.backends.torch.linalg import cholesky_or_eigen, spd_solve
from tests.lm.fixtures import random_system

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


@pytest.mark.parametrize("m,n", [(50, 8), (8, 50)])
def test_normal_and_residual_forms_agree_with_dense_solve(m: int, n: int) -> None:
    jac, r = random_system(m, n)
    scale = torch.rand(n, generator=torch.Generator().manual_seed(3)) + 0.5
    lam = 0.3
    expected = torch.linalg.solve(jac.T @ jac + lam * torch.diag(scale), jac.T @ r)
    backend = TorchBackend()
    normal = backend.normal_system([(r, jac)], n, lambda w: jac.T @ w)
    residual = backend.residual_system([(r, jac)], n)
    for system in (normal, residual):
        v = system.solve(lam, scale)
        assert torch.allclose(v, expected, rtol=1e-10, atol=1e-12), system.form
        assert torch.allclose(system.gradient(), jac.T @ r)
        assert torch.allclose(system.jtj_diagonal(), (jac * jac).sum(0))
        assert system.curvature(v) == pytest.approx(float((jac @ v) @ (jac @ v)), rel=1e-12)
    w = torch.randn(m, generator=torch.Generator().manual_seed(4))
    other = torch.linalg.solve(jac.T @ jac + lam * torch.diag(scale), jac.T @ w)
    assert torch.allclose(normal.solve(lam, scale, w), other, rtol=1e-10)
    assert torch.allclose(residual.solve(lam, scale, w), other, rtol=1e-10)


# -- fallback solve -----------------------------------------------------------------------------------------
def test_singular_system_falls_back_without_crashing() -> None:
    a = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    x, fell_back = spd_solve(a, torch.tensor([2.0, 2.0]))
    assert fell_back and torch.allclose(x, torch.tensor([1.0, 1.0]))  # the minimum-norm solution
    indefinite = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    _, fell_back = spd_solve(indefinite, torch.tensor([1.0, 0.0]))
    assert fell_back


def test_cholesky_or_eigen_solves_columns_and_falls_back_on_a_singular_matrix() -> None:
    spd = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    rhs = torch.tensor([[1.0, 0.0], [2.0, 1.0]], dtype=torch.float64)
    y, fell_back = cholesky_or_eigen(spd, rhs)
    assert not fell_back and torch.allclose(spd @ y, rhs, atol=1e-14)
    y, fell_back = cholesky_or_eigen(torch.ones(2, 2, dtype=torch.float64), torch.tensor([2.0, 2.0]).double())
    assert fell_back and torch.allclose(y, torch.tensor([1.0, 1.0]).double())  # the minimum-norm solution


def test_float32_gram_products_widen_after_a_breakdown() -> None:
    """TorchBackend(gram_dtype='float32') (its products and solves: test_torch_refinement.py): an LM fit
    converges with it; a breakdown of Cholesky switches later iterations to float64."""
    from pinnlma.backends import SingularSystemWarning, TorchBackend, get_backend

    gen = torch.Generator().manual_seed(8)
    jac = torch.randn(400, 90, dtype=torch.float64, generator=gen)
    r = torch.randn(400, dtype=torch.float64, generator=gen)
    backend = get_backend("torch", gram_dtype="float32")
    assert backend.gram_dtype == torch.float32 and "float32" in backend.describe()
    exact = jac.T @ jac

    # a fit converges with it
    t = torch.linspace(0, 1, 50, dtype=torch.float64)
    target = 2.0 * torch.exp(-1.3 * t) + 0.5
    result = pinnlma.least_squares(
        lambda p: p[0] * torch.exp(-p[1] * t) + p[2] - target,
        torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64),
        backend=TorchBackend(gram_dtype=torch.float32),
    )
    assert torch.allclose(result.x, torch.tensor([2.0, 1.3, 0.5], dtype=torch.float64), atol=1e-8)

    # a singular system breaks Cholesky down: the fallback solves it, and the next systems are float64
    singular = torch.zeros(10, 4, dtype=torch.float64)
    singular[:, :2] = 1.0
    system = backend.normal_system([(torch.ones(10, dtype=torch.float64), singular)], 4, lambda w: singular.T @ w)
    with pytest.warns(SingularSystemWarning):
        system.solve(0.0, torch.ones(4, dtype=torch.float64))
    assert backend.gram_dtype_now is None and "float32" not in backend.describe()
    system = backend.normal_system([(r, jac)], 90, lambda w: jac.T @ w)
    assert float((system.jtj - exact).abs().max() / exact.abs().max()) < 1e-13
    with pytest.raises(ValueError, match="gram_dtype"):
        TorchBackend(gram_dtype="float16")
