"""The LM iteration: system forms, fallback, geodesic acceleration, stop reasons, history, errors, hooks."""

from __future__ import annotations

import math
import time
import warnings

import pytest
import torch

import pinnlma
from pinnlma.backends import SingularSystemWarning
from pinnlma.lm import (
    PHASES,
    Levenberg,
    LMCore,
    LMOptions,
    StopReason,
)
from pinnlma.lm.jacobian import JacobianEngine
from tests.lm.fixtures import exp_data, exp_model, rosenbrock

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


def test_residual_space_form_is_used_when_more_parameters_than_residuals() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 30, generator=g)
    b = torch.randn(5, generator=g)
    res = pinnlma.least_squares(lambda x: a @ x - b, torch.zeros(30))
    assert res.form == "residual"
    assert res.cost < 1e-20
    normal = pinnlma.least_squares(lambda x: a @ x - b, torch.zeros(30), form="normal")
    assert normal.form == "normal" and normal.cost < 1e-16


def test_rank_deficient_problem_converges_with_fallback() -> None:
    # two parameters enter only as their sum: JᵀJ is singular; tiny λ makes Cholesky fail
    t = torch.linspace(0, 1, 20)
    fun = lambda x: (x[0] + x[1]) * t - 2 * t  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularSystemWarning)
        res = pinnlma.least_squares(fun, torch.tensor([0.0, 0.0]), damping=Levenberg(lam0=1e-30))
    assert math.isfinite(res.cost) and res.cost < 1e-20
    assert float(res.x.sum()) == pytest.approx(2.0)


# -- geodesic acceleration, stopping, progress -----------------------------------------------------------
def _rosenbrock_steps(x: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor, float]:
    """By hand, for Levenberg damping (D = I): the LM step h = −(JᵀJ + λI)⁻¹Jᵀr, the geodesic acceleration
    a = −(JᵀJ + λI)⁻¹Jᵀr_vv with r_vv = d²/dt² r(x + t·h) = (−20·h₀², 0), and the ratio 2‖a‖/‖h‖."""
    r = rosenbrock(x)
    jac = torch.tensor([[-20.0 * float(x[0]), 10.0], [-1.0, 0.0]])
    damped = jac.T @ jac + lam * torch.eye(2)
    h = -torch.linalg.solve(damped, jac.T @ r)
    r_vv = torch.stack([-20.0 * h[0] ** 2, torch.zeros(())])
    a = -torch.linalg.solve(damped, jac.T @ r_vv)
    return h, a, float(2 * a.norm() / h.norm())


def test_geodesic_acceleration_converges() -> None:
    res = pinnlma.least_squares(rosenbrock, torch.tensor([-1.2, 1.0]), geodesic=True, max_iter=500)
    assert res.success and torch.allclose(res.x, torch.ones(2), atol=1e-8)


def test_a_geodesic_step_is_the_lm_step_plus_half_the_acceleration() -> None:
    """One iteration on Rosenbrock from (−1.2, 1) with λ = 1: x₁ = x₀ + h + a/2 (the ratio 0.40 is below
    α = 0.75), against x₀ + h without geodesic acceleration."""
    x0 = torch.tensor([-1.2, 1.0])
    h, a, ratio = _rosenbrock_steps(x0, 1.0)
    assert 0.35 < ratio < 0.45  # accepted by the default α, vetoed by α = 0.35 (next test)
    geodesic = pinnlma.least_squares(rosenbrock, x0, geodesic=True, max_iter=1, damping=Levenberg(lam0=1.0))
    plain = pinnlma.least_squares(rosenbrock, x0, max_iter=1, damping=Levenberg(lam0=1.0))
    assert torch.allclose(geodesic.x, x0 + h + 0.5 * a, rtol=1e-13, atol=1e-14)
    assert torch.allclose(plain.x, x0 + h, rtol=1e-13, atol=1e-14)
    assert float((geodesic.x - plain.x).norm()) > 0.05 and geodesic.cost < 0.6 * plain.cost
    assert geodesic.history["trials"][-1] == 1 and geodesic.history["lam"][-1] == pytest.approx(0.1)


