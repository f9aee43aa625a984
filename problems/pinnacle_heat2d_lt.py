"""PINNacle Heat2d-LT: a nonlinear heat equation over a long time span (t ∈ [0, 100]).

    u_t − 0.001 Δu − 5 sin(u²)(1 + 2 sin(πt/4)) sin(4πx) sin(2πy) = 0,   (x, y) ∈ [0, 1]², t ∈ [0, 100],
    u(x, y, 0) = sin(4πx) sin(3πy),   u = 0 on the four sides.

The source drives |u| towards the zeros of sin(u²) (|u| = √π ≈ 1.77 and beyond) and switches sign with
the period-8 factor 1 + 2 sin(πt/4), so the solution jumps between saturated states about every 8 time
units (at t ≈ 8.8, 16.8, …, 88.8).

Reference (the error PINNacle reports): its COMSOL file ``heat_longtime.dat``, a 16 × 12 cell-centred
grid × 501 snapshots t = 0, 0.2, …, 100 (96 192 test points). That file is about 3.5 % away from a
converged solve of the PDE, so the run also reports the error against the project's own solve on the same
points (extra reference ``spectral``: sine pseudo-spectral in space, integrating-factor RK4 in time,
converged to about 1e−6, :mod:`pinnlma.reference.heat2d_lt`).

Source: PINNacle (Hao et al., arXiv:2306.08827), class ``Heat2D_LongTime`` in ``src/pde/heat.py`` of
``i207M/PINNacle`` at commit 6f8d69c9; PINNacle trains it on 32 768 interior, 8192 boundary and 8192
initial points.
"""

from __future__ import annotations

import math

import torch

from pinnlma.pinn import Dirichlet, Fields, Initial, Problem, Rectangle, SpaceTime
from pinnlma.reference.heat2d_lt import load_reference
from pinnlma.reference.pinnacle import load

PI = math.pi
DIFFUSION = 0.001
AMPLITUDE = 5.0
K, M1, M2 = 1.0, 4, 2
T_END = 100.0


def initial(points: torch.Tensor) -> torch.Tensor:
    """u(x, y, 0) = sin(4πx) sin(3πy)."""
    return torch.sin(4 * PI * points[:, 0]) * torch.sin(3 * PI * points[:, 1])


def residual(f: Fields) -> torch.Tensor:
    """u_t − D Δu − A sin(k u²)(1 + 2 sin(πt/4)) sin(m₁πx) sin(m₂πy)."""
    x, y, t = f.coord("x"), f.coord("y"), f.coord("t")
    u = f.u()
    source = (
        AMPLITUDE
        * torch.sin(K * u * u)
        * (1 + 2 * torch.sin(PI * t / 4))
        * torch.sin(M1 * PI * x)
        * torch.sin(M2 * PI * y)
    )
    return f.d("t") - DIFFUSION * f.laplacian() - source


def build(t_end: float = T_END) -> Problem:
    """The case on [0, t_end] (PINNacle's is t_end = 100); the references keep their points with t ≤ t_end
    (for the time-window study in docs/pinnacle.md)."""
    points, values, _ = load_reference()
    file_points, file_values = load("heat2d_lt")
    keep = file_points[:, 2] <= t_end + 1e-9
    return Problem(
        name="pinnacle_heat2d_lt",
        domain=SpaceTime(Rectangle([(0.0, 1.0), (0.0, 1.0)]), (0.0, t_end)),
        pde=residual,
        conditions=[Initial(initial, name="initial"), Dirichlet(0.0, name="boundary")],
        reference_data=(file_points[keep], file_values[keep]),
        extra_references={"spectral": (points[keep], values[keep])},
        n_interior=4000,
        n_boundary=600,
        model={"width": 20, "depth": 3},
        run={"iters": 1000, "time_limit": 540},
        quick={"n_interior": 200, "n_boundary": 60, "model": {"width": 8, "depth": 2}, "run": {"iters": 8}},
        description=__doc__,
    )


def problem() -> Problem:
    return build()
