"""A test problem on a disk with an off-centre hole: −Δu = f with the manufactured solution

    u(x, y) = sin(πx)·sin(πy) + x·y,      f = −Δu = 2π² sin(πx) sin(πy),

Dirichlet data u = g on the outer circle (part "outer") and the Robin condition u + ∂u/∂n = h on the
hole's circle (part "hole"), where n points into the hole (out of the domain): n = −(x − c)/r, so
h = u − ∇u·(x − c)/r. A wrong normal on the cut circle gives a wrong solution.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Dirichlet, Disk, Fields, Problem, Robin

PI = math.pi
HOLE_CENTER, HOLE_RADIUS = (0.2, 0.1), 0.35


def exact(points: torch.Tensor) -> torch.Tensor:
    x, y = points[:, 0], points[:, 1]
    return torch.sin(PI * x) * torch.sin(PI * y) + x * y


def gradient(points: torch.Tensor) -> torch.Tensor:
    x, y = points[:, 0], points[:, 1]
    ux = PI * torch.cos(PI * x) * torch.sin(PI * y) + y
    uy = PI * torch.sin(PI * x) * torch.cos(PI * y) + x
    return torch.stack([ux, uy], dim=1)


def robin_data(points: torch.Tensor) -> torch.Tensor:
    """u + ∂u/∂n with n = −(x − c)/r, the outward normal of the domain on the hole's circle."""
    normal = -(points - torch.tensor(HOLE_CENTER, dtype=points.dtype)) / HOLE_RADIUS
    return exact(points) + (gradient(points) * normal).sum(dim=1)


def residual(f: Fields) -> torch.Tensor:
    x, y = f.coord("x"), f.coord("y")
    return -f.laplacian() - 2 * PI**2 * torch.sin(PI * x) * torch.sin(PI * y)


def reference(points: np.ndarray) -> np.ndarray:
    return exact(torch.as_tensor(points, dtype=torch.float64)).numpy()


def problem() -> Problem:
    domain = Disk((0.0, 0.0), 1.0, boundary="outer") - Disk(HOLE_CENTER, HOLE_RADIUS, boundary="hole")
    return Problem(
        name="annulus_robin",
        domain=domain,
        pde=residual,
        conditions=[Dirichlet(exact, where="outer", name="outer"),
                    Robin(a=1.0, b=1.0, value=robin_data, where="hole", name="hole")],
        reference=reference,
        eval_grid=(81, 81),
        n_interior=400,
        n_boundary=120,
        weights={"outer": 10.0, "hole": 10.0},
        model={"width": 20, "depth": 2},
        run={"iters": 150},
        quick={"n_interior": 300, "n_boundary": 80, "run": {"iters": 60}},
    )
