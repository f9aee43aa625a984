"""LevenbergMarquardt on an nn.Module: checkpoints, damping templates, geodesic, dtype checks."""

from __future__ import annotations

import pytest
import torch

import pinnlma
from pinnlma.lm import Levenberg, StopReason
from tests.lm.fixtures import exp_data, exp_model, fit_residual, mlp, rosenbrock

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


# -- front-end contracts a user relies on -------------------------------------------------------------
def test_a_checkpoint_of_another_architecture_is_refused_before_anything_changes() -> None:
    x = torch.linspace(-1, 1, 40).unsqueeze(1)
    y = torch.sinc(3 * x)
    big = pinnlma.LevenbergMarquardt(mlp(8), fit_residual, rowwise=True)
    big.step(x, y)
    small = pinnlma.LevenbergMarquardt(mlp(4), fit_residual, rowwise=True)
    before = small.params
    with pytest.raises(ValueError, match="checkpoint holds 25 parameters, this model has 13"):
        small.load_state_dict(big.state_dict())
    assert torch.equal(small.params, before)
    with pytest.raises(ValueError, match="checkpoint holds 13 parameters, this model has 25"):
        big.load_state_dict(small.state_dict())


def test_a_damping_instance_is_a_reusable_template() -> None:
    t, y = exp_data()
    rule = Levenberg(lam0=1e3)
    first = pinnlma.least_squares(exp_model, torch.tensor([1.0, 1.0, 0.0]), args=(t, y), damping=rule, max_iter=3)
    second = pinnlma.least_squares(exp_model, torch.tensor([1.0, 1.0, 0.0]), args=(t, y), damping=rule, max_iter=3)
    assert rule.lam == 1e3  # the caller's instance is left as it was
    assert first.history["lam"] == second.history["lam"] and torch.equal(first.x, second.x)
    lm = pinnlma.LevenbergMarquardt(mlp(), fit_residual, damping=rule)
    assert lm.damping is not rule and isinstance(lm.damping, Levenberg)


def test_levenberg_marquardt_takes_geodesic_and_refuses_half_precision() -> None:
    x = torch.linspace(-1, 1, 30).unsqueeze(1)
    y = torch.sinc(3 * x)
    lm = pinnlma.LevenbergMarquardt(mlp(), fit_residual, geodesic=True, damping=Levenberg(lam0=1e-2))
    assert lm.options.geodesic
    x0 = lm.params
    lm.step(x, y)
    # the step is least_squares' geodesic step on the same residual, not its plain one
    flat = lambda theta: lm.engine.fun(theta, x, y)  # noqa: E731

    def one_step(geodesic: bool) -> torch.Tensor:
        return pinnlma.least_squares(flat, x0, geodesic=geodesic, max_iter=1, damping=Levenberg(lam0=1e-2)).x

    geodesic = one_step(True)
    assert torch.allclose(lm.params, geodesic, rtol=1e-12, atol=1e-14)
    assert not torch.allclose(geodesic, one_step(False), rtol=1e-6, atol=0)
    with pytest.raises(TypeError, match="float64 or float32, got torch.float16"):
        pinnlma.LevenbergMarquardt(mlp().half(), fit_residual)
    with pytest.raises(TypeError, match="float64 or float32, got torch.bfloat16"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2, dtype=torch.bfloat16))


# -- fit, stop_reason, mini-batches, checkpoints ---------------------------------------------------------
def _linear_data(rows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, 3, generator=g)
    return x, x @ torch.tensor([[1.5], [-2.0], [0.5]]) + 0.3 + 0.1 * torch.randn(rows, 1, generator=g)


def _linear_fit(damping: object = None) -> pinnlma.LevenbergMarquardt:
    torch.manual_seed(5)
    return pinnlma.LevenbergMarquardt(torch.nn.Linear(3, 1).double(), fit_residual, rowwise=True, damping=damping)


def test_fit_reaches_the_least_squares_solution_and_says_why_it_stopped() -> None:
    """A linear model: fit() must land on the lstsq solution of [x 1]·(w, b) = y, write it into the model,
    and report the stop it made as ``stop_reason``."""
    x, y = _linear_data(50, 0)
    lm = _linear_fit()
    assert lm.stop_reason is StopReason.RUNNING  # nothing run yet
    result = lm.fit(x, y)
    exact = torch.linalg.lstsq(torch.cat([x, torch.ones(50, 1)], 1), y).solution.reshape(-1)
    assert result.success and lm.stop_reason is result.status
    # ftol stops once the cost changes by less than eps·cost: x is then within ~1e-10 of the minimum (4e-11 on
    # some CPUs, whose BLAS rounds differently); a wrong answer is off by far more
    assert torch.allclose(result.x, exact, rtol=1e-10, atol=1e-10)
    assert torch.equal(lm.params, result.x)
    assert torch.equal(lm.model.weight.detach().reshape(-1), result.x[:3]) and lm.model.bias.item() == result.x[3]
    # max_iter bounds the iterations of this fit
    again = _linear_fit().fit(x, y, max_iter=1)
    assert again.nit == 1 and again.status is StopReason.MAX_ITER


def test_a_step_on_a_new_mini_batch_is_the_lm_step_of_that_batch() -> None:
    """Levenberg damping (λI, λ ÷ 10 on success): step 2 on batch b from θ₁ is exactly
    θ₁ − (J_bᵀJ_b + λ₁I)⁻¹J_bᵀr_b(θ₁), J_b = [x_b 1] (a linear model), λ₁ = λ₀/10 carried over from step 1."""
    (xa, ya), (xb, yb) = _linear_data(40, 1), _linear_data(30, 2)
    lm = _linear_fit(Levenberg(lam0=1e-2))
    first = lm.step(xa, ya)
    theta1 = lm.params
    assert first.trials == 1 and lm.damping.lam == pytest.approx(1e-3)
    second = lm.step(xb, yb)
    jac = torch.cat([xb, torch.ones(30, 1)], 1)
    r = jac @ theta1 - yb.reshape(-1)
    expected = theta1 - torch.linalg.solve(jac.T @ jac + 1e-3 * torch.eye(4), jac.T @ r)
    assert second.trials == 1 and torch.allclose(lm.params, expected, rtol=1e-12, atol=1e-13)
    assert second.cost == pytest.approx(0.5 * float((jac @ lm.params - yb.reshape(-1)).square().sum()), rel=1e-12)
    assert second.iteration == 2  # counters carry over too


def test_a_loaded_checkpoint_continues_the_run_exactly() -> None:
    x = torch.linspace(-1, 1, 40).unsqueeze(1)
    y = torch.sinc(3 * x)
    straight = pinnlma.LevenbergMarquardt(mlp(6), fit_residual, rowwise=True)
    for _ in range(3):
        straight.step(x, y)
    state = straight.state_dict()
    for _ in range(2):
        straight.step(x, y)
    resumed = pinnlma.LevenbergMarquardt(mlp(6, seed=9), fit_residual, rowwise=True)  # other weights
    resumed.load_state_dict(state)
    assert torch.equal(resumed.params, state["x"])
    infos = [resumed.step(x, y) for _ in range(2)]
    assert torch.equal(resumed.params, straight.params)
    assert [i.iteration for i in infos] == [4, 5] and resumed.damping.lam == straight.damping.lam
    assert resumed.core is not None and straight.core is not None
    assert resumed.core.state.history["cost"] == straight.core.state.history["cost"]
