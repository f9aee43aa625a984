"""Input embeddings: ∂^α φ against autograd, the fast Jacobian against the generic path, exact periodicity
and mirror symmetry, the periodic blocks leaving the residual, and the settings' parsing and errors."""

from __future__ import annotations

import math

import pytest
import torch

from pinnlma.pinn import MLP, Fields, Initial, Interval, Periodic, Problem, ResidualAssembler, Sampler, SpaceTime
from pinnlma.pinn.channels import ChannelForward, close_channels
from pinnlma.pinn.embeddings import FeatureMap, parse_embedding
from pinnlma.pinn.setup import build_model

pytestmark = pytest.mark.usefixtures("float64_default")

BOUNDS = [(-1.0, 3.0), (0.5, 2.0)]  # x periodic with period 4, t plain


def kdv_like(**model: object) -> Problem:
    """u_t + u u_x + 0.01 u_xxx (third order), periodic blocks of orders 0 to 2, an initial value."""

    def pde(f: Fields) -> torch.Tensor:
        return f.d("t") + f.u() * f.d("x") + 0.01 * f.d("x", "x", "x")

    return Problem(
        name="kdv_like",
        domain=SpaceTime(Interval(-1.0, 3.0, name="x"), (0.5, 2.0)),
        pde=pde,
        conditions=[
            Initial(lambda p: torch.cos(math.pi * p[:, 0] / 2), name="initial"),
            Periodic("x", name="periodic"),
            Periodic("x", order=1, name="periodic_x"),
            Periodic("x", order=2, name="periodic_xx"),
        ],
        n_interior=40,
        n_boundary=12,
        model={"width": 6, "depth": 2, **model},
    )


@pytest.mark.parametrize(
    "periodic, fourier",
    [({"x": 3}, None), (None, {"features": 4, "scale": 2.0, "seed": 5}), ({"x": 2}, {"features": 3, "scale": 1.0})],
)
def test_feature_channels_match_autograd(periodic: dict | None, fourier: dict | None) -> None:
    _check_channels(FeatureMap(BOUNDS, ("x", "t"), periodic, fourier))


def test_even_feature_channels_match_autograd() -> None:
    fm = FeatureMap(BOUNDS, ("x", "t"), {"x": 3}, {"features": 2, "scale": 1.0}, even=["x"])
    assert fm.n_features == 3 + 1 + 2 * 2  # three cosines, the scaled t, two Fourier pairs
    _check_channels(fm)


def _check_channels(fm: FeatureMap) -> None:
    x = (torch.rand(9, 2) * torch.tensor([4.0, 1.5]) + torch.tensor([-1.0, 0.5])).requires_grad_(True)
    phi = fm(x)
    for alpha in [(0,), (1,), (0, 0), (0, 1), (1, 1), (0, 0, 0), (0, 0, 1), (1, 1, 1)]:
        expected = []
        for j in range(fm.n_features):
            g = phi[:, j]
            for k in alpha:
                g = torch.autograd.grad(g.sum(), x, create_graph=True, allow_unused=True)[0]
                g = torch.zeros(len(x)) if g is None else g[:, k]
            expected.append(g)
        got = fm.channel(x.detach(), alpha)
        assert torch.allclose(got, torch.stack(expected, 1), rtol=1e-13, atol=1e-13), alpha


@pytest.mark.parametrize(
    "embedding",
    [
        {"periodic": {"x": 2}},
        {"fourier": {"features": 5, "scale": 3.0}},
        {"periodic": {"x": 1}, "fourier": {"features": 4, "scale": 1.0, "seed": 2}},
        {"periodic": {"x": 2}, "even": ["x"]},
    ],
)
def test_fast_jacobian_equals_generic_with_embeddings(embedding: dict) -> None:
    problem = kdv_like(embedding=embedding)
    torch.manual_seed(3)
    net = build_model(problem)
    fast = ResidualAssembler(problem, net, sampler=Sampler("lhs", 1))
    slow = ResidualAssembler(problem, net, sampler=Sampler("lhs", 1), jacobian="generic")
    assert fast.jacobian == "channels"
    theta = fast.initial_parameters() + 0.2 * torch.randn(fast.n_params)
    r_fast, j_fast = fast.full_jacobian(theta)
    r_slow, j_slow = slow.full_jacobian(theta)
    assert j_fast.shape == (fast.n_residuals, fast.n_params)
    assert torch.allclose(r_fast, r_slow, rtol=0, atol=1e-13 * float(r_slow.abs().max()))
    assert torch.allclose(j_fast, j_slow, rtol=0, atol=1e-13 * float(j_slow.abs().max()))


