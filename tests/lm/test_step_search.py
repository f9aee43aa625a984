"""The λ search (``LMOptions.lambda_search``) and the frozen-Jacobian steps (``LMOptions.frozen_steps``),
each checked against the same iteration done by hand with dense linear algebra, and the factor reuse of
the torch normal matrices against a plain dense solve."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from pinnlma.backends.torch.normal_matrix import DenseNormalMatrix, PackedNormalMatrix
from pinnlma.lm import Levenberg, LMCore, LMOptions, Nielsen, StopReason
from pinnlma.lm.jacobian import JacobianEngine
from tests.lm.fixtures import exp_data, exp_model, rosenbrock

pytestmark = pytest.mark.usefixtures("float64_default")

Residual = Callable[[torch.Tensor], torch.Tensor]

FACTORS = (0.1, 1.0, 10.0)


def _jacobian(fun: Residual, x: torch.Tensor) -> torch.Tensor:
    return torch.autograd.functional.jacobian(fun, x)


def _lm_step(fun: Residual, x: torch.Tensor, lam: float, r: torch.Tensor | None = None) -> torch.Tensor:
    """−(JᵀJ + λI)⁻¹ J(x)ᵀ r, r defaulting to r(x) (Levenberg damping, D = I), by a dense solve."""
    jac = _jacobian(fun, x)
    rhs = jac.T @ (fun(x) if r is None else r)
    return -torch.linalg.solve(jac.T @ jac + lam * torch.eye(x.numel()), rhs)


def _cost(fun: Residual, x: torch.Tensor) -> float:
    r = fun(x)
    return 0.5 * float(r @ r)


# -- λ search -----------------------------------------------------------------------------------------------
def test_the_lambda_search_takes_the_step_of_lowest_cost_among_its_candidates() -> None:
    """Rosenbrock from (−1.2, 1), Levenberg λ = 1: the three steps for λ = 0.1, 1, 10 by hand; the iteration
    moves to the cheapest of them (not the λ = 1 step the plain loop takes) and the rule continues from its
    λ (accepted: λ/10)."""
    x0 = torch.tensor([-1.2, 1.0])
    costs = {f: _cost(rosenbrock, x0 + _lm_step(rosenbrock, x0, f)) for f in FACTORS}
    best = min(costs, key=costs.__getitem__)
    assert best != 1.0 and costs[best] < 0.7 * costs[1.0]  # the search matters here
    core = LMCore(JacobianEngine(rosenbrock), x0, damping=Levenberg(lam0=1.0), options=LMOptions(lambda_search=FACTORS))
    core.step()
    assert torch.allclose(core.state.x, x0 + _lm_step(rosenbrock, x0, best), rtol=1e-13, atol=1e-14)
    assert core.state.cost == pytest.approx(costs[best], rel=1e-12)
    assert core.damping.lam == pytest.approx(best / 10.0)
    assert core.state.nfev == 1 + len(FACTORS) and core.state.history["trials"][-1] == 1


def test_a_lambda_search_whose_candidates_all_fail_raises_lambda_from_the_current_one() -> None:
    """From a point where every candidate step raises the cost the trial is rejected and λ grows from
    the rule's own λ (Levenberg: ×10), then the next trial searches again around it."""
    x0 = torch.tensor([-1.2, 1.0])
    lam0 = 1e-12  # tiny λ: all three candidates are Gauss–Newton steps, which overshoot the curved valley here
    costs = [_cost(rosenbrock, x0 + _lm_step(rosenbrock, x0, lam0 * f)) for f in FACTORS]
    start = _cost(rosenbrock, x0)
    assert min(costs) > start
    core = LMCore(
        JacobianEngine(rosenbrock), x0, damping=Levenberg(lam0=lam0), options=LMOptions(lambda_search=FACTORS)
    )
    core.step()
    trials = int(core.state.history["trials"][-1])
    assert trials >= 2 and core.state.nfev == 1 + len(FACTORS) * trials
    assert core.state.cost < start


def test_the_lambda_search_and_frozen_steps_still_solve_rosenbrock_and_the_exponential_fit() -> None:
    options = LMOptions(lambda_search=FACTORS, frozen_steps=4, max_iter=500)
    res = LMCore(JacobianEngine(rosenbrock), torch.tensor([-1.2, 1.0]), options=options).run()
    assert res.success and torch.allclose(res.x, torch.ones(2), atol=1e-8)
    t, y = exp_data()
    x0 = torch.tensor([1.0, 1.0, 0.0])
    plain = LMCore(JacobianEngine(exp_model, (t, y)), x0).run()
    both = LMCore(JacobianEngine(exp_model, (t, y)), x0, options=options).run()
    assert plain.success and both.success
    assert torch.allclose(both.x, plain.x, rtol=1e-9, atol=1e-11)


