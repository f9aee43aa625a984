"""pinnlma.lm.matrix_free: the products of the Jacobian, the matrix-free step against the dense one (both forms,
Levenberg and Marquardt scaling), the sketch and diagonals against the explicit operator, whole runs against
dense runs (NIST, a PINN, LevenbergMarquardt, float32) and exact resumes (the core and the run loop)."""

from __future__ import annotations

import math

import pytest
import torch

import pinnlma
from pinnlma.lm import LMOptions, MatrixFreeOptions
from pinnlma.lm.core import LMCore
from pinnlma.lm.jacobian import JacobianEngine
from pinnlma.lm.krylov import Forcing
from pinnlma.lm.matrix_free import (
    JacobianProducts,
    MatrixFreeNormalSystem,
    MatrixFreeSolver,
)
from pinnlma.lm.preconditioners import NystromApproximation
from tests.lm.matrix_free_problems import DT, TIGHT, exp_sin_engine, small_pinn, systems, wide_pinn


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
    tight = MatrixFreeOptions(forcing=1e-14, eta_min=1e-15, max_iterations=2000, preconditioner=preconditioner, rank=20)
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
        _, free = systems(model, x, "normal", options)
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
        expected_diagonal = (jac * jac) @ (1.0 / scale)
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
    free = MatrixFreeNormalSystem(
        JacobianProducts(engine, x, 6), r, MatrixFreeOptions(diagonal="estimate", probes=3), Forcing(0.1)
    )
    assert torch.allclose(free.jtj_diagonal(), (jac * jac).sum(0), rtol=1e-15)
    assert free.ops.vjps == 4  # g and three probes; no slices
    # in general: unbiased, so many probes come close
    model, theta = small_pinn()
    r = model.residual(theta)
    est = MatrixFreeNormalSystem(
        JacobianProducts(model, theta, r.shape[0]), r, MatrixFreeOptions(diagonal="estimate", probes=400), Forcing(0.1)
    )
    _, full = model.full_jacobian(theta)
    exact = (full * full).sum(0)
    assert float((est.jtj_diagonal() - exact).norm() / exact.norm()) < 0.25


# -- whole runs --------------------------------------------------------------------------------------------


def test_least_squares_matrix_free_reaches_the_certified_nist_minimum(shared_data) -> None:
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
        options = LMOptions(
            max_iter=25,
            ftol=0.0,
            xtol=0.0,
            gtol=0.0,
            solver=solver,
            form=form,
            matrix_free=MatrixFreeOptions(forcing=1e-13, eta_min=1e-14, max_iterations=3000, rank=30),
        )
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
        lm = pinnlma.LevenbergMarquardt(
            net,
            lambda m, a, b: (m(a) - b).reshape(-1),
            rowwise=True,
            solver=solver,
            options=LMOptions(matrix_free=MatrixFreeOptions(forcing=1e-13, eta_min=1e-14, max_iterations=1000)),
        )
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
    options = LMOptions(
        max_iter=8,
        ftol=0.0,
        xtol=0.0,
        gtol=0.0,
        solver="matrix-free",
        matrix_free=MatrixFreeOptions(eta_max=0.5, eta_min=1e-8, rank=10),
    )
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


def test_matrix_free_with_estimated_diagonal_trains_a_pinn() -> None:
    model, x0 = small_pinn()
    start = model.loss(model.residual(x0))
    options = LMOptions(
        max_iter=20,
        ftol=0.0,
        xtol=0.0,
        gtol=0.0,
        solver="matrix-free",
        matrix_free=MatrixFreeOptions(diagonal="estimate", probes=8, rank=10),
    )
    result = LMCore(model, x0, options=options).run()
    assert result.cost * 2 < 0.2 * start
    assert all(r.iterations <= 100 for r in result.linear_solves)


def test_run_loop_resumes_a_matrix_free_run_bit_for_bit(tmp_path, monkeypatch) -> None:
    """The auto rule sends the run loop's LM to the matrix-free solver when memory is short; its state
    (the forcing term, the new history series) survives the run file."""
    import numpy as np

    from pinnlma.lm import solvers
    from pinnlma.pinn.registry import apply_options, load_problem
    from pinnlma.run import RunConfig, solve

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
