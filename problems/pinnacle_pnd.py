"""PINNacle PNd: Poisson's equation in five dimensions with an exact solution.

    Δu + (π²/4) Σ_{i=1..5} sin(π x_i / 2) = 0,   x ∈ [0, 1]⁵,
    u = Σ_i sin(π x_i / 2) on all ten faces.

Exact solution u = Σ_{i=1..5} sin(π x_i / 2). Test set as PINNacle measures it: the grid rule of
``uniform_points(20000)`` gives 8 nodes per axis at k/9, so 8⁵ = 32 768 points (‖u‖_rms ≈ 3.316).

Source: PINNacle (Hao et al., arXiv:2306.08827), class ``PoissonND`` in ``src/pde/poisson.py`` of
``i207M/PINNacle`` at commit 6f8d69c9; PINNacle trains it on 32 768 interior and 8192 boundary points.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Dirichlet, Fields, Hypercube, Problem
from pinnlma.reference.pinnacle import box_test_points

DIM = 5
PI = math.pi


def exact(points: torch.Tensor) -> torch.Tensor:
    """u = Σ_i sin(π x_i / 2)."""
    return torch.sin(PI * points / 2).sum(dim=1)


def residual(f: Fields) -> torch.Tensor:
    """Δu + (π²/4) Σ_i sin(π x_i / 2)."""
    source = sum(torch.sin(PI * f.coord(name) / 2) for name in f.names)
    return f.laplacian() + PI**2 / 4 * source


def reference(points: np.ndarray) -> np.ndarray:
    return exact(torch.as_tensor(points, dtype=torch.float64)).numpy()


def problem() -> Problem:
    domain = Hypercube(DIM)
    return Problem(
        name="pinnacle_pnd",
        domain=domain,
        pde=residual,
        conditions=[Dirichlet(exact, name="boundary")],
        reference=reference,
        eval_points=box_test_points(domain.bounds, 20000),
        n_interior=2000,
        n_boundary=1000,
        model={"width": 20, "depth": 2, "activation": "sin"},
        run={"iters": 1200, "time_limit": 540},
        quick={"n_interior": 200, "n_boundary": 100, "model": {"width": 8, "depth": 2}, "run": {"iters": 8}},
        description=__doc__,
    )
