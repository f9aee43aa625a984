"""The rank-k update and torch's own LAPACK (potrf/potrs) against torch.linalg."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rank_k_update_fills_the_lower_triangle_only(dtype: torch.dtype) -> None:
    from pinnlma.backends.torch.linalg import GRAM_LEAF, rank_k_update

    gen = torch.Generator().manual_seed(3)
    n = 3 * GRAM_LEAF + 7  # several levels of halving, uneven halves
    jac = torch.randn(500, n, dtype=dtype, generator=gen)
    acc = torch.zeros(n, n, dtype=dtype)
    acc.triu_(1).add_(torch.triu(torch.full((n, n), 7.0, dtype=dtype), 1))  # the upper part must survive
    for start in range(0, 500, 128):  # contiguous row slices, as the engines yield them
        rank_k_update(acc, jac[start : start + 128])
    rank_k_update(acc, jac.T.contiguous().T[:10])  # a column-major view works too
    ref = torch.tril(jac.T @ jac + jac[:10].T @ jac[:10])
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert float((torch.tril(acc) - ref).abs().max() / ref.abs().max()) < tol
    assert torch.equal(torch.triu(acc, 1), torch.triu(torch.full((n, n), 7.0, dtype=dtype), 1))
    with pytest.raises(ValueError, match="must match"):
        rank_k_update(acc, jac.to(torch.float16))
    with pytest.raises(ValueError, match="s×n rows"):
        rank_k_update(acc, jac[:, :5])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_torch_lapack_factors_in_place_like_torch_linalg(dtype: torch.dtype) -> None:
    """torch's own potrf/potrs through ctypes: reachable on the supported torch wheels, and right."""
    from pinnlma.backends.torch.lapack import torch_lapack

    lapack = torch_lapack(dtype)
    assert lapack is not None, "torch's LAPACK symbols were not found: the packed solve would use scipy's"
    gen = torch.Generator().manual_seed(4)
    jac = torch.randn(300, 120, dtype=dtype, generator=gen)
    a = jac.T @ jac + torch.eye(120, dtype=dtype)
    work = torch.tril(a) + 99.0 * torch.triu(torch.ones_like(a), 1)  # potrf reads only the other triangle
    work = work.T.contiguous()  # row-major upper triangle = A's, the lower one is junk
    assert lapack.potrf(work) == 0
    tol = 1e-10 if dtype == torch.float64 else 1e-3
    factor = torch.linalg.cholesky(a)
    assert float((torch.triu(work).T - factor).abs().max() / factor.abs().max()) < tol
    assert torch.equal(torch.tril(work, -1), 99.0 * torch.tril(torch.ones_like(a), -1))
    rhs = torch.randn(120, dtype=dtype, generator=gen)
    x = rhs.clone()
    assert lapack.potrs(work, x) == 0
    assert float((a @ x - rhs).norm() / rhs.norm()) < tol
    with pytest.raises(ValueError, match="contiguous square"):
        lapack.potrf(work[:, :5])


def test_symmetrize_lower_mirrors_the_strict_lower_triangle(monkeypatch: pytest.MonkeyPatch) -> None:
    from pinnlma.backends.torch import linalg

    monkeypatch.setattr(linalg, "MIRROR_BAND", 7)  # several bands, a ragged last one
    g = torch.Generator().manual_seed(3)
    a = torch.randn(30, 30, generator=g, dtype=torch.float64)
    expected = torch.tril(a) + torch.tril(a, -1).T
    linalg.symmetrize_lower(a)
    assert torch.equal(a, expected)


@pytest.mark.parametrize("columns", [5, 2048])
def test_scaled_kernel_is_j_dinv_jt(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    """K = J D⁻¹ Jᵀ from column blocks (3 blocks and a ragged one, or all at once) and rank-k updates."""
    from pinnlma.backends.torch import linalg

    monkeypatch.setattr(linalg, "KERNEL_COLUMNS", columns)
    g = torch.Generator().manual_seed(4)
    jac = torch.randn(9, 17, generator=g, dtype=torch.float64)
    scale = torch.rand(17, generator=g, dtype=torch.float64) + 0.1
    kernel = linalg.scaled_kernel(jac, 1.0 / scale)
    exact = (jac / scale) @ jac.T
    assert torch.equal(kernel, kernel.T)
    assert float((kernel - exact).abs().max() / exact.abs().max()) < 1e-14
    with pytest.raises(ValueError, match="expected \\(17,\\)"):
        linalg.scaled_kernel(jac, scale[:3])
