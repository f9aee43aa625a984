"""PINNacle Burgers1d-C: the viscous Burgers equation with a shock at x = 0, scored on PINNacle's file.

    u_t + u u_x − ν u_xx = 0,   x ∈ [−1, 1], t ∈ [0, 1],   ν = 0.01/π,
    u(x, 0) = −sin(πx),   u(±1, t) = 0.

Reference (the error PINNacle reports): its COMSOL file ``burgers1d.dat``, 101 x-nodes × 11 snapshots
t = 0, 0.1, …, 1, i.e. 1111 test points (:func:`pinnlma.reference.pinnacle.load`). That file is inexact:
the exact solution itself scores 1.33e−2 against it (2.2 % at t = 0.4 near the shock), so 1.33e−2 is the
floor any solver reaches on PINNacle's metric. The run therefore also reports the error against the
exact solution (Cole–Hopf, :func:`pinnlma.reference.burgers_solution`) on the 256 × 101 grid
x = linspace(−1, 1, 256), t = linspace(0, 1, 101) (extra reference ``cole_hopf``).

Source: PINNacle (Hao et al., arXiv:2306.08827), class ``Burgers1D`` in ``src/pde/burgers.py`` of
``i207M/PINNacle`` at commit 6f8d69c9; PINNacle trains it on 8192 interior, 2048 boundary and 2048
initial points.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Dirichlet, Fields, Initial, Interval, Problem, SpaceTime
from pinnlma.reference import burgers_solution
from pinnlma.reference.pinnacle import load

NU = 0.01 / math.pi


def residual(f: Fields) -> torch.Tensor:
    """u_t + u u_x − ν u_xx."""
    return f.d("t") + f.u() * f.d("x") - f.param("nu") * f.d("x", "x")


def cole_hopf_grid(nx: int = 256, nt: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """The exact solution on the tensor grid linspace(−1, 1, nx) × linspace(0, 1, nt): points (N, 2), u (N,)."""
    x, t = np.meshgrid(np.linspace(-1.0, 1.0, nx), np.linspace(0.0, 1.0, nt), indexing="ij")
    points = np.column_stack([x.ravel(), t.ravel()])
    return points, burgers_solution(points[:, 0], points[:, 1], nu=NU)


def problem() -> Problem:
    return Problem(
        name="pinnacle_burgers1d",
        domain=SpaceTime(Interval(-1.0, 1.0, name="x"), (0.0, 1.0)),
        pde=residual,
        conditions=[
            Initial(lambda p: -torch.sin(math.pi * p[:, 0]), name="initial"),
            Dirichlet(0.0, name="boundary"),
        ],
        parameters={"nu": NU},
        reference_data=load("burgers1d"),
        extra_references={"cole_hopf": cole_hopf_grid()},
        n_interior=8000,
        n_boundary=400,
        model={"width": 20, "depth": 4},
        run={"iters": 1000, "time_limit": 540},
        quick={"n_interior": 300, "n_boundary": 60, "model": {"width": 8, "depth": 2}, "run": {"iters": 8}},
        description=__doc__,
    )
