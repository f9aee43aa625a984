"""Data fit of y = sinc(10x) on [−1, 1] by a 1–20–1 tanh network (Taylor et al. 2022), no PDE.

The curve-fitting benchmark of the LM-for-neural-networks line of work (tf-levenberg-marquardt,
torch-levenberg-marquardt, cuPyLMA; Taylor et al. 2022): fit

    y = sinc(10x) = sin(10πx) / (10πx),   x ∈ [−1, 1]   (y = 1 at x = 0),

the *normalized* sinc (``numpy.sinc`` / ``torch.sinc``, as those examples use), from 20000 equally
spaced samples x = linspace(−1, 1, 20000), with a 1–20–1 network (one hidden tanh layer of width 20,
61 parameters). There is no PDE: the residual is the data misfit u(x_k) − y_k only (``PointData``).

Reference: the function itself on a 2001-point grid of [−1, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from pinnlma.pinn import Interval, PointData, Problem

N_DATA = 20000


def target(x: np.ndarray) -> np.ndarray:
    """sinc(10x), normalized: sin(10πx)/(10πx)."""
    return torch.sinc(10 * torch.as_tensor(x, dtype=torch.float64)).numpy()


def reference(points: np.ndarray) -> np.ndarray:
    return target(points[:, 0])


def problem() -> Problem:
    x = np.linspace(-1.0, 1.0, N_DATA)[:, None]
    return Problem(
        name="sinc",
        domain=Interval(-1.0, 1.0, name="x"),
        pde=None,
        conditions=[PointData(x, target(x[:, 0]), name="data")],
        reference=reference,
        eval_grid=(2001,),
        model={"width": 20, "depth": 1},
        run={"iters": 500, "time_limit": 120},
        quick={"run": {"iters": 20}},
        description=__doc__,
    )
