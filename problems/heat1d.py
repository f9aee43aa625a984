"""Heat equation u_t = α u_xx on [0, 1] × [0, 1], exact solution: two decaying sine modes.

    u_t = α u_xx,   x ∈ [0, 1], t ∈ [0, 1],   α = 0.1,
    u(0, x) = sin(πx) + ½ sin(3πx),   u(t, 0) = u(t, 1) = 0.

Exact solution (separation of variables):

    u(t, x) = e^{−απ²t} sin(πx) + ½ e^{−9απ²t} sin(3πx).

The boundary and initial blocks are weighted 100 (their errors otherwise limit the accuracy).

Reference: the exact u above.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Dirichlet, Fields, Initial, Interval, Problem, SpaceTime

ALPHA = 0.1
PI = math.pi


def exact(points: torch.Tensor) -> torch.Tensor:
    """u(t, x) for points (N, 2), columns x, t."""
    x, t = points[:, 0], points[:, 1]
    return torch.exp(-ALPHA * PI**2 * t) * torch.sin(PI * x) + 0.5 * torch.exp(-9 * ALPHA * PI**2 * t) * torch.sin(
        3 * PI * x
    )


def residual(f: Fields) -> torch.Tensor:
    """u_t − α u_xx."""
    return f.d("t") - f.param("alpha") * f.d("x", "x")


def reference(points: np.ndarray) -> np.ndarray:
    return exact(torch.as_tensor(points, dtype=torch.float64)).numpy()


def problem() -> Problem:
    return Problem(
        name="heat1d",
        domain=SpaceTime(Interval(0.0, 1.0, name="x"), (0.0, 1.0)),
        pde=residual,
        conditions=[
            Dirichlet(0.0, name="boundary"),
            Initial(exact, name="initial"),
        ],
        parameters={"alpha": ALPHA},
        reference=reference,
        eval_grid=(101, 101),
        n_interior=2000,
        n_boundary=200,
        weights={"boundary": 100.0, "initial": 100.0},
        model={"width": 20, "depth": 3},
        run={"iters": 400, "time_limit": 300},
        quick={"n_interior": 200, "n_boundary": 50, "model": {"width": 10, "depth": 2}, "run": {"iters": 20}},
        description=__doc__,
    )
