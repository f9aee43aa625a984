"""Experiment (not part of the library): Allen–Cahn with a gradient-enhanced residual block (gPINN).

A problem file for ``pinnlma run``: the bundled ``allen_cahn`` problem (every default unchanged) plus a
second PDE block, the x-derivative of the residual (Yu, Lu, Meng & Karniadakis 2022, "Gradient-enhanced
physics-informed neural networks", arXiv:2111.02801),

    r = u_t − D u_xx + 5u³ − 5u,
    ∂r/∂x = u_tx − D u_xxx + 15u² u_x − 5u_x,   weighted GPINN_W (loss w·|∂r/∂x|², default 1e-4),

on its own 3000 points (redistributed by RAD like the first block's). It asks whether penalising the
residual's slope between the collocation points lowers the error the over-fitting between them sets
(docs/problems.md, "The swing is over-fitting between the points").

    GPINN_W=1e-4 OMP_NUM_THREADS=1 .venv/bin/pinnlma run docs/experiments/allen_cahn_gpinn.py --seed 0 --out RUN.h5
"""

from __future__ import annotations

import os

import torch

from pinnlma.pinn import Fields, Problem
from pinnlma.pinn.registry import load_problem

WEIGHT = float(os.environ.get("GPINN_W", "1e-4"))


def residual_x(f: Fields) -> torch.Tensor:
    """∂/∂x of the Allen–Cahn residual: u_tx − D u_xxx + 15u² u_x − 5u_x."""
    u, u_x = f.u(), f.d("x")
    return f.d("t", "x") - f.param("D") * f.d("x", "x", "x") + 15 * u**2 * u_x - 5 * u_x


def problem() -> Problem:
    """The bundled allen_cahn problem with the pde_x block added."""
    base = load_problem("allen_cahn")
    return base.with_options(
        name="allen_cahn_gpinn",
        pde={"pde": base.pde, "pde_x": residual_x},
        weights={**base.weights, "pde_x": WEIGHT},
    )
