"""Small least-squares problems shared by the LM and backend tests."""

from __future__ import annotations

import torch


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def exp_data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 4, n)
    y = 2.5 * torch.exp(-1.3 * t) + 0.5 + 1e-3 * torch.randn(n, generator=g)
    return t, y


def exp_model(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return x[0] * torch.exp(-x[1] * t) + x[2] - y


# -- system forms and slices -----------------------------------------------------------------------------
def random_system(m: int, n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(m, n, generator=g), torch.randn(m, generator=g)


def mlp(width: int = 6, outputs: int = 1, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(1, width), torch.nn.Tanh(), torch.nn.Linear(width, outputs)).double()


def fit_residual(model: torch.nn.Module, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (model(a) - b).reshape(-1)
