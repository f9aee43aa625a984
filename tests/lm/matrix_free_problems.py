"""Problems shared by the matrix-free tests: an exponential-plus-sine fit (n = 5), small Burgers PINNs with n < m
and n > m, and the dense and matrix-free systems of one of them at one point."""

from __future__ import annotations

import math

import torch

from pinnlma.backends import TorchBackend
from pinnlma.lm import MatrixFreeOptions
from pinnlma.lm.jacobian import JacobianEngine
from pinnlma.lm.matrix_free import (
    MatrixFreeSolver,
)
from pinnlma.pinn import MLP, Dirichlet, Initial, Interval, Problem, ResidualAssembler, Sampler, SpaceTime

DT = torch.float64
TIGHT = MatrixFreeOptions(forcing=1e-14, eta_min=1e-15, max_iterations=2000, preconditioner="none")
"""CG run far past what a step needs: the matrix-free step is then the dense one to rounding."""


def exp_sin_engine(m: int = 40, dtype: torch.dtype = DT) -> tuple[JacobianEngine, torch.Tensor]:
    t = torch.linspace(0, 4, m, dtype=dtype)
    y = 2.5 * torch.exp(-1.3 * t) + 0.7 * torch.sin(2 * t) + 0.3

    def fun(x: torch.Tensor) -> torch.Tensor:
        return x[0] * torch.exp(-x[1] * t) + x[2] * torch.sin(x[3] * t) + x[4] - y

    return JacobianEngine(fun), torch.tensor([1.0, 1.0, 1.0, 1.8, 0.0], dtype=dtype)


def small_pinn(
    width: int = 6,
    depth: int = 2,
    interior: int = 60,
    boundary: int = 10,
    memory_budget: int | None = None,
    jacobian: str = "auto",
) -> tuple[ResidualAssembler, torch.Tensor]:
    """Viscous Burgers on [−1, 1] × [0, 1] with a small tanh MLP."""
    problem = Problem(
        name="burgers-small",
        domain=SpaceTime(Interval(-1.0, 1.0), (0.0, 1.0)),
        pde=lambda f: f.d("t") + f.u() * f.d("x") - (0.01 / math.pi) * f.d("x", "x"),
        conditions=[Dirichlet(0.0, name="bc"), Initial(lambda p: -torch.sin(math.pi * p[:, 0]), name="ic")],
        n_interior=interior,
        n_boundary=boundary,
    )
    torch.manual_seed(0)
    net = MLP(2, 1, width=width, depth=depth, input_range=[(-1.0, 1.0), (0.0, 1.0)])
    kw = {} if memory_budget is None else {"memory_budget": memory_budget}
    asm = ResidualAssembler(problem, net, sampler=Sampler("lhs", 0), jacobian=jacobian, **kw)
    return asm, asm.initial_parameters()


def wide_pinn() -> tuple[ResidualAssembler, torch.Tensor]:
    """n > m: 30 rows, 2→12→12→1 (193 parameters)."""
    return small_pinn(width=12, depth=2, interior=20, boundary=5)


# -- products of the assembler -----------------------------------------------------------------------------


def systems(model: object, x: torch.Tensor, form: str, options: MatrixFreeOptions):
    with torch.no_grad():
        r = model.residual(x)
    backend = TorchBackend()
    m = r.shape[0]
    dense = (
        backend.normal_system(model.slices(x, m), x.shape[0], lambda w: model.jt_times(x, w))
        if form == "normal"
        else backend.residual_system(model.slices(x, m), x.shape[0])
    )
    free = MatrixFreeSolver(options).system(form, model, x, r, iteration=0)
    return dense, free
