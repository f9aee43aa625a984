"""Helmholtz equation Δu + k²u = q on [−1, 1]², the manufactured sin(πx) sin(4πy) benchmark.

    u_xx + u_yy + k² u = q(x, y),   (x, y) ∈ [−1, 1]²,   u = 0 on the boundary,

with the manufactured solution of the PINN failure-mode literature (Wang, Teng & Perdikaris 2021;
McClenny & Braga-Neto 2023)

    u(x, y) = sin(a₁πx) sin(a₂πy),   a₁ = 1, a₂ = 4, k = 1,
    q(x, y) = (k² − (a₁² + a₂²)π²) sin(a₁πx) sin(a₂πy).

Four wavelengths in y make this stiff for first-order optimizers (gradient imbalance between the
PDE and boundary terms); the boundary block is weighted 100 here.

Reference: the exact u above.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Box, Dirichlet, Fields, Problem

A1, A2, K = 1.0, 4.0, 1.0
PI = math.pi


def exact(points: torch.Tensor) -> torch.Tensor:
    """u(x, y) for points (N, 2)."""
    return torch.sin(A1 * PI * points[:, 0]) * torch.sin(A2 * PI * points[:, 1])


def forcing(x: torch.Tensor, y: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """q = Δu + k²u for the exact u."""
    return (k**2 - (A1**2 + A2**2) * PI**2) * torch.sin(A1 * PI * x) * torch.sin(A2 * PI * y)


def residual(f: Fields) -> torch.Tensor:
    """u_xx + u_yy + k²u − q."""
    k = f.param("k")
    return f.laplacian() + k**2 * f.u() - forcing(f.coord("x"), f.coord("y"), k)


def reference(points: np.ndarray) -> np.ndarray:
    return exact(torch.as_tensor(points, dtype=torch.float64)).numpy()


def problem() -> Problem:
    return Problem(
        name="helmholtz2d",
        domain=Box([(-1.0, 1.0), (-1.0, 1.0)], names=("x", "y")),
        pde=residual,
        conditions=[Dirichlet(0.0, name="boundary")],
        parameters={"k": K},
        reference=reference,
        eval_grid=(101, 101),
        n_interior=2500,
        n_boundary=400,
        weights={"boundary": 100.0},
        model={"width": 20, "depth": 3},
        run={"iters": 500, "time_limit": 300},
        quick={"n_interior": 200, "n_boundary": 80, "model": {"width": 10, "depth": 2}, "run": {"iters": 10}},
        description=__doc__,
    )
