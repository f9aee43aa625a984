"""The subsampled Gauss–Newton matrix (``LMOptions.gram_rows``): the row samples, the sampled rows of the
Jacobian engine against the whole J, the damped system against a dense solve by hand, the exact least-squares
solution it still converges to, exact resumption, and the errors for settings it cannot serve."""

from __future__ import annotations

import math

import pytest
import torch

from pinnlma.backends import get_backend
from pinnlma.lm import LevenbergMarquardt, LMCore, LMOptions, Nielsen
from pinnlma.lm.jacobian import JacobianEngine, rows_of_slices
from pinnlma.lm.sampled_gram import SampledGramSystem, check_gram_rows, draw_rows, sample_size, sampled_slices
from tests.lm.fixtures import exp_data, exp_model, fit_residual, mlp

pytestmark = pytest.mark.usefixtures("float64_default")


# -- options and samples -------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, -3, 0.0, 1.5, -0.2, True, "100", math.nan])
def test_gram_rows_rejects_what_is_neither_a_count_nor_a_fraction(bad: object) -> None:
    with pytest.raises(ValueError, match="gram_rows"):
        LMOptions(gram_rows=bad)  # type: ignore[arg-type]


def test_gram_rows_counts_and_fractions_give_the_sample_size() -> None:
    assert check_gram_rows(None) is None and check_gram_rows(7) == 7 and check_gram_rows(0.25) == 0.25
    assert sample_size(None, 50) == 50 and sample_size(80, 50) == 50 and sample_size(20, 50) == 20
    assert sample_size(0.2, 5000) == 1000 and sample_size(1e-9, 50) == 1 and sample_size(1.0, 50) == 50
    with pytest.raises(ValueError, match="gram_seed"):
        LMOptions(gram_seed=-1)


def test_a_sample_is_sorted_distinct_and_a_function_of_seed_and_iteration_alone() -> None:
    a = draw_rows(100, 30, seed=4, iteration=7)
    assert a.shape == (30,) and torch.equal(a, a.sort().values) and a.unique().numel() == 30
    assert int(a.min()) >= 0 and int(a.max()) < 100
    torch.manual_seed(123)  # the global generator plays no part
    assert torch.equal(a, draw_rows(100, 30, seed=4, iteration=7))
    assert not torch.equal(a, draw_rows(100, 30, seed=4, iteration=8))
    assert not torch.equal(a, draw_rows(100, 30, seed=5, iteration=7))


