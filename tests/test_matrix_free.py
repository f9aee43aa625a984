"""The matrix-free inexact LM: PCG and its stopping rule, the preconditioners, the Jacobian products, the
matrix-free step against the dense one, whole runs against dense runs, the auto rule, the records."""
from __future__ import annotations

import math

import pytest
import torch

import pinnlma
from pinnlma.backends import TorchBackend
from pinnlma.jacobian import JacobianEngine
from pinnlma.lm import LMOptions, MatrixFreeOptions, choose_solver
from pinnlma.lm.core import LMCore
from pinnlma.lm.krylov import CG_STOPS, Forcing, pcg
from pinnlma.lm.matrix_free import (DIAGONALS, PRECONDITIONER_PARTS, JacobianProducts, MatrixFreeNormalSystem,
                                    MatrixFreeResidualSystem, MatrixFreeSolver)
from pinnlma.lm.preconditioners import PRECONDITIONERS, NystromApproximation, jacobi
from pinnlma.lm.solvers import DENSE_MEMORY, FORMS, SOLVER_FACTORIES, SOLVERS, dense_bytes
from pinnlma.pinn import Dirichlet, Initial, Interval, Problem, SpaceTime
from pinnlma.pinn.assembler import ResidualAssembler
from pinnlma.pinn.geometry import Sampler
from pinnlma.pinn.models import MLP

DT = torch.float64
TIGHT = MatrixFreeOptions(forcing=1e-14, eta_min=1e-15, max_iterations=2000, preconditioner="none")


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


def test_registries_agree() -> None:
    assert set(PRECONDITIONER_PARTS) == set(PRECONDITIONERS)
    assert set(SOLVER_FACTORIES) == set(SOLVERS) and set(DENSE_MEMORY) == set(FORMS)
    assert set(DIAGONALS) == {"slices", "estimate"}
    for bad in (dict(preconditioner="ilu"), dict(diagonal="guess"), dict(rank=0), dict(forcing=2.0)):
        with pytest.raises(ValueError):
            MatrixFreeOptions(**bad)
    with pytest.raises(ValueError, match="solver"):
        LMOptions(solver="direct")
    with pytest.raises(ValueError, match="form"):
        LMOptions(form="dual")


# -- test problems -----------------------------------------------------------------------------------------
def exp_sin_engine(m: int = 40, dtype: torch.dtype = DT) -> tuple[JacobianEngine, torch.Tensor]:
    t = torch.linspace(0, 4, m, dtype=dtype)
    y = 2.5 * torch.exp(-1.3 * t) + 0.7 * torch.sin(2 * t) + 0.3

    def fun(x: torch.Tensor) -> torch.Tensor:
        return x[0] * torch.exp(-x[1] * t) + x[2] * torch.sin(x[3] * t) + x[4] - y

    return JacobianEngine(fun), torch.tensor([1.0, 1.0, 1.0, 1.8, 0.0], dtype=dtype)


def small_pinn(width: int = 6, depth: int = 2, interior: int = 60, boundary: int = 10,
               memory_budget: int | None = None, jacobian: str = "auto") -> tuple[ResidualAssembler, torch.Tensor]:
    """Viscous Burgers on [−1, 1] × [0, 1] with a small tanh MLP."""
    problem = Problem(
        name="burgers-small", domain=SpaceTime(Interval(-1.0, 1.0), (0.0, 1.0)),
        pde=lambda f: f.d("t") + f.u() * f.d("x") - (0.01 / math.pi) * f.d("x", "x"),
        conditions=[Dirichlet(0.0, name="bc"), Initial(lambda p: -torch.sin(math.pi * p[:, 0]), name="ic")],
        n_interior=interior, n_boundary=boundary,
    )
    torch.manual_seed(0)
    net = MLP(2, 1, width=width, depth=depth, input_range=[(-1.0, 1.0), (0.0, 1.0)])
    kw = {} if memory_budget is None else {"memory_budget": memory_budget}
    asm = ResidualAssembler(problem, net, sampler=Sampler("lhs", 0), jacobian=jacobian, **kw)
    return asm, asm.initial_parameters()


def wide_pinn() -> tuple[ResidualAssembler, torch.Tensor]:
    """n > m: 30 rows, 2→12→12→1 (193 parameters)."""
    return small_pinn(width=12, depth=2, interior=20, boundary=5)


