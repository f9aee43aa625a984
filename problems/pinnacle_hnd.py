"""PINNacle HNd: the heat equation on the five-dimensional unit ball, with an exact solution.

    u_t = (1/d) Δu + f,   f(x, t) = −(1/d) |x|² exp(|x|²/2 + t),   |x| ≤ 1 in ℝ⁵ (d = 5), t ∈ [0, 1],
    ∂u/∂n = exp(|x|²/2 + t) on the sphere |x| = 1 (outward normal n = x),
    u(x, 0) = exp(|x|²/2).

Exact solution u = exp(|x|²/2 + t) (on the sphere ∇u·x = |x|²u = u, so the flux is consistent).

Test set as PINNacle builds it: 800 points uniform in the ball (PINNacle draws them from the run seed;
here from a fixed seed, 0) times the 25 instants t = 1 − k/25, k = 0…24 (t = 1 included, t = 0 not):
20 000 points.

Source: PINNacle (Hao et al., arXiv:2306.08827), class ``HeatND`` in ``src/pde/heat.py`` of
``i207M/PINNacle`` at commit 6f8d69c9; PINNacle trains it on 32 768 interior, 8192 boundary and 8192
initial points.
"""

from __future__ import annotations

import numpy as np
import torch

from pinnlma.pinn import Ball, Fields, Initial, Neumann, Problem, Sampler, SpaceTime
from pinnlma.reference.pinnacle import space_points_count, space_time_test_points

DIM = 5
TEST_SEED = 0


def exact(points: torch.Tensor) -> torch.Tensor:
    """u = exp(|x|²/2 + t) for points (N, 6) = (x1 … x5, t)."""
    x, t = points[:, :DIM], points[:, DIM]
    return torch.exp((x * x).sum(dim=1) / 2 + t)


def residual(f: Fields) -> torch.Tensor:
    """(1/d) Δu + f − u_t (PINNacle's sign)."""
    r2 = sum(f.coord(name) ** 2 for name in f.names[:DIM])
    source = -r2 / DIM * torch.exp(r2 / 2 + f.coord("t"))
    return f.laplacian() / DIM + source - f.d("t")


def reference(points: np.ndarray) -> np.ndarray:
    return exact(torch.as_tensor(points, dtype=torch.float64)).numpy()


def test_points(seed: int = TEST_SEED) -> np.ndarray:
    """800 uniform points of the ball × 25 times (PINNacle's rule, a fixed seed)."""
    ball = Ball([0.0] * DIM, 1.0)
    n_space = space_points_count(20000, 2.0**DIM, 1.0)
    space = ball.interior(n_space, Sampler("uniform", seed=seed))
    return space_time_test_points(space, (0.0, 1.0), 20000)


def problem() -> Problem:
    return Problem(
        name="pinnacle_hnd",
        domain=SpaceTime(Ball([0.0] * DIM, 1.0), (0.0, 1.0)),
        pde=residual,
        conditions=[
            Neumann(lambda p: torch.exp(0.5 + p[:, DIM]), where="boundary", name="sphere"),
            Initial(exact, name="initial"),
        ],
        reference=reference,
        eval_points=test_points(),
        n_interior=2000,
        n_boundary=1000,
        model={"width": 20, "depth": 2, "activation": "sin"},
        run={"iters": 1500, "time_limit": 540},
        quick={"n_interior": 200, "n_boundary": 100, "model": {"width": 8, "depth": 2}, "run": {"iters": 8}},
        description=__doc__,
    )