def test_periodic_embedding_is_periodic_to_rounding_and_drops_the_periodic_blocks() -> None:
    problem = kdv_like(embedding={"periodic": {"x": 2}, "fourier": {"features": 3, "scale": 1.0}})
    torch.manual_seed(0)
    net = build_model(problem)
    t = torch.linspace(0.5, 2.0, 17)
    low = torch.stack([torch.full_like(t, -1.0), t], 1)
    high = torch.stack([torch.full_like(t, 3.0), t], 1)
    channels = close_channels([(0, 0, 0), (1,)])
    forward = ChannelForward(net, channels)
    params = list(net.parameters())
    out_low, out_high = forward(low, params)[0].detach(), forward(high, params)[0].detach()
    scale = float(out_low.abs().max())
    assert float((out_low - out_high).abs().max()) <= 1e-14 * scale  # u, u_x, u_xx, u_xxx and u_t match
    shifted = low + torch.tensor([4.0 * 7, 0.0])  # seven periods on
    assert float((net(low) - net(shifted)).detach().abs().max()) <= 1e-13
    with_embedding = ResidualAssembler(problem, net)
    assert [b.name for b in with_embedding.blocks] == ["pde", "initial"]
    plain = ResidualAssembler(problem, MLP(2, 1, width=6, depth=2, input_range=BOUNDS))
    assert [b.name for b in plain.blocks] == ["pde", "initial", "periodic", "periodic_x", "periodic_xx"]


def test_even_embedding_is_mirror_symmetric_and_periodic_to_rounding() -> None:
    """u(lo + s) = u(lo − s) and u(c + s) = u(c − s) about the midpoint c, with the period kept."""
    problem = kdv_like(embedding={"periodic": {"x": 2}, "even": ["x"], "fourier": {"features": 3, "scale": 1.0}})
    torch.manual_seed(1)
    net = build_model(problem)
    s = torch.rand(23, 1) * 2.0
    t = torch.rand(23, 1) * 1.5 + 0.5
    for centre in (-1.0, 1.0):
        left, right = torch.cat([centre - s, t], 1), torch.cat([centre + s, t], 1)
        assert float((net(left) - net(right)).detach().abs().max()) <= 1e-14
    assert float((net(left) - net(left + torch.tensor([4.0, 0.0]))).detach().abs().max()) <= 1e-13
    plain = build_model(kdv_like(embedding={"periodic": {"x": 2}}))
    gap = plain(torch.cat([-1.0 - s, t], 1)) - plain(torch.cat([-1.0 + s, t], 1))
    assert float(gap.detach().abs().max()) > 1e-3  # without even, not symmetric: the check above can fail


def test_fourier_features_are_seeded() -> None:
    a = FeatureMap(BOUNDS, ("x", "t"), fourier={"features": 4, "scale": 2.0, "seed": 1})
    b = FeatureMap(BOUNDS, ("x", "t"), fourier={"features": 4, "scale": 2.0, "seed": 1})
    c = FeatureMap(BOUNDS, ("x", "t"), fourier={"features": 4, "scale": 2.0, "seed": 2})
    assert torch.equal(a.fourier_matrix, b.fourier_matrix) and not torch.equal(a.fourier_matrix, c.fourier_matrix)
    assert a.fourier_matrix.std() == pytest.approx(2.0, rel=0.6)


def test_embedding_settings_parse_and_errors() -> None:
    assert parse_embedding("none") == {}
    assert parse_embedding("periodic=x:2,fourier=32:1.5") == {
        "periodic": {"x": 2},
        "fourier": {"features": 32, "scale": 1.5},
    }
    assert parse_embedding("periodic=x;y,fourier=8:1:7") == {
        "periodic": {"x": 1, "y": 1},
        "fourier": {"features": 8, "scale": 1.0, "seed": 7},
    }
    assert parse_embedding("periodic=x,even=x") == {"periodic": {"x": 1}, "even": ["x"]}
    with pytest.raises(ValueError, match="only a periodic coordinate can be even"):
        FeatureMap(BOUNDS, ("x", "t"), periodic={"x": 1}, even=["t"])
    with pytest.raises(ValueError, match="give periodic coordinate names"):
        parse_embedding("even=")
    with pytest.raises(ValueError, match="KIND one of periodic, even, fourier"):
        parse_embedding("wavelet=3")
    with pytest.raises(ValueError, match="FEATURES:SCALE"):
        parse_embedding("fourier=32")
    with pytest.raises(ValueError, match="coordinates are x, t"):
        FeatureMap(BOUNDS, ("x", "t"), periodic={"z": 1})
    with pytest.raises(ValueError, match="scale > 0"):
        FeatureMap(BOUNDS, ("x", "t"), fourier={"features": 4, "scale": 0.0})
    with pytest.raises(ValueError, match="unknown embedding kinds"):
        build_model(kdv_like(embedding={"spline": {}}))
