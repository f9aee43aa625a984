"""Poisson equation −Δu = f on the unit square, manufactured smooth solution, Dirichlet data.

    −(u_xx + u_yy) = f(x, y),   (x, y) ∈ [0, 1]²,     u = g on the boundary,

with the manufactured solution

    u(x, y) = sin(πx) sin(2πy) + ½ x e^y,

so f = 5π² sin(πx) sin(2πy) − ½ x e^y (the harmonic-free part x e^y has Δ(x e^y) = x e^y) and the
boundary values g = u|∂Ω are not zero (u = ½ x e^y on the faces y = 0, 1 and x = 1; u = 0 on x = 0).

The boundary block is weighted 100: with equal weights the boundary error limits the accuracy
(≈1e-4 after 260 iterations instead of ≈2e-6 after 500).

Reference: the exact u above.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Box, Dirichlet, Fields, Problem

PI = math.pi


def exact(points: torch.Tensor) -> torch.Tensor:
    """u(x, y) for points (N, 2)."""
    x, y = points[:, 0], points[:, 1]
    return torch.sin(PI * x) * torch.sin(2 * PI * y) + 0.5 * x * torch.exp(y)


def source(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """f = −Δu."""
    return 5 * PI**2 * torch.sin(PI * x) * torch.sin(2 * PI * y) - 0.5 * x * torch.exp(y)


def residual(f: Fields) -> torch.Tensor:
    """−Δu − f."""
    return -f.laplacian() - source(f.coord("x"), f.coord("y"))


def reference(points: np.ndarray) -> np.ndarray:
    return exact(torch.as_tensor(points, dtype=torch.float64)).numpy()


def problem() -> Problem:
    return Problem(
        name="poisson2d",
        domain=Box([(0.0, 1.0), (0.0, 1.0)], names=("x", "y")),
        pde=residual,
        conditions=[Dirichlet(exact, name="boundary")],
        reference=reference,
        eval_grid=(101, 101),
        n_interior=2000,
        n_boundary=400,
        weights={"boundary": 100.0},
        model={"width": 20, "depth": 3},
        run={"iters": 500, "time_limit": 300},
        quick={"n_interior": 200, "n_boundary": 80, "model": {"width": 10, "depth": 2}, "run": {"iters": 20}},
        description=__doc__,
    )
