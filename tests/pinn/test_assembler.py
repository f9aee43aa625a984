"""The PINN layer: derivative channels and helpers, conditions, the assembler's blocks, weights, Jacobians."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinnlma.pinn import (
    MLP,
    Box,
    Dirichlet,
    Initial,
    Interval,
    Neumann,
    Periodic,
    PointData,
    Problem,
    ResidualAssembler,
    Sampler,
    SpaceTime,
)
from pinnlma.pinn.channels import ChannelForward, close_channels
from pinnlma.pinn.derivatives import gradient, laplacian, partial
from tests.pinn.channel_checks import assert_channels_match_autograd
from tests.pinn.fixtures import known_problem, rows_of

pytestmark = pytest.mark.usefixtures("float64_default")  # implicit float tensors are float64 here


# -- derivatives ----------------------------------------------------------------------------------------
def test_point_derivative_helpers_match_closed_forms() -> None:
    u = lambda p: torch.stack([torch.sin(2 * p[0]) * torch.exp(p[1])])  # noqa: E731
    x = torch.tensor([0.3, -0.7])
    s, c, e = math.sin(0.6), math.cos(0.6), math.exp(-0.7)
    assert float(partial(u, 0)(x)) == pytest.approx(2 * c * e, rel=1e-14)
    assert float(partial(u, 0, 0)(x)) == pytest.approx(-4 * s * e, rel=1e-14)
    assert float(partial(u, 0, 1)(x)) == pytest.approx(2 * c * e, rel=1e-14)
    assert float(partial(u, 0, 0, 0)(x)) == pytest.approx(-8 * c * e, rel=1e-14)
    assert gradient(u)(x)[0].tolist() == pytest.approx([2 * c * e, s * e], rel=1e-14)
    assert float(laplacian(u)(x)) == pytest.approx(-4 * s * e + s * e, rel=1e-14)


@pytest.mark.parametrize("activation", ["tanh", "sin", "sigmoid"])
def test_derivative_channels_match_autograd(activation: str) -> None:
    torch.manual_seed(0)
    net = MLP(2, 2, width=7, depth=3, activation=activation, input_range=[(0.0, 10.0), (-2.0, 3.0)])
    out, _, _, u = assert_channels_match_autograd(net, torch.rand(11, 2))
    assert torch.allclose(out[0], u)


def test_tanh_channel_matches_closed_form_for_one_neuron() -> None:
    net = MLP(1, 1, width=1, depth=1)
    with torch.no_grad():
        net.linears[0].weight.fill_(1.5)
        net.linears[0].bias.fill_(0.2)
        net.linears[1].weight.fill_(2.0)
        net.linears[1].bias.fill_(-1.0)
    x = torch.tensor([[0.4]])
    forward = ChannelForward(net, close_channels([(0, 0)]))
    with torch.no_grad():
        out, _, _ = forward(x, list(net.parameters()))
    z = 1.5 * 0.4 + 0.2
    t = math.tanh(z)
    assert float(out[forward.index[(0,)], 0, 0]) == pytest.approx(2 * 1.5 * (1 - t * t), rel=1e-14)
    assert float(out[forward.index[(0, 0)], 0, 0]) == pytest.approx(2 * 1.5**2 * (-2 * t * (1 - t * t)), rel=1e-14)


def test_pde_rows_with_known_function() -> None:
    # u_t + u_xx for u = 2 sin x cos t: −2 sin x sin t − 2 sin x cos t
    problem = known_problem([], pde=lambda f: f.d("t") + f.d("x", "x"))
    rows, pts = rows_of(problem, "pde")
    x, t = pts[:, 0], pts[:, 1]
    assert torch.allclose(rows, -2 * torch.sin(x) * (torch.sin(t) + torch.cos(t)), atol=1e-13)


# -- assembler: weights, blocks, Jacobian paths ----------------------------------------------------------------
def heat_like_problem(**kw) -> Problem:
    return Problem(
        name="test",
        domain=SpaceTime(Interval(-1.0, 1.0), (0.0, 1.0)),
        pde=lambda f: (
            f.d("t")
            + f.param("c") * f.u() * f.d("x")
            - f.param("nu") * f.d("x", "x")
            + f.param("k") * f.d("x", "x", "x")
        ),
        conditions=[
            Dirichlet(0.0, name="bc"),
            Initial(lambda p: -torch.sin(math.pi * p[:, 0]), name="ic"),
            Neumann(0.5, name="flux", weight=3.0),
            Periodic("x", order=1, name="per"),
        ],
        parameters={"nu": 0.01, "k": 0.002},
        unknowns={"c": 0.8},
        n_interior=40,
        n_boundary=12,
        weights={"ic": 5.0},
        **kw,
    )


def test_weights_and_block_scaling_give_the_pinn_loss() -> None:
    torch.manual_seed(0)
    a = ResidualAssembler(heat_like_problem(), MLP(2, 1, width=6, depth=2), sampler=Sampler("lhs", 0))
    theta = a.initial_parameters()
    r = a.residual(theta)
    losses = a.block_losses(theta)
    weights = {"pde": 1.0, "bc": 1.0, "ic": 5.0, "flux": 3.0, "per": 1.0}
    assert list(losses) == list(weights)
    assert a.loss(r) == pytest.approx(sum(weights[k] * v for k, v in losses.items()), rel=1e-12)
    assert a.n_residuals == 40 + 12 * 4 and a.n_params == MLP(2, 1, width=6, depth=2).n_params + 1


@pytest.mark.parametrize("outputs", [1, 2])
def test_channel_jacobian_equals_generic_jacobian(outputs: int) -> None:
    torch.manual_seed(1)
    problem = heat_like_problem(outputs=outputs)
    net = MLP(2, outputs, width=5, depth=2, input_range=[(-1.0, 1.0), (0.0, 1.0)])
    fast = ResidualAssembler(problem, net, sampler=Sampler("lhs", 0), memory_budget=4 * 8 * 60 * 11)
    slow = ResidualAssembler(problem, net, sampler=Sampler("lhs", 0), jacobian="generic")
    assert fast.jacobian == "channels" and slow.jacobian == "generic"
    theta = fast.initial_parameters() + 0.1
    r1, j1 = fast.full_jacobian(theta)
    r2, j2 = slow.full_jacobian(theta)
    assert torch.allclose(r1, r2, rtol=1e-12, atol=1e-14)
    assert float((j1 - j2).norm() / j2.norm()) < 1e-12
    # and against plain reverse-mode autograd of the stacked residual
    j3 = torch.func.jacrev(fast.residual)(theta)
    assert float((j1 - j3).norm() / j3.norm()) < 1e-12
    assert fast.slice_rows() < fast.n_residuals  # the budget really sliced it


def test_jt_times_and_second_directional() -> None:
    torch.manual_seed(2)
    a = ResidualAssembler(heat_like_problem(), MLP(2, 1, width=5, depth=2), sampler=Sampler("lhs", 0))
    theta = a.initial_parameters()
    _, jac = a.full_jacobian(theta)
    w = torch.randn(a.n_residuals)
    assert torch.allclose(a.jt_times(theta, w), jac.T @ w, rtol=1e-11, atol=1e-13)
    # r_vv = vᵀ(∇²r_i)v against the exact Hessian of every row (forward over reverse mode)
    theta = theta + 0.1 * torch.randn(a.n_params)  # off the zero biases, so that every term counts
    v = torch.randn(a.n_params)
    hessian = torch.func.jacfwd(torch.func.jacrev(a.residual))(theta)
    exact = torch.einsum("mij,i,j->m", hessian, v, v)
    r_vv = a.second_directional(theta, v)
    assert float((r_vv - exact).norm()) <= 1e-12 * float(exact.norm())


def test_resampling_redraws_points_but_keeps_data() -> None:
    problem = Problem(
        name="fit",
        domain=Box([(0, 1), (0, 1)]),
        pde=lambda f: f.laplacian(),
        conditions=[PointData(np.array([[0.5, 0.5]]), [1.0], name="obs")],
        n_interior=20,
        n_boundary=8,
        resample_every=5,
    )
    a = ResidualAssembler(problem, MLP(2, 1, width=4, depth=1), sampler=Sampler("uniform", 3))
    before = {b.name: b.groups[0].clone() for b in a.blocks}
    a.sample()
    after = {b.name: b.groups[0] for b in a.blocks}
    assert not torch.equal(before["pde"], after["pde"])
    assert torch.equal(before["obs"], after["obs"])


def test_problem_validation_errors() -> None:
    with pytest.raises(ValueError, match="neither a PDE nor conditions"):
        Problem(name="x", domain=Interval(0, 1), pde=None)
    with pytest.raises(ValueError, match="unique"):
        Problem(name="x", domain=Interval(0, 1), pde=lambda f: f.u(), conditions=[Dirichlet(name="pde")])
    with pytest.raises(ValueError, match="both known parameters and unknowns"):
        Problem(name="x", domain=Interval(0, 1), pde=lambda f: f.u(), parameters={"a": 1}, unknowns={"a": 2})
    bad = Problem(name="x", domain=Interval(0, 1), pde=lambda f: f.d("y"), n_interior=4, eval_grid=(5,))
    with pytest.raises(KeyError, match="unknown coordinate 'y'"):
        ResidualAssembler(bad, MLP(1, 1, width=3, depth=1))
    wrong_rows = Problem(name="x", domain=Interval(0, 1), pde=lambda f: f.u()[:2], n_interior=4, eval_grid=(5,))
    a = ResidualAssembler(wrong_rows, MLP(1, 1, width=3, depth=1))
    with pytest.raises(ValueError, match=r"expected \(4,\)"):
        a.residual(a.initial_parameters())
    with pytest.raises(ValueError, match="channel Jacobian needs"):
        ResidualAssembler(bad, MLP(1, 1, width=3, depth=1, activation="gelu"), jacobian="channels")


@pytest.mark.parametrize("jacobian", ["channels", "generic"])
def test_slices_of_rows_are_the_rows_of_the_full_jacobian(jacobian: str) -> None:
    """The Jacobian of only the sampled points (``gram_rows``) equals those rows of the whole J, across
    blocks, chunk boundaries and per-row weights."""
    torch.manual_seed(3)
    problem = heat_like_problem(outputs=2)
    net = MLP(2, 2, width=5, depth=2, input_range=[(-1.0, 1.0), (0.0, 1.0)])
    a = ResidualAssembler(problem, net, sampler=Sampler("lhs", 0), jacobian=jacobian, memory_budget=8 * 60 * 7)
    a.set_row_weights("pde", torch.linspace(0.5, 2.0, 40))
    theta = a.initial_parameters() + 0.1 * torch.randn(a.n_params)
    r, jac = a.full_jacobian(theta)
    rows = torch.tensor([0, 3, 4, 17, 39, 40, 41, 55, 60, 70, a.n_residuals - 1])
    parts = list(a.slices_of_rows(theta, rows, a.n_residuals))
    assert max(p[0].shape[0] for p in parts) <= a.slice_rows() < len(rows)  # chunked
    r_s, j_s = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    assert torch.allclose(r_s, r[rows], rtol=1e-13, atol=1e-15)
    assert float((j_s - jac[rows]).norm() / jac[rows].norm()) < 1e-13
    assert list(a.slices_of_rows(theta, rows[:0], a.n_residuals)) == []
    with pytest.raises(ValueError, match=r"row indices must lie in \[0, 88\)"):
        list(a.slices_of_rows(theta, torch.tensor([5, a.n_residuals]), a.n_residuals))