# -- products of the assembler -----------------------------------------------------------------------------
@pytest.mark.parametrize("jacobian", ["channels", "generic"])
def test_assembler_products_match_the_full_jacobian(jacobian: str) -> None:
    asm, theta = small_pinn(memory_budget=4 * 8 * 55 * 25, jacobian=jacobian)  # chunks of 25 rows
    assert asm.slice_rows() < asm.n_residuals
    theta = theta + 0.05 * torch.randn(theta.shape[0], generator=torch.Generator().manual_seed(5), dtype=DT)
    _, jac = asm.full_jacobian(theta)
    g = torch.Generator().manual_seed(6)
    for _ in range(3):
        v = torch.randn(asm.n_params, generator=g, dtype=DT)
        w = torch.randn(asm.n_residuals, generator=g, dtype=DT)
        jv, jtw = asm.j_times(theta, v), asm.jt_times(theta, w)
        assert float((jv - jac @ v).norm() / (jac @ v).norm()) < 1e-12
        assert float((jtw - jac.T @ w).norm() / (jac.T @ w).norm()) < 1e-12
    with pytest.raises(ValueError, match="m-vector"):
        asm.jt_times(theta, torch.ones(3, dtype=DT))
    with pytest.raises(ValueError, match="n-vector"):
        asm.j_times(theta, torch.ones(3, dtype=DT))


def test_engine_product_matches_the_jacobian() -> None:
    engine, x = exp_sin_engine()
    _, jac = engine.full(x)
    v = torch.tensor([0.3, -1.0, 2.0, 0.5, 1.0], dtype=DT)
    assert float((engine.j_times(x, v) - jac @ v).norm() / (jac @ v).norm()) < 1e-13


# -- the matrix-free step equals the dense step ------------------------------------------------------------
def systems(model: object, x: torch.Tensor, form: str, options: MatrixFreeOptions):  # noqa: ANN201
    with torch.no_grad():
        r = model.residual(x)
    backend = TorchBackend()
    m = r.shape[0]
    dense = (backend.normal_system(model.slices(x, m), x.shape[0], lambda w: model.jt_times(x, w))
             if form == "normal" else backend.residual_system(model.slices(x, m), x.shape[0]))
    free = MatrixFreeSolver(options).system(form, model, x, r, iteration=0)
    return dense, free


@pytest.mark.parametrize("form", ["normal", "residual"])
@pytest.mark.parametrize("scaling", ["levenberg", "marquardt"])
@pytest.mark.parametrize("problem", ["engine", "pinn", "wide_pinn"])
def test_matrix_free_step_equals_the_dense_step(form: str, scaling: str, problem: str) -> None:
    model, x = {"engine": exp_sin_engine, "pinn": small_pinn, "wide_pinn": wide_pinn}[problem]()
    dense, free = systems(model, x, form, TIGHT)
    g_max = float(dense.gradient().abs().max())
    assert torch.allclose(free.gradient(), dense.gradient(), rtol=1e-12, atol=1e-14 * g_max)
    assert torch.allclose(free.jtj_diagonal(), dense.jtj_diagonal(), rtol=1e-12, atol=0)
    diag = dense.jtj_diagonal()
    scale = torch.ones_like(diag) if scaling == "levenberg" else diag.clamp_min(1e-10 * float(diag.max()))
    lam = 1e-2 * float(diag.max()) / float(scale.max())
    v_dense, v_free = dense.solve(lam, scale), free.solve(lam, scale)
    assert float((v_free - v_dense).norm() / v_dense.norm()) < 1e-10
    record = free.records[-1]
    assert record.stop == "tolerance" and record.relative_residual <= 1e-14 and record.iterations > 1
    assert free.curvature(v_free) == pytest.approx(dense.curvature(v_free), rel=1e-12)
    w = torch.randn(model.residual(x).shape[0], generator=torch.Generator().manual_seed(2), dtype=DT)
    other_dense, other_free = dense.solve(lam, scale, w), free.solve(lam, scale, w)
    assert float((other_free - other_dense).norm() / other_dense.norm()) < 1e-10
    assert free.records[-1].rhs == "other"


@pytest.mark.parametrize("form", ["normal", "residual"])
@pytest.mark.parametrize("preconditioner", ["jacobi", "nystrom"])
def test_preconditioned_steps_equal_the_dense_step(form: str, preconditioner: str) -> None:
    model, x = small_pinn()
    tight = MatrixFreeOptions(forcing=1e-14, eta_min=1e-15, max_iterations=2000, preconditioner=preconditioner,
                              rank=20)
    dense, free = systems(model, x, form, tight)
    diag = dense.jtj_diagonal()
    scale = diag.clamp_min(1e-10 * float(diag.max()))
    for lam in (1e-1, 1e-4):
        v_dense, v_free = dense.solve(lam, scale), free.solve(lam, scale)
        assert float((v_free - v_dense).norm() / v_dense.norm()) < 1e-9


