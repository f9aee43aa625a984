"""Inverse Burgers (Raissi et al. 2019): identify ν and λ₁ from 2000 noisy samples of the solution.

    u_t + λ₁ u u_x − ν u_xx = 0,   x ∈ [−1, 1], t ∈ [0, 1],
    true values λ₁ = 1, ν = 0.01/π ≈ 0.0031831.

Data: u at N_DATA = 2000 points drawn uniformly in [−1, 1] × [0, 1] (numpy seed 1234), from the exact
Cole–Hopf solution of the forward problem (u(0, x) = −sin(πx), u(t, ±1) = 0), plus Gaussian noise of
standard deviation 1% of the data's standard deviation (same generator). As in Raissi's setup there
is no initial or boundary condition: the residual is the data misfit (``PointData``) and the PDE at
collocation points, with λ₁ and ν unknowns (initial guesses 0 and 0.01) trained together with the
network. The identified values are reported by the run (history ``param/nu``, ``param/lambda1``).

Reference: the exact (noise-free) Cole–Hopf solution (:func:`pinnlma.reference.burgers_solution`).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from pinnlma.pinn import Fields, Interval, PointData, Problem, SpaceTime
from pinnlma.reference import burgers_solution

NU = 0.01 / math.pi
LAMBDA1 = 1.0
N_DATA = 2000
NOISE = 0.01
SEED = 1234


def residual(f: Fields) -> torch.Tensor:
    """u_t + λ₁ u u_x − ν u_xx."""
    return f.d("t") + f.param("lambda1") * f.u() * f.d("x") - f.param("nu") * f.d("x", "x")


def reference(points: np.ndarray) -> np.ndarray:
    return burgers_solution(points[:, 0], points[:, 1], nu=NU)


def data(n: int = N_DATA, noise: float = NOISE, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points (x, t) and the noisy u there."""
    rng = np.random.default_rng(seed)
    points = np.column_stack([rng.uniform(-1.0, 1.0, n), rng.uniform(0.0, 1.0, n)])
    u = reference(points)
    return points, u + noise * np.std(u) * rng.standard_normal(n)


def problem() -> Problem:
    points, values = data()
    return Problem(
        name="burgers_inverse",
        domain=SpaceTime(Interval(-1.0, 1.0, name="x"), (0.0, 1.0)),
        pde=residual,
        conditions=[PointData(points, values, name="data")],
        unknowns={"nu": 0.01, "lambda1": 0.0},
        reference=reference,
        eval_grid=(256, 101),
        n_interior=4000,
        model={"width": 20, "depth": 4},
        run={"iters": 500, "time_limit": 300},
        quick={"n_interior": 300, "model": {"width": 10, "depth": 2}, "run": {"iters": 10}},
        description=__doc__,
    )
