"""From a :class:`~pinnlma.pinn.problem.Problem` and a seed to a ready residual function.

The one set-up sequence every caller shares (the run loop, the benchmarks, the paper reproduction):
seed torch → build the network → a sampler with the same seed → the residual assembler, which draws
the collocation points. The same seed gives the same weights and points, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..lm.jacobian import DEFAULT_MEMORY_BUDGET
from .assembler import ResidualAssembler
from .models import MLP
from .problem import Problem
from .sampling import Sampler

__all__ = ["MODEL_DEFAULTS", "build_assembler", "build_model"]

MODEL_DEFAULTS: dict[str, Any] = {"width": 20, "depth": 3, "activation": "tanh"}
"""The network a problem gets unless its ``model`` settings say otherwise."""


def build_model(problem: Problem, dtype: torch.dtype = torch.float64) -> MLP:
    """The problem's MLP (:data:`MODEL_DEFAULTS` updated by ``problem.model``), its inputs scaled from the
    domain's bounding box onto [−1, 1]. Draws the initial weights from torch's global generator."""
    settings = {**MODEL_DEFAULTS, **problem.model}
    bounds = [(float(lo), float(hi)) for lo, hi in problem.domain.bounds]
    return MLP(problem.domain.dim, problem.output_count, dtype=dtype, input_range=bounds, **settings)


def build_assembler(
    problem: Problem,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    jacobian: str = "auto",
    devices: Sequence[str | torch.device] | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    device: str | torch.device = "cpu",
) -> ResidualAssembler:
    """Seed torch with ``seed``, build the network, and assemble the problem's residual on points drawn by a
    sampler seeded with ``seed`` too. The network is built on the CPU (the same weights from a seed on every
    machine) and moved to ``device``, the primary device. ``jacobian``, ``devices``, ``device`` and ``memory_budget`` go to
    :class:`~pinnlma.pinn.assembler.ResidualAssembler` (which raises ValueError for bad values)."""
    torch.manual_seed(seed)
    model = build_model(problem, dtype)
    sampler = Sampler(problem.sampling, seed=seed)
    return ResidualAssembler(
        problem,
        model.to(device),
        sampler=sampler,
        dtype=dtype,
        jacobian=jacobian,
        devices=devices,
        memory_budget=memory_budget,
        device=device,
    )
