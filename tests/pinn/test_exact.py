"""Exact constraints u = g + d·N: the constraint holds to rounding at its points, the fast Jacobian equals the
generic one, the replaced blocks leave the residual, and the errors for what cannot be generated."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pinnlma.pinn import (
    Dirichlet,
    Disk,
    Fields,
    Initial,
    InitialVelocity,
    Interval,
    Neumann,
    Problem,
    Rectangle,
    ResidualAssembler,
    Sampler,
    SpaceTime,
)
from pinnlma.pinn.channels import ChannelForward, close_channels
from pinnlma.pinn.exact import OutputTransform
from pinnlma.pinn.setup import build_model

pytestmark = pytest.mark.usefixtures("float64_default")

PI = math.pi


def wave(exact: tuple[str, ...] | OutputTransform, boundary: float = 0.0, where: str | None = None) -> Problem:
    """u_tt = u_xx on [0, 2] × [0.5, 1.5] with u, u_t at t = 0.5 and u = boundary on the faces."""

    def pde(f: Fields) -> torch.Tensor:
        return f.d("t", "t") - f.d("x", "x") + f.u() ** 2

    return Problem(
        name="wave_like",
        domain=SpaceTime(Interval(0.0, 2.0), (0.5, 1.5)),
        pde=pde,
        conditions=[
            Dirichlet(boundary, where=where, name="boundary"),
            Initial(lambda p: torch.sin(PI * p[:, 0]) + boundary, name="initial"),
            InitialVelocity(lambda p: 3 * torch.sin(1.5 * PI * p[:, 0]), name="initial_velocity"),
        ],
        n_interior=30,
        n_boundary=10,
        model={"width": 5, "depth": 2},
        exact=exact,
    )


def channels_at(problem: Problem, points: np.ndarray, requests: list[tuple[int, ...]]) -> dict:
    torch.manual_seed(1)
    net = build_model(problem)
    forward = ChannelForward(net, close_channels(requests))
    out = forward(torch.as_tensor(points), list(net.parameters()))[0].detach()
    return {alpha: out[forward.index[alpha], :, 0] for alpha in [(), *requests]}


@pytest.mark.parametrize("boundary", [0.0, 0.7])
def test_initial_and_boundary_values_hold_to_rounding(boundary: float) -> None:
    problem = wave(("boundary", "initial", "initial_velocity"), boundary)
    x = np.linspace(0.0, 2.0, 13)
    start = np.stack([x, np.full_like(x, 0.5)], 1)
    chans = channels_at(problem, start, [(1,)])
    assert torch.allclose(chans[()], torch.sin(PI * torch.as_tensor(x)) + boundary, rtol=0, atol=1e-15)
    assert torch.allclose(chans[(1,)], 3 * torch.sin(1.5 * PI * torch.as_tensor(x)), rtol=0, atol=1e-14)
    t = np.linspace(0.5, 1.5, 9)
    for side in (0.0, 2.0):
        face = np.stack([np.full_like(t, side), t], 1)
        assert torch.allclose(channels_at(problem, face, [(1,)])[()], torch.full((9,), boundary), rtol=0, atol=1e-15)
    torch.manual_seed(1)
    net = build_model(problem)  # the plain forward (the generic path, predictions) agrees with the channels
    assert torch.allclose(net(torch.as_tensor(start))[:, 0], chans[()], rtol=0, atol=1e-15)


def test_blocks_replaced_and_jacobian_equals_generic() -> None:
    problem = wave(("boundary", "initial", "initial_velocity"))
    torch.manual_seed(2)
    net = build_model(problem)
    fast = ResidualAssembler(problem, net, sampler=Sampler("lhs", 4))
    slow = ResidualAssembler(problem, net, sampler=Sampler("lhs", 4), jacobian="generic")
    assert [b.name for b in fast.blocks] == ["pde"] and fast.jacobian == "channels"
    theta = fast.initial_parameters() + 0.3 * torch.randn(fast.n_params)
    (r1, j1), (r2, j2) = fast.full_jacobian(theta), slow.full_jacobian(theta)
    assert torch.allclose(r1, r2, rtol=0, atol=1e-13 * float(r2.abs().max()))
    assert torch.allclose(j1, j2, rtol=0, atol=1e-13 * float(j2.abs().max()))
    soft = ResidualAssembler(wave(()), build_model(wave(())))
    assert [b.name for b in soft.blocks] == ["pde", "boundary", "initial", "initial_velocity"]


def test_user_transform_two_outputs_one_face() -> None:
    """A user-given g and d on output "v" only, Dirichlet on one face; output "u" unconstrained."""

    def pde(f: Fields) -> torch.Tensor:
        return f.d("x", "x", out="u") * f.u("v") + f.d("x", "y", out="v")

    transform = OutputTransform(
        g={"v": lambda p: torch.exp(p[:, 1])}, d={"v": lambda p: torch.sin(p[:, 0])}, replaces=("left",)
    )
    problem = Problem(
        name="two",
        domain=Rectangle([(0.0, 1.0), (0.0, 1.0)], ("x", "y")),
        pde=pde,
        outputs=("u", "v"),
        conditions=[Dirichlet(lambda p: torch.exp(p[:, 1]), where="x_min", out="v", name="left")],
        n_interior=20,
        n_boundary=8,
        model={"width": 4, "depth": 2},
        exact=transform,
    )
    torch.manual_seed(0)
    net = build_model(problem)
    fast = ResidualAssembler(problem, net, sampler=Sampler("lhs", 0))
    slow = ResidualAssembler(problem, net, sampler=Sampler("lhs", 0), jacobian="generic")
    assert [b.name for b in fast.blocks] == ["pde"]
    theta = fast.initial_parameters() + 0.3 * torch.randn(fast.n_params)
    (r1, j1), (r2, j2) = fast.full_jacobian(theta), slow.full_jacobian(theta)
    assert torch.allclose(r1, r2, rtol=0, atol=1e-13 * float(r2.abs().max()))
    assert torch.allclose(j1, j2, rtol=0, atol=1e-13 * float(j2.abs().max()))
    y = torch.linspace(0, 1, 7)
    left = torch.stack([torch.zeros(7), y], 1)
    assert torch.allclose(net(left)[:, 1], torch.exp(y), rtol=0, atol=1e-15)


def test_generated_dirichlet_on_chosen_faces() -> None:
    def pde(f: Fields) -> torch.Tensor:
        return f.d("x", "x") + f.d("y", "y")

    problem = Problem(
        name="faces",
        domain=Rectangle([(0.0, 2.0), (-1.0, 1.0)], ("x", "y")),
        pde=pde,
        conditions=[Dirichlet(lambda p: p[:, 0] * p[:, 1], where="x_max,y_min", name="two_faces")],
        n_interior=20,
        n_boundary=10,
        model={"width": 4, "depth": 2},
        exact=("two_faces",),
    )
    torch.manual_seed(0)
    net = build_model(problem)
    s = torch.linspace(-1.0, 1.0, 9)
    right = torch.stack([torch.full_like(s, 2.0), s], 1)
    bottom = torch.stack([s + 1.0, torch.full_like(s, -1.0)], 1)
    for pts in (right, bottom):
        assert torch.allclose(net(pts)[:, 0], pts[:, 0] * pts[:, 1], rtol=0, atol=1e-15)
    inside = torch.tensor([[0.5, 0.3]])
    assert float((net(inside)[0, 0] - 0.15).abs().detach()) > 1e-6  # not pinned to g away from the faces


def test_what_cannot_be_generated_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="differ from the boundary value"):
        build_model(
            wave(("boundary", "initial"), boundary=0.0).with_options(
                conditions=[Dirichlet(0.3, name="boundary"), Initial(lambda p: torch.sin(PI * p[:, 0]), name="initial")]
            )
        )
    neumann = wave(()).with_options(conditions=[Neumann(0.0, name="flux")], exact=("flux",))
    with pytest.raises(ValueError, match="cannot be imposed exactly"):
        build_model(neumann)
    with pytest.raises(ValueError, match="together with its Initial"):
        build_model(wave(("initial_velocity",)))
    disk = Problem(
        name="disk",
        domain=Disk((0.0, 0.0), 1.0),
        pde=lambda f: f.u(),
        conditions=[Dirichlet(0.0, name="b")],
        exact=("b",),
    )
    with pytest.raises(ValueError, match="only for boxes"):
        build_model(disk)
    with pytest.raises(ValueError, match="are not its conditions"):
        wave(("nope",))


def test_products_and_geodesic_term_with_the_transform() -> None:
    """J v, Jᵀw and r_vv (geodesic acceleration, nested functorch jvp) through the transform on the fast path."""
    problem = wave(("boundary", "initial", "initial_velocity"))
    torch.manual_seed(5)
    net = build_model(problem)
    fast = ResidualAssembler(problem, net, sampler=Sampler("lhs", 2))
    slow = ResidualAssembler(problem, net, sampler=Sampler("lhs", 2), jacobian="generic")
    gen = torch.Generator().manual_seed(3)
    theta = fast.initial_parameters() + 0.2 * torch.randn(fast.n_params, generator=gen)
    v, w = torch.randn(fast.n_params, generator=gen), torch.randn(fast.n_residuals, generator=gen)
    jac = fast.full_jacobian(theta)[1]
    assert torch.allclose(fast.j_times(theta, v), jac @ v, rtol=0, atol=1e-13 * float((jac @ v).abs().max()))
    assert torch.allclose(fast.jt_times(theta, w), jac.T @ w, rtol=0, atol=1e-13 * float((jac.T @ w).abs().max()))
    rvv = slow.second_directional(theta, v)
    assert torch.allclose(fast.second_directional(theta, v), rvv, rtol=0, atol=1e-12 * float(rvv.abs().max()))
