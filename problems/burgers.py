"""Viscous Burgers equation (Raissi et al. 2019): a shock forms at x = 0.

    u_t + u u_x − ν u_xx = 0,   x ∈ [−1, 1], t ∈ [0, 1],   ν = 0.01/π
    u(0, x) = −sin(πx),   u(t, −1) = u(t, 1) = 0

Reference: the exact solution by the Cole–Hopf transform, evaluated by Gauss–Hermite quadrature
(:func:`pinnlma.reference.burgers_solution`; agrees with Raissi's burgers_shock.mat to ~1e-11).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Dirichlet, Fields, Initial, Interval, Problem, SpaceTime
from pinnlma.reference import burgers_solution

NU = 0.01 / math.pi


def residual(f: Fields) -> torch.Tensor:
    """u_t + u u_x − ν u_xx."""
    return f.d("t") + f.u() * f.d("x") - f.param("nu") * f.d("x", "x")


def reference(points: np.ndarray) -> np.ndarray:
    return burgers_solution(points[:, 0], points[:, 1], nu=NU)


def problem() -> Problem:
    return Problem(
        name="burgers",
        domain=SpaceTime(Interval(-1.0, 1.0, name="x"), (0.0, 1.0)),
        pde=residual,
        conditions=[
            Dirichlet(0.0, name="boundary"),
            Initial(lambda p: -torch.sin(math.pi * p[:, 0]), name="initial"),
        ],
        parameters={"nu": NU},
        reference=reference,
        eval_grid=(256, 101),
        n_interior=8000,
        n_boundary=400,
        model={"width": 20, "depth": 4},
        run={"iters": 1000, "time_limit": 480},
        quick={"n_interior": 1000, "n_boundary": 100, "model": {"width": 10, "depth": 3}, "run": {"iters": 30}},
        description=__doc__,
    )
