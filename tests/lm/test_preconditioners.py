"""pinnlma.lm.preconditioners: the randomized Nyström approximation and preconditioner (Frangella, Tropp & Udell
2023) on explicit matrices."""

from __future__ import annotations

import torch

from pinnlma.lm.krylov import pcg
from pinnlma.lm.preconditioners import NystromApproximation
from tests.lm.matrix_free_problems import DT


def low_rank_plus_tail(n: int, rank: int, seed: int = 0) -> torch.Tensor:
    """An ill-conditioned PSD matrix: ``rank`` eigenvalues from 1e6 down to 1e2, the rest 1e-2 … 1e-4."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=DT))
    eig = torch.cat([torch.logspace(6, 2, rank, dtype=DT), torch.logspace(-2, -4, n - rank, dtype=DT)])
    return (q * eig) @ q.T


def test_nystrom_is_exact_for_a_low_rank_matrix_and_reduces_cg_iterations() -> None:
    g = torch.Generator().manual_seed(3)
    u, _ = torch.linalg.qr(torch.randn(80, 10, generator=g, dtype=DT))
    low = (u * torch.logspace(0, 4, 10, dtype=DT)) @ u.T  # rank 10
    omega = torch.randn(80, 12, generator=g, dtype=DT)
    approx = NystromApproximation(omega, low @ omega)
    dense = approx.u @ torch.diag(approx.eigenvalues) @ approx.u.T
    assert float((dense - low).norm() / low.norm()) < 1e-10
    # an ill-conditioned system: the rank-20 preconditioner takes the top of the spectrum out
    a = low_rank_plus_tail(200, 20)
    mu = 1e-3
    b = torch.randn(200, generator=g, dtype=DT)
    k = a + mu * torch.eye(200, dtype=DT)
    omega = torch.randn(200, 30, generator=g, dtype=DT)
    pre = NystromApproximation(omega, a @ omega).preconditioner(mu)
    plain = pcg(lambda p: k @ p, b, rtol=1e-10, max_iterations=5000)
    nys = pcg(lambda p: k @ p, b, rtol=1e-10, max_iterations=5000, precondition=pre)
    assert plain.stop == nys.stop == "tolerance"
    assert nys.iterations * 4 < plain.iterations
    exact = torch.linalg.solve(k, b)  # cond(K) = 1e9: the error is below cond·1e-10
    assert float((nys.x - exact).norm() / exact.norm()) < 1e-6
    # M⁻¹ is symmetric positive definite, and the identity on the complement of range(U)
    m_inv = torch.stack([pre(e) for e in torch.eye(200, dtype=DT)], dim=1)
    assert torch.allclose(m_inv, m_inv.T, atol=1e-12) and float(torch.linalg.eigvalsh(m_inv).min()) > 0
