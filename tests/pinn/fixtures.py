"""A PINN layer fixture with a known solution: u = a·sin(x)·cos(t) on [0, 1]², rows read back per block."""

from __future__ import annotations

import torch
from torch import nn

from pinnlma.pinn import (
    Interval,
    Problem,
    ResidualAssembler,
    Sampler,
    SpaceTime,
)


class Known(nn.Module):
    """u(x, t) = a · sin(x) · cos(t) with a trainable amplitude a."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(2.0))

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return (self.a * torch.sin(p[:, 0]) * torch.cos(p[:, 1])).unsqueeze(1)


def known_problem(conditions: list, pde=None) -> Problem:
    return Problem(
        name="known",
        domain=SpaceTime(Interval(0.0, 1.0), (0.0, 1.0)),
        pde=pde,
        conditions=conditions,
        n_interior=16,
        n_boundary=10,
        eval_grid=(5, 5),
    )


def rows_of(problem: Problem, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    a = ResidualAssembler(problem, Known(), sampler=Sampler("uniform", 1))
    theta = a.initial_parameters()
    r = a.residual(theta)
    block = next(b for b in a.blocks if b.name == name)
    return r[a.block_slices()[name]] / block.scale, block.groups[0]
