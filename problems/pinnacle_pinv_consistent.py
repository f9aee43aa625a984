"""PINNacle PInv, consistent form: identify a(x, y) in ∇·(a∇u) + f = 0 from samples of u, with the source
term corrected so that the stated true fields solve the equation.

    (a u_x)_x + (a u_y)_y + f(x, y) = 0,   (x, y) ∈ [0, 1]²,
    f = 2π² sin(πx) sin(πy) A + 2π [(2x − 1) cos(πx) sin(πy) + (2y − 1) sin(πx) cos(πy)] A²,
    A = a*(x, y) = 1 / (1 + x² + y² + (x − 1)² + (y − 1)²),

so that u* = sin(πx) sin(πy), a* solve it exactly (PINNacle's code has (2x + 1), (2y + 1): see
``pinnacle_pinv``, which keeps that form for the comparison with PINNacle's numbers), and with exact
(noise-free) observations: this is the well-posed problem in which the coefficient field can be recovered
to any accuracy, the test of the solver. With PINNacle's noise (σ = 0.1 on values of rms 0.5) the noise,
not the solver, limits a: docs/pinnacle.md has the measured error of a against σ
(``python -m pinnlma.validation.pinnacle --studies``; build that form with
``pinnlma.problems.pinnacle_pinv.build(name, consistent=True, doc="", noise=0.1)`` in your own problem file).
Everything else as PINNacle: outputs (u, a) of one network, u observed on the 50 × 50 grid
linspace(0, 1, 50)², a = a* on the boundary, no boundary condition on u; error on the 50 × 50 grid at
k/51, joint over (u, a), and per field.

Source: PINNacle (Hao et al., arXiv:2306.08827), class ``PoissonInv`` in ``src/pde/inverse.py`` of
``i207M/PINNacle`` at commit 6f8d69c9, with the source term corrected.
"""

from __future__ import annotations

from pinnlma.pinn import Problem
from pinnlma.problems.pinnacle_pinv import build


def problem() -> Problem:
    return build("pinnacle_pinv_consistent", consistent=True, doc=__doc__, noise=0.0)
