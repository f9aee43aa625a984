"""Adam, L-BFGS and BFGS on the Rosenbrock residual: convergence, precision, exact resume, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from pinnlma.optim import BFGS, LBFGS, Adam, StepReport, make_optimizer

ALL = ("adam", "lbfgs", "bfgs")
QUASI_NEWTON = ("lbfgs", "bfgs")


class Rosenbrock:
    """r(x) = [10 (x1 − x0²), 1 − x0]; ‖r‖² is the Rosenbrock function, minimum 0 at (1, 1)."""

    def residual(self, x: Tensor) -> Tensor:
        return torch.stack([10 * (x[1] - x[0] ** 2), 1 - x[0]])


class Exploding:
    """Minimum near x = 3; the loss overflows to inf beyond x ≈ 18."""

    def residual(self, x: Tensor) -> Tensor:
        return torch.stack([x[0] - 3, 1e-3 * torch.exp(50 * (x[0] - 4))])


def start(dtype: torch.dtype = torch.float64) -> Tensor:
    return torch.tensor([-1.2, 1.0], dtype=dtype)


def options(name: str) -> dict[str, float]:
    return {"lr": 1e-2} if name == "adam" else {}


def loss_at(x: Tensor) -> float:
    r = Rosenbrock().residual(x.double())
    return float(r @ r)


@pytest.mark.parametrize("name", QUASI_NEWTON)
def test_quasi_newton_reaches_minimum(name: str) -> None:
    opt = make_optimizer(name, Rosenbrock(), start())
    for _ in range(100):
        report = opt.step()
        if float((opt.x - 1).abs().max()) < 1e-8:
            break
    assert float((opt.x - 1).abs().max()) < 1e-8
    assert isinstance(report, StepReport) and math.isnan(report.damping)
    assert report.loss == pytest.approx(loss_at(opt.x), abs=1e-20)
    assert opt.x.dtype == torch.float64 and not opt.x.requires_grad


def test_adam_decreases() -> None:
    opt = Adam(Rosenbrock(), start(), lr=1e-2)
    losses = [opt.step().loss for _ in range(300)]
    assert losses[-1] < 0.2 * loss_at(start())
    assert losses[-1] < losses[0]
    assert losses[-1] == pytest.approx(loss_at(opt.x), rel=1e-12)


@pytest.mark.parametrize("name", ALL)
def test_reported_loss_is_at_new_parameters_and_evaluations_counted(name: str) -> None:
    opt = make_optimizer(name, Rosenbrock(), start(), **options(name))
    total = 0
    for _ in range(5):
        report = opt.step()
        total += report.evaluations
        assert report.loss == pytest.approx(loss_at(opt.x), rel=1e-12)
        assert report.evaluations >= (0 if name == "lbfgs" else 1)
    assert total == opt.evaluations
    if name == "adam":  # one gradient per update once started (plus the starting point)
        assert opt.evaluations == 6


@pytest.mark.parametrize("name", ALL)
def test_float32(name: str) -> None:
    opt = make_optimizer(name, Rosenbrock(), start(torch.float32), **options(name))
    first = loss_at(start())
    for _ in range(60 if name != "adam" else 200):
        report = opt.step()
    assert opt.x.dtype == torch.float32
    assert report.loss < first
    if name in QUASI_NEWTON:
        assert float((opt.x - 1).abs().max()) < 1e-3


def _to_numpy(state: dict) -> dict:
    return {k: v.numpy() if isinstance(v, Tensor) else v for k, v in state.items()}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("k", [0, 1, 4])
def test_resume_is_bitwise_exact(name: str, k: int, dtype: torch.dtype) -> None:
    j = 6
    straight = make_optimizer(name, Rosenbrock(), start(dtype), **options(name))
    for _ in range(k + j):
        straight.step()
    first = make_optimizer(name, Rosenbrock(), start(dtype), **options(name))
    for _ in range(k):
        first.step()
    state = first.state_dict()
    for value in state.values():  # tensors, floats, ints (and bools) only
        assert isinstance(value, (Tensor, float, int)), type(value)
    resumed = make_optimizer(name, Rosenbrock(), start(dtype), **options(name))
    assert set(resumed.state_dict()) == set(state)  # same keys at every iteration
    resumed.load_state_dict(state)
    for _ in range(j):
        resumed.step()
    assert torch.equal(resumed.x, straight.x)
    assert resumed.evaluations == straight.evaluations


@pytest.mark.parametrize("name", ALL)
def test_resume_from_numpy_state(name: str) -> None:
    """As read back from a run file: arrays instead of tensors."""
    straight = make_optimizer(name, Rosenbrock(), start(), **options(name))
    for _ in range(7):
        straight.step()
    first = make_optimizer(name, Rosenbrock(), start(), **options(name))
    for _ in range(3):
        first.step()
    resumed = make_optimizer(name, Rosenbrock(), start(), **options(name))
    resumed.load_state_dict(_to_numpy(first.state_dict()))
    for _ in range(4):
        resumed.step()
    assert torch.equal(resumed.x, straight.x)


def test_state_does_not_alias_live_tensors() -> None:
    opt = LBFGS(Rosenbrock(), start())
    opt.step()
    state = opt.state_dict()
    saved = {k: v.clone() for k, v in state.items() if isinstance(v, Tensor)}
    for _ in range(3):
        opt.step()
    for key, value in saved.items():
        assert torch.equal(state[key], value), key


def test_refresh_reevaluates() -> None:
    opt = BFGS(Rosenbrock(), start())
    opt.step()
    before = opt.evaluations
    opt.refresh()
    opt.step()
    assert opt.evaluations > before + 1  # the current point is evaluated again, then the line search


def test_load_rejects_wrong_size() -> None:
    opt = Adam(Rosenbrock(), start())
    opt.step()
    state = opt.state_dict()
    other = Adam(Rosenbrock(), torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="parameters"):
        other.load_state_dict(state)


def test_bfgs_survives_non_finite_trial_points() -> None:
    opt = BFGS(Exploding(), torch.zeros(1, dtype=torch.float64), lr=1000.0)  # first trial at x = 1000
    losses = [opt.step().loss for _ in range(8)]
    assert all(math.isfinite(v) for v in losses)
    assert losses[0] < 9.0  # the loss at the start
    assert losses[-1] < 1e-2


@pytest.mark.parametrize("name", ALL)
def test_non_finite_loss_names_iteration(name: str) -> None:
    with pytest.raises(FloatingPointError, match="iteration 0"):
        make_optimizer(name, Exploding(), torch.tensor([20.0], dtype=torch.float64)).step()


def test_adam_divergence_raises() -> None:
    opt = Adam(Exploding(), torch.zeros(1, dtype=torch.float64), lr=100.0)  # first step to x = 100
    with pytest.raises(FloatingPointError, match=r"adam: the loss is not finite .* at iteration 1"):
        opt.step()


def test_bad_name_and_options() -> None:
    with pytest.raises(ValueError, match="lm, adam, lbfgs, bfgs"):
        make_optimizer("sgd", Rosenbrock(), start())
    with pytest.raises(ValueError, match="momentum"):
        make_optimizer("adam", Rosenbrock(), start(), momentum=0.9)
    with pytest.raises(ValueError, match="1-D"):
        make_optimizer("adam", Rosenbrock(), start().reshape(1, 2))
    with pytest.raises(ValueError, match="float64 or float32"):
        make_optimizer("bfgs", Rosenbrock(), torch.tensor([1, 2]))


def test_residual_must_be_differentiable_vector() -> None:
    class Detached:
        def residual(self, x: Tensor) -> Tensor:
            return x.detach() - 1

    class Matrix:
        def residual(self, x: Tensor) -> Tensor:
            return x.reshape(1, 2)

    with pytest.raises(ValueError, match="autograd"):
        Adam(Detached(), start()).step()
    with pytest.raises(ValueError, match="1-D"):
        LBFGS(Matrix(), start()).step()


def test_works_on_a_pinn_assembler_shape_problem() -> None:
    """A least-squares fit with many residuals (a line through noisy points), all three optimizers."""
    rng = np.random.default_rng(0)
    t = torch.as_tensor(np.linspace(0, 1, 50))
    y = 2 * t + 0.5 + torch.as_tensor(rng.normal(0, 1e-3, 50))

    class Line:
        def residual(self, x: Tensor) -> Tensor:
            return (x[0] * t + x[1] - y) / math.sqrt(50)

    best = np.polyfit(t.numpy(), y.numpy(), 1)
    for name in QUASI_NEWTON:
        opt = make_optimizer(name, Line(), torch.zeros(2, dtype=torch.float64))
        for _ in range(30):
            opt.step()
        np.testing.assert_allclose(opt.x.numpy(), best, atol=1e-7)
