"""The bundled problems (``problems/``, importable as ``pinnlma.problems.<name>``), at their --quick size:
each builds and loads by name, is described, has a finite residual that a few LM iterations reduce,
its channel Jacobian equals the generic per-point one, and its reference has the right shape."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinnlma.lm import LMCore, LMOptions
from pinnlma.pinn import PointData, Problem, ResidualAssembler
from pinnlma.pinn.registry import apply_options, bundled_names, describe, load_problem
from pinnlma.pinn.setup import build_model

EXPECTED = {
    "allen_cahn",
    "burgers",
    "burgers_inverse",
    "heat1d",
    "helmholtz2d",
    "kdv",
    "poisson2d",
    "schrodinger",
    "sinc",
    "wave1d",
}
NAMES = bundled_names()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a small shared machine, intra-op threads mostly add synchronisation cost."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def quick(name: str) -> Problem:
    return apply_options(load_problem(name), quick=True)


def assembler_for(problem: Problem, seed: int = 0, **kwargs) -> ResidualAssembler:
    """The problem's own network (its embedding and exact output transform included)."""
    torch.manual_seed(seed)
    return ResidualAssembler(problem, build_model(problem), **kwargs)


def test_all_expected_problems_are_bundled() -> None:
    assert set(NAMES) >= EXPECTED


@pytest.mark.parametrize("name", NAMES)
def test_problem_loads_and_is_described(name: str) -> None:
    problem = load_problem(name)
    assert isinstance(problem, Problem)
    assert problem.name == name
    line = describe(name)
    assert line and "\n" not in line
    assert int(problem.run["iters"]) > 0 and float(problem.run["time_limit"]) > 0
    assert problem.quick, "a --quick size is needed for tests"


@pytest.mark.parametrize("name", NAMES)
def test_reference_has_the_right_shape(name: str) -> None:
    problem = quick(name)
    points, values = problem.evaluation()
    assert points.ndim == 2 and points.shape[1] == problem.domain.dim and len(points) > 0
    assert values is not None, "every bundled problem has a reference"
    assert values.shape == (len(points), problem.outputs)
    assert np.isfinite(points).all() and np.isfinite(values).all()
    assert problem.domain.contains(points).all()
    assert np.linalg.norm(values) > 0


@pytest.mark.parametrize("name", NAMES)
def test_quick_lm_iterations_reduce_the_loss(name: str) -> None:
    problem = quick(name)
    assembler = assembler_for(problem)
    x0 = assembler.initial_parameters()
    r0 = assembler.residual(x0)
    assert r0.shape == (assembler.n_residuals,)
    assert torch.isfinite(r0).all()
    core = LMCore(assembler, x0, options=LMOptions(max_iter=3, ftol=0.0, xtol=0.0, gtol=0.0))
    result = core.run()
    assert result.nit >= 1
    assert math.isfinite(result.cost) and result.cost < 0.5 * float(r0 @ r0)
    prediction = assembler.predict(result.x, problem.evaluation()[0][:100])
    assert prediction.shape == (min(100, len(problem.evaluation()[0])), problem.outputs)
    assert np.isfinite(prediction).all()
    for key, value in assembler.coefficients(result.x).items():
        assert math.isfinite(value), key


def small(problem: Problem, n_data: int = 12) -> Problem:
    """A few points per block (data blocks cut to their first ``n_data`` points)."""
    conditions = [
        PointData(c.points[:n_data], c.values[:n_data], out=c.out, weight=c.weight, name=c.name)
        if isinstance(c, PointData)
        else c
        for c in problem.conditions
    ]
    return problem.with_options(n_interior=16, n_boundary=8, conditions=conditions)


@pytest.mark.parametrize("name", NAMES)
def test_channel_jacobian_equals_generic(name: str) -> None:
    problem = small(quick(name))
    fast = assembler_for(problem, jacobian="channels")
    generic = assembler_for(problem, jacobian="generic")
    x = fast.initial_parameters()
    # move off the initial point (zero biases, initial guesses) so that every term is exercised
    x = x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    r_fast, j_fast = fast.full_jacobian(x)
    r_gen, j_gen = generic.full_jacobian(x)
    assert j_fast.shape == (fast.n_residuals, fast.n_params)
    assert torch.isfinite(j_fast).all()
    assert float((r_fast - r_gen).norm()) <= 1e-10 * float(r_gen.norm())
    assert float((j_fast - j_gen).norm()) <= 1e-10 * float(j_gen.norm())


@pytest.mark.parametrize("jacobian", ["channels", "generic"])
def test_residual_in_row_chunks_equals_one_pass(jacobian: str) -> None:
    """With a tiny memory budget r(θ) is evaluated in many row chunks (memory independent of m)."""
    whole = assembler_for(quick("burgers"), jacobian=jacobian)
    chunked = assembler_for(quick("burgers"), jacobian=jacobian, memory_budget=4 * 8 * whole.n_params * 37)
    assert chunked.slice_rows() == 37
    theta = whole.initial_parameters()
    assert torch.allclose(chunked.residual(theta), whole.residual(theta), rtol=1e-13, atol=1e-15)
