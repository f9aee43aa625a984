"""A damped oscillator as a PINN on the time interval [0, 10]:

    u'' + 2ζω u' + ω² u = 0,   u(0) = 1,   u'(0) = 0,   ω = 1.5,  ζ = 0.1

Exact solution: u = e^{−ζωt} (cos ω_d t + (ζω/ω_d) sin ω_d t), ω_d = ω√(1 − ζ²).
Run it with:  pinnlma run docs/examples/damped_oscillator.py --plot oscillator.png
"""
import math

import numpy as np
import torch

from pinnlma.pinn import Fields, Interval, PointData, Problem

OMEGA, ZETA = 1.5, 0.1
OMEGA_D = OMEGA * math.sqrt(1 - ZETA**2)


def oscillator(f: Fields) -> torch.Tensor:
    """The equation's residual at the collocation points: u_tt + 2ζω u_t + ω² u."""
    return f.d("t", "t") + 2 * f.param("zeta") * OMEGA * f.d("t") + OMEGA**2 * f.u()


def velocity_at_start(f: Fields) -> torch.Tensor:
    """u'(0) = 0, as a residual row at the single point t = 0."""
    return f.d("t")


def exact(points: np.ndarray) -> np.ndarray:
    t = points[:, 0]
    return np.exp(-ZETA * OMEGA * t) * (np.cos(OMEGA_D * t) + ZETA * OMEGA / OMEGA_D * np.sin(OMEGA_D * t))


class InitialSlope(PointData):
    """A PointData block whose residual is the slope instead of the value."""

    def residual(self, f: Fields) -> torch.Tensor:
        return velocity_at_start(f)


problem = Problem(
    name="damped_oscillator",
    domain=Interval(0.0, 10.0, name="t"),
    pde=oscillator,
    conditions=[
        PointData(np.array([[0.0]]), [1.0], name="start_value", weight=10.0),
        InitialSlope(np.array([[0.0]]), [0.0], name="start_slope", weight=10.0),
    ],
    parameters={"zeta": ZETA},
    reference=exact,
    eval_grid=(501,),
    n_interior=400,
    model={"width": 20, "depth": 2},
    run={"iters": 150},
    quick={"n_interior": 100, "run": {"iters": 40}},
)
