"""The Jacobian engine: slices, strategies, the automatic choice, explicit Jacobians, rowwise promises."""

from __future__ import annotations

import pytest
import torch

import pinnlma
from pinnlma.backends import TorchBackend
from pinnlma.lm.jacobian import JacobianEngine, choose_strategy
from tests.lm.fixtures import (
    exp_data,
    exp_model,
    fit_residual,
    mlp,
    random_system,
    rosenbrock,
)

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


def test_slice_accumulation_matches_full_jacobian() -> None:
    jac, r = random_system(1000, 40)
    slices = [(r[i : i + 37], jac[i : i + 37]) for i in range(0, 1000, 37)]
    system = TorchBackend().normal_system(slices, 40, lambda w: jac.T @ w)
    full = jac.T @ jac
    assert float((system.jtj - full).norm() / full.norm()) < 1e-12
    assert float((system.g - jac.T @ r).norm() / (jac.T @ r).norm()) < 1e-12


def test_memory_budget_bounds_slice_size() -> None:
    t = torch.linspace(0, 1, 5000).unsqueeze(1)
    y = torch.sin(t)
    engine = JacobianEngine(
        lambda x, t, y: (x[0] * t + x[1] * t**2 - y).reshape(-1),
        (t, y),
        rowwise=True,
        strategy="rowwise",
        memory_budget=4 * 2 * 8 * 100,
    )
    sizes = [s[1].shape[0] for s in engine.slices(torch.ones(2), 5000)]
    assert max(sizes) == 100 and sum(sizes) == 5000


# -- Jacobian strategies ----------------------------------------------------------------------------------
def test_every_jacobian_strategy_gives_the_same_jacobian() -> None:
    t, y = exp_data(30)
    x = torch.tensor([2.0, 1.0, 0.3])

    def explicit(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        e = torch.exp(-x[1] * t)
        return torch.stack([e, -x[0] * t * e, torch.ones_like(t)], dim=1)

    jacobians = {}
    for strategy in ("forward", "reverse", "rowwise", "explicit"):
        engine = JacobianEngine(
            exp_model, (t, y), strategy=strategy, rowwise=True, jac=explicit, memory_budget=4 * 3 * 8 * 7
        )  # 7-row slices
        r, jac = engine.full(x)
        assert torch.allclose(r, exp_model(x, t, y))
        jacobians[strategy] = jac
    for strategy, jac in jacobians.items():
        assert torch.allclose(jac, jacobians["explicit"], rtol=1e-13, atol=1e-14), strategy


def test_automatic_strategy_choice() -> None:
    assert choose_strategy(100, 3, 8, rowwise_possible=False).strategy == "forward"
    assert choose_strategy(10, 50, 8, rowwise_possible=False).strategy == "reverse"
    assert choose_strategy(20000, 61, 8, rowwise_possible=True).strategy == "rowwise"
    assert choose_strategy(10**6, 10, 8, rowwise_possible=False, memory_budget=2**20).strategy == "reverse"
    assert choose_strategy(10, 2, 8, rowwise_possible=False, explicit=True).strategy == "explicit"


def test_explicit_jacobian_with_wrong_shape_is_reported() -> None:
    with pytest.raises(ValueError, match=r"expected a tensor of shape \(2, 2\)"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), jac=lambda x: torch.zeros(3, 2))


def test_rowwise_rows_with_several_residuals_give_the_generic_jacobian() -> None:
    x = torch.linspace(-1, 1, 30).unsqueeze(1)
    y = torch.cat([torch.sinc(3 * x), torch.cos(2 * x), x**2], dim=1)
    net = mlp(5, outputs=3)
    lm = pinnlma.LevenbergMarquardt(net, fit_residual, rowwise=True)
    theta = lm.params
    engine = JacobianEngine(lm._flat_residual, (x, y), rowwise=True, strategy="rowwise", memory_budget=10**9)
    r_rows, jac_rows = engine.full(theta)
    engine_generic = JacobianEngine(lm._flat_residual, (x, y), strategy="reverse")
    r_ref, jac_ref = engine_generic.full(theta)
    assert jac_rows.shape == (90, theta.numel())
    torch.testing.assert_close(r_rows, r_ref)
    torch.testing.assert_close(jac_rows, jac_ref)
    # small slices: several data rows per slice, never a row split between slices
    tiny = JacobianEngine(
        lm._flat_residual, (x, y), rowwise=True, strategy="rowwise", memory_budget=7 * 3 * theta.numel() * 8 * 4
    )
    torch.testing.assert_close(tiny.full(theta)[1], jac_ref)
    assert lm.step(x, y).cost < 0.5 * float(r_ref @ r_ref)


