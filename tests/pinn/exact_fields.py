"""Shared by PINN-layer tests: exact fields as a "network", and the raw residual rows they leave per block."""

from __future__ import annotations

import torch
from torch import nn

from pinnlma.pinn import Problem, ResidualAssembler
from pinnlma.pinn.sampling import Sampler


class Exact(nn.Module):
    """A "network" that returns given exact functions of the points (times a parameter fixed at 1)."""

    def __init__(self, *functions) -> None:
        super().__init__()
        self.functions = functions
        self.scale = nn.Parameter(torch.ones((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * torch.stack([f(x) for f in self.functions], dim=-1)


def block_rows(problem: Problem, model: nn.Module, seed: int = 1) -> dict[str, torch.Tensor]:
    """The raw (unscaled) residual rows of every block at the model's parameters, on LHS points of ``seed``."""
    a = ResidualAssembler(problem, model, sampler=Sampler("lhs", seed=seed), jacobian="generic")
    r = a.residual(a.initial_parameters()).detach()
    return {b.name: r[sl] / b.scale for b, sl in zip(a.blocks, a.block_slices().values())}
