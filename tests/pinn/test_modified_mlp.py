"""The modified MLP (Wang, Teng & Perdikaris 2021): its forward against the paper's formulas written out, its
derivative channels against autograd, and its exact channel Jacobian against the generic ``vmap(jacrev)``
path, alone and with a periodic embedding and an exact initial value."""

from __future__ import annotations

import pytest
import torch

from pinnlma.pinn.models import MLP
from pinnlma.pinn.registry import apply_options, load_problem
from pinnlma.pinn.setup import build_assembler
from tests.pinn.channel_checks import assert_channels_match_autograd

pytestmark = pytest.mark.usefixtures("float64_default")


def test_forward_is_the_papers_formula() -> None:
    torch.manual_seed(0)
    net = MLP(2, 1, width=6, depth=3, arch="modified", input_range=[(0.0, 2.0), (-1.0, 1.0)])
    plain = MLP(2, 1, width=6, depth=3, input_range=[(0.0, 2.0), (-1.0, 1.0)])
    assert net.n_params == plain.n_params + 2 * (2 * 6 + 6)
    x = torch.rand(9, 2)
    (w1, b1), (w2, b2), (w3, b3), (wo, bo) = [(layer.weight, layer.bias) for layer in net.linears]
    (wu, bu), (wv, bv) = [(layer.weight, layer.bias) for layer in net.encoders]
    h0 = x * net.input_scale + net.input_shift
    u, v = torch.tanh(h0 @ wu.T + bu), torch.tanh(h0 @ wv.T + bv)
    h = torch.tanh(h0 @ w1.T + b1)
    for w, b in ((w2, b2), (w3, b3)):
        z = torch.tanh(h @ w.T + b)
        h = (1 - z) * u + z * v
    assert torch.allclose(net(x), h @ wo.T + bo, rtol=1e-15, atol=1e-15)
    names = [n for n, _ in net.named_parameters()]
    assert names[-4:] == ["encoders.0.weight", "encoders.0.bias", "encoders.1.weight", "encoders.1.bias"]


@pytest.mark.parametrize("activation", ["tanh", "sin", "sigmoid"])
def test_derivative_channels_match_autograd(activation: str) -> None:
    torch.manual_seed(1)
    net = MLP(2, 2, width=5, depth=3, activation=activation, arch="modified", input_range=[(0, 3), (-1, 2)])
    _, pre, acts, _ = assert_channels_match_autograd(net, torch.rand(7, 2))
    assert len(pre) == len(acts) == len(net.linears) + 2  # one (pre-activation, input) pair per linear layer


@pytest.mark.parametrize(
    "name, model",
    [
        ("allen_cahn", {"arch": "modified", "width": 8, "depth": 3, "embedding": {}}),  # soft periodic blocks
        ("allen_cahn", {"arch": "modified", "width": 6, "depth": 2}),  # the default periodic embedding
        ("kdv", {"arch": "modified", "width": 6, "depth": 3}),  # third derivatives, exact initial value
        ("burgers_inverse", {"arch": "modified", "width": 6, "depth": 2}),  # an unknown coefficient column
    ],
)
def test_channel_jacobian_equals_the_generic_path(name: str, model: dict) -> None:
    problem = apply_options(load_problem(name), quick=True)
    problem = problem.with_options(model={**problem.model, **model}, n_interior=60, n_boundary=20)
    fast = build_assembler(problem, seed=2, jacobian="channels")
    slow = build_assembler(problem, seed=2, jacobian="generic")
    assert fast.jacobian == "channels" and build_assembler(problem, seed=2).jacobian == "channels"  # auto
    theta = fast.initial_parameters() + 0.2 * torch.randn(fast.n_params, generator=torch.Generator().manual_seed(3))
    (r_fast, j_fast), (r_slow, j_slow) = fast.full_jacobian(theta), slow.full_jacobian(theta)
    assert float((r_fast - r_slow).abs().max()) <= 1e-12 * float(r_slow.abs().max())
    assert float((j_fast - j_slow).abs().max()) <= 1e-12 * float(j_slow.abs().max())


def test_bad_architectures_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'gated'; choose one of plain, modified"):
        MLP(2, 1, arch="gated")
    with pytest.raises(ValueError, match="at least 2 hidden layers of one width"):
        MLP(2, 1, widths=[8, 6], arch="modified")
    with pytest.raises(ValueError, match="at least 2 hidden layers of one width"):
        MLP(2, 1, depth=1, arch="modified")