def test_geodesic_alpha_rejects_steps_whose_acceleration_dominates() -> None:
    """With α = 0.35 the λ = 1 step (ratio 0.40) is vetoed: λ goes up ×10 and the λ = 10 step (ratio 0.28)
    is taken, with its own acceleration."""
    x0 = torch.tensor([-1.2, 1.0])
    h, a, ratio = _rosenbrock_steps(x0, 10.0)
    assert ratio < 0.35 < _rosenbrock_steps(x0, 1.0)[2]

    def run(alpha: float, max_iter: int) -> pinnlma.LMResult:
        options = LMOptions(geodesic=True, geodesic_alpha=alpha, max_iter=max_iter)
        return LMCore(JacobianEngine(rosenbrock), x0, damping=Levenberg(lam0=1.0), options=options).run()

    res = run(0.35, 1)
    assert res.history["trials"][-1] == 2
    assert torch.allclose(res.x, x0 + h + 0.5 * a, rtol=1e-13, atol=1e-14)
    assert run(0.75, 1).history["trials"][-1] == 1  # the default α takes the λ = 1 step


def test_stop_reasons() -> None:
    t, y = exp_data()
    x0 = torch.tensor([1.0, 1.0, 0.0])
    assert pinnlma.least_squares(exp_model, x0, args=(t, y), max_iter=2).status is StopReason.MAX_ITER
    assert pinnlma.least_squares(exp_model, x0, args=(t, y), gtol=1e6).status is StopReason.GTOL
    assert pinnlma.least_squares(exp_model, x0, args=(t, y), ftol=1e-3).status is StopReason.FTOL
    zero = pinnlma.least_squares(lambda x: x - 1, torch.zeros(3), damping=Levenberg(lam0=1e-300))
    assert zero.status is StopReason.ZERO_RESIDUAL and zero.success
    stop = pinnlma.least_squares(exp_model, x0, args=(t, y), callback=lambda info: info.iteration >= 3)
    assert stop.status is StopReason.CALLBACK and stop.nit == 3
    timed = pinnlma.least_squares(exp_model, x0, args=(t, y), time_limit=1e-9)
    assert timed.status is StopReason.TIME_LIMIT and timed.nit == 1
    # xtol: the first step below xtol·(xtol + ‖x‖) ends the run (steps 0.063, 1.3e-3, 3.2e-7; ‖x‖ = 2.86)
    for xtol, nit in ((1e-3, 4), (1e-6, 5)):
        small = pinnlma.least_squares(exp_model, x0, args=(t, y), xtol=xtol, ftol=0, gtol=0)
        assert small.status is StopReason.XTOL and small.success and small.nit == nit
        step, x_norm = small.history["step_norm"][-1], float(small.x.norm())
        assert step < xtol * (xtol + x_norm) <= small.history["step_norm"][-2]


def test_a_kink_at_the_start_ends_at_the_damping_ceiling() -> None:
    """r(x) = |x| + 1 from x = 1e-30: the gradient says "go left" but every step long enough to matter
    crosses the kink and raises the cost; λ climbs to its ceiling (1e16·max diag JᵀJ) before the step is
    below rounding of x, and the run stops there, not converged, x untouched."""
    for rule in (Levenberg(lam0=1.0), "nielsen"):
        res = pinnlma.least_squares(lambda x: x.abs() + 1, torch.tensor([1e-30]), damping=rule, ftol=0, xtol=0, gtol=0)
        assert res.status is StopReason.DAMPING_CEILING and not res.success
        assert res.x.item() == 1e-30 and res.nit == 1
        assert 1e16 < res.history["lam"][-1] < 1e18  # diag JᵀJ = D = 1: stopped by the first λ past 1e16
    # Levenberg: λ × 10 per rejection, from 1 to 1e17 in 17 trials
    assert (
        pinnlma.least_squares(lambda x: x.abs() + 1, torch.tensor([1e-30]), damping=Levenberg(lam0=1.0)).history[
            "trials"
        ][-1]
        == 17
    )