# -- frozen-Jacobian steps ------------------------------------------------------------------------------------
def test_frozen_steps_reuse_the_first_jacobian_with_the_new_residual() -> None:
    """One iteration on the exponential fit with Levenberg λ = 1e-2 and frozen_steps = 2: x₁ = x₀ + h₁,
    x₂ = x₁ − (J₀ᵀJ₀ + λI)⁻¹J₀ᵀr(x₁), x₃ likewise from r(x₂), J₀ the Jacobian at x₀ throughout (each step
    lowers the cost here)."""
    t, y = exp_data()
    fun = lambda x: exp_model(x, t, y)  # noqa: E731
    x0, lam = torch.tensor([1.0, 1.0, 0.0]), 1e-2
    points = [x0 + _lm_step(fun, x0, lam)]
    for _ in range(2):
        points.append(points[-1] + _lm_step(fun, x0, lam, fun(points[-1])))
    costs = [_cost(fun, p) for p in points]
    assert costs[0] > costs[1] > costs[2]
    # the same with a fresh Jacobian at each point would be ordinary LM steps: make sure those differ
    assert float((points[1] - (points[0] + _lm_step(fun, points[0], lam))).norm()) > 1e-6
    core = LMCore(JacobianEngine(exp_model, (t, y)), x0, damping=Levenberg(lam0=lam), options=LMOptions(frozen_steps=2))
    core.step()
    assert torch.allclose(core.state.x, points[2], rtol=1e-12, atol=1e-13)
    assert core.state.njev == 1 and core.state.nfev == 1 + 3
    assert core.damping.lam == pytest.approx(lam / 10.0)  # the rule saw one accepted trial


def test_a_frozen_step_that_raises_the_cost_is_not_taken() -> None:
    """Rosenbrock from (−1.2, 1), Levenberg λ = 1: the frozen steps by hand until one fails to lower the
    cost; the iteration ends at the last one that lowered it, having evaluated the one that did not."""
    x0, lam = torch.tensor([-1.2, 1.0]), 1.0
    points = [x0 + _lm_step(rosenbrock, x0, lam)]
    kept = None
    for k in range(20):
        nxt = points[-1] + _lm_step(rosenbrock, x0, lam, rosenbrock(points[-1]))
        if not _cost(rosenbrock, nxt) < _cost(rosenbrock, points[-1]):
            kept = k
            break
        points.append(nxt)
    assert kept is not None and kept < 20  # some frozen step fails here
    core = LMCore(JacobianEngine(rosenbrock), x0, damping=Levenberg(lam0=lam), options=LMOptions(frozen_steps=20))
    core.step()
    assert torch.allclose(core.state.x, points[-1], rtol=1e-12, atol=1e-13)
    assert core.state.nfev == 1 + 1 + kept + 1


def test_resume_is_exact_with_the_lambda_search_and_frozen_steps() -> None:
    t, y = exp_data()
    x0 = torch.tensor([1.0, 1.0, 0.0])
    options = LMOptions(lambda_search=FACTORS, frozen_steps=2, ftol=0.0, xtol=0.0, gtol=0.0)

    def core() -> LMCore:
        return LMCore(JacobianEngine(exp_model, (t, y)), x0, damping=Nielsen(), options=options)

    straight = core()
    for _ in range(4):
        straight.step()
    first = core()
    for _ in range(2):
        first.step()
    second = core()
    second.load_state_dict(first.state_dict())
    for _ in range(2):
        second.step()
    assert torch.equal(second.state.x, straight.state.x)
    assert second.damping.lam == straight.damping.lam
    same = {k: v for k, v in straight.state.history.items() if k != "time"}
    assert {k: v for k, v in second.state.history.items() if k != "time"} == same
    assert straight.state.status is StopReason.RUNNING


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("lambda_search", (0.1, 0.0), "positive finite"),
        ("lambda_search", (float("inf"),), "positive finite"),
        ("frozen_steps", -1, "integer >= 0"),
        ("frozen_steps", 1.5, "integer >= 0"),
    ],
)
def test_bad_search_options_are_refused(field: str, value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LMOptions(**{field: value})


# -- factor reuse -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("storage", ["packed", "dense"])
def test_a_solve_with_the_last_shift_reuses_its_factor_and_a_new_shift_refactors(storage: str) -> None:
    """Solves with shifts s₁, s₁, s₂, s₁ in turn, each against torch.linalg.solve of (A + diag(s)):
    reusing the factor of a shift for another one (or a stale factor after the packed storage refactored)
    would give the wrong x."""
    g = torch.Generator().manual_seed(3)
    rows = torch.randn(40, 12, generator=g)
    a = rows.T @ rows
    matrix = (
        PackedNormalMatrix(12, torch.float64)
        if storage == "packed"
        else DenseNormalMatrix(12, torch.float64, torch.device("cpu"))
    )
    matrix.add_rows(rows)
    matrix.finish()
    s1, s2 = torch.full((12,), 0.5), torch.rand(12, generator=g) + 2.0
    factored: list[torch.Tensor] = []
    factor = matrix.factor

    def counting(shift: torch.Tensor):
        factored.append(shift)
        return factor(shift)

    matrix.factor = counting  # type: ignore[method-assign]
    for shift in (s1, s1, s2, s1, s2, s2):
        rhs = torch.randn(12, generator=g)
        x, fell_back = matrix.solve(shift, rhs)
        assert not fell_back
        assert torch.allclose(x, torch.linalg.solve(a + torch.diag(shift), rhs), rtol=1e-11, atol=1e-12)
    assert len(factored) == 4  # s1, (s1 reused), s2, s1, s2, (s2 reused): the repeated shift is not refactored
    matrix.factor = factor  # type: ignore[method-assign]
    if storage == "packed":  # a factor made for the refinement path must not be mistaken for a cached one
        matrix.solve(s1, torch.randn(12, generator=g))
        assert matrix.factor(s2) is not None
        rhs = torch.randn(12, generator=g)
        assert torch.allclose(matrix.solve(s1, rhs)[0], torch.linalg.solve(a + torch.diag(s1), rhs), rtol=1e-11)
