"""Loss-to-residual wrappers (pinnlma.lm.losses): ½‖r‖² equals the summed torch loss, the exact row
Jacobian equals vmap(jacrev) of the residual, and LM lowers each loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, jacrev, vmap

import pinnlma
from pinnlma import losses

DT = torch.float64
N, K = 40, 3


def _data(kind: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, 2, generator=g, dtype=DT)
    if kind == "class":
        return x, torch.randint(0, K, (N,), generator=g), torch.rand(N, generator=g, dtype=DT)
    if kind == "binary":
        return x, torch.randint(0, 2, (N, K), generator=g).double(), torch.rand(N, generator=g, dtype=DT)
    return x, 2 * torch.randn(N, K, generator=g, dtype=DT), torch.rand(N, generator=g, dtype=DT)


def _net(seed: int = 0, sigmoid: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Linear(2, 7), nn.Tanh(), nn.Linear(7, K)] + ([nn.Sigmoid()] if sigmoid else [])
    return nn.Sequential(*layers).double()


# (loss, data kind, sigmoid output, the torch loss with reduction='sum' or None where there is none)
CASES = {
    "mse": (losses.MSE(), "reg", False, lambda o, t: F.mse_loss(o, t, reduction="sum")),
    "huber": (losses.Huber(0.7), "reg", False, lambda o, t: F.huber_loss(o, t, delta=0.7, reduction="sum")),
    "pseudo_huber": (
        losses.PseudoHuber(0.5),
        "reg",
        False,
        lambda o, t: (0.25 * (torch.sqrt(1 + ((o - t) / 0.5) ** 2) - 1)).sum(),
    ),
    "l1": (losses.L1(0.01), "reg", False, lambda o, t: (0.01 * (torch.sqrt(1 + ((o - t) / 0.01) ** 2) - 1)).sum()),
    "cross_entropy": (losses.CrossEntropy(), "class", False, lambda o, t: F.cross_entropy(o, t, reduction="sum")),
    "bce": (losses.BCE(), "binary", True, lambda o, t: F.binary_cross_entropy(o, t, reduction="sum")),
    "bce_with_logits": (
        losses.BCEWithLogits(),
        "binary",
        False,
        lambda o, t: F.binary_cross_entropy_with_logits(o, t, reduction="sum"),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_half_squared_residual_is_the_summed_loss(name: str) -> None:
    loss, kind, sigmoid, reference = CASES[name]
    x, y, w = _data(kind)
    with torch.no_grad():
        out = _net(sigmoid=sigmoid)(x)
    r = loss.residuals(out, y)
    assert r.ndim == 1 and r.shape[0] == (N if kind == "class" else N * K)
    assert math.isclose(0.5 * float(r @ r), float(reference(out, y)), rel_tol=1e-12)
    assert math.isclose(
        float(loss(out, y)), float(reference(out, y)) / (N if kind == "class" else N * K), rel_tol=1e-12
    )
    # weighted samples: ½‖r·√w‖² = Σ_i w_i ℓ_i
    rw = loss.residuals(out, y, w)
    per_row = loss.elementwise(out, y).reshape(N, -1).sum(1)
    assert math.isclose(0.5 * float(rw @ rw), float((w * per_row).sum()), rel_tol=1e-12)


def test_smooth_l1_is_within_delta_of_the_absolute_error() -> None:
    x, y, _ = _data("reg")
    with torch.no_grad():
        out = _net()(x)
    smooth = losses.L1(1e-3).elementwise(out, y)
    exact = (out - y).abs()
    assert bool((smooth <= exact).all()) and bool((smooth >= exact - 1e-3).all())


def _row_jacobian_reference(
    net: nn.Module, loss: losses.Loss, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor
) -> torch.Tensor:
    params = {k: v.detach() for k, v in net.named_parameters()}
    names = list(params)
    flat = torch.cat([v.reshape(-1) for v in params.values()])

    def one_row(theta: torch.Tensor, xi: torch.Tensor, yi: torch.Tensor, wi: torch.Tensor) -> torch.Tensor:
        chunks, start = {}, 0
        for n in names:
            chunks[n] = theta[start : start + params[n].numel()].view_as(params[n])
            start += params[n].numel()
        out = functional_call(net, chunks, (xi.unsqueeze(0),))
        return loss.residuals(out, yi.unsqueeze(0), wi.unsqueeze(0))

    jac = vmap(jacrev(one_row), in_dims=(None, 0, 0, 0))(flat, x, y, w)
    return jac.reshape(-1, flat.numel())


@pytest.mark.parametrize("name", CASES)
def test_the_exact_row_jacobian_matches_vmap_jacrev(name: str) -> None:
    loss, kind, sigmoid, _ = CASES[name]
    x, y, w = _data(kind, seed=1)
    net = _net(seed=1, sigmoid=sigmoid)
    lm = pinnlma.LevenbergMarquardt(net, loss=loss)
    assert lm.engine.row_jacobian is not None
    lm.step(x, y, w)  # binds the batch; the model holds the new parameters
    r, jac = lm.engine.full(lm.core.state.x)
    assert lm.engine.row_jacobian is not None, lm.row_jacobian_note  # survived the one-time check
    reference = _row_jacobian_reference(net, loss, x, y, w)
    assert torch.allclose(jac, reference, rtol=1e-12, atol=1e-12 * float(reference.abs().max()))
    with torch.no_grad():
        assert torch.allclose(r, loss.residuals(net(x), y, w), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", CASES)
def test_lm_lowers_each_loss(name: str) -> None:
    loss, kind, sigmoid, reference = CASES[name]
    x, y, _ = _data(kind, seed=2)
    net = _net(seed=2, sigmoid=sigmoid)
    with torch.no_grad():
        before = float(reference(net(x), y))
    lm = pinnlma.LevenbergMarquardt(net, loss=loss)
    for _ in range(20):
        info = lm.step(x, y)
    with torch.no_grad():
        after = float(reference(net(x), y))
    assert after < 0.8 * before
    assert math.isclose(info.cost, after, rel_tol=1e-9)


def test_a_perfectly_classified_sample_has_a_finite_zero_gradient() -> None:
    logits = torch.tensor([[1000.0, 0.0, 0.0], [0.3, 0.1, -0.2]], dtype=DT, requires_grad=True)
    r = losses.CrossEntropy().residuals(logits, torch.tensor([0, 2]))
    assert float(r[0].detach()) == 0.0
    (grad,) = torch.autograd.grad(r.sum(), logits)
    assert bool(torch.isfinite(grad).all()) and bool((grad[0] == 0).all())
    naive = torch.sqrt(2 * F.cross_entropy(logits, torch.tensor([0, 2]), reduction="none"))
    (naive_grad,) = torch.autograd.grad(naive.sum(), logits)
    assert not bool(torch.isfinite(naive_grad[0]).all())  # what the safe root avoids


def test_bad_input_is_refused_clearly() -> None:
    net = _net()
    with pytest.raises(TypeError, match="either residual_fn"):
        pinnlma.LevenbergMarquardt(net)
    with pytest.raises(TypeError, match="not both"):
        pinnlma.LevenbergMarquardt(net, lambda m, a, b: m(a) - b, loss="mse")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        pinnlma.LevenbergMarquardt(net, loss="hinge")
    out = net(torch.zeros(4, 2, dtype=DT))
    with pytest.raises(ValueError, match="weights of shape"):
        losses.MSE().residuals(out, torch.zeros(4, K, dtype=DT), torch.ones(5, dtype=DT))
    with pytest.raises(ValueError, match="must match"):
        losses.MSE().residuals(out, torch.zeros(4, 2, dtype=DT))
    with pytest.raises(ValueError, match="delta must be positive"):
        losses.Huber(0.0)
