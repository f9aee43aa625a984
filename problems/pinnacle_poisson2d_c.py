"""PINNacle Poisson2d-C: Laplace's equation on a square with four circular holes.

    u_xx + u_yy = 0   in Ω = [−0.5, 0.5]² minus the closed disks of radius 0.1 at (±0.3, ±0.3),
    u = 1 on the four sides of the square,   u = 0 on the four circles.

Reference: PINNacle's COMSOL solution ``poisson1_cg_data.dat`` (1246 mesh nodes, boundary nodes
included; :func:`pinnlma.reference.pinnacle.load`), whose nodes are also PINNacle's test set. The file is
accurate: it is 2.84e−5 (relative L2) from the certified solution of :mod:`pinnlma.reference.laplace_holes`
(harmonic basis fitted on the boundary, error below 3e−10 everywhere by the maximum principle).

Defaults: 6000 iterations within the 540 s limit. The error falls slowly and steadily with the iterations
(seed 0, measured): 3.9e−3 after 300, 1.38e−3 after 1500 (132 s), 6.4e−4 after 4600 (540 s, one thread).

Source: PINNacle (Hao et al., arXiv:2306.08827), class ``Poisson2D_Classic`` in ``src/pde/poisson.py``
of ``i207M/PINNacle`` at commit 6f8d69c9; PINNacle trains it on 8192 interior and 2048 boundary points.
"""

from __future__ import annotations

import torch

from pinnlma.pinn import Dirichlet, Disk, Domain, Fields, Problem, Rectangle
from pinnlma.reference.pinnacle import load

CENTERS = ((0.3, 0.3), (-0.3, 0.3), (0.3, -0.3), (-0.3, -0.3))
RADIUS = 0.1


def domain() -> Domain:
    """The square minus the four disks, subtracted in PINNacle's order; the circles are part "holes"."""
    shape = Rectangle([(-0.5, 0.5), (-0.5, 0.5)])
    for center in CENTERS:
        shape = shape - Disk(center, RADIUS, boundary="holes")
    return shape


def residual(f: Fields) -> torch.Tensor:
    """u_xx + u_yy."""
    return f.laplacian()


def problem() -> Problem:
    return Problem(
        name="pinnacle_poisson2d_c",
        domain=domain(),
        pde=residual,
        conditions=[
            Dirichlet(1.0, where="x_min,x_max,y_min,y_max", name="square"),
            Dirichlet(0.0, where="holes", name="holes"),
        ],
        reference_data=load("poisson2d_c"),
        n_interior=2000,
        n_boundary=400,
        weights={"square": 100.0, "holes": 100.0},
        model={"width": 20, "depth": 3},
        run={"iters": 6000, "time_limit": 540},
        quick={"n_interior": 200, "n_boundary": 80, "model": {"width": 8, "depth": 2}, "run": {"iters": 8}},
        description=__doc__,
    )
