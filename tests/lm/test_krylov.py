"""pinnlma.lm.krylov: preconditioned CG (tolerance, cap, Steihaug curvature stop, non-finite products) and the
Eisenstat–Walker forcing term, against dense solves and the formulas."""

from __future__ import annotations

import math

import pytest
import torch

from pinnlma.lm.krylov import CG_STOPS, Forcing, pcg
from pinnlma.lm.preconditioners import jacobi
from tests.lm.matrix_free_problems import DT


def spd(n: int, cond: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=DT))
    eig = torch.logspace(0, math.log10(cond), n, dtype=DT)
    return (q * eig) @ q.T


# -- PCG ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_jacobi", [False, True])
def test_pcg_solves_an_spd_system_to_its_tolerance(with_jacobi: bool) -> None:
    a = spd(60, 1e4)
    d = torch.logspace(0, 3, 60, dtype=DT)
    a = d.sqrt()[:, None] * a * d.sqrt()[None, :]  # badly scaled: Jacobi has work to do
    b = 1e3 * torch.randn(60, generator=torch.Generator().manual_seed(1), dtype=DT)
    exact = torch.linalg.solve(a, b)
    pre = jacobi(a.diagonal().clone(), 0.0) if with_jacobi else None
    res = pcg(lambda p: a @ p, b, rtol=1e-12, max_iterations=2000, precondition=pre)
    assert res.stop == "tolerance"
    true_rel = float((b - a @ res.x).norm() / b.norm())
    assert res.relative_residual <= 1e-12 and true_rel < 1e-10
    assert float((res.x - exact).norm() / exact.norm()) < 1e-8
    loose = pcg(lambda p: a @ p, b, rtol=1e-3, max_iterations=2000, precondition=pre)
    assert loose.relative_residual <= 1e-3 and loose.iterations < res.iterations
    # the reported residual is the relative one, ‖b − Ax‖/‖b‖ (recursive, equal to the true one here)
    assert loose.relative_residual == pytest.approx(float((b - a @ loose.x).norm() / b.norm()), rel=1e-6)


def test_pcg_stops_at_the_cap_at_nonpositive_curvature_and_on_zero_rhs() -> None:
    a = spd(30, 1e6)
    b = torch.ones(30, dtype=DT)
    capped = pcg(lambda p: a @ p, b, rtol=1e-14, max_iterations=5)
    assert capped.stop == "max_iterations" and capped.iterations == 5 and capped.relative_residual > 1e-14
    # the model q(x) = ½xᵀAx − bᵀx decreases along CG, so a truncated solve is a descent step
    q = lambda x: float(0.5 * x @ (a @ x) - b @ x)  # noqa: E731
    values = [q(pcg(lambda p: a @ p, b, rtol=0.0, max_iterations=k).x) for k in (1, 2, 3, 4, 5)]
    assert all(v2 < v1 for v1, v2 in zip(values, values[1:])) and values[0] < 0
    indefinite = torch.diag(torch.tensor([1.0, -1.0, 2.0], dtype=DT))
    stopped = pcg(lambda p: indefinite @ p, torch.ones(3, dtype=DT), rtol=1e-12, max_iterations=10)
    assert stopped.stop == "nonpositive_curvature" and torch.isfinite(stopped.x).all()
    zero = pcg(lambda p: a @ p, torch.zeros(30, dtype=DT), rtol=1e-8, max_iterations=10)
    assert zero.stop == "zero_rhs" and zero.iterations == 0 and torch.equal(zero.x, torch.zeros(30, dtype=DT))
    broken = pcg(lambda p: p * math.nan, b, rtol=1e-8, max_iterations=10)
    assert broken.stop == "nonfinite" and torch.isnan(broken.x).all()
    assert {capped.stop, stopped.stop, zero.stop, broken.stop} <= set(CG_STOPS)
    with pytest.raises(ValueError, match="max_iterations"):
        pcg(lambda p: p, b, rtol=1e-3, max_iterations=0)


def test_eisenstat_walker_forcing_and_its_state() -> None:
    f = Forcing("eisenstat-walker", eta_max=0.5, eta_min=1e-6)
    assert f.next(10.0) == 0.5  # η₀ = η_max
    # 0.9·(1/10)² = 0.009, but the safeguard 0.9·0.5² = 0.225 > 0.1 keeps it at 0.225
    assert f.next(1.0) == pytest.approx(0.225)
    # 0.9·(0.01/1)² = 9e-5; safeguard 0.9·0.225² = 0.0456 < 0.1 is not applied
    assert f.next(0.01) == pytest.approx(9e-5)
    assert f.next(1e-9) == pytest.approx(1e-6)  # floored at η_min
    saved = f.state_dict()
    g = Forcing("eisenstat-walker", eta_max=0.5, eta_min=1e-6)
    g.load_state_dict(saved)
    assert g.next(1e-9) == f.next(1e-9)
    assert Forcing(0.3).next(1.0) == 0.3 and Forcing(0.3).next(1e-9) == 0.3
    for bad in (dict(rule="newton"), dict(rule=1.5), dict(rule=0.1, eta_min=0.5, eta_max=0.1)):
        with pytest.raises(ValueError):
            Forcing(bad.pop("rule"), **bad)


# -- preconditioners ---------------------------------------------------------------------------------------
