"""LevenbergMarquardt on an nn.Module: checkpoints, damping templates, geodesic, dtype checks."""

from __future__ import annotations

import pytest
import torch

import pinnlma
from pinnlma.lm import (
    Levenberg,
)
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
    lm = pinnlma.LevenbergMarquardt(mlp(), fit_residual, geodesic=True)
    assert lm.options.geodesic
    with pytest.raises(TypeError, match="float64 or float32, got torch.float16"):
        pinnlma.LevenbergMarquardt(mlp().half(), fit_residual)
    with pytest.raises(TypeError, match="float64 or float32, got torch.bfloat16"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2, dtype=torch.bfloat16))
