"""PINNacle NS2d-C: steady incompressible Navier–Stokes in the lid-driven unit square (Re = 100).

    u u_x + v u_y + p_x − ν (u_xx + u_yy) = 0
    u v_x + v v_y + p_y − ν (v_xx + v_yy) = 0        (x, y) ∈ [0, 1]²,  ν = 1/100
    u_x + v_y = 0

    lid y = 1:            u = 4x(1 − x),  v = 0
    walls x = 0, 1, y = 0: u = v = 0
    pressure gauge:        p(0, 0) = 0

Outputs (u, v, p). Reference: PINNacle's COMSOL solution ``lid_driven_a4.dat`` (10 201 nodes, the test
set; the error is one joint relative L2 norm over u, v and p, as PINNacle measures it).

Defaults: 4000 interior points and 3000 iterations within the 540 s limit. With 2000 points the error stops
at 1.46e−2 while the loss keeps falling (a generalisation floor: 1000 iterations, loss 6.8e−8); with 4000
it reaches 7.2e−3 after 906 iterations (480 s, one thread; u 1.1e−3, v 1.8e−3, p 2.3e−2; seed 0).
With PINNacle's 8000 an iteration costs twice as much and the 540 s buy 785 of them: 1.57e−2 (two threads).
99 % of the squared error sits at the two top corners (docs/pinnacle.md); adaptive collocation does not help
there (540 s, two threads: ``--adapt rad:every=100`` 7.41e−3, ``--adapt rar:every=50,points=100,budget=6000``
7.37e−3 with 272 points in the corners).

Source: PINNacle (Hao et al., arXiv:2306.08827), class ``NS2D_LidDriven`` (a = 4) in ``src/pde/ns.py`` of
``i207M/PINNacle`` at commit 6f8d69c9; PINNacle trains it on 8192 interior and 2048 boundary points.
"""

from __future__ import annotations

import numpy as np
import torch

from pinnlma.pinn import Dirichlet, Fields, PointData, Problem, Rectangle
from pinnlma.reference.pinnacle import load

NU = 0.01
LID = 4.0


def momentum_x(f: Fields) -> torch.Tensor:
    """u u_x + v u_y + p_x − ν Δu."""
    u, v = f.u("u"), f.u("v")
    return u * f.d("x", out="u") + v * f.d("y", out="u") + f.d("x", out="p") - f.param("nu") * f.laplacian(out="u")


def momentum_y(f: Fields) -> torch.Tensor:
    """u v_x + v v_y + p_y − ν Δv."""
    u, v = f.u("u"), f.u("v")
    return u * f.d("x", out="v") + v * f.d("y", out="v") + f.d("y", out="p") - f.param("nu") * f.laplacian(out="v")


def continuity(f: Fields) -> torch.Tensor:
    """u_x + v_y."""
    return f.d("x", out="u") + f.d("y", out="v")


def lid_velocity(points: torch.Tensor) -> torch.Tensor:
    """u on the lid: 4x(1 − x)."""
    x = points[:, 0]
    return LID * x * (1 - x)


def problem() -> Problem:
    walls = "x_min,x_max,y_min"
    return Problem(
        name="pinnacle_ns2d_c",
        domain=Rectangle([(0.0, 1.0), (0.0, 1.0)]),
        outputs=("u", "v", "p"),
        pde={"momentum_x": momentum_x, "momentum_y": momentum_y, "continuity": continuity},
        conditions=[
            Dirichlet(lid_velocity, where="y_max", out="u", name="lid_u"),
            Dirichlet(0.0, where="y_max", out="v", name="lid_v"),
            Dirichlet(0.0, where=walls, out="u", name="wall_u"),
            Dirichlet(0.0, where=walls, out="v", name="wall_v"),
            PointData(np.zeros((1, 2)), np.zeros(1), out="p", name="pressure_gauge"),
        ],
        parameters={"nu": NU},
        reference_data=load("ns2d_c"),
        n_interior=4000,
        n_boundary=300,
        model={"width": 20, "depth": 3},
        run={"iters": 3000, "time_limit": 540},
        quick={"n_interior": 200, "n_boundary": 50, "model": {"width": 8, "depth": 2}, "run": {"iters": 8}},
        description=__doc__,
    )