def test_max_trials_ends_an_iteration_that_finds_no_step() -> None:
    """Rosenbrock from (−1.2, 1) with λ₀ = 1e-6: the first accepted step needs 7 trials; with max_trials
    below that the run stops at the ceiling after exactly max_trials of them."""
    x0 = torch.tensor([-1.2, 1.0])

    def run(max_trials: int) -> pinnlma.LMResult:
        options = LMOptions(max_trials=max_trials, max_iter=1)
        return LMCore(JacobianEngine(rosenbrock), x0, damping=Levenberg(lam0=1e-6), options=options).run()

    for limit in (1, 3, 6):
        res = run(limit)
        assert res.status is StopReason.DAMPING_CEILING and res.history["trials"][-1] == limit
        assert torch.equal(res.x, x0)
    enough = run(7)
    assert enough.status is StopReason.MAX_ITER and enough.history["trials"][-1] == 7 and enough.cost < 12.1 / 2


def test_history_records_every_iteration() -> None:
    t, y = exp_data()
    res = pinnlma.least_squares(exp_model, torch.tensor([1.0, 1.0, 0.0]), args=(t, y))
    assert len(res.history["cost"]) == res.nit + 1
    assert all(b <= a for a, b in zip(res.history["cost"], res.history["cost"][1:]))  # monotone
    assert res.history["cost"][-1] == pytest.approx(res.cost)


def test_nan_during_trial_step_is_rejected_not_poisoning() -> None:
    # sqrt is NaN for negative arguments: a long first step lands there and must be rejected
    fun = lambda x: torch.stack([torch.sqrt(x[0]) - 0.5, x[0] - 0.25])  # noqa: E731
    res = pinnlma.least_squares(fun, torch.tensor([4.0]), damping=Levenberg(lam0=1e-8))
    assert math.isfinite(res.cost) and res.x[0] == pytest.approx(0.25, abs=1e-8)


def test_float32_works() -> None:
    t, y = exp_data()
    res = pinnlma.least_squares(
        exp_model, torch.tensor([1.0, 1.0, 0.0], dtype=torch.float32), args=(t.float(), y.float())
    )
    reference = pinnlma.least_squares(exp_model, torch.tensor([1.0, 1.0, 0.0]), args=(t, y))
    assert res.x.dtype == torch.float32 and res.success and reference.success
    # float32 reaches the float64 minimum to float32 resolution (measured: 7e-9 relative; eps32 = 1.2e-7)
    assert torch.allclose(res.x.double(), reference.x, rtol=1e-6, atol=0)


# -- bad input ----------------------------------------------------------------------------------------------
def test_bad_input_errors() -> None:
    with pytest.raises(ValueError, match="must be 1-D"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2, 1))
    with pytest.raises(ValueError, match="non-finite"):
        pinnlma.least_squares(rosenbrock, torch.tensor([float("nan"), 0.0]))
    with pytest.raises(TypeError, match="float64 or float32, got torch.int64"):
        pinnlma.least_squares(rosenbrock, torch.tensor([1, 2]))
    with pytest.raises(pinnlma.NonFiniteResidualError, match="first at row 1"):
        pinnlma.least_squares(lambda x: torch.stack([x[0], torch.log(-x[0] - 1)]), torch.ones(1))
    with pytest.raises(TypeError, match="dtype torch.float32"):
        pinnlma.least_squares(lambda x: x.float(), torch.ones(2))
    with pytest.raises(ValueError, match="1-D tensor"):
        pinnlma.least_squares(lambda x: x.reshape(1, 2), torch.ones(2))
    calls = {"n": 0}

    def growing(x: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return x.repeat(calls["n"])

    with pytest.raises(ValueError, match="changed length"):
        pinnlma.least_squares(growing, torch.ones(2))
    with pytest.raises(ValueError, match="unknown Jacobian strategy"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), jac_strategy="magic")
    with pytest.raises(ValueError, match="needs rowwise=True"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), jac_strategy="rowwise")
    with pytest.raises(ValueError, match="unknown backend"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), backend="jax")
    with pytest.raises(ValueError, match="time_limit"):
        pinnlma.least_squares(rosenbrock, torch.zeros(2), time_limit=-1)