def test_nystrom_cuts_cg_iterations_of_a_pinn_step() -> None:
    model, x = small_pinn(width=8)
    iterations = {}
    for name in ("none", "nystrom"):
        options = MatrixFreeOptions(forcing=1e-10, eta_min=1e-12, max_iterations=5000, preconditioner=name, rank=40)
        dense, free = systems(model, x, "normal", options)
        diag = free.jtj_diagonal()
        free.solve(1e-6 * float(diag.max()), diag.clamp_min(1e-10 * float(diag.max())))
        iterations[name] = free.records[-1].iterations
        assert free.records[-1].stop == "tolerance"
    assert iterations["nystrom"] * 3 < iterations["none"], iterations


@pytest.mark.parametrize("form", ["normal", "residual"])
@pytest.mark.parametrize("diagonal", ["slices", "estimate"])
def test_nystrom_sketch_is_that_of_the_scaled_operator(form: str, diagonal: str) -> None:
    """From the slices or from products, the system's Nyström approximation is the one of the explicit scaled
    operator, Ã = D^{-1/2}JᵀJD^{-1/2} (test matrix D^{1/2}Ω from the slices, Ω from products) or J D⁻¹Jᵀ."""
    model, x = small_pinn()
    r = model.residual(x)
    _, jac = model.full_jacobian(x)
    free = MatrixFreeSolver(MatrixFreeOptions(rank=15, diagonal=diagonal, probes=64)).system(form, model, x, r, 0)
    diag = (jac * jac).sum(0)
    scale = diag.clamp_min(1e-10 * float(diag.max()))
    s = scale.rsqrt()
    if form == "normal":
        operator = (s[:, None] * (jac.T @ jac)) * s[None, :]
        omega = free.omega / s[:, None] if diagonal == "slices" else free.omega
    else:
        operator, omega = (jac / scale) @ jac.T, free.omega
    expected = NystromApproximation(omega, operator @ omega)
    probe = torch.randn(operator.shape[0], generator=torch.Generator().manual_seed(4), dtype=DT)
    if form == "normal":
        expected_diagonal = operator.diagonal()
    else:
        expected_diagonal = ((jac * jac) @ (1.0 / scale))
    tol = 1e-12 if diagonal == "slices" else 0.5  # 64 Hutchinson probes in residual space: about ±20 %
    assert float((free.operator_diagonal(scale) - expected_diagonal).norm() / expected_diagonal.norm()) < tol
    got = free.nystrom(scale)
    assert got.rank == 15
    assert float((got.matmul(probe) - expected.matmul(probe)).norm() / expected.matmul(probe).norm()) < 1e-9


def test_hutchinson_diagonal_is_exact_for_one_entry_per_column() -> None:
    # each column of J has one nonzero: (Jᵀz)_j² = J_ij² for every sign vector z, so the estimate is exact
    jac = torch.zeros(6, 4, dtype=DT)
    jac[0, 0], jac[3, 1], jac[3, 2], jac[5, 3] = 2.0, -3.0, 0.5, 7.0
    engine = JacobianEngine(lambda x: jac @ x - 1.0, jac=lambda x: jac)
    x = torch.zeros(4, dtype=DT)
    r = engine.residual(x)
    free = MatrixFreeNormalSystem(JacobianProducts(engine, x, 6), r, MatrixFreeOptions(diagonal="estimate", probes=3),
                                  Forcing(0.1))
    assert torch.allclose(free.jtj_diagonal(), (jac * jac).sum(0), rtol=1e-15)
    assert free.ops.vjps == 4  # g and three probes; no slices
    # in general: unbiased, so many probes come close
    model, theta = small_pinn()
    r = model.residual(theta)
    est = MatrixFreeNormalSystem(JacobianProducts(model, theta, r.shape[0]), r,
                                 MatrixFreeOptions(diagonal="estimate", probes=400), Forcing(0.1))
    _, full = model.full_jacobian(theta)
    exact = (full * full).sum(0)
    assert float((est.jtj_diagonal() - exact).norm() / exact.norm()) < 0.25


