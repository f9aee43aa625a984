"""Korteweg–de Vries u_t + u u_x + 0.0025 u_xxx = 0, periodic, u(0, x) = cos(πx) (Raissi et al. 2019).

    u_t + u u_x + δ u_xxx = 0,   x ∈ [−1, 1], t ∈ [0, 1],   δ = 0.0025,
    u(0, x) = cos(πx),
    ∂ᵏu(t, −1) = ∂ᵏu(t, 1) for k = 0, 1, 2 (a third-order equation: u, u_x and u_xx periodic).

The cosine steepens and breaks up into a train of solitons (Zabusky & Kruskal 1965). Raissi et al.
solved this with their discrete-time (Runge–Kutta) PINN; the continuous-time PINN used here must
represent the whole space-time solution, which is hard.

Defaults (chosen by measurement, see docs/problems.md): x enters the network through the exact periodic
embedding cos(πx), sin(πx) (so the three periodic blocks hold by construction and leave the residual), and
the initial value is exact, u = cos(πx) + t·N(x, t); only the PDE block remains. ``--embedding none
--exact none`` gives the plain PINN with the soft blocks (the initial condition then weighted 100).

Reference: Raissi's ``KdV.mat`` (:func:`pinnlma.reference.load_kdv`, spectral solution on 512 × 201
points), subsampled to every 2nd x and every 2nd t (256 × 101 points) for evaluation.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Fields, Initial, Interval, Periodic, Problem, SpaceTime
from pinnlma.reference import load_kdv

DELTA = 0.0025


def residual(f: Fields) -> torch.Tensor:
    """u_t + u u_x + δ u_xxx."""
    return f.d("t") + f.u() * f.d("x") + f.param("delta") * f.d("x", "x", "x")


def initial(points: torch.Tensor) -> torch.Tensor:
    return torch.cos(math.pi * points[:, 0])


def reference_data(stride_x: int = 2, stride_t: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Points (N, 2) (columns x, t) and u there, from the reference grid."""
    return load_kdv().points(stride_x, stride_t)


def problem() -> Problem:
    return Problem(
        name="kdv",
        domain=SpaceTime(Interval(-1.0, 1.0, name="x"), (0.0, 1.0)),
        pde=residual,
        conditions=[
            Initial(initial, name="initial"),
            Periodic("x", name="periodic"),
            Periodic("x", order=1, name="periodic_x"),
            Periodic("x", order=2, name="periodic_xx"),
        ],
        parameters={"delta": DELTA},
        reference_data=reference_data(),
        n_interior=3000,
        n_boundary=400,
        weights={"initial": 100.0},
        model={"width": 20, "depth": 4, "embedding": {"periodic": {"x": 1}}},
        exact=("initial",),
        run={"iters": 3000, "time_limit": 400},
        quick={"n_interior": 300, "n_boundary": 50, "model": {"width": 10, "depth": 2}, "run": {"iters": 10}},
        description=__doc__,
    )
