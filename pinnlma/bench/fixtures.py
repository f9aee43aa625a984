"""The configurations the benchmarks measure: the sinc data fit and the Burgers PINN, at their sizes.

Both are built through pinnlma's public set-up (:func:`pinnlma.pinn.setup.build_assembler` for the
PINN, the same sequence ``pinnlma run`` uses), so a benchmark measures what a user runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..lm.jacobian import DEFAULT_MEMORY_BUDGET
from ..pinn import Interval, PointData, Problem
from ..pinn.assembler import ResidualAssembler
from ..pinn.models import MLP
from ..pinn.registry import apply_options, load_problem
from ..pinn.setup import build_assembler

__all__ = [
    "BURGERS_BOUNDARY",
    "BURGERS_DEPTH",
    "BURGERS_ROWS",
    "BURGERS_WIDTH",
    "SINC_POINTS",
    "SINC_TINY_POINTS",
    "SINC_TINY_WIDTHS",
    "SINC_WIDTHS",
    "architecture",
    "burgers_assembler",
    "burgers_params",
    "burgers_problem",
    "n_params",
    "sinc_assembler",
    "sinc_data",
    "sinc_mse",
    "sinc_network",
    "sinc_residual",
]

# -- the sinc configuration (1a and peer-tlm) -------------------------------------------------------------------
SINC_POINTS = 5000
SINC_WIDTHS = (20, 20, 14)  # 1→20→20→14→1 tanh: 40 + 420 + 294 + 15 = 769 parameters
SINC_TINY_POINTS = 400
SINC_TINY_WIDTHS = (8, 8)  # 1→8→8→1: 16 + 72 + 9 = 97 parameters

# -- the Burgers PINN configuration (1b) -----------------------------------------------------------------------
BURGERS_WIDTH, BURGERS_DEPTH = 32, 4  # 2→32→32→32→32→1 tanh: 3297 parameters
BURGERS_BOUNDARY = 400  # points per condition (boundary, initial): 800 rows
BURGERS_ROWS = 10000  # m = interior + 800


# -- the sinc data fit ------------------------------------------------------------------------------------------
def sinc_data(m: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """x = m points evenly on [−1, 1] (as a column), y = sinc(10x) = sin(10πx)/(10πx)."""
    x = torch.linspace(-1, 1, m, dtype=dtype).unsqueeze(1)
    return x, torch.sinc(10 * x)


def sinc_network(
    widths: Sequence[int] = SINC_WIDTHS, seed: int = 0, dtype: torch.dtype = torch.float64
) -> nn.Sequential:
    """1 → widths → 1 with tanh, torch's default initialisation under ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    sizes = [1, *widths, 1]
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=dtype))
        if k < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def architecture(widths: Sequence[int], inputs: int = 1) -> str:
    """ "1→20→20→14→1 tanh" for widths (20, 20, 14)."""
    return "→".join(str(s) for s in (inputs, *widths, 1)) + " tanh"


def n_params(module: nn.Module) -> int:
    """The number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


def sinc_residual(model: nn.Module, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The fit's residual rows u(a) − b, flattened (the ``residual_fn`` of :class:`~pinnlma.LevenbergMarquardt`)."""
    return (model(a) - b).reshape(-1)


def sinc_mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean squared error of ``model`` on (x, y)."""
    with torch.no_grad():
        return float(((model(x) - y) ** 2).mean())


def sinc_assembler(
    net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, memory_budget: int | None = None
) -> ResidualAssembler:
    """The same fit through pinnlma's PINN layer: a pure-data Problem (one PointData block) and a pinnlma
    MLP holding ``net``'s weights, so the ResidualAssembler's exact channel Jacobian applies. The rows
    are (u − y)/√m: the loss ‖r‖² is the MSE, the minimiser and the LM steps are those of u − y."""
    linears = [layer for layer in net if isinstance(layer, nn.Linear)]
    widths = [layer.out_features for layer in linears[:-1]]
    mlp = MLP(1, 1, widths=widths, dtype=x.dtype)  # input_range [−1, 1]: the input map is the identity
    with torch.no_grad():
        for mine, theirs in zip(mlp.linears, linears):
            assert isinstance(mine, nn.Linear)
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    problem = Problem(
        name="sinc",
        domain=Interval(-1.0, 1.0, name="x"),
        pde=None,
        conditions=[PointData(x.numpy(), y.numpy().reshape(-1), name="data")],
    )
    return ResidualAssembler(problem, mlp, dtype=x.dtype, memory_budget=memory_budget or DEFAULT_MEMORY_BUDGET)


# -- Burgers -----------------------------------------------------------------------------------------------------
def burgers_problem(rows: int, width: int, depth: int, boundary: int = BURGERS_BOUNDARY) -> Problem:
    """pinnlma's bundled Burgers problem with ``rows`` residual rows in all (interior = rows − 2·boundary)."""
    interior = rows - 2 * boundary
    if interior < 1:
        raise ValueError(f"{rows} rows leave no interior points with {boundary} points per condition")
    return apply_options(load_problem("burgers"), points=interior, boundary_points=boundary, width=width, depth=depth)


def burgers_assembler(
    rows: int,
    width: int,
    depth: int,
    *,
    boundary: int = BURGERS_BOUNDARY,
    seed: int = 0,
    memory_budget: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> ResidualAssembler:
    """The Burgers residual of :func:`burgers_problem`, set up from ``seed`` as ``pinnlma run`` does."""
    return build_assembler(
        burgers_problem(rows, width, depth, boundary),
        seed=seed,
        dtype=dtype,
        memory_budget=memory_budget or DEFAULT_MEMORY_BUDGET,
    )


def burgers_params(width: int, depth: int) -> int:
    """Parameters of a 2 → width × depth → 1 MLP."""
    return 3 * width + (depth - 1) * (width * width + width) + width + 1