# -- the sampled rows ----------------------------------------------------------------------------------------
def _whole(engine: JacobianEngine, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return engine.full(x)


def _joined(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


@pytest.mark.parametrize("outputs", [1, 2])
@pytest.mark.parametrize("budget", [2**12, 2**20])  # many slices, one slice
def test_the_engine_computes_exactly_the_sampled_rows_of_a_rowwise_fit(outputs: int, budget: int) -> None:
    """Per-row Jacobians (generic vmap(jacrev) rows) of the sampled rows equal those rows of the whole J,
    with one and with two residuals per data row (a sample may take one of a data row's two rows)."""
    net = mlp(width=5, outputs=outputs)
    a = torch.linspace(-1, 1, 40).reshape(-1, 1)
    b = torch.sin(3 * a).repeat(1, outputs)
    params = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    sizes = [p.numel() for p in net.parameters()]
    shapes = [p.shape for p in net.parameters()]

    def fun(x: torch.Tensor, aa: torch.Tensor, bb: torch.Tensor) -> torch.Tensor:
        ws = [t.view(s) for t, s in zip(torch.split(x, sizes), shapes)]
        h = torch.tanh(aa @ ws[0].T + ws[1])
        return (h @ ws[2].T + ws[3] - bb).reshape(-1)

    engine = JacobianEngine(fun, (a, b), rowwise=True, memory_budget=budget)
    r, jac = _whole(engine, params)
    m = r.shape[0]
    rows = draw_rows(m, 13, seed=0, iteration=0)
    r_s, j_s = _joined(list(engine.slices_of_rows(params, rows, m)))
    assert engine.plan is not None and engine.plan.strategy == "rowwise"
    assert torch.allclose(r_s, r[rows], rtol=1e-14, atol=1e-15)
    assert torch.allclose(j_s, jac[rows], rtol=1e-13, atol=1e-15)


def test_the_fast_layer_rows_of_a_sample_match_the_whole_jacobian() -> None:
    """LevenbergMarquardt's exact Linear-layer rows (one backward pass) for a sample equal the sample's rows
    of the whole J, and the engine keeps that fast path."""
    net = mlp(width=6)
    a = torch.linspace(-1, 1, 64).reshape(-1, 1)
    b = torch.cos(2 * a)
    lm = LevenbergMarquardt(net, fit_residual, rowwise=True)
    lm.engine.rebind(args=(a, b))
    x = lm.params
    r, jac = lm.engine.full(x)
    rows = draw_rows(64, 20, seed=1, iteration=3)
    r_s, j_s = _joined(list(lm.engine.slices_of_rows(x, rows, 64)))
    assert torch.allclose(r_s, r[rows], rtol=1e-14, atol=1e-15)
    assert torch.allclose(j_s, jac[rows], rtol=1e-12, atol=1e-14)
    assert lm.row_jacobian_note.startswith("exact rows")


def test_rows_are_taken_out_of_the_slices_of_other_strategies_and_models() -> None:
    """The forward strategy (J whole) and a model without slices_of_rows: the sampled rows, in order."""
    t, y = exp_data(40)
    engine = JacobianEngine(exp_model, (t, y), strategy="forward")
    x = torch.tensor([2.0, 1.0, 0.3])
    r, jac = engine.full(x)
    rows = torch.tensor([0, 5, 6, 21, 39])
    for parts in (
        list(engine.slices_of_rows(x, rows, 40)),
        list(rows_of_slices(JacobianEngine._split(r, jac, 7), rows)),
        list(sampled_slices(_SlicesOnly(engine), x, rows, 40)),
    ):
        r_s, j_s = _joined(parts)
        assert torch.equal(r_s, r[rows]) and torch.equal(j_s, jac[rows])


class _SlicesOnly:
    """A model offering only the protocol's slices (no slices_of_rows)."""

    def __init__(self, engine: JacobianEngine) -> None:
        self.engine = engine

    def slices(self, x: torch.Tensor, m: int):  # type: ignore[no-untyped-def]
        return JacobianEngine._split(*self.engine.full(x), 9)


# -- the damped system ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["torch", "cupynumeric"])
def test_the_sampled_system_solves_the_scaled_sample_gram_with_the_exact_gradient(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """((m/s)·J_SᵀJ_S + λD) v = Jᵀw by a dense solve by hand, for w = r and another w; diag and curvature
    carry the factor m/s; the gradient is Jᵀr of all rows."""
    g = torch.Generator().manual_seed(3)
    m, n = 60, 7
    jac, r = torch.randn(m, n, generator=g), torch.randn(m, generator=g)
    rows = draw_rows(m, 18, seed=2, iteration=0)
    c = m / 18
    slices = [(r[rows][:10], jac[rows][:10]), (r[rows][10:], jac[rows][10:])]
    solver = request.getfixturevalue("legate") if backend == "cupynumeric" else get_backend("torch")
    system = SampledGramSystem.build(solver, slices, n, m, jac.T @ r, lambda w: jac.T @ w)
    a = c * jac[rows].T @ jac[rows]
    scale = torch.rand(n, generator=g) + 0.5
    lam = 0.3
    w = torch.randn(m, generator=g)
    for rhs, got in ((jac.T @ r, system.solve(lam, scale)), (jac.T @ w, system.solve(lam, scale, w))):
        assert torch.allclose(got, torch.linalg.solve(a + lam * torch.diag(scale), rhs), rtol=1e-10, atol=1e-12)
    v = torch.randn(n, generator=g)
    assert system.curvature(v) == pytest.approx(float(v @ a @ v), rel=1e-10)
    assert torch.allclose(system.jtj_diagonal(), torch.diagonal(a), rtol=1e-12)
    assert torch.equal(system.gradient(), jac.T @ r) and system.m == m and system.sampled == 18


# -- runs ----------------------------------------------------------------------------------------------------
def test_sampled_gram_lm_still_converges_to_the_exact_least_squares_solution() -> None:
    """A consistent linear least-squares problem (400 rows, 12 unknowns) with 40 sampled rows per iteration:
    the gradient is exact, so the fixed point is the exact solution, reached to rounding in more steps than
    the one exact Gauss–Newton step."""
    g = torch.Generator().manual_seed(0)
    a, x_true = torch.randn(400, 12, generator=g), torch.randn(12, generator=g)
    b = a @ x_true
    engine = JacobianEngine(lambda x: a @ x - b)
    core = LMCore(engine, torch.zeros(12), options=LMOptions(gram_rows=40, max_iter=300, ftol=0, xtol=0, gtol=1e-12))
    result = core.run()
    assert result.success, result.message
    assert torch.allclose(result.x, x_true, rtol=1e-11, atol=1e-12), float((result.x - x_true).abs().max())
    assert 3 < result.nit < 300  # not a one-step exact Gauss–Newton solve
    assert result.solver_reason.endswith("JᵀJ from 40 of the 400 rows, sampled afresh each iteration (gram_rows)")


def test_a_sampled_run_is_not_the_plain_run_and_resumes_exactly() -> None:
    """The exponential fit with 15 of 40 rows: different steps from plain LM; a run stopped after 4 of 8
    iterations and restored from its state dict ends where the uninterrupted one does, bit for bit."""
    t, y = exp_data(40)
    x0 = torch.tensor([1.0, 0.5, 0.0])
    options = LMOptions(gram_rows=15, gram_seed=3, max_iter=8, ftol=0, xtol=0, gtol=0)

    def core(opts: LMOptions) -> LMCore:
        return LMCore(JacobianEngine(exp_model, (t, y)), x0, damping=Nielsen(), options=opts)

    whole = core(options).run()
    plain = core(LMOptions(max_iter=8, ftol=0, xtol=0, gtol=0)).run()
    assert not torch.allclose(whole.x, plain.x, rtol=1e-6)
    assert whole.cost < 0.5 * float((exp_model(x0, t, y) ** 2).sum())
    first = core(LMOptions(**{**vars(options), "max_iter": 4}))
    first.run()
    state = first.state_dict()
    second = core(options)
    second.load_state_dict(state)
    resumed = second.run()
    assert torch.equal(resumed.x, whole.x) and resumed.history["cost"] == whole.history["cost"]


def test_gram_rows_refuses_the_residual_form_and_the_matrix_free_solver() -> None:
    t, y = exp_data(40)
    x0 = torch.tensor([1.0, 0.5, 0.0])
    for opts in (LMOptions(gram_rows=10, form="residual"), LMOptions(gram_rows=10, solver="matrix-free")):
        with pytest.raises(ValueError, match="gram_rows samples the rows of the dense normal equations"):
            LMCore(JacobianEngine(exp_model, (t, y)), x0, options=opts)
    LMCore(JacobianEngine(exp_model, (t, y)), x0, options=LMOptions(gram_rows=40, form="residual"))  # all rows: plain