def test_tolerances_are_floored_at_the_dtype_and_zero_turns_them_off() -> None:
    eps = torch.finfo(torch.float64).eps
    assert LMOptions(ftol=1e-30, xtol=1e-30, gtol=1e-30).effective(torch.float64) == (eps, 10 * eps, 1e-30)
    assert LMOptions(ftol=0.0, xtol=0.0, gtol=0.0).effective(torch.float64) == (0.0, 0.0, 0.0)
    assert LMOptions(ftol=1e-3).effective(torch.float32)[0] == 1e-3


def test_a_nonfinite_jacobian_stops_the_run_and_says_where() -> None:
    result = pinnlma.least_squares(lambda b: torch.sqrt(b) - 1, torch.tensor([0.0, 4.0]))
    assert result.status is StopReason.NONFINITE_JACOBIAN and not result.success
    assert "parameter columns (first: parameter 0) at iteration 0" in result.message
    explicit = pinnlma.least_squares(
        lambda b: b - 1, torch.zeros(2), jac=lambda b: torch.tensor([[1.0, float("inf")], [0.0, 1.0]])
    )
    assert "in 1 of 2 parameter columns (first: parameter 1)" in explicit.message
    model = torch.nn.Linear(1, 1).double()
    lm = pinnlma.LevenbergMarquardt(model, lambda net, a: torch.sqrt(net(a) * 0).reshape(-1), rowwise=True)
    before = lm.params
    with pytest.raises(pinnlma.NonFiniteJacobianError, match="not differentiable"):
        lm.step(torch.ones(5, 1))
    assert torch.equal(lm.params, before)


def test_steps_cut_short_by_a_nonfinite_region_are_not_reported_as_converged() -> None:
    """The exponential fit's optimum (b0 = 2.5) lies where log(2 − b0) is NaN: xtol fires at b0 → 2 with a
    huge damping and a gradient far from zero, which must not read as success."""
    t, y = exp_data()
    result = pinnlma.least_squares(
        lambda b: exp_model(b, t, y) + 0 * torch.log(2 - b[0]), torch.tensor([1.0, 1.0, 0.0])
    )
    assert result.status is StopReason.NONFINITE_BOUNDARY and not result.success
    assert "gave NaN/Inf" in result.message and float(result.grad.abs().max()) > 0.1
    assert 1.99 < float(result.x[0]) < 2.0
    # the same fit without the wall converges as before
    assert pinnlma.least_squares(exp_model, torch.tensor([1.0, 1.0, 0.0]), args=(t, y)).success


def test_on_phase_times_every_part_of_an_iteration_and_changes_nothing() -> None:
    t, y = exp_data()
    x0 = torch.tensor([1.0, 1.0, 0.0])
    plain = LMCore(JacobianEngine(exp_model, (t, y), memory_budget=4 * 3 * 8 * 10), x0)
    seen: list[tuple[str, float, int]] = []
    timed = LMCore(
        JacobianEngine(exp_model, (t, y), memory_budget=4 * 3 * 8 * 10),
        x0,
        on_phase=lambda phase, seconds, rows: seen.append((phase, seconds, rows)),
    )
    started = time.perf_counter()
    timed.step()
    wall = time.perf_counter() - started
    plain.step()
    assert torch.equal(plain.state.x, timed.state.x)
    phases = [p for p, _, _ in seen]
    assert set(phases) == set(PHASES) and phases.count("normal_equations") == 1
    slices = [rows for p, _, rows in seen if p == "jacobian"]
    assert len(slices) == 4 and sum(slices) == 40  # 10-row slices of the 40 rows
    trials = int(timed.state.history["trials"][-1])
    assert phases.count("solve") == trials == phases.count("trial_residual")
    assert all(s >= 0 for _, s, _ in seen) and sum(s for _, s, _ in seen) <= wall


def test_resume_lets_a_stopped_run_go_on() -> None:
    t, y = exp_data()
    core = LMCore(JacobianEngine(exp_model, (t, y)), torch.tensor([1.0, 1.0, 0.0]), options=LMOptions(max_iter=2))
    assert core.run().status is StopReason.MAX_ITER and core.state.iteration == 2
    assert core.step() is StopReason.MAX_ITER and core.state.iteration == 2  # stopped: no more iterations
    core.resume()
    core.step()
    assert core.state.iteration == 3
