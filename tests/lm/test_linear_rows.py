"""The one-backward-pass Jacobian rows for models whose parameters all sit in nn.Linear layers
(pinnlma.lm.linear_rows): the same J as the generic per-row path, and a clean fall-back where the
scheme does not apply."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import pinnlma


def _data(m: int = 300) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.linspace(-1, 1, m, dtype=torch.float64).unsqueeze(1)
    return x, torch.sinc(10 * x)


def _jacobians(lm: pinnlma.LevenbergMarquardt, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lm.step(x, y)
    theta = lm.core.state.x
    fast = lm.engine.full(theta)[1]
    lm.engine.row_jacobian = None
    return fast, lm.engine.full(theta)[1]


def test_mlp_rows_equal_the_generic_rows() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 12), nn.Tanh(), nn.Linear(12, 9), nn.Sigmoid(), nn.Linear(9, 1)).double()
    lm = pinnlma.LevenbergMarquardt(
        net, lambda model, a, b: (model(a) - b).reshape(-1), rowwise=True, memory_budget=4 * 8 * 151 * 64
    )  # n = 151: slices of 64 rows
    x, y = _data()
    assert lm.engine.row_jacobian is not None
    fast, generic = _jacobians(lm, x, y)
    assert lm.engine.plan.slice_rows == 64
    assert torch.allclose(fast, generic, rtol=1e-12, atol=1e-14)


def test_a_nonlinear_residual_of_the_output_is_handled() -> None:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    lm = pinnlma.LevenbergMarquardt(net, lambda model, a, b: (torch.exp(model(a)) * a - b).reshape(-1), rowwise=True)
    fast, generic = _jacobians(lm, *_data())
    assert torch.allclose(fast, generic, rtol=1e-12, atol=1e-14)


class _Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(4, 4)
        self.first = nn.Linear(1, 4)
        self.last = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(torch.tanh(self.inner(torch.tanh(self.inner(torch.tanh(self.first(x)))))))


class _Scaled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(1, 1)
        self.gain = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gain * torch.tanh(self.layer(x))


def _generic_twin(model: nn.Module) -> pinnlma.LevenbergMarquardt:
    """The same fit without the row shortcut (rowwise=False: the engine's own autograd strategy)."""
    return pinnlma.LevenbergMarquardt(copy.deepcopy(model), lambda net, a, b: (net(a) - b).reshape(-1))


def test_layers_used_twice_or_other_parameters_fall_back_to_generic_rows() -> None:
    """Where the one-pass rows do not apply, the fit takes the generic rows, and so the steps of a fit
    without any row shortcut, to rounding."""
    x, y = _data(100)
    torch.manual_seed(3)
    model = _Tied().double()
    twin = _generic_twin(model)
    tied = pinnlma.LevenbergMarquardt(model, lambda net, a, b: (net(a) - b).reshape(-1), rowwise=True)
    assert tied.engine.row_jacobian is not None  # all parameters are Linear ones ...
    for _ in range(2):
        tied.step(x, y)
        twin.step(x, y)
    assert tied.engine.row_jacobian is None  # ... but a layer applied twice is caught and left to vmap
    assert torch.allclose(tied.params, twin.params, rtol=1e-10, atol=1e-12)
    theta = tied.params
    assert torch.allclose(
        tied.engine.full(theta)[1], torch.func.jacrev(tied.engine.residual)(theta), rtol=1e-12, atol=1e-14
    )
    model = _Scaled().double()
    twin = _generic_twin(model)
    scaled = pinnlma.LevenbergMarquardt(model, lambda net, a, b: (net(a) - b).reshape(-1), rowwise=True)
    assert scaled.engine.row_jacobian is None  # a parameter outside nn.Linear: never tried
    for _ in range(2):
        info = scaled.step(x, y)
        assert info.cost == pytest.approx(twin.step(x, y).cost, rel=1e-10)
    assert torch.allclose(scaled.params, twin.params, rtol=1e-10, atol=1e-12)


def test_rows_that_mix_samples_are_caught_by_the_one_time_check() -> None:
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(1, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    # wrongly declared rowwise: every residual row also depends on the batch mean
    lm = pinnlma.LevenbergMarquardt(net, lambda model, a, b: (model(a) - model(a).mean() - b).reshape(-1), rowwise=True)
    x, y = _data(50)
    before = lm.params
    # neither the shortcut nor the generic per-row Jacobian can be right: the step refuses, model untouched
    with pytest.raises(ValueError, match="does not reproduce r"):
        lm.step(x, y)
    assert lm.engine.row_jacobian is None
    assert torch.equal(lm.params, before)