# -- whole runs --------------------------------------------------------------------------------------------
def test_least_squares_matrix_free_reaches_the_certified_nist_minimum(shared_data) -> None:  # noqa: ANN001
    from pinnlma.validation.nist_strd import load_suite, log_relative_error

    problems = [p for p in load_suite(shared_data / "nist_strd") if p.name in ("Misra1a", "Thurber", "MGH09")]
    assert len(problems) == 3
    for p in problems:
        for start in p.starts:
            fun, x0 = p.residual_fn(), torch.tensor(start, dtype=DT)
            free = pinnlma.least_squares(fun, x0, solver="matrix-free")
            dense = pinnlma.least_squares(fun, x0, solver="dense")
            assert free.solver == "matrix-free" and dense.solver == "dense"
            assert free.success, (p.name, free.message)
            assert log_relative_error(free.x, p.certified).min() >= 6, (p.name, free.x)
            assert free.cost == pytest.approx(dense.cost, rel=1e-8)
            assert sum(free.history["linear_iterations"]) > 0 and len(free.linear_solves) >= free.nit


@pytest.mark.parametrize("form", ["normal", "residual"])
def test_pinn_run_matrix_free_follows_the_dense_run(form: str) -> None:
    """With tight CG every step is the dense one, so the whole run reaches the same loss."""
    losses = {}
    for solver in ("dense", "matrix-free"):
        model, x0 = small_pinn() if form == "normal" else wide_pinn()
        start = 0.5 * float(model.residual(x0).square().sum())
        options = LMOptions(max_iter=25, ftol=0.0, xtol=0.0, gtol=0.0, solver=solver, form=form,
                            matrix_free=MatrixFreeOptions(forcing=1e-13, eta_min=1e-14, max_iterations=3000, rank=30))
        result = LMCore(model, x0, options=options).run()
        assert result.solver == solver and result.form == form and result.nit == 25
        losses[solver] = result.cost
    assert losses["matrix-free"] < 0.2 * start
    assert losses["matrix-free"] == pytest.approx(losses["dense"], rel=1e-8)


def test_levenberg_marquardt_module_with_the_matrix_free_solver() -> None:
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 50, dtype=DT).unsqueeze(1)
    y = torch.sin(3 * x)
    results = {}
    for solver in ("dense", "matrix-free"):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
        lm = pinnlma.LevenbergMarquardt(net, lambda m, a, b: (m(a) - b).reshape(-1), rowwise=True, solver=solver,
                                        options=LMOptions(matrix_free=MatrixFreeOptions(forcing=1e-13, eta_min=1e-14,
                                                                                      max_iterations=1000)))
        for _ in range(15):
            info = lm.step(x, y)
        results[solver] = info
    assert results["matrix-free"].linear_iterations > 0 and results["dense"].linear_iterations == 0
    assert math.isnan(results["dense"].linear_residual) and results["matrix-free"].linear_residual <= 1e-13
    assert results["matrix-free"].cost == pytest.approx(results["dense"].cost, rel=1e-8)


def test_matrix_free_run_resumes_exactly() -> None:
    model, x0 = small_pinn()
    # a wide Eisenstat–Walker range and a rank-10 preconditioner (rank >= n would make every solve exact), so
    # that the forcing term moves, the solves stop early and the forcing's saved state matters
    options = LMOptions(max_iter=8, ftol=0.0, xtol=0.0, gtol=0.0, solver="matrix-free",
                        matrix_free=MatrixFreeOptions(eta_max=0.5, eta_min=1e-8, rank=10))
    whole = LMCore(model, x0, options=options).run()
    # resume at an iteration whose forcing term came from the saved state (below η_max), not from the start
    split = next(r.iteration for r in whole.linear_solves if r.iteration >= 2 and r.tolerance < 0.5)
    first = LMCore(model, x0, options=LMOptions(**{**vars(options), "max_iter": split}))
    first.run()
    second = LMCore(model, x0, options=options)
    second.load_state_dict(first.state_dict())
    resumed = second.run()
    assert torch.equal(resumed.x, whole.x)
    assert resumed.history["linear_iterations"] == whole.history["linear_iterations"]
    assert resumed.linear_solves == [r for r in whole.linear_solves if r.iteration >= split]
    # the Eisenstat–Walker solves are inexact: their records say so
    assert all(r.relative_residual <= r.tolerance or r.stop != "tolerance" for r in whole.linear_solves)
    assert any(r.relative_residual > 1e-3 for r in whole.linear_solves)
    assert len({r.tolerance for r in whole.linear_solves if r.iteration >= 4}) > 1


