"""The paper's data-driven case through ``LevenbergMarquardt``: sinc(10x), 20000 points, 1–20–1 tanh."""

from __future__ import annotations

import torch
from torch import nn

import pinnlma


def test_sinc_fit_reaches_1e8_mse_in_float64() -> None:
    torch.manual_seed(0)
    x = torch.linspace(-1, 1, 20000, dtype=torch.float64).unsqueeze(1)
    y = torch.sinc(10 * x)  # torch.sinc(z) = sin(πz)/(πz)
    net = nn.Sequential(nn.Linear(1, 20), nn.Tanh(), nn.Linear(20, 1)).double()
    assert sum(p.numel() for p in net.parameters()) == 61
    lm = pinnlma.LevenbergMarquardt(net, lambda model, a, b: (model(a) - b).reshape(-1), rowwise=True)
    mse = float("inf")
    for _ in range(600):
        lm.step(x, y)
        with torch.no_grad():
            mse = float(((net(x) - y) ** 2).mean())
        if mse <= 1e-8:
            break
    assert mse <= 1e-8, f"full-data MSE {mse:.3e} after {lm.core.state.iteration} iterations"
    assert lm.engine.plan.strategy == "rowwise"
