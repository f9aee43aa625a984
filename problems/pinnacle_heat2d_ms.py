"""PINNacle Heat2d-MS: multi-scale anisotropic heat equation (ten periods in x, one in y).

    u_t − u_xx/(500π)² − u_yy/π² = 0,   (x, y) ∈ [0, 1]², t ∈ [0, 5],
    u(x, y, 0) = sin(20πx) sin(πy),   u = 0 on the four sides.

Exact solution u = sin(20πx) sin(πy) e^{−λt}, λ = 400π²/(500π)² + 1 = 1.0016. PINNacle's test set
(``uniform_points(20000)`` on space × time) is an 8 × 8 spatial grid at k/9 times 313 instants
t = 5 − 5k/313, k = 0…312 (20 032 points, ‖u‖_rms ≈ 0.176): only 8 x-values for a mode of 10 periods,
so the run also reports the error on a dense grid (extra reference ``dense``: 201 × 21 × 26 points,
x, y = linspace(0, 1, ·), t = linspace(0, 5, 26)).

Defaults: the solution is 1-periodic in x (the initial and boundary data are, and the PDE does not depend
on x), so x enters through the exact periodic embedding cos 2πjx, sin 2πjx, j = 1…16 (the initial mode is
j = 10), and the initial value is exact, u = g + t·N. Measured (seed 0, one thread, 120 s, load ~3):
this default 1.1e−6 on PINNacle's grid (dense 2.3e−6); the periodic embedding alone 0.23; the plain MLP
stayed at u ≈ 0 (L2RE 0.999 after 101 iterations in the first PINNacle table run), as does a
64-feature Fourier embedding of σ = 5 (1.04 after 150 s).
``--embedding none --exact none`` gives the plain PINN.

Source: PINNacle (Hao et al., arXiv:2306.08827), class ``Heat2D_Multiscale`` in ``src/pde/heat.py`` of
``i207M/PINNacle`` at commit 6f8d69c9; PINNacle trains it on 32 768 interior, 8192 boundary and 8192
initial points.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Dirichlet, Fields, Initial, Problem, Rectangle, SpaceTime
from pinnlma.reference.pinnacle import box_test_points, space_points_count, space_time_test_points

PI = math.pi
KX = 1.0 / (500 * PI) ** 2
KY = 1.0 / PI**2
FREQUENCY = 20  # the x-mode sin(FREQUENCY·πx): ten periods
T_END = 5.0


def rate(frequency: int = FREQUENCY) -> float:
    """λ = (kπ)² k_x + π² k_y (1.0016 for k = 20)."""
    return (frequency * PI) ** 2 * KX + PI**2 * KY


def exact_mode(points: torch.Tensor, frequency: int = FREQUENCY) -> torch.Tensor:
    """u = sin(kπx) sin(πy) e^{−λt}."""
    x, y, t = points[:, 0], points[:, 1], points[:, 2]
    return torch.sin(frequency * PI * x) * torch.sin(PI * y) * torch.exp(-rate(frequency) * t)


def exact(points: torch.Tensor) -> torch.Tensor:
    """u = sin(20πx) sin(πy) e^{−λt}."""
    return exact_mode(points)


def residual(f: Fields) -> torch.Tensor:
    """u_t − k_x u_xx − k_y u_yy."""
    return f.d("t") - KX * f.d("x", "x") - KY * f.d("y", "y")


def reference(points: np.ndarray) -> np.ndarray:
    return exact(torch.as_tensor(points, dtype=torch.float64)).numpy()


def test_points() -> np.ndarray:
    """PINNacle's test set: 8 × 8 × 313 = 20 032 points."""
    space = box_test_points([(0.0, 1.0), (0.0, 1.0)], space_points_count(20000, 1.0, T_END))
    return space_time_test_points(space, (0.0, T_END), 20000)


def dense_points() -> np.ndarray:
    """201 × 21 × 26 grid of [0, 1]² × [0, 5] (20 points per period in x)."""
    axes = np.linspace(0, 1, 201), np.linspace(0, 1, 21), np.linspace(0, T_END, 26)
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.column_stack([m.ravel() for m in mesh])


def build(frequency: int = FREQUENCY) -> Problem:
    """The case with the x-mode sin(kπx) (PINNacle's is k = 20; other k for the frequency study in
    docs/pinnacle.md). Same PDE, test sets and defaults."""

    def solution(points: torch.Tensor) -> torch.Tensor:
        return exact_mode(points, frequency)

    def ref(points: np.ndarray) -> np.ndarray:
        return solution(torch.as_tensor(points, dtype=torch.float64)).numpy()

    dense = dense_points()
    return Problem(
        name="pinnacle_heat2d_ms",
        domain=SpaceTime(Rectangle([(0.0, 1.0), (0.0, 1.0)]), (0.0, T_END)),
        pde=residual,
        conditions=[Initial(solution, name="initial"), Dirichlet(0.0, name="boundary")],
        reference=ref,
        eval_points=test_points(),
        extra_references={"dense": (dense, ref(dense))},
        n_interior=4000,
        n_boundary=600,
        model={"width": 20, "depth": 3, "embedding": {"periodic": {"x": 16}}},
        exact=("initial",),
        run={"iters": 1000, "time_limit": 540},
        quick={"n_interior": 200, "n_boundary": 60, "model": {"width": 8, "depth": 2}, "run": {"iters": 8}},
        description=__doc__,
    )


def problem() -> Problem:
    return build()
