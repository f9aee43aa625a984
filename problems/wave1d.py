"""Wave equation u_tt = c² u_xx on [0, 1] × [0, 1], exact standing-wave solution.

    u_tt = c² u_xx,   x ∈ [0, 1], t ∈ [0, 1],   c = 1,
    u(0, x) = sin(πx),   u_t(0, x) = (3πc/2) sin(3πx),   u(t, 0) = u(t, 1) = 0.

Exact solution (two standing modes, one started from displacement, one from velocity):

    u(t, x) = sin(πx) cos(πct) + ½ sin(3πx) sin(3πct).

The boundary and initial blocks are weighted 100 (their errors otherwise limit the accuracy).

Defaults: 3000 LM iterations (at most 400 s). Measured (``pinnlma run wave1d --iters 1000000 --time-limit 1800
--seed 0``, one torch thread beside another one-thread run on the 2-core machine, 2026-12-01): rel. L2 4.9e−5
after 466 iterations (60 s), 1e−5 first at iteration 1655 (212 s), 5.7e−6 at 2337 (300 s), 2.0e−6 at 4781
(10 min), 2.3e−7 at 14 925 (30 min). The earlier default of 500 iterations stopped at about 4e−5.

Reference: the exact u above.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Dirichlet, Fields, Initial, InitialVelocity, Interval, Problem, SpaceTime

C = 1.0
PI = math.pi


def exact(points: torch.Tensor) -> torch.Tensor:
    """u(t, x) for points (N, 2), columns x, t."""
    x, t = points[:, 0], points[:, 1]
    return torch.sin(PI * x) * torch.cos(PI * C * t) + 0.5 * torch.sin(3 * PI * x) * torch.sin(3 * PI * C * t)


def initial_velocity(points: torch.Tensor) -> torch.Tensor:
    """u_t(0, x)."""
    return 1.5 * PI * C * torch.sin(3 * PI * points[:, 0])


def residual(f: Fields) -> torch.Tensor:
    """u_tt − c² u_xx."""
    return f.d("t", "t") - f.param("c") ** 2 * f.d("x", "x")


def reference(points: np.ndarray) -> np.ndarray:
    return exact(torch.as_tensor(points, dtype=torch.float64)).numpy()


def problem() -> Problem:
    return Problem(
        name="wave1d",
        domain=SpaceTime(Interval(0.0, 1.0, name="x"), (0.0, 1.0)),
        pde=residual,
        conditions=[
            Dirichlet(0.0, name="boundary"),
            Initial(exact, name="initial"),
            InitialVelocity(initial_velocity, name="initial_velocity"),
        ],
        parameters={"c": C},
        reference=reference,
        eval_grid=(101, 101),
        n_interior=2000,
        n_boundary=200,
        weights={"boundary": 100.0, "initial": 100.0, "initial_velocity": 100.0},
        model={"width": 20, "depth": 3},
        run={"iters": 3000, "time_limit": 400},
        quick={"n_interior": 200, "n_boundary": 50, "model": {"width": 10, "depth": 2}, "run": {"iters": 20}},
        description=__doc__,
    )
