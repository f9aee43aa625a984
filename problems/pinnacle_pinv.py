"""PINNacle PInv: identify the coefficient field a(x, y) of ∇·(a∇u) + f = 0 from noisy samples of u
(PINNacle's coded source term, kept for the comparison with its published numbers).

    (a u_x)_x + (a u_y)_y + f(x, y) = 0,   (x, y) ∈ [0, 1]²,
    f = 2π² sin(πx) sin(πy) A + 2π [(2x + 1) cos(πx) sin(πy) + (2y + 1) sin(πx) cos(πy)] A²,
    A = a*(x, y) = 1 / (1 + x² + y² + (x − 1)² + (y − 1)²)   (the true coefficient, known in f only),

with both u and a unknown: they are the two outputs (u, a) of one network. Given to the training:
u observed at the 50 × 50 grid linspace(0, 1, 50)² with Gaussian noise of standard deviation 0.1 (drawn
once from a fixed seed; PINNacle draws it from the run seed), and a = a* on the boundary. There is no
boundary condition on u. The stated true fields are u* = sin(πx) sin(πy) and a*.

**PINNacle's source term is inconsistent with these fields.** Since ∇a* = −a*²(4x − 2, 4y − 2), the
source that makes (u*, a*) an exact solution has (2x − 1) and (2y − 1) where PINNacle's code has (2x + 1)
and (2y + 1); the two differ by 4π a*² sin(π(x + y)). This module keeps PINNacle's coded form, so the
PDE and the data pull apart and neither field can be recovered exactly; ``pinnacle_pinv_consistent`` is
the well-posed form.

Error as PINNacle measures it: one relative L2 norm over (u, a) jointly against (u*, a*) on the 50 × 50
grid at k/51 (boundary excluded); the run also records each field's own error.

Source: PINNacle (Hao et al., arXiv:2306.08827), class ``PoissonInv`` in ``src/pde/inverse.py`` of
``i207M/PINNacle`` at commit 6f8d69c9 (not in its default benchmark list); PINNacle trains it on 8192
interior and 2048 boundary points.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Dirichlet, Fields, PointData, Problem, Rectangle
from pinnlma.reference.pinnacle import box_test_points

PI = math.pi
NOISE = 0.1
NOISE_SEED = 0
N_DATA_AXIS = 50


def true_a(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """a* = 1 / (1 + x² + y² + (x − 1)² + (y − 1)²)."""
    return 1.0 / (1 + x**2 + y**2 + (x - 1) ** 2 + (y - 1) ** 2)


def true_u(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """u* = sin(πx) sin(πy)."""
    return torch.sin(PI * x) * torch.sin(PI * y)


def source(x: torch.Tensor, y: torch.Tensor, consistent: bool = False) -> torch.Tensor:
    """f with PINNacle's (2x + 1), (2y + 1) (``consistent=False``) or the consistent (2x − 1), (2y − 1)."""
    a = true_a(x, y)
    shift = -1.0 if consistent else 1.0
    transport = (2 * x + shift) * torch.cos(PI * x) * torch.sin(PI * y) + (2 * y + shift) * torch.sin(
        PI * x
    ) * torch.cos(PI * y)
    return 2 * PI**2 * torch.sin(PI * x) * torch.sin(PI * y) * a + 2 * PI * transport * a**2


def make_residual(consistent: bool):  # noqa: ANN201 - returns a residual function
    """The PDE residual (a u_x)_x + (a u_y)_y + f = a Δu + a_x u_x + a_y u_y + f."""

    def residual(f: Fields) -> torch.Tensor:
        a = f.u("a")
        flux = f.d("x", out="a") * f.d("x", out="u") + f.d("y", out="a") * f.d("y", out="u")
        return a * f.laplacian(out="u") + flux + source(f.coord("x"), f.coord("y"), consistent)

    residual.__doc__ = f"(a u_x)_x + (a u_y)_y + f, {'consistent' if consistent else 'PINNacle'} source"
    return residual


def observations(
    noise: float = NOISE, seed: int = NOISE_SEED, n_axis: int = N_DATA_AXIS
) -> tuple[np.ndarray, np.ndarray]:
    """u* on the grid linspace(0, 1, n_axis)² plus N(0, noise²) noise: points (n_axis², 2), values."""
    g = np.linspace(0.0, 1.0, n_axis)
    x, y = np.meshgrid(g, g, indexing="ij")
    points = np.column_stack([x.ravel(), y.ravel()])
    u = true_u(torch.as_tensor(points[:, 0]), torch.as_tensor(points[:, 1])).numpy()
    return points, u + noise * np.random.default_rng(seed).standard_normal(len(u))


def reference(points: np.ndarray) -> np.ndarray:
    """(u*, a*) at the points: (N, 2)."""
    x, y = torch.as_tensor(points[:, 0]), torch.as_tensor(points[:, 1])
    return torch.stack([true_u(x, y), true_a(x, y)], dim=1).numpy()


def build(name: str, consistent: bool, doc: str, noise: float = NOISE) -> Problem:
    """The PInv problem in either form (used by this module and ``pinnacle_pinv_consistent``)."""
    points, values = observations(noise)
    quick_points, quick_values = observations(noise, n_axis=12)
    return Problem(
        name=name,
        domain=Rectangle([(0.0, 1.0), (0.0, 1.0)]),
        outputs=("u", "a"),
        pde=make_residual(consistent),
        conditions=[
            PointData(points, values, out="u", name="data"),
            Dirichlet(lambda p: true_a(p[:, 0], p[:, 1]), out="a", name="boundary_a"),
        ],
        reference=reference,
        eval_points=box_test_points([(0.0, 1.0), (0.0, 1.0)], 2500),
        n_interior=2000,
        n_boundary=400,
        model={"width": 20, "depth": 3},
        run={"iters": 600, "time_limit": 540},
        quick={
            "n_interior": 150,
            "n_boundary": 40,
            "model": {"width": 8, "depth": 2},
            "run": {"iters": 8},
            "conditions": [
                PointData(quick_points, quick_values, out="u", name="data"),
                Dirichlet(lambda p: true_a(p[:, 0], p[:, 1]), out="a", name="boundary_a"),
            ],
        },
        description=doc,
    )


def problem() -> Problem:
    return build("pinnacle_pinv", consistent=False, doc=__doc__)