# -- the auto rule -----------------------------------------------------------------------------------------
def test_auto_rule_chooses_by_memory_and_shape() -> None:
    mib = 2**20
    # normal form (n <= m): dense while n²·8 + slice fits the limit
    fits = choose_solver(10_000, 1000, 8, memory_limit=8 * 10**6 + 64 * mib, slice_bytes=64 * mib)
    assert (fits.solver, fits.form) == ("dense", "normal") and fits.dense_bytes == 8 * 10**6 + 64 * mib
    over = choose_solver(10_000, 1000, 8, memory_limit=8 * 10**6 + 64 * mib - 1, slice_bytes=64 * mib)
    assert (over.solver, over.form) == ("matrix-free", "normal") and "over" in over.reason
    # residual form (n > m): dense needs (2mn + 2m²)·itemsize
    wide = choose_solver(100, 5000, 4, memory_limit=dense_bytes("residual", 100, 5000, 4))
    assert (wide.solver, wide.form) == ("dense", "residual") and wide.dense_bytes == (2 * 100 * 5000 + 2 * 100**2) * 4
    assert choose_solver(100, 5000, 4, memory_limit=wide.dense_bytes - 1).solver == "matrix-free"
    square = choose_solver(500, 500, 8, memory_limit=2**40)  # n = m: the normal form
    assert square.form == "normal" and choose_solver(500, 501, 8, memory_limit=2**40).form == "residual"
    # explicit choices are kept whatever the memory
    kept = choose_solver(10, 10**6, 8, solver="dense", form="normal", memory_limit=1)
    assert (kept.solver, kept.form) == ("dense", "normal")
    # the default limit is half the available memory
    default = choose_solver(10, 10, 8)
    assert 0 < default.memory_limit <= pinnlma.lm.solvers.available_memory() and default.solver == "dense"
    # the LM core applies the rule: a small limit sends a PINN to the matrix-free solver
    model, x0 = small_pinn()
    core = LMCore(model, x0, options=LMOptions(memory_limit=model.n_params**2 * 8 + model.memory_budget - 1))
    assert core.choice.solver == "matrix-free" and core.form == "normal"
    assert isinstance(core.solver, MatrixFreeSolver)
    core = LMCore(model, x0, options=LMOptions(memory_limit=model.n_params**2 * 8 + model.memory_budget))
    assert core.choice.solver == "dense"
    assert LMCore(*wide_pinn()).form == "residual"


def test_matrix_free_with_estimated_diagonal_trains_a_pinn() -> None:
    model, x0 = small_pinn()
    start = model.loss(model.residual(x0))
    options = LMOptions(max_iter=20, ftol=0.0, xtol=0.0, gtol=0.0, solver="matrix-free",
                        matrix_free=MatrixFreeOptions(diagonal="estimate", probes=8, rank=10))
    result = LMCore(model, x0, options=options).run()
    assert result.cost * 2 < 0.2 * start
    assert all(r.iterations <= 100 for r in result.linear_solves)


def test_run_loop_resumes_a_matrix_free_run_bit_for_bit(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The auto rule sends the run loop's LM to the matrix-free solver when memory is short; its state
    (the forcing term, the new history series) survives the run file."""
    import numpy as np

    from pinnlma.lm import solvers
    from pinnlma.registry import apply_options, load_problem
    from pinnlma.train import RunConfig, solve

    monkeypatch.setattr(solvers, "available_memory", lambda device="cpu": 2**20)  # 0.5 MiB limit: dense never fits
    problem = apply_options(load_problem("burgers"), quick=True).with_options(resample_every=3)
    straight = solve(problem, RunConfig(optimizer="lm", iters=5), progress=False)
    part = tmp_path / "part.h5"
    solve(problem, RunConfig(optimizer="lm", iters=3), out=part, progress=False)
    resumed = solve(problem, RunConfig(optimizer="lm", iters=5), resume=part, out=part, progress=False)
    assert np.array_equal(straight.theta.numpy(), resumed.theta.numpy())
    assert np.array_equal(straight.record.history["loss"], resumed.record.history["loss"])
    import h5py

    with h5py.File(part) as f:  # the matrix-free solver ran: its forcing state and CG counts were saved
        saved = f["resume/optimizer"]
        assert saved["solver/forcing"].attrs["previous_eta"] > 0
        assert saved["history/linear_iterations"][1:].min() >= 1


def test_float32_matrix_free_tolerance_is_what_float32_resolves() -> None:
    engine, x0 = exp_sin_engine(dtype=torch.float32)
    options = MatrixFreeOptions(forcing=1e-12, eta_min=1e-13, max_iterations=50)
    result = pinnlma.least_squares(engine.fun, x0, solver="matrix-free", matrix_free=options, max_iter=30)
    dense = pinnlma.least_squares(engine.fun, x0, solver="dense", max_iter=30)
    assert result.x.dtype == torch.float32 and result.linear_solves
    assert all(r.tolerance == pytest.approx(10 * torch.finfo(torch.float32).eps) for r in result.linear_solves)
    assert result.cost == pytest.approx(dense.cost, rel=1e-4)