def test_rowwise_promises_that_do_not_hold_are_reported() -> None:
    x = torch.linspace(-1, 1, 20).unsqueeze(1)
    y2 = torch.cat([x, -x], dim=1)
    column_by_column = pinnlma.LevenbergMarquardt(
        mlp(4, outputs=2), lambda net, a, b: (net(a) - b).T.reshape(-1), rowwise=True
    )
    with pytest.raises(ValueError, match=r"positions k·i"):
        column_by_column.step(x, y2)
    with pytest.raises(ValueError, match="same number of rows"):
        pinnlma.LevenbergMarquardt(mlp(), lambda net, a, b: net(a).reshape(-1) - b.mean(), rowwise=True).step(x, x[:10])
    with pytest.raises(ValueError, match="the residual has 19 entries but the data has 20 rows"):
        pinnlma.LevenbergMarquardt(mlp(), lambda net, a, b: (net(a) - b).reshape(-1)[1:], rowwise=True).step(x, x)
    # a 0-d tensor argument has no rows: it is passed whole
    weighted = pinnlma.LevenbergMarquardt(mlp(), lambda net, a, b, w: (w * (net(a) - b)).reshape(-1), rowwise=True)
    folded = pinnlma.LevenbergMarquardt(mlp(), lambda net, a, b: (2.0 * (net(a) - b)).reshape(-1), rowwise=True)
    for _ in range(2):  # the same steps as with the weight written into the residual
        assert weighted.step(x, x, torch.tensor(2.0)).cost == pytest.approx(folded.step(x, x).cost, rel=1e-12)
    assert torch.allclose(weighted.params, folded.params, rtol=1e-12, atol=1e-14)


def test_rebind_points_the_engine_at_new_data_and_a_new_row_shortcut() -> None:
    t, y = exp_data()
    x = torch.tensor([2.0, 1.0, 0.5])
    engine = JacobianEngine(exp_model, (t[:20], y[:20]), strategy="rowwise", rowwise=True)
    first = engine.full(x)[1]
    engine.rebind(args=(t, y))
    assert engine.plan is None and engine.full(x)[1].shape == (40, 3)
    calls = []

    def shortcut(p: torch.Tensor, args: tuple[object, ...]) -> tuple[torch.Tensor, torch.Tensor] | None:
        calls.append(len(args[0]))  # type: ignore[arg-type]
        return None  # "does not apply": the engine keeps the generic rows

    engine.rebind(row_jacobian=shortcut)
    assert engine.args[0] is t  # what is not given stays
    assert torch.allclose(engine.full(x)[1][:20], first) and calls
    engine.rebind(row_jacobian=None)
    assert engine.row_jacobian is None


def test_products_with_the_jacobian_and_the_second_directional_derivative_are_exact() -> None:
    """Jᵀw, Jv and r_vv = vᵀ(∇²r_i)v (geodesic acceleration) against jacrev and the exact Hessian of every
    row (forward over reverse mode)."""
    t, y = exp_data()
    engine = JacobianEngine(exp_model, (t, y))
    g = torch.Generator().manual_seed(4)
    x, v, w = torch.tensor([2.0, 1.1, 0.4]), torch.randn(3, generator=g), torch.randn(40, generator=g)
    jac = torch.func.jacrev(engine.residual)(x)
    assert torch.allclose(engine.jt_times(x, w), jac.T @ w, rtol=1e-13, atol=1e-14)
    assert torch.allclose(engine.j_times(x, v), jac @ v, rtol=1e-13, atol=1e-14)
    hessian = torch.func.jacfwd(torch.func.jacrev(engine.residual))(x)
    exact = torch.einsum("mij,i,j->m", hessian, v, v)
    assert float((engine.second_directional(x, v) - exact).norm()) <= 1e-12 * float(exact.norm())
